"""Benchmark: the agreement report for 1,000,000 judgements (1,000 annotators, 300,000 tasks).

Generates the data once into a dedicated database (default `bench_qc`, reused when complete) with
COPY, then times, in the same run and on the same data:
  1. the full report `project_agreement` (SQL + numpy), cold (no cache), and through the API;
  2. Krippendorff's alpha on the same units x values matrix: ours vs the `krippendorff` package.

    .venv/bin/python bench/bench_agreement.py [--database-url postgres://postgres@127.0.0.1:5432/bench_qc]
        [--judgements 1000000 --tasks 300000 --annotators 1000] [--repeat 3] [--rebuild]
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from bench_support import ensure_database

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PROJECT_NAME = "bench-agreement"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_qc")
    parser.add_argument("--judgements", type=int, default=1_000_000)
    parser.add_argument("--tasks", type=int, default=300_000)
    parser.add_argument("--annotators", type=int, default=1_000)
    parser.add_argument("--criteria", type=int, default=0, help="Criteria per judgement (0: none).")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true", help="Regenerate the data even if present.")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def copy_rows(cursor, table: str, columns: list[str], lines: list[str]) -> None:
    """COPY text rows (tab-separated, \\N for NULL) into `table`."""
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for start in range(0, len(lines), 100_000):
            copy.write("".join(lines[start:start + 100_000]))


def step(message: str):
    print(f"  {message} ...", end="", flush=True)
    started = time.perf_counter()

    class Done:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            print(f" {time.perf_counter() - started:.1f} s", flush=True)

    return Done()


def existing_project(args):
    from annotation.models import Judgement, Project

    project = Project.objects.filter(name=PROJECT_NAME).first()
    if project is None or args.rebuild:
        return None
    current = Judgement.objects.filter(project=project, replaced_by__isnull=True).count()
    wanted = (args.judgements, args.tasks, args.annotators, args.criteria)
    if current == args.judgements and project.hyperparameters.get("bench") == list(wanted):
        return project
    return None


def generate(args):
    """Writes users, one project, prompts, responses, tasks, assignments and judgements with COPY."""
    from django.db import connection

    rng = np.random.default_rng(args.seed)
    n_tasks, n_annotators, n_judgements = args.tasks, args.annotators, args.judgements
    criteria = [f"criterion{i}" for i in range(args.criteria)]
    print(f"generating {n_judgements:,} judgements by {n_annotators:,} annotators on {n_tasks:,} tasks")
    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor
        with step("clearing tables"):
            cursor.execute(
                "TRUNCATE annotation_judgement, annotation_assignment, annotation_taskresponse,"
                " annotation_comparisontask, annotation_response, annotation_prompt, annotation_membership,"
                " annotation_project, authtoken_token, auth_user RESTART IDENTITY CASCADE"
            )
        now = "2026-11-01 00:00:00+00"
        with step("users, project, memberships"):
            copy_rows(cursor, "auth_user",
                      ["id", "password", "is_superuser", "username", "first_name", "last_name", "email", "is_staff", "is_active", "date_joined"],
                      [f"{i}\t!\tf\tannotator{i:04d}\t\t\t\tf\tt\t{now}\n" for i in range(1, n_annotators + 1)]
                      + [f"{n_annotators + 1}\t!\tt\tbench-manager\t\t\t\tt\tt\t{now}\n"])
            criteria_json = "[" + ",".join(f'"{c}"' for c in criteria) + "]"
            hyper = '{"bench": [%d, %d, %d, %d]}' % (n_judgements, n_tasks, n_annotators, args.criteria)
            copy_rows(cursor, "annotation_project",
                      ["id", "name", "guidelines", "task_type", "responses_per_task", "overlap", "criteria", "rationale_required",
                       "lease_seconds", "gold_rate", "gold_min_items", "gold_pause_threshold", "consensus_method", "task_order",
                       "retrain_threshold", "algorithm", "hyperparameters", "base_policy_path", "reward_base_model",
                       "rlaif_enabled", "rlaif_weight", "created_at"],
                      [f"1\t{PROJECT_NAME}\t\tpairwise\t2\t3\t{criteria_json}\tf\t900\t0.01\t5\t0\tmajority\trandom\t0\tppo\t{hyper}\t\t\tf\t0.5\t{now}\n"])
            copy_rows(cursor, "annotation_membership",
                      ["id", "role", "is_ai", "paused", "paused_reason", "created_at", "user_id", "project_id"],
                      [f"{i}\tannotator\tf\tf\t\t{now}\t{i}\t1\n" for i in range(1, n_annotators + 1)]
                      + [f"{n_annotators + 1}\tmanager\tf\tf\t\t{now}\t{n_annotators + 1}\t1\n"])
        gold = rng.random(n_tasks) < 0.01
        truth = rng.integers(0, 2, size=n_tasks)  # 0: lower id better
        with step("prompts, responses, tasks"):
            cursor.execute(
                "INSERT INTO annotation_prompt (id, text, split, content_hash, metadata, created_at, project_id)"
                " SELECT i, 'prompt ' || i, 'train', md5(i::text), '{}', %s, 1 FROM generate_series(1, %s) i", [now, n_tasks])
            cursor.execute(
                "INSERT INTO annotation_response (id, text, source, metadata, content_hash, created_at, prompt_id)"
                " SELECT i, 'response ' || i, 'imported', '{}', md5(i::text), %s, (i + 1) / 2 FROM generate_series(1, %s) i",
                [now, 2 * n_tasks])
            task_lines = []
            for t in range(n_tasks):
                lower, higher = 2 * t + 1, 2 * t + 2
                if gold[t]:
                    ranking = f"[[{lower}], [{higher}]]" if truth[t] == 0 else f"[[{higher}], [{lower}]]"
                    task_lines.append(f"{t + 1}\tgold\t0\t{ranking}\t0\tf\t0.5\tt{t + 1}\t{{}}\t{now}\t1\t{t + 1}\n")
                else:
                    task_lines.append(f"{t + 1}\ttraining\t0\t\\N\t0\tf\t0.5\tt{t + 1}\t{{}}\t{now}\t1\t{t + 1}\n")
            copy_rows(cursor, "annotation_comparisontask",
                      ["id", "purpose", "priority", "gold_ranking", "judgement_count", "is_complete", "random_key",
                       "content_hash", "metadata", "created_at", "project_id", "prompt_id"], task_lines)
            cursor.execute(
                "INSERT INTO annotation_taskresponse (id, position, response_id, task_id)"
                " SELECT i, (i - 1) %% 2, i, (i + 1) / 2 FROM generate_series(1, %s) i", [2 * n_tasks])

        with step("simulating annotators"):
            # Overlap 3 or 4 so the total is n_judgements; distinct annotators per task by strided steps.
            per_task = np.full(n_tasks, n_judgements // n_tasks)
            per_task[: n_judgements - per_task.sum()] += 1
            task = np.repeat(np.arange(n_tasks), per_task)
            slot = np.arange(len(task)) - np.repeat(np.cumsum(per_task) - per_task, per_task)
            first = rng.integers(0, n_annotators, size=n_tasks)
            stride = rng.integers(1, n_annotators // int(per_task.max()), size=n_tasks)
            annotator = (first[task] + slot * stride[task]) % n_annotators
            kind = rng.choice(4, size=n_annotators, p=[0.75, 0.15, 0.05, 0.05])  # good, spammer, left-biased, fast
            accuracy = np.where(kind == 1, 0.5, rng.uniform(0.65, 0.95, size=n_annotators))
            lower_left = rng.random(len(task)) < 0.5
            tie = rng.random(len(task)) < 0.04
            correct = rng.random(len(task)) < accuracy[annotator]
            winner_is_lower = np.where(correct, truth[task] == 0, truth[task] == 1)
            left_biased = kind[annotator] == 2
            picks_left = rng.random(len(task)) < 0.8
            winner_is_lower = np.where(left_biased, picks_left == lower_left, winner_is_lower)
            outcome = np.where(tie, 2, np.where(winner_is_lower, 0, 1))
            picked_first = np.where(tie, -1, (winner_is_lower == lower_left).astype(int))
            median_ms = np.where(kind == 3, 1_500, 25_000)[annotator]
            time_ms = (median_ms * rng.lognormal(0, 0.5, size=len(task))).astype(int)
            strength = np.where(rng.random(len(task)) < 0.3, 0, rng.integers(1, 5, size=len(task)))
            created = rng.integers(0, 30 * 86400, size=len(task))
            replaced = rng.random(len(task)) < 0.01
        with step(f"COPY {len(task):,} assignments"):
            lines = []
            for i in range(len(task)):
                lower, higher = 2 * task[i] + 1, 2 * task[i] + 2
                order = f"[{lower}, {higher}]" if lower_left[i] else f"[{higher}, {lower}]"
                lines.append(f"{i + 1}\tsubmitted\t{now}\t{now}\t{now}\t{order}\t\t{annotator[i] + 1}\t{task[i] + 1}\t1\n")
            copy_rows(cursor, "annotation_assignment",
                      ["id", "state", "leased_at", "expires_at", "finished_at", "display_order", "skip_reason", "annotator_id", "task_id", "project_id"],
                      lines)
        with step(f"COPY {len(task) + replaced.sum():,} judgements ({replaced.sum():,} replaced by an undo)"):
            lines = []
            next_id = len(task) + 1
            for i in range(len(task)):
                lower, higher = 2 * task[i] + 1, 2 * task[i] + 2
                if outcome[i] == 2:
                    ranking = f"[[{lower}, {higher}]]"
                elif outcome[i] == 0:
                    ranking = f"[[{lower}], [{higher}]]"
                else:
                    ranking = f"[[{higher}], [{lower}]]"
                crit = "{" + ", ".join(f'"{c}": {ranking}' for c in criteria) + "}"
                pf = "\\N" if picked_first[i] < 0 else ("t" if picked_first[i] else "f")
                st = "\\N" if strength[i] == 0 else str(strength[i])
                replaces = "\\N"
                if replaced[i]:
                    # The original (opposite verdict), replaced by the current row.
                    lines.append(
                        f"{next_id}\t[[{higher}], [{lower}]]\tf\t\\N\t{{}}\t\t[]\t{time_ms[i]}\tb{next_id}\tf\t1\t\\N\t{now}\t"
                        f"{annotator[i] + 1}\t{i + 1}\t\\N\t{task[i] + 1}\t1\n"
                    )
                    replaces = str(next_id)
                    next_id += 1
                seconds = int(created[i])
                day, rest = divmod(seconds, 86400)
                stamp = f"2026-11-{day + 1:02d} {rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}+00"
                lines.append(
                    f"{i + 1}\t{ranking}\tf\t{st}\t{crit}\t\t[]\t{time_ms[i]}\tb{i + 1}\tf\t{outcome[i]}\t{pf}\t{stamp}\t"
                    f"{annotator[i] + 1}\t{i + 1}\t{replaces}\t{task[i] + 1}\t1\n"
                )
            copy_rows(cursor, "annotation_judgement",
                      ["id", "ranking", "both_bad", "strength", "criteria", "rationale", "flags", "time_spent_ms", "client_id", "is_ai",
                       "pair_outcome", "picked_first_shown", "created_at", "annotator_id", "assignment_id", "replaces_id", "task_id", "project_id"],
                      lines)
        with step("sequences and ANALYZE"):
            for table in ("auth_user", "annotation_project", "annotation_membership", "annotation_prompt", "annotation_response",
                          "annotation_comparisontask", "annotation_taskresponse", "annotation_assignment", "annotation_judgement"):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
                cursor.execute(f"ANALYZE {table}")


def backend_cpu_seconds() -> float:
    """CPU time used so far by this connection's PostgreSQL backend (same machine: /proc)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


