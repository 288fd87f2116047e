"""Benchmark: the annotate loop over HTTP against gunicorn + PostgreSQL, with pgbench as the ceiling.

N concurrent simulated annotators, each on its own keep-alive connection, repeat
`POST /api/projects/{id}/next/` + `POST /api/assignments/{id}/judgement/` as fast as they can (no
think time: the worst case). Reported per N: cycles/s, p50/p95/p99 latency of single requests, and
the ratio to `pgbench -N` (simple-update) TPS on the same database in the same run, so that it is
comparable across machines. Each level is bracketed by two pgbench runs, right before and right
after it, and its ceiling is their mean: this machine's speed drifts by a third within minutes, and
a ceiling measured minutes away from a level was a noisy divisor (bench/README.md, "Waiting calls go to PostgreSQL in groups").
Optionally (`--paced N:THINK_MS`) N annotators who pause THINK_MS on average (exponential) before
each next task: latency under a load below saturation, reported apart (driven by Python threads:
wrk's delay() adds stalls of its own).

The load generator is `wrk` (Debian package `wrk`) with bench/annotate_loop.lua: one wrk thread
per annotator, in C, so it takes little of the CPU it measures (its CPU is reported too).
`--client threads` uses Python threads instead (no wrk needed; costs more CPU).

    .venv/bin/python bench/bench_annotate.py [--annotators 1,8,32,64] [--seconds 15]
        [--database-url postgres://postgres@127.0.0.1:5432/bench_annotate] [--port 18100]
        [--workers 1] [--worker-class uvicorn_worker.UvicornWorker | gthread --threads 4]
        [--tasks 20000] [--paced 32:1000] [--json var/bench/annotate.json]

`HOT_PATH_SQL_FUNCTIONS=0` in the environment measures the Python services' way instead of the
SQL functions; a database URL with a percent-encoded host (`%2Fvar%2Frun%2Fpostgresql`) connects
both the server and pgbench through PostgreSQL's Unix socket.
"""
import argparse
import http.client
import json
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench_support import ensure_database

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable


# Workers for this 2-core machine, where PostgreSQL shares the cores and needs more CPU per cycle
# than the web tier. One uvicorn worker's event loop serves N=32 on about half a core, and all
# waiting calls go to PostgreSQL in its groups; a second worker split the groups and cost both
# sides more CPU per cycle (bench/README.md, "One uvicorn worker on two cores"). Threaded workers block on the database,
# so they need more processes: 2 x 4 threads measured best (2 x 2 to 4 x 16 tried).
DEFAULT_WORKERS = {"uvicorn": 1, "threaded": 2}


def serves_asgi(worker_class: str) -> bool:
    """uvicorn's workers serve config.asgi (the deployed entry); gthread and sync serve config.wsgi."""
    return "Uvicorn" in worker_class


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_annotate")
    parser.add_argument("--annotators", default="1,8,32,64", help="Comma-separated concurrency levels.")
    parser.add_argument("--seconds", type=float, default=15.0, help="Measured time per level.")
    parser.add_argument("--warmup", type=float, default=2.0, help="Unmeasured time per level.")
    parser.add_argument("--port", type=int, default=18100)
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn worker processes (default: 1 uvicorn worker, or 2 gthread/sync workers; "
                             "see DEFAULT_WORKERS).")
    parser.add_argument("--threads", type=int, default=4,
                        help="gunicorn threads per worker (gthread).")
    parser.add_argument("--worker-class", default="uvicorn_worker.UvicornWorker",
                        help="gunicorn worker class: uvicorn_worker.UvicornWorker serves config.asgi (the deployed "
                             "entry, with the annotate loop's front); gthread or sync serve config.wsgi (make run's).")
    parser.add_argument("--client", choices=["wrk", "threads"], default="wrk",
                        help="Load generator: wrk + bench/annotate_loop.lua, or Python threads.")
    parser.add_argument("--paced", default="",
                        help="N:THINK_MS -- also measure N annotators pausing THINK_MS on average before each task.")
    parser.add_argument("--tasks", type=int, default=20000,
                        help="Tasks per level's fresh project (x overlap cycles; at ~700 cycles/s 5,000 ran out, "
                             "and at ~1,700 cycles/s 10,000 came within 3%% of running out).")
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--pgbench-clients", type=int, default=32)
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--json", default=str(ROOT / "var" / "bench" / "annotate.json"))
    args = parser.parse_args()
    if args.workers is None:
        args.workers = DEFAULT_WORKERS["uvicorn" if serves_asgi(args.worker_class) else "threaded"]
    return args


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


