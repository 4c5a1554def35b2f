"""``manage.py check --deploy --fail-level WARNING`` passes with the documented production
variables (issue 22, item 2) — and the same check fails without HTTPS, so it is not silenced."""

from __future__ import annotations

import pytest

from tests.dbutil import manage
from tests.deploy.conftest import PRODUCTION

HOST = "synth.example.com"
DOCUMENTED = {
    **PRODUCTION,
    "DJANGO_SECRET_KEY": "7bq-Xv2n_K8sPq3LmW9zR4tY6uJ1hG5fD0aS8cE2xV7bN3mQ9pL4kT6yU1iO5rZ2",
    "DJANGO_ALLOWED_HOSTS": HOST,
    "DJANGO_CSRF_TRUSTED_ORIGINS": f"https://{HOST}",
    "DJANGO_HTTPS": "1",
    "DJANGO_TRUST_X_FORWARDED_PROTO": "1",
}


def test_check_deploy_passes_with_the_documented_production_variables():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=DOCUMENTED, check=False)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("unset", "warning"),
    [("DJANGO_HTTPS", "security.W004"), ("DJANGO_SECRET_KEY", "security.W009")],
)
def test_check_deploy_fails_without_them(unset, warning):
    env = {**DOCUMENTED, unset: "0" if unset == "DJANGO_HTTPS" else "short-key"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env, check=False)
    assert result.returncode == 1 and warning in result.stderr


def test_an_origin_without_its_scheme_is_refused_in_one_line():
    env = {**DOCUMENTED, "DJANGO_CSRF_TRUSTED_ORIGINS": HOST}
    result = manage("check", env=env, check=False)
    assert result.returncode == 1
    assert f"DJANGO_CSRF_TRUSTED_ORIGINS entries need their scheme, e.g. https://{HOST}" in result.stderr
