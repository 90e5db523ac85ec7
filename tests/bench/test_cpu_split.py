"""`make bench` says who paid for each workload's requests (bench/cpu.py): the server's
processes, PostgreSQL, Redis, the load generator, and the rest of the machine."""

from __future__ import annotations

import subprocess
import sys

import psutil
import pytest

from bench import cpu

NO_SERVER = 2**22 + 1  # above any pid Linux hands out: no process is the app
BURN = "import time\nend = time.process_time() + {seconds}\nwhile time.process_time() < end: pass"
# Burns CPU only between a line on its input and the line it answers with, so the samples
# and the burner's own count can all be read while it is idle: a busy machine then cannot
# put part of the burn between one reading and another.
BURN_ON_CUE = (
    "import sys, time\nprint('ready', flush=True)\nsys.stdin.readline()\n"
    "end = time.process_time() + {seconds}\nwhile time.process_time() < end: pass\n"
    "print('done', flush=True)\nsys.stdin.readline()"
)


def _burn(seconds: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", BURN.format(seconds=seconds)])  # noqa: S603


def test_a_live_server_process_is_counted_as_the_app_per_request() -> None:
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", BURN_ON_CUE.format(seconds=0.5)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        assert server.stdout.readline() == "ready\n"
        burner = psutil.Process(server.pid)
        before, burnt_before = cpu.sample(server.pid), sum(burner.cpu_times()[:2])
        server.stdin.write("go\n")
        server.stdin.flush()
        assert server.stdout.readline() == "done\n"
        split = cpu.per_request(before, cpu.sample(server.pid), requests=100)
        burnt = sum(burner.cpu_times()[:2]) - burnt_before
    finally:
        server.kill()
        server.wait()
    # What the server's process burnt in between (its half second of CPU, in clock ticks),
    # over 100 requests.
    assert burnt > 0.02
    assert split["app"] == pytest.approx(1000 * burnt / 100, rel=0.15, abs=0.3)
    assert split["load"] < 1.0  # this test process, the "load generator", waited
    assert set(split) == {*cpu.GROUPS, "idle_share"}
    assert 0.0 <= split["idle_share"] <= 1.0


def test_what_a_process_that_ended_in_between_spent_counts_as_other() -> None:
    before = cpu.sample(NO_SERVER)
    _burn(0.4).wait(30)
    split = cpu.per_request(before, cpu.sample(NO_SERVER), requests=100)
    assert split["other"] >= 3.0  # 0.4 s over 100 requests, seen only in the machine's total
    assert split["app"] < 1.0


def test_nothing_is_split_over_no_requests() -> None:
    before = cpu.sample(NO_SERVER)
    assert cpu.per_request(before, cpu.sample(NO_SERVER), requests=0) == {}
