"""Run simulated annotators against a Prefloop server: `python -m simulation.simulate`.

Pure HTTP: it needs no database, only the server's URL, a project id and (to create the
annotators' accounts) a manager's or admin's login. It waits for the server to come up, then
judges until stopped (Ctrl-C) or, with --until-done, until no task is left.
"""
from __future__ import annotations

import argparse
import sys
import time

import requests

from .simulated_annotators import ApiClient, ApiError, SimulatedCrowd, add_annotator_members, default_profiles


def wait_for_server(base_url: str, *, timeout: float) -> bool:
    """Polls the health endpoint until it answers (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(base_url.rstrip("/") + "/api/health/", timeout=2).status_code < 500:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.5)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server's base URL")
    parser.add_argument("--project", type=int, required=True, help="project id")
    parser.add_argument("--annotators", type=int, default=4, help="how many simulated annotators")
    parser.add_argument("--seconds-per-judgement", type=float, default=2.0, help="think time of each")
    parser.add_argument("--admin-user", default="admin", help="a manager or admin who adds the accounts")
    parser.add_argument("--admin-password", default=None, help="their password (omit: accounts must exist)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--until-done", action="store_true", help="stop when no task is left")
    parser.add_argument("--server-timeout", type=float, default=600.0, help="seconds to wait for the server")
    args = parser.parse_args(argv)
    if args.annotators < 1:
        parser.error("--annotators must be at least 1")

    if not wait_for_server(args.url, timeout=args.server_timeout):
        print(f"simulate: no server answered at {args.url} within {args.server_timeout:.0f} s", file=sys.stderr)
        return 1
    profiles = default_profiles(args.annotators, seed=args.seed, seconds_per_judgement=args.seconds_per_judgement)
    try:
        if args.admin_password:
            token = ApiClient(args.url).login(args.admin_user, args.admin_password)
            add_annotator_members(args.url, project_id=args.project, manager_token=token, profiles=profiles)
    except ApiError as error:
        print(f"simulate: could not add the simulated annotators: {error}", file=sys.stderr)
        return 1

    crowd = SimulatedCrowd(profiles, base_url=args.url, project_id=args.project, seed=args.seed,
                           wait_for_work=not args.until_done)
    print(f"simulate: {len(profiles)} simulated annotators judging project {args.project} at {args.url}", flush=True)
    crowd.start()
    try:
        while any(thread.is_alive() for thread in crowd.threads):
            time.sleep(1.0)
    except KeyboardInterrupt:
        crowd.stop()
    stats = crowd.join(timeout=30)
    for stat in stats:
        errors = f", stopped by: {stat.errors[-1]}" if stat.errors else ""
        print(f"simulate: {stat.username} judged {stat.judged}{errors}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
