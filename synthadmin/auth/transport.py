"""HTTP for the Supabase gateway: a total deadline and a stop event per Auth call.

httpx's timeouts bound each connect, read and write, not a whole call: a server that trickles
one byte every few seconds never times out (``docs/auth-admin-api.md``). Here every
network wait of a call is cut into slices of at most ``SLICE_SECONDS``, and between slices the
call's deadline and stop event are checked:

* ``call_scope(deadline=..., cancel=...)`` opens the scope of one call in the calling thread;
  everything the client does in that thread until the scope closes belongs to the call;
* ``DeadlineBackend`` (an httpcore network backend) connects and reads in slices of
  min(per-operation timeout, time left, ``SLICE_SECONDS``); when the deadline passes or the
  event is set, it raises httpcore's own timeout (which the client turns into an ordinary
  ``AuthRetryableError``) and records why in the scope;
* the scope also records whether any byte of the request was written (``sent``: from then on
  the outcome of a create is unknown until a lookup settles it) and the last HTTP response
  (status, headers, body), which the gateway classifies — the client's exceptions alone lose
  the status of a non-JSON answer.

HTTP/1.1 only: each call in flight has its own connection, so a slice, a deadline and a stop
event belong to exactly one call (HTTP/2 would multiplex calls of several threads on one
socket). Environment proxies are not used (the transport is ours; Supabase is reached directly).
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import threading
import time
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpcore
import httpx
from httpcore._backends.sync import SyncStream  # httpcore 1.0.x: the stream over a plain socket

#: The longest single wait on the network before the deadline and stop event are checked again.
SLICE_SECONDS = 0.25

_local = threading.local()


@dataclass
class CallScope:
    """The state of one Auth call in flight in this thread."""

    deadline: float | None = None
    """``time.monotonic()`` value after which the call is abandoned; None: no total deadline."""
    cancel: threading.Event | None = None
    sent: bool = False
    """True once any byte of a request was written: the server may have acted on it."""
    ended_by: str | None = None
    """``"deadline"`` or ``"cancelled"`` when this scope cut the call short."""
    response: httpx.Response | None = None
    """The last response whose headers arrived (its body may be incomplete)."""
    connect_failure: str = ""
    """Why the last connect failed, when one did: ``"name not resolved"``, ``"connection
    refused"``, ``"connect timed out"`` or the OS error's own words (from its errno, never from
    a message), so that "cannot reach" can say which."""
    started: float = field(default_factory=time.monotonic)

    def left(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def check(self, timeout_error: type[Exception]) -> None:
        """Raise ``timeout_error`` (an httpcore timeout) if the call is cancelled or out of time."""
        if self.cancel is not None and self.cancel.is_set():
            self.ended_by = "cancelled"
            raise timeout_error("the call was cancelled")
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.ended_by = "deadline"
            raise timeout_error("the call's total deadline passed")

    def slice(self, until: float | None) -> float:
        """How long the next single wait may last (> 0), given an operation's own end ``until``."""
        now = time.monotonic()
        limits = [SLICE_SECONDS, self.left()]
        if until is not None:
            limits.append(until - now)
        return max(min(limits), 0.001)


def current_scope() -> CallScope | None:
    """The scope of the call in flight in this thread, if any."""
    return getattr(_local, "scope", None)


