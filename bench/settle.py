"""Waiting until the server has finished the requests a workload left behind.

wrk stops at its deadline with a request in flight on each connection and closes them
unanswered. A gunicorn sync worker still reads and runs every request it was sent, whether
or not its client is still there: the one it is running, and those queued in the listening
socket's backlog. After eight connections of `POST /Bulk` (100 creates each, ~1 s of work)
that is several seconds of writes the benchmark never counted, and they landed on whatever
was measured next: the import sweep's first page, which waited for them (2.6 s in a quiet
run, 22 s on a loaded machine, against 8 ms for the cursor sweep's first page right after).

So the benchmark waits between workloads until no connection to the server is left whose
client has gone (TCP state CLOSE_WAIT: the client closed, the server has not answered and
closed yet). Each such connection is a request still owed, running or queued; the kernel
lists them in /proc/net/tcp{,6} (Linux, where the benchmark runs) whether or not a worker
has accepted them yet. A connection a live client keeps open (keep-alive) is not waited for.
"""

from __future__ import annotations

import time
from pathlib import Path

_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
_CLOSE_WAIT = "08"  # the kernel's TCP state number (include/net/tcp_states.h)


def connections_owed(port: int, tables: tuple[Path, ...] = _TABLES) -> int:
    """How many connections to local `port` their client has closed while the server still
    holds them (running or queued requests nobody will read the answer to)."""
    owed = 0
    for table in tables:
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:  # no such table (no IPv6, or not Linux): nothing to wait for there
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            if state == _CLOSE_WAIT and int(local.rsplit(":", 1)[1], 16) == port:
                owed += 1
    return owed


def wait_until_served(port: int, timeout: float = 300.0, poll: float = 0.05) -> float:
    """Wait until the server on local `port` owes no request to a client that has gone (see
    the module's docstring); returns the seconds waited. Raises TimeoutError after `timeout`
    seconds (a server stuck that long would spoil every later figure anyway)."""
    began = time.monotonic()
    while connections_owed(port):
        if time.monotonic() - began > timeout:
            raise TimeoutError(f"the server on port {port} still owes requests after {timeout} s")
        time.sleep(poll)
    return round(time.monotonic() - began, 2)
