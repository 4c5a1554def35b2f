"""synthadmin as a guest in a database far away: round trips and wall time through added latency.

Every command runs as a user runs it (``python manage.py …`` in a subprocess, system checks and
all) against a scratch database reached through ``tests/support/latency_proxy.py``, which adds a
round-trip time (RTT) and counts round trips at the protocol level (the client speaking after the
server), connection set-up included. For each RTT (default 0, 10, 40, 100 ms):

* generate, local Auth backend: N patients x D days, and a 1-patient run — start-up round trips
  are the 1-patient run's minus one batch, a batch's are (N-run - 1-run) / (batches - 1);
* generate, Supabase Auth backend through the Auth test server (its own process, answering
  each call ``--auth-ms`` after reading it, default 100 ms, its own work included: its
  ``service_time``), at the default concurrency: N patients and 1, split the same way;
* purge, extend to today and export of the local run.

Printed per case: round trips in all, per user, at start-up and per batch; wall time; and the
floor with the ratio. For the local backend and the other commands the floor is the same command
at RTT 0 plus the budget's round trips (15 at start-up, 12 per batch) x RTT. For the Supabase
runs it is the issue's floor: Auth calls / concurrency x Auth latency + batches x 12 x RTT; a
second line gives what the Auth test server took per create, measured (from reading the request
to answering it: the nominal time, or more where its own work on this machine took longer) and
the floor with that instead of the nominal time. The Supabase runs' split of round trips into
start-up and per batch includes the run's cancel watch (``services.run_watch``: one read of the
run's cancel flag every 0.25 s, on its own connection, never waited for): the N-patient run is
longer, so it makes more of them. Run from the repository root:

    python bench/bench_latency.py [--patients 300] [--days 30] [--rtt 0,10,40,100] [--auth-ms 100]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synthadmin.settings")
if not os.environ.get("DJANGO_SECRET_KEY"):
    os.environ.setdefault("DJANGO_DEBUG", "1")

STARTUP_BUDGET = 15
BATCH_BUDGET = 12
BATCH_USERS = 100


@dataclass
class Measured:
    case: str
    rtt_ms: float
    round_trips: int
    seconds: float
    users: int
    output: dict[str, object]
    auth_calls: int = 0  # creates the Auth test server answered (Supabase runs)
    auth_seconds: float = 0.0  # their mean time in the server, request read to answer sent


def _server() -> dict[str, object]:
    import django

    django.setup()
    from django.db import connection

    connection.ensure_connection()
    info = connection.connection.info
    return {"host": info.host, "port": info.port, "user": info.user}


def _admin(server: dict[str, object], dbname: str = "postgres") -> str:
    import psycopg

    return psycopg.conninfo.make_conninfo(dbname=dbname, **server)


def _scratch(server: dict[str, object]) -> str:
    """A new database with the live Supabase shape, migrated directly (not through the proxy)."""
    import psycopg

    name = f"synthadmin_latency_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_admin(server), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    _manage(["migrate", "--no-input"], _url(server, name))
    return name


def _drop(server: dict[str, object], name: str) -> None:
    import psycopg

    with psycopg.connect(_admin(server), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _url(server: dict[str, object], name: str, port: int | None = None) -> str:
    """The URL of ``name`` directly, or through the proxy on ``port`` (always TCP on 127.0.0.1)."""
    if port is not None:
        return f"postgresql://{server['user']}@127.0.0.1:{port}/{name}"
    host = quote(str(server["host"]), safe="")  # a socket directory (the embedded server) too
    return f"postgresql://{server['user']}@{host}:{server['port']}/{name}"


def _manage(
    args: list[str], url: str, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPABASE_", "SYNTHADMIN_"))}
    env.update({"DATABASE_URL": url, "SYNTHADMIN_ENV_FILE": "", **(extra or {})})
    env.setdefault("DJANGO_DEBUG", "1")
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )


def _through(proxy, case: str, args: list[str], url: str, users: int, extra=None) -> Measured:
    with proxy.measuring() as counts:
        began = time.perf_counter()
        result = _manage(args, url, extra)
        seconds = time.perf_counter() - began
    if result.returncode != 0:
        raise SystemExit(f"{case}: exit {result.returncode}\n{result.stderr[-2000:]}")
    try:
        output = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    except json.JSONDecodeError:
        output = {}
    return Measured(case, proxy.rtt_ms, counts.round_trips, seconds, users, output)


def _serve_auth(conninfo: str, latency: float, pipe: Connection) -> None:
    """The Auth test server, until told ``"done"``; on ``"stats"`` it answers the creates it
    served since the last ``"stats"``: (count, mean seconds from request read to answer sent)."""
    from tests.support.gotrue import GoTrueDouble

    with GoTrueDouble(conninfo=conninfo, max_idle_connections=40) as server:
        server.faults.service_time(latency)  # answers each call that long after reading it
        pipe.send((server.url, server.service_role_key))
        seen = 0
        while pipe.recv() == "stats":
            creates = server.requests_for("create")
            served = [r.answered_at - r.received_at for r in creates[seen:] if r.answered_at is not None]
            seen = len(creates)
            pipe.send((len(served), sum(served) / len(served) if served else 0.0))


def run_rtt(
    server: dict[str, object], rtt: float, patients: int, days: int, auth_ms: float
) -> list[Measured]:
    from tests.support.latency_proxy import LatencyProxy

    name = _scratch(server)
    out: list[Measured] = []
    end = (dt.date.today() - dt.timedelta(days=7)).isoformat()  # leaves a week for extend to today
    try:
        with LatencyProxy(str(server["host"]), int(server["port"]), rtt_ms=rtt) as proxy:
            url = _url(server, name, proxy.port)
            gen = ["generate_synthetic", "--checkins", str(days), "--seed", "7", "--end-date", end, "--json"]
            out.append(_through(proxy, "generate 1 (local)", [*gen, "--patients", "1"], url, 1))
            big = _through(
                proxy, f"generate {patients} (local)", [*gen, "--patients", str(patients)], url, patients
            )
            out.append(big)
            run_id = str(big.output.get("run_id"))
            out.append(
                _through(
                    proxy,
                    "extend to today",
                    ["extend_synthetic", "--run", run_id, "--to-today", "--json"],
                    url,
                    patients,
                )
            )
            export = str(Path(tempfile.gettempdir()) / f"bench-latency-{uuid.uuid4().hex[:6]}.csv")
            out.append(
                _through(
                    proxy,
                    "export (csv)",
                    ["export_synthetic", "--run", run_id, "--output", export],
                    url,
                    patients,
                )
            )
            Path(export).unlink(missing_ok=True)
            out.append(
                _through(
                    proxy, "purge", ["purge_synthetic", "--run", run_id, "--yes", "--json"], url, patients + 1
                )
            )
            if auth_ms >= 0:
                out.extend(_supabase(proxy, server, name, url, patients, days, end, auth_ms))
    finally:
        _drop(server, name)
    return out


def _supabase(
    proxy, server, name: str, url: str, patients: int, days: int, end: str, auth_ms: float
) -> list[Measured]:
    """A 1-patient and an N-patient run through the Auth test server (one server for both)."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    auth = context.Process(
        target=_serve_auth, args=(_admin(server, name), auth_ms / 1000, child), daemon=True
    )
    auth.start()
    out: list[Measured] = []
    try:
        auth_url, key = parent.recv()
        extra = {
            "SYNTHADMIN_AUTH_BACKEND": "supabase",
            "SUPABASE_URL": auth_url,
            "SUPABASE_SERVICE_ROLE_KEY": key,
        }
        for users in (1, patients):
            args = ["generate_synthetic", "--patients", str(users), "--checkins", str(days), "--seed", "8",
                    "--end-date", end, "--json"]  # fmt: skip
            case = f"generate {users} (supabase, Auth {auth_ms:g} ms)"
            measured = _through(proxy, case, args, url, users, extra)
            parent.send("stats")
            measured.auth_calls, measured.auth_seconds = parent.recv()
            out.append(measured)
        return out
    finally:
        parent.send("done")
        auth.join(10)


