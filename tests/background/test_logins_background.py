"""Logins of a background run: the workers hold each user's password encrypted, like an inline
run; nothing can be downloaded while the run goes (a download then would miss users still to
come); once it ends the starter downloads them once and each password signs in (bcrypt)."""

from __future__ import annotations

import csv
import io

import bcrypt
import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.urls import reverse

from synthadmin.models import HeldLogin, SyntheticRun
from synthadmin.services.chunks import chunk_run, run_enqueue
from synthadmin.services.ledger import Starter
from synthadmin.services.logins import LoginsNotReadyError, logins_take
from synthadmin.services.requests import GenerationRequest
from tests.admin.conftest import _staff
from tests.background.test_chunks_in_process import _work_all

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def small_chunks(settings, supabase_tables_cleanup):
    settings.SYNTHADMIN_CHUNK_USERS = 3


def test_a_background_run_holds_logins_offered_once_it_ends(client):
    starter: User = _staff("starter", "generate_synthetic_data")
    run = run_enqueue(
        request=GenerationRequest(patients=5, therapists=1, checkin_days=3, seed=3),
        started_by=Starter("staff:starter", user_id=starter.pk),
        hold_logins=True,
    )
    url = reverse("admin:synthadmin_syntheticrun_logins", args=[run.pk])
    client.force_login(starter)

    # The therapist chunk is done, the patients are not: a download now would miss them.
    from django_tasks_db.models import DBTaskResult

    first = DBTaskResult.objects.ready().order_by("enqueued_at").first()
    assert first is not None
    first.claim("in-process")
    chunk_run(*first.task_result.args)
    first.set_successful(None)
    assert HeldLogin.objects.filter(run=run).count() == 1
    page = client.get(url)
    assert page.status_code == 200 and 'id="logins-not-ready"' in page.content.decode()
    assert client.post(url).status_code == 409
    with pytest.raises(LoginsNotReadyError):
        logins_take(run=run, user=starter)
    assert HeldLogin.objects.filter(run=run).count() == 1  # nothing consumed

    _work_all()
    run.refresh_from_db()
    assert run.status == SyntheticRun.Status.SUCCEEDED and HeldLogin.objects.filter(run=run).count() == 6
    download = client.post(url)
    assert download.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert len(rows) == 6
    with connection.cursor() as cursor:
        for row in rows:
            cursor.execute("SELECT encrypted_password FROM auth.users WHERE id = %s", [row["user_id"]])
            assert bcrypt.checkpw(row["password"].encode(), cursor.fetchone()[0].encode())
    assert client.post(url).status_code == 410 and not HeldLogin.objects.exists()


def test_a_background_run_without_logins_holds_none():
    run = run_enqueue(
        request=GenerationRequest(patients=2, checkin_days=2, seed=4), started_by=Starter("os:test")
    )
    _work_all()
    run.refresh_from_db()
    assert run.status == SyntheticRun.Status.SUCCEEDED and not HeldLogin.objects.exists()


def test_before_any_user_the_pages_say_what_is_still_to_come(client):
    starter: User = _staff("starter", "generate_synthetic_data")
    run = run_enqueue(
        request=GenerationRequest(patients=2, checkin_days=2, seed=3),
        started_by=Starter("staff:starter", user_id=starter.pk),
        hold_logins=True,
    )
    client.force_login(starter)
    page = client.get(reverse("admin:synthadmin_syntheticrun_change", args=[run.pk])).content.decode()
    assert 'id="logins-coming"' in page
    logins = client.get(reverse("admin:synthadmin_syntheticrun_logins", args=[run.pk]))
    assert logins.status_code == 200 and 'id="logins-not-ready"' in logins.content.decode()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-for-tests"))
    purge = client.get(reverse("admin:synthadmin_syntheticrun_purge", args=[run.pk])).content.decode()
    assert 'id="purge-run-in-progress"' in purge  # the counts shown are of now: the run goes on
