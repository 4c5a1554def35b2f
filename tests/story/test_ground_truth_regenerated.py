"""Patients generated before ground truth was stored get theirs back from the run's seed and parameters."""

from __future__ import annotations

from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.services.patient_truth import patient_index, patient_truth_get
from tests.story.conftest import generate


def test_regenerated_truth_equals_the_stored_one_for_every_patient(supabase_tables_cleanup):
    report = generate(patients=4, therapists=2, days=200, pattern="cycling", seed=99)
    entries = list(SyntheticUser.objects.filter(run_id=report.run_id, role="patient").select_related("run"))
    stored = {e.user_id: patient_truth_get(user_id=e.user_id) for e in entries}
    assert sorted(patient_index(e, e.run) for e in entries) == [0, 1, 2, 3]

    SyntheticUser.objects.filter(run_id=report.run_id).update(ground_truth={})  # as an older version left it

    for entry in entries:
        again, before = patient_truth_get(user_id=entry.user_id), stored[entry.user_id]
        assert again is not None and before is not None
        assert again.regenerated and not before.regenerated
        assert again.states == before.states
        assert again.pattern == "cycling" and again.run_id == report.run_id


def test_a_retried_identity_keeps_its_number():
    entry = SyntheticUser(email="ana.souza.1a2b3c4d.7-r2@example.com")
    run = SyntheticRun(parameters={"therapists": 3})  # unsaved, as the entry
    assert patient_index(entry, run) == 4
