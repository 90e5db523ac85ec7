"""gunicorn settings for `make serve` and docker-compose."""

import gc
import os
from typing import Any

# Connections are per worker; recycle workers now and then so a worker's catalog cache (which
# grows with every company schema it touches) stays bounded.
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "20000"))
max_requests_jitter = max_requests // 10
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# The access log (`--access-logfile -`) redacts tokens, codes and secrets in URLs.
logger_class = "config.access_log.RedactingLogger"
# Each thread holds its own database connection: part of the connection budget.
threads = int(os.environ.get("WEB_THREADS", "1"))


def when_ready(server: Any) -> None:
    """Once listening, warn when this deployment's connection budget does not fit PostgreSQL's
    max_connections (config/connection_budget.py); never stops the start-up."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from config.connection_budget import check_connection_budget, configured_budget

    warning = check_connection_budget(
        configured_budget(web_workers=server.cfg.workers, web_threads=server.cfg.threads)
    )
    if warning:
        server.log.warning(warning)


def post_worker_init(worker: object) -> None:
    """Once the worker has loaded Django, move everything alive to the collector's permanent
    generation. A full collection otherwise walks all of those objects too, in the middle of
    a request: a page of 100 users allocates enough to trigger one now and then. The
    random-depth page's p99 fell from 60-95 ms to 38-40 ms (docs/performance.md)."""
    gc.collect()
    gc.freeze()
