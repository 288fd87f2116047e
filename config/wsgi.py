"""WSGI entry point for gunicorn."""
import os

from django.core.wsgi import get_wsgi_application

# A server started without a settings module is a deployment: production settings, which refuse
# to start without a real SECRET_KEY (`make run` and the tests choose theirs explicitly).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_wsgi_application()
