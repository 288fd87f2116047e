"""The test suite: real PostgreSQL and Redis (DATABASE_URL, REDIS_URL; defaults on 127.0.0.1)."""
import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")

from .dev import *  # noqa: E402,F401,F403

DEBUG = False
# Fast hashing: the suite creates hundreds of users.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
