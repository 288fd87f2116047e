"""The fault tests start the web server as a process of its own on pytest-django's test database."""
import time

import pytest
from django.db import connection


@pytest.fixture(autouse=True)
def _servers_gone_from_the_database():
    """After each test: wait (bounded) until the processes it started have left the test database,
    so flushing it (and dropping it at the end of the session) finds no other sessions."""
    yield
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND pid <> pg_backend_pid()")
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.2)
