"""Suite-wide fixtures. The suite runs against real PostgreSQL and Redis and never skips for
want of them: a missing service stops the run with a one-line instruction."""
import os

import pytest

pytest_plugins = ["tests.leftover_threads"]


def pytest_sessionstart(session):
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        pytest.exit(
            f"The suite needs PostgreSQL (DATABASE_URL), not {engine}: run it with `make test`.",
            returncode=2,
        )
    import redis

    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        pytest.exit(f"Redis at {redis_url} does not answer ({error}): start it or set REDIS_URL.", 2)


@pytest.fixture
def artifact_root(tmp_path, settings):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    settings.ARTIFACT_ROOT.mkdir()
    return settings.ARTIFACT_ROOT


@pytest.fixture
def dropped_connections_closed():
    """For tests that open many database connections at once: earlier tests' finished threads
    leave their Django connections to the cyclic garbage collector (60+ were still open on a fast
    run), and PostgreSQL allows 100. Collect them first."""
    import gc

    gc.collect()
