"""The users a run creates, as jobs: the whole run's, or one chunk's slice of them.

A job's ``spec.number`` is its job index in the run (therapists first, then patients), recorded
on its ledger entries. A slice is exactly what the whole run would have made at those indices
(the same specs, histories and therapist assignment), whoever runs it and in whatever order.
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from synthadmin.models import RunChunk, SyntheticRun, SyntheticUser
from synthadmin.services.ground_truth import ground_truth_of
from synthadmin.services.population import PersonSpec, patient_history, population_build, therapist_assignment
from synthadmin.services.requests import GenerationParams
from synthadmin.services.writer import JsonRow
from synthadmin.target import target_get


@dataclass(frozen=True)
class Job:
    """One user to create: a therapist (no history) or the ``history_index``-th patient."""

    spec: PersonSpec
    therapist_id: uuid.UUID | None = None
    history_index: int | None = None
    pattern: str = ""


def therapist_jobs(therapists: list[PersonSpec]) -> list[Job]:
    """The jobs of a run's therapists (no history, no therapist)."""
    return [Job(spec) for spec in therapists]


def patient_jobs(
    params: GenerationParams, patients: list[PersonSpec], therapist_ids: list[uuid.UUID]
) -> list[Job]:
    """The jobs of a run's patients: history index, pattern and therapist of each.

    The therapists are the run's therapists that were created, **in job order**; patients are
    dealt to them round-robin (``therapist_assignment``), so a therapist that failed leaves its
    patients to the others by the same rule, whoever ran which part of the run.
    """
    assignment = therapist_assignment(len(patients), therapist_ids)
    patterns = params.patient_patterns()
    return [
        Job(spec, therapist_id=therapist, history_index=index, pattern=pattern)
        for index, (spec, therapist, pattern) in enumerate(zip(patients, assignment, patterns, strict=True))
    ]


def history_builder(
    params: GenerationParams, job: Job
) -> Callable[[], tuple[Iterable[JsonRow], dict[str, Any]]] | None:
    """A patient job's history rows and ground truth, built when called (None: no check-ins)."""
    if job.history_index is None or not params.checkin_days:
        return None
    index = job.history_index

    def build() -> tuple[Iterable[JsonRow], dict[str, Any]]:
        history = patient_history(
            seed=params.seed,
            patient_index=index,
            pattern=job.pattern,
            days=params.checkin_days,
            end_date=params.end_date,
            adherence=params.adherence,
        )
        return history.iter_json_rows(), ground_truth_of(history)

    return build


@functools.lru_cache(maxsize=4)
def _population(
    seed: int, run_tag: str, therapists: int, patients: int, locale: str, domain: str, unique: bool
) -> tuple[list[PersonSpec], list[PersonSpec]]:
    # Built once per worker process and run: every chunk of the run slices the same population.
    return population_build(
        seed=seed,
        run_tag=run_tag,
        therapists=therapists,
        patients=patients,
        locale=locale,
        email_domain=domain,
        unique_usernames=unique,
    )


_population_lock = threading.Lock()


def chunk_jobs(*, run: SyntheticRun, params: GenerationParams, chunk: RunChunk) -> list[Job]:
    """The jobs of one chunk of ``run`` (job indices ``[chunk.first, chunk.stop)``); a patient
    chunk reads the run's therapists that were created from the ledger."""
    with _population_lock:  # factory_boy's random state is global
        therapists, patients = _population(
            params.seed,
            run.tag,
            params.therapists,
            params.patients,
            params.locale,
            settings.SYNTHADMIN_EMAIL_DOMAIN,
            target_get().unique_usernames,
        )
    if chunk.phase == RunChunk.Phase.THERAPISTS:
        return therapist_jobs(therapists)[chunk.first : chunk.stop]
    therapist_ids = list(
        run.users.filter(role=SyntheticUser.Role.THERAPIST, state=SyntheticUser.State.COMPLETE)
        .order_by("job_index")
        .values_list("user_id", flat=True)
    )
    offset = params.therapists  # patients' job indices follow the therapists'
    return patient_jobs(params, patients, therapist_ids)[chunk.first - offset : chunk.stop - offset]


__all__ = ["Job", "chunk_jobs", "history_builder", "patient_jobs", "therapist_jobs"]
