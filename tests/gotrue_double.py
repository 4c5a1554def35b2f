"""A Supabase Auth (GoTrue) admin API test server, over real HTTP, on real ``auth.users``.

It follows ``docs/auth-admin-api.md``: the routes under ``/auth/v1/admin/users``, the admin
check, create's processing order and error bodies, list paging headers, hard and soft delete.
Rows are written with ``synthadmin.auth.gotrue_store`` (the same code as the local gateway) and
committed, so other connections (Django's) see them. Faults are injected per call through
``GoTrueDouble.faults`` so that retries, timeouts and "the server did it but the client did not
hear" can be tested against the official ``supabase`` client.

    with GoTrueDouble(conninfo=...) as gotrue:
        client = supabase.create_client(gotrue.url, gotrue.service_role_key, options=...)
        gotrue.faults.fail_next(2, status=503)

Faults that real projects report (``docs/auth-admin-api.md``): a failing signup
trigger (``failing_signup_trigger()`` installs a real one on ``auth.users``), a delete refused
by a foreign key (``block_delete()``), 429 with ``Retry-After`` (``fail_next(status=429,
retry_after=...)``) or beyond a limited capacity (``faults.capacity()``), lost answers after a
successful create (``crash_after_create_next``), an Auth process killed right after a commit
(``die_after_create_next``), a slow trickle (``trickle_next``), HTML bodies
(``fail_next(..., html=True)``, ``reject_all(..., html=True)``) and a version header lost on the
way in or out (``strip_version_header``). ``grace(1)`` lets synthadmin's preflight through
untouched, so that the faults planned hit the run part way rather than refusing it up front.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import jwt
import psycopg
from psycopg import pq

from synthadmin.auth import gotrue_store
from synthadmin.exceptions import DuplicateEmailError, DuplicateUserIdError

DEFAULT_JWT_SECRET = "gotrue-double-jwt-secret-for-tests-only-0123456789"
ADMIN_ROLES = frozenset({"service_role", "supabase_admin"})
API_PREFIX = "/auth/v1"
USERS_PATH = "/admin/users"
API_VERSION_HEADER = "X-Supabase-Api-Version"
API_VERSION_2024_01_01 = "2024-01-01"
MAX_BODY_BYTES = 1024 * 1024
DEFAULT_PER_PAGE = 50

ROUTES = ("create", "list", "get", "delete")

_BEARER = re.compile(r"^[Bb]earer (\S+)$")
_EMAIL = re.compile(
    r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$"
)
_E164 = re.compile(r"^[1-9]\d{1,14}$")
_HEX = "[0-9a-fA-F]"
_CANONICAL_UUID = f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}"
# The forms gofrs/uuid.FromString accepts.
_GO_UUID = re.compile(
    rf"^(?:{_CANONICAL_UUID}|\{{{_CANONICAL_UUID}\}}|urn:uuid:{_CANONICAL_UUID}|{_HEX}{{32}})$"
)
_BCRYPT_HASH = re.compile(r"^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$")
_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_GO_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}

# Admin create's JSON fields and their Go types (api.AdminUserParams).
_CREATE_FIELDS = {
    "id": str,
    "aud": str,
    "role": str,
    "email": str,
    "phone": str,
    "password": str,
    "password_hash": str,
    "email_confirm": bool,
    "phone_confirm": bool,
    "user_metadata": dict,
    "app_metadata": dict,
    "ban_duration": str,
}
_GO_TYPE_NAMES = {str: "string", bool: "bool", dict: "map[string]interface {}"}

_DEFAULT = object()

#: Bodies of injected faults, by status: (error code or None for a gateway body, message).
_FAULT_BODIES: dict[int, tuple[str | None, str]] = {
    401: ("no_authorization", "This endpoint requires a valid Bearer token"),
    403: ("not_admin", "User not allowed"),
    429: ("over_request_rate_limit", "Request rate limit reached"),
    500: ("unexpected_failure", "Internal Server Error"),
    502: (None, "An invalid response was received from the upstream server"),
    503: (None, "name resolution failed"),
    504: ("request_timeout", "Processing this request timed out, please retry after a moment."),
}


class _ApiError(Exception):
    """An error response GoTrue would render (``apierrors.HTTPError``)."""

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        *,
        pg_error: Any = None,
        headers: dict[str, str] | None = None,
        html: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.pg_error = pg_error
        self.headers = headers or {}
        self.html = html


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


@dataclass
class _Fault:
    kind: str
    remaining: int
    route: str
    status: int | None = None
    code: str | None = None
    message: str = ""
    seconds: float = 0.0
    then_process: bool = False
    user_id: str | None = None
    retry_after: str | None = None
    html: bool = False

    def matches(self, route: str, body: Any) -> bool:
        if self.route not in ("any", route):
            return False
        if self.user_id is None:
            return True
        return isinstance(body, dict) and str(body.get("id", "")).lower() == self.user_id


class FaultPlan:
    """Thread-safe, per-call fault injection. Each ``*_next`` fault is used up by ``n`` calls.

    ``route`` is one of ``"create"``, ``"list"``, ``"get"``, ``"delete"`` or ``"any"``. A
    ``user_id`` limits a fault to creates whose body carries that id. Faults apply before the
    admin check and before anything is stored, except ``crash_after_create_next``.
    """

    def __init__(self, occupier: Callable[..., str] | None = None) -> None:
        self._lock = threading.Lock()
        self._occupier = occupier
        self._latency = 0.0
        self._reject: tuple[int, str | None, str, bool] | None = None
        self._before: list[_Fault] = []
        self._after: list[_Fault] = []
        self._capacity: _Capacity | None = None
        self._strip_version: str | None = None
        self._grace = 0

    def grace(self, n: int = 1) -> None:
        """Serve the next ``n`` requests as if nothing were planned (no latency, rejection or
        fault; none used up): synthadmin's preflight passes, and the faults hit the run after
        it — Auth lost, or the key refused, part way."""
        with self._lock:
            self._grace = max(0, int(n))

    def latency(self, seconds: float) -> None:
        """Delay every request by ``seconds`` (e.g. 0.05 for a benchmark); 0 turns it off."""
        with self._lock:
            self._latency = max(0.0, float(seconds))

    def fail_next(
        self,
        n: int = 1,
        *,
        status: int = 500,
        code: Any = _DEFAULT,
        message: str | None = None,
        route: str = "create",
        user_id: uuid.UUID | str | None = None,
        retry_after: float | str | None = None,
        html: bool = False,
    ) -> None:
        """Answer the next ``n`` matching calls with ``status`` and nothing stored.

        The default bodies: 429 ``over_request_rate_limit``, 500 ``unexpected_failure``, 504
        ``request_timeout`` (GoTrue's); 502 / 503 a gateway body without a code. ``code=None``
        sends a gateway-style ``{"message": ...}`` body; ``html=True`` an HTML page (a proxy, a
        wrong URL), with any status, 200 included. ``retry_after`` adds a ``Retry-After``
        header (seconds, or a string such as an HTTP-date).
        """
        default_code, default_message = _FAULT_BODIES.get(status, ("unexpected_failure", f"HTTP {status}"))
        self._add_before(
            _Fault(
                "fail",
                n,
                _check_route(route),
                status=status,
                code=default_code if code is _DEFAULT else code,
                message=default_message if message is None else message,
                user_id=_norm_id(user_id),
                retry_after=None if retry_after is None else _header_value(retry_after),
                html=html,
            )
        )

    def trickle_next(self, n: int = 1, *, interval: float = 3.0, route: str = "any") -> None:
        """Carry out the next ``n`` matching calls, then send each answer one byte every
        ``interval`` seconds, status line first (httpx's per-read timeouts never fire)."""
        self._add_before(_Fault("trickle", n, _check_route(route), seconds=float(interval)))

    def capacity(
        self, concurrent: int | None, *, queue: int = 0, retry_after: float | str | None = None
    ) -> None:
        """Serve at most ``concurrent`` requests at once (the latency counts as serving), let
        ``queue`` more wait, and answer 429 (with ``retry_after``, if given) beyond that, like
        a gateway in front of a busy Auth service. ``None`` removes the limit."""
        with self._lock:
            self._capacity = (
                None
                if concurrent is None
                else _Capacity(concurrent, queue, None if retry_after is None else _header_value(retry_after))
            )

    def strip_version_header(self, where: str = "response") -> None:
        """Lose ``X-Supabase-Api-Version`` on the way ``"in"`` (GoTrue then renders legacy error
        bodies) or on the way out (``"response"``: 2024 bodies, but the client cannot tell), as
        a component in between might; until ``clear()``."""
        if where not in ("in", "response"):
            raise ValueError("where must be 'in' or 'response'")
        with self._lock:
            self._strip_version = where

    def timeout_next(
        self,
        n: int = 1,
        seconds: float = 1.5,
        *,
        route: str = "create",
        then_process: bool = False,
        user_id: uuid.UUID | str | None = None,
    ) -> None:
        """Hold the next ``n`` matching calls for ``seconds`` before answering.

        Use a client whose httpx timeout is shorter than ``seconds``: it gives up with
        ``AuthRetryableError(status=0)``. Afterwards the server answers 504 ``request_timeout``
        with nothing stored or, with ``then_process=True``, carries the request out (the user
        is created although the client never heard back).
        """
        self._add_before(
            _Fault(
                "timeout",
                n,
                _check_route(route),
                seconds=float(seconds),
                then_process=then_process,
                user_id=_norm_id(user_id),
            )
        )

    def duplicate_email_next(self, n: int = 1) -> None:
        """Answer the next ``n`` creates with GoTrue's 422 ``email_exists``, storing nothing."""
        self._add_before(
            _Fault(
                "fail",
                n,
                "create",
                status=422,
                code="email_exists",
                message="A user with this email address has already been registered",
            )
        )

    def crash_after_create_next(
        self, n: int = 1, *, status: int | None = 500, user_id: uuid.UUID | str | None = None
    ) -> None:
        """Store the next ``n`` successful creates, then fail the response.

        ``status`` 500 answers ``unexpected_failure`` (502-504 give the client a retryable
        error); ``status=None`` drops the connection without a response (the client raises
        ``AuthRetryableError(status=0)``). Either way the user exists.
        """
        self._add_after(_Fault("crash", n, "create", status=status, user_id=_norm_id(user_id)))

    def die_after_create_next(self, *, user_id: uuid.UUID | str | None = None) -> None:
        """Store the next matching create, then die as a killed Auth process does: this
        connection is dropped without an answer, every request after it too, and the server
        stops (connections refused from then on). ``GoTrueDouble.start()`` brings it back."""
        self._add_after(_Fault("die", 1, "create", user_id=_norm_id(user_id)))

    def reject_all(
        self, status: int = 401, *, code: Any = _DEFAULT, message: str | None = None, html: bool = False
    ) -> None:
        """Answer every request with ``status`` (401 ``no_authorization``, 403 ``not_admin``...)
        until ``clear()``; ``code=None`` sends a gateway body such as 401 "Invalid API key";
        ``html=True`` an HTML page (a proxy or a wrong URL answering)."""
        default_code, default_message = _FAULT_BODIES.get(status, ("unexpected_failure", f"HTTP {status}"))
        with self._lock:
            self._reject = (
                status,
                default_code if code is _DEFAULT else code,
                default_message if message is None else message,
                html,
            )

    def occupy_id(self, user_id: uuid.UUID | str, *, email: str | None = None) -> str:
        """Commit a foreign user with ``user_id`` now, so creating that id takes GoTrue's genuine
        500 ``unexpected_failure`` path. Returns the foreign user's e-mail."""
        if self._occupier is None:
            raise RuntimeError("this FaultPlan is not attached to a GoTrueDouble")
        return self._occupier(user_id, email=email)

    existing_id = occupy_id

    def clear(self) -> None:
        """Remove every fault, latency and rejection."""
        with self._lock:
            self._latency = 0.0
            self._reject = None
            self._before.clear()
            self._after.clear()
            self._capacity = None
            self._strip_version = None
            self._grace = 0

    @property
    def pending(self) -> int:
        """How many injected fault uses are still to come (``reject_all`` not counted)."""
        with self._lock:
            return sum(f.remaining for f in (*self._before, *self._after))

    # Used by the server.
    def _add_before(self, fault: _Fault) -> None:
        if fault.remaining > 0:
            with self._lock:
                self._before.append(fault)

    def _add_after(self, fault: _Fault) -> None:
        if fault.remaining > 0:
            with self._lock:
                self._after.append(fault)

    def _take_grace(self) -> bool:
        with self._lock:
            if self._grace <= 0:
                return False
            self._grace -= 1
            return True

    def _current_latency(self) -> float:
        with self._lock:
            return self._latency

    def _current_rejection(self) -> tuple[int, str | None, str, bool] | None:
        with self._lock:
            return self._reject

    def _current_capacity(self) -> _Capacity | None:
        with self._lock:
            return self._capacity

    def _version_stripped(self) -> str | None:
        with self._lock:
            return self._strip_version

    def _take(self, faults: list[_Fault], route: str, body: Any) -> _Fault | None:
        with self._lock:
            for fault in faults:
                if fault.matches(route, body):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        faults.remove(fault)
                    return fault
        return None

    def _take_before(self, route: str, body: Any) -> _Fault | None:
        return self._take(self._before, route, body)

    def _take_after(self, route: str, body: Any) -> _Fault | None:
        return self._take(self._after, route, body)


class _Capacity:
    """``concurrent`` requests served at once, ``queue`` waiting, 429 for the rest."""

    def __init__(self, concurrent: int, queue: int, retry_after: str | None) -> None:
        self.concurrent = concurrent
        self.queue = queue
        self.retry_after = retry_after
        self._slots = threading.Semaphore(concurrent)
        self._lock = threading.Lock()
        self._admitted = 0  # serving + waiting
        self.refused = 0
        self.served = 0

    def admit(self) -> bool:
        with self._lock:
            if self._admitted >= self.concurrent + self.queue:
                self.refused += 1
                return False
            self._admitted += 1
        self._slots.acquire()
        return True

    def leave(self) -> None:
        self._slots.release()
        with self._lock:
            self._admitted -= 1
            self.served += 1


class _ConnectionPool:
    """A few psycopg connections (autocommit off), reused across requests under a lock."""

    def __init__(self, conninfo: str, *, max_idle: int = 8) -> None:
        self._conninfo = conninfo
        self._max_idle = max_idle
        self._idle: list[psycopg.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        with self._lock:
            if self._closed:
                raise RuntimeError("the GoTrue double is stopped")
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = psycopg.connect(self._conninfo, autocommit=False)
        try:
            yield conn
        finally:
            self._give_back(conn)

    def _give_back(self, conn: psycopg.Connection) -> None:
        if not conn.closed and conn.info.transaction_status != pq.TransactionStatus.IDLE:
            with contextlib.suppress(psycopg.Error):
                conn.rollback()
        with self._lock:
            keep = (
                not self._closed
                and not conn.closed
                and conn.info.transaction_status == pq.TransactionStatus.IDLE
                and len(self._idle) < self._max_idle
            )
            if keep:
                self._idle.append(conn)
        if not keep:
            conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    double: GoTrueDouble

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (timeouts, dropped connections) is expected here, not an error.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class GoTrueDouble:
    """The Auth admin API on 127.0.0.1 (random port), in a daemon thread; a context manager.

    ``url`` is what ``supabase.create_client`` takes (it appends ``/auth/v1``);
    ``service_role_key`` / ``anon_key`` are HS256 JWTs signed with ``jwt_secret``. Rows go to the
    database at ``conninfo`` and are committed. ``bcrypt_rounds`` (default 4) keeps hashing cheap;
    GoTrue reads the cost from the hash.
    """

    def __init__(
        self,
        *,
        conninfo: str,
        jwt_secret: str = DEFAULT_JWT_SECRET,
        bcrypt_rounds: int = 4,
        default_aud: str = "authenticated",
        max_idle_connections: int = 8,
    ) -> None:
        self.conninfo = conninfo
        self.jwt_secret = jwt_secret
        self.bcrypt_rounds = bcrypt_rounds
        self.default_aud = default_aud
        self.faults = FaultPlan(occupier=self._occupy_id)
        self.service_role_key = self.make_key("service_role")
        self.anon_key = self.make_key("anon")
        self._max_idle = max_idle_connections
        self._pool = _ConnectionPool(conninfo, max_idle=max_idle_connections)
        self._lock = threading.Lock()
        self._idle_cv = threading.Condition(self._lock)
        self._requests: list[RecordedRequest] = []
        self._calls: Counter[str] = Counter()
        self._in_flight = 0
        self._sockets: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # Lifecycle -------------------------------------------------------------------------------
    def start(self) -> GoTrueDouble:
        """Bind 127.0.0.1 on a free port and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("already started")
        self._stopping.clear()
        self._pool = _ConnectionPool(self.conninfo, max_idle=self._max_idle)
        server = _Server(("127.0.0.1", 0), _Handler)
        server.double = self
        self._server = server
        host, port = server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="gotrue-double", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, *, timeout: float = 10.0) -> None:
        """Stop serving: wake injected sleeps, wait for requests in flight, close everything."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        with self._idle_cv:
            self._idle_cv.wait_for(lambda: self._in_flight == 0, timeout=timeout)
            sockets = list(self._sockets)
        for sock in sockets:  # idle keep-alive connections: unblock their reader threads
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.close()
        self._server = None

    def __enter__(self) -> GoTrueDouble:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Helpers for tests -----------------------------------------------------------------------
    def make_key(self, role: str, *, secret: str | None = None, **claims: Any) -> str:
        """An HS256 JWT with ``role`` (Supabase's API keys look like this)."""
        now = int(time.time())
        payload = {"iss": "supabase", "ref": "gotrue-double", "role": role, "iat": now}
        payload["exp"] = now + 10 * 365 * 24 * 3600
        payload.update(claims)
        return jwt.encode(payload, secret or self.jwt_secret, algorithm="HS256")

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def requests_for(self, route: str) -> list[RecordedRequest]:
        """The recorded requests of one route (``create``, ``list``, ``get``, ``delete``)."""
        return [r for r in self.requests if r.route == route]

    @property
    def calls(self) -> Counter[str]:
        """A snapshot of the number of calls per route (``create``, ``list``, ``get``, ``delete``,
        ``other``), counted on arrival, faults and rejected calls included."""
        with self._lock:
            return Counter(self._calls)

    def call_count(self, route: str) -> int:
        with self._lock:
            return self._calls[route]

    def reset(self) -> None:
        """Forget recorded requests and counters and clear the faults (the rows stay)."""
        self.faults.clear()
        with self._lock:
            self._requests.clear()
            self._calls.clear()

    def occupy_id(self, user_id: uuid.UUID | str, *, email: str | None = None) -> str:
        """See ``FaultPlan.occupy_id``."""
        return self._occupy_id(user_id, email=email)

    existing_id = occupy_id

    @contextlib.contextmanager
    def failing_signup_trigger(self) -> Iterator[str]:
        """A real signup trigger on ``auth.users`` that raises, for the duration (see
        ``install_failing_signup_trigger``); yields its name."""
        with self._pool.connection() as conn:
            with conn.cursor() as cursor:
                install_failing_signup_trigger(cursor)
            conn.commit()
        try:
            yield FAILING_TRIGGER
        finally:
            with self._pool.connection() as conn:
                with conn.cursor() as cursor:
                    remove_failing_signup_trigger(cursor)
                conn.commit()

    @contextlib.contextmanager
    def delete_blocked(self, user_id: uuid.UUID | str) -> Iterator[str]:
        """A row referencing ``user_id`` through a foreign key without cascade, for the
        duration (see ``block_delete``); yields the blocking table's name."""
        with self._pool.connection() as conn:
            with conn.cursor() as cursor:
                block_delete(cursor, user_id)
            conn.commit()
        try:
            yield BLOCKING_TABLE
        finally:
            with self._pool.connection() as conn:
                with conn.cursor() as cursor:
                    unblock_deletes(cursor)
                conn.commit()

    def _occupy_id(self, user_id: uuid.UUID | str, *, email: str | None = None) -> str:
        uid = uuid.UUID(str(user_id))
        email = email or f"occupant-{uid.hex[:12]}@foreign.example"
        with self._pool.connection() as conn:
            with conn.cursor() as cursor:
                gotrue_store.insert_user(
                    cursor,
                    user_id=uid,
                    email=email,
                    password_hash=gotrue_store.hash_password(secrets.token_urlsafe(16), rounds=4),
                    email_confirm=True,
                    user_metadata={},
                    app_metadata={},
                    aud=self.default_aud,
                )
            conn.commit()
        return email.lower()

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until no request is in flight (e.g. slow requests a client gave up on have
        been carried out); True if that happened within ``timeout`` seconds."""
        with self._idle_cv:
            return self._idle_cv.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    def _die(self) -> None:
        """Drop everything from now on and stop serving, from a thread of its own (``stop``
        waits for the requests in flight, the calling one included)."""
        self._stopping.set()
        threading.Thread(target=self.stop, name="gotrue-double-dies", daemon=True).start()

    # Bookkeeping used by the handler ---------------------------------------------------------
    def _begin(self, record: RecordedRequest) -> None:
        with self._lock:
            self._in_flight += 1
            self._requests.append(record)
            self._calls[record.route] += 1

    def _end(self) -> None:
        with self._idle_cv:
            self._in_flight -= 1
            self._idle_cv.notify_all()

    def _sleep(self, seconds: float) -> bool:
        """Sleep, but wake up when the double stops; True when it is stopping."""
        return self._stopping.wait(seconds) if seconds > 0 else self._stopping.is_set()


FAILING_TRIGGER = "synthadmin_test_on_auth_user_created"
BLOCKING_TABLE = "public.synthadmin_test_user_notes"


def install_failing_signup_trigger(cursor: Any) -> None:
    """Install a real AFTER INSERT trigger on ``auth.users`` that raises (P0001), as a signup
    trigger does whose insert into an app table fails. Works through any DB-API cursor."""
    cursor.execute(
        "CREATE OR REPLACE FUNCTION public.synthadmin_test_handle_new_user() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'cannot create the app row for new user %', NEW.id; "
        "END $$"
    )
    cursor.execute(f"DROP TRIGGER IF EXISTS {FAILING_TRIGGER} ON auth.users")
    cursor.execute(
        f"CREATE TRIGGER {FAILING_TRIGGER} AFTER INSERT ON auth.users "
        "FOR EACH ROW EXECUTE FUNCTION public.synthadmin_test_handle_new_user()"
    )


def remove_failing_signup_trigger(cursor: Any) -> None:
    cursor.execute(f"DROP TRIGGER IF EXISTS {FAILING_TRIGGER} ON auth.users")
    cursor.execute("DROP FUNCTION IF EXISTS public.synthadmin_test_handle_new_user()")


def block_delete(cursor: Any, user_id: uuid.UUID | str) -> None:
    """Make deleting ``user_id`` fail as on a project whose table references ``auth.users``
    without ``ON DELETE CASCADE``: a real foreign key, a real row (SQLSTATE 23503 on delete)."""
    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS {BLOCKING_TABLE} ("
        " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " user_id uuid NOT NULL REFERENCES auth.users (id))"
    )
    cursor.execute(f"INSERT INTO {BLOCKING_TABLE} (user_id) VALUES (%s)", [str(uuid.UUID(str(user_id)))])


def unblock_deletes(cursor: Any) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {BLOCKING_TABLE}")


def _check_route(route: str) -> str:
    if route not in (*ROUTES, "any"):
        raise ValueError(f"route must be one of {(*ROUTES, 'any')}, not {route!r}")
    return route


def _norm_id(user_id: uuid.UUID | str | None) -> str | None:
    return None if user_id is None else str(uuid.UUID(str(user_id)))


def _header_value(retry_after: float | str) -> str:
    if isinstance(retry_after, str):
        return retry_after
    return str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)


_HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>%d</title></head>\n<body><h1>%d</h1>"
    b"<p>An HTML page, as a proxy, a load balancer or a wrong URL answers.</p></body></html>\n"
)


class _DropConnection(Exception):
    """Close the connection without a response."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle plus the client's
    # delayed ACK add ~40 ms to every response.
    disable_nagle_algorithm = True
    server: _Server
    server_version = "gotrue-double"

    # Plumbing --------------------------------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        with self.server.double._lock:
            self.server.double._sockets.add(self.connection)

    def finish(self) -> None:
        with self.server.double._lock:
            self.server.double._sockets.discard(self.connection)
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

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
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
        route, segment = _route(self.command, split.path)
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
            _wants_2024_errors(self.headers.get(API_VERSION_HEADER))
            and double.faults._version_stripped() != "in"
        )
        double._begin(self._record)
        capacity = double.faults._current_capacity()
        admitted = False
        try:
            if double._stopping.is_set():
                raise _DropConnection
            if capacity is not None:
                admitted = capacity.admit()
                if not admitted:
                    code, message = _FAULT_BODIES[429]
                    retry = {"Retry-After": capacity.retry_after} if capacity.retry_after else None
                    raise _ApiError(429, code, message, headers=retry)
            self._serve(route, segment, split.query, body, parsed_json, length)
        except _DropConnection:
            self.close_connection = True
        except _ApiError as exc:
            self._send_error(exc)
        except OSError:
            self.close_connection = True
        except Exception as exc:  # GoTrue's recoverer turns panics into a generic 500
            with contextlib.suppress(OSError):
                self._send_error(_ApiError(500, "unexpected_failure", "Internal Server Error"))
            sys.stderr.write(f"gotrue double: unexpected {exc!r}\n")
        finally:
            if admitted and capacity is not None:
                capacity.leave()
            double._end()

    def _serve(
        self, route: str, segment: str, query: str, body: bytes, parsed_json: Any, length: int
    ) -> None:
        double = self.double
        if double.faults._take_grace():
            self._serve_plainly(route, segment, query, body, length)
            return
        if double._sleep(double.faults._current_latency()):
            raise _DropConnection
        if route in ("other", "not_allowed"):  # no fault reaches what GoTrue does not route
            self._serve_plainly(route, segment, query, body, length)
            return
        rejection = double.faults._current_rejection()
        if rejection is not None:
            status, code, message, html = rejection
            raise _ApiError(status, code, message, html=html)
        fault = double.faults._take_before(route, parsed_json)
        if fault is not None and fault.kind == "trickle":
            self._trickle = fault.seconds
        elif fault is not None:
            if fault.kind == "fail":
                retry = {"Retry-After": fault.retry_after} if fault.retry_after else None
                raise _ApiError(
                    fault.status or 500, fault.code, fault.message, headers=retry, html=fault.html
                )
            if double._sleep(fault.seconds):
                raise _DropConnection
            if not fault.then_process:
                code, message = _FAULT_BODIES[504]
                raise _ApiError(504, code, message)
        self._serve_plainly(route, segment, query, body, length)

    def _serve_plainly(self, route: str, segment: str, query: str, body: bytes, length: int) -> None:
        """The request as GoTrue serves it, no fault planned."""
        if route == "other":
            self._send_raw(404, b"404 page not found\n", "text/plain; charset=utf-8")
            return
        if route == "not_allowed":
            self._send_raw(405, b"", "text/plain; charset=utf-8")
            return
        if length > MAX_BODY_BYTES:
            raise _ApiError(413, "request_entity_too_large", "Request body too large")
        claims = self._require_admin()
        aud = self._request_aud(claims)
        if route == "create":
            self._create(body, aud)
        elif route == "list":
            self._list(query, aud)
        elif route == "get":
            self._send_json(200, self._load_user(segment))
        else:
            self._delete(self._load_user(segment), body)

    def _send_raw(
        self, status: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None
    ):
        with self.double._lock:
            self._record.status = status
            self._record.answered_at = time.monotonic()
            self._record.retry_after = (headers or {}).get("Retry-After")
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
            if self.double._sleep(interval):
                raise _DropConnection

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send_raw(status, json.dumps(payload).encode("utf-8"), "application/json", headers)

    def _send_error(self, error: _ApiError) -> None:
        """Render an error as GoTrue's ``HandleResponseError`` does (see api doc §6)."""
        headers: dict[str, str] = dict(error.headers)
        if error.html:  # a proxy's / load balancer's page, not GoTrue's JSON
            page = _HTML_PAGE % (error.status, error.status)
            self._send_raw(error.status, page, "text/html; charset=utf-8", headers)
            return
        if error.code is None:  # an injected gateway error: Kong's bare body, no GoTrue headers
            self._send_json(error.status, {"message": error.message}, headers)
            return
        headers["x-sb-error-code"] = error.code
        if self._api_2024:
            if self.double.faults._version_stripped() != "response":
                headers[API_VERSION_HEADER] = API_VERSION_2024_01_01
            body: dict[str, Any] = {"code": error.code, "message": error.message}
        elif error.pg_error is not None and _exposed_pg_error(getattr(error.pg_error, "sqlstate", "") or ""):
            diag = error.pg_error.diag
            body = {"code": error.pg_error.sqlstate, "message": diag.message_primary or ""}
            if diag.message_hint:
                body["hint"] = diag.message_hint
            if diag.message_detail:
                body["detail"] = diag.message_detail
        else:
            body = {"code": error.status, "error_code": error.code, "msg": error.message}
            if error.status >= 500:
                body["error_id"] = str(uuid.uuid4())
        self._send_json(error.status, body, headers)

    # GoTrue's admin middleware ---------------------------------------------------------------
    def _require_admin(self) -> dict[str, Any]:
        match = _BEARER.match(self.headers.get("Authorization") or "")
        if match is None:
            raise _ApiError(401, "no_authorization", "This endpoint requires a valid Bearer token")
        try:
            claims = jwt.decode(
                match.group(1),
                self.double.jwt_secret,
                algorithms=["HS256"],
                options={"verify_aud": False},
            )
        except jwt.PyJWTError as exc:
            raise _ApiError(
                403, "bad_jwt", f"invalid JWT: unable to parse or verify signature, {exc}"
            ) from exc
        if claims.get("role") not in ADMIN_ROLES:
            raise _ApiError(403, "not_admin", "User not allowed")
        return claims

    def _request_aud(self, claims: dict[str, Any]) -> str:
        header = self.headers.get("X-JWT-AUD")
        if header:
            return header
        aud = claims.get("aud")
        if isinstance(aud, list):
            aud = aud[0] if aud else None
        return aud or self.double.default_aud

    def _load_user(self, segment: str) -> dict[str, Any]:
        if not _GO_UUID.match(segment):
            raise _ApiError(404, "validation_failed", "user_id must be an UUID")
        with self.double._pool.connection() as conn, conn.cursor() as cursor:
            user = gotrue_store.fetch_user(cursor, _parse_go_uuid(segment))
            conn.rollback()
        if user is None:
            raise _ApiError(404, "user_not_found", "User not found")
        return user

    # POST /admin/users ------------------------------------------------------------------------
    def _create(self, body: bytes, aud: str) -> None:
        params = _parse_create_params(body)
        email: str = params.get("email") or ""
        phone: str = params.get("phone") or ""
        if params.get("aud"):
            aud = params["aud"]
        if not email and not phone:
            raise _ApiError(400, "validation_failed", "Cannot create a user without either an email or phone")
        double = self.double
        with double._pool.connection() as conn:
            with conn.cursor() as cursor:
                if email:
                    email = _validate_email(email)
                    if gotrue_store.email_taken(cursor, email, aud=aud):
                        raise _ApiError(
                            422, "email_exists", "A user with this email address has already been registered"
                        )
                if phone:
                    phone = _validate_phone(phone)
                    if gotrue_store.phone_taken(cursor, phone, aud=aud):
                        raise _ApiError(
                            422, "phone_exists", "Phone number already registered by another user"
                        )
            conn.rollback()

        password = params.get("password")
        password_hash = params.get("password_hash") or ""
        if password is not None and password_hash:
            raise _ApiError(400, "validation_failed", "Only a password or a password hash should be provided")
        if password_hash:
            if not _parse_password_hash(password_hash):
                raise _ApiError(500, "unexpected_failure", "Error creating user")
        else:
            try:
                password_hash = gotrue_store.hash_password(
                    password or secrets.token_urlsafe(48), rounds=double.bcrypt_rounds
                )
            except ValueError as exc:  # GoTrue v2.169+: a bcrypt panic, caught by the recoverer
                raise _ApiError(500, "unexpected_failure", "Internal Server Error") from exc

        raw_id = params.get("id") or ""
        if raw_id:
            if not _GO_UUID.match(raw_id):
                raise _ApiError(400, "validation_failed", "ID must conform to the uuid v4 format")
            user_id = _parse_go_uuid(raw_id)
            if user_id == uuid.UUID(int=0):
                raise _ApiError(400, "validation_failed", "ID cannot be a nil uuid")
        else:
            user_id = uuid.uuid4()

        now = datetime.now(UTC)
        banned_until = None
        ban_duration = params.get("ban_duration") or ""
        if ban_duration and ban_duration != "none":
            duration = _parse_go_duration(ban_duration)
            if duration is None:
                raise _ApiError(
                    400,
                    "validation_failed",
                    f'invalid format for ban duration: time: invalid duration "{ban_duration}"',
                )
            banned_until = now + duration if duration else None

        role = (params.get("role") or "").strip() or "authenticated"
        with double._pool.connection() as conn:
            try:
                with conn.cursor() as cursor:
                    user = gotrue_store.insert_user(
                        cursor,
                        user_id=user_id,
                        email=email,
                        password_hash=password_hash,
                        email_confirm=bool(params.get("email_confirm")),
                        user_metadata=params.get("user_metadata") or {},
                        app_metadata=params.get("app_metadata") or {},
                        aud=aud,
                        role=role,
                        now=now,
                        phone=phone or None,
                        phone_confirm=bool(params.get("phone_confirm")),
                        banned_until=banned_until,
                    )
                conn.commit()
            except (DuplicateUserIdError, DuplicateEmailError, psycopg.Error) as exc:
                conn.rollback()
                raise _ApiError(
                    500, "unexpected_failure", "Database error creating new user", pg_error=_pg_error(exc)
                ) from exc

        crash = double.faults._take_after("create", params)
        if crash is not None and crash.kind == "die":
            double._die()
            raise _DropConnection
        if crash is not None:
            if crash.status is None:
                raise _DropConnection
            code, message = _FAULT_BODIES.get(crash.status, ("unexpected_failure", f"HTTP {crash.status}"))
            raise _ApiError(crash.status, code, message)
        self._send_json(200, user)

    # GET /admin/users ------------------------------------------------------------------------
    def _list(self, query: str, aud: str) -> None:
        pairs = parse_qsl(query, keep_blank_values=True)
        values = dict(pairs)
        page = _parse_uint(values.get("page", ""), default=1)
        per_page = _parse_uint(values.get("per_page", ""), default=DEFAULT_PER_PAGE)
        with self.double._pool.connection() as conn, conn.cursor() as cursor:
            users, total = gotrue_store.list_users(
                cursor, page=page, per_page=per_page, aud=aud, search=values.get("filter") or None
            )
            conn.rollback()
        if total and not per_page:  # Go divides by per_page here and panics
            raise _ApiError(500, "unexpected_failure", "Internal Server Error")
        self._send_json(
            200,
            {"users": users, "aud": aud},
            {"Link": _link_header(pairs, page, per_page, total), "X-Total-Count": str(total)},
        )

    # DELETE /admin/users/{id} ----------------------------------------------------------------
    def _delete(self, user: dict[str, Any], body: bytes) -> None:
        soft = False
        if body:
            try:
                params = json.loads(body)
            except ValueError as exc:
                raise _ApiError(400, "bad_json", f"Could not parse request body as JSON: {exc}") from exc
            if isinstance(params, dict):
                soft = params.get("should_soft_delete") is True
        with self.double._pool.connection() as conn:
            try:
                with conn.cursor() as cursor:
                    gotrue_store.delete_user(cursor, user["id"], soft=soft)
                conn.commit()
            except psycopg.Error as exc:
                conn.rollback()
                raise _ApiError(
                    500, "unexpected_failure", "Database error deleting user", pg_error=exc
                ) from exc
        self._send_json(200, {})


def _route(method: str, path: str) -> tuple[str, str]:
    """(route name, user id segment) for a request path under ``/auth/v1``."""
    if not path.startswith(API_PREFIX + USERS_PATH):
        return "other", ""
    rest = path[len(API_PREFIX + USERS_PATH) :]
    if rest in ("", "/"):
        return {"POST": "create", "GET": "list"}.get(method, "not_allowed"), ""
    segment = rest[1:]
    if rest.startswith("/") and segment and "/" not in segment:
        return {"GET": "get", "DELETE": "delete"}.get(method, "not_allowed"), segment
    return "other", ""


def _wants_2024_errors(header: str | None) -> bool:
    """GoTrue's ``DetermineClosestAPIVersion``: a valid date on or after 2024-01-01."""
    if not header or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", header):
        return False
    try:
        return datetime.strptime(header, "%Y-%m-%d") >= datetime(2024, 1, 1)
    except ValueError:
        return False


def _parse_create_params(body: bytes) -> dict[str, Any]:
    """Decode the body the way Go's ``json.Unmarshal`` fills ``AdminUserParams``."""
    try:
        raw = json.loads(body) if body else _missing_body()
    except ValueError as exc:
        raise _ApiError(400, "bad_json", f"Could not parse request body as JSON: {exc}") from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _ApiError(
            400,
            "bad_json",
            "Could not parse request body as JSON: json: cannot unmarshal "
            f"{_json_type(raw)} into Go value of type api.AdminUserParams",
        )
    params: dict[str, Any] = {}
    for name, expected in _CREATE_FIELDS.items():
        # Go matches keys exactly first, then case-insensitively.
        key = name if name in raw else next((k for k in raw if k.lower() == name), None)
        if key is None or raw[key] is None:
            continue
        value = raw[key]
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise _ApiError(
                400,
                "bad_json",
                f"Could not parse request body as JSON: json: cannot unmarshal {_json_type(value)} "
                f"into Go struct field AdminUserParams.{name} of type {_GO_TYPE_NAMES[expected]}",
            )
        params[name] = value
    return params


def _missing_body() -> Any:
    raise ValueError("unexpected end of JSON input")


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _validate_email(email: str) -> str:
    if len(email) > 255:
        raise _ApiError(400, "validation_failed", "An email address is too long")
    if not _EMAIL.match(email):
        raise _ApiError(400, "validation_failed", "Unable to validate email address: invalid format")
    return email.lower()


def _validate_phone(phone: str) -> str:
    phone = phone.removeprefix("+").replace(" ", "")
    if not _E164.match(phone):
        raise _ApiError(400, "validation_failed", "Invalid phone number format (E.164 required)")
    return phone


def _parse_password_hash(value: str) -> bool:
    return bool(_BCRYPT_HASH.match(value)) or value.startswith(("$argon2i$", "$argon2id$", "$fbscrypt$"))


def _parse_go_uuid(value: str) -> uuid.UUID:
    return uuid.UUID(value.removeprefix("urn:uuid:").strip("{}"))


def _parse_go_duration(value: str) -> timedelta | None:
    """Go's ``time.ParseDuration``; None when invalid."""
    text = value
    sign = -1.0 if text.startswith("-") else 1.0
    text = text.lstrip("+-") if text[:1] in "+-" else text
    if text == "0":
        return timedelta(0)
    if not text:
        return None
    seconds = 0.0
    position = 0
    while position < len(text):
        match = _GO_DURATION_PART.match(text, position)
        if match is None:
            return None
        seconds += float(match.group(1)) * _GO_DURATION_UNITS[match.group(2)]
        position = match.end()
    return timedelta(seconds=sign * seconds)


def _parse_uint(value: str, *, default: int) -> int:
    if value == "":
        return default
    if not value.isascii() or not value.isdigit():
        raise _ApiError(
            400,
            "validation_failed",
            f'Bad Pagination Parameters: strconv.ParseUint: parsing "{value}": invalid syntax',
        )
    return int(value)


def _link_header(pairs: list[tuple[str, str]], page: int, per_page: int, total: int) -> str:
    """GoTrue's ``addPaginationHeaders``: next (when there is more) and last, sorted query."""

    def page_url(number: int) -> str:
        query = dict(pairs)
        query["page"] = str(number)
        return f"{USERS_PATH}?{urlencode(sorted(query.items()))}"

    links = []
    if total > (max(page, 1) - 1) * per_page + per_page:
        links.append(f'<{page_url(page + 1)}>; rel="next"')
    last = 0 if total == 0 else -(-total // per_page) if per_page else 0
    links.append(f'<{page_url(last)}>; rel="last"')
    return ", ".join(links)


def _exposed_pg_error(sqlstate: str) -> bool:
    """The Postgres errors a legacy body shows as they are (api doc §6): 23xxx, P0001, PTxxx."""
    return sqlstate.startswith(("23", "PT")) or sqlstate == "P0001"


def _pg_error(exc: BaseException) -> Any:
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, psycopg.Error):
            return current
        current = current.__cause__ or current.__context__
    return None


__all__ = [
    "BLOCKING_TABLE",
    "DEFAULT_JWT_SECRET",
    "FAILING_TRIGGER",
    "FaultPlan",
    "GoTrueDouble",
    "RecordedRequest",
    "block_delete",
    "install_failing_signup_trigger",
    "remove_failing_signup_trigger",
    "unblock_deletes",
]
