"""Benchmarks of the generation service (figures and ratios, not pass/fail tests).

(1) 1,000 patients x 365 days with the local Auth backend, end to end (auth rows, profiles,
    check-ins, ledger), against a plain psycopg COPY of the very rows it wrote (auth.users,
    auth.identities, profiles, links, check_ins) into an identical empty schema. Target: <= 1.0x
    (issue 20: best of several runs on a shared machine).
(2) 200 users through the real supabase client against the Auth test server with 50 ms of
    latency per call: concurrency 4 against one after another.               Target: >= 3.5x.
(3) Peak RSS of the process that ran (1).                                    Target: <= 250 MB.
(4) Flow control: creates through the gateway against an Auth test server with limited capacity
    (C requests served at once, a short queue, 429 beyond) and 50 ms latency: throughput of a
    fixed concurrency of 1, 4, 16, 32 and of the adaptive controller (``synthadmin.auth.flow``,
    at most 32), each with the service's retry policy, and the share of calls answered 429.
    Target: adaptive >= 85 % of the best fixed setting, <= 2 % of its calls answered 429.
    Then a real ``population_generate`` run of ``--run-users`` patients through the same server
    (its own controller, ``--concurrency 32``): time, users/s, 429s, settled concurrency.

Uses the project's database (embedded PostgreSQL unless DATABASE_URL is set) and scratch
databases on the same server, dropped afterwards. Run from the repository root:

    python bench/bench_service.py [--patients 1000] [--days 365] [--users 200] [--rounds 10]
    python bench/bench_service.py --cases flow [--flow-users 600] [--capacity 8] [--queue 4] [--run-users 300]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synthadmin.settings")
if not os.environ.get("DJANGO_SECRET_KEY"):
    os.environ.setdefault("DJANGO_DEBUG", "1")

END_DATE = dt.date(2026, 6, 30)  # fixed: the benchmark does not depend on the clock
SEED = 20_260_630

# The columns a plain COPY must carry: generated columns (confirmed_at, identities.email) excluded.
COPY_TABLES = {
    "auth.users": "instance_id, id, aud, role, email, encrypted_password, email_confirmed_at, "
    "confirmation_token, recovery_token, email_change_token_new, email_change, raw_app_meta_data, "
    "raw_user_meta_data, created_at, updated_at, phone, is_sso_user, is_anonymous",
    "auth.identities": "id, provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at",
    "public.profiles": "id, email, username, role, is_test_patient, source, created_at, updated_at",
    "public.therapist_patients": "therapist_id, patient_id, assigned_at",
    "public.check_ins": "id, user_id, checkin_date, sleep_data, mood_data, symptoms_data, risk_routine_data, "
    "appetite_impulse_data, meds_context_data, created_at, updated_at",
}


def _setup_django(dbname: str | None = None) -> None:
    import django

    django.setup()
    if dbname:
        from django.db import connection

        connection.close()
        connection.settings_dict["NAME"] = dbname


def _server_conninfo(dbname: str) -> str:
    import psycopg
    from django.db import connection

    connection.ensure_connection()
    info = connection.connection.info
    params = {"host": info.host, "port": info.port, "user": info.user, "dbname": dbname}
    if connection.settings_dict.get("PASSWORD"):
        params["password"] = connection.settings_dict["PASSWORD"]
    return psycopg.conninfo.make_conninfo(**params)


def _scratch(admin: str, migrate: bool = True) -> str:
    import psycopg
    from django.core.management import call_command
    from django.db import connection

    name = f"synthadmin_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    if migrate:
        original = connection.settings_dict["NAME"]
        connection.close()
        connection.settings_dict["NAME"] = name
        call_command("migrate", verbosity=0)
        connection.close()
        connection.settings_dict["NAME"] = original
    return name


def _drop(admin: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# --- (1) end to end, in a child process so its peak RSS is its own ----------------------------
def phase_e2e(dbname: str, patients: int, days: int, rounds: int) -> None:
    _setup_django(dbname)
    from synthadmin.auth.local import LocalAuthGateway
    from synthadmin.services.generation import population_generate
    from synthadmin.services.ledger import Starter
    from synthadmin.services.requests import GenerationRequest

    request = GenerationRequest(patients=patients, checkin_days=days, seed=SEED, end_date=END_DATE)
    began = time.perf_counter()
    report = population_generate(
        request=request, started_by=Starter("os:bench"), gateway=LocalAuthGateway(rounds=rounds)
    )
    seconds = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "status": report.status,
                "seconds": seconds,
                "checkins": report.checkins_created,
                "users": report.patients_created + report.therapists_created,
                "peak_rss_mb": peak_mb,
            }
        )
    )


def plain_copy_seconds(source: str, target: str) -> tuple[float, dict[str, int]]:
    """Copy the rows (1) wrote into an identical empty schema with plain COPY; time the load."""
    import psycopg

    dumps: dict[str, bytes] = {}
    rows: dict[str, int] = {}
    with psycopg.connect(source) as conn:
        for table, columns in COPY_TABLES.items():
            buffer = io.BytesIO()
            with conn.cursor().copy(f"COPY (SELECT {columns} FROM {table}) TO STDOUT") as copy:
                for block in copy:
                    buffer.write(block)
            dumps[table] = buffer.getvalue()
            rows[table] = dumps[table].count(b"\n")
    with psycopg.connect(target) as conn:
        # The signup trigger would make a second profile per user: the plain COPY loads exactly
        # the rows the run wrote (foreign keys and indexes stay, as for the run).
        conn.execute("ALTER TABLE auth.users DISABLE TRIGGER USER")
        conn.commit()
        began = time.perf_counter()
        for table, columns in COPY_TABLES.items():  # parents first: the foreign keys are checked
            data = dumps[table]
            with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for start in range(0, len(data), 32 * 1024):
                    copy.write(data[start : start + 32 * 1024])
        conn.commit()
        seconds = time.perf_counter() - began
    return seconds, rows


# --- (2) Auth concurrency against the test server ----------------------------------------------
def _serve_double(
    conninfo: str, latency: float, pipe: Connection, capacity: tuple[int, int] | None = None
) -> None:
    """Run the Auth test server in its own process, as a real Auth service would be: its
    request handling then does not compete with the client for this process's GIL."""
    from tests.support.gotrue import GoTrueDouble

    with GoTrueDouble(conninfo=conninfo, max_idle_connections=40) as server:
        server.faults.latency(latency)
        if capacity is not None:
            server.faults.capacity(capacity[0], queue=capacity[1])
        pipe.send((server.url, server.service_role_key))
        pipe.recv()  # until the parent is done