@contextlib.contextmanager
def call_scope(*, deadline: float | None, cancel: threading.Event | None = None) -> Iterator[CallScope]:
    """One Auth call: ``deadline`` seconds from now at most (None: none), ``cancel`` stops it."""
    scope = CallScope(deadline=None if deadline is None else time.monotonic() + deadline, cancel=cancel)
    outer = current_scope()
    _local.scope = scope
    try:
        yield scope
    finally:
        _local.scope = outer


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose reads and writes wait in slices and honour the call's scope."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        scope = current_scope()
        if scope is None:
            return self._inner.read(max_bytes, timeout)
        until = None if timeout is None else time.monotonic() + timeout
        while True:
            scope.check(httpcore.ReadTimeout)
            if until is not None and time.monotonic() >= until:
                raise httpcore.ReadTimeout("timed out")
            try:
                return self._inner.read(max_bytes, scope.slice(until))
            except httpcore.ReadTimeout:
                continue  # one slice elapsed; the loop decides whether that was the last

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        scope = current_scope()
        if scope is None:
            self._inner.write(buffer, timeout)
            return
        scope.check(httpcore.WriteTimeout)
        if buffer:
            scope.sent = True
        # Requests are small: one write bounded by the time left (a full send buffer is rare).
        limit = scope.left() if timeout is None else min(timeout, scope.left())
        self._inner.write(buffer, None if limit == float("inf") else max(limit, 0.001))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: typing.Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        scope = current_scope()
        if scope is not None:
            scope.check(httpcore.ConnectTimeout)
            left = scope.left()
            timeout = left if timeout is None else min(timeout, left)
            timeout = None if timeout == float("inf") else max(timeout, 0.001)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's synchronous backend, with connects and reads cut into slices (see module doc).

    Name resolution (``getaddrinfo``) is the one wait that cannot be sliced.
    """

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        scope = current_scope()
        if scope is None:
            return _DeadlineStream(
                self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
            )
        scope.check(httpcore.ConnectTimeout)
        until = None if timeout is None else time.monotonic() + timeout
        try:
            addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            scope.connect_failure = (
                "name not resolved" if isinstance(exc, socket.gaierror) else _os_reason(exc)
            )
            raise httpcore.ConnectError(str(exc)) from exc
        last: OSError | None = None
        for family, kind, proto, _name, address in addresses:
            sock = socket.socket(family, kind, proto)
            try:
                for option in socket_options or ():
                    sock.setsockopt(*option)
                if local_address is not None:
                    sock.bind((local_address, 0))
                _connect_in_slices(sock, address, scope, until)
            except OSError as exc:
                sock.close()
                last = exc
                scope.connect_failure = _os_reason(exc)
                continue
            except httpcore.ConnectTimeout:
                sock.close()
                if scope.ended_by is None:
                    scope.connect_failure = "connect timed out"
                raise
            except BaseException:
                sock.close()
                raise
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return _DeadlineStream(SyncStream(sock))
        raise httpcore.ConnectError(str(last) if last else f"cannot resolve {host}")

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:  # pragma: no cover - Supabase is reached over TCP
        return _DeadlineStream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _os_reason(exc: OSError) -> str:
    """A connect failure in a few words, from its errno."""
    if exc.errno == errno.ECONNREFUSED:
        return "connection refused"
    if exc.errno:
        return os.strerror(exc.errno).lower()
    return type(exc).__name__


def _connect_in_slices(
    sock: socket.socket, address: typing.Any, scope: CallScope, until: float | None
) -> None:
    """A non-blocking connect, waited for in slices (raises OSError or an httpcore timeout)."""
    sock.setblocking(False)
    status = sock.connect_ex(address)
    if status not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
        raise OSError(status, os.strerror(status))
    poller = select.poll()
    poller.register(sock, select.POLLOUT)
    while status != 0:
        scope.check(httpcore.ConnectTimeout)
        if until is not None and time.monotonic() >= until:
            raise httpcore.ConnectTimeout("timed out")
        if poller.poll(scope.slice(until) * 1000):
            status = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if status != 0:
                raise OSError(status, os.strerror(status))
    sock.setblocking(True)


class DeadlineTransport(httpx.HTTPTransport):
    """httpx's transport over ``DeadlineBackend`` (HTTP/1.1, no proxy)."""

    def __init__(self, *, verify: bool = True, limits: httpx.Limits | None = None) -> None:
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        super().__init__(verify=verify, limits=limits, http1=True, http2=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=DeadlineBackend(),
        )


def _record_response(response: httpx.Response) -> None:
    scope = current_scope()
    if scope is not None:
        scope.response = response


def http_client(*, timeout: float | httpx.Timeout = 5.0) -> httpx.Client:
    """The httpx client the Supabase gateway gives the official client.

    ``timeout`` bounds each connect / read / write (the official client's default is 5 s);
    ``call_scope`` adds the total deadline and the stop event.
    """
    return httpx.Client(
        transport=DeadlineTransport(),
        timeout=timeout,
        follow_redirects=True,
        event_hooks={"response": [_record_response]},
    )
