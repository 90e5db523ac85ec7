# Production image: web (gunicorn), Celery worker and beat all run from it (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# pg_dump: new company schemas replay the base schema's DDL (tenants/schema_clone.py). The
# client must be at least the server's version (Debian bookworm: 15, as in docker-compose).
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

# The runtime group only, every package pinned and hash-checked (`make lock` writes the file).
COPY requirements/runtime.txt ./requirements/
RUN pip install --require-hashes -r requirements/runtime.txt

COPY . .
RUN SECRET_KEY=collectstatic-only DEBUG=0 python manage.py collectstatic --noinput -v 0

# The exports folder exists in the image so that a volume mounted there (docker-compose.yml)
# starts owned by the user that writes it.
RUN useradd --system --home /app headcount && mkdir -p /app/.data/exports \
    && chown -R headcount /app
USER headcount

EXPOSE 8000
# No HEALTHCHECK: this image also runs the worker and beat, which serve no HTTP. The web
# service's healthcheck is set where it runs (docker-compose.yml: /healthz).
CMD ["sh", "-c", "gunicorn config.wsgi:application --bind 0.0.0.0:${PORT:-8000} --workers ${WEB_WORKERS:-2} --access-logfile - --config python:config.gunicorn"]
