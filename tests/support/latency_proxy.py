"""A TCP proxy the tests and benchmarks own: it puts a network between synthadmin and its database.

Every byte is held for half the round-trip time on the way out and half on the way back, each
chunk on its own schedule (so bandwidth is not throttled, only latency added), in order. It
counts, per connection and in all:

* **round trips** — the times the client speaks after the server has spoken (or first, at
  connect): each is one wait of a full RTT for the client. A pipelined batch of statements is one;
  a COPY is two (the ``COPY ... FROM STDIN`` and the data); connection set-up is several;
* connections opened, open now and at most open at once.

The counting is at the protocol level: it sees only bytes, so whatever the client library does
(pipeline mode, executemany, COPY, prepared statements, TLS) is counted as the server sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass
class Counts:
    """What went through the proxy since it started or was last reset."""

    round_trips: int = 0
    connections: int = 0
    open_now: int = 0
    open_max: int = 0
    bytes_up: int = 0
    bytes_down: int = 0


class LatencyProxy:
    """``with LatencyProxy("127.0.0.1", 5432, rtt_ms=40) as proxy: ... proxy.port ... proxy.counts``.

    The upstream is a host and port, or (a host starting with ``/``, as libpq reads it) a socket
    directory and the port that names the socket in it; clients always reach the proxy by TCP."""

    def __init__(self, upstream_host: str, upstream_port: int, *, rtt_ms: float = 0.0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.rtt_ms = rtt_ms
        self.port = 0
        self._counts = Counts()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="latency-proxy", daemon=True)
        self._server: asyncio.Server | None = None

    # The proxy's life -------------------------------------------------------------------------
    def start(self) -> LatencyProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop
        ).result()
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None:
            server = self._server

            async def close() -> None:
                server.close()
                for task in asyncio.all_tasks():
                    if task is not asyncio.current_task():
                        task.cancel()

            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=5)
            self._server = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def __enter__(self) -> LatencyProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # What it saw ------------------------------------------------------------------------------
    @property
    def counts(self) -> Counts:
        with self._lock:
            return Counts(**vars(self._counts))

    def reset(self) -> None:
        """Start counting afresh (connections already open stay counted as open)."""
        with self._lock:
            open_now = self._counts.open_now
            self._counts = Counts(open_now=open_now, open_max=open_now)

    @contextlib.contextmanager
    def measuring(self) -> Iterator[Counts]:
        """Counts of what happens inside the block only (filled in when it ends)."""
        before = self.counts
        result = Counts()
        try:
            yield result
        finally:
            after = self.counts
            result.round_trips = after.round_trips - before.round_trips
            result.connections = after.connections - before.connections
            result.bytes_up = after.bytes_up - before.bytes_up
            result.bytes_down = after.bytes_down - before.bytes_down
            result.open_now = after.open_now
            result.open_max = after.open_max

    # The work ---------------------------------------------------------------------------------
    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            host, port = self.upstream
            if host.startswith("/"):  # a socket directory, as libpq reads it (the embedded server)
                upstream_reader, upstream_writer = await asyncio.open_unix_connection(
                    f"{host}/.s.PGSQL.{port}"
                )
            else:
                upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
        except OSError:
            client_writer.close()
            return
        with self._lock:
            self._counts.connections += 1
            self._counts.open_now += 1
            self._counts.open_max = max(self._counts.open_max, self._counts.open_now)
        # Who spoke last on this connection: a client chunk after the server's is a new round trip.
        last = ["server"]
        try:
            await asyncio.gather(
                self._pipe(client_reader, upstream_writer, last, "client"),
                self._pipe(upstream_reader, client_writer, last, "server"),
            )
        finally:
            with self._lock:
                self._counts.open_now -= 1
            for writer in (client_writer, upstream_writer):
                with contextlib.suppress(Exception):
                    writer.close()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, last: list[str], side: str
    ) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    with contextlib.suppress(Exception):
                        writer.write_eof()
                    return
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()

        delivering = asyncio.ensure_future(deliver())
        try:
            while True:
                data = await reader.read(65536)
                now = time.monotonic()
                with self._lock:
                    if data and side == "client":
                        self._counts.bytes_up += len(data)
                        if last[0] != "client":
                            self._counts.round_trips += 1
                    elif data:
                        self._counts.bytes_down += len(data)
                    if data:
                        last[0] = side
                await queue.put((now + self.rtt_ms / 2000.0, data))
                if not data:
                    break
            await delivering
        except (ConnectionError, asyncio.CancelledError):
            delivering.cancel()
        finally:
            with contextlib.suppress(Exception):
                writer.close()
