"""`.ci/run`'s lanes: every step runs where it should, on servers of its own lane, and a failing
step fails the run with its output shown, whatever the other lanes do.

The script runs from a copy in a temporary checkout with a stand-in `make` that records how it
was called, so these tests check the runner, not the suite it runs (CI itself does that).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LANE_VARIABLES = (
    "HEADCOUNT_EMBEDDED",
    "HEADCOUNT_DATA_DIR",
    "PREPARED_QUERIES",
    "DB_PREPARED_STATEMENTS",
    "PYTHON313",
)

FAKE_MAKE = """#!/usr/bin/env bash
echo "make $* | db=${DATABASE_URL:-} redis=${REDIS_URL:-}\
 plain=${PREPARED_QUERIES:-}${DB_PREPARED_STATEMENTS:-} embedded=${HEADCOUNT_EMBEDDED:-}" >>"$CALLS"
echo "ran make $1"
case "$1" in "$FAIL") echo "what $1 said when it failed"; exit 3 ;; esac
"""


def run_ci(
    tmp_path: Path, fail: str = "", redis_url: str = "redis://127.0.0.1:6379/7"
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    checkout = tmp_path / "checkout"
    (checkout / ".ci").mkdir(parents=True)
    shutil.copy(ROOT / ".ci" / "run", checkout / ".ci" / "run")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    make = bin_dir / "make"
    make.write_text(FAKE_MAKE)
    make.chmod(make.stat().st_mode | stat.S_IXUSR)
    calls = tmp_path / "calls.txt"
    calls.touch()
    result = subprocess.run(  # noqa: S603 - our own script, our own arguments
        ["bash", str(checkout / ".ci" / "run")],  # noqa: S607
        env={
            # As CI starts it: not from inside the embedded run's or a lane's environment.
            **{k: v for k, v in os.environ.items() if k not in LANE_VARIABLES},
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "CALLS": str(calls),
            "FAIL": fail,
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/ci_probe",
            "REDIS_URL": redis_url,
            "PYTHON313": "/usr/bin/python3.13-stand-in",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result, calls.read_text().splitlines()


def test_every_step_runs_and_each_lane_has_servers_of_its_own(tmp_path: Path) -> None:
    result, calls = run_ci(tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    by_target = {call.split()[1]: call for call in calls}
    expected = {"install", "lock-check", "doctor", "lint", "typecheck", "migrations-check"}
    assert expected | {"test"} <= set(by_target)
    (suite,) = (c for c in calls if c.startswith("make test ARGS=") and "--durations" in c)
    # The suite as the product runs (compiled queries, prepared statements), in a fresh
    # test database: a kept one may hold what an interrupted run committed.
    assert "--create-db" in suite
    assert suite.endswith(
        "| db=postgres://postgres@127.0.0.1:5432/ci_probe redis=redis://127.0.0.1:6379/7"
        " plain= embedded="
    )
    # The embedded servers' run is also the plain-Django one.
    (embedded,) = (c for c in calls if c.startswith("make test ARGS=") and c.endswith("=1"))
    # What reaches the servers or runs the hot statements; not the pages' walks in Chromium.
    assert " tests/scim " in embedded and " tests/tenants " in embedded
    assert "tests/browser" not in embedded
    assert "plain=00 embedded=1" in embedded
    # Python 3.13 runs beside the suite: the next database and Redis.
    for call in calls:
        if "VENV=.venv-3.13" in call:
            assert "db=postgres://postgres@127.0.0.1:5432/ci_probe_checks" in call
            assert "redis=redis://127.0.0.1:6379/8" in call
    assert "Steps (seconds, exit status)" in result.stdout


@pytest.mark.parametrize("failing", ["typecheck", "migrations-check"])
def test_a_failing_step_fails_the_run_shows_its_output_and_the_other_lanes_finish(
    tmp_path: Path, failing: str
) -> None:
    result, calls = run_ci(tmp_path, fail=failing)

    assert result.returncode == 1
    assert f"what {failing} said when it failed" in result.stdout
    assert "FAILED: checks" in result.stderr
    assert sum(call.startswith("make test ARGS=") for call in calls) == 2  # suite and embedded
    # Its lane stops there: nothing after the failing step runs.
    assert not any("VENV=.venv-3.13" in call for call in calls)


def test_a_redis_database_number_without_a_next_one_stops_before_any_lane(tmp_path: Path) -> None:
    result, calls = run_ci(tmp_path, redis_url="redis://127.0.0.1:6379/15")

    assert result.returncode == 1
    assert "must be 14 or less" in result.stderr
    assert not any(call.startswith("make test") for call in calls)
