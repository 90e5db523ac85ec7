"""Where a workload's CPU went: the application server, PostgreSQL, Redis, the load generator
and the rest of the machine, in CPU milliseconds per request, and how idle the machine was.

Requests per second say how fast; this says who paid. On a 2-core machine every process of a
benchmark shares the same cores, so a server that is cheaper in Python but sends PostgreSQL
more work can lose, and a workload that leaves the cores idle is waiting (commits, locks),
not computing. Read from /proc through psutil: every process's user + system time before and
after the workload, grouped by what it is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil

GROUPS = ("app", "postgres", "redis", "load", "other")


@dataclass(frozen=True)
class Sample:
    processes: dict[tuple[int, float], tuple[str, float]]  # (pid, start) -> group, CPU s
    busy: float  # the machine's CPU seconds so far, all processes, dead ones included
    idle: float


def _group(process: psutil.Process, app: set[int]) -> str:
    if process.pid in app:
        return "app"
    name = process.info["name"] or ""
    if name.startswith("postgres"):
        return "postgres"
    if name.startswith("redis"):
        return "redis"
    if name == "wrk" or process.pid == os.getpid():
        return "load"
    return "other"


def sample(server_pid: int) -> Sample:
    """CPU so far of every process, grouped; `server_pid` and its descendants are "app"."""
    try:
        server = psutil.Process(server_pid)
        app = {server_pid, *(child.pid for child in server.children(recursive=True))}
    except psutil.NoSuchProcess:
        app = set()
    processes = {}
    for process in psutil.process_iter(["name", "cpu_times", "create_time"]):
        times = process.info["cpu_times"]
        if times is not None:
            key = (process.pid, process.info["create_time"])
            processes[key] = (_group(process, app), times.user + times.system)
    machine = psutil.cpu_times()
    idle = machine.idle + getattr(machine, "iowait", 0.0)
    return Sample(processes, busy=sum(machine) - idle, idle=idle)


def per_request(before: Sample, after: Sample, requests: int) -> dict[str, float]:
    """CPU milliseconds per request of each group between two samples, and the machine's
    idle share. A process alive at the end counts from the first sample or from its start;
    what processes that ended in between spent (a recycled worker, a closed connection's
    backend) counts in "other": the machine's total less everything attributed."""
    if requests <= 0:
        return {}
    spent = dict.fromkeys(GROUPS, 0.0)
    for key, (group, seconds) in after.processes.items():
        spent[group] += seconds - before.processes.get(key, (group, 0.0))[1]
    busy = after.busy - before.busy
    spent["other"] += max(0.0, busy - sum(spent.values()))
    split = {group: round(1000 * seconds / requests, 3) for group, seconds in spent.items()}
    total = busy + (after.idle - before.idle)
    split["idle_share"] = round((after.idle - before.idle) / total, 3) if total else 0.0
    return split
