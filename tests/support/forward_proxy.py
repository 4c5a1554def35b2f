"""A forward HTTP proxy the tests own (asyncio, in a thread): it forwards plain-HTTP requests
(absolute URIs) and opens ``CONNECT`` tunnels, and counts what went through it.

``with ForwardProxy() as proxy: ... proxy.url ... proxy.counts`` — ``forwarded`` requests (by
target host:port), ``tunnels`` opened (by target), ``refused`` (407 for a wrong or missing
``Proxy-Authorization`` when ``credentials=(user, password)``). Each forwarded request is sent
upstream on a connection of its own (``Connection: close``) and its answer relayed as it
arrives, byte for byte, so a trickling server trickles through the proxy too; the client's
connection is kept for its next request.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import threading
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

#: Headers a proxy does not pass on (RFC 9110 §7.6.1), lower-case.
HOP_BY_HOP = {
    b"connection",
    b"keep-alive",
    b"proxy-authorization",
    b"proxy-connection",
    b"te",
    b"trailer",
    b"transfer-encoding",
    b"upgrade",
}


@dataclass
class ProxyCounts:
    forwarded: Counter[str] = field(default_factory=Counter)
    tunnels: Counter[str] = field(default_factory=Counter)
    refused: int = 0

    @property
    def total(self) -> int:
        return sum(self.forwarded.values()) + sum(self.tunnels.values())


class ForwardProxy:
    """An HTTP proxy on 127.0.0.1 (a free port); a context manager."""

    def __init__(
        self, *, credentials: tuple[str, str] | None = None, hosts: dict[str, str] | None = None
    ) -> None:
        """``credentials``: what ``Proxy-Authorization`` must carry (407 otherwise); ``hosts``:
        names the proxy resolves itself (as a company's proxy resolves names the client cannot)."""
        self.credentials = credentials
        self.hosts = hosts or {}
        self.counts = ProxyCounts()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        auth = f"{self.credentials[0]}:{self.credentials[1]}@" if self.credentials else ""
        return f"http://{auth}127.0.0.1:{self.port}"

    def __enter__(self) -> ForwardProxy:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def serve() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="forward-proxy", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        loop = self._loop
        if loop is None:
            return

        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        loop.close()

    def reset(self) -> None:
        with self._lock:
            self.counts = ProxyCounts()

    def _resolve(self, host: str) -> str:
        return self.hosts.get(host, host)

    def _authorised(self, headers: list[tuple[bytes, bytes]]) -> bool:
        if self.credentials is None:
            return True
        expected = base64.b64encode(f"{self.credentials[0]}:{self.credentials[1]}".encode()).decode()
        for name, value in headers:
            if name.lower() == b"proxy-authorization" and value.decode().strip() == f"Basic {expected}":
                return True
        return False

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                method, target, headers = _parse_head(head)
                if not self._authorised(headers):
                    with self._lock:
                        self.counts.refused += 1
                    await _answer(writer, b"407 Proxy Authentication Required", close=method == b"CONNECT")
                    if method == b"CONNECT":
                        return
                    await _discard_body(reader, headers)
                    continue
                if method == b"CONNECT":
                    await self._tunnel(target.decode(), reader, writer)
                    return
                await self._forward(method, target.decode(), headers, reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _tunnel(self, target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, _, port = target.rpartition(":")
        try:
            up_reader, up_writer = await asyncio.open_connection(self._resolve(host.strip("[]")), int(port))
        except OSError:
            await _answer(writer, b"502 Bad Gateway", close=True)
            return
        with self._lock:
            self.counts.tunnels[target] += 1
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True)

    async def _forward(
        self,
        method: bytes,
        target: str,
        headers: list[tuple[bytes, bytes]],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        parts = urlsplit(target)
        if parts.scheme != "http" or not parts.hostname:
            await _answer(writer, b"400 Bad Request", close=False)
            return
        body = await _read_body(reader, headers)
        where = f"{parts.hostname}:{parts.port or 80}"
        with self._lock:
            self.counts.forwarded[where] += 1
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self._resolve(parts.hostname), parts.port or 80
            )
        except OSError:
            await _answer(writer, b"502 Bad Gateway", close=False)
            return
        lines = [method + b" " + path.encode() + b" HTTP/1.1"]
        lines += [name + b": " + value for name, value in headers if name.lower() not in HOP_BY_HOP]
        lines.append(b"Connection: close")
        up_writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        await up_writer.drain()
        try:
            # The answer as it arrives, byte for byte; the client's connection stays open when
            # the answer has a length (else it ends with the answer).
            response_head = await up_reader.readuntil(b"\r\n\r\n")
            _status, _reason, response_headers = _parse_head(response_head)
            writer.write(response_head)
            length = _content_length(response_headers, default=-1)
            if method == b"HEAD":
                length = 0
            if length < 0:
                await _pipe(up_reader, writer)
                raise ConnectionError("an answer without a length ends its connection")
            while length > 0:
                data = await up_reader.read(min(length, 65536))
                if not data:
                    raise ConnectionError("the server hung up mid-answer")
                writer.write(data)
                await writer.drain()
                length -= len(data)
            await writer.drain()
        finally:
            with contextlib.suppress(Exception):
                up_writer.close()


def _parse_head(head: bytes) -> tuple[bytes, bytes, list[tuple[bytes, bytes]]]:
    lines = head.split(b"\r\n")
    method, target, _version = lines[0].split(b" ", 2)
    headers = []
    for line in lines[1:]:
        if b":" in line:
            name, value = line.split(b":", 1)
            headers.append((name.strip(), value.strip()))
    return method, target, headers


def _content_length(headers: list[tuple[bytes, bytes]], default: int = 0) -> int:
    for name, value in headers:
        if name.lower() == b"content-length":
            return int(value)
    return default


async def _read_body(reader: asyncio.StreamReader, headers: list[tuple[bytes, bytes]]) -> bytes:
    length = _content_length(headers)
    return await reader.readexactly(length) if length else b""


async def _discard_body(reader: asyncio.StreamReader, headers: list[tuple[bytes, bytes]]) -> None:
    await _read_body(reader, headers)


async def _answer(writer: asyncio.StreamWriter, status: bytes, *, close: bool) -> None:
    extra = b'Proxy-Authenticate: Basic realm="tests"\r\n' if status.startswith(b"407") else b""
    connection = b"Connection: close\r\n" if close else b""
    writer.write(b"HTTP/1.1 " + status + b"\r\n" + extra + connection + b"Content-Length: 0\r\n\r\n")
    await writer.drain()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(Exception):
            writer.close()
