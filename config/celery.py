"""The Celery app: configuration comes from Django settings (CELERY_* names)."""
import os

from celery import Celery

# A server started without a settings module is a deployment: production settings, which refuse
# to start without a real SECRET_KEY (`make run` and the tests choose theirs explicitly).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("prefloop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["workers"])
