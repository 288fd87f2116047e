"""Benchmark: the annotate loop over HTTP against gunicorn + PostgreSQL, with pgbench as the ceiling.

N concurrent simulated annotators (threads with keep-alive connections) each repeat
`POST /api/projects/{id}/next/` + `POST /api/assignments/{id}/judgement/` as fast as they can (no
think time: the worst case). Reported per N: cycles/s, p50/p95/p99 latency of single requests, and
the same run's `pgbench -N` (simple-update) TPS on the same database, so the ratio is comparable
across machines.

    .venv/bin/python bench/bench_annotate.py [--annotators 1,8,32,64] [--seconds 15]
        [--database-url postgres://postgres@127.0.0.1:5432/bench_annotate] [--port 18100]
        [--workers 4 --threads 16] [--tasks 5000] [--json var/bench/annotate.json]
"""
import argparse
import http.client
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_annotate")
    parser.add_argument("--annotators", default="1,8,32,64", help="Comma-separated concurrency levels.")
    parser.add_argument("--seconds", type=float, default=15.0, help="Measured time per level.")
    parser.add_argument("--warmup", type=float, default=2.0, help="Unmeasured time per level.")
    parser.add_argument("--port", type=int, default=18100)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes.")
    parser.add_argument("--threads", type=int, default=16,
                        help="gunicorn threads per worker (gthread); workers x threads >= annotators avoids queueing.")
    parser.add_argument("--tasks", type=int, default=5000, help="Tasks per level's fresh project.")
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--pgbench-clients", type=int, default=32)
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--json", default=str(ROOT / "var" / "bench" / "annotate.json"))
    return parser.parse_args()


def bench_env(url: str) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(64),
        SECURE_SSL_REDIRECT="0",
        DEBUG="0",
        LOG_LEVEL="WARNING",
        DATABASE_CONN_MAX_AGE="600",
        ALLOWED_HOSTS="127.0.0.1,localhost",
    )
    return env


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def setup_django(env: dict) -> None:
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed_level(n_annotators: int, n_tasks: int, overlap: int) -> tuple[int, list[str]]:
    """A fresh project with `n_tasks` two-response tasks and `n_annotators` members with tokens."""
    import random

    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from annotation.models import ComparisonTask, Membership, Project, Prompt, Response, TaskResponse
    from annotation.services.tasks import prompt_content_hash, response_content_hash, task_content_hash

    stamp = f"{time.time():.0f}-{n_annotators}"
    project = Project.objects.create(name=f"bench-annotate {stamp}", overlap=overlap, lease_seconds=600)
    prompts = Prompt.objects.bulk_create(
        Prompt(project=project, text=f"Bench prompt {i}: explain something {i}.",
               content_hash=prompt_content_hash(text=f"Bench prompt {i}: explain something {i}.", messages=None))
        for i in range(n_tasks)
    )
    responses = Response.objects.bulk_create(
        Response(prompt=p, text=f"Answer {side} to {p.text} " * 8, content_hash=response_content_hash(f"{p.pk}{side}"))
        for p in prompts
        for side in ("A", "B")
    )
    rng = random.Random(0)
    tasks = ComparisonTask.objects.bulk_create(
        ComparisonTask(project=project, prompt=p, random_key=rng.random(),
                       content_hash=task_content_hash(prompt_hash=p.content_hash, response_hashes=[str(i)]))
        for i, p in enumerate(prompts)
    )
    TaskResponse.objects.bulk_create(
        TaskResponse(task=t, response=responses[2 * i + side], position=side)
        for i, t in enumerate(tasks)
        for side in (0, 1)
    )
    User = get_user_model()
    tokens = []
    for i in range(n_annotators):
        user, _ = User.objects.get_or_create(username=f"bench-annotator-{i}")
        Membership.objects.create(project=project, user=user, role=Membership.Role.ANNOTATOR)
        tokens.append(Token.objects.get_or_create(user=user)[0].key)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return project.pk, tokens


