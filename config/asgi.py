"""ASGI entry point: `gunicorn config.asgi -k uvicorn_worker.UvicornWorker`.

The annotate loop's hot requests are answered by `AnnotateLoopFront` (one PostgreSQL function call
each, no Django request cycle); everything else is Django's ASGI application.
"""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
django_application = get_asgi_application()

from annotation.hot_path.front import AnnotateLoopFront  # noqa: E402 (needs the apps loaded)

application = AnnotateLoopFront(django_application)
