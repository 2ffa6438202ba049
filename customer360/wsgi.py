import os
import sys

from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "customer360.settings.base")

try:
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
    from customer360.startup import settle_web_process

    settle_web_process()
except ImproperlyConfigured as exc:  # one clear line in the server log, then exit
    sys.stderr.write(f"Configuration error: {exc}\n")
    sys.exit(2)
