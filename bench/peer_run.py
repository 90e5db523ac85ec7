"""`make bench ARGS="--peer"`: the same workloads, with the same load generator and in the same
run, against django-scim2 (bench/peer/, its own virtualenv and database), and each of
Headcount's results as a ratio to the peer's.

The peer is seeded to bench_seed's contract, served like Headcount (gunicorn, 2 sync workers,
DEBUG off, persistent connections) and hashes POSTed passwords with Django's MD5 hasher:
Headcount drops them, and PBKDF2 (~0.2 s of CPU each) would measure the hash, not SCIM.
Its group PATCH removes members in Entra ID's form (a value list): it answers 501 to Okta's
filtered path. See bench/peer/README.md for what the library does by default.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

PEER = Path(__file__).resolve().parent / "peer"
PYTHON = PEER / ".venv" / "bin" / "python"
HASHERS = "django.contrib.auth.hashers.MD5PasswordHasher"


def peer_env() -> dict[str, str]:
    return {**os.environ, "PEER_PASSWORD_HASHERS": HASHERS}


def available() -> str | None:
    """None when the peer can run, else what to do first."""
    if not PYTHON.exists():
        return "the peer's virtualenv is missing: run bench/peer/setup.sh first"
    return None


def seed(users: int, groups: int) -> str:
    return subprocess.run(
        [
            str(PYTHON),
            str(PEER / "peer.py"),
            "seed",
            "--users",
            str(users),
            "--groups",
            str(groups),
            "--reset",
        ],
        env=peer_env(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def start(port: int, workers: int) -> tuple[subprocess.Popen[bytes], str, str]:
    """(the gunicorn master, the SCIM base URL, the token) once the peer answers."""
    server = subprocess.Popen(
        [
            str(PYTHON),
            str(PEER / "peer.py"),
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=peer_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/scim/v2"
    # Any answer (401 without the token) means it is up.
    wait_until_answering(
        server, base + "/ServiceProviderConfig", "the peer's gunicorn", any_status=True
    )
    return server, base, os.environ.get("PEER_TOKEN", "peer-bench-token")


def wait_until_answering(
    server: subprocess.Popen[bytes], url: str, what: str, *, any_status: bool = False
) -> None:
    """Return once `url` answers 2xx (or anything, with `any_status`); kill `server` and exit
    after 30 s."""
    for _ in range(150):
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310
            return
        except urllib.error.HTTPError:
            if any_status:
                return
            time.sleep(0.2)
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit(f"{what} did not start")


def ratios(ours: list[dict[str, Any]], peer: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per workload both servers ran: req/s and p50 of each, Headcount's req/s over the
    peer's, and when both ran in rounds (bench/interleave.py) the same ratio per round, in
    round order, so that the spread the headline hides stays visible."""
    theirs = {row["workload"]: row for row in peer}
    rows = []
    for row in ours:
        other = theirs.get(row["workload"])
        if other is None or "req_per_s" not in row:
            continue
        rows.append(
            {
                "workload": row["workload"],
                "headcount_req_per_s": row["req_per_s"],
                "headcount_p50_ms": row["p50_ms"],
                "peer_req_per_s": other["req_per_s"],
                "peer_p50_ms": other["p50_ms"],
                "peer_errors": other["errors"],
                "headcount_cpu_ms": row.get("cpu_ms", {}),
                "peer_cpu_ms": other.get("cpu_ms", {}),
                "ratio": _ratio(row["req_per_s"], other["req_per_s"]),
                "round_ratios": [
                    _ratio(mine["req_per_s"], its["req_per_s"])
                    for mine, its in zip(
                        row.get("rounds", []), other.get("rounds", []), strict=False
                    )
                ],
            }
        )
    return rows


def _ratio(ours: float, theirs: float) -> float | None:
    return round(ours / theirs, 2) if theirs else None
