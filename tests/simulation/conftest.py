"""Fixtures of the synthetic-world tests: a real gunicorn server on this suite's database, in the
port range 18600-18699 (so parallel test runs of other parts never collide with it)."""
import pytest

from simulation.processes import WebServer, child_environment, free_port

PORTS = (18600, 18699)


@pytest.fixture(scope="session")
def _world_server_process(django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        env = child_environment(DJANGO_SETTINGS_MODULE="config.settings.test", DATABASE_CONN_MAX_AGE="0")
    server = WebServer(port=free_port(*PORTS), env=env, log_path=tmp_path_factory.mktemp("world") / "server.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def world_server(_world_server_process, transactional_db):
    """gunicorn serving the platform against the test database; tests commit what it reads."""
    return _world_server_process
