"""The annotate loop's hot path: `next` and a judgement's submit, the two requests annotators send most.

The rules (who gets which task, what a judgement must be) are the services'
(`annotation/services/assignments.py`, `judgements.py`); this package serves them fast, in one
place:

- `request_input`: what a hot request carries, checked once: the token, the JSON body, a
  judgement's fields (the limits are `JudgementInputSerializer`'s), ids a bigint can hold.
- `payloads`: the one builder of each answer (a lease, a judgement) and its status.
- `sql_functions` and `sql/annotate_loop.sql`: the PostgreSQL functions `prefloop_next` and
  `prefloop_submit` (one round trip each), their parameters and their rows decoded into answers.
  They serve the common case and defer the rest, before writing, to the services.
- `drf`: `HotPathMixin`, the DRF views' direct way (the SQL function first when enabled, then the
  services), for WSGI and for what the ASGI front hands to Django.
- `front` and `grouped_calls`: the ASGI front (`config.asgi`), which answers the two requests by
  one SQL function call on its own asyncpg pool, calls that wait for a connection sent together.

`HOT_PATH_SQL_FUNCTIONS` picks the way on PostgreSQL (on in production); SQLite, the embedded
default of `make run`, always takes the services' way. The annotate tests run against both ways
(`tests/annotation/conftest.py`), so the suite holds them equal.
"""
