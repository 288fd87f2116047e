"""Fails fast, in one line, when the PostgreSQL or Redis the tests need does not answer."""
import os
import sys

import psycopg
import redis

database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")

problems = []
try:
    psycopg.connect(database_url, connect_timeout=5).close()
except Exception as error:  # any failure to connect is reported, with its cause
    problems.append(
        f"PostgreSQL at {database_url} does not answer ({type(error).__name__}): start it "
        "(e.g. `pg_ctlcluster 15 main start`) or set DATABASE_URL."
    )
try:
    redis.Redis.from_url(redis_url, socket_connect_timeout=5).ping()
except Exception as error:
    problems.append(
        f"Redis at {redis_url} does not answer ({type(error).__name__}): start it "
        "(e.g. `redis-server --daemonize yes`) or set REDIS_URL."
    )
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(2)
