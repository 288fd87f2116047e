"""The ASGI front's calls of the annotate loop's functions, sent to PostgreSQL in groups.

A uvicorn worker has a few connections and, under load, many requests waiting for one. Each call
sent alone costs a round trip and a commit, on both sides of the socket. Here a connection that
comes free takes every call of one function that is waiting, up to `MAX_GROUP`, and sends them as
one statement (`sql_functions.MANY_SQL`): one round trip and one transaction, whose commit flushes
the write-ahead log once for all of them. A call that finds a connection free goes alone, at once,
as before; grouping only happens when calls wait anyway. Calls wait in the order they came, and a
free connection serves the oldest first (with the calls of its function that came after it): no
newcomer overtakes a waiting call, which asyncpg's pool alone allowed (p99 56-83 ms against 37-57,
bench/README.md).

Why the answers stay the same: each call runs its function as it would alone, and a VOLATILE
function's every statement takes a fresh snapshot that also sees the group's earlier calls. An
annotator's second `next` in a group gets the lease of their first, as it would after it; a retried
submit in the same group finds the first one's judgement (200). Nothing is answered before the
group's commit. If PostgreSQL refuses the group's statement (a retry raced one in another group,
say), nothing of it was written, and each of its calls is sent again alone, answered as before.
"""
import asyncio
import json
import logging
from collections import deque

import asyncpg
from psycopg.types.json import Jsonb

from annotation.hot_path import sql_functions

logger = logging.getLogger(__name__)

# The most calls in one group. More would hold the group's row locks, and its first callers,
# longer; two workers with two connections each see up to ~16 calls waiting at 32 annotators.
MAX_GROUP = 16
# How long a call waits in line for a connection before Django's way answers it instead.
WAIT_BOUND = 30.0

_DEAD_CONNECTION = (asyncpg.InterfaceError, OSError, asyncio.TimeoutError)


def _numbered(statement: str) -> str:
    """A `%s`-style statement (psycopg's, which Django's connection also runs) with `$1, $2…`."""
    parts = statement.split("%s")
    return parts[0] + "".join(f"${number}{part}" for number, part in enumerate(parts[1:], start=1))


def _asyncpg_value(value):
    # asyncpg sends a jsonb parameter as its text; the shared parameters wrap it for psycopg.
    return json.dumps(value.obj) if isinstance(value, Jsonb) else value


_ALONE = {statement: _numbered(statement) for statement in sql_functions.MANY_SQL}
_MANY = {statement: _numbered(many) for statement, many in sql_functions.MANY_SQL.items()}


class _Call:
    __slots__ = ("statement", "params", "answer", "since")

    def __init__(self, statement: str, params: list, loop):
        self.statement = statement
        self.params = [_asyncpg_value(value) for value in params]
        self.answer = loop.create_future()
        self.since = loop.time()

    def settle(self, row) -> None:
        if not self.answer.done():
            self.answer.set_result(row)


class GroupedCalls:
    """Calls of `sql_functions.NEXT_SQL` and `SUBMIT_SQL`, sent alone or in groups (see the module)."""

    def __init__(self, open_pool, *, connections: int):
        self._open_pool = open_pool
        self._connections = connections
        self._waiting: deque[_Call] = deque()  # in the order they came
        self._senders = 0
        self._running = set()  # the senders' tasks: the event loop keeps only weak references
        self._watchdog = None

    async def call(self, statement: str, params: list):
        """The function's row, or None when Django's way should answer: a concurrent retry won the
        client_id's race (the services then find that judgement), the call waited `WAIT_BOUND` for a
        connection, or the database refused or could not be reached (the failed call wrote nothing;
        Django's way answers, or reports the error)."""
        loop = asyncio.get_running_loop()
        call = _Call(statement, params, loop)
        self._waiting.append(call)
        if self._senders < self._connections:
            self._senders += 1
            task = loop.create_task(self._send_while_waiting())
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        elif self._watchdog is None:
            # One timer for all the calls that wait, not one each: a timer per call cost ~2% of a worker.
            self._watchdog = loop.call_later(min(1.0, WAIT_BOUND), self._give_up_on_overdue)
        return await call.answer

    def _give_up_on_overdue(self) -> None:
        """Calls that waited `WAIT_BOUND` for a connection go to Django's way instead."""
        loop = asyncio.get_running_loop()
        while self._waiting and self._waiting[0].since <= loop.time() - WAIT_BOUND:
            logger.warning("annotate loop front: no connection within %.0f s; Django's way answers", WAIT_BOUND)
            self._waiting.popleft().settle(None)
        self._watchdog = loop.call_later(min(1.0, WAIT_BOUND), self._give_up_on_overdue) if self._waiting else None

    async def _send_while_waiting(self) -> None:
        """One sender: a connection of its own, and groups sent on it until no call waits."""
        group: list[_Call] = []
        left = False
        try:
            pool = await self._open_pool()
            async with pool.acquire() as connection:  # one is free: senders are as many as connections
                while self._waiting:
                    group = self._take_group()
                    await self._send(connection, group)
                # Leave before handing the connection back, which awaits: a call that comes meanwhile
                # must start a sender of its own, not wait behind one that is leaving.
                self._senders -= 1
                left = True
        except (*_DEAD_CONNECTION, asyncpg.PostgresError) as error:
            # No pool, or a connection that broke: every call still waiting goes to Django's way.
            logger.warning("annotate loop front: %s; Django's way answers", error)
            group.extend(self._waiting)
            self._waiting.clear()
        except Exception:
            logger.exception("annotate loop front: a sender failed; Django's way answers")
            group.extend(self._waiting)
            self._waiting.clear()
        finally:
            for call in group:
                call.settle(None)
            if not left:
                self._senders -= 1

    def _take_group(self) -> list[_Call]:
        """The oldest waiting call and those of the same function after it, in order."""
        statement = self._waiting[0].statement
        group = [call for call in self._waiting if call.statement == statement][:MAX_GROUP]
        if len(group) == len(self._waiting):
            self._waiting.clear()
        else:
            taken = set(map(id, group))
            self._waiting = deque(call for call in self._waiting if id(call) not in taken)
        return group

    async def _send(self, connection, group: list[_Call]) -> None:
        if len(group) > 1:
            try:
                rows = await connection.fetch(_MANY[group[0].statement], *sql_functions.many_params(
                    group[0].statement, [call.params for call in group]))
            except asyncpg.PostgresError as error:
                # The whole group wrote nothing. Its calls go again alone; each is answered as before.
                logger.warning("annotate loop front: a group of %d calls refused (%s); each goes alone",
                               len(group), type(error).__name__)
            else:
                for row in rows:
                    group[row["place"] - 1].settle(tuple(row.values())[1:])
                for call in group:
                    call.settle(None)  # a call whose function returned no row: Django's way
                return
        for call in group:
            call.settle(await self._send_alone(connection, call))

    async def _send_alone(self, connection, call: _Call):
        try:
            return await connection.fetchrow(_ALONE[call.statement], *call.params)
        except asyncpg.UniqueViolationError:
            return None
        except asyncpg.PostgresError as error:
            logger.warning("annotate loop front: %s; Django's way answers this request", error)
            return None
