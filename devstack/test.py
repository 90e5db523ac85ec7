"""`make test`: the whole suite against real PostgreSQL and Redis (local or embedded)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from devstack.chromium import ensure_chromium
from devstack.envfile import load_env_file
from devstack.services import Unusable, resolve

ROOT = Path(__file__).resolve().parent.parent


# How long pytest gets to run its teardown (live servers, workers, browsers) once stopped.
TEARDOWN_SECONDS = 30


# The pytest this run started, and a SIGTERM that arrived while it was being started.
_suites: list[subprocess.Popen[bytes]] = []
_held: list[int] = []
_holding = False


def _exit_on_sigterm(signum: int, frame: object) -> None:
    # CI and process managers stop a run with SIGTERM, whose default ends the process on the
    # spot: exit through `finally` instead, so the suite is stopped as Ctrl-C stops it and
    # the embedded servers this run started stop with it rather than outliving it.
    if _holding:
        _held.append(signum)
        return
    raise SystemExit(128 + signum)


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start pytest with a SIGTERM held back until its process is in `_suites`: raised
    inside `Popen`, after the fork, it left a pytest nobody stopped running on its own."""
    global _holding
    _holding = True
    try:
        _suites.append(subprocess.Popen(command, cwd=ROOT, env=env))  # noqa: S603
    finally:
        _holding = False
    if _held:
        raise SystemExit(128 + _held[0])
    return _suites[-1]


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    load_env_file(ROOT / ".env.test")
    # Before anything starts: without a browser the portal tests could only fail, one by one.
    chromium = ensure_chromium()
    if chromium is None:
        return 1
    data_dir = Path(os.environ.get("HEADCOUNT_DATA_DIR", ROOT / ".data"))
    # Redis database 1, so a `make run` on the same Redis keeps its queues to itself.
    # Embedded servers of its own (data_dir/test), so a `make run` stopping cannot stop ours.
    try:
        services = resolve(data_dir=data_dir / "test", database="headcount", redis_index=1)
    except Unusable as error:
        print(error, file=sys.stderr)
        return 1
    env = {
        **os.environ,
        **services.env,
        "HEADCOUNT_CHROMIUM": chromium,
        "DEBUG": "0",
        "FAST_PASSWORD_HASHING": "1",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "test-only-secret-key-not-for-production"),
    }
    try:
        for note in services.notes:
            print(f"· {note}", flush=True)
        return _start([sys.executable, "-m", "pytest", *argv], env).wait()
    except KeyboardInterrupt:
        # Ctrl-C reached pytest too (the terminal signals the whole group): let it tear down.
        for suite in _suites:
            _wait_or_kill(suite)
        raise
    except SystemExit:
        # SIGTERM (above): stop pytest as Ctrl-C would, so it tears its fixtures down (the
        # gunicorn servers, Celery workers and browsers it started) before it exits.
        for suite in _suites:
            suite.send_signal(signal.SIGINT)
            _wait_or_kill(suite)
        raise
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the stop short
        services.stop()


def _wait_or_kill(suite: subprocess.Popen[bytes]) -> None:
    try:
        suite.wait(TEARDOWN_SECONDS)
    except subprocess.TimeoutExpired:
        suite.kill()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
