"""Local development (`make run`): SQLite and the filesystem broker unless the environment says otherwise."""
from .base import *  # noqa: F401,F403
from .base import ALLOWED_HOSTS, VAR_DIR, env_bool
import os

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY") or "dev-only-insecure-key-never-used-in-production"
ALLOWED_HOSTS = ALLOWED_HOSTS + ["testserver", "[::1]"]
VAR_DIR.mkdir(parents=True, exist_ok=True)
for folder in ("broker", "broker-processed", "broker-control", "celery-results"):
    (VAR_DIR / folder).mkdir(parents=True, exist_ok=True)
