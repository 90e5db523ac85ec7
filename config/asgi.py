import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# As django.core.asgi.get_asgi_application, with the SCIM API's own middleware chain.
django.setup(set_prefix=False)

from config.handlers import asgi_application  # noqa: E402 - needs the apps loaded

application = asgi_application()
