"""The admin's pages at 30,000 and at 3.1 million check-ins: does a page cost what it shows?

Every changelist (profiles, check-ins, synthetic users, runs, scenarios), every filter link,
search, each level of the date navigation, the first and last pages, the facet counts where a
list offers them, the patient page, a check-in's page and the run page — each fetched through
Django's test client as a web process fetches it (the session under
``SYNTHADMIN_WEB_STATEMENT_TIMEOUT``, no parallel workers), the best of ``--rounds`` after one
warm-up (the machine is shared: the best is the page's own cost); its statements, the whole
page's time, and the 8 KB pages its statements touched (run again under ``EXPLAIN (ANALYZE,
BUFFERS)``: the work itself, which a busy machine does not blur). Then the growth of both, big ÷
small (goal < 2x): a page whose work grows with the table shows it here.

Data, in a scratch database on the project's server (dropped afterwards unless ``--keep``):

* **small** — the built-in ``load-test-10k`` scenario at a hundredth: 100 patients in its mix
  (stable 70, cycling 15, depressive 10, rapid cycling 5) and 1 therapist, 365 days, through the
  generation service (local Auth backend); "Add check-in days" (30 days) for 10 of them; 3 real
  patients with 30 check-ins each — about 31,000 check-ins;
* **big** — the same plus 99 copies of each generated patient made server-side (``INSERT ...
  SELECT``: new ids, the same payloads and ground truth, auth user, profile, therapist link and
  ledger entry each, in a run of their own; the ledger's triggers build their state intervals as
  for any entry): 10,000 patients, about 3.1 million check-ins, as ``load-test-10k`` makes them.

Both are ``VACUUM ANALYZE``d (what autovacuum keeps on a live database). ``--before`` also times,
as raw SQL, what the pages used to run: the exact count, the JSON-expanding state filter (under a
60 s limit) and the date navigation's ``SELECT DISTINCT``. Run from the repository root:

    python bench/bench_admin.py [--copies 99] [--rounds 5] [--before] [--keep] [--viewer]

``--viewer`` fetches every page as staff without ``synthadmin.view_real_patients`` (every list
then holds synthetic users only; "test patient no" is empty, by design) instead of a superuser.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synthadmin.settings")
if not os.environ.get("DJANGO_SECRET_KEY"):
    os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("SYNTHADMIN_AUTH_BACKEND", "local")
os.environ.setdefault("SYNTHADMIN_LOCAL_BCRYPT_ROUNDS", "4")

END = dt.date(2026, 6, 30)
MIX = {"stable": 70, "cycling": 15, "depressive": 10, "rapid_cycling": 5}
STATES = ("euthymic", "depressed_mild", "depressed_severe", "hypomanic", "manic", "mixed")
NIL = "00000000-0000-0000-0000-000000000000"


@dataclass
class Ids:
    """What the pages name: the runs, a patient, a check-in, a search term."""

    base_run: uuid.UUID
    backfill_run: uuid.UUID
    clone_run: uuid.UUID | None
    patient: uuid.UUID
    search: str
    checkin: uuid.UUID

    @classmethod
    def read(cls) -> Ids:
        [(base,)] = _sql(
            "SELECT id FROM synthadmin_syntheticrun WHERE started_by = 'os:bench-admin' AND kind = 'generate'"
        )
        [(backfill,)] = _sql("SELECT id FROM synthadmin_syntheticrun WHERE kind = 'extend'")
        clone = _sql("SELECT id FROM synthadmin_syntheticrun WHERE started_by = 'os:bench-admin-clone'")
        [(patient, email)] = _sql(
            "SELECT e.user_id, e.email FROM synthadmin_syntheticuser e WHERE e.run_id = %s "
            "AND e.role = 'patient' ORDER BY e.id LIMIT 1",
            [base],
        )
        [(checkin,)] = _sql("SELECT id FROM public.check_ins WHERE user_id = %s LIMIT 1", [patient])
        return cls(base, backfill, clone[0][0] if clone else None, patient, email.split("@")[0], checkin)


@dataclass
class Measured:
    seconds: float
    sql_seconds: float
    queries: int
    #: 8 KB pages the page's statements touched (shared buffers hit or read, EXPLAIN ANALYZE):
    #: the work itself, which a busy machine does not blur as it blurs time.
    pages: int = 0
    note: str = ""


def _pages_touched(statements: list[str]) -> int:
    """Shared buffers (hit + read) of ``statements``, run again under EXPLAIN (ANALYZE, BUFFERS)."""
    import json

    from django.db import connection

    touched = 0
    with connection.cursor() as cursor:
        for sql in statements:
            if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}")
            raw = cursor.fetchone()[0]
            plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
            touched += int(plan.get("Shared Hit Blocks", 0)) + int(plan.get("Shared Read Blocks", 0))
    return touched


def _setup() -> None:
    import django

    django.setup()


def _sql(query: str, params: list | None = None) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchall() if cursor.description else []


def _scratch() -> str:
    """A new database on the project's server, migrated; returns its name."""
    import psycopg
    from django.core.management import call_command
    from django.db import connection

    connection.ensure_connection()
    info = connection.connection.info
    params = {"host": info.host, "port": info.port, "user": info.user, "dbname": "postgres"}
    if connection.settings_dict.get("PASSWORD"):
        params["password"] = connection.settings_dict["PASSWORD"]
    name = f"synthadmin_bench_admin_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    connection.close()
    connection.settings_dict["NAME"] = name
    call_command("migrate", verbosity=0)
    return name


