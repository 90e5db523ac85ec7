"""`gunicorn bench.bare.wsgi:application`: the bare ceiling app (bench/bare/__init__.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.bare.settings"
application = get_wsgi_application()
