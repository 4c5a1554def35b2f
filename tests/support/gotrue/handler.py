"""The Auth test server's HTTP handler: each request recorded (``RecordedRequest``), the planned
faults applied in GoTrue's order, then the route served and the answer sent (or trickled)."""

from __future__ import annotations

import contextlib
import json
import ssl
import sys
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from tests.support.gotrue import routes
from tests.support.gotrue.faults import FAULT_BODIES, Capacity
from tests.support.gotrue.go_compat import parse_create_params
from tests.support.gotrue.responses import (
    API_VERSION_HEADER,
    ApiError,
    DropConnection,
    error_response,
    wants_2024_errors,
)

if TYPE_CHECKING:
    from tests.support.gotrue.server import GoTrueDouble


@dataclass
class RecordedRequest:
    """One request the double received. ``headers`` is case-insensitive (``httpx.Headers``)."""

    method: str
    path: str
    query: dict[str, str]
    headers: httpx.Headers
    body: bytes
    json: Any
    route: str
    status: int | None = None
    """The status answered (even if the client had hung up); None while in flight, or when the
    connection was dropped without a response."""
    received_at: float = 0.0
    """``time.monotonic()`` when the request had been read (the same clock in every thread)."""
    answered_at: float | None = None
    """``time.monotonic()`` when the answer (its first byte) went out; None if none did."""
    retry_after: str | None = None
    """The ``Retry-After`` header answered, if any."""


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    double: GoTrueDouble
    #: Serve HTTPS with this context (the handshake in the connection's own thread).
    tls: ssl.SSLContext | None = None

    def process_request(self, request: Any, client_address: Any) -> None:
        # Known from its accept on (before its thread runs): ``wait_settled`` waits for it.
        self.double.connection_opened(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.double.connection_closed(request)
        super().shutdown_request(request)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is not None:
            request = self.tls.wrap_socket(request, server_side=True)
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (timeouts, dropped connections) is expected here, not an error.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle plus the client's
    # delayed ACK add ~40 ms to every response.
    disable_nagle_algorithm = True
    server: Server
    server_version = "gotrue-double"

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    @property
    def double(self) -> GoTrueDouble:
        return self.server.double

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        try:
            parsed_json = json.loads(body) if body else None
        except ValueError:
            parsed_json = None
        route, segment = routes.route(self.command, split.path)
        self._record = RecordedRequest(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers=httpx.Headers(list(self.headers.items())),
            body=body,
            json=parsed_json,
            route=route,
            received_at=time.monotonic(),
        )
        double = self.double
        self._trickle: float | None = None
        self._api_2024 = (
            wants_2024_errors(self.headers.get(API_VERSION_HEADER))
            and double.faults.version_stripped() != "in"
        )
        double.request_began(self._record)
        capacity = double.faults.current_capacity()
        admitted = False
        try:
            if double.stopping:
                raise DropConnection
            admitted = self._admit(capacity)
            self._serve(route, segment, split.query, body, parsed_json)
        except DropConnection:
            self.close_connection = True
        except ApiError as exc:
            self._send_error(exc)
        except OSError:
            self.close_connection = True
        except Exception as exc:  # GoTrue's recoverer turns panics into a generic 500
            with contextlib.suppress(OSError):
                self._send_error(ApiError(500, "unexpected_failure", "Internal Server Error"))
            sys.stderr.write(f"gotrue double: unexpected {exc!r}\n")
        finally:
            if admitted and capacity is not None:
                capacity.leave()
            double.request_ended()

    def _admit(self, capacity: Capacity | None) -> bool:
        """True when a capacity limit admitted the request; 429 when it is full."""
        if capacity is None:
            return False
        if not capacity.admit():
            code, message = FAULT_BODIES[429]
            retry = {"Retry-After": capacity.retry_after} if capacity.retry_after else None
            raise ApiError(429, code, message, headers=retry)
        return True

    def _serve(self, route: str, segment: str, query: str, body: bytes, parsed_json: Any) -> None:
        """The planned faults, in order: grace, latency, rejection, the next matching fault."""
        double = self.double
        if double.faults.take_grace():
            self._serve_plainly(route, segment, query, body)
            return
        if double.sleep(double.faults.current_latency()):
            raise DropConnection
        if route == "other":  # no fault reaches what GoTrue does not route
            self._serve_plainly(route, segment, query, body)
            return
        rejection = double.faults.current_rejection()
        if rejection is not None:
            status, code, message, html = rejection
            raise ApiError(status, code, message, html=html)
        fault = double.faults.take_before(route, parsed_json)
        if fault is not None and fault.kind == "trickle":
            self._trickle = fault.seconds
        elif fault is not None and fault.kind == "hold":
            double.faults.hold(double.stopping_event)
            if double.stopping:
                raise DropConnection
        elif fault is not None:
            if fault.kind == "fail":
                retry = {"Retry-After": fault.retry_after} if fault.retry_after else None
                raise ApiError(fault.status or 500, fault.code, fault.message, headers=retry, html=fault.html)
            if double.sleep(fault.seconds):
                raise DropConnection
            if not fault.then_process:
                code, message = FAULT_BODIES[504]
                raise ApiError(504, code, message)
        self._serve_plainly(route, segment, query, body)

    def _serve_plainly(self, route: str, segment: str, query: str, body: bytes) -> None:
        """The request as GoTrue serves it, no fault planned."""
        if route == "other":
            self._send_raw(404, b"404 page not found\n", "text/plain; charset=utf-8")
            return
        double = self.double
        routes.require_admin(self.headers.get("Authorization"), double.jwt_secret)
        aud = double.default_aud
        if route == "create":
            self._create(body, aud)
        elif route == "list":
            payload, headers = routes.users_page(double, query, aud)
            self._send_json(200, payload, headers)
        elif route == "get":
            self._send_json(200, routes.user_load(double, segment))
        else:
            routes.user_delete(double, routes.user_load(double, segment), body)
            self._send_json(200, {})

    def _create(self, body: bytes, aud: str) -> None:
        """Create the user, then the fault planned after a create: die, drop or fail the answer."""
        params = parse_create_params(body)
        user = routes.user_create(self.double, params, aud)
        crash = self.double.faults.take_after("create", params)
        if crash is not None and crash.kind == "die":
            self.double.die()
            raise DropConnection
        if crash is not None:
            if crash.status is None:
                raise DropConnection
            code, message = FAULT_BODIES.get(crash.status, ("unexpected_failure", f"HTTP {crash.status}"))
            raise ApiError(crash.status, code, message)
        self._send_json(200, user)

    def _send_raw(
        self, status: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        service_time = self.double.faults.current_service_time()
        if service_time and self.double.sleep(self._record.received_at + service_time - time.monotonic()):
            raise DropConnection
        self.double.answered(self._record, status, (headers or {}).get("Retry-After"))
        if self._trickle is not None:
            self._send_trickle(status, payload, content_type, headers or {})
            return
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

    def _send_trickle(self, status: int, payload: bytes, content_type: str, headers: dict[str, str]) -> None:
        """The whole answer, status line first, one byte every ``self._trickle`` seconds."""
        lines = [
            f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}",
            f"Server: {self.version_string()}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(payload)}",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload
        interval = self._trickle or 0.0
        for position in range(len(raw)):
            self.wfile.write(raw[position : position + 1])
            self.wfile.flush()
            if self.double.sleep(interval):
                raise DropConnection

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send_raw(status, json.dumps(payload).encode("utf-8"), "application/json", headers)

    def _send_error(self, error: ApiError) -> None:
        echo_version = self.double.faults.version_stripped() != "response"
        payload, content_type, headers = error_response(
            error, api_2024=self._api_2024, echo_version=echo_version
        )
        self._send_raw(error.status, payload, content_type, headers)


__all__ = ["Handler", "RecordedRequest", "Server"]
