"""The annotate cycle's database work alone: `prefloop_next` + `prefloop_submit` driven by pgbench
(`bench/annotate_cycle.pgbench`, prepared statements, 32 clients, no web tier), interleaved with
`pgbench -N` on the same database. The ratio is the ceiling the database puts on the HTTP
benchmark's `cycles/s ÷ pgbench TPS` (bench/bench_annotate.py) on this machine.

    .venv/bin/python bench/db_cycle.py [--rounds 2] [--seconds 10] [--tasks 60000]
        [--database-url postgres://postgres@127.0.0.1:5432/bench_annotate]
"""
import argparse
import re
import subprocess
from pathlib import Path

import bench_annotate
from bench_support import ensure_database

SCRIPT = Path(__file__).resolve().parent / "annotate_cycle.pgbench"


def pgbench_tps(connection: tuple[list[str], dict], extra: list[str], seconds: int) -> float:
    db_args, env = connection
    out = subprocess.run(["pgbench", *db_args, "-n", "-c", "32", "-j", "2", "-T", str(seconds), *extra],
                         capture_output=True, text=True, env=env)
    if "aborted" in out.stderr or out.returncode != 0:
        raise SystemExit(f"pgbench failed (out of tasks? raise --tasks):\n{out.stderr[-2000:]}")
    return float(re.search(r"tps = ([\d.]+)", out.stdout)[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_annotate")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=60000, help="Enough for every round (~1,500 cycles/s).")
    args = parser.parse_args()
    ensure_database(args.database_url)
    bench_annotate.setup_django(bench_annotate.bench_env(args.database_url))
    project_id, tokens = bench_annotate.seed_level(32, args.tasks, 3)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_tokens")
        cursor.execute("CREATE TABLE bench_tokens (idx int PRIMARY KEY, project bigint, key text)")
        for index, token in enumerate(tokens):
            cursor.execute("INSERT INTO bench_tokens VALUES (%s, %s, %s)", [index, project_id, token])
    db = bench_annotate.pgbench_connection(args.database_url)
    subprocess.run(["pgbench", *db[0], "-i", "-s", "10", "-q"], check=True, capture_output=True, env=db[1])
    print("| round | cycles/s (database only) | pgbench -N TPS | ratio |\n|---:|---:|---:|---:|")
    for round_ in range(1, args.rounds + 1):
        cycles = pgbench_tps(db, ["-M", "prepared", "-f", str(SCRIPT)], args.seconds)
        tps = pgbench_tps(db, ["-N"], args.seconds)
        print(f"| {round_} | {cycles:.0f} | {tps:.0f} | {cycles / tps:.3f} |", flush=True)


if __name__ == "__main__":
    main()