def auth_concurrency(admin: str, users: int, latency: float) -> dict[str, float]:
    from django.db import connection

    from synthadmin.auth.supabase import SupabaseAuthGateway
    from synthadmin.services.generation import population_generate
    from synthadmin.services.ledger import Starter
    from synthadmin.services.requests import GenerationRequest

    results: dict[str, float] = {}
    context = multiprocessing.get_context("spawn")
    for concurrency in (1, 4):
        name = _scratch(admin)
        original = connection.settings_dict["NAME"]
        connection.close()
        connection.settings_dict["NAME"] = name
        parent, child = context.Pipe()
        server = context.Process(
            target=_serve_double, args=(_server_conninfo(name), latency, child), daemon=True
        )
        server.start()
        try:
            url, key = parent.recv()
            gateway = SupabaseAuthGateway(url=url, key=key)
            request = GenerationRequest(
                patients=users, checkin_days=0, seed=SEED, end_date=END_DATE, concurrency=concurrency
            )
            began = time.perf_counter()
            report = population_generate(request=request, started_by=Starter("os:bench"), gateway=gateway)
            results[f"c{concurrency}"] = time.perf_counter() - began
            gateway.close()
            assert report.status == "succeeded", report.error
        finally:
            parent.send("stop")
            server.join(30)
            connection.close()
            connection.settings_dict["NAME"] = original
            _drop(admin, name)
    return results


