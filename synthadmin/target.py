"""The target database as its catalog describes it: what synthadmin may assume, read, not guessed.

Supabase projects differ exactly where synthadmin writes (``docs/target-schema.md``): how a
patient is linked to a therapist (a junction table, a ``profiles.therapist_id`` column, or
nothing), whether a signup trigger on ``auth.users`` creates the profile, which optional
columns ``profiles`` has (``source``, soft delete, a nullable ``email``), which roles its CHECK
allows, and which tables hang off ``auth.users`` / ``profiles`` with which ON DELETE rule.
``target_read`` reads all of that from ``pg_catalog`` in one round trip into a frozen
``Target``; services take what they need from it, and nothing else hard-codes a column that
may be missing. ``target_get`` caches it per process: the admin for a minute, a run and the checks
before it share one read (``RUN_MAX_AGE``).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from psycopg import sql

from synthadmin.content import PAYLOAD_COLUMNS
from synthadmin.db.pipeline import statements_pipelined


class TableName(NamedTuple):
    """A schema-qualified table name."""

    schema: str
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def sql(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)


AUTH_USERS = TableName("auth", "users")
PROFILES = TableName("public", "profiles")
CHECK_INS = TableName("public", "check_ins")

#: Columns of ``profiles`` synthadmin fills when it writes a profile (where they exist).
PROFILE_WRITTEN_COLUMNS = frozenset(
    {"id", "role", "username", "email", "is_test_patient", "source", "therapist_id"}
)
#: Columns of ``profiles`` synthadmin fills with a value of each user's own: the id (a fresh
#: uuid4), the e-mail and the username (run tag and number, ``profiles.identities``; the username
#: so only where a unique index asks for it, ``Target.unique_usernames``). The other written
#: columns hold values many users share (role, flag, source, therapist).
PROFILE_UNIQUE_COLUMNS = frozenset({"id", "email", "username"})
#: Columns of ``check_ins`` synthadmin fills: who, which day, and the payload.
CHECK_IN_WRITTEN_COLUMNS = frozenset({"user_id", "checkin_date", *PAYLOAD_COLUMNS})
#: What tells two check-ins synthadmin writes apart: the patient and the day, together.
CHECK_IN_ROW_KEY = frozenset({"user_id", "checkin_date"})

_ON_DELETE = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    data_type: str
    nullable: bool
    has_default: bool
    generated: bool

    @property
    def must_be_given(self) -> bool:
        """NOT NULL with nothing that fills it: an INSERT has to name it."""
        return not self.nullable and not self.has_default and not self.generated


@dataclass(frozen=True)
class UniqueIndex:
    """A unique index (or primary key, or unique constraint) on a table synthadmin writes.

    ``columns``: the columns its key uses (for an expression key, every column the index's
    expressions and predicate name). ``partial``: it has a WHERE clause (only some rows must
    differ). ``nulls_distinct``: two NULLs do not collide (PostgreSQL's default; ``NULLS NOT
    DISTINCT`` since 15 says otherwise).
    """

    name: str
    columns: frozenset[str]
    partial: bool = False
    nulls_distinct: bool = True

    def __str__(self) -> str:
        return f"({', '.join(sorted(self.columns))}) [{self.name}]"


@dataclass(frozen=True)
class ForeignKey:
    """One foreign key constraint: ``table(columns) REFERENCES ref_table(ref_columns) ON DELETE``."""

    name: str
    table: TableName
    columns: tuple[str, ...]
    ref_table: TableName
    ref_columns: tuple[str, ...]
    on_delete: str  # CASCADE, SET NULL, SET DEFAULT, RESTRICT or NO ACTION

    @property
    def references_a_user(self) -> bool:
        """A single-column reference to a user's id (``auth.users.id`` or ``profiles.id``)."""
        return (
            self.ref_table in (AUTH_USERS, PROFILES)
            and self.ref_columns == ("id",)
            and len(self.columns) == 1
        )


@dataclass(frozen=True)
class TherapistLink:
    """Where a patient's therapist is kept. Both may exist; writes go to every one that does."""

    junction: TableName | None = None
    junction_therapist_column: str = "therapist_id"
    junction_patient_column: str = "patient_id"
    column: str | None = None  # a column of profiles (early shape: therapist_id)

    @property
    def kind(self) -> str:
        """``junction``, ``column`` or ``none`` (the junction wins when both exist)."""
        return "junction" if self.junction else ("column" if self.column else "none")

    def __str__(self) -> str:
        if self.junction:
            return f"junction table {self.junction}"
        if self.column:
            return f"column profiles.{self.column}"
        return "none"


