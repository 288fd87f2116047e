"""`make run`'s embedded set-up for real: a SQLite file and the filesystem broker (no server),
gunicorn with 2 workers x 4 threads as scripts/run.sh starts it, the demo project, and simulated
annotators judging at the same time over HTTP. SQLite takes a single writer lock, so this is where
lost, doubled or over-assigned work would show up if the hot path's SQLite statements were wrong."""
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from simulation.processes import WebServer, free_port
from simulation.simulated_annotators import ApiClient, SimulatedCrowd, add_annotator_members, default_profiles

ROOT = Path(__file__).resolve().parents[1]
SERVER_ENVIRONMENT = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "ARTIFACT_ROOT")


def _embedded_environment(var_dir: Path) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in SERVER_ENVIRONMENT}
    env.update(PREFLOOP_VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE="config.settings.dev", DEBUG="0",
               PYTHONUNBUFFERED="1")
    return env


def _manage(env: dict, *args: str) -> None:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"


@pytest.mark.slow
def test_the_embedded_setup_serves_concurrent_annotators_without_losing_or_doubling_work(tmp_path):
    # Given: a fresh var/ with the demo loaded on SQLite, served by gunicorn 2 x 4
    env = _embedded_environment(tmp_path)
    _manage(env, "migrate", "--noinput")
    _manage(env, "demo", "--skip-policy")
    database = tmp_path / "prefloop.sqlite3"
    assert database.exists(), "the dev settings did not put the SQLite file under PREFLOOP_VAR_DIR"
    with sqlite3.connect(database) as db:
        project_id, overlap = db.execute("SELECT id, overlap FROM annotation_project ORDER BY id LIMIT 1").fetchone()
        tasks = db.execute("SELECT COUNT(*) FROM annotation_comparisontask WHERE project_id = ?", [project_id]).fetchone()[0]

    with WebServer(port=free_port(18750, 18799), env=env, log_path=tmp_path / "web.log") as server:
        manager = ApiClient(server.url)
        manager_token = manager.login("manager", "prefloop-manager")
        profiles = default_profiles(8, seed=3)
        add_annotator_members(server.url, project_id=project_id, manager_token=manager_token, profiles=profiles)

        # When: eight annotators judge at once, as fast as they can, until nothing is left for them
        crowd = SimulatedCrowd(profiles, base_url=server.url, project_id=project_id, seed=3)
        stats = crowd.run(timeout=240)
        assert not any(thread.is_alive() for thread in crowd.threads), "annotators still running after 240 s"
        log = server.log_tail()

    # Then: every task got exactly its overlap, nobody judged a task twice, nothing was lost
    assert [error for s in stats for error in s.errors] == []
    assert "database is locked" not in log and "Traceback" not in log, log[-3000:]
    judged = sum(s.judged for s in stats)
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT task_id, annotator_id, assignment_id, client_id FROM annotation_judgement "
                          "WHERE project_id = ? AND replaces_id IS NULL", [project_id]).fetchall()
        submitted = db.execute("SELECT COUNT(*) FROM annotation_assignment WHERE project_id = ? AND state = 'submitted'",
                               [project_id]).fetchone()[0]
        per_task = dict(db.execute("SELECT t.id, t.judgement_count FROM annotation_comparisontask t "
                                   "WHERE t.project_id = ? AND t.purpose <> 'gold'", [project_id]).fetchall())
    assert len(rows) == judged == submitted
    assert len({(task, annotator) for task, annotator, _, _ in rows}) == len(rows), "an annotator judged a task twice"
    assert len({assignment for _, _, assignment, _ in rows}) == len(rows) == len({client for *_, client in rows})
    counted = {}
    for task, *_ in rows:
        counted[task] = counted.get(task, 0) + 1
    assert all(counted.get(task, 0) == count for task, count in per_task.items()), "judgement_count drifted"
    assert max(counted.values()) <= overlap
    # 8 annotators with overlap 2 finish every non-gold task
    assert all(count == overlap for count in per_task.values()), (tasks, sorted(per_task.values())[:10])
