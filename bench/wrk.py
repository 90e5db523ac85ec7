"""Run a workload with wrk (C, event loop) instead of Python clients: on a 2-core machine the
load generator shares the CPU with the server, and wrk needs a fraction of what forked
Python clients do.

The workload's requests are generated in Python (the same `make(rng)` functions the Python
client uses, so both clients send identical traffic), written one per line as
`METHOD<TAB>PATH<TAB>BODY`, and replayed by a small Lua script: each connection starts at its
own offset and walks the list. wrk's `done()` hook prints the summary as JSON.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

Request = tuple[str, str, Any]

_SCRIPT = r"""
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  wrk.headers["Authorization"] = "Bearer " .. args[2]
  wrk.headers["Content-Type"] = "application/scim+json"
  wrk.headers["Accept"] = "application/scim+json"
  wrk.headers["User-Agent"] = "Headcount bench (wrk)"
  requests = {}
  for line in io.lines(args[1]) do
    local method, path, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    if body == "" then body = nil end
    table.insert(requests, wrk.format(method, path, nil, body))
  end
  position = (id * 7919) % #requests
end

function request()
  position = position % #requests + 1
  return requests[position]
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write("WRK_JSON ", string.format(
    '{"requests": %d, "duration_us": %d, "status_errors": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p95_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def run(
    name: str,
    base: str,
    token: str,
    make: Callable[[random.Random], Request],
    duration: float,
    concurrency: int,
    planned: int,
) -> dict[str, Any]:
    """`concurrency` keep-alive connections on 2 wrk threads for `duration` seconds, replaying
    `planned` generated requests (enough that writes which must be unique, such as POSTs,
    never repeat within the run)."""
    executable = shutil.which("wrk")
    if executable is None:
        raise RuntimeError("wrk is not installed (apt install wrk), or use --client python")
    parts = urlsplit(base)
    rng = random.Random(11)
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as folder:
        plan, script = Path(folder) / "requests.tsv", Path(folder) / "replay.lua"
        with plan.open("w", encoding="utf-8") as handle:
            for _ in range(planned):
                method, path, body = make(rng)
                payload = "" if body is None else json.dumps(body, separators=(",", ":"))
                handle.write(f"{method}\t{parts.path}{path}\t{payload}\n")
        script.write_text(_SCRIPT)
        completed = subprocess.run(
            [
                executable,
                "-t",
                str(min(2, concurrency)),
                "-c",
                str(concurrency),
                "-d",
                f"{int(duration)}s",
                "--timeout",
                "30s",
                "-s",
                str(script),
                f"{parts.scheme}://{parts.netloc}",
                "--",
                str(plan),
                token,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    line = next((row for row in completed.stdout.splitlines() if row.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{completed.stdout}\n{completed.stderr}")
    raw = json.loads(line.removeprefix("WRK_JSON "))
    seconds = raw["duration_us"] / 1e6
    return {
        "workload": name,
        "requests": raw["requests"],
        "errors": raw["status_errors"] + raw["socket_errors"],
        "seconds": round(seconds, 3),
        "req_per_s": round(raw["requests"] / seconds, 1) if seconds else 0,
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p95_ms": round(raw["p95_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
    }