def start_gunicorn(env: dict, port: int, workers: int, threads: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [str(Path(PYTHON).parent / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
         "--keep-alive", "30", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/health/")
            if conn.getresponse().status == 200:
                return process
        except OSError:
            pass
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}")
        time.sleep(0.3)
    process.terminate()
    raise SystemExit("gunicorn did not become healthy within 60 s")


class Annotator(threading.Thread):
    """One simulated annotator: next + judgement in a loop over one keep-alive connection."""

    def __init__(self, port: int, project_id: int, token: str, start_at: float, measure_from: float, stop_at: float):
        super().__init__(daemon=True)
        self.port, self.project_id, self.stop_at = port, project_id, stop_at
        self.start_at, self.measure_from = start_at, measure_from
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.latencies: list[float] = []
        self.cycles = 0
        self.errors: list[str] = []

    def _post(self, conn, path: str, body: dict | None) -> tuple[int, bytes, float]:
        began = time.perf_counter()
        conn.request("POST", path, body=json.dumps(body or {}), headers=self.headers)
        response = conn.getresponse()
        payload = response.read()
        return response.status, payload, time.perf_counter() - began

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while time.time() < self.start_at:
            time.sleep(0.001)
        n = 0
        while time.time() < self.stop_at:
            measured = time.time() >= self.measure_from
            status, payload, took_next = self._post(conn, f"/api/projects/{self.project_id}/next/", None)
            if status == 204:
                self.errors.append("ran out of tasks")
                return
            if status != 200:
                self.errors.append(f"next {status}: {payload[:200]!r}")
                return
            work = json.loads(payload)
            ids = [r["id"] for r in work["task"]["responses"]]
            n += 1
            status, payload, took_submit = self._post(
                conn, f"/api/assignments/{work['assignment']['id']}/judgement/",
                {"ranking": [[ids[0]], [ids[1]]], "strength": 2, "client_id": f"{self.name}-{n}-{time.time()}"},
            )
            if status != 201:
                self.errors.append(f"judgement {status}: {payload[:200]!r}")
                return
            if measured and time.time() < self.stop_at:
                self.latencies += [took_next, took_submit]
                self.cycles += 1


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of one process so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return kids


def _backend_pids(database: str) -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [database])
        return [row[0] for row in cursor.fetchall()]


def cpu_snapshot(server_pid: int, database: str) -> dict:
    """CPU seconds so far of gunicorn (master + workers), the PostgreSQL backends, and this client."""
    return {
        "server": {pid: _process_cpu(pid) for pid in [server_pid, *_children(server_pid)]},
        "database": {pid: _process_cpu(pid) for pid in _backend_pids(database)},
        "client": time.process_time(),
    }


def cpu_used(before: dict, after: dict) -> dict:
    def spent(kind):
        return sum(cpu - before[kind].get(pid, 0.0) for pid, cpu in after[kind].items())

    return {"server": spent("server"), "database": spent("database"), "client": after["client"] - before["client"]}


def run_level(port: int, project_id: int, tokens: list[str], seconds: float, warmup: float,
              server_pid: int, database: str) -> dict:
    start_at = time.time() + 0.5
    measure_from = start_at + warmup
    stop_at = measure_from + seconds
    annotators = [Annotator(port, project_id, t, start_at, measure_from, stop_at) for t in tokens]
    for a in annotators:
        a.start()
    time.sleep(max(0.0, measure_from - time.time()))
    before = cpu_snapshot(server_pid, database)
    load = os.getloadavg()[0]
    time.sleep(max(0.0, stop_at - time.time()))
    cpu = cpu_used(before, cpu_snapshot(server_pid, database))
    for a in annotators:
        a.join()
    errors = [e for a in annotators for e in a.errors]
    latencies = sorted(x for a in annotators for x in a.latencies)
    cycles = sum(a.cycles for a in annotators)

    def pct(p):
        return 1000 * latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] if latencies else float("nan")

    return {
        "annotators": len(tokens),
        "cycles": cycles,
        "cycles_per_s": cycles / seconds,
        "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99),
        "mean_ms": 1000 * statistics.fmean(latencies) if latencies else float("nan"),
        # CPU per cycle: what the loop costs regardless of how busy the shared machine is.
        "server_cpu_ms_per_cycle": 1000 * cpu["server"] / max(cycles, 1),
        "database_cpu_ms_per_cycle": 1000 * cpu["database"] / max(cycles, 1),
        "client_cpu_ms_per_cycle": 1000 * cpu["client"] / max(cycles, 1),
        "load_average": load,
        "errors": errors[:5],
    }


