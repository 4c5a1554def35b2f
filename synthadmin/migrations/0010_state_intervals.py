"""Ground truth in a form an index serves: ``synthadmin_stateinterval``, kept by triggers.

The admin's check-ins list shows and filters by the ground-truth state of each check-in's day.
Reading it from the stored JSON meant expanding every ledger entry's ``states`` for every
check-in (6 s for one filter at 341,000 check-ins, growing with the table). Here the same truth
is stored as rows ``(user_id, state, first_day, last_day)`` with two indexes, joined to
``public.check_ins`` on ``(user_id, checkin_date)`` (the app's own unique index serves that
side). Everything is in synthadmin's own schema; nothing of the app's tables changes.

A row trigger on each ledger table rewrites one user's intervals whenever that user's stored
truth changes: a ``complete`` entry (``SyntheticUser.ground_truth``, or the entry becoming or
ceasing to be ``complete``) or an addition still in place (``CheckinAddition.ground_truth``,
``removed_at``), inserts and deletes included. The write path of the services is untouched.
Where two windows overlap, the later source wins (entries before additions, then by id): a
backfill over a patient's missed first days wrote the check-ins of those days, so its truth is
theirs. A day therefore has at most one interval. Existing rows are backfilled here.
"""

import django.db.models.deletion
from django.db import migrations, models

SCHEMA = "synthadmin"
#: The first key of the per-user advisory lock of a refresh (two-int form: its own key space).
INTERVALS_LOCK = 1400204617

#: ``YYYY-MM-DD`` → the date, anything else → NULL, never an error: a stored truth that is not
#: what synthadmin writes must not make the ledger write that carries it fail.
ISO_DATE = f"""
CREATE OR REPLACE FUNCTION {SCHEMA}.synthadmin_iso_date(value text) RETURNS date
LANGUAGE sql IMMUTABLE AS $body$
    -- Nested CASEs: each test runs only once the one before it holds (AND has no such order).
    SELECT CASE WHEN value ~ '^[0-9]{{4}}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$' THEN
        CASE WHEN substr(value, 1, 4) <> '0000'
              AND to_char(make_date(substr(value, 1, 4)::int, substr(value, 6, 2)::int, 1)
                          + (substr(value, 9, 2)::int - 1), 'YYYY-MM-DD') = value
        THEN value::date END
    END
$body$
"""

REFRESH = f"""
CREATE OR REPLACE FUNCTION {SCHEMA}.synthadmin_state_intervals_refresh(target uuid) RETURNS void
LANGUAGE sql AS $body$
    -- One refresh of a user at a time: a second waits for the first's transaction, then its
    -- DELETE (a new snapshot) sees and replaces the first's rows instead of adding to them.
    SELECT pg_advisory_xact_lock({INTERVALS_LOCK}, hashtext(target::text));
    DELETE FROM {SCHEMA}.synthadmin_stateinterval WHERE user_id = target;
    INSERT INTO {SCHEMA}.synthadmin_stateinterval (user_id, state, first_day, last_day, source, source_id)
    WITH sources AS (
        SELECT 'entry' AS source, 0 AS rank, e.id AS source_id, e.ground_truth -> 'states' AS states
        FROM {SCHEMA}.synthadmin_syntheticuser e
        WHERE e.user_id = target AND e.state = 'complete'
        UNION ALL
        SELECT 'addition', 1, a.id, a.ground_truth -> 'states'
        FROM {SCHEMA}.synthadmin_checkinaddition a
        WHERE a.user_id = target AND a.removed_at IS NULL
    ), parsed AS (
        SELECT s.source, s.rank, s.source_id, r.value ->> 0 AS state,
               {SCHEMA}.synthadmin_iso_date(r.value ->> 1) AS first_day,
               {SCHEMA}.synthadmin_iso_date(r.value ->> 2) AS last_day
        FROM sources s
        CROSS JOIN LATERAL jsonb_array_elements(
            CASE jsonb_typeof(s.states) WHEN 'array' THEN s.states ELSE '[]'::jsonb END
        ) r
        WHERE jsonb_typeof(r.value) = 'array'
    ), runs AS (
        SELECT source, rank, source_id, state, daterange(first_day, last_day, '[]') AS days
        FROM parsed
        WHERE state IS NOT NULL AND first_day IS NOT NULL AND last_day IS NOT NULL
          AND first_day <= last_day
    ), ranked AS (
        SELECT runs.*, range_agg(days) OVER (
            ORDER BY rank DESC, source_id DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS later
        FROM runs
    )
    SELECT target, state, lower(piece), upper(piece) - 1, source, source_id
    FROM ranked
    CROSS JOIN LATERAL unnest(datemultirange(days) - coalesce(later, '{{}}'::datemultirange)) piece
$body$
"""  # noqa: S608 - constant names, no values

