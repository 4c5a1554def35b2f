"""Django system checks for the target database: what would make a run fail, before it starts.

Registered with ``Tags.database`` (``python manage.py check --database default``), and run by
``generate_synthetic`` / ``purge_synthetic`` before anything is written. ``migrate`` runs
database checks before it migrates; synthadmin's ``migrate`` command turns these off for
itself (``checks_suspended``), since migrating is what fixes the flag error.

Errors (a run would fail):
  E001 no ``public.profiles``;  E002 no ``profiles.is_test_patient`` (run migrate);
  E003 a NOT NULL column without default that synthadmin cannot fill (``profiles``, ``check_ins``,
       the therapist junction; on ``profiles`` only when no AFTER INSERT / UPDATE trigger on
       ``auth.users`` exists to fill it, as ``pg_trigger`` says: no function text is read);
  E004 ``profiles.role`` does not allow 'patient' and 'therapist';
  E005 no ``public.check_ins``, or a payload column missing;
  E006 a unique index synthadmin's rows would break (it writes the same value in every row of
       its columns: a unique ``profiles.role``, a unique ``check_ins.user_id``...).
Warnings (a run works, with less):
  W001 no therapist link: therapists are created unlinked;
  W002 a foreign key to a user without ON DELETE CASCADE: purge leaves users it references;
  W003 a table that references users cannot be read: purge leaves users whose delete reaches it;
  W004 a NOT NULL column without default on ``profiles`` that synthadmin does not write, excused
       from E003 by a signup trigger on ``auth.users``, which must fill it (not read: a run finds out).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from django.core import checks
from django.db import DatabaseError

from synthadmin.content import PAYLOAD_COLUMNS
from synthadmin.db.errors import first_line
from synthadmin.target import AUTH_USERS, CHECK_INS, PROFILES, Target, target_get

TAG = "synthadmin_target"
_suspended = threading.local()


@contextlib.contextmanager
def checks_suspended() -> Iterator[None]:
    """Within this block the target checks report nothing (``migrate`` is about to fix them)."""
    _suspended.active = True
    try:
        yield
    finally:
        _suspended.active = False


@checks.register(checks.Tags.database, TAG)
def check_target(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if not databases or "default" not in databases or getattr(_suspended, "active", False):
        return []
    try:
        target = target_get(refresh=True)  # what a command's run then uses (RUN_MAX_AGE)
    except DatabaseError as exc:
        return [checks.Error(f"cannot read the database catalog: {first_line(exc)}", id="synthadmin.E000")]
    return target_messages(target)


def target_messages(target: Target) -> list[checks.CheckMessage]:
    """The check messages for ``target`` (pure: the tests call it on each shape)."""
    if not target.has_profiles:
        return [
            checks.Error(
                "public.profiles does not exist",
                hint="point DATABASE_URL at the app's database or migrate an empty one",
                id="synthadmin.E001",
            )
        ]
    return [message for check in _TARGET_CHECKS if (message := check(target)) is not None]


def _flag(target: Target) -> checks.CheckMessage | None:
    if target.has_flag:
        return None
    return checks.Error(
        "public.profiles has no is_test_patient column",
        hint="run `python manage.py migrate`: it adds the flag, its index and comment",
        id="synthadmin.E002",
    )


def _unfillable(target: Target) -> checks.CheckMessage | None:
    junction = target.therapist_link.junction
    profiles = [f"{PROFILES}.{name}" for name in target.unfillable_profile_columns()]
    unfillable = (
        profiles
        + [f"{CHECK_INS}.{name}" for name in target.unfillable_check_in_columns()]
        + [f"{junction}.{name}" for name in target.unfillable_junction_columns()]
    )
    if not unfillable:
        return None
    message = f"synthadmin cannot fill NOT NULL column(s) without default: {', '.join(unfillable)}"
    hint = "give the column(s) a default"
    if profiles:
        # Named only when no AFTER INSERT / UPDATE trigger on auth.users exists (pg_trigger, no
        # function text read): one that does exist is taken to fill them, and a run finds out.
        message += f" (no signup trigger on {AUTH_USERS} may fill those of {PROFILES})"
        hint += (
            f"; a {PROFILES} column may instead be filled by a signup trigger — an AFTER INSERT or "
            f"UPDATE trigger on {AUTH_USERS} that makes the profile — which must then fill it"
        )
    return checks.Error(message, hint=hint, id="synthadmin.E003")


def _unique(target: Target) -> checks.CheckMessage | None:
    broken = target.unfillable_unique_indexes()
    if not broken:
        return None
    return checks.Error(
        f"synthadmin cannot give unique values to: {'; '.join(broken)}",
        hint="every row synthadmin writes has the same value there; drop the unique index, "
        "or add a column with a default to it",
        id="synthadmin.E006",
    )


def _roles(target: Target) -> checks.CheckMessage | None:
    if target.role_values is None or {"patient", "therapist"} <= target.role_values:
        return None
    return checks.Error(
        f"profiles.role allows only {', '.join(sorted(target.role_values)) or 'nothing'}; "
        "synthadmin writes 'patient' and 'therapist'",
        id="synthadmin.E004",
    )


def _check_ins(target: Target) -> checks.CheckMessage | None:
    missing = sorted((set(PAYLOAD_COLUMNS) | {"user_id", "checkin_date"}) - set(target.check_in_columns))
    if target.has_check_ins and not missing:
        return None
    return checks.Error(
        "public.check_ins does not exist"
        if not target.has_check_ins
        else f"public.check_ins lacks column(s) {', '.join(missing)}",
        hint="synthadmin writes the live payload columns (docs/target-schema.md)",
        id="synthadmin.E005",
    )


def _therapist_link(target: Target) -> checks.CheckMessage | None:
    if target.therapist_link.kind != "none":
        return None
    return checks.Warning(
        "no therapist link (neither a therapist_patients junction nor profiles.therapist_id)",
        hint="therapists are created unlinked; --therapists still creates them",
        id="synthadmin.W001",
    )


def _restricting_keys(target: Target) -> checks.CheckMessage | None:
    restricting = sorted(
        {
            f"{fk.table}.{fk.columns[0]} ({fk.on_delete})"
            for fk in target.foreign_keys
            if fk.ref_table in (AUTH_USERS, PROFILES) and fk.on_delete in ("RESTRICT", "NO ACTION")
        }
    )
    if not restricting:
        return None
    return checks.Warning(
        f"foreign key(s) to users without ON DELETE CASCADE: {', '.join(restricting)}",
        hint="purge leaves (and names) every synthetic user such a row references",
        id="synthadmin.W002",
    )


def _unreadable(target: Target) -> checks.CheckMessage | None:
    if not target.unreadable:
        return None
    return checks.Warning(
        f"this role cannot read {', '.join(sorted(map(str, target.unreadable)))}",
        hint="purge cannot prove a delete safe there and leaves the users it would reach",
        id="synthadmin.W003",
    )


def _trigger_filled(target: Target) -> checks.CheckMessage | None:
    columns = [f"{PROFILES}.{name}" for name in target.trigger_filled_profile_columns()]
    if not columns:
        return None
    triggers = ", ".join(target.signup_triggers)
    return checks.Warning(
        f"a signup trigger on {AUTH_USERS} ({triggers}) must fill {', '.join(columns)}; "
        "synthadmin cannot tell whether it does",
        hint="if it does not, every user of a run fails with the database's refusal; "
        "give the column(s) a default, or make the trigger fill them",
        id="synthadmin.W004",
    )


_TARGET_CHECKS: tuple[Callable[[Target], checks.CheckMessage | None], ...] = (
    _flag,
    _unfillable,
    _unique,
    _roles,
    _check_ins,
    _therapist_link,
    _restricting_keys,
    _unreadable,
    _trigger_filled,
)


def check_lines(messages: list[checks.CheckMessage]) -> list[str]:
    """One line per message: ``synthadmin.E002: … (hint)``."""
    lines = []
    for message in messages:
        hint = f" ({message.hint})" if message.hint else ""
        lines.append(f"{message.id}: {message.msg}{hint}")
    return lines
