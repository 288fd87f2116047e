import pytest
from django.db import connection


@pytest.mark.django_db
def test_the_suite_runs_on_postgres():
    assert connection.vendor == "postgresql"
