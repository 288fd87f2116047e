"""The ASGI entry's front: the annotate loop's two hot requests answered without Django's request cycle.

`POST /api/projects/{id}/next/` and `POST /api/assignments/{id}/judgement/` with a `Token` header,
an Accept that only JSON satisfies and (for a judgement) a plain JSON body are answered by one call
of their PostgreSQL function (`annotation.hot_path.sql_functions`) on an asyncpg pool: the
same rules, the same JSON, the same headers as the DRF views give (a test compares them). Calls
that wait for one of the pool's connections go together, in one statement and one transaction
(`annotation.hot_path.grouped_calls`). Every other request, and every one the function defers (a
bad token, a paused annotator, a lapsed lease, a body the serializer would refuse...), goes to
Django's ASGI application unchanged, with its body replayed; one the function deferred carries
`DEFERRED_BY_FRONT` in its scope, so that the view does not ask the function again.

Why: under gunicorn's `gthread` workers a cycle cost ~3 ms of CPU in the web tier, most of it HTTP
handling and Django's request cycle around ~0.2 ms of our own work; here, under uvicorn workers,
it is a fraction of that (bench/README.md, "annotate loop"). The pool is asyncpg's rather than
psycopg's (which Django uses) because its protocol is compiled: the same call cost the workers
~0.2 ms less CPU per cycle, a quarter of the web tier's share (bench/README.md). Grouping the
waiting calls saves both sides a round trip and a commit per call.
"""
import asyncio
import re

import asyncpg
from asgiref.sync import sync_to_async
from django.conf import settings

from annotation.api.annotate import JudgementView, NextView
from annotation.api.authentication import token_fresh, token_known_fresh
from annotation.hot_path import sql_functions
from annotation.hot_path.drf import DEFERRED_BY_FRONT
from annotation.hot_path.grouped_calls import GroupedCalls
from annotation.hot_path.payloads import rendered_json
from annotation.hot_path.request_input import NotOnTheHotPath, plain_judgement_request, token_key


_NEXT = re.compile(r"/api/projects/(\d+)/next/")
_JUDGEMENT = re.compile(r"/api/assignments/(\d+)/judgement/")
_JSON_ONLY_ACCEPT = {b"*/*", b"application/json"}
_ALLOW = {view: ", ".join(view().allowed_methods).encode() for view in (NextView, JudgementView)}


def _security_headers() -> list[tuple[bytes, bytes]]:
    """The headers Django's middleware adds to every answer of these views (settings decide)."""
    headers = []
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append((b"x-content-type-options", b"nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        headers.append((b"referrer-policy", settings.SECURE_REFERRER_POLICY.encode()))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append((b"cross-origin-opener-policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY.encode()))
    headers.append((b"x-frame-options", getattr(settings, "X_FRAME_OPTIONS", "DENY").upper().encode()))
    return headers


def _connect_kwargs() -> dict:
    """asyncpg's connection arguments for Django's default database (the same server and role)."""
    database = settings.DATABASES["default"]
    options = database.get("OPTIONS", {})
    kwargs = {
        "host": database.get("HOST") or None, "port": int(database["PORT"]) if database.get("PORT") else None,
        "user": database.get("USER") or None, "password": database.get("PASSWORD") or None,
        "database": database["NAME"], "server_settings": {"TimeZone": "UTC"},
        # asyncpg prepares each statement once per connection (PostgreSQL then skips planning it);
        # 0 keeps no named statements, for transaction-mode poolers (see the setting).
        "statement_cache_size": 100 if settings.HOT_PATH_PREPARED_STATEMENTS else 0,
    }
    if options.get("sslmode"):
        kwargs["ssl"] = options["sslmode"]  # asyncpg takes libpq's sslmode names
    return kwargs


async def _keep_as_is(connection) -> None:
    """The pool's reset on release: nothing. Its default runs a statement (RESET ALL, UNLISTEN…)
    per request, and these connections only ever run the two functions in autocommit."""


class AnnotateLoopFront:
    """ASGI middleware around Django's ASGI application (see the module's docstring)."""

    def __init__(self, app, *, pool_size: int | None = None):
        self.app = app
        self.pool_size = pool_size or settings.HOT_PATH_POOL_SIZE
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()
        self._calls = GroupedCalls(self._open_pool, connections=self.pool_size)
        # Read once: settings and Django's connection proxy cost a few µs per lookup in async code.
        self._enabled = sql_functions.sql_functions_enabled()
        self._headers = _security_headers()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] == "http" and scope["method"] == "POST" and self._enabled:
            served, scope, receive = await self._serve(scope, receive, send)
            if served:
                return
        await self.app(scope, receive, send)

    async def _lifespan(self, receive, send):
        # Django's ASGI handler has no lifespan; the pool opens on first use and closes here.
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._pool is not None:
                    await self._pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _serve(self, scope, receive, send):
        """(True, ...) when answered here; else (False, the scope and a receive that replays what
        was read) for Django, the scope marked `DEFERRED_BY_FRONT` once the function was called and
        gave no answer (it deferred, or the call failed: the services answer either way)."""
        path = scope["path"]
        route = _NEXT.fullmatch(path) or _JUDGEMENT.fullmatch(path)
        if route is None:
            return False, scope, receive
        headers = dict(scope["headers"])
        key = token_key(headers.get(b"authorization", b"").decode("latin-1"))
        if key is None or headers.get(b"accept", b"*/*") not in _JSON_ONLY_ACCEPT:
            return False, scope, receive
        if not token_known_fresh(key) and not await sync_to_async(token_fresh)(key):
            return False, scope, receive  # unknown or expired: Django's way answers 401
        body = await _read_body(receive)
        if body is None:
            return True, scope, receive  # the client went away: nobody to answer
        replay = _replayer(body, receive)
        if route.re is _NEXT:
            view = NextView
            statement = sql_functions.NEXT_SQL
            project_id = int(route[1])
            params = sql_functions.next_params(token=key, project_id=project_id)
        else:
            view = JudgementView
            statement = sql_functions.SUBMIT_SQL
            try:
                fields = plain_judgement_request(headers.get(b"content-type", b"").decode("latin-1"), body)
            except NotOnTheHotPath:
                return False, scope, replay
            params = sql_functions.submit_params(token=key, assignment_id=int(route[1]), fields=fields)
        if params is None:
            return False, scope, replay
        answer = await self._call(statement, params)
        if answer is not None:
            answer = (sql_functions.next_answer(answer, project_id=project_id) if view is NextView
                      else sql_functions.submit_answer(answer))
        if answer is None:
            return False, {**scope, DEFERRED_BY_FRONT: True}, replay
        await self._send(send, view, *answer)
        return True, scope, replay

    async def _call(self, statement: str, params: list):
        """The function's row, or None when Django's way should answer (`GroupedCalls.call`)."""
        return await self._calls.call(statement, params)

    async def _open_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        min_size=1, max_size=self.pool_size, reset=_keep_as_is, **_connect_kwargs())
        return self._pool

    async def _send(self, send, view, data, status: int):
        body = rendered_json(data)
        headers = [(b"vary", b"Accept"), (b"allow", _ALLOW[view]), *self._headers]
        if body:
            headers.insert(0, (b"content-type", b"application/json"))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _read_body(receive) -> bytes | None:
    """The request's body, or None when the client went away."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replayer(body: bytes, receive):
    """A receive that first hands Django the body already read."""
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