def pgbench_tps(url: str, clients: int, seconds: int) -> float:
    """`pgbench -N` (simple-update) TPS on the benchmark database, initialised at scale 10."""
    from urllib.parse import urlparse

    parsed = urlparse(url)
    args = ["-h", parsed.hostname or "127.0.0.1", "-p", str(parsed.port or 5432), "-U", parsed.username or "postgres"]
    env = dict(os.environ, PGPASSWORD=parsed.password or "")
    db = parsed.path.lstrip("/")
    subprocess.run(["pgbench", *args, "-i", "-s", "10", "-q", db], check=True, env=env, capture_output=True)
    out = subprocess.run(
        ["pgbench", *args, "-N", "-n", "-c", str(clients), "-j", "2", "-T", str(seconds), db],
        check=True, env=env, capture_output=True, text=True,
    ).stdout
    match = re.search(r"tps = ([0-9.]+)", out)
    if not match:
        raise SystemExit(f"could not read pgbench's TPS from:\n{out}")
    return float(match.group(1))


def main():
    args = parse_args()
    levels = [int(n) for n in args.annotators.split(",")]
    env = bench_env(args.database_url)
    ensure_database(args.database_url)
    setup_django(env)
    print(f"seeding {len(levels)} projects of {args.tasks} tasks ...", flush=True)
    seeded = {n: seed_level(n, args.tasks, args.overlap) for n in levels}
    server = start_gunicorn(env, args.port, args.workers, args.threads)
    results = []
    try:
        for n in levels:
            project_id, tokens = seeded[n]
            result = run_level(args.port, project_id, tokens, args.seconds, args.warmup, server.pid,
                               args.database_url.rsplit("/", 1)[1])
            results.append(result)
            print(f"N={n:3d}  {result['cycles_per_s']:8.1f} cycles/s  p50 {result['p50_ms']:6.1f} ms  "
                  f"p95 {result['p95_ms']:6.1f} ms  p99 {result['p99_ms']:6.1f} ms  CPU/cycle server "
                  f"{result['server_cpu_ms_per_cycle']:.1f} ms + db {result['database_cpu_ms_per_cycle']:.1f} ms "
                  f"(client {result['client_cpu_ms_per_cycle']:.1f} ms)  load {result['load_average']:.1f}  "
                  f"errors {result['errors']}", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    tps = pgbench_tps(args.database_url, args.pgbench_clients, args.pgbench_seconds)
    print(f"pgbench -N -c {args.pgbench_clients}: {tps:.0f} TPS")
    print()
    print("| annotators | cycles/s | p50 ms | p95 ms | p99 ms | cycles/s ÷ pgbench TPS "
          "| CPU ms/cycle (gunicorn + PostgreSQL) | load avg |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['annotators']} | {r['cycles_per_s']:.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | "
              f"{r['p99_ms']:.1f} | {r['cycles_per_s'] / tps:.3f} | {r['server_cpu_ms_per_cycle']:.1f} + "
              f"{r['database_cpu_ms_per_cycle']:.1f} | {r['load_average']:.1f} |")
    print(f"\npgbench -N ({args.pgbench_clients} clients, {args.pgbench_seconds} s): {tps:.0f} TPS; "
          f"gunicorn {args.workers} workers x {args.threads} threads; {os.cpu_count()} CPUs; "
          f"load average before: {os.getloadavg()[0]:.1f}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"levels": results, "pgbench_tps": tps, "args": vars(args)}, indent=2))
    if any(r["errors"] for r in results):
        raise SystemExit("some annotators failed; see the errors above")


if __name__ == "__main__":
    main()
