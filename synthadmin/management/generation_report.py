"""What ``generate_synthetic`` prints and how it exits: tables, the exit code of a report, and
the tally that says what a run cut off by a lost database left behind."""

from __future__ import annotations

import uuid
from collections import Counter

from django.core.management.base import CommandError
from django.db import DatabaseError, connection
from rich.table import Table

from synthadmin.management import exitcodes
from synthadmin.management.exitcodes import signal_exit_code
from synthadmin.management.output import key_value_table, one_line
from synthadmin.management.stopping import SignalStop
from synthadmin.models import SyntheticRun
from synthadmin.services.ledger import run_counts
from synthadmin.services.preview import PreviewReport
from synthadmin.services.reports import ProgressListener, RunReport
from synthadmin.services.requests import GenerationParams
from synthadmin.services.user_creation import PHASE_CHECKINS, PHASE_USERS
from synthadmin.services.workers import WORKER_COMMAND
from synthadmin.text import plural


class RunTally:
    """A progress listener that counts what the run wrote and learns its id (``run_started``),
    so that a run cut off by a lost database can still say what it left; forwards to the bars."""

    def __init__(self) -> None:
        self.forward_to: ProgressListener | None = None
        self.counts: Counter[str] = Counter()
        self.run_id: uuid.UUID | None = None

    def run_started(self, run_id: uuid.UUID) -> None:
        self.run_id = run_id
        if self.forward_to is not None:
            self.forward_to.run_started(run_id)

    def phase(self, name: str, total: int | None) -> None:
        if self.forward_to is not None:
            self.forward_to.phase(name, total)

    def advance(self, name: str, amount: int = 1) -> None:
        self.counts[name] += amount
        if self.forward_to is not None:
            self.forward_to.advance(name, amount)

    def summary(self) -> str:
        """What was written before the loss: from the ledger (``run_counts``) if the database
        answers again, else from the progress counted here."""
        if self.run_id is None:
            return "Nothing had been written yet"
        purge = (
            f"when the database is back, finish with: python manage.py purge_synthetic --run {self.run_id}"
        )
        try:
            connection.close()
        except DatabaseError:
            pass
        try:
            counts = run_counts(SyntheticRun.objects.get(pk=self.run_id))
        except DatabaseError:
            return (
                f"Run {self.run_id} had finished about {self.counts[PHASE_USERS]:,} users and written "
                f"{self.counts[PHASE_CHECKINS]:,} check-ins; {purge}"
            )
        in_flight = counts.in_flight
        return (
            f"Run {self.run_id} wrote {counts.created:,} complete users with {counts.checkins:,} check-ins"
            f"{f'; {in_flight} user(s) in flight are recorded as intents' if in_flight else ''}; "
            f"{purge}"
        )


def enqueued_table(run: SyntheticRun, request: GenerationParams, page: str, alive: int) -> Table:
    """``--background``: what was enqueued and how to follow it."""
    rows = [
        ("status", f"{run.status} ({run.chunks.count()} chunk(s) enqueued)"),
        ("patients", f"{request.patients:,}"),
        *[
            (f"  {pattern.replace('_', ' ')}", f"{count:,}")
            for pattern, count in (request.mix or {}).items()
            if len(request.mix or {}) > 1
        ],
        ("therapists", f"{request.therapists:,}"),
        ("seed", str(request.seed)),
        ("run id", str(run.pk)),
        ("follow with", "python manage.py list_runs"),
        ("admin page", page),
        ("workers alive", str(alive) if alive else f"none — start one with: {WORKER_COMMAND}"),
        ("cancel", "the run page's Cancel button, or purge_synthetic --run (cancels first)"),
    ]
    return key_value_table("Synthetic run enqueued", rows)


def dry_run_tables(preview: PreviewReport, request: GenerationParams) -> list[Table]:
    """``--dry-run``: what would be written, and the first check-ins of a sample patient."""
    rows = [
        ("would create", f"{plural(preview.patients, 'patient')}, {plural(preview.therapists, 'therapist')}"),
        *[
            (f"  {pattern.replace('_', ' ')}", plural(count, "patient"))
            for pattern, count in sorted(preview.patients_by_pattern.items(), key=lambda item: -item[1])
        ],
        (
            "check-ins",
            f"{preview.checkins:,}"
            if preview.checkins_exact
            else f"about {preview.checkins:,} (estimate from {preview.sampled_patients:,} patients)",
        ),
        ("seed", str(request.seed)),
        ("days", f"{request.checkin_days:,} ending {request.end_date.isoformat()}"),
    ]
    rows += [(f"  {state}", f"{share:.1%} of days") for state, share in preview.state_shares.items()]
    tables = [key_value_table("Dry run: nothing was written", rows)]
    if preview.sample_days:
        table = Table(title=f"First check-ins of {preview.sample_patient}", title_justify="left")
        for column in ("date", "state", "sleep h", "energy", "depressed", "elevation"):
            table.add_column(column)
        for day in preview.sample_days:
            table.add_row(
                day.date,
                day.state,
                f"{day.hours_slept:.1f}",
                str(day.energy),
                str(day.depressed_mood),
                str(day.elevation),
            )
        tables.append(table)
    return tables