def _drop(name: str) -> None:
    import psycopg
    from django.db import connection

    info = {k: connection.settings_dict.get(k.upper()) for k in ("host", "port", "user", "password")}
    connection.close()
    params = {k: v for k, v in info.items() if v} | {"dbname": "postgres"}
    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _real_patient(checkins: int) -> None:
    user = uuid.uuid4()
    email = f"real-{user.hex[:8]}@example.org"
    _sql(
        "INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password, confirmation_token, "
        "recovery_token, email_change_token_new, email_change, raw_app_meta_data, raw_user_meta_data, "
        "created_at, updated_at) VALUES (%s, %s, 'authenticated', 'authenticated', %s, '', '', '', '', '', "
        '\'{"provider": "email"}\', \'{"role": "patient", "name": "Real Patient"}\', now(), now())',
        [NIL, user, email],
    )
    _sql(
        "INSERT INTO public.profiles (id, email, role, is_test_patient) VALUES (%s, %s, 'patient', false) "
        "ON CONFLICT (id) DO UPDATE SET is_test_patient = false",
        [user, email],
    )
    _sql(
        "INSERT INTO public.check_ins (user_id, checkin_date, mood_data) "
        "SELECT %s, %s::date - n, '{\"energyLevel\": 5}' FROM generate_series(0, %s) n",
        [user, END, checkins - 1],
    )


def _vacuum() -> None:
    _sql("VACUUM (ANALYZE)")


def build_small() -> None:
    """The small population (see the module docstring)."""
    from synthadmin.models import SyntheticUser
    from synthadmin.services.backfill import checkins_backfill
    from synthadmin.services.generation import population_generate
    from synthadmin.services.ledger import Starter
    from synthadmin.services.requests import GenerationRequest

    starter = Starter("os:bench-admin")
    base = population_generate(
        request=GenerationRequest(
            patients=100, therapists=1, checkin_days=365, mix=MIX, seed=10_000, end_date=END
        ),
        started_by=starter,
    )
    patients = list(
        SyntheticUser.objects.filter(run_id=base.run_id, role="patient", state="complete")
        .order_by("id")
        .values_list("user_id", flat=True)
    )
    backfill, _ = checkins_backfill(
        patient_ids=patients[:10], days=30, pattern="depressive", started_by=starter, seed=3
    )
    for _ in range(3):
        _real_patient(30)
    assert backfill is not None
    _vacuum()


