"""ASGI entry point: `gunicorn config.asgi -k uvicorn_worker.UvicornWorker`.

The annotate loop's hot requests are answered by `AnnotateLoopFront` (one PostgreSQL function call
each, no Django request cycle); everything else is Django's ASGI application.
"""
import os

from django.core.asgi import get_asgi_application

# A server started without a settings module is a deployment: production settings, which refuse
# to start without a real SECRET_KEY (`make run` and the tests choose theirs explicitly).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
django_application = get_asgi_application()

from annotation.hot_path.front import AnnotateLoopFront  # noqa: E402 (needs the apps loaded)

application = AnnotateLoopFront(django_application)
