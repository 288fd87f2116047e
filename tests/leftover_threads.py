"""A pytest plugin: the run ends with its own status even when a test left a thread blocked.

A failed test can leave a non-daemon thread waiting on a lock or on the database. The interpreter
waits for every non-daemon thread before it exits, so pytest would print its summary and then
hang, and CI would time out instead of failing. After a failed run, such threads get a short
grace period; those still running are named and the process exits with the run's status. A run
that passed exits as usual (an idle ThreadPoolExecutor worker, say, ends at interpreter exit).
"""
import os
import sys
import threading
import time

import pytest

GRACE_SECONDS = 15
EXIT_STATUS = pytest.StashKey[int]()


def pytest_sessionfinish(session, exitstatus):
    session.config.stash[EXIT_STATUS] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    status = config.stash.get(EXIT_STATUS, pytest.ExitCode.INTERNAL_ERROR)
    if status == pytest.ExitCode.OK:
        return
    leftover = [thread for thread in threading.enumerate()
                if thread is not threading.main_thread() and not thread.daemon]
    deadline = time.monotonic() + GRACE_SECONDS
    for thread in leftover:
        thread.join(max(0.0, deadline - time.monotonic()))
    still_running = [thread.name for thread in leftover if thread.is_alive()]
    if still_running:
        sys.stdout.flush()
        print(f"\n{len(still_running)} thread(s) still running after the tests, not waited for: "
              f"{', '.join(still_running)}", file=sys.stderr, flush=True)
        os._exit(status)