def start_gunicorn(env: dict, port: int, workers: int, threads: int, worker_class: str = "gthread") -> subprocess.Popen:
    entry = "config.asgi" if serves_asgi(worker_class) else "config.wsgi"
    process = subprocess.Popen(
        [str(Path(PYTHON).parent / "gunicorn"), entry, "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--worker-class", worker_class, "--threads", str(threads),
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

    def __init__(self, port: int, project_id: int, token: str, start_at: float, measure_from: float, stop_at: float,
                 think_ms: float = 0.0):
        super().__init__(daemon=True)
        self.port, self.project_id, self.stop_at, self.think_ms = port, project_id, stop_at, think_ms
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
            if self.think_ms:
                time.sleep(random.expovariate(1000.0 / self.think_ms))  # pause before the next task
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


def _machine_busy() -> float:
    """CPU seconds every process on the machine has used so far (all cores, from /proc/stat)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def cpu_snapshot(server_pid: int, database: str) -> dict:
    """CPU seconds so far of gunicorn (master + workers), the PostgreSQL backends, this client,
    and the whole machine (so that what other jobs took during the run can be reported)."""
    return {
        "server": {pid: _process_cpu(pid) for pid in [server_pid, *_children(server_pid)]},
        "database": {pid: _process_cpu(pid) for pid in _backend_pids(database)},
        "client": time.process_time(),
        "machine": _machine_busy(),
        "wall": time.time(),
    }


def cpu_used(before: dict, after: dict) -> dict:
    def spent(kind):
        return sum(cpu - before[kind].get(pid, 0.0) for pid, cpu in after[kind].items())

    return {"server": spent("server"), "database": spent("database"), "client": after["client"] - before["client"],
            "machine": after["machine"] - before["machine"], "wall": after["wall"] - before["wall"]}


def other_jobs_cores(cpu: dict, client_cpu: float) -> float:
    """Cores' worth of CPU that processes other than the benchmark's used during the measurement."""
    ours = cpu["server"] + cpu["database"] + client_cpu
    return max(0.0, cpu["machine"] - ours) / max(cpu["wall"], 1e-9)


def run_level(port: int, project_id: int, tokens: list[str], seconds: float, warmup: float,
              server_pid: int, database: str, think_ms: float = 0.0) -> dict:
    start_at = time.time() + 0.5
    measure_from = start_at + warmup
    stop_at = measure_from + seconds
    annotators = [Annotator(port, project_id, t, start_at, measure_from, stop_at, think_ms) for t in tokens]
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
        "other_jobs_cores": other_jobs_cores(cpu, cpu["client"]),
        "load_average": load,
        "errors": errors[:5],
    }


LUA_SCRIPT = ROOT / "bench" / "annotate_loop.lua"


def run_wrk(port: int, project_id: int, tokens: list[str], seconds: float) -> tuple[dict, float]:
    """One wrk run (one thread and connection per annotator); returns its result and its CPU seconds."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        ["wrk", "-t", str(len(tokens)), "-c", str(len(tokens)), "-d", f"{max(1, round(seconds))}s", "--timeout", "30s",
         "-s", str(LUA_SCRIPT), f"http://127.0.0.1:{port}", "--", str(project_id), secrets.token_hex(4), *tokens],
        check=True, capture_output=True, text=True,
    ).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    match = re.search(r"^RESULT (.*)$", out, re.M)
    if not match:
        raise SystemExit(f"could not read wrk's result from:\n{out}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(match.group(1)), cpu


def analyze_annotate_tables() -> None:
    """ANALYZE the tables the warm-up wrote to, as autovacuum would within its first minute.

    Autovacuum is off on this machine's PostgreSQL. Without this, a database created for the run
    keeps the statistics taken when it had no assignments, and every backend keeps the plans it
    cached then (sequential scans of the assignments, ~5 ms of PostgreSQL per cycle once they
    number thousands: 241-297 cycles/s instead of ~900 on a fresh database; auto_explain). ANALYZE
    invalidates those plans."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE annotation_assignment, annotation_judgement, annotation_comparisontask")


def checkpoint() -> None:
    """A CHECKPOINT before each measured run, pgbench's too, so that every run starts alike.

    Otherwise a run may overlap a checkpoint that max_wal_size triggers (here about every 90 s at
    this load), whose writes and fsyncs compete with the WAL's: two such runs had p99 167 and 293 ms
    against 30-46 ms in the others, old code and new alike. Forced here, it is over before the
    measured run begins (and the next is ~0.5 GB of WAL away). So the numbers are those between
    checkpoints; a deployment's p99 over hours also holds a few seconds of each checkpoint."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")


def run_level_wrk(port: int, project_id: int, tokens: list[str], seconds: float, warmup: float,
                  server_pid: int, database: str) -> dict:
    """Like `run_level`, with wrk as the load generator (a warm-up run, then the measured run)."""
    if warmup > 0:
        run_wrk(port, project_id, tokens, warmup)
        # wrk drops its connections mid-request when its time is up; let the server finish those
        # requests, so that none of them lands inside the measured run (a late submit would make
        # the measured run's submit of the same assignment a 409).
        time.sleep(1.0)
        analyze_annotate_tables()
    checkpoint()
    before = cpu_snapshot(server_pid, database)
    load = os.getloadavg()[0]
    result, client_cpu = run_wrk(port, project_id, tokens, seconds)
    cpu = cpu_used(before, cpu_snapshot(server_pid, database))
    cycles = result["cycles"]
    duration = result["duration_us"] / 1e6
    errors = []
    if result["errors"] or result["socket_errors"]:
        errors.append(f"{result['errors']} bad answers, {result['socket_errors']} socket errors; first: "
                      f"{result['first_error']}")
    return {
        "annotators": len(tokens),
        "cycles": cycles,
        "cycles_per_s": cycles / duration,
        "p50_ms": result["p50_us"] / 1000, "p95_ms": result["p95_us"] / 1000, "p99_ms": result["p99_us"] / 1000,
        "mean_ms": result["mean_us"] / 1000,
        "server_cpu_ms_per_cycle": 1000 * cpu["server"] / max(cycles, 1),
        "database_cpu_ms_per_cycle": 1000 * cpu["database"] / max(cycles, 1),
        "client_cpu_ms_per_cycle": 1000 * client_cpu / max(cycles, 1),
        "other_jobs_cores": other_jobs_cores(cpu, client_cpu),
        "load_average": load,
        "errors": errors,
    }


def pgbench_connection(url: str) -> tuple[list[str], dict]:
    """pgbench's connection arguments (ending with the database's name) and environment for `url`."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(url)
    # A percent-encoded host is a Unix socket's directory (postgres://user@%2Fvar%2Frun%2Fpostgresql/db).
    args = ["-h", unquote(parsed.hostname or "127.0.0.1"), "-p", str(parsed.port or 5432), "-U", parsed.username or "postgres"]
    return [*args, parsed.path.lstrip("/")], dict(os.environ, PGPASSWORD=parsed.password or "")


def pgbench_tps(url: str, clients: int, seconds: int) -> float:
    """`pgbench -N` (simple-update) TPS on the benchmark database, initialised at scale 10."""
    args, env = pgbench_connection(url)
    subprocess.run(["pgbench", *args, "-i", "-s", "10", "-q"], check=True, env=env, capture_output=True)
    checkpoint()
    out = subprocess.run(
        ["pgbench", *args, "-N", "-n", "-c", str(clients), "-j", "2", "-T", str(seconds)],
        check=True, env=env, capture_output=True, text=True,
    ).stdout
    match = re.search(r"tps = ([0-9.]+)", out)
    if not match:
        raise SystemExit(f"could not read pgbench's TPS from:\n{out}")
    return float(match.group(1))


def _print_level(label: str, r: dict) -> None:
    print(f"{label}  {r['cycles_per_s']:8.1f} cycles/s  p50 {r['p50_ms']:6.1f} ms  "
          f"p95 {r['p95_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  CPU/cycle server "
          f"{r['server_cpu_ms_per_cycle']:.2f} ms + db {r['database_cpu_ms_per_cycle']:.2f} ms "
          f"(client {r['client_cpu_ms_per_cycle']:.2f} ms)  load {r['load_average']:.1f}  "
          f"other jobs {r['other_jobs_cores']:.2f} cores  "
          f"errors {r['errors']}", flush=True)


def main():
    args = parse_args()
    levels = [int(n) for n in args.annotators.split(",")]
    paced = [float(x) for x in args.paced.split(":")] if args.paced else None
    if args.client == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk); or pass --client threads")
    env = bench_env(args.database_url)
    ensure_database(args.database_url)
    setup_django(env)
    database = args.database_url.rsplit("/", 1)[1]
    print(f"seeding {len(levels) + bool(paced)} projects of {args.tasks} tasks ...", flush=True)
    seeded = {n: seed_level(n, args.tasks, args.overlap) for n in levels}
    if paced:
        paced_project = seed_level(int(paced[0]), args.tasks, args.overlap)
    server = start_gunicorn(env, args.port, args.workers, args.threads, args.worker_class)
    results, paced_result = [], None

    def ceiling() -> float:
        tps = pgbench_tps(args.database_url, args.pgbench_clients, args.pgbench_seconds)
        print(f"pgbench -N -c {args.pgbench_clients}: {tps:.0f} TPS", flush=True)
        return tps

    def bracketed(result: dict, before: float) -> float:
        """Adds the level's ceiling (the pgbench runs right before and after it); returns the after."""
        after = ceiling()
        result.update(pgbench_tps_before=before, pgbench_tps_after=after, pgbench_tps=(before + after) / 2)
        return after

    try:
        tps = ceiling()
        for n in levels:
            project_id, tokens = seeded[n]
            if args.client == "wrk":
                result = run_level_wrk(args.port, project_id, tokens, args.seconds, args.warmup, server.pid, database)
            else:
                result = run_level(args.port, project_id, tokens, args.seconds, args.warmup, server.pid, database)
            results.append(result)
            _print_level(f"N={n:3d}", result)
            tps = bracketed(result, tps)
        if paced:
            project_id, tokens = paced_project
            # Python threads even with --client wrk: wrk's delay() stalled ~1% of paced requests for about
            # a second on an idle machine (p99 1.7 s, while gunicorn's access log had them under 10 ms
            # and this client saw p99 5 ms in the same minutes). At ~30 cycles/s the client's CPU is small.
            paced_result = run_level(args.port, project_id, tokens, args.seconds, args.warmup, server.pid, database,
                                     think_ms=paced[1])
            paced_result["think_ms"] = paced[1]
            _print_level(f"paced N={len(tokens)} think {paced[1]:.0f} ms", paced_result)
            bracketed(paced_result, tps)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print()
    print("| annotators | cycles/s | p50 ms | p95 ms | p99 ms | pgbench TPS before / after | cycles/s ÷ pgbench TPS "
          "| CPU ms/cycle: gunicorn + PostgreSQL (+ client) | other jobs' CPU (cores) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results + ([paced_result] if paced_result else []):
        label = f"{r['annotators']}" + (f", paced ({r['think_ms']:.0f} ms think)" if r.get("think_ms") else "")
        print(f"| {label} | {r['cycles_per_s']:.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | "
              f"{r['p99_ms']:.1f} | {r['pgbench_tps_before']:.0f} / {r['pgbench_tps_after']:.0f} | "
              f"{r['cycles_per_s'] / r['pgbench_tps']:.3f} | {r['server_cpu_ms_per_cycle']:.2f} + "
              f"{r['database_cpu_ms_per_cycle']:.2f} (+ {r['client_cpu_ms_per_cycle']:.2f}) | "
              f"{r['other_jobs_cores']:.2f} |")
    print(f"\npgbench -N: {args.pgbench_clients} clients, {args.pgbench_seconds} s each; "
          f"gunicorn {args.workers} {args.worker_class} workers x {args.threads} threads; client {args.client}; {os.cpu_count()} CPUs; "
          f"load average now: {os.getloadavg()[0]:.1f}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(
        {"levels": results, "paced": paced_result, "args": vars(args)}, indent=2))
    if any(r["errors"] for r in results + ([paced_result] if paced_result else [])):
        raise SystemExit("some annotators failed; see the errors above")


if __name__ == "__main__":
    main()
