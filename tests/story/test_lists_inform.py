"""Lists that inform: purged runs say so; profiles show name, pattern, run, check-ins, last check-in."""

from __future__ import annotations

from django.db import connection
from django.forms import ChoiceField
from django.urls import reverse

from synthadmin.content import PATTERN_NAMES
from synthadmin.forms import GenerateForm
from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.services.purge import synthetic_users_purge
from synthadmin.text import plural
from tests.realdata import insert_real_user
from tests.story.conftest import generate


def _sql(query: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchall()


def test_runs_list_shows_purged_runs_as_purged_and_keeps_the_stored_status(
    admin_client, supabase_tables_cleanup
):
    kept = generate(patients=1, days=5)
    gone = generate(patients=1, days=5, seed=9)
    synthetic_users_purge(run=gone.run_id)

    page = admin_client.get(reverse("admin:synthadmin_syntheticrun_changelist")).content.decode()

    rows = {r.split("</a>")[0][-8:]: r for r in page.split('<th class="field-short_id">')[1:]}
    assert '<td class="field-run_status">Purged</td>' in rows[str(gone.run_id)[:8]]
    assert '<td class="field-run_status">Succeeded</td>' in rows[str(kept.run_id)[:8]]
    assert _sql("SELECT status FROM synthadmin.synthadmin_syntheticrun WHERE id = %s", [gone.run_id]) == [
        ("succeeded",)
    ]


def test_profiles_list_columns_and_run_filter(admin_client, supabase_tables_cleanup):
    report = generate(patients=2, therapists=1, days=30, pattern="depressive")
    generate(patients=3, days=10, pattern="stable", seed=4)
    real = insert_real_user(checkins=3)

    response = admin_client.get(reverse("admin:profiles_profile_changelist"), {"run": str(report.run_id)})

    rows = response.context["cl"].result_list
    assert {p.pk for p in rows} == set(
        SyntheticUser.objects.filter(run_id=report.run_id).values_list("user_id", flat=True)
    )
    names = dict(_sql("SELECT id, raw_user_meta_data ->> 'name' FROM auth.users"))
    counts = dict(_sql("SELECT user_id, count(*) FROM public.check_ins GROUP BY 1"))
    lasts = dict(_sql("SELECT user_id, max(checkin_date) FROM public.check_ins GROUP BY 1"))
    for profile in rows:
        assert profile._name == names[profile.pk]
        assert profile._checkin_count == counts.get(profile.pk, 0)
        assert profile._last_checkin == lasts.get(profile.pk)
        assert profile._run_id == report.run_id and profile._pattern == "depressive"
    page = response.content.decode()
    for header in ("Name", "Pattern", "Run", "Check-ins", "Last check-in"):
        assert f">{header}</a>" in page or f">{header}</span>" in page

    everyone = admin_client.get(reverse("admin:profiles_profile_changelist"))
    by_id = {p.pk: p for p in everyone.context["cl"].result_list}
    assert by_id[real]._pattern is None and by_id[real]._run_id is None and by_id[real]._checkin_count == 3


def test_pattern_choices_are_described_in_words_not_citations():
    field = GenerateForm().fields["pattern"]
    assert isinstance(field, ChoiceField)
    choices = dict(field.choices)  # type: ignore[arg-type]  # the stubs allow callables; here a list of pairs
    assert set(choices) == set(PATTERN_NAMES)
    for label in choices.values():
        assert "20" not in label and "(" not in label and len(label) > 30


def test_counts_are_pluralised():
    assert plural(1, "therapist") == "1 therapist"
    assert plural(0, "therapist") == "0 therapists"
    assert plural(1005, "check-in") == "1,005 check-ins"
    assert SyntheticRun is not None  # the admin messages use it (tests/admin/test_admin_workflow.py)
