"""The company's network (issue 22, item 5): every Supabase Auth call goes through the proxy the
environment names (``HTTP_PROXY``/``HTTPS_PROXY``, plain forwarding and ``CONNECT`` tunnels),
trusts the CA ``SSL_CERT_FILE`` names, keeps its total deadline, and ``NO_PROXY`` bypasses it.

The Auth test server is reached as ``auth.supabase.test``, a name only the test proxy resolves
(as a company's proxy resolves names its clients cannot): a call that did not go through the
proxy could not have reached it at all. Proxy credentials never appear in a message.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator

import pytest

from synthadmin.auth.base import APP_METADATA_KEY, NewAuthUser
from synthadmin.auth.supabase import SupabaseAuthGateway
from synthadmin.exceptions import AuthDeadlineExceededError, AuthGatewayError, ConfigurationError
from synthadmin.models import SyntheticUser
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.purge import synthetic_users_purge
from synthadmin.services.requests import GenerationRequest
from tests.auth.conftest import test_database_conninfo
from tests.dbutil import manage
from tests.invariants import assert_invariants, synthetic_counts
from tests.ops.helpers import test_database_env
from tests.support.forward_proxy import ForwardProxy
from tests.support.gotrue import GoTrueDouble
from tests.support.tls import TestCA

pytestmark = pytest.mark.django_db(transaction=True)

#: The name only the proxy resolves.
AUTH_HOST = "auth.supabase.test"
PROXY_USER, PROXY_PASSWORD = "svc-synth", "proxy-Pa55word-not-to-be-shown"


def _request(**kwargs) -> GenerationRequest:
    return GenerationRequest(
        **{"seed": 7, "end_date": dt.date(2026, 6, 30), "checkin_days": 5, "concurrency": 2, **kwargs}
    )


def _new_user() -> NewAuthUser:
    user_id = uuid.uuid4()
    return NewAuthUser(
        id=user_id,
        email=f"proxy-{user_id.hex[:10]}@example.com",
        user_metadata={},
        app_metadata={APP_METADATA_KEY: {"synthetic": True}},
    )


@pytest.fixture
def tls_gotrue(supabase_tables_cleanup, tmp_path) -> Iterator[tuple[GoTrueDouble, TestCA]]:
    """The Auth test server over HTTPS, its certificate for ``AUTH_HOST`` from a CA of the test's."""
    ca = TestCA(tmp_path / "ca", name="Example Corp root CA (tests)")
    issued = ca.issue("auth", [AUTH_HOST])
    with GoTrueDouble(conninfo=test_database_conninfo(), tls=issued.server_context()) as double:
        yield double, ca


@pytest.fixture
def proxy(gotrue) -> Iterator[ForwardProxy]:
    with ForwardProxy(hosts={AUTH_HOST: "127.0.0.1"}) as running:
        yield running


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_generate_and_purge_go_through_a_plain_proxy(
    real_population, gotrue, proxy, monkeypatch, fast_retries
):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    url = f"http://{AUTH_HOST}:{_port(gotrue.url)}"
    with SupabaseAuthGateway(url=url, key=gotrue.service_role_key) as gateway:
        report = population_generate(
            request=_request(patients=3, therapists=1), started_by=Starter("os:t"), gateway=gateway
        )
        assert report.status == "succeeded" and synthetic_counts()["auth_users"] == 4
        purged = synthetic_users_purge(run=report.run_id, gateway=gateway)
    assert purged.users_deleted == 4 and synthetic_counts()["auth_users"] == 0
    calls = sum(gotrue.calls.values())
    assert calls >= 4 + 4  # creates and deletes at least, preflights and lookups too
    # Every call the Auth server answered was one the proxy forwarded: none came another way.
    assert proxy.counts.forwarded == {f"{AUTH_HOST}:{_port(gotrue.url)}": calls}
    assert proxy.counts.tunnels == {}
    assert_invariants(real_population)


def test_the_commands_generate_and_purge_through_a_connect_tunnel_trusting_the_company_ca(
    real_population, tls_gotrue
):
    gotrue, ca = tls_gotrue
    with ForwardProxy(credentials=(PROXY_USER, PROXY_PASSWORD), hosts={AUTH_HOST: "127.0.0.1"}) as proxy:
        env = test_database_env(
            {
                "SUPABASE_URL": f"https://{AUTH_HOST}:{_port(gotrue.url)}",
                "SUPABASE_SERVICE_ROLE_KEY": gotrue.service_role_key,
                "HTTPS_PROXY": proxy.url,
                "SSL_CERT_FILE": str(ca.cert),
            }
        )
        made = manage("generate_synthetic", "--patients", "2", "--checkins", "3", "--json", env=env)
        run_id = json.loads(made.stdout)["run_id"]
        purged = manage("purge_synthetic", "--run", run_id, "--yes", env=env)
    assert synthetic_counts()["auth_users"] == 0
    assert SyntheticUser.objects.filter(run_id=run_id, state="purged").count() == 2
    # Inside the tunnels the calls are encrypted: the proxy counts the tunnels it opened, and
    # the Auth server, reachable only through it, answered every call.
    assert sum(proxy.counts.tunnels.values()) >= 2 and set(proxy.counts.tunnels) == {
        f"{AUTH_HOST}:{_port(gotrue.url)}"
    }
    assert gotrue.calls["create"] == 2 and gotrue.calls["delete"] == 2
    assert proxy.counts.forwarded == {} and proxy.counts.refused == 0
    for output in (made.stdout, made.stderr, purged.stdout, purged.stderr):
        assert PROXY_PASSWORD not in output and PROXY_USER not in output
    assert_invariants(real_population)


