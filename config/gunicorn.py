"""gunicorn settings for `make serve` and docker-compose."""

import os

# Connections are per worker; recycle workers now and then so a worker's catalog cache (which
# grows with every company schema it touches) stays bounded.
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "20000"))
max_requests_jitter = max_requests // 10
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
