"""`GroupedCalls`' bookkeeping on a stand-in pool: what must hold whatever the database answers.
(The answers themselves, grouped or alone, are tested against PostgreSQL in test_asgi_front.py.)"""
import asyncio

from annotation.hot_path.grouped_calls import GroupedCalls
from annotation.hot_path import sql_functions


class SlowToReleasePool:
    """Hands out connections that answer at once, and takes each back only when `released` is set."""

    def __init__(self):
        self.released = asyncio.Event()
        self.acquired = 0

    def acquire(self):
        pool = self

        class Lease:
            async def __aenter__(self):
                pool.acquired += 1
                return Connection()

            async def __aexit__(self, *exc):
                await pool.released.wait()

        return Lease()


class Connection:
    async def fetchrow(self, statement, *params):
        return ("row", params[1])

    async def fetch(self, statement, *columns):
        raise AssertionError("no call here waits for another")


def test_a_call_that_comes_while_the_last_sender_leaves_starts_its_own():
    """The sender leaves (the count drops) before it awaits the connection's return: a call that
    comes during that await must not wait for a sender that will never send again."""
    async def scenario():
        pool = SlowToReleasePool()

        async def open_pool():
            return pool

        calls = GroupedCalls(open_pool, connections=1)
        first = await calls.call(sql_functions.NEXT_SQL, ["token-1", 1, 0.5])
        await asyncio.sleep(0)  # the first sender is now handing its connection back, slowly
        second = await asyncio.wait_for(calls.call(sql_functions.NEXT_SQL, ["token-2", 2, 0.5]), timeout=2)
        pool.released.set()
        return first, second, pool.acquired

    assert asyncio.run(scenario()) == (("row", 1), ("row", 2), 2)