@dataclass(frozen=True)
class _WrittenTable:
    """A table synthadmin writes: its columns, those synthadmin fills, and the column sets that
    tell two of synthadmin's rows apart."""

    table: TableName
    all_columns: Mapping[str, ColumnInfo]
    columns: frozenset[str]
    row_keys: tuple[frozenset[str], ...]


@dataclass(frozen=True)
class Target:
    """What the connected database has, as far as synthadmin is concerned."""

    has_profiles: bool
    has_check_ins: bool
    profile_columns: Mapping[str, ColumnInfo] = field(default_factory=dict)
    check_in_columns: Mapping[str, ColumnInfo] = field(default_factory=dict)
    junction_columns: Mapping[str, ColumnInfo] = field(default_factory=dict)
    #: The unique indexes of ``profiles``, ``check_ins`` and the therapist junction, by table.
    unique_indexes: Mapping[TableName, tuple[UniqueIndex, ...]] = field(default_factory=dict)
    role_values: frozenset[str] | None = None  # None: no CHECK or enum restricts profiles.role
    #: The AFTER INSERT / UPDATE triggers on ``auth.users`` (enabled), by name: what may make a
    #: user's profile (at signup, or when the e-mail is confirmed). Read from ``pg_trigger``
    #: alone: what a trigger's function does is not read (it may call a helper that inserts).
    signup_triggers: tuple[str, ...] = ()
    therapist_link: TherapistLink = TherapistLink()
    foreign_keys: tuple[ForeignKey, ...] = ()
    unreadable: frozenset[TableName] = frozenset()

    # --- what a writer asks ----------------------------------------------------------------
    @property
    def has_flag(self) -> bool:
        return "is_test_patient" in self.profile_columns

    @property
    def has_source(self) -> bool:
        return "source" in self.profile_columns

    @property
    def has_soft_delete(self) -> bool:
        return "deleted_at" in self.profile_columns

    @property
    def email_nullable(self) -> bool:
        column = self.profile_columns.get("email")
        return column is None or column.nullable

    @property
    def has_signup_trigger(self) -> bool:
        """An AFTER INSERT or UPDATE trigger on ``auth.users`` exists: it may make the profile row
        (synthadmin then takes the row over) and fill columns synthadmin does not write. Whether
        it does is not read from its text; a run finds out."""
        return bool(self.signup_triggers)

    def unfillable_profile_columns(self) -> list[str]:
        """NOT NULL columns of ``profiles`` without default that synthadmin does not write, when
        no signup trigger (``has_signup_trigger``) may fill them: ``[]`` when one exists."""
        return [] if self.has_signup_trigger else self._unwritten_required_profile_columns()

    def trigger_filled_profile_columns(self) -> list[str]:
        """The same columns when a signup trigger exists: it must fill them, and whether it does
        is not read (``has_signup_trigger``); ``[]`` when none exists."""
        return self._unwritten_required_profile_columns() if self.has_signup_trigger else []

    def _unwritten_required_profile_columns(self) -> list[str]:
        return sorted(
            name
            for name, column in self.profile_columns.items()
            if column.must_be_given and name not in PROFILE_WRITTEN_COLUMNS
        )

    def unfillable_junction_columns(self) -> list[str]:
        link = self.therapist_link
        given = {link.junction_therapist_column, link.junction_patient_column}
        return sorted(
            name
            for name, column in self.junction_columns.items()
            if column.must_be_given and name not in given
        )

    def unfillable_check_in_columns(self) -> list[str]:
        """NOT NULL columns of ``check_ins`` without default that synthadmin does not write."""
        return sorted(
            name
            for name, column in self.check_in_columns.items()
            if column.must_be_given and name not in CHECK_IN_WRITTEN_COLUMNS
        )

    @property
    def unique_usernames(self) -> bool:
        """Whether ``profiles.username`` must differ between users: a unique index (partial or
        not, alone or with other columns) uses it. Usernames then carry the run tag and number."""
        return any("username" in index.columns for index in self.unique_indexes.get(PROFILES, ()))

    def unfillable_unique_indexes(self) -> list[str]:
        """Unique indexes two rows synthadmin writes would break: ``table (columns) [index]``.

        An index holds when one of its columns gets a value of each row's own (the profile's id,
        e-mail, username; the check-in's patient and day together; the junction's patient), or is
        one synthadmin leaves to the database: a column with a default (a sequence,
        ``gen_random_uuid()``), a nullable one (NULLs do not collide, unless ``NULLS NOT
        DISTINCT``), or, on ``profiles`` with a signup trigger, any column the trigger may fill.
        Partial indexes are not judged (their WHERE clause may leave synthadmin's rows out).
        """
        broken = []
        for written in self._written_tables():
            for index in self.unique_indexes.get(written.table, ()):
                if not (index.partial or self._index_holds(index, written)):
                    broken.append(f"{written.table} {index}")
        return sorted(broken)

    def _written_tables(self) -> list[_WrittenTable]:
        link = self.therapist_link
        tables = [
            _WrittenTable(
                PROFILES,
                self.profile_columns,
                PROFILE_WRITTEN_COLUMNS,
                tuple(frozenset({name}) for name in PROFILE_UNIQUE_COLUMNS),
            ),
            _WrittenTable(CHECK_INS, self.check_in_columns, CHECK_IN_WRITTEN_COLUMNS, (CHECK_IN_ROW_KEY,)),
        ]
        if link.junction is not None:
            pair = frozenset({link.junction_therapist_column, link.junction_patient_column})
            row_key = frozenset({link.junction_patient_column})
            tables.append(_WrittenTable(link.junction, self.junction_columns, pair, (row_key,)))
        return tables

    def _index_holds(self, index: UniqueIndex, written: _WrittenTable) -> bool:
        if any(key <= index.columns for key in written.row_keys):
            return True
        for name in index.columns - written.columns:
            column = written.all_columns.get(name)
            if column is None:
                continue
            if column.has_default or column.generated or (column.nullable and index.nulls_distinct):
                return True
            if written.table == PROFILES and self.has_signup_trigger:
                return True
        return False

    # --- what purge asks -------------------------------------------------------------------
    def references_to(self, table: TableName) -> Iterator[ForeignKey]:
        return (fk for fk in self.foreign_keys if fk.ref_table == table)

    def user_reference_columns(self, table: TableName) -> list[str]:
        """Columns of ``table`` that hold a user's id (by foreign key to auth.users or profiles)."""
        return sorted(
            {fk.columns[0] for fk in self.foreign_keys if fk.table == table and fk.references_a_user}
        )