def _batches(users: int) -> int:
    return max(1, -(-users // BATCH_USERS))


def _split(rows: list[Measured], m: Measured, backend: str) -> tuple[str, str]:
    """Start-up and per-batch round trips of an N-patient generate, from the 1-patient run of
    the same backend and RTT ("" when there is one batch, or the work is per user)."""
    batches = _batches(m.users)
    ones = [
        o for o in rows if o.rtt_ms == m.rtt_ms and o.case.startswith("generate 1 ") and backend in o.case
    ]
    if not m.case.startswith("generate ") or m.users == 1 or batches < 2 or not ones:
        return "", ""
    one = ones[0].round_trips
    batch_rt = (m.round_trips - one) / (batches - 1)
    if batch_rt > one:  # the work is per user, not per batch: no split
        return "", ""
    return f"{one - batch_rt:.0f}", f"{batch_rt:.1f}"


def report(rows: list[Measured], patients: int, auth_ms: float) -> None:
    at_zero = {m.case: m.seconds for m in rows if m.rtt_ms == 0}
    print(f"{'case':40} {'RTT':>5} {'round trips':>11} {'/user':>6} {'start-up':>8} {'/batch':>7} "
          f"{'wall s':>7} {'floor s':>7} {'x floor':>7}")  # fmt: skip
    for m in rows:
        batches = _batches(m.users)
        supabase = "supabase" in m.case
        startup, per_batch = _split(rows, m, "supabase" if supabase else "local")
        concurrency = int((m.output.get("auth_flow") or {}).get("concurrency_max", 4) or 4)  # type: ignore[union-attr]
        database = batches * BATCH_BUDGET * m.rtt_ms / 1000
        if supabase:  # the floor: Auth calls / concurrency x Auth latency + batches x 12 x RTT
            floor = -(-m.users // concurrency) * auth_ms / 1000 + database
            if m.users == 1:  # a process's start-up and one call: no floor worth the name
                print(f"{m.case:40} {m.rtt_ms:5.0f} {m.round_trips:11,} {m.round_trips:6.1f} "
                      f"{'':>8} {'':>7} {m.seconds:7.1f}")  # fmt: skip
                continue
        else:
            floor = (
                at_zero.get(m.case, m.seconds) + (STARTUP_BUDGET + batches * BATCH_BUDGET) * m.rtt_ms / 1000
            )
        print(f"{m.case:40} {m.rtt_ms:5.0f} {m.round_trips:11,} {m.round_trips / max(m.users, 1):6.1f} "
              f"{startup:>8} {per_batch:>7} {m.seconds:7.1f} {floor:7.1f} {m.seconds / floor:7.2f}")  # fmt: skip
        if supabase and m.auth_calls:
            served = -(-m.users // concurrency) * m.auth_seconds + database
            print(f"{'':40} {'':5} the Auth server took {m.auth_seconds * 1000:.0f} ms per create "
                  f"({m.auth_calls} creates); floor with that: {served:.1f} s, x {m.seconds / served:.2f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rtt", default="0,10,40,100", help="round-trip times in ms, comma-separated")
    parser.add_argument(
        "--auth-ms", type=float, default=100.0, help="Auth test server time per call; -1 skips it"
    )
    options = parser.parse_args()
    server = _server()
    rows: list[Measured] = []
    for rtt in [float(x) for x in options.rtt.split(",")]:
        rows.extend(run_rtt(server, rtt, options.patients, options.days, options.auth_ms))
        print(f"... RTT {rtt:g} ms done", file=sys.stderr)
    report(rows, options.patients, options.auth_ms)


if __name__ == "__main__":
    main()