def build_big(copies: int) -> None:
    """``copies`` copies of each generated patient of the base run, in a run of their own."""
    from synthadmin.models import SyntheticRun

    _sql("SET statement_timeout = 0")
    ids = Ids.read()
    clone = SyntheticRun.objects.create(
        started_by="os:bench-admin-clone",
        seed=1,
        auth_backend="local",
        status="succeeded",
        parameters={"pattern": "mixed (copies)", "checkin_days": 365},
    )
    [(therapist,)] = _sql(
        "SELECT user_id FROM synthadmin_syntheticuser WHERE run_id = %s AND role = 'therapist'",
        [ids.base_run],
    )
    _sql(
        "CREATE TEMP TABLE clone_map AS SELECT e.user_id AS source, gen_random_uuid() AS target, e.ground_truth, "
        "e.checkins, n FROM synthadmin_syntheticuser e, generate_series(1, %s) n "
        "WHERE e.run_id = %s AND e.state = 'complete' AND e.role = 'patient'",
        [copies, ids.base_run],
    )
    _sql(
        "INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password, confirmation_token, "
        "recovery_token, email_change_token_new, email_change, raw_app_meta_data, raw_user_meta_data, "
        "created_at, updated_at) SELECT %s, target, 'authenticated', 'authenticated', "
        "'clone.' || target || '@example.com', '', '', '', '', '', '{}', "
        '\'{"role": "patient", "name": "Clone Patient"}\', now(), now() FROM clone_map',
        [NIL],
    )
    _sql(
        "INSERT INTO public.profiles (id, email, role, is_test_patient) SELECT target, "
        "'clone.' || target || '@example.com', 'patient', true FROM clone_map "
        "ON CONFLICT (id) DO UPDATE SET is_test_patient = true, email = EXCLUDED.email"
    )
    _sql(
        "INSERT INTO public.therapist_patients (therapist_id, patient_id) SELECT %s, target FROM clone_map",
        [therapist],
    )
    _sql(
        "INSERT INTO synthadmin_syntheticuser (run_id, user_id, email, role, attempt, state, checkins, "
        "ground_truth, failure_reason, never_sent, created_at, updated_at) SELECT %s, target, "
        "'clone.' || target || '@example.com', 'patient', 1, 'complete', checkins, ground_truth, '', false, "
        "now(), now() FROM clone_map",
        [clone.pk],
    )
    for copy in range(1, copies + 1):  # one copy of everyone per statement: moderate transactions
        _sql(
            "INSERT INTO public.check_ins (user_id, checkin_date, sleep_data, mood_data, symptoms_data, "
            "risk_routine_data, appetite_impulse_data, meds_context_data) SELECT m.target, c.checkin_date, "
            "c.sleep_data, c.mood_data, c.symptoms_data, c.risk_routine_data, c.appetite_impulse_data, "
            "c.meds_context_data FROM clone_map m JOIN public.check_ins c ON c.user_id = m.source WHERE m.n = %s",
            [copy],
        )
    _sql("DROP TABLE clone_map")
    _vacuum()


def pages(ids: Ids) -> list[tuple[str, str]]:
    """(name, URL) of every page measured."""
    runs = [("base run", ids.base_run), ("add-days run", ids.backfill_run)]
    if ids.clone_run:
        runs.append(("copies run", ids.clone_run))
    checkins = "/admin/checkins/checkin/"
    profiles = "/admin/profiles/profile/"
    users = "/admin/synthadmin/syntheticuser/"
    runs_list = "/admin/synthadmin/syntheticrun/"
    found = [
        ("check-ins", checkins),
        ("check-ins: test patient yes", f"{checkins}?test_patient=yes"),
        ("check-ins: test patient no", f"{checkins}?test_patient=no"),
        *((f"check-ins: {name}", f"{checkins}?run={run}") for name, run in runs),
        *((f"check-ins: state {state}", f"{checkins}?state={state}") for state in STATES),
        ("check-ins: year 2026", f"{checkins}?checkin_date__year=2026"),
        ("check-ins: March 2026", f"{checkins}?checkin_date__year=2026&checkin_date__month=3"),
        (
            "check-ins: 4 March 2026",
            f"{checkins}?checkin_date__year=2026&checkin_date__month=3&checkin_date__day=4",
        ),
        ("check-ins: search a patient", f"{checkins}?q={ids.search}"),
        ("check-ins: page 2", f"{checkins}?p=2"),
        ("check-ins: last page (100)", f"{checkins}?p=100"),
        ("profiles", profiles),
        ("profiles: test patient yes", f"{profiles}?test_patient=yes"),
        ("profiles: test patient no", f"{profiles}?test_patient=no"),
        ("profiles: role patient", f"{profiles}?role__exact=patient"),
        ("profiles: role therapist", f"{profiles}?role__exact=therapist"),
        *((f"profiles: {name}", f"{profiles}?run={run}") for name, run in runs),
        ("profiles: search a patient", f"{profiles}?q={ids.search}"),
        ("profiles: page 2", f"{profiles}?p=2"),
        ("synthetic users", users),
        ("synthetic users: state complete", f"{users}?state__exact=complete"),
        ("synthetic users: state failed", f"{users}?state__exact=failed"),
        ("synthetic users: role therapist", f"{users}?role__exact=therapist"),
        ("synthetic users: run kind extend", f"{users}?run__kind__exact=extend"),
        ("synthetic users: facets", f"{users}?_facets=1"),
        ("runs", runs_list),
        ("runs: status succeeded", f"{runs_list}?status=succeeded"),
        ("runs: kind extend", f"{runs_list}?kind__exact=extend"),
        ("runs: facets", f"{runs_list}?_facets=1"),
        ("scenarios", "/admin/synthadmin/scenario/"),
        ("patient page", f"{profiles}{ids.patient}/change/"),
        ("check-in page", f"{checkins}{ids.checkin}/change/"),
        ("run page: base run", f"{runs_list}{ids.base_run}/change/"),
    ]
    if ids.clone_run:
        found.append(("run page: copies run", f"{runs_list}{ids.clone_run}/change/"))
    return found


