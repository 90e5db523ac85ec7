"""gunicorn settings for tests: the production ones (config/gunicorn.py), and each worker
writes down what it inherited from the master and what it imported while serving, to the
file named by GUNICORN_PROBE_RECORD (tests/test_gunicorn_config.py reads it)."""

import gc
import os
import sys
from typing import Any

from config import gunicorn as production
from config.gunicorn import *  # noqa: F403 - everything the production server is given

RECORD = os.environ.get("GUNICORN_PROBE_RECORD", os.devnull)
_inherited: set[str] = set()


def _write(line: str) -> None:
    with open(RECORD, "a", encoding="utf-8") as record:
        record.write(line + "\n")


def post_fork(server: object, worker: object) -> None:
    _inherited.update(sys.modules)
    _write(f"forked {os.getpid()} frozen_objects={gc.get_freeze_count()}")


def post_request(worker: object, req: object, environ: dict[str, Any], resp: Any) -> None:
    production.post_request(worker, req, environ, resp)
    imported = sorted(set(sys.modules) - _inherited)
    _write(f"served {os.getpid()} {environ['PATH_INFO']} imported={','.join(imported)}")
