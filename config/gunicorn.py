"""gunicorn settings for `make serve` and docker-compose."""

import gc
import os

# Connections are per worker; recycle workers now and then so a worker's catalog cache (which
# grows with every company schema it touches) stays bounded.
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "20000"))
max_requests_jitter = max_requests // 10
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_worker_init(worker: object) -> None:
    """Once the worker has loaded Django, move everything alive to the collector's permanent
    generation. A full collection otherwise walks all of those objects too, in the middle of
    a request: a page of 100 users allocates enough to trigger one now and then. The
    random-depth page's p99 fell from 60-95 ms to 38-40 ms (docs/performance.md)."""
    gc.collect()
    gc.freeze()