def measure(url: str, rounds: int) -> Measured:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="localhost")
    client.force_login(User.objects.get(username="bench"))
    client.get(url)  # warm-up: caches, the catalog read, the buffer cache
    times, sql_times, counts, note = [], [], [], ""
    for _ in range(rounds):
        with CaptureQueriesContext(connection) as captured:
            began = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - began)
        sql_times.append(sum(float(q["time"]) for q in captured.captured_queries))
        counts.append(len(captured))
        if response.status_code != 200:
            note = f"status {response.status_code}"
        elif b'id="query-cancelled"' in response.content:
            note = "TIMED OUT"
    statements = [q["sql"] for q in captured.captured_queries]
    return Measured(min(times), min(sql_times), max(counts), _pages_touched(statements), note)


#: What ``--viewer`` grants instead of a superuser: every list and page, not real patients.
VIEWER_PERMISSIONS = (
    "view_profile",
    "view_checkin",
    "view_syntheticrun",
    "view_syntheticuser",
    "view_scenario",
)


def measure_all(rounds: int, *, viewer: bool = False) -> dict[str, Measured]:
    from django.contrib.auth.models import Permission, User
    from django.db import connection

    from synthadmin.middleware import web_process_mark

    User.objects.filter(username="bench").delete()
    if viewer:  # staff without synthadmin.view_real_patients: every list holds synthetic users only
        user = User.objects.create_user("bench", "bench@example.com", "bench-password", is_staff=True)
        user.user_permissions.set(Permission.objects.filter(codename__in=VIEWER_PERMISSIONS))
    else:
        User.objects.create_superuser("bench", "bench@example.com", "bench-password")
    connection.close()  # the next connection opens as a web process's does: with its limits
    web_process_mark()
    return {name: measure(url, rounds) for name, url in pages(Ids.read())}


def before(label: str) -> dict[str, str]:
    """What the pages used to send, timed as raw SQL (60 s limit each)."""
    statements = {
        "exact count (every list page)": "SELECT count(*) FROM public.check_ins",
        "state filter from JSON (count)": (
            "SELECT count(*) FROM public.check_ins c WHERE (SELECT s.value ->> 0 FROM ("
            "SELECT e.ground_truth FROM synthadmin_syntheticuser e WHERE e.user_id = c.user_id "
            "AND e.state = 'complete' UNION ALL SELECT a.ground_truth FROM synthadmin_checkinaddition a "
            "WHERE a.user_id = c.user_id AND a.removed_at IS NULL) g, jsonb_array_elements(g.ground_truth -> "
            "'states') s WHERE c.checkin_date BETWEEN (s.value ->> 1)::date AND (s.value ->> 2)::date LIMIT 1) "
            "= 'manic'"
        ),
        "date navigation, all years": "SELECT DISTINCT date_trunc('year', checkin_date) FROM public.check_ins",
    }
    found = {}
    _sql("SET statement_timeout = '60s'; SET max_parallel_workers_per_gather = 2")
    for name, query in statements.items():
        began = time.perf_counter()
        try:
            _sql(query)
            found[name] = f"{(time.perf_counter() - began) * 1000:,.0f} ms"
        except Exception:
            found[name] = "> 60 s (cancelled)"
    _sql("SET statement_timeout = 0")
    print(f"  before, {label}: " + "; ".join(f"{k} {v}" for k, v in found.items()))
    return found


