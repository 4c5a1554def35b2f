"""Benchmarks of background runs: real ``synthadmin_worker`` processes (figures, not pass/fail).

(1) Local Auth backend: one run of ``--patients`` patients x ``--days`` days (``--full``: the
    issue's 10,000 x 365), finished by 1, 2 and 4 workers: wall time, users/s, check-ins/s,
    peak RSS per worker, and the scaling ratio against one worker. On a 2-core machine a ratio
    near 2 is the ceiling for the CPU-bound parts (content, COPY, PostgreSQL itself).
(2) Supabase backend through the Auth test server (tests/support/gotrue/, in its own process)
    with ``--latency`` per call: ``--auth-users`` users (``--full``: 2,000), no history, with 1
    and 4 workers. Auth-bound: it scales past the core count.
Also: how long enqueueing takes (what the admin's POST does before it redirects).

Each case runs on a scratch database on the project's server (embedded PostgreSQL unless
DATABASE_URL is set), dropped afterwards. From the repository root:

    python bench/bench_background.py [--patients 2000] [--days 365] [--auth-users 500] [--full]
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synthadmin.settings")
if not os.environ.get("DJANGO_SECRET_KEY"):
    os.environ.setdefault("DJANGO_DEBUG", "1")

from bench.bench_service import _drop, _scratch, _serve_double, _server_conninfo, _setup_django  # noqa: E402

END_DATE = dt.date(2026, 6, 30)
SEED = 20_260_630


def _database_url(name: str) -> str:
    from django.db import connection

    connection.ensure_connection()
    info = connection.connection.info
    password = connection.settings_dict.get("PASSWORD") or ""
    auth = quote(info.user, safe="") + (":" + quote(password, safe="") if password else "")
    return f"postgresql://{auth}@{quote(info.host, safe='')}:{info.port}/{name}"


def _peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def one_run(
    admin: str,
    *,
    workers: int,
    patients: int,
    therapists: int,
    days: int,
    env: dict[str, str] | None = None,
    database: str | None = None,
) -> dict[str, float]:
    """Enqueue one run on ``database`` (else a fresh one, dropped after), let ``workers`` workers
    finish it; the figures."""
    from django.db import connection

    from synthadmin.models import SyntheticRun, TaskWorker
    from synthadmin.services.chunks import run_enqueue
    from synthadmin.services.ledger import Starter
    from synthadmin.services.requests import GenerationRequest

    name = database or _scratch(admin)
    original = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = name
    processes: list[subprocess.Popen] = []
    try:
        worker_env = {
            k: v for k, v in os.environ.items() if not k.startswith(("SYNTHADMIN_", "SUPABASE_", "DJANGO_"))
        }
        worker_env.update(
            {
                "DATABASE_URL": _database_url(name),
                "DJANGO_SECRET_KEY": "bench-only-not-a-secret",
                "SYNTHADMIN_ENV_FILE": "",
                "SYNTHADMIN_REAPER_SECONDS": "2",
                **(env or {}),
            }
        )
        for _ in range(workers):
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        str(ROOT / "manage.py"),
                        "synthadmin_worker",
                        "--interval",
                        "0.1",
                        "-v",
                        "0",
                    ],
                    cwd=ROOT,
                    env=worker_env,
                )
            )
        # The clock starts once every worker is up (process start-up is not the run's time).
        while TaskWorker.objects.count() < workers:
            if any(p.poll() is not None for p in processes):
                raise RuntimeError("a worker ended early")
            time.sleep(0.1)
        began = time.perf_counter()
        run = run_enqueue(
            request=GenerationRequest(
                patients=patients, therapists=therapists, checkin_days=days, seed=SEED, end_date=END_DATE
            ),
            started_by=Starter("os:bench"),
        )
        enqueue_seconds = time.perf_counter() - began
        while True:
            run.refresh_from_db()
            if run.status not in (SyntheticRun.Status.QUEUED, SyntheticRun.Status.RUNNING):
                break
            if any(p.poll() is not None for p in processes):
                raise RuntimeError("a worker ended early")
            time.sleep(0.2)
        wall = time.perf_counter() - began
        rss = max(_peak_rss_mb(p.pid) for p in processes)
        assert run.status == SyntheticRun.Status.SUCCEEDED, run.error_summary
        users = run.patients_created + run.therapists_created
        return {
            "workers": workers,
            "wall": wall,
            "users_per_s": users / wall,
            "checkins_per_s": run.checkins_created / wall,
            "checkins": run.checkins_created,
            "rss_mb": rss,
            "enqueue_ms": enqueue_seconds * 1000,
            "distinct_workers": run.chunks.values("worker_id").distinct().count(),
        }
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        connection.close()
        connection.settings_dict["NAME"] = original
        if database is None:
            _drop(admin, name)


def _print(title: str, rows: list[dict[str, float]]) -> None:
    print(f"\n{title}")
    print(
        f"{'workers':>8} {'wall s':>8} {'users/s':>9} {'check-ins/s':>12} {'peak RSS/worker':>16} {'scaling':>8}"
    )
    base = rows[0]["wall"]
    for row in rows:
        print(
            f"{row['workers']:>8} {row['wall']:>8.1f} {row['users_per_s']:>9.1f} {row['checkins_per_s']:>12,.0f} "
            f"{row['rss_mb']:>13.0f} MB {base / row['wall']:>7.2f}x"
        )
    print(f"enqueueing the run (what the admin POST does): {rows[0]['enqueue_ms']:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--therapists", type=int, default=20)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--auth-users", type=int, default=500)
    parser.add_argument("--auth-workers", default="1,4")
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument(
        "--full", action="store_true", help="the issue's sizes: 10,000 x 365; 2,000 Auth users"
    )
    parser.add_argument("--cases", default="local,auth", help="a comma list of: local, auth")
    args = parser.parse_args()
    if args.full:
        args.patients, args.days, args.auth_users = 10_000, 365, 2_000
    _setup_django()
    from tests.dbutil import admin_conninfo

    admin = admin_conninfo()
    cases = set(args.cases.split(","))
    if "local" in cases:
        rows = [
            one_run(admin, workers=n, patients=args.patients, therapists=args.therapists, days=args.days)
            for n in (int(w) for w in args.workers.split(","))
        ]
        _print(f"(1) local Auth backend: {args.patients:,} patients x {args.days} days", rows)
    if "auth" in cases:
        rows = []
        context = multiprocessing.get_context("spawn")
        for n in (int(w) for w in args.auth_workers.split(",")):
            rows.append(_auth_run(admin, context, workers=n, users=args.auth_users, latency=args.latency))
        _print(
            f"(2) Auth test server, {args.latency * 1000:.0f} ms per call: {args.auth_users:,} users", rows
        )


def _auth_run(admin: str, context, *, workers: int, users: int, latency: float) -> dict[str, float]:
    """Users only (no history) through the Auth test server, which serves the run's database."""
    from django.db import connection

    name = _scratch(admin)
    parent, child = context.Pipe()
    server = context.Process(target=_serve_double, args=(_server_conninfo(name), latency, child), daemon=True)
    server.start()
    try:
        url, key = parent.recv()
        return one_run(
            admin,
            workers=workers,
            patients=users,
            therapists=0,
            days=0,
            database=name,
            env={
                "SYNTHADMIN_AUTH_BACKEND": "supabase",
                "SUPABASE_URL": url,
                "SUPABASE_SERVICE_ROLE_KEY": key,
            },
        )
    finally:
        parent.send("stop")
        server.join(30)
        connection.close()
        _drop(admin, name)


if __name__ == "__main__":
    main()
