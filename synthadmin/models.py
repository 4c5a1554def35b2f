"""The run ledger: every synthetic run and every user it tried to create.

Django-managed tables in the ``synthadmin`` schema. The ledger is the audit trail (who ran what,
with which parameters and seed, what came of it) and the unit of purge: synthadmin deletes only
users it finds here, and only when their profile carries ``is_test_patient = true``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import models

from synthadmin.fields import MessageCharField, MessageTextField


class Scenario(models.Model):
    """A named, saved recipe for a synthetic population (``synthadmin.services.scenarios``).

    Run it (``generate_synthetic --scenario NAME``, or "Run scenario" in the admin) or reset it
    (purge its earlier runs, then run it again). Kept in synthadmin's own schema; importable and
    exportable as TOML so a team can keep its scenarios in version control.
    """

    name = models.SlugField(max_length=64, unique=True)
    description = models.TextField(blank=True, help_text="What the population is for, and why it looks so")
    therapists = models.PositiveIntegerField(default=0)
    patients = models.PositiveIntegerField(default=5)
    mix = models.JSONField(
        default=dict,
        blank=True,
        help_text='Pattern → percentage or count, e.g. {"stable": 60, "cycling": 40}',
    )
    pattern = models.CharField(max_length=32, default="stable", help_text="Used when the mix is empty")
    checkin_days = models.PositiveIntegerField(default=30, help_text="Days of history per patient")
    adherence = models.FloatField(default=0.85)
    locale = models.CharField(max_length=16, default="pt_BR")
    seed = models.BigIntegerField(null=True, blank=True, help_text="Empty: a fresh population every run")
    end_date = models.DateField(null=True, blank=True, help_text="Empty: histories end today")
    built_in = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SyntheticRun(models.Model):
    class Status(models.TextChoices):
        #: Enqueued for background workers; none has started it yet.
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Partial"
        FAILED = "failed", "Failed"
        ABORTED = "aborted", "Aborted"
        #: Its process died without finishing (kill -9, a lost machine); purge finishes it.
        INTERRUPTED = "interrupted", "Interrupted"

    class Kind(models.TextChoices):
        GENERATE = "generate", "Generate users"
        EXTEND = "extend", "Add check-in days"

    class Source(models.TextChoices):
        COMMAND = "command", "Management command"
        ADMIN = "admin", "Admin"
        API = "api", "Python API"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.GENERATE)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.API)
    started_by = MessageCharField(max_length=255, help_text="Staff user or OS user that started it")
    started_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    parameters = models.JSONField(default=dict)
    seed = models.BigIntegerField()
    auth_backend = models.CharField(max_length=16)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    patients_created = models.PositiveIntegerField(default=0)
    therapists_created = models.PositiveIntegerField(default=0)
    checkins_created = models.PositiveIntegerField(default=0)
    users_failed = models.PositiveIntegerField(default=0)
    retries = models.JSONField(default=dict, help_text="Retries by kind")
    error_summary = MessageTextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)
    #: The process that runs it, so that a run whose process died can be told from one that
    #: is still working (``synthadmin.services.ledger.runs_reap_interrupted``).
    owner_host = models.CharField(max_length=255, blank=True)
    owner_pid = models.PositiveIntegerField(null=True, blank=True)
    owner_started_at = models.DateTimeField(null=True, blank=True, help_text="When the owner process started")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    scenario = models.ForeignKey(
        Scenario, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    #: Run by task workers, chunk by chunk (``synthadmin.services.chunks``): its liveness is
    #: its chunks', not an owner process's.
    background = models.BooleanField(default=False)
    #: Set by ``run_cancel`` and ``ledger.run_stop_request``: workers, or the process that runs
    #: the run inline (``run_watch.CancelWatch``), start no new user or batch of it.
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_by = MessageCharField(max_length=255, blank=True)
    #: The stop was asked by a purge of the run (``cancel.runs_stop_before_purge``), which removes
    #: what the run made once it has stopped; False for a Cancel or a diagnosis.
    cancel_for_purge = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = "synthetic run"
        permissions = [
            ("generate_synthetic_data", "Can generate synthetic data"),
            ("purge_synthetic_data", "Can purge synthetic data"),
            ("export_synthetic_data", "Can export synthetic data"),
            #: Real (non-synthetic) users' profiles, check-ins and pages in the admin
            #: (``synthadmin.selectors.REAL_PATIENTS_PERMISSION``); without it, synthetic only.
            ("view_real_patients", "Can view real patients"),
        ]

    def __str__(self) -> str:
        return f"{self.kind_label} {str(self.id)[:8]} ({self.display_status.lower()})"

    @property
    def kind_label(self) -> str:
        """What staff call the run: "Generate", "Add check-in days", or "Extend to today" (an
        extend run whose parameters say ``mode: to_today``, synthadmin/services/extend_today.py)."""
        if self.kind == self.Kind.EXTEND and self.parameters.get("mode") == "to_today":
            return "Extend to today"
        return str(self.get_kind_display())

    @property
    def tag(self) -> str:
        """Short, unique-per-run tag used in synthetic e-mail addresses."""
        return self.id.hex[:8]

    @property
    def display_status(self) -> str:
        """What the run is now: "Purged" once purged (the stored ``status`` keeps how it ended)."""
        return "Purged" if self.purged_at is not None else self.get_status_display()


class SyntheticUser(models.Model):
    """One attempt to create one user: written *before* the Auth call (the intent record)."""

    class State(models.TextChoices):
        INTENT = "intent", "Auth call started"
        COMPLETE = "complete", "Created"
        COLLIDED = "collided", "Identity taken, retried with a new one"
        COMPENSATED = "compensated", "Auth user deleted after a database failure"
        FAILED = "failed", "Failed, nothing left behind"
        PURGED = "purged", "Purged"

    class Role(models.TextChoices):
        PATIENT = "patient", "Patient"
        THERAPIST = "therapist", "Therapist"

    run = models.ForeignKey(SyntheticRun, on_delete=models.PROTECT, related_name="users")
    user_id = models.UUIDField(db_index=True)
    #: Which user of the run this attempt is for (``PersonSpec.number``: therapists first, then
    #: patients), so a chunk re-run knows who is complete. Empty on entries of older versions.
    job_index = models.PositiveIntegerField(null=True, blank=True)
    email = models.CharField(max_length=255)
    role = models.CharField(max_length=16, choices=Role.choices)
    attempt = models.PositiveSmallIntegerField(default=1)
    state = models.CharField(max_length=16, choices=State.choices, default=State.INTENT)
    checkins = models.PositiveIntegerField(default=0)
    #: What the patient's history was generated to be (``synthadmin.services.ground_truth``):
    #: pattern, the mood state of every day as runs, and the model's episodes. In synthadmin's
    #: own schema, never in the app's tables. Empty for therapists and older ledger entries.
    ground_truth = models.JSONField(default=dict, blank=True)
    failure_reason = MessageTextField(blank=True)
    #: A stop ended this attempt before it created anything (``ledger.entry_not_sent``): the
    #: user was never tried, so it is not a failure of the user.
    never_sent = models.BooleanField(default=False)
    #: The user's displayed name as search compares it (``text.name_folded``: no accents, case
    #: folded), written with the entry: staff find the users synthadmin made by name without
    #: reading ``auth.users``'s JSON. Its words are indexed (``user_search_name``).
    search_name = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "synthetic user"
        indexes = [
            models.Index(fields=["run", "state"]),
            models.Index(fields=["run", "job_index"]),
            GinIndex(SearchVector("search_name", config="simple"), name="user_search_name"),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.state})"


class CheckinAddition(models.Model):
    """The check-ins one "Add check-in days" run added to one patient: exactly which days.

    Purging that run removes exactly these days' check-ins of this patient
    (``synthadmin.services.additions_purge``). ``days`` holds the added dates as runs of consecutive
    days ``[[first, last], ...]`` (a few dozen per patient-year, whatever the adherence);
    ``ground_truth`` is what the added window was generated to be (same shape as
    ``SyntheticUser.ground_truth``), so charts and exports know the state of the added days.
    """

    run = models.ForeignKey(SyntheticRun, on_delete=models.PROTECT, related_name="additions")
    user_id = models.UUIDField(db_index=True)
    email = models.CharField(max_length=255)
    days = models.JSONField(default=list)
    checkins = models.PositiveIntegerField(default=0)
    ground_truth = models.JSONField(default=dict, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "added check-in days"
        verbose_name_plural = "added check-in days"

    def __str__(self) -> str:
        return f"{self.checkins} check-ins added to {self.email}"


class StateInterval(models.Model):
    """A run of days of one synthetic patient in one ground-truth mood state: the stored truth
    (``SyntheticUser.ground_truth`` of ``complete`` entries and ``CheckinAddition.ground_truth``
    of additions still in place) in a form an index serves, for the admin's lists and filters.

    Written only by PostgreSQL triggers on the two ledger tables (migration
    ``0010_state_intervals``): each change to a user's stored truth rewrites that user's rows.
    Where two windows overlap (a backfill over missed first days), the later source wins — the
    one that wrote the check-ins of those days (``patient_truth.truth_runs_merge``) — so a day
    has at most one row and a join on ``(user_id, day)`` never duplicates a check-in.
    """

    class Source(models.TextChoices):
        ENTRY = "entry", "Generating ledger entry"
        ADDITION = "addition", "Added check-in days"

    user_id = models.UUIDField()
    #: The profile, for joins (``Profile.state_intervals``); no column, no constraint: the
    #: app's profiles are not synthadmin's to constrain.
    profile = models.ForeignObject(
        "profiles.Profile",
        on_delete=models.DO_NOTHING,
        from_fields=["user_id"],
        to_fields=["id"],
        related_name="state_intervals",
        related_query_name="state_interval",
    )
    #: As stored in the truth (text, any length: whatever a truth holds never fails a ledger write).
    state = models.TextField()
    first_day = models.DateField()
    last_day = models.DateField()
    source = models.CharField(max_length=16, choices=Source.choices)
    #: The ``SyntheticUser`` or ``CheckinAddition`` id the interval comes from.
    source_id = models.BigIntegerField()

    class Meta:
        ordering = ["user_id", "first_day"]
        verbose_name = "ground-truth state interval"
        default_permissions = ()  # never shown in the admin
        indexes = [
            # The state of a check-in's day: (user_id, first_day <= day), last_day checked in the index.
            models.Index(
                fields=["user_id", "first_day"],
                include=["last_day", "state"],
                name="synthadmin_interval_user_day",
            ),
            # The check-ins in one state: its intervals, then each one's days by the app's
            # (user_id, checkin_date) index.
            models.Index(
                fields=["state", "user_id", "first_day"],
                include=["last_day"],
                name="synthadmin_interval_state",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.state} {self.first_day}..{self.last_day}"


class RunChunk(models.Model):
    """A slice of a background run's users (``job_index`` in ``[first, stop)``): one task.

    Therapist chunks come first; the last of them to finish enqueues the patient chunks (the
    phase barrier). A chunk is idempotent: run again (after its worker died), it skips the users
    the ledger has complete and resolves the intents its earlier attempt left.
    """

    class Phase(models.TextChoices):
        THERAPISTS = "therapists", "Therapists"
        PATIENTS = "patients", "Patients"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    run = models.ForeignKey(SyntheticRun, on_delete=models.CASCADE, related_name="chunks")
    phase = models.CharField(max_length=16, choices=Phase.choices)
    first = models.PositiveIntegerField(help_text="First job index (PersonSpec.number)")
    stop = models.PositiveIntegerField(help_text="One past the last job index")
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    #: The task that runs it now (its id in the task backend).
    task_id = models.CharField(max_length=64, blank=True)
    worker_id = models.CharField(max_length=128, blank=True)
    worker_host = models.CharField(max_length=255, blank=True)
    worker_pid = models.PositiveIntegerField(null=True, blank=True)
    worker_started_at = models.DateTimeField(
        null=True, blank=True, help_text="When the worker process started"
    )
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    users_created = models.PositiveIntegerField(default=0)
    users_failed = models.PositiveIntegerField(default=0)
    checkins_created = models.PositiveIntegerField(default=0)
    #: A diagnosis that stopped the chunk (a rejected key...): it stops the run.
    error = MessageTextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "first"]
        verbose_name = "run chunk"
        constraints = [models.UniqueConstraint(fields=["run", "first"], name="synthadmin_chunk_run_first")]
        indexes = [models.Index(fields=["run", "state"]), models.Index(fields=["state"])]

    def __str__(self) -> str:
        return f"{self.phase} {self.first}-{self.stop - 1} ({self.state})"


class TaskWorker(models.Model):
    """A worker process (``synthadmin_worker``, or any process that ran a chunk): alive while
    its heartbeat is fresh and, on the same host, its process exists."""

    worker_id = models.CharField(max_length=128, unique=True)
    backend = models.CharField(max_length=16, blank=True)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    process_started_at = models.DateTimeField()
    started_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-heartbeat_at"]
        verbose_name = "task worker"

    def __str__(self) -> str:
        return f"{self.worker_id} ({self.host} pid {self.pid})"


#: Ledger entries whose Auth user may exist: what purge looks at.
LIVE_STATES = (SyntheticUser.State.COMPLETE, SyntheticUser.State.INTENT)


class HeldLogin(models.Model):
    """One created user's login, held for an admin download: **only** encrypted.

    ``token`` is a Fernet token (``synthadmin.services.logins``) of the CSV row
    ``email,password,role,user_id``; nothing else here says anything about the password. Rows
    are deleted by the first download (``logins_take``), an hour after they were written
    (``logins_expire``), and when their user is purged.
    """

    run = models.ForeignKey(SyntheticRun, on_delete=models.CASCADE, related_name="held_logins")
    user_id = models.UUIDField(db_index=True)
    token = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "held login"
        default_permissions = ()  # never shown in the admin; no model permission to grant

    def __str__(self) -> str:
        return f"held login of {self.user_id}"
