"""gunicorn settings for `make serve` and docker-compose."""

import ctypes
import gc
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

# A worker's PostgreSQL connections, whose backends' catalog caches grow with every company
# schema they touch, end with their age (DB_CONN_MAX_AGE) while the worker serves on; a
# worker is still replaced now and then, against slow growth of its own. Rarely: each
# replacement leaves one worker serving all requests while its successor starts.
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "100000"))
max_requests_jitter = max_requests // 10
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
# PostgreSQL ends a web request's statement before gunicorn would kill its worker for it: the
# caller gets a 503 that says why (config/settings.py, DB_STATEMENT_TIMEOUT_SECONDS, which
# gunicorn sets in its own environment before it loads the application). Only here: Celery,
# commands and migrations share the deployment's environment and must not get the limit.
_web_statement_timeout = os.environ.get("WEB_STATEMENT_TIMEOUT_SECONDS") or str(max(1, timeout - 5))
raw_env = [f"DB_STATEMENT_TIMEOUT_SECONDS={_web_statement_timeout}"]
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# The access log (`--access-logfile -`) redacts tokens, codes and secrets in URLs.
logger_class = "config.access_log.RedactingLogger"
# Each thread holds its own database connection: part of the connection budget.
threads = int(os.environ.get("WEB_THREADS", "1"))
# Workers are forked from a master that loaded the application once, so a worker recycled
# after max_requests is serving again at once: loading Django in each new worker took a
# second of CPU, and requests waited on it (docs/performance.md, "Worker recycling").
# Nothing the master loads may open a connection a worker would inherit (the connection
# budget check below uses its own, closed at once). With WEB_PRELOAD=0 each worker loads
# the application itself; only then does `kill -HUP` pick up new code without a restart.
preload_app = os.environ.get("WEB_PRELOAD", "1") != "0"


def when_ready(server: Any) -> None:
    """Once listening, warn when this deployment's connection budget does not fit PostgreSQL's
    max_connections (config/connection_budget.py); never stops the start-up. Then, before the
    first fork, prepare what every worker inherits (prepare_for_forking)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from config.connection_budget import check_connection_budget, configured_budget

    warning = check_connection_budget(
        configured_budget(web_workers=server.cfg.workers, web_threads=server.cfg.threads)
    )
    if warning:
        server.log.warning(warning)
    if server.cfg.preload_app:
        prepare_for_forking()


def prepare_for_forking() -> None:
    """In the master, with the application loaded: load what Django otherwise loads during a
    worker's first request (config/prefork.py), then move everything alive to the collector's
    permanent generation, as Python's gc documentation advises before fork(). A worker's
    collections then never visit those objects, and never write to them: a write copies the
    page it lands on into the worker, and a full collection in each new worker wrote to every
    object it inherited, while that worker was not yet serving."""
    from config.prefork import load_what_requests_load_lazily

    load_what_requests_load_lazily()
    gc.collect()
    gc.freeze()


def post_worker_init(worker: object) -> None:
    """Once the worker has loaded Django, move everything alive to the collector's permanent
    generation. A full collection otherwise walks all of those objects too, in the middle of
    a request: a page of 100 users allocates enough to trigger one now and then. The
    random-depth page's p99 fell from 60-95 ms to 38-40 ms (docs/performance.md). With
    preload_app the master froze what it loaded (prepare_for_forking), so this only walks
    what the worker made since the fork."""
    gc.collect()
    gc.freeze()
    fix_mmap_threshold()


def worker_exit(server: object, worker: object) -> None:
    """A worker leaving normally (after max_requests, or asked to stop) ends its process here,
    with its logs flushed and its database connections closed, instead of in the
    interpreter's teardown: that frees every object the worker inherited, writing to each,
    so it copies the master's pages one by one, and until the process is gone the master
    does not start its replacement. A worker leaving on an error keeps the teardown and its
    exit status, which the master logs."""
    # gunicorn calls this from a `finally` around the worker's life, so the exception on its
    # way out says how the worker is leaving.
    leaving = sys.exc_info()[1]
    if not isinstance(leaving, SystemExit) or leaving.code not in (0, None):
        return
    from django.db import connections

    # This thread's connections; a gthread worker's other threads have finished their
    # requests (or outlived the graceful timeout), and theirs close with the process.
    connections.close_all()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


# --- Giving memory back after large requests ------------------------------------------------
# Measured with the largest page allowed (1,000 users of 32 KiB, docs/security.md "Limits"),
# six times over two workers: without this section the workers grew from 205 MiB to 652 MiB
# and kept it; each of the three parts below alone left them hundreds of MiB up; together they
# return to what they held before the first page.

# A request body or response at least this large is followed by a memory clean-up (0: never).
MEMORY_CLEANUP_AFTER_BYTES = int(os.environ.get("WEB_MEMORY_CLEANUP_AFTER_BYTES", str(2**20)))
# Long enough for the request handler that called post_request to have dropped the response.
MEMORY_CLEANUP_DELAY_SECONDS = 0.2
_M_MMAP_THRESHOLD = -3  # mallopt parameter number, from glibc's malloc.h
_MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's own starting value

try:
    _LIBC: Any = ctypes.CDLL(None)  # the C library this process already uses
    _malloc_trim: Callable[[int], int] | None = _LIBC.malloc_trim
    _mallopt: Callable[[int, int], int] | None = _LIBC.mallopt
except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
    _malloc_trim = _mallopt = None

_cleanup_lock = threading.Lock()
_cleanup_pending = False


def fix_mmap_threshold() -> None:
    """Keep glibc's mmap threshold where it starts. glibc raises it (up to 32 MiB) each time
    a large block is freed, after which the buffers of a large page come from the heap, where
    freed memory stays with the process; below the threshold they are mapped and unmapped."""
    if _mallopt is not None:
        _mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)


def _clean_up_memory() -> None:
    global _cleanup_pending
    with _cleanup_lock:
        _cleanup_pending = False
    # A page stays alive in reference cycles (DRF's response and its renderer context point at
    # each other) until a full collection, which gc.freeze() and the page's few container
    # objects make rare; then glibc keeps what was freed in its arenas unless asked.
    gc.collect()
    if _malloc_trim is not None:
        _malloc_trim(0)


def schedule_memory_cleanup(environ: dict[str, Any], resp: Any) -> None:
    """After a request body or response of MEMORY_CLEANUP_AFTER_BYTES or more, collect the
    garbage and return freed memory to the system, shortly after, on a timer thread (at most
    one pending per worker). Small requests cost a comparison."""
    global _cleanup_pending
    if MEMORY_CLEANUP_AFTER_BYTES <= 0:
        return
    try:
        received = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        received = 0
    if max(getattr(resp, "sent", 0) or 0, received) < MEMORY_CLEANUP_AFTER_BYTES:
        return
    with _cleanup_lock:
        if _cleanup_pending:
            return
        _cleanup_pending = True
    threading.Timer(MEMORY_CLEANUP_DELAY_SECONDS, _clean_up_memory).start()


def post_request(worker: object, req: object, environ: dict[str, Any], resp: Any) -> None:
    schedule_memory_cleanup(environ, resp)