def run_table(report: RunReport) -> Table:
    """The run report as a table."""
    retries = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(report.retries.items())) or "none"
    rows = [
        ("status", report.status),
        ("patients", f"{report.patients_created:,}"),
        *[
            (f"  {pattern.replace('_', ' ')}", f"{count:,}")
            for pattern, count in sorted(report.patients_by_pattern.items(), key=lambda item: -item[1])
            if len(report.patients_by_pattern) > 1
        ],
        ("therapists", f"{report.therapists_created:,}"),
        ("check-ins", f"{report.checkins_created:,}"),
        ("retries", retries),
        *_rate_limit_rows(report),
        ("failures", f"{report.users_failed:,}"),
        ("duration", f"{report.duration_seconds:.1f} s"),
        ("auth backend", report.auth_backend),
        ("seed", str(report.seed)),
        ("run id", str(report.run_id)),
        ("purge with", report.purge_command),
    ]
    return key_value_table("Synthetic run", rows)


def failure_lines(report: RunReport) -> list[str]:
    """One stderr line per failed user (not the one whose answer stopped the run: the last line
    says it)."""
    return [
        f"failed: {failure.email} ({failure.role}): {one_line(failure.reason)}"
        for failure in report.failures
        if not (report.stopped_by and failure.reason == report.stopped_by)
    ]


def _rate_limit_rows(report: RunReport) -> list[tuple[str, str]]:
    """A row saying how often Auth answered 429 and where concurrency settled, if it did."""
    flow = report.auth_flow
    if not flow.get("rate_limited"):
        return []
    return [
        (
            "rate limited",
            f"{flow['rate_limited']} answers 429, paused {flow['paused_seconds']:.1f} s; concurrency "
            f"settled at {flow['concurrency_settled']:g} of {flow['concurrency_max']}",
        )
    ]


def report_refusal(report: RunReport, signals: SignalStop | None) -> CommandError | None:
    """The CommandError a run that did not succeed ends with (its exit code from the table), or
    None when it succeeded."""
    if signals is not None and signals.received is not None:
        return CommandError(
            f"stopped by {signals.name}: {_left_behind(report)}; "
            f"{report.patients_created} patients and {report.therapists_created} therapists are "
            f"complete. {_remove_with(report)}",
            returncode=signal_exit_code(signals.received),
        )
    if report.cancelled_by and not report.cancel_for_purge:
        # Cancel on the run's page: what it made stays until someone purges it.
        return CommandError(
            f"stopped: cancelled by {report.cancelled_by}: {_left_behind(report)}; "
            f"{report.patients_created} patients and {report.therapists_created} therapists are "
            f"complete. {_remove_with(report)}",
            returncode=exitcodes.STOPPED,
        )
    if report.cancelled_by:
        # A purge asked it to stop: of this run (it removes all the run made), or of selected
        # users of it ("Delete selected synthetic users": it removes those).
        return CommandError(
            f"stopped: purged by {report.cancelled_by}: the run was asked to stop so that the purge "
            f"could remove it, or the users of it selected; {_left_behind(report)}; of the "
            f"{report.patients_created} patients and {report.therapists_created} therapists it made, "
            f"that purge removes those it selected (a purge of the run: all). Any left: "
            f"{report.purge_command}",
            returncode=exitcodes.STOPPED,
        )
    if report.status == SyntheticRun.Status.SUCCEEDED:
        return None
    if report.status == SyntheticRun.Status.PARTIAL:
        return CommandError(
            f"partial run: {report.users_failed} user(s) failed after retries (listed above); "
            f"the rest are complete. {report.purge_command} removes them",
            returncode=exitcodes.PARTIAL,
        )
    if report.status == SyntheticRun.Status.ABORTED:
        return CommandError(
            f"interrupted: {_left_behind(report)}. {_remove_with(report)}",
            returncode=exitcodes.INTERRUPTED,
        )
    # A diagnosis stopped the run part way (the key rejected, Auth unavailable or refusing
    # rows): 3, however many users it had tried. Otherwise every user was tried and failed on
    # its own (collisions...): some users failed, 2.
    return CommandError(
        f"run failed: {one_line(report.error)}. Run id {report.run_id}; {report.purge_command} removes "
        "what it made",
        returncode=exitcodes.STOPPED if report.stopped_by else exitcodes.PARTIAL,
    )


def _left_behind(report: RunReport) -> str:
    """What a stopped run left half-written, as its ledger says after the stop (never assumed)."""
    if not report.users_unsettled:
        return "no user was left half-written"
    return (
        f"{report.users_unsettled} user(s) left unsettled (an Auth call's outcome unknown, or its undo "
        "failed: their ledger entries stay intent, the Auth user may exist)"
    )


def _remove_with(report: RunReport) -> str:
    if report.users_unsettled:
        return f"Settle them and remove this run with: {report.purge_command}"
    return f"Remove this run with: {report.purge_command}"
