"""What the gunicorn master loads before it forks workers, so that every worker, the first
or one replacing a worker after max_requests, starts with it (docs/performance.md, "Worker
replacement").

Django loads some things on first use, and a worker forked from a master that never used
them loaded them during its first request, every time a worker was replaced: the URLconfs,
and through them every view module (compiled from source, as the image does not write
bytecode), the database routers, the models' reverse relations, and the classes settings
name for the session and message middleware. Nothing here opens a
connection, which a worker would inherit and share with its siblings.
"""

from django.apps import apps
from django.conf import settings
from django.db import router
from django.urls import get_resolver
from django.utils.module_loading import import_string


def load_what_requests_load_lazily() -> None:
    """Import and build what the first request would: the URL resolvers (their view modules
    and compiled patterns), the database routers, each model's reverse relations and the
    session serializer and message storage named in the settings."""
    # The benchmark's bare app is served with this gunicorn configuration too: no tenancy.
    public_urlconf = getattr(settings, "PUBLIC_SCHEMA_URLCONF", None)
    for urlconf in filter(None, (settings.ROOT_URLCONF, public_urlconf)):
        # Django builds a resolver's lookup tables, importing each view and compiling each
        # pattern, the first time a URL is resolved or reversed.
        _ = get_resolver(urlconf).reverse_dict
    _ = router.routers
    for model in apps.get_models():
        model._meta.get_fields()
    for dotted_path in (settings.SESSION_SERIALIZER, settings.MESSAGE_STORAGE):
        import_string(dotted_path)
