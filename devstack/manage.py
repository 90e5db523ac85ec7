"""`make manage ARGS="company_list"`: a management command on the database and Redis that
`make run` uses.

While `make run` runs, its servers (.data/dev.env) are used. Otherwise they are resolved as
`make run` would (local servers, else the embedded ones in the same .data/ folder, started for
this command and stopped after it), so the command sees the same data either way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from devstack.envfile import ROOT, dev_env_path, load_env_file, read_env_file
from devstack.services import Services, Unusable, postgres_answers, resolve


def main(argv: list[str]) -> int:
    load_env_file(ROOT / ".env")
    services: Services | None = None
    running = read_env_file(dev_env_path())
    if running.get("DATABASE_URL") and postgres_answers(running["DATABASE_URL"]):
        for key, value in running.items():
            os.environ.setdefault(key, value)
    else:
        # No `make run` here (or a killed one left its dev.env): resolve as it would.
        data_dir = Path(os.environ.get("HEADCOUNT_DATA_DIR") or ROOT / ".data")
        try:
            services = resolve(data_dir=data_dir, database="headcount", redis_index=0)
        except Unusable as error:
            print(error, file=sys.stderr)
            return 1
        os.environ.update(services.env)
        for note in services.notes:
            print(f"· {note}", file=sys.stderr)
    os.environ.setdefault("DEBUG", "1")
    try:
        return subprocess.call([sys.executable, str(ROOT / "manage.py"), *argv], cwd=ROOT)  # noqa: S603
    finally:
        if services is not None:
            services.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
