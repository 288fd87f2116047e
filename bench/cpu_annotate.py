"""CPU per annotate cycle, without HTTP: next + judgement through Django's WSGI handler in this
process (production settings, one annotator), with this process's CPU time and its PostgreSQL
backend's (from /proc) per cycle. CPU time, not wall time, so it stays comparable on a busy
machine; `--profile` prints where the Python time goes (cProfile, cumulative).

    .venv/bin/python bench/cpu_annotate.py [--cycles 400] [--profile] [--drf-way]
        [--database-url postgres://postgres@127.0.0.1:5432/bench_annotate]

`--drf-way` sends `Accept: application/json, text/plain`, which the direct way of
annotation/hot_path/drf.py leaves to DRF, to measure what that way saves. Run it from another
checkout (with this file copied there) to compare versions side by side.
"""
import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_annotate  # noqa: E402  (after the path set-up)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_annotate")
    parser.add_argument("--cycles", type=int, default=400, help="Measured cycles (after 20 unmeasured).")
    parser.add_argument("--profile", action="store_true", help="Also profile as many cycles with cProfile.")
    parser.add_argument("--drf-way", action="store_true", help="Send an Accept header the direct way leaves to DRF.")
    return parser.parse_args()


class Loop:
    """One annotator calling the WSGI application directly."""

    def __init__(self, app, project_id: int, token: str, accept: str | None):
        self.app, self.project_id, self.token, self.accept = app, project_id, token, accept
        self.n = 0

    def call(self, path: str, body: dict | None) -> tuple[str, bytes]:
        raw = json.dumps(body).encode() if body is not None else b""
        environ = {
            "REQUEST_METHOD": "POST", "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "127.0.0.1",
            "HTTP_AUTHORIZATION": f"Token {self.token}", "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(raw)), "wsgi.input": io.BytesIO(raw), "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": True,
            "wsgi.run_once": False, "wsgi.version": (1, 0),
        }
        if self.accept:
            environ["HTTP_ACCEPT"] = self.accept
        answer = {}

        def start_response(status, headers, exc_info=None):
            answer["status"] = status

        body_out = b"".join(self.app(environ, start_response))
        return answer["status"], body_out

    def cycle(self) -> None:
        self.n += 1
        status, out = self.call(f"/api/projects/{self.project_id}/next/", None)
        if not status.startswith("200"):
            raise SystemExit(f"next answered {status}: {out[:300]!r}")
        work = json.loads(out)
        ids = [r["id"] for r in work["task"]["responses"]]
        status, out = self.call(f"/api/assignments/{work['assignment']['id']}/judgement/",
                                {"ranking": [[ids[0]], [ids[1]]], "strength": 2,
                                 "client_id": f"cpu-{time.time()}-{self.n}"})
        if not status.startswith("201"):
            raise SystemExit(f"judgement answered {status}: {out[:300]!r}")


def backend_cpu() -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    return bench_annotate._process_cpu(pid)


def main():
    args = parse_args()
    bench_annotate.setup_django(bench_annotate.bench_env(args.database_url))
    from django.core.handlers.wsgi import WSGIHandler

    n_tasks = 20 + args.cycles * (2 if args.profile else 1) + 10
    project_id, tokens = bench_annotate.seed_level(1, n_tasks, 3)
    loop = Loop(WSGIHandler(), project_id, tokens[0], "application/json, text/plain" if args.drf_way else None)
    for _ in range(20):  # connections, prepared statements, caches
        loop.cycle()
    cpu, wall, database = time.process_time(), time.perf_counter(), backend_cpu()
    for _ in range(args.cycles):
        loop.cycle()
    cpu, wall, database = time.process_time() - cpu, time.perf_counter() - wall, backend_cpu() - database
    print(f"per cycle: Python CPU {1000 * cpu / args.cycles:.2f} ms, PostgreSQL backend CPU "
          f"{1000 * database / args.cycles:.2f} ms, wall {1000 * wall / args.cycles:.2f} ms "
          f"({args.cycles} cycles{', DRF way' if args.drf_way else ''})")
    if args.profile:
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for _ in range(args.cycles):
            loop.cycle()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