FOLLOW_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {SCHEMA}.synthadmin_state_intervals_follow() RETURNS trigger
LANGUAGE plpgsql AS $body$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM {SCHEMA}.synthadmin_state_intervals_refresh(OLD.user_id);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.user_id IS DISTINCT FROM OLD.user_id) THEN
        PERFORM {SCHEMA}.synthadmin_state_intervals_refresh(NEW.user_id);
    END IF;
    RETURN NULL;
END
$body$
"""

ENTRY = f"{SCHEMA}.synthadmin_syntheticuser"
ADDITION = f"{SCHEMA}.synthadmin_checkinaddition"
FOLLOW = f"EXECUTE FUNCTION {SCHEMA}.synthadmin_state_intervals_follow()"

TRIGGERS = [
    f"CREATE TRIGGER synthadmin_intervals_entry_insert AFTER INSERT ON {ENTRY} "
    f"FOR EACH ROW WHEN (NEW.state = 'complete') {FOLLOW}",
    f"CREATE TRIGGER synthadmin_intervals_entry_update AFTER UPDATE ON {ENTRY} "
    "FOR EACH ROW WHEN ((OLD.state = 'complete' OR NEW.state = 'complete') "
    "AND (OLD.state IS DISTINCT FROM NEW.state OR OLD.user_id IS DISTINCT FROM NEW.user_id "
    f"OR OLD.ground_truth IS DISTINCT FROM NEW.ground_truth)) {FOLLOW}",
    f"CREATE TRIGGER synthadmin_intervals_entry_delete AFTER DELETE ON {ENTRY} "
    f"FOR EACH ROW WHEN (OLD.state = 'complete') {FOLLOW}",
    f"CREATE TRIGGER synthadmin_intervals_addition_insert AFTER INSERT ON {ADDITION} "
    f"FOR EACH ROW WHEN (NEW.removed_at IS NULL) {FOLLOW}",
    f"CREATE TRIGGER synthadmin_intervals_addition_update AFTER UPDATE ON {ADDITION} "
    "FOR EACH ROW WHEN ((OLD.removed_at IS NULL OR NEW.removed_at IS NULL) "
    "AND (OLD.removed_at IS DISTINCT FROM NEW.removed_at OR OLD.user_id IS DISTINCT FROM NEW.user_id "
    f"OR OLD.ground_truth IS DISTINCT FROM NEW.ground_truth)) {FOLLOW}",
    f"CREATE TRIGGER synthadmin_intervals_addition_delete AFTER DELETE ON {ADDITION} "
    f"FOR EACH ROW WHEN (OLD.removed_at IS NULL) {FOLLOW}",
]

BACKFILL = (
    f"SELECT {SCHEMA}.synthadmin_state_intervals_refresh(user_id) FROM ("  # noqa: S608 - constant names
    f"SELECT user_id FROM {ENTRY} WHERE state = 'complete' "
    f"UNION SELECT user_id FROM {ADDITION} WHERE removed_at IS NULL) users"
)

REMOVE = [
    *(
        f"DROP TRIGGER IF EXISTS synthadmin_intervals_{name} ON {table}"
        for table, prefix in ((ENTRY, "entry"), (ADDITION, "addition"))
        for name in (f"{prefix}_insert", f"{prefix}_update", f"{prefix}_delete")
    ),
    f"DROP FUNCTION IF EXISTS {SCHEMA}.synthadmin_state_intervals_follow()",
    f"DROP FUNCTION IF EXISTS {SCHEMA}.synthadmin_state_intervals_refresh(uuid)",
    f"DROP FUNCTION IF EXISTS {SCHEMA}.synthadmin_iso_date(text)",
]


class Migration(migrations.Migration):
    dependencies = [
        ("synthadmin", "0009_ledger_never_sent"),
        ("profiles", "0003_profile_any_shape"),
    ]

    operations = [
        migrations.CreateModel(
            name="StateInterval",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("user_id", models.UUIDField()),
                (
                    "profile",
                    models.ForeignObject(
                        from_fields=["user_id"],
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="state_intervals",
                        related_query_name="state_interval",
                        to="profiles.profile",
                        to_fields=["id"],
                    ),
                ),
                ("state", models.TextField()),
                ("first_day", models.DateField()),
                ("last_day", models.DateField()),
                (
                    "source",
                    models.CharField(
                        choices=[("entry", "Generating ledger entry"), ("addition", "Added check-in days")],
                        max_length=16,
                    ),
                ),
                ("source_id", models.BigIntegerField()),
            ],
            options={
                "verbose_name": "ground-truth state interval",
                "ordering": ["user_id", "first_day"],
                "default_permissions": (),
                "indexes": [
                    models.Index(
                        fields=["user_id", "first_day"],
                        include=("last_day", "state"),
                        name="synthadmin_interval_user_day",
                    ),
                    models.Index(
                        fields=["state", "user_id", "first_day"],
                        include=("last_day",),
                        name="synthadmin_interval_state",
                    ),
                ],
            },
        ),
        migrations.RunSQL([ISO_DATE, REFRESH, FOLLOW_FUNCTION, *TRIGGERS, BACKFILL], REMOVE),
    ]
