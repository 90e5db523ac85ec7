"""`make test`, `make doctor` and `manage.py` as a developer runs them from a shell."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devstack.envfile import write_dev_env
from tests import live as live_servers
from tests.live import live_scim_company

ROOT = Path(__file__).resolve().parents[2]


# What a developer's shell does not set: `make test` sets these for the suite only.
SUITE_ONLY = ("HEADCOUNT_EMBEDDED", "DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "PG_DUMP")


def run(module_or_script: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """Run python with `module_or_script` from the checkout, in a developer's shell + `env`."""
    clean = {k: v for k, v in os.environ.items() if k not in SUITE_ONLY}
    return subprocess.run(  # noqa: S603
        [sys.executable, *module_or_script],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_make_test_without_chromium_stops_before_running_anything_with_one_line() -> None:
    result = run(
        ["-m", "devstack.test", "tests/test_health.py", "-q"],
        HEADCOUNT_CHROMIUM="/nonexistent/chromium",
    )

    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "apt-get install chromium" in result.stderr
    assert "passed" not in result.stdout and "test session" not in result.stdout


def test_doctor_names_what_is_missing_with_its_fix_and_fails() -> None:
    result = run(["-m", "devstack.doctor"], HEADCOUNT_CHROMIUM="/nonexistent/chromium")

    assert result.returncode == 1
    assert "MISSING Chromium" in result.stdout
    assert "fix: `sudo apt-get install chromium`" in result.stdout


def test_doctor_passes_on_a_machine_ready_for_make_test() -> None:
    result = run(["-m", "devstack.doctor"])

    assert result.returncode == 0, result.stdout
    for name in ("Python", "PostgreSQL", "Redis", "pg_dump", "Chromium", "Disk"):
        assert name in result.stdout


@pytest.mark.live
@pytest.mark.django_db
def test_manage_py_in_a_second_terminal_uses_the_servers_of_make_run(
    django_db_blocker: Any, tmp_path: Path
) -> None:
    # What `make run` leaves for other terminals; the shell has no DEBUG, SECRET_KEY or URLs.
    with live_scim_company(django_db_blocker) as live:
        write_dev_env_in(
            tmp_path,
            DATABASE_URL=live_servers.test_database_url(),
            REDIS_URL=os.environ["REDIS_URL"],
        )

        result = run(["manage.py", "company_list", "--json"], HEADCOUNT_DATA_DIR=str(tmp_path))

    assert result.returncode == 0, result.stderr
    assert live.company.slug in {json.loads(line)["slug"] for line in result.stdout.splitlines()}


def test_production_ignores_a_dev_env_and_still_requires_its_settings(tmp_path: Path) -> None:
    write_dev_env_in(tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:1/nowhere")

    result = run(["manage.py", "check"], HEADCOUNT_DATA_DIR=str(tmp_path), DEBUG="0")

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def write_dev_env_in(folder: Path, **values: str) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HEADCOUNT_DATA_DIR", str(folder))
        write_dev_env(values)


@pytest.mark.live
def test_make_test_stopped_by_sigterm_stops_the_embedded_servers_it_started(
    tmp_path: Path,
) -> None:
    # Under .data/, as the embedded servers need (as root PostgreSQL runs as `nobody`).
    data_dir = ROOT / ".data" / f"sigterm-{os.getpid()}"
    waiting = tmp_path / "test_waiting.py"
    waiting.write_text("import time\n\ndef test_waits():\n    time.sleep(120)\n")
    clean = {k: v for k, v in os.environ.items() if k not in SUITE_ONLY}
    suite = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "devstack.test", str(waiting), "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env={**clean, "HEADCOUNT_EMBEDDED": "1", "HEADCOUNT_DATA_DIR": str(data_dir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    postmaster = data_dir / "test" / "pg" / "postmaster.pid"
    try:
        assert suite.stdout is not None
        for line in suite.stdout:  # the servers are up once it names them
            if line.startswith("· Redis"):
                break
        assert postmaster.exists()

        suite.terminate()
        assert suite.wait(60) == 128 + 15
        assert not postmaster.exists()  # PostgreSQL stopped (a clean stop removes it)
        # And the pytest it started, however soon after its start the SIGTERM came.
        left = subprocess.run(  # noqa: S603
            [shutil.which("pgrep") or "pgrep", "-f", str(waiting)], capture_output=True, text=True
        )
        assert left.stdout == ""
    finally:
        if suite.poll() is None:
            suite.kill()
        # Servers a failed assertion above left running.
        subprocess.run([shutil.which("pkill") or "pkill", "-f", str(data_dir)], check=False)  # noqa: S603
        shutil.rmtree(data_dir, ignore_errors=True)