# --- reading the catalog --------------------------------------------------------------------
#: Tables a therapist junction may be: those with a foreign key to a user (auth.users, profiles).
_USER_TABLES = """
    SELECT conrelid FROM pg_constraint
    WHERE contype = 'f' AND confrelid IN (to_regclass('auth.users'), to_regclass('public.profiles'))
"""
#: The columns of profiles, check_ins and every table that references a user.
_COLUMNS = f"""
    SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
           a.atthasdef OR a.attidentity <> '', a.attgenerated <> ''
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE (a.attrelid IN (to_regclass('public.profiles'), to_regclass('public.check_ins'))
           OR a.attrelid IN ({_USER_TABLES}))
      AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY n.nspname, c.relname, a.attnum
"""  # noqa: S608 - constants only
_FOREIGN_KEYS = """
    SELECT c.conname, cn.nspname, cl.relname,
           ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i),
           rn.nspname, rcl.relname,
           ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
                 JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i),
           c.confdeltype,
           has_table_privilege(c.conrelid, 'SELECT')
    FROM pg_constraint c
    JOIN pg_class cl ON cl.oid = c.conrelid JOIN pg_namespace cn ON cn.oid = cl.relnamespace
    JOIN pg_class rcl ON rcl.oid = c.confrelid JOIN pg_namespace rn ON rn.oid = rcl.relnamespace
    WHERE c.contype = 'f' AND c.conparentid = 0
    ORDER BY cn.nspname, cl.relname, c.conname
"""
#: The unique indexes of profiles, check_ins and every table that references a user.
_UNIQUE_INDEXES = f"""
    SELECT n.nspname, t.relname, c.relname, i.indpred IS NOT NULL,
           NOT coalesce((to_jsonb(i) ->> 'indnullsnotdistinct')::boolean, false),
           ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(n, pos)
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n
                 WHERE k.pos <= i.indnkeyatts),
           0 = ANY (i.indkey::int2[]),
           ARRAY(SELECT a.attname FROM pg_depend d
                 JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                 WHERE d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid
                   AND d.refobjid = i.indrelid AND d.refobjsubid > 0)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE (i.indrelid IN (to_regclass('public.profiles'), to_regclass('public.check_ins'))
           OR i.indrelid IN ({_USER_TABLES}))
      AND i.indisunique
    ORDER BY n.nspname, t.relname, c.relname
"""  # noqa: S608 - constants only
#: The primary keys and unique constraints of every table that references a user.
_UNIQUE_SETS = f"""
    SELECT n.nspname, cl.relname,
           ARRAY(SELECT a.attname FROM unnest(c.conkey) k(n)
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n)
    FROM pg_constraint c
    JOIN pg_class cl ON cl.oid = c.conrelid JOIN pg_namespace n ON n.oid = cl.relnamespace
    WHERE c.conrelid IN ({_USER_TABLES}) AND c.contype IN ('p', 'u')
"""  # noqa: S608 - constants only
#: The enabled AFTER INSERT / UPDATE triggers on auth.users (``tgtype``: BEFORE 2 and INSTEAD
#: 64 unset, INSERT 4 or UPDATE 16 set); their functions' text is not read.
_SIGNUP_TRIGGERS = """
    SELECT t.tgname
    FROM pg_trigger t
    WHERE t.tgrelid = to_regclass('auth.users') AND NOT t.tgisinternal
      AND t.tgenabled <> 'D' AND (t.tgtype::int & 66) = 0 AND (t.tgtype::int & 20) <> 0
    ORDER BY t.tgname
"""
_ROLE_CHECKS = """
    SELECT pg_get_constraintdef(c.oid)
    FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attname = 'role'
    WHERE c.conrelid = to_regclass('public.profiles') AND c.contype = 'c' AND c.conkey = ARRAY[a.attnum]
"""
_ROLE_ENUM = """
    SELECT e.enumlabel FROM pg_attribute a JOIN pg_enum e ON e.enumtypid = a.atttypid
    WHERE a.attrelid = to_regclass('public.profiles') AND a.attname = 'role' ORDER BY e.enumsortorder
"""
_CATALOG = (
    _COLUMNS,
    _FOREIGN_KEYS,
    _UNIQUE_INDEXES,
    _UNIQUE_SETS,
    _SIGNUP_TRIGGERS,
    _ROLE_ENUM,
    _ROLE_CHECKS,
)
_QUOTED_LITERAL = re.compile(r"'((?:[^']|'')*)'")


