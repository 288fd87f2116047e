"""Model instances from plain-SQL rows, for the few hot paths that skip the ORM's query compiler.

Building an ORM query costs far more CPU than PostgreSQL spends running a keyed lookup, so the
annotate loop selects whole rows with hand-written joins and turns them back into ordinary model
instances here (the same as the ORM would hand back, JSON columns decoded).
"""
import contextlib
import functools

from django.conf import settings
from django.db import connection


def select_columns(alias: str, model) -> str:
    """`alias.col1, alias.col2, ...` for every concrete column of `model`, in field order."""
    return _select_columns(alias, model, connection.vendor)


@functools.cache
def _select_columns(alias: str, model, vendor: str) -> str:
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields)


def column_count(model) -> int:
    return len(model._meta.concrete_fields)


@functools.cache
def _converters(model, vendor: str) -> list[tuple[int, list, object]]:
    """Per column, the value converters the ORM's compiler would apply (backend's, then field's).

    Cached per vendor, not per connection: PostgreSQL's backend has none, and SQLite's are pure
    functions of the value (each thread's connection would build the same ones)."""
    found = []
    for index, field in enumerate(model._meta.concrete_fields):
        column = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        if converters:
            found.append((index, converters, column))
    return found


def model_from_row(model, values):
    """A saved instance of `model` from the values of `select_columns(..., model)` (JSON decoded,
    and on SQLite dates and booleans converted, exactly as the ORM does)."""
    values = list(values)
    for index, converters, column in _converters(model, connection.vendor):
        value = values[index]
        for converter in converters:
            value = converter(value, column, connection)
        values[index] = value
    return model.from_db(connection.alias, [field.attname for field in model._meta.concrete_fields], values)


@contextlib.contextmanager
def prepared_cursor():
    """A cursor for the annotate loop's fixed statements: on PostgreSQL each is prepared once per
    connection (server-side parameters, a named prepared statement), so later executions skip
    parsing and planning, which cost PostgreSQL more CPU than running them (0.5 ms of planning
    against 0.13 ms of execution for the queue's pick, EXPLAIN ANALYZE). Queries are logged like
    any other (CaptureQueriesContext sees them). Elsewhere: an ordinary cursor.

    Django itself leaves psycopg's automatic preparing off (it breaks transaction-mode
    poolers such as PgBouncer < 1.21): deployments behind one set `HOT_PATH_PREPARED_STATEMENTS=0`.
    """
    if connection.vendor != "postgresql" or _PreparingCursor is None or not settings.HOT_PATH_PREPARED_STATEMENTS:
        with connection.cursor() as cursor:
            yield cursor
        return
    connection.ensure_connection()
    connection.validate_thread_sharing()
    if connection.connection.prepare_threshold is None:
        # Django turns psycopg's preparing off (None); a threshold never reached turns it back on
        # for the statements `_PreparingCursor` asks for, and for no others.
        connection.connection.prepare_threshold = 2**31
    raw = _PreparingCursor(connection.connection)
    cursor = connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)
    with cursor:
        yield cursor


try:
    import psycopg
    from django.db.backends.postgresql.base import ServerBindingCursor

    class _PreparingCursor(ServerBindingCursor):
        """psycopg's server-binding cursor that prepares every statement it runs."""

        def execute(self, query, params=None, *, prepare=None, binary=None):
            super().execute(query, params, prepare=True, binary=binary)
            if self._query is None:
                # psycopg keeps no text for a statement it runs by name; Django's query log
                # (DEBUG, CaptureQueriesContext) reads it from here.
                self._query = _QueryText(self.connection, query, params)
            return self

    class _QueryText:
        """The statement with its parameters merged, built only when someone reads it."""

        def __init__(self, conn, sql, params):
            self._conn, self._sql, self._params = conn, sql, params

        @property
        def query(self) -> bytes:
            return psycopg.ClientCursor(self._conn).mogrify(self._sql, self._params).encode()

except ImportError:  # psycopg 2 or no PostgreSQL driver: `prepared_cursor` falls back above
    _PreparingCursor = None
