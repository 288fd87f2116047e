"""The test suite: real PostgreSQL and Redis (DATABASE_URL, REDIS_URL; defaults on 127.0.0.1)."""
import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")

from .dev import *  # noqa: E402,F401,F403

DEBUG = False
# Fast hashing: the suite creates hundreds of users.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The suite signs in hundreds of times from one address; tests of the limits set their own rates.
SIGN_IN_THROTTLE_RATES = {"address": "100000/min", "username": "100000/min"}
# A cache that starts empty with each run (ids repeat across runs, and cached reports are keyed by
# them); the sign-in limit's test runs against Redis itself.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