def target_read(using: str = "default") -> Target:
    """Read the target from the catalog of database ``using``: a few catalog queries sent
    together (one round trip), each bounded by the tables synthadmin writes and those that
    reference a user; writes nothing."""
    answers = statements_pipelined([(query, None) for query in _CATALOG], using=using)
    columns_rows, fk_rows, index_rows, set_rows, trigger_rows, enum_rows, check_rows = (
        a.rows for a in answers
    )
    columns = _columns(columns_rows)
    profile_columns = columns.get(PROFILES, {})
    foreign_keys, unreadable = _foreign_keys(fk_rows)
    unique_sets: dict[TableName, set[frozenset[str]]] = {}
    for schema, table, keys in set_rows:
        unique_sets.setdefault(TableName(schema, table), set()).add(frozenset(keys))
    link = _therapist_link(unique_sets, foreign_keys, profile_columns)
    indexes = _unique_indexes(index_rows)
    written = [PROFILES, CHECK_INS, *([link.junction] if link.junction else [])]
    return Target(
        has_profiles=bool(profile_columns),
        has_check_ins=bool(columns.get(CHECK_INS)),
        profile_columns=profile_columns,
        check_in_columns=columns.get(CHECK_INS, {}),
        junction_columns=columns.get(link.junction, {}) if link.junction else {},
        unique_indexes={table: indexes.get(table, ()) for table in written},
        role_values=_role_values(enum_rows, check_rows) if profile_columns else None,
        signup_triggers=tuple(name for (name,) in trigger_rows),
        therapist_link=link,
        foreign_keys=foreign_keys,
        unreadable=unreadable,
    )


_cache: dict[str, tuple[float, Target]] = {}
_cache_lock = threading.Lock()
#: How long the admin may reuse what it read.
CACHE_SECONDS = 60.0
#: How old a catalog a run may use: what this process read that recently (a command's system
#: checks, which always read it, just before its run) is not read again; a web or worker
#: process's older one is. Once per process for a command, at most once per run elsewhere.
RUN_MAX_AGE = 10.0


