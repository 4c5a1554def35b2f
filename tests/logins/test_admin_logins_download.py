"""Logins from the admin: made on request, held only encrypted, downloaded once by the run's starter."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging

import bcrypt
import pytest
from django.db import connection
from django.urls import reverse

from synthadmin.models import HeldLogin, SyntheticRun
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.logins import (
    LIFETIME,
    LoginsGoneError,
    logins_expire,
    logins_sink,
    logins_take,
)
from synthadmin.services.purge import synthetic_users_purge
from tests.invariants import assert_invariants
from tests.logins.conftest import FORM

GENERATE = "admin:profiles_profile_generate"


def _logins_url(run: SyntheticRun) -> str:
    return reverse("admin:synthadmin_syntheticrun_logins", args=[run.pk])


def _generate_with_logins(client, **overrides) -> SyntheticRun:
    response = client.post(reverse(GENERATE), {**FORM, "create_logins": "on", **overrides}, follow=True)
    assert response.status_code == 200
    return SyntheticRun.objects.get()


def _rows(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def _q(sql: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall()


def test_form_run_offers_logins_once_and_each_password_signs_in(client, starter, real_population, caplog):
    caplog.set_level(logging.DEBUG)
    client.force_login(starter)
    response = client.post(reverse(GENERATE), {**FORM, "create_logins": "on"}, follow=True)
    run = SyntheticRun.objects.get()
    page = response.content.decode()
    assert "Download logins (once)" in page and _logins_url(run) in page  # in the success message
    assert HeldLogin.objects.filter(run=run).count() == 4  # 3 patients + 1 therapist

    # The run's page shows the button while they are held; GET (a prefetch) consumes nothing.
    run_page = client.get(reverse("admin:synthadmin_syntheticrun_change", args=[run.pk])).content.decode()
    assert 'id="download-logins"' in run_page
    confirm = client.get(_logins_url(run))
    assert confirm.status_code == 200 and "no-cache" in confirm["Cache-Control"]
    assert HeldLogin.objects.filter(run=run).count() == 4

    download = client.post(_logins_url(run))
    assert download.status_code == 200
    assert download["Content-Disposition"] == f'attachment; filename="logins-{run.tag}.csv"'
    assert "no-store" in download["Cache-Control"]
    rows = _rows(download)
    assert list(rows[0]) == ["email", "password", "role", "user_id"]
    assert sorted(r["role"] for r in rows) == ["patient", "patient", "patient", "therapist"]
    for row in rows:
        assert row["email"].endswith("@example.com")
        (hashed,) = _q("SELECT encrypted_password FROM auth.users WHERE id = %s", [row["user_id"]])[0]
        assert bcrypt.checkpw(row["password"].encode(), hashed.encode())
    assert HeldLogin.objects.count() == 0  # the download deleted them

    # The first download won: a second is refused, and the button is gone.
    again = client.post(_logins_url(run))
    assert again.status_code == 410 and b"already downloaded" in again.content
    assert client.get(_logins_url(run)).status_code == 410
    run_page = client.get(reverse("admin:synthadmin_syntheticrun_change", args=[run.pk])).content.decode()
    assert 'id="download-logins"' not in run_page

    # Never logged, never in another page.
    for row in rows:
        assert row["password"] not in caplog.text
        assert row["password"] not in page and row["password"] not in run_page
    assert_invariants(real_population)


def test_the_database_holds_no_plaintext_password(client, starter, real_population):
    client.force_login(starter)
    run = _generate_with_logins(client)
    held = _q("SELECT user_id::text, token FROM synthadmin_heldlogin WHERE run_id = %s", [run.pk])
    assert len(held) == 4
    emails = [e for (e,) in _q("SELECT email FROM synthadmin_syntheticuser WHERE run_id = %s", [run.pk])]
    rows = _rows(client.post(_logins_url(run)))
    dump = " ".join(token for _, token in held)
    for row in rows:
        assert row["password"] not in dump and row["email"] not in dump
    assert all(email not in dump for email in emails)


@pytest.mark.parametrize("who", ["other_generator", "other_plain", "superuser"])
def test_only_the_starter_may_download(client, starter, real_population, request, who):
    client.force_login(starter)
    run = _generate_with_logins(client)
    client.force_login(request.getfixturevalue(who))
    assert client.get(_logins_url(run)).status_code == 403
    assert client.post(_logins_url(run)).status_code == 403
    run_page = client.get(reverse("admin:synthadmin_syntheticrun_change", args=[run.pk]))
    assert b'id="download-logins"' not in run_page.content
    assert HeldLogin.objects.filter(run=run).count() == 4  # still there for the starter


def test_the_starter_without_the_generate_permission_is_refused(client, starter, real_population):
    client.force_login(starter)
    run = _generate_with_logins(client)
    starter.user_permissions.remove(*starter.user_permissions.filter(codename="generate_synthetic_data"))
    from django.contrib.auth.models import User

    client.force_login(User.objects.get(pk=starter.pk))
    assert client.post(_logins_url(run)).status_code == 403


def test_held_logins_expire_an_hour_after_the_run_ended(client, starter, real_population):
    client.force_login(starter)
    run = _generate_with_logins(client)
    with connection.cursor() as cursor:  # written long ago: the hour counts from the run's end
        cursor.execute("UPDATE synthadmin_heldlogin SET created_at = created_at - interval '3 hours'")
    logins_expire()
    assert HeldLogin.objects.filter(run=run).count() == 4  # not an hour after the end yet
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE synthadmin_syntheticrun SET finished_at = finished_at - %s WHERE id = %s",
            [LIFETIME + dt.timedelta(seconds=1), run.pk],  # type: ignore[list-item]  # an interval: psycopg adapts it
        )
    response = client.get(_logins_url(run))  # the view expires them first
    assert response.status_code == 410
    assert _q("SELECT count(*) FROM synthadmin_heldlogin") == [(0,)]  # gone, not hidden


def test_purging_the_run_deletes_its_held_logins(client, starter, real_population):
    client.force_login(starter)
    run = _generate_with_logins(client)
    synthetic_users_purge(run=run.pk)
    assert HeldLogin.objects.count() == 0
    assert client.post(_logins_url(run)).status_code == 410


def test_no_logins_unless_asked(client, starter, real_population):
    client.force_login(starter)
    response = client.post(reverse(GENERATE), FORM, follow=True)
    assert HeldLogin.objects.count() == 0 and b"Download logins" not in response.content


def test_logins_through_the_auth_test_server(starter, real_population, auth_server, supabase_gateway):
    """The Supabase path: each held password is the one sent to Auth, and signs in (bcrypt)."""
    report = population_generate(
        request=_request(patients=3, therapists=1),
        started_by=Starter("staff:starter", user_id=starter.pk, source=SyntheticRun.Source.ADMIN),
        gateway=supabase_gateway,
        credentials=logins_sink(),
    )
    run = SyntheticRun.objects.get(pk=report.run_id)
    lines = b"".join(logins_take(run=run, user=starter)).decode()
    rows = list(csv.DictReader(io.StringIO(lines)))
    sent = {r.json["email"]: r.json["password"] for r in auth_server.requests_for("create")}
    assert len(rows) == 4
    for row in rows:
        assert sent[row["email"]] == row["password"]
        (hashed,) = _q("SELECT encrypted_password FROM auth.users WHERE id = %s", [row["user_id"]])[0]
        assert bcrypt.checkpw(row["password"].encode(), hashed.encode())
    with pytest.raises(LoginsGoneError):
        logins_take(run=run, user=starter)


def _request(**kwargs):
    from synthadmin.services.requests import GenerationRequest

    return GenerationRequest(checkin_days=5, seed=3, **kwargs)
