import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# As django.core.wsgi.get_wsgi_application, with the SCIM API's own middleware chain.
django.setup(set_prefix=False)

from config.handlers import wsgi_application  # noqa: E402 - needs the apps loaded

application = wsgi_application()