@pytest.mark.exclusive  # measures time
def test_the_deadline_still_ends_a_trickling_call_through_the_proxy(gotrue, proxy, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    gotrue.faults.trickle_next(10, interval=3.0)
    url = f"http://{AUTH_HOST}:{_port(gotrue.url)}"
    user = _new_user()
    with SupabaseAuthGateway(
        url=url, key=gotrue.service_role_key, timeout=5.0, deadline_seconds=3.0
    ) as gateway:
        started = time.monotonic()
        with pytest.raises(AuthDeadlineExceededError) as caught:
            gateway.create_user(user)
        elapsed = time.monotonic() - started
    assert elapsed < 3.5
    assert caught.value.user_may_exist is True  # sent through the proxy, and the server stored it
    assert sum(proxy.counts.forwarded.values()) == sum(gotrue.calls.values()) == 2  # create, lookup


def test_no_proxy_bypasses_the_proxy(gotrue, proxy, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    with SupabaseAuthGateway(url=gotrue.url, key=gotrue.service_role_key) as gateway:
        gateway.preflight()
        created = gateway.create_user(_new_user())
    assert created.id and gotrue.calls["create"] == 1
    assert proxy.counts.total == 0


def test_a_proxy_refusing_the_credentials_is_one_line_without_them(tls_gotrue, monkeypatch):
    gotrue, ca = tls_gotrue
    with ForwardProxy(credentials=(PROXY_USER, "the-right-one"), hosts={AUTH_HOST: "127.0.0.1"}) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url.replace("the-right-one", PROXY_PASSWORD))
        monkeypatch.setenv("SSL_CERT_FILE", str(ca.cert))
        with SupabaseAuthGateway(
            url=f"https://{AUTH_HOST}:{_port(gotrue.url)}", key=gotrue.service_role_key
        ) as gw:
            with pytest.raises(AuthGatewayError) as caught:
                gw.preflight()
    message = str(caught.value)
    assert "\n" not in message
    assert f"the proxy http://127.0.0.1:{proxy.port} (HTTPS_PROXY)" in message
    assert "HTTP 407" in message and "check HTTPS_PROXY" in message
    assert PROXY_PASSWORD not in message and PROXY_USER not in message
    assert proxy.counts.refused >= 1 and sum(gotrue.calls.values()) == 0


def test_an_unreachable_proxy_is_one_line_without_its_credentials(gotrue, monkeypatch):
    with ForwardProxy() as closed:
        port = closed.port  # a port nobody listens on once it is stopped
    monkeypatch.setenv("HTTP_PROXY", f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{port}")
    with SupabaseAuthGateway(
        url=f"http://{AUTH_HOST}:{_port(gotrue.url)}", key=gotrue.service_role_key
    ) as gw:
        with pytest.raises(AuthGatewayError) as caught:
            gw.preflight()
    message = str(caught.value)
    assert f"the proxy http://127.0.0.1:{port} (HTTP_PROXY): connection refused" in message
    assert PROXY_PASSWORD not in message and PROXY_USER not in message and "\n" not in message


def test_a_ca_not_trusted_is_one_line_and_a_missing_bundle_is_refused(tls_gotrue, monkeypatch):
    gotrue, _ca = tls_gotrue  # its certificate is from the test's CA, which nothing trusts yet
    url = f"https://{AUTH_HOST}:{_port(gotrue.url)}"
    with ForwardProxy(hosts={AUTH_HOST: "127.0.0.1"}) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        with SupabaseAuthGateway(url=url, key=gotrue.service_role_key) as gateway:
            with pytest.raises(AuthGatewayError) as caught:
                gateway.preflight()
    message = str(caught.value)
    assert "\n" not in message and f"TLS certificate of {AUTH_HOST} not trusted" in message
    assert sum(gotrue.calls.values()) == 0
    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent/company-ca.pem")
    with pytest.raises(ConfigurationError) as refused:
        SupabaseAuthGateway(url=url, key=gotrue.service_role_key)
    assert str(refused.value) == (
        "SSL_CERT_FILE=/nonexistent/company-ca.pem: no such file (a PEM bundle of trusted CAs)"
    )
