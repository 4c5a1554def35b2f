"""The reset between tests that commit (``tests/dbreset.py``) leaves what Django's flush leaves:
every table of the installed apps empty, content types and permissions as migrate made them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.db import DEFAULT_DB_ALIAS

from synthadmin.models import SyntheticRun
from synthadmin.services.ledger import Starter, run_start
from tests.dbreset import flush_changed

pytestmark = pytest.mark.django_db(transaction=True)


def _kept() -> tuple[set[tuple[str, str]], set[str]]:
    return (
        set(ContentType.objects.values_list("app_label", "model")),
        set(Permission.objects.values_list("codename", flat=True)),
    )


def test_tables_with_rows_are_emptied_and_content_types_and_permissions_kept():
    flush_changed(DEFAULT_DB_ALIAS)  # a known start: the counts of content types and permissions noted
    kept = _kept()
    group = Group.objects.create(name="staff")
    group.permissions.add(Permission.objects.earliest("pk"))
    User.objects.create(username="someone")
    run_start(kind="generate", started_by=Starter("os:tester"), parameters={}, seed=0, auth_backend="local")

    flush_changed(DEFAULT_DB_ALIAS)

    assert not Group.objects.exists() and not User.objects.exists()
    assert not Group.permissions.through.objects.exists()
    assert not SyntheticRun.objects.exists()
    assert _kept() == kept


def test_a_test_that_adds_a_permission_gets_the_full_flush():
    flush_changed(DEFAULT_DB_ALIAS)
    kept = _kept()
    Permission.objects.create(
        codename="made_by_a_test", name="made by a test", content_type=ContentType.objects.earliest("pk")
    )

    flush_changed(DEFAULT_DB_ALIAS)

    assert _kept() == kept  # the extra permission gone, the migrated ones back
