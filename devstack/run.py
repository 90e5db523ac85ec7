"""`make run`: the whole product in the foreground (web, Celery worker, Celery beat).

Ctrl-C stops every process, then any embedded server this started.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from devstack.envfile import load_env_file, write_dev_env
from devstack.services import Unusable, resolve

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def manage(*args: str, capture: bool = False) -> str:
    result = subprocess.run(  # noqa: S603
        [PYTHON, str(ROOT / "manage.py"), *args],
        check=True,
        cwd=ROOT,
        stdout=subprocess.PIPE if capture else None,
        text=True,
    )
    return result.stdout or ""


def worker_commands(python: str) -> dict[str, list[str]]:
    """Two workers, as production runs them (config/settings.py, CELERY_TASK_QUEUES): the
    long jobs people ask for never hold up beat's housekeeping."""
    worker = [python, "-m", "celery", "-A", "config", "worker", "-l", "info", "--concurrency", "2"]
    return {
        "worker": [*worker, "-Q", "celery", "-n", "main@%h"],
        "worker-batch": [*worker, "-Q", "batch", "-n", "batch@%h"],
    }


def main() -> int:
    load_env_file(ROOT / ".env")
    os.environ.setdefault("DEBUG", "1")
    port = os.environ.setdefault("PORT", "8000")
    data_dir = Path(os.environ.get("HEADCOUNT_DATA_DIR", ROOT / ".data"))
    try:
        services = resolve(data_dir=data_dir, database="headcount", redis_index=0)
    except Unusable as error:
        print(error, file=sys.stderr)
        return 1
    os.environ.update(services.env)
    for note in services.notes:
        print(f"· {note}")
    # `manage.py` in a second terminal reads this while we run (removed when we stop, even
    # when a step below fails).
    dev_env = write_dev_env(services.env)
    atexit.register(dev_env.unlink, missing_ok=True)

    print("· Migrating (public schema, base schema, every company) …")
    manage("migrate_schemas", "--noinput", "-v", "0")
    logins = json.loads(
        manage(
            "dev_bootstrap",
            "--credentials-file",
            str(data_dir / "dev-credentials.json"),
            capture=True,
        )
        .strip()
        .splitlines()[-1]
    )
    base = os.environ.get("PUBLIC_BASE_URL") or f"http://127.0.0.1:{port}"
    slug = logins["demo_slug"]
    admin_login = f"{logins['demo_admin_email']} / {logins['demo_admin_password']}"
    support_login = f"{logins['support_email']} / {logins['support_password']}"
    print(
        f"""
Headcount is running.
  Company portal : {base}/t/{slug}/   sign in as {admin_login}
  SCIM base URL  : {base}/t/{slug}/scim/v2
  Support admin  : {base}/admin/      sign in as {support_login}
  Health         : {base}/healthz
  Commands       : .venv/bin/python manage.py company_list   (same database and Redis)
Press Ctrl-C to stop.
""",
        flush=True,
    )

    commands = {
        "web": [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        **worker_commands(PYTHON),
        "beat": [PYTHON, "-m", "celery", "-A", "config", "beat", "-l", "info"],
    }
    processes = {
        name: subprocess.Popen(command, cwd=ROOT)  # noqa: S603
        for name, command in commands.items()
    }

    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, process in processes.items():
            if process.poll() is not None:
                print(f"! {name} exited with {process.returncode}; stopping everything.")
                exit_code = process.returncode or 1
                stopping = True
        time.sleep(0.3)

    print("\nStopping …")
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes.values():
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
    services.stop()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