# --- (4) flow control against a server of limited capacity ------------------------------------
def _drive(gateway, users: int, *, concurrency: int, flow=None) -> dict[str, float]:
    """Create ``users`` users with ``concurrency`` threads (through ``flow`` if given), each
    call under the service's retry policy; count every call and every 429."""
    import queue
    import threading

    from synthadmin.auth.base import APP_METADATA_KEY, NewAuthUser
    from synthadmin.exceptions import AuthRateLimitedError
    from synthadmin.services.retrying import transient_retrying

    work: queue.Queue[NewAuthUser] = queue.Queue()
    for n in range(users):
        user_id = uuid.uuid4()
        work.put(
            NewAuthUser(
                id=user_id,
                email=f"flow-{user_id.hex[:12]}@example.com",
                user_metadata={},
                app_metadata={APP_METADATA_KEY: {"synthetic": True, "bench": n}},
            )
        )
    lock = threading.Lock()
    counts = {"calls": 0, "limited": 0, "failed": 0}

    def create(user: NewAuthUser) -> None:
        try:
            if flow is None:
                gateway.create_user(user)
            else:
                flow.call(gateway.create_user, user)
        except AuthRateLimitedError:
            with lock:
                counts["calls"] += 1
                counts["limited"] += 1
            raise
        except Exception:
            with lock:
                counts["calls"] += 1
            raise
        with lock:
            counts["calls"] += 1

    def worker() -> None:
        while True:
            try:
                user = work.get_nowait()
            except queue.Empty:
                return
            try:
                transient_retrying()(create, user)
            except Exception:
                with lock:
                    counts["failed"] += 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    return {
        "seconds": seconds,
        "throughput": (users - counts["failed"]) / seconds,
        "share_429": counts["limited"] / max(counts["calls"], 1),
        "calls": counts["calls"],
        "failed": counts["failed"],
    }


def _generate_run(gateway, users: int) -> dict[str, float]:
    """A real ``population_generate`` run of ``users`` patients (no history: the Auth calls are
    what is measured) through ``gateway``, with the run's own adaptive controller, at most 32."""
    from synthadmin.services.generation import population_generate
    from synthadmin.services.ledger import Starter
    from synthadmin.services.requests import GenerationRequest

    request = GenerationRequest(patients=users, checkin_days=0, seed=SEED, end_date=END_DATE, concurrency=32)
    began = time.perf_counter()
    report = population_generate(request=request, started_by=Starter("os:bench"), gateway=gateway)
    seconds = time.perf_counter() - began
    assert report.status == "succeeded", report.error
    flow = report.auth_flow
    return {
        "seconds": seconds,
        "users": report.patients_created,
        "throughput": report.patients_created / seconds,
        "rate_limited": flow["rate_limited"],
        "settled": flow["concurrency_settled"],
        "retries": report.retries.get("transient", 0),
    }


def flow_control(
    admin: str, users: int, latency: float, capacity: int, queue_size: int, run_users: int = 0
) -> dict[str, dict]:
    import logging

    from django.db import connection

    from synthadmin.auth.flow import FlowController
    from synthadmin.auth.supabase import SupabaseAuthGateway

    logging.getLogger("synthadmin.retry").setLevel(logging.ERROR)  # 429 retries are expected here
    results: dict[str, dict] = {}
    context = multiprocessing.get_context("spawn")
    name = _scratch(admin)
    original = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = name
    parent, child = context.Pipe()
    server = context.Process(
        target=_serve_double,
        args=(_server_conninfo(name), latency, child, (capacity, queue_size)),
        daemon=True,
    )
    server.start()
    try:
        url, key = parent.recv()
        with SupabaseAuthGateway(url=url, key=key) as gateway:
            _drive(gateway, 20, concurrency=4)  # warm up connections and the server
            for fixed in (1, 4, 16, 32):
                results[f"fixed {fixed}"] = _drive(gateway, users, concurrency=fixed)
            flow = FlowController(max_concurrency=32)
            outcome = _drive(gateway, users, concurrency=32, flow=flow)
            stats = flow.stats()
            outcome["settled"] = stats.settled_limit
            outcome["limit"] = stats.limit
            results["adaptive"] = outcome
            if run_users:
                results["run"] = _generate_run(gateway, run_users)
    finally:
        parent.send("stop")
        server.join(30)
        connection.close()
        connection.settings_dict["NAME"] = original
        _drop(admin, name)
    return results


