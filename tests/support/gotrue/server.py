"""The Auth test server: a Supabase Auth (GoTrue) admin API over real HTTP, on real ``auth.users``.

It follows ``docs/auth-admin-api.md``: the routes under ``/auth/v1/admin/users`` that the
official ``supabase`` client calls, the admin check, create's processing order and error bodies,
list paging headers, hard and soft delete. Rows are written with
``synthadmin.auth.gotrue_store`` (the same code as the local gateway) and committed, so other
connections (Django's) see them. Faults are planned per call through ``GoTrueDouble.faults``
(``faults.FaultPlan``), so that retries, timeouts and "the server did it but the client did not
hear" can be tested against the official client::

    with GoTrueDouble(conninfo=...) as gotrue:
        client = supabase.create_client(gotrue.url, gotrue.service_role_key, options=...)
        gotrue.faults.fail_next(2, status=503)
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import ssl
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import psycopg
from psycopg import pq

from synthadmin.auth import gotrue_store
from tests.support.gotrue.faults import (
    BLOCKING_TABLE,
    FAILING_TRIGGER,
    FaultPlan,
    block_delete,
    install_failing_signup_trigger,
    remove_failing_signup_trigger,
    unblock_deletes,
)
from tests.support.gotrue.handler import Handler, RecordedRequest, Server

DEFAULT_JWT_SECRET = "gotrue-double-jwt-secret-for-tests-only-0123456789"


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


class GoTrueDouble:
    """The Auth admin API on 127.0.0.1 (random port), in a daemon thread; a context manager.

    ``url`` is what ``supabase.create_client`` takes (it appends ``/auth/v1``); with ``tls`` (a
    server ``SSLContext``) it is an https:// URL;
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
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.conninfo = conninfo
        self.tls = tls
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
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def start(self) -> GoTrueDouble:
        """Bind 127.0.0.1 on a free port and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("already started")
        self._stopping.clear()
        self._pool = _ConnectionPool(self.conninfo, max_idle=self._max_idle)
        server = Server(("127.0.0.1", 0), Handler)
        server.double = self
        server.tls = self.tls
        self._server = server
        host, port = server.server_address[:2]
        assert isinstance(host, str)  # an AF_INET server: (host, port)
        self.url = f"{'https' if self.tls else 'http'}://{host}:{port}"
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

    @contextlib.contextmanager
    def failing_signup_trigger(self) -> Iterator[str]:
        """A real signup trigger on ``auth.users`` that raises, for the duration (see
        ``install_failing_signup_trigger``); yields its name."""
        with self._database_fault(install_failing_signup_trigger, remove_failing_signup_trigger):
            yield FAILING_TRIGGER

    @contextlib.contextmanager
    def delete_blocked(self, user_id: uuid.UUID | str) -> Iterator[str]:
        """A row referencing ``user_id`` through a foreign key without cascade, for the
        duration (see ``block_delete``); yields the blocking table's name."""
        with self._database_fault(lambda cursor: block_delete(cursor, user_id), unblock_deletes):
            yield BLOCKING_TABLE

    @contextlib.contextmanager
    def _database_fault(
        self, install: Callable[[Any], None], remove: Callable[[Any], None]
    ) -> Iterator[None]:
        """``install(cursor)`` committed for the duration, then ``remove(cursor)`` committed."""
        self._committed(install)
        try:
            yield
        finally:
            self._committed(remove)

    def _committed(self, work: Callable[[Any], None]) -> None:
        with self._pool.connection() as conn:
            with conn.cursor() as cursor:
                work(cursor)
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

    def wait_settled(self, timeout: float = 60.0) -> bool:
        """Wait until every connection open now has closed and no request is in flight: what a
        client that died (kill -9) had sent is read and carried out, as Auth does before anyone
        could look; True if that happened within ``timeout`` seconds."""
        with self._idle_cv:
            open_now = set(self._sockets)
            return self._idle_cv.wait_for(
                lambda: self._in_flight == 0 and not open_now & self._sockets, timeout=timeout
            )

    # What the handler (``handler.Handler``) calls.
    @property
    def pool(self) -> _ConnectionPool:
        return self._pool

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def stopping_event(self) -> threading.Event:
        """Set while the server stops: what a held call waits on besides its release."""
        return self._stopping

    def die(self) -> None:
        """Drop everything from now on and stop serving, from a thread of its own (``stop``
        waits for the requests in flight, the calling one included)."""
        self._stopping.set()
        threading.Thread(target=self.stop, name="gotrue-double-dies", daemon=True).start()

    def connection_opened(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def connection_closed(self, sock: socket.socket) -> None:
        with self._idle_cv:
            self._sockets.discard(sock)
            self._idle_cv.notify_all()

    def request_began(self, record: RecordedRequest) -> None:
        with self._lock:
            self._in_flight += 1
            self._requests.append(record)
            self._calls[record.route] += 1

    def answered(self, record: RecordedRequest, status: int, retry_after: str | None) -> None:
        with self._lock:
            record.status = status
            record.answered_at = time.monotonic()
            record.retry_after = retry_after

    def request_ended(self) -> None:
        with self._idle_cv:
            self._in_flight -= 1
            self._idle_cv.notify_all()

    def sleep(self, seconds: float) -> bool:
        """Sleep, but wake up when the double stops; True when it is stopping."""
        return self._stopping.wait(seconds) if seconds > 0 else self._stopping.is_set()


__all__ = ["DEFAULT_JWT_SECRET", "GoTrueDouble"]
