"""A canary for ``synthadmin/auth/transport.py``: it fails loudly when an httpx or httpcore
upgrade changes what the Auth transport relies on (issue 22, item 5).

The transport uses httpx's and httpcore's public API (``httpx.HTTPTransport``,
``httpx.Proxy``, ``httpx.BaseTransport``, ``httpcore.ConnectionPool``/``HTTPProxy`` with a
``network_backend``, ``httpcore.NetworkBackend``/``NetworkStream``, the ``trace`` request
extension) and one private attribute: ``HTTPTransport._pool``. Each assumption is checked here
on its own, so that a failure names what changed; the pinned versions are checked first, so
that an upgrade is looked at even when everything still seems to work.
"""

from __future__ import annotations

import http.server
import inspect
import threading
from collections.abc import Iterator

import httpcore
import httpx
import pytest

from synthadmin.auth.transport import DeadlineBackend, DeadlineTransport, call_scope
from tests.support.forward_proxy import ForwardProxy

#: The versions the transport was last checked against (requirements.txt pins them).
CHECKED = {"httpx": "0.28.1", "httpcore": "1.0.9"}
RECHECK = (
    "synthadmin/auth/transport.py was checked against httpx {httpx} and httpcore {httpcore}; this is "
    "httpx {now_httpx} and httpcore {now_httpcore}. Re-read HTTPTransport.__init__/handle_request "
    "(the _pool attribute), httpcore's HTTPProxy tunnel and its 'trace' events, run the tests in "
    "tests/auth/ and tests/auth_faults/, then update CHECKED here."
)


class _Answer(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def origin() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_versions_are_the_ones_the_transport_was_checked_against():
    now = {"now_httpx": httpx.__version__, "now_httpcore": httpcore.__version__}
    assert (httpx.__version__, httpcore.__version__) == (CHECKED["httpx"], CHECKED["httpcore"]), (
        RECHECK.format(**CHECKED, **now)
    )


def test_httpx_keeps_its_connection_pool_in_the_pool_attribute():
    direct = httpx.HTTPTransport()
    proxied = httpx.HTTPTransport(proxy=httpx.Proxy("http://127.0.0.1:3128"))
    assert isinstance(getattr(direct, "_pool", None), httpcore.ConnectionPool), "HTTPTransport._pool moved"
    assert isinstance(getattr(proxied, "_pool", None), httpcore.HTTPProxy), "HTTPTransport._pool moved"


def test_httpx_sends_every_request_through_the_pool_attribute():
    seen: list[bytes] = []

    class Pool:
        def handle_request(self, request: httpcore.Request) -> httpcore.Response:
            seen.append(request.method)
            return httpcore.Response(204, headers=[], content=b"")

    transport = httpx.HTTPTransport()
    transport._pool = Pool()  # type: ignore[assignment]
    response = transport.handle_request(httpx.Request("GET", "http://example.invalid/"))
    assert response.status_code == 204
    assert seen == [b"GET"], "HTTPTransport.handle_request no longer goes through self._pool"


def test_httpcore_pools_take_a_network_backend():
    for pool in (httpcore.ConnectionPool, httpcore.HTTPProxy):
        assert "network_backend" in inspect.signature(pool).parameters, f"{pool.__name__}(network_backend=)"
    for name in ("connect_tcp", "connect_unix_socket", "sleep"):
        assert hasattr(httpcore.NetworkBackend, name)
    for name in ("read", "write", "close", "start_tls", "get_extra_info"):
        assert hasattr(httpcore.NetworkStream, name)
    connect = inspect.signature(httpcore.NetworkBackend.connect_tcp).parameters
    assert list(connect) == ["self", "host", "port", "timeout", "local_address", "socket_options"]


def test_httpx_proxy_exposes_what_the_transport_reads():
    proxy = httpx.Proxy("http://user:secret@proxy.example:3128")
    assert proxy.url.raw_host == b"proxy.example" and proxy.url.port == 3128
    assert proxy.raw_auth == (b"user", b"secret") and proxy.ssl_context is None
    assert isinstance(proxy.headers, httpx.Headers)


def test_our_pool_is_in_place_and_uses_our_backend(origin):
    transport = DeadlineTransport()
    pool = transport._pool
    assert isinstance(pool, httpcore.ConnectionPool)
    with httpx.Client(transport=transport) as client:
        assert client.get(f"{origin}/").status_code == 200
        connections = pool.connections
        assert connections, "no connection kept"
        # The backend that made the connection is ours (the slices, the deadline, the stop event).
        assert isinstance(connections[0], httpcore.HTTPConnection)
        assert isinstance(connections[0]._network_backend, DeadlineBackend)


def test_the_trace_extension_reports_the_request_and_a_proxys_connect(origin):
    events: list[tuple[str, object]] = []

    def trace(event: str, info: dict) -> None:
        if event == "http11.send_request_headers.started":
            events.append((event, info["request"].method))
        elif event == "http11.receive_response_headers.complete":
            events.append((event, info["return_value"][1]))

    with httpx.Client(transport=DeadlineTransport()) as client:
        client.get(f"{origin}/", extensions={"trace": trace})
    assert events == [
        ("http11.send_request_headers.started", b"GET"),
        ("http11.receive_response_headers.complete", 200),
    ]
    # Through a proxy's tunnel, the CONNECT comes first, with the same events.
    events.clear()
    with ForwardProxy() as proxy:
        transport = DeadlineTransport(proxy=httpx.Proxy(proxy.url))
        with httpx.Client(transport=transport) as client, pytest.raises(httpx.ConnectError):
            # https to a plain-HTTP origin: the tunnel opens, the TLS handshake then fails.
            client.get(origin.replace("http://", "https://") + "/", extensions={"trace": trace})
    assert events[:2] == [
        ("http11.send_request_headers.started", b"CONNECT"),
        ("http11.receive_response_headers.complete", 200),
    ]


def test_the_scope_knows_the_request_went_out(origin):
    from synthadmin.auth.transport import http_client

    with http_client() as client, call_scope(deadline=5) as scope:
        client.get(f"{origin}/")
    assert scope.sent and scope.response is not None and scope.response.status_code == 200
