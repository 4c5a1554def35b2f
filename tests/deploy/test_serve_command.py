"""The README's serve command, run as written with ``DJANGO_DEBUG=0`` (issue 22, "What it must
show"): the admin whole (login page and every stylesheet it links), a login as a TLS proxy
forwards it, the health endpoint with and without a worker, a sub-path deployment."""

from __future__ import annotations

import os
import re
import signal

import httpx
import pytest

from synthadmin.models import TaskWorker
from tests.deploy.conftest import csrf_token, production_user, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

HOST = "synth.example.com"


def stylesheets(html: str) -> list[str]:
    return re.findall(r'<link rel="stylesheet"[^>]*href="([^"]+)"', html)


def test_the_login_page_and_every_stylesheet_it_links_are_served(production_server):
    server = production_server()
    page = httpx.get(f"{server.url}/admin/login/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    sheets = stylesheets(page.text)
    assert len(sheets) >= 3 and all(re.search(r"\.[0-9a-f]{12}\.css$", s) for s in sheets), sheets
    for sheet in sheets:
        answer = httpx.get(f"{server.url}{sheet}", headers={"Accept-Encoding": "gzip"})
        assert answer.status_code == 200, sheet
        assert answer.headers["content-type"].startswith("text/css"), sheet
        assert answer.headers.get("content-encoding") == "gzip", sheet  # compressed by collectstatic
        assert "immutable" in answer.headers["cache-control"], sheet  # hashed names: cached for ever
    assert "Traceback" not in server.output()


@pytest.mark.exclusive  # stops the worker with SIGTERM and checks its clean exit
def test_the_health_endpoint_without_then_with_a_worker(production_server, readme_worker):
    server = production_server()
    health = httpx.get(f"{server.url}/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "database": "ok", "migrations": "ok", "workers": 0}
    assert health.headers["cache-control"] == "no-store"
    needing = httpx.get(f"{server.url}/healthz?workers=1")
    assert needing.status_code == 503 and needing.json()["status"] == "unavailable"

    worker = readme_worker()
    wait_for(lambda: httpx.get(f"{server.url}/healthz").json()["workers"] == 1, timeout=60, what="the worker")
    assert httpx.get(f"{server.url}/healthz?workers=1").status_code == 200

    os.killpg(worker.pid, signal.SIGTERM)  # as systemd stops it: a clean exit
    worker.wait(timeout=60)
    assert worker.returncode == 0, worker.stdout.read() if worker.stdout else ""
    assert TaskWorker.objects.filter(stopped_at__isnull=True).count() == 0
    assert httpx.get(f"{server.url}/healthz").json()["workers"] == 0


def test_the_health_endpoint_answers_any_host_over_plain_http(production_server):
    server = production_server(DJANGO_HTTPS="1", DJANGO_ALLOWED_HOSTS=HOST)
    # A load balancer probes by address, over plain HTTP: no redirect, no "bad host".
    probe = httpx.get(f"{server.url}/healthz", headers={"Host": "10.1.2.3:8000"})
    assert probe.status_code == 200 and probe.json()["status"] == "ok"
    assert httpx.get(f"{server.url}/admin/login/", headers={"Host": "10.1.2.3:8000"}).status_code == 400


def test_the_health_endpoint_says_when_the_database_is_unreachable(production_server):
    server = production_server(DATABASE_URL="postgresql://postgres@127.0.0.1:1/nothing")
    health = httpx.get(f"{server.url}/healthz", timeout=10)
    assert health.status_code == 503
    assert health.json() == {
        "status": "unavailable",
        "database": "unreachable",
        "migrations": "unknown",
        "workers": None,
    }
    assert "127.0.0.1:1" not in health.text


def test_a_login_forwarded_by_a_tls_proxy_goes_into_the_admin(production_server):
    production_user("operator", "a-long-test-password")
    server = production_server(
        DJANGO_HTTPS="1",
        DJANGO_TRUST_X_FORWARDED_PROTO="1",
        DJANGO_ALLOWED_HOSTS=HOST,
        DJANGO_CSRF_TRUSTED_ORIGINS=f"https://{HOST}",
    )
    proxied = {"Host": HOST, "X-Forwarded-Proto": "https"}
    # Plain HTTP, not through the proxy: sent to HTTPS.
    plain = httpx.get(f"{server.url}/admin/login/", headers={"Host": HOST})
    assert plain.status_code == 301 and plain.headers["location"] == f"https://{HOST}/admin/login/"

    form = httpx.get(f"{server.url}/admin/login/", headers=proxied)
    assert form.status_code == 200
    assert "max-age=" in form.headers["strict-transport-security"]
    csrf_cookie = form.cookies["csrftoken"]
    assert "secure" in form.headers["set-cookie"].lower()  # the cookie only ever goes over HTTPS
    # The browser's POST as the proxy forwards it: Host, X-Forwarded-Proto, Origin and Referer.
    login = httpx.post(
        f"{server.url}/admin/login/?next=/admin/",
        headers={
            **proxied,
            "Origin": f"https://{HOST}",
            "Referer": f"https://{HOST}/admin/login/",
            "Cookie": f"csrftoken={csrf_cookie}",
        },
        data={
            "csrfmiddlewaretoken": csrf_token(form.text),
            "username": "operator",
            "password": "a-long-test-password",
            "next": "/admin/",
        },
    )
    assert login.status_code == 302, login.text[:500]
    assert login.headers["location"] == "/admin/"
    session = login.cookies["sessionid"]
    home = httpx.get(f"{server.url}/admin/", headers={**proxied, "Cookie": f"sessionid={session}"})
    assert home.status_code == 200 and "Log out" in home.text


def test_a_sub_path_deployment_serves_the_admin_and_its_stylesheets_under_it(production_server):
    server = production_server(SCRIPT_NAME="/synth")
    page = httpx.get(f"{server.url}/synth/admin/login/")
    assert page.status_code == 200
    assert 'action="/synth/admin/login/' in page.text
    sheets = stylesheets(page.text)
    assert sheets and all(s.startswith("/synth/static/") for s in sheets)
    for sheet in sheets:
        answer = httpx.get(f"{server.url}{sheet}")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/css")
    assert httpx.get(f"{server.url}/synth/healthz").json()["status"] == "ok"