def report(small: dict[str, Measured], big: dict[str, Measured], sizes: dict[str, tuple[int, int]]) -> None:
    if not small:  # --reuse: one size
        for name, only in big.items():
            print(
                f"{name:38} {only.queries:>3} {only.seconds * 1000:>8.1f} ms {only.pages:>8,} pages {only.note}"
            )
        return
    print()
    print(
        f"{'page':38} {'stmts':>5} {'small ms':>9} {'big ms':>8} {'growth':>7}"
        f" {'small pages':>12} {'big pages':>10} {'growth':>7}"
    )
    growths, work = [], []
    for name, s in small.items():
        b = big[name]
        growth, pages = b.seconds / s.seconds, b.pages / max(s.pages, 1)
        growths.append((growth, name))
        work.append((pages, name))
        flag = f"  {b.note or s.note}" if (b.note or s.note) else ""
        print(
            f"{name:38} {b.queries:>5} {s.seconds * 1000:>9.1f} {b.seconds * 1000:>8.1f} {growth:>6.2f}x"
            f" {s.pages:>12,} {b.pages:>10,} {pages:>6.2f}x{flag}"
        )
    for name, only in big.items():
        if name not in small:  # a page of the big size alone (the copies' run)
            print(
                f"{name:38} {only.queries:>5} {'':>9} {only.seconds * 1000:>8.1f} {'':>7} {'':>12} {only.pages:>10,}"
            )
    print()
    for label, (checkins, profiles) in sizes.items():
        print(f"{label}: {checkins:,} check-ins, {profiles:,} profiles")
    for label, found in (("time", growths), ("pages touched", work)):
        worst = max(found)
        within = sum(1 for g, _ in found if g < 2)
        print(
            f"growth big/small, {label}: median {statistics.median(g for g, _ in found):.2f}x, worst "
            f"{worst[0]:.2f}x ({worst[1]}); {within} of {len(found)} pages under 2x (goal: all)"
        )


def _sizes() -> tuple[int, int]:
    [(checkins, profiles)] = _sql(
        "SELECT (SELECT count(*) FROM public.check_ins), (SELECT count(*) FROM public.profiles)"
    )
    return int(checkins), int(profiles)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=99, help="copies of each patient for the big size")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before", action="store_true", help="also time what the pages used to run")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--viewer",
        action="store_true",
        help="fetch as staff who may see every list but not real patients (default: a superuser)",
    )
    parser.add_argument(
        "--reuse", metavar="DATABASE", help="measure a database kept by --keep (big size only)"
    )
    args = parser.parse_args()
    _setup()
    if args.reuse:
        from django.db import connection

        connection.settings_dict["NAME"] = args.reuse
        print(f"{args.reuse}: {_sizes()[0]:,} check-ins")
        report({}, measure_all(args.rounds, viewer=args.viewer), {"big": _sizes()})
        return
    name = _scratch()
    print(f"scratch database {name}")
    try:
        began = time.perf_counter()
        build_small()
        sizes = {"small": _sizes()}
        print(f"small population built in {time.perf_counter() - began:.0f} s")
        if args.before:
            before("small")
        small = measure_all(args.rounds, viewer=args.viewer)
        began = time.perf_counter()
        build_big(args.copies)
        sizes["big"] = _sizes()
        print(f"big population built in {time.perf_counter() - began:.0f} s")
        if args.before:
            before("big")
        from django.db import connection

        connection.close()
        report(small, measure_all(args.rounds, viewer=args.viewer), sizes)
    finally:
        if not args.keep:
            _drop(name)


if __name__ == "__main__":
    main()
