"""Benchmark of "extend to today" (figures, not a pass/fail test).

N synthetic patients (default 1,000) with a year of history that ended ``--gap`` days ago
(default 30) are extended to today with ``checkins_extend_to_today(all_patients=True)``, the
service behind ``extend_synthetic --all --to-today`` and the admin action: wall time, patients/s,
check-ins/s; then the same call again (the idempotent second run of a daily cron), which finds
everyone up to date.

Data: the patients are made by the generation service (local backend) in a scratch database on
the project's server, dropped afterwards. Run from the repository root:

    python bench/bench_extend.py [--patients 1000] [--days 365] [--gap 30]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synthadmin.settings")
if not os.environ.get("DJANGO_SECRET_KEY"):
    os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("SYNTHADMIN_AUTH_BACKEND", "local")


def _admin_conninfo() -> str:
    import psycopg
    from django.db import connection

    connection.ensure_connection()
    info = connection.connection.info
    params = {"host": info.host, "port": info.port, "user": info.user, "dbname": "postgres"}
    if connection.settings_dict.get("PASSWORD"):
        params["password"] = connection.settings_dict["PASSWORD"]
    return psycopg.conninfo.make_conninfo(**params)


def _scratch(admin: str) -> str:
    import psycopg
    from django.core.management import call_command
    from django.db import connection

    name = f"synthadmin_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    connection.close()
    connection.settings_dict["NAME"] = name
    call_command("migrate", verbosity=0)
    return name


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=1_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--gap", type=int, default=30)
    args = parser.parse_args()

    import django

    django.setup()
    from django.utils import timezone

    from synthadmin.services.extend_today import checkins_extend_to_today
    from synthadmin.services.generation import population_generate
    from synthadmin.services.ledger import Starter
    from synthadmin.services.requests import GenerationRequest

    admin = _admin_conninfo()
    name = _scratch(admin)
    try:
        began = time.perf_counter()
        population_generate(
            request=GenerationRequest(
                patients=args.patients,
                checkin_days=args.days,
                pattern="cycling",
                seed=3,
                end_date=timezone.localdate() - dt.timedelta(days=args.gap),
            ),
            started_by=Starter("os:bench"),
        )
        print(
            f"(data: {args.patients:,} patients x {args.days} days ending {args.gap} days ago, "
            f"{time.perf_counter() - began:.0f} s)"
        )
        began = time.perf_counter()
        first = checkins_extend_to_today(all_patients=True, started_by=Starter("os:bench"))
        seconds = time.perf_counter() - began
        assert first.report is not None
        added = first.report.checkins_created
        print(
            f"extend to today   {first.patients_extended:>7,} patients {added:>9,} check-ins {seconds:7.2f} s "
            f"{first.patients_extended / seconds:>8,.0f} patients/s {added / seconds:>9,.0f} check-ins/s"
        )
        began = time.perf_counter()
        again = checkins_extend_to_today(all_patients=True, started_by=Starter("os:bench"))
        seconds = time.perf_counter() - began
        print(
            f"again, same day   {again.up_to_date:>7,} up to date, nothing written "
            f"(run: {again.report is not None}) {seconds:7.2f} s"
        )
    finally:
        from django.db import connection

        connection.close()
        import psycopg

        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
