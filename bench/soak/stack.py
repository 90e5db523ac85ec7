"""The soak run's own stack: a Redis server it may kill, PostgreSQL behind a relay it may cut,
gunicorn as `make serve` runs it, a Celery worker and Celery beat. Every process runs in its
own process group, so a kill reaches its children too and nothing outlives the run."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

import psutil

from devstack.relay import Relay
from devstack.services import EmbeddedRedis, redis_answers

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float | None:
    """Resident memory of `pid` in MB, from /proc; None when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def _stop(process: subprocess.Popen[bytes] | None, seconds: float = 10) -> None:
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


class RedisServer:
    """redis-server on a fixed port (so clients reconnect to the same URL after a restart),
    append-only as a production broker would be."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                EmbeddedRedis.binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--dir",
                str(self.directory),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 15
        while not self.answers():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def answers(self) -> bool:
        return redis_answers(self.url)

    def kill(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def stop(self) -> None:
        _stop(self.process)


class Stack:
    """Everything `make serve`, `make worker` and `make beat` run in production, wired to a
    Redis and a PostgreSQL path this process controls. Use as a context manager."""

    def __init__(self, *, database_url: str, logs: Path, env: dict[str, str], web_workers: int):
        self.logs = logs
        self.web_workers = web_workers
        self.redis = RedisServer(logs / "redis")
        database = urlsplit(database_url)
        self.relay = Relay((database.hostname or "127.0.0.1", database.port or 5432))
        netloc = database.netloc.rsplit("@", 1)[0] + f"@127.0.0.1:{self.relay.port}"
        self.env = {
            **env,
            "DATABASE_URL": urlunsplit(database._replace(netloc=netloc)),
            "REDIS_URL": self.redis.url,
        }
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.web: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.beat: subprocess.Popen[bytes] | None = None
        self.worker_starts = 0

    def __enter__(self) -> Stack:
        self.redis.start()
        self.web = self._spawn(
            "gunicorn",
            [
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.web_workers),
                "--config",
                "python:config.gunicorn",
            ],
        )
        self.wait_for_web()
        self.start_worker()
        self.beat = self._spawn("beat", ["-m", "celery", "-A", "config", "beat", "-l", "info"])
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for process in (self.beat, self.worker, self.web):
            _stop(process)
        self.redis.stop()
        self.relay.close()

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return process

    # --- the web server -------------------------------------------------------------------

    def wait_for_web(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.web is None or self.web.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.logs / 'gunicorn.log'}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=5):  # noqa: S310
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer /healthz within {seconds} s")

    def web_worker_pids(self) -> list[int]:
        if self.web is None:
            return []
        with contextlib.suppress(psutil.NoSuchProcess):
            return sorted(child.pid for child in psutil.Process(self.web.pid).children())
        return []

    def kill_web_worker(self) -> int:
        """SIGKILL one gunicorn worker (the master starts another); return its pid."""
        victim = self.web_worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        return victim

    def wait_for_web_workers(self, gone: int, seconds: float = 60) -> bool:
        """Wait until the master has replaced worker `gone` (until it reaps it, the dead
        worker is still its child) and its new worker answers; False on time-out."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            pids = self.web_worker_pids()
            if gone not in pids and len(pids) == self.web_workers:
                self.wait_for_web(max(1.0, deadline - time.monotonic()))
                return True
            time.sleep(0.1)
        return False

    # --- Celery ---------------------------------------------------------------------------

    def start_worker(self, seconds: float = 60) -> None:
        """Start the Celery worker and wait until it says it is ready."""
        self.worker_starts += 1
        log_path = self.logs / "worker.log"
        offset = log_path.stat().st_size if log_path.exists() else 0
        self.worker = self._spawn(
            "worker", ["-m", "celery", "-A", "config", "worker", "-l", "info", "--concurrency", "2"]
        )
        deadline = time.monotonic() + seconds
        while b" ready." not in log_path.read_bytes()[offset:]:
            if self.worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Celery worker did not start; see {log_path}")
            time.sleep(0.2)

    def kill_worker(self) -> None:
        """SIGKILL the Celery worker and its pool processes."""
        if self.worker is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait(10)

    def worker_pids(self) -> list[int]:
        if self.worker is None or self.worker.poll() is not None:
            return []
        with contextlib.suppress(psutil.NoSuchProcess):
            main = psutil.Process(self.worker.pid)
            return [main.pid, *sorted(child.pid for child in main.children())]
        return []

    # --- what is alive --------------------------------------------------------------------

    def memory(self) -> dict[str, dict[int, float | None]]:
        """RSS in MB of every gunicorn worker and Celery process, by pid."""
        return {
            "web_workers": {pid: rss_mb(pid) for pid in self.web_worker_pids()},
            "celery_worker": {pid: rss_mb(pid) for pid in self.worker_pids()},
        }

    def alive(self) -> dict[str, bool]:
        return {
            "gunicorn master": self.web is not None and self.web.poll() is None,
            f"{self.web_workers} gunicorn workers": len(self.web_worker_pids()) == self.web_workers,
            "celery worker": self.worker is not None and self.worker.poll() is None,
            "celery beat": self.beat is not None and self.beat.poll() is None,
            "redis": self.redis.answers(),
            "database relay": self.relay.up,
        }
