""" "Select all" across thousands of profiles works for both actions, posted as a browser posts it.

The browser posts the page's checkboxes (50 ids) with ``select_across=1``; the confirmation page
must carry that flag — not thousands of ids, which Django refuses beyond
``DATA_UPLOAD_MAX_NUMBER_FIELDS`` (1,000) with a 400 — back to the same filtered URL.
"""

from __future__ import annotations

import html
import re
import uuid

import pytest
from django.db import connection
from django.urls import reverse

from synthadmin.models import CheckinAddition, SyntheticRun, SyntheticUser
from tests.realdata import NIL, insert_real_user

CHANGELIST = reverse("admin:profiles_profile_changelist")


def _bulk_synthetic(count: int) -> SyntheticRun:
    """``count`` synthetic patients of one run, one check-in each, inserted in a few statements."""
    run = SyntheticRun.objects.create(started_by="os:bulk", seed=1, auth_backend="local", status="succeeded")
    ids = [uuid.uuid4() for _ in range(count)]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password, confirmation_token, "
            "recovery_token, email_change_token_new, email_change, raw_app_meta_data, raw_user_meta_data, "
            "created_at, updated_at) SELECT %s, u, 'authenticated', 'authenticated', 'bulk.' || u || '@example.com', "
            "'', '', '', '', '', '{}', '{\"role\": \"patient\"}', now(), now() FROM unnest(%s::uuid[]) u",
            [NIL, ids],
        )
        cursor.execute(
            "INSERT INTO public.profiles (id, email, role, is_test_patient) "
            "SELECT u, 'bulk.' || u || '@example.com', 'patient', true FROM unnest(%s::uuid[]) u "
            "ON CONFLICT (id) DO UPDATE SET is_test_patient = true, role = 'patient', email = EXCLUDED.email",
            [ids],
        )
        cursor.execute(
            "INSERT INTO public.check_ins (user_id, checkin_date) SELECT u, date '2026-06-30' "
            "FROM unnest(%s::uuid[]) u",
            [ids],
        )
    SyntheticUser.objects.bulk_create(
        SyntheticUser(
            run=run, user_id=u, email=f"bulk.{u}@example.com", role="patient", state="complete", checkins=1
        )
        for u in ids
    )
    return run


def _count(query: str, params: list | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchone()[0]


def _select_all(client, query: dict, action: str):
    """What the browser posts after "Select all N": the page's checkboxes and select_across=1."""
    page = client.get(CHANGELIST, query)
    on_page = [str(p.pk) for p in page.context["cl"].result_list]
    assert len(on_page) == 50
    url = CHANGELIST + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    response = client.post(
        url, {"action": action, "select_across": "1", "index": "0", "_selected_action": on_page}
    )
    return url, response


def _confirm(client, url: str, confirmation, **extra):
    """Post the confirmation page's own hidden fields back, as the browser would."""
    found = re.search(rb"<form method=\"post\">(.*?)</form>", confirmation.content, re.S)
    assert found is not None
    form = found.group(1).decode()
    fields = [
        (html.unescape(name), html.unescape(value))
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)
    ]
    assert len(fields) < 100  # the flag travels, not the rows
    data: dict[str, list[str]] = {}
    for name, value in fields:
        data.setdefault(name, []).append(value)
    for name, value in extra.items():
        data[name] = [value]
    return client.post(url, data, follow=True)


@pytest.mark.parametrize("count", [1005, 2500])
def test_delete_selected_across_everything(admin_client, supabase_tables_cleanup, count):
    _bulk_synthetic(count)
    real = insert_real_user(checkins=2)
    assert (
        admin_client.post(
            CHANGELIST, {"action": "delete_synthetic_users", "_selected_action": [str(real)] * 1001}
        ).status_code
        == 400
    )  # what thousands of ids do

    url, confirmation = _select_all(admin_client, {}, "delete_synthetic_users")
    assert confirmation.status_code == 200
    assert f'id="users-to-delete">{count}</strong>' in confirmation.content.decode()
    assert _count("SELECT count(*) FROM public.profiles WHERE is_test_patient") == count  # nothing yet

    done = _confirm(admin_client, url, confirmation)

    assert done.status_code == 200
    assert _count("SELECT count(*) FROM public.profiles WHERE is_test_patient") == 0
    assert _count("SELECT count(*) FROM auth.users") == 1
    assert _count("SELECT count(*) FROM public.check_ins WHERE user_id = %s", [real]) == 2
    messages = [str(m) for m in done.context["messages"]]
    assert f"Deleted {count:,} synthetic users ({count:,} check-ins)." in messages


@pytest.mark.parametrize("count", [1005, 2500])
def test_add_checkin_days_selected_across_a_filtered_list(admin_client, supabase_tables_cleanup, count):
    run = _bulk_synthetic(count)
    real = insert_real_user(checkins=2)

    url, page = _select_all(admin_client, {"test_patient": "yes"}, "add_checkin_days")
    assert page.status_code == 200 and f'id="synthetic-patients">{count:,}</strong>' in page.content.decode()

    done = _confirm(admin_client, url, page, apply="Add check-in days", days="2", pattern="stable")

    assert done.status_code == 200
    extend = SyntheticRun.objects.get(kind="extend")
    assert CheckinAddition.objects.filter(run=extend).count() == count
    added = _count(
        "SELECT count(*) FROM public.check_ins c JOIN synthadmin.synthadmin_syntheticuser e ON e.user_id = c.user_id "
        "WHERE e.run_id = %s AND c.checkin_date < date '2026-06-30'",
        [run.pk],
    )
    assert added == extend.checkins_created > 0
    assert _count("SELECT count(*) FROM public.check_ins WHERE user_id = %s", [real]) == 2
