"""HTTP for the Supabase gateway: a total deadline and a stop event per Auth call, through the
company's proxy and trusting the company's CA when the environment says so.

httpx's timeouts bound each connect, read and write, not a whole call: a server that trickles
one byte every few seconds never times out (``docs/auth-admin-api.md``). Here every network
wait of a call — connect, TLS handshake, read — is cut into slices of at most
``SLICE_SECONDS``, and between slices the call's deadline and stop event are checked:

* ``call_scope(deadline=..., cancel=...)`` opens the scope of one call in the calling thread;
  everything the client does in that thread until the scope closes belongs to the call;
* ``DeadlineBackend`` (an httpcore network backend) connects, shakes hands and reads in slices;
  when the deadline passes or the event is set it raises httpcore's own timeout (which the
  client turns into an ordinary ``AuthRetryableError``) and records why in the scope;
* the scope records whether the request itself went out (``sent``: from then on the outcome of
  a create is unknown until a lookup settles it), read from httpcore's public ``trace``
  extension — a proxy's ``CONNECT`` is not the request —, why a connect failed, and the last
  HTTP response (status, headers, body), which the gateway classifies.

**The company's network** (read in ``synthadmin.auth.network``). ``ProxyRouter`` picks, per
request, the proxy the standard library picks: ``urllib.request.getproxies()``
(``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, either case) and
``urllib.request.proxy_bypass`` (``NO_PROXY``), and hands the request to a
``DeadlineTransport`` made with httpx's public proxy API (``httpx.Proxy``): an https:// URL
through an HTTP proxy goes through a ``CONNECT`` tunnel, an http:// one is forwarded. Proxy
credentials (``http://user:password@proxy:3128``) are sent to the proxy and never shown: a
proxy appears in messages as ``scheme://host:port``. TLS trusts ``SSL_CERT_FILE`` and/or
``SSL_CERT_DIR`` when set (they replace the default bundle, as for OpenSSL and curl), else
certifi's bundle.

HTTP/1.1 only: each call in flight has its own connection, so a slice, a deadline and a stop
event belong to exactly one call (HTTP/2 would multiplex calls of several threads on one socket).

Only public httpx/httpcore API is used, except one attribute: ``httpx.HTTPTransport._pool``,
replaced by the same pool with ``DeadlineBackend`` as its network backend (httpx has no
parameter for it). ``tests/auth/test_transport_canary.py`` fails loudly if an upgrade changes
that or anything else this module relies on.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import ssl
import threading
import time
import typing
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpcore
import httpx

from synthadmin.auth.network import ProxyRoute, proxy_route, ssl_context
from synthadmin.exceptions import ConfigurationError

#: The longest single wait on the network before the deadline and stop event are checked again.
SLICE_SECONDS = 0.25
#: Bytes asked of the socket per read under TLS (one TLS record, RFC 8449).
TLS_RECORD_SIZE = 16384

_local = threading.local()


@dataclass
class CallScope:
    """The state of one Auth call in flight in this thread."""

    deadline: float | None = None
    """``time.monotonic()`` value after which the call is abandoned; None: no total deadline."""
    cancel: threading.Event | None = None
    sent: bool = False
    """True once the request (not a proxy's CONNECT) started to go out: the server may have
    acted on it."""
    ended_by: str | None = None
    """``"deadline"`` or ``"cancelled"`` when this scope cut the call short."""
    response: httpx.Response | None = None
    """The last response whose headers arrived (its body may be incomplete)."""
    connect_failure: str = ""
    """Why the last connect failed, when one did: ``"name not resolved"``, ``"connection
    refused"``, ``"connect timed out"``, the OS error's own words (from its errno, never from a
    message), a TLS certificate not trusted, or a proxy's refusal — with the proxy named, so
    that "cannot reach" can say which."""
    route: ProxyRoute | None = None
    """The proxy of the request in flight (None: direct)."""
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

    def bounded(self, timeout: float | None) -> float | None:
        """``timeout`` cut to the time left (None: no bound at all)."""
        left = self.left()
        limit = left if timeout is None else min(timeout, left)
        return None if limit == float("inf") else max(limit, 0.001)

    def connect_failed(self, reason: str) -> None:
        """Record why a connect failed, naming the proxy when the request went through one."""
        via = f"{self.route.described()}: " if self.route is not None else ""
        hint = f"; check {self.route.variable} and NO_PROXY" if self.route is not None else ""
        self.connect_failure = f"{via}{reason}{hint}"


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


# --- The network: sockets and TLS, waited for in slices ----------------------------------------


class _SocketStream(httpcore.NetworkStream):
    """A connected TCP socket as an httpcore stream (each read or write bounded by its timeout)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self._sock.settimeout(timeout)
        try:
            return self._sock.recv(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout("timed out") from exc
        except OSError as exc:
            raise httpcore.ReadError(_os_reason(exc)) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._sock.settimeout(timeout)
        try:
            self._sock.sendall(buffer)
        except TimeoutError as exc:
            raise httpcore.WriteTimeout("timed out") from exc
        except OSError as exc:
            raise httpcore.WriteError(_os_reason(exc)) from exc

    def close(self) -> None:
        self._sock.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _TLSStream.over(self, ssl_context, server_hostname, timeout)

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "socket":
            return self._sock
        if info == "client_addr":
            return self._sock.getsockname()
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "is_readable":
            # Idle and readable: the server closed it (or sent what it should not have).
            poller = select.poll()
            poller.register(self._sock, select.POLLIN)
            return bool(poller.poll(0))
        return None


class _TLSStream(httpcore.NetworkStream):
    """TLS over any stream (a socket, or a TLS connection to an https:// proxy), through memory
    buffers: every byte goes through the inner stream, so its slices and deadline hold for the
    handshake and every read."""

    def __init__(self, inner: httpcore.NetworkStream, ssl_context: ssl.SSLContext, hostname: str | None):
        self._inner = inner
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = ssl_context.wrap_bio(self._incoming, self._outgoing, server_hostname=hostname)

    @classmethod
    def over(
        cls,
        inner: httpcore.NetworkStream,
        ssl_context: ssl.SSLContext,
        hostname: str | None,
        timeout: float | None,
    ) -> _TLSStream:
        """The stream after a completed handshake (httpcore's ConnectError if it failed)."""
        stream = cls(inner, ssl_context, hostname)
        try:
            stream._io(stream._tls.do_handshake, timeout)
        except ssl.SSLCertVerificationError as exc:
            scope = current_scope()
            if scope is not None:
                scope.connect_failed(f"TLS certificate of {hostname} not trusted ({exc.verify_message})")
            raise httpcore.ConnectError("certificate not trusted") from exc
        except (ssl.SSLError, httpcore.ReadError, httpcore.WriteError) as exc:
            scope = current_scope()
            if scope is not None:
                scope.connect_failed(f"TLS handshake with {hostname} failed")
            raise httpcore.ConnectError("TLS handshake failed") from exc
        except (httpcore.ReadTimeout, httpcore.WriteTimeout) as exc:
            scope = current_scope()
            if scope is not None and scope.ended_by is None:
                scope.connect_failed(f"TLS handshake with {hostname} timed out")
            raise httpcore.ConnectTimeout("TLS handshake timed out") from exc
        return stream

    def _io(self, operation: Callable[[], typing.Any], timeout: float | None) -> typing.Any:
        while True:
            try:
                result = operation()
            except ssl.SSLWantReadError:
                self._flush(timeout)
                data = self._inner.read(TLS_RECORD_SIZE, timeout)
                if data:
                    self._incoming.write(data)
                else:
                    self._incoming.write_eof()
                continue
            self._flush(timeout)
            return result

    def _flush(self, timeout: float | None) -> None:
        data = self._outgoing.read()
        if data:
            self._inner.write(data, timeout)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return bytes(self._io(lambda: self._tls.read(max_bytes), timeout))
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return b""  # closed, with or without close_notify (as ssl's suppress_ragged_eofs)
        except ssl.SSLError as exc:
            raise httpcore.ReadError("TLS error") from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            self._io(lambda: self._tls.write(buffer), timeout)
        except ssl.SSLError as exc:
            raise httpcore.WriteError("TLS error") from exc

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _TLSStream.over(self, ssl_context, server_hostname, timeout)

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "ssl_object":
            return self._tls
        return self._inner.get_extra_info(info)


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose reads wait in slices and honour the call's scope."""

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
        # Requests are small: one write bounded by the time left (a full send buffer is rare).
        self._inner.write(buffer, scope.bounded(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        scope = current_scope()
        if scope is not None:
            scope.check(httpcore.ConnectTimeout)
            timeout = scope.bounded(timeout)
        # The handshake reads and writes through this stream: in slices, within the deadline.
        return _DeadlineStream(_TLSStream.over(self, ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network backend with connects, handshakes and reads cut into slices (see the
    module doc). Name resolution (``getaddrinfo``) is the one wait that cannot be sliced."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        scope = current_scope() or CallScope()
        scope.check(httpcore.ConnectTimeout)
        until = None if timeout is None else time.monotonic() + timeout
        try:
            addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            scope.connect_failed("name not resolved" if isinstance(exc, socket.gaierror) else _os_reason(exc))
            raise httpcore.ConnectError(f"cannot resolve {host}") from exc
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
                scope.connect_failed(_os_reason(exc))
                continue
            except httpcore.ConnectTimeout:
                sock.close()
                if scope.ended_by is None:
                    scope.connect_failed("connect timed out")
                raise
            except BaseException:
                sock.close()
                raise
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return _DeadlineStream(_SocketStream(sock))
        raise httpcore.ConnectError(_os_reason(last) if last else f"cannot resolve {host}")

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:  # pragma: no cover - Supabase is reached over TCP
        raise httpcore.ConnectError("Supabase Auth is reached over TCP")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


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
    """httpx's transport (``proxy``: through that proxy, httpx's public proxy API) over
    ``DeadlineBackend``, HTTP/1.1."""

    def __init__(
        self,
        *,
        proxy: httpx.Proxy | None = None,
        verify: ssl.SSLContext | bool = True,
        limits: httpx.Limits | None = None,
    ) -> None:
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        context = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify=verify)
        super().__init__(verify=context, limits=limits, http1=True, http2=False, proxy=proxy, trust_env=False)
        common: dict[str, typing.Any] = {
            "ssl_context": context,
            "max_connections": limits.max_connections,
            "max_keepalive_connections": limits.max_keepalive_connections,
            "keepalive_expiry": limits.keepalive_expiry,
            "http1": True,
            "http2": False,
            "network_backend": DeadlineBackend(),
        }
        pool: httpcore.ConnectionPool
        if proxy is None:
            pool = httpcore.ConnectionPool(**common)
        else:
            pool = httpcore.HTTPProxy(
                proxy_url=httpcore.URL(
                    scheme=proxy.url.raw_scheme,
                    host=proxy.url.raw_host,
                    port=proxy.url.port,
                    target=proxy.url.raw_path,
                ),
                proxy_auth=proxy.raw_auth,
                proxy_headers=proxy.headers.raw,
                proxy_ssl_context=proxy.ssl_context,
                **common,
            )
        self._pool = pool  # the one private attribute this module relies on (see the module doc)


class _Tracer:
    """httpcore's ``trace`` extension for one request: marks the scope ``sent`` when the request
    itself (not a proxy's ``CONNECT``) starts to go out, and records a refused tunnel."""

    def __init__(self, scope: CallScope, outer: Callable[[str, dict[str, typing.Any]], None] | None):
        self._scope = scope
        self._outer = outer
        self._connecting = False

    def __call__(self, event: str, info: dict[str, typing.Any]) -> None:
        if event == "http11.send_request_headers.started":
            self._connecting = info["request"].method == b"CONNECT"
            if not self._connecting:
                self._scope.sent = True
        elif event == "http11.receive_response_headers.complete" and self._connecting:
            status = info["return_value"][1]
            if not 200 <= status < 300 and self._scope.route is not None:
                self._scope.connect_failed(f"it refused the tunnel (HTTP {status} to CONNECT)")
        if self._outer is not None:
            self._outer(event, info)


class ProxyRouter(httpx.BaseTransport):
    """Sends each request direct or through its proxy (``proxy_route``), one
    ``DeadlineTransport`` per proxy; records the route and what went out in the call's scope."""

    def __init__(self, *, url: str | None = None, limits: httpx.Limits | None = None) -> None:
        """``url``: where requests will go (``SUPABASE_URL``), to refuse an unusable proxy for it
        now (ConfigurationError) rather than at the first call."""
        self._proxies = urllib.request.getproxies()
        self._context = ssl_context()
        self._limits = limits
        self._transports: dict[str | None, DeadlineTransport] = {}
        self._lock = threading.Lock()
        try:
            target = httpx.URL(url) if url else None
        except httpx.InvalidURL:
            target = None  # the client refuses it with its own words
        if target is not None and target.scheme in ("http", "https"):
            proxy_route(target, self._proxies)

    def transport_for(self, route: ProxyRoute | None) -> DeadlineTransport:
        key = route.url if route is not None else None
        with self._lock:
            transport = self._transports.get(key)
            if transport is None:
                proxy = None
                if route is not None:
                    # TLS to the proxy itself only for an https:// proxy (httpcore refuses it else).
                    tls = self._context if route.url.startswith("https://") else None
                    proxy = httpx.Proxy(route.url, ssl_context=tls)
                transport = DeadlineTransport(proxy=proxy, verify=self._context, limits=self._limits)
                self._transports[key] = transport
        return transport

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        scope = current_scope()
        try:
            route = proxy_route(request.url, self._proxies)
        except ConfigurationError as exc:  # a redirect to a URL whose proxy is unusable
            if scope is not None:
                scope.connect_failure = str(exc)
            raise httpx.ConnectError(str(exc), request=request) from exc
        if scope is not None:
            scope.route = route
            request.extensions = {
                **request.extensions,
                "trace": _Tracer(scope, request.extensions.get("trace")),
            }
        return self.transport_for(route).handle_request(request)

    def close(self) -> None:
        with self._lock:
            transports, self._transports = list(self._transports.values()), {}
        for transport in transports:
            transport.close()


def _record_response(response: httpx.Response) -> None:
    scope = current_scope()
    if scope is not None:
        scope.response = response


def http_client(*, timeout: float | httpx.Timeout = 5.0, url: str | None = None) -> httpx.Client:
    """The httpx client the Supabase gateway gives the official client.

    ``timeout`` bounds each connect / read / write (the official client's default is 5 s);
    ``call_scope`` adds the total deadline and the stop event. Proxies and CA from the
    environment as read now (``ProxyRouter``, ``ssl_context``); raises ConfigurationError for
    unusable ones (for ``url``, where the client will go, when given).
    """
    return httpx.Client(
        transport=ProxyRouter(url=url),
        timeout=timeout,
        follow_redirects=True,
        event_hooks={"response": [_record_response]},
    )
