"""Running Headcount and the peer in turns, so that the machine's drift falls on both alike.

The virtual machines the benchmark runs on change speed by a large part within minutes. When
one server ran all its workloads and the other ran after it, a ratio measured which half of
the run was the faster one as much as which server was. So each workload both serve runs in
rounds, both servers up at once: round k runs Headcount then the peer when k is even, the
peer then Headcount when k is odd (two rounds: H P P H, "ABBA"). Each side's runs then sit
symmetrically around the same midpoint, and a drift that is linear over the rounds adds to
one side's total exactly what it adds to the other's. An odd number of rounds leaves the
last one unpaired, and a drift that is not linear is only reduced, not removed.

Each side's rounds combine into one row with the fields a single run has (bench/load.py,
bench/wrk.py), so the tables and the shares read it as they read any row.
"""

from __future__ import annotations

import statistics
from typing import Any, Literal

Side = Literal["headcount", "peer"]

# What each round keeps in a combined row's `rounds`.
ROUND_FIELDS = (
    "req_per_s",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "requests",
    "errors",
    "settled_s",
    "workers_replaced",
)


def order(rounds: int) -> list[tuple[int, Side]]:
    """Which side runs when: (round, side) pairs, Headcount first in even rounds and the
    peer first in odd ones. Raises ValueError for fewer than one round."""
    if rounds < 1:
        raise ValueError(f"at least one round, not {rounds}")
    sequence: list[tuple[int, Side]] = []
    for k in range(rounds):
        pair: tuple[Side, Side] = ("headcount", "peer") if k % 2 == 0 else ("peer", "headcount")
        sequence += [(k, side) for side in pair]
    return sequence


def combine(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One row for a side's rounds of a workload (in round order): requests, errors, seconds,
    the settle waits and the workers gunicorn replaced added up; req/s as all requests over
    all seconds, so a round that ran longer weighs more; each latency percentile as the
    median of the rounds' (the load generators report percentiles, not the latencies behind
    them); CPU per request weighted by each round's requests, the idle share by its seconds.
    `rounds` keeps each round's own figures. Raises ValueError without rows."""
    if not rows:
        raise ValueError("no rounds to combine")
    requests = sum(row["requests"] for row in rows)
    seconds = sum(row["seconds"] for row in rows)
    combined: dict[str, Any] = {
        "workload": rows[0]["workload"],
        "requests": requests,
        "errors": sum(row["errors"] for row in rows),
        "seconds": round(seconds, 3),
        "req_per_s": round(requests / seconds, 1) if seconds else 0,
    }
    for percentile in ("p50_ms", "p95_ms", "p99_ms"):
        combined[percentile] = round(statistics.median(row[percentile] for row in rows), 2)
    if all("settled_s" in row for row in rows):
        combined["settled_s"] = round(sum(row["settled_s"] for row in rows), 2)
    if any("workers_replaced" in row for row in rows):
        combined["workers_replaced"] = sum(row.get("workers_replaced", 0) for row in rows)
    if all("cpu_ms" in row for row in rows):
        combined["cpu_ms"] = _cpu(rows)
    combined["rounds"] = [{name: row[name] for name in ROUND_FIELDS if name in row} for row in rows]
    return combined


def _cpu(rows: list[dict[str, Any]]) -> dict[str, float]:
    """The rounds' CPU splits (bench/cpu.py) as one: a round without requests has none and
    adds nothing."""
    measured = [row for row in rows if row["cpu_ms"]]
    requests = sum(row["requests"] for row in measured)
    seconds = sum(row["seconds"] for row in measured)
    if not requests:
        return {}
    groups = [name for name in measured[0]["cpu_ms"] if name != "idle_share"]
    split = {
        group: round(sum(row["cpu_ms"][group] * row["requests"] for row in measured) / requests, 3)
        for group in groups
    }
    if seconds:
        idle = sum(row["cpu_ms"]["idle_share"] * row["seconds"] for row in measured)
        split["idle_share"] = round(idle / seconds, 3)
    return split