def print_flow(results: dict[str, dict], users: int, latency: float, capacity: int, queue_size: int) -> None:
    print(
        f"(4) {users} creates per setting, Auth test server serving {capacity} at once, "
        f"queue {queue_size}, 429 beyond, {latency * 1000:.0f} ms latency"
    )
    run = results.pop("run", None)
    for label, row in results.items():
        extra = ""
        if label == "adaptive":
            extra = f"   settled on {row['settled']:.1f} (window at the end {row['limit']:.1f})"
        failed = f", {row['failed']} failed" if row["failed"] else ""
        print(
            f"    {label:<10} {row['throughput']:8.1f} creates/s   {row['share_429'] * 100:5.1f} % of "
            f"{row['calls']:,} calls answered 429{failed}{extra}"
        )
    best_label, best = max(
        ((k, v) for k, v in results.items() if k != "adaptive"), key=lambda item: item[1]["throughput"]
    )
    adaptive = results["adaptive"]
    ratio = adaptive["throughput"] / best["throughput"]
    print(
        f"    adaptive / best fixed ({best_label})  {ratio * 100:5.1f} %  (target >= 85 %)  "
        f"{'met' if ratio >= 0.85 else 'MISSED'}"
    )
    share = adaptive["share_429"] * 100
    print(
        f"    adaptive 429 share      {share:5.1f} %  (target <= 2 %)   {'met' if share <= 2 else 'MISSED'}"
    )
    if run is not None:
        calls = run["users"] + run["rate_limited"]
        print(
            f"    population_generate, {run['users']} patients, --concurrency 32 (adaptive): "
            f"{run['seconds']:.2f} s, {run['throughput']:.1f} users/s, "
            f"{run['rate_limited']} of {calls:,} creates answered 429 ({run['rate_limited'] / calls * 100:.1f} %), "
            f"settled on {run['settled']:.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--rounds", type=int, default=10, help="local bcrypt cost (GoTrue: 10)")
    parser.add_argument("--flow-users", type=int, default=600, help="creates per setting in (4)")
    parser.add_argument("--capacity", type=int, default=8, help="requests the server serves at once in (4)")
    parser.add_argument("--queue", type=int, default=4, help="requests that may wait beyond that in (4)")
    parser.add_argument(
        "--run-users", type=int, default=300, help="patients of the population_generate run in (4); 0: none"
    )
    parser.add_argument("--cases", default="all", help="'all', or a comma list of: e2e, auth, flow")
    parser.add_argument("--phase", choices=["e2e"], help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "e2e":
        phase_e2e(args.db, args.patients, args.days, args.rounds)
        return

    _setup_django()
    from django.conf import settings

    from synthadmin.db.base import describe

    admin = _server_conninfo("postgres")
    print(f"database: {describe(settings.DATABASES['default'])}")
    cases = {"e2e", "auth", "flow"} if args.cases == "all" else set(args.cases.split(","))
    if cases == {"flow"}:
        results = flow_control(
            admin, args.flow_users, args.latency, args.capacity, args.queue, args.run_users
        )
        print()
        print_flow(results, args.flow_users, args.latency, args.capacity, args.queue)
        return
    source, target = _scratch(admin), _scratch(admin)
    try:
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--phase",
                "e2e",
                "--db",
                source,
                "--patients",
                str(args.patients),
                "--days",
                str(args.days),
                "--rounds",
                str(args.rounds),
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        e2e = json.loads(child.stdout.strip().splitlines()[-1])
        copy_seconds, rows = plain_copy_seconds(_server_conninfo(source), _server_conninfo(target))
    finally:
        _drop(admin, source)
        _drop(admin, target)
    auth = auth_concurrency(admin, args.users, args.latency)

    ratio_copy = e2e["seconds"] / copy_seconds
    ratio_auth = auth["c1"] / auth["c4"]
    print()
    print(f"(1) {args.patients:,} patients x {args.days} days, local backend (bcrypt cost {args.rounds})")
    print(
        f"    end to end          {e2e['seconds']:8.2f} s   {e2e['checkins']:,} check-ins, {e2e['users']:,} users"
        f"  ({e2e['checkins'] / e2e['seconds']:,.0f} check-ins/s)"
    )
    print(
        f"    plain COPY          {copy_seconds:8.2f} s   " + ", ".join(f"{t} {n:,}" for t, n in rows.items())
    )
    print(
        f"    ratio               {ratio_copy:8.2f} x   (target <= 1.0)  {'met' if ratio_copy <= 1.0 else 'MISSED'}"
    )
    print(f"(2) {args.users} users via supabase client, {args.latency * 1000:.0f} ms latency per call")
    print(f"    one after another   {auth['c1']:8.2f} s")
    print(f"    concurrency 4       {auth['c4']:8.2f} s")
    print(
        f"    speed-up            {ratio_auth:8.2f} x   (target >= 3.5)  {'met' if ratio_auth >= 3.5 else 'MISSED'}"
    )
    print(
        f"(3) peak RSS of (1)     {e2e['peak_rss_mb']:8.1f} MB  (target <= 250)  "
        f"{'met' if e2e['peak_rss_mb'] <= 250 else 'MISSED'}"
    )
    if "flow" in cases:
        print_flow(
            flow_control(admin, args.flow_users, args.latency, args.capacity, args.queue, args.run_users),
            args.flow_users,
            args.latency,
            args.capacity,
            args.queue,
        )


if __name__ == "__main__":
    main()