def target_get(using: str = "default", *, refresh: bool = False, max_age: float | None = None) -> Target:
    """The target of ``using``, read at most every ``max_age`` seconds (default
    ``CACHE_SECONDS``) unless ``refresh``."""
    now = time.monotonic()
    limit = CACHE_SECONDS if max_age is None else max_age
    with _cache_lock:
        cached = _cache.get(using)
        if cached is not None and not refresh and now - cached[0] < limit:
            return cached[1]
    target = target_read(using)
    with _cache_lock:
        _cache[using] = (now, target)
    return target


def target_cache_clear() -> None:
    """Forget what was read (after the schema changed: migrate, tests that swap shapes)."""
    with _cache_lock:
        _cache.clear()


def _columns(rows: list[tuple[Any, ...]]) -> dict[TableName, dict[str, ColumnInfo]]:
    tables: dict[TableName, dict[str, ColumnInfo]] = {}
    for schema, table, name, dtype, nullable, has_default, generated in rows:
        tables.setdefault(TableName(schema, table), {})[name] = ColumnInfo(
            name, dtype, bool(nullable), bool(has_default), bool(generated)
        )
    return tables


def _unique_indexes(rows: list[tuple[Any, ...]]) -> dict[TableName, tuple[UniqueIndex, ...]]:
    tables: dict[TableName, list[UniqueIndex]] = {}
    for schema, table, name, partial, nulls_distinct, keys, expression, named in rows:
        tables.setdefault(TableName(schema, table), []).append(
            UniqueIndex(
                name=name,
                # An expression key counts every column its expressions (and predicate) name.
                columns=frozenset(keys) | (frozenset(named) if expression else frozenset()),
                partial=bool(partial),
                nulls_distinct=bool(nulls_distinct),
            )
        )
    return {table: tuple(indexes) for table, indexes in tables.items()}


def _foreign_keys(rows: list[tuple[Any, ...]]) -> tuple[tuple[ForeignKey, ...], frozenset[TableName]]:
    keys: list[ForeignKey] = []
    unreadable: set[TableName] = set()
    for name, schema, table, columns, ref_schema, ref_table, ref_columns, deltype, readable in rows:
        fk = ForeignKey(
            name=name,
            table=TableName(schema, table),
            columns=tuple(columns),
            ref_table=TableName(ref_schema, ref_table),
            ref_columns=tuple(ref_columns),
            on_delete=_ON_DELETE[deltype],
        )
        keys.append(fk)
        if not readable:
            unreadable.add(fk.table)
    return tuple(keys), frozenset(unreadable)


def _therapist_link(
    unique_sets: Mapping[TableName, set[frozenset[str]]],
    foreign_keys: tuple[ForeignKey, ...],
    profile_columns: Mapping[str, ColumnInfo],
) -> TherapistLink:
    """A junction: a table whose ``therapist_id`` and ``patient_id`` reference users and whose
    primary key or a unique constraint is ``(patient_id)`` or ``(therapist_id, patient_id)`` —
    one row per pair. (A clinical note has both columns too, but many rows per pair.)"""
    by_table: dict[TableName, set[str]] = {}
    for fk in foreign_keys:
        if fk.references_a_user and fk.table not in (PROFILES, AUTH_USERS):
            by_table.setdefault(fk.table, set()).add(fk.columns[0])
    pair = {"therapist_id", "patient_id"}
    candidates = [table for table, columns in by_table.items() if pair <= columns]
    junctions = sorted(
        (
            table
            for table in candidates
            if unique_sets.get(table, set()) & {frozenset({"patient_id"}), frozenset(pair)}
        ),
        key=lambda table: (table.name != "therapist_patients", table.schema != "public", str(table)),
    )
    column = "therapist_id" if "therapist_id" in profile_columns else None
    return TherapistLink(junction=junctions[0] if junctions else None, column=column)


def _role_values(
    enum_rows: list[tuple[Any, ...]], check_rows: list[tuple[Any, ...]]
) -> frozenset[str] | None:
    labels = [row[0] for row in enum_rows]
    if labels:
        return frozenset(labels)
    definitions = [row[0] for row in check_rows]
    if not definitions:
        return None
    allowed: set[str] | None = None
    for definition in definitions:
        values = {value.replace("''", "'") for value in _QUOTED_LITERAL.findall(definition)}
        if not values:
            return None  # a CHECK we cannot read as a list of values: do not guess
        allowed = values if allowed is None else allowed & values
    return frozenset(allowed or ())