CPU_SECONDS = []


def timed(function, repeat: int) -> tuple[float, float, object]:
    """(median wall seconds, fastest, result); appends (client CPU, server CPU) medians to CPU_SECONDS.

    CPU seconds are what the work costs on an idle machine: the wall time also holds waiting for
    cores that other processes (model training on this shared machine) are using.
    """
    durations, client, server, result = [], [], [], None
    for _ in range(repeat):
        server_before, client_before = backend_cpu_seconds(), time.process_time()
        started = time.perf_counter()
        result = function()
        durations.append(time.perf_counter() - started)
        client.append(time.process_time() - client_before)
        server.append(backend_cpu_seconds() - server_before)
    CPU_SECONDS.append((statistics.median(client), statistics.median(server)))
    return statistics.median(durations), min(durations), result


def cpu_note() -> str:
    client, server = CPU_SECONDS[-1]
    return f"CPU: Python {client:.2f} s + PostgreSQL {server:.2f} s = {client + server:.2f} s"


def main() -> None:
    args = parse_args()
    ensure_database(args.database_url)
    setup_django(args.database_url)
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from rest_framework.test import APIClient

    import krippendorff
    from annotation.analytics.agreement import value_counts
    from annotation.analytics.alpha import alpha_from_value_counts
    from annotation.analytics.rankings import factorize_units
    from annotation.models import Project
    from annotation.selectors.agreement import project_agreement
    from annotation.selectors.judgement_arrays import project_judgements

    project = existing_project(args)
    if project is None:
        generate(args)
        project = Project.objects.get(name=PROJECT_NAME)
    else:
        print(f"reusing the data in {args.database_url.rsplit('/', 1)[1]}")

    print(f"\ntimings (median of {args.repeat}, then the fastest), {os.cpu_count()} CPU cores:")
    load_median, load_min, loaded = timed(lambda: project_judgements(project=project, with_response_ids=False), args.repeat)
    print(f"  load judgements (SQL -> numpy)       {load_median:6.3f} s  (min {load_min:.3f})  {cpu_note()}; {len(loaded.judgements):,} judgements, {len(loaded.votes):,} votes")
    full_median, full_min, report = timed(lambda: project_agreement(project=project, use_cache=False), args.repeat)
    print(f"  full report, no cache (SQL + numpy)  {full_median:6.3f} s  (min {full_min:.3f})  {cpu_note()}")

    manager = get_user_model().objects.get(username="bench-manager")
    client = APIClient()
    client.force_authenticate(manager)

    def api_cold():
        cache.clear()
        response = client.get(f"/api/projects/{project.pk}/agreement/")
        assert response.status_code == 200, response.content[:300]
        return response

    api_median, api_min, _ = timed(api_cold, args.repeat)
    print(f"  GET /agreement/, cold cache          {api_median:6.3f} s  (min {api_min:.3f})  {cpu_note()}")
    warm_median, warm_min, _ = timed(lambda: client.get(f"/api/projects/{project.pk}/agreement/"), args.repeat)
    print(f"  GET /agreement/, warm cache          {warm_median:6.3f} s  (min {warm_min:.3f})  {cpu_note()}")

    from annotation.selectors.consensus import consensus_pairs

    for method in ("majority", "reliability"):
        median, _, pairs = timed(lambda: consensus_pairs(project=project, method=method), 1)
        print(f"  consensus_pairs ({method:<11})       {median:6.3f} s  {cpu_note()}; {len(pairs):,} pairs")

    votes = loaded.votes
    unit, n_units = factorize_units(votes.task_id, votes.lower_id, votes.higher_id)
    counts = value_counts(unit, votes.outcome, n_units=n_units, n_values=3)
    ours_median, _, ours = timed(lambda: alpha_from_value_counts(counts, level="nominal"), args.repeat)
    package_median, _, package = timed(
        lambda: krippendorff.alpha(value_counts=counts, level_of_measurement="nominal"), args.repeat
    )
    print(f"  alpha on the {n_units:,} x 3 value-count matrix: ours {ours_median * 1000:.1f} ms, "
          f"krippendorff package {package_median * 1000:.1f} ms "
          f"(package / ours = {package_median / ours_median:.1f}x); alpha {ours:.6f} vs {package:.6f}")
    assert abs(ours - package) < 1e-9
    flagged = sum(1 for row in report["annotators"] if row["flagged_reasons"])
    print(f"\nreport: alpha {report['krippendorff_alpha']}, percent agreement {report['percent_agreement']}, "
          f"Fleiss kappa {report['fleiss_kappa']}, {report['n_items']:,} items, {len(report['by_day'])} days, "
          f"{len(report['annotators'])} annotators ({flagged} flagged)")
    api_cpu = sum(CPU_SECONDS[2])
    load = os.getloadavg()[0]
    print(f"goal: cold report under 2 s -> wall {api_median:.2f} s ({'PASS' if api_median < 2.0 else 'FAIL'}), "
          f"CPU {api_cpu:.2f} s ({'PASS' if api_cpu < 2.0 else 'FAIL'}); load average {load:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
