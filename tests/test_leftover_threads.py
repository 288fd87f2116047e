"""A run whose failed test leaves a thread blocked still ends, with the failure's status."""
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]

STUCK = textwrap.dedent("""
    import threading

    def test_leaves_a_blocked_thread():
        never = threading.Event()
        threading.Thread(target=never.wait, name="waits-forever", daemon=False).start()
        assert False, "fails with a thread still waiting"
""")


def test_a_run_with_a_blocked_thread_exits_with_its_failure(tmp_path):
    (tmp_path / "test_stuck.py").write_text(STUCK)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # not the suite's settings (Django, timeouts)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:django",
         "-p", "tests.leftover_threads", "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path),
         str(tmp_path / "test_stuck.py")],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed" in result.stdout
    assert "waits-forever" in result.stderr
    assert time.monotonic() - started < 60
