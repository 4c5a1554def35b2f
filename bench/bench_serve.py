"""The production server as the README runs it: start-up, the health probe, a page, an export.

On a scratch database (created on the server of ``DATABASE_URL``, migrated, dropped after):
one run of ``--patients`` x ``--days`` (local Auth backend) and a staff user with the export
permission; then the README's serve command (``gunicorn -c deploy/gunicorn.conf.py
synthadmin.wsgi``, DEBUG off) is started twice — with no collected static files (it runs
``collectstatic``), then with them — and measured:

* start-up: seconds from launch until ``/healthz`` answers, cold and warm;
* ``GET /healthz``: latency p50 / p99 over sequential requests, and requests per second from 8
  threads at once;
* ``GET /admin/login/`` latency p50;
* the run's CSV export downloaded through the server (a logged-in session), against the same
  export written by ``manage.py export_synthetic`` to a file: rows per second and the ratio.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/bench_serve.py [--patients 200] [--days 365]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
SERVE = "gunicorn -c deploy/gunicorn.conf.py synthadmin.wsgi"
PASSWORD = "bench-password-not-secret"  # noqa: S105 - a scratch database's bench user


def _env(database_url: str, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SYNTHADMIN_", "SUPABASE_"))}
    env.update(
        DATABASE_URL=database_url,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="bench-" + "s" * 50,
        SYNTHADMIN_ENV_FILE="",
        DJANGO_SETTINGS_MODULE="synthadmin.settings",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        **extra,
    )
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)}: {result.stderr}")
    return result.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str, float]:
    port = _free_port()
    started = time.monotonic()
    process = subprocess.Popen(
        ["bash", "-c", SERVE],
        cwd=ROOT,
        env={**env, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            httpx.get(f"{url}/healthz", timeout=2)
            return process, url, time.monotonic() - started
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() - started > 120:
                raise SystemExit("the serve command did not come up") from None
            time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=60)


def _latencies(client: httpx.Client, path: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        began = time.perf_counter()
        assert client.get(path).status_code == 200
        times.append(time.perf_counter() - began)
    return sorted(times)


def _parallel_rate(url: str, n: int, threads: int) -> float:
    limits = httpx.Limits(max_connections=threads, max_keepalive_connections=threads)
    with httpx.Client(base_url=url, limits=limits) as client:

        def one(_: int) -> None:
            assert client.get("/healthz").status_code == 200

        began = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(n)))
        return n / (time.perf_counter() - began)


def _download(url: str, run_id: str) -> tuple[int, int, float]:
    with httpx.Client(base_url=url, timeout=600) as client:
        form = client.get("/admin/login/").text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
        client.post(
            "/admin/login/", data={"csrfmiddlewaretoken": token, "username": "bench", "password": PASSWORD}
        )
        began = time.perf_counter()
        rows = size = 0
        with client.stream("GET", f"/admin/synthadmin/syntheticrun/{run_id}/download/csv/") as answer:
            for block in answer.iter_bytes():
                rows += block.count(b"\n")
                size += len(block)
        return rows - 1, size, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--requests", type=int, default=300)
    options = parser.parse_args()
    base = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    name = f"synthadmin_bench_serve_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(base)
    database_url = urlunsplit(parts._replace(path=f"/{name}"))
    static = Path(tempfile.mkdtemp(prefix="synthadmin-bench-static-"))
    env = _env(database_url, {"DJANGO_STATIC_ROOT": str(static / "static")})
    try:
        _manage(env, "migrate", "-v", "0")
        out = _manage(
            env,
            "generate_synthetic",
            "--patients",
            str(options.patients),
            "--checkins",
            str(options.days),
            "--json",
        )
        run_id = re.search(r'"run_id": "([^"]+)"', out).group(1)  # type: ignore[union-attr]
        _manage(
            env,
            "shell",
            "-c",
            (
                "from django.contrib.auth.models import User, Permission; "
                f"u = User.objects.create_user('bench', password='{PASSWORD}', is_staff=True); "
                "u.user_permissions.set(Permission.objects.filter(codename__in="
                "['view_syntheticrun', 'export_synthetic_data']))"
            ),
        )
        process, url, cold = _serve(env)
        _stop(process)
        process, url, warm = _serve(env)
        try:
            with httpx.Client(base_url=url) as client:
                health = _latencies(client, "/healthz", options.requests)
                login = _latencies(client, "/admin/login/", max(options.requests // 5, 20))
            rate = _parallel_rate(url, options.requests, 8)
            rows, size, served = _download(url, run_id)
        finally:
            _stop(process)
        began = time.perf_counter()
        _manage(env, "export_synthetic", "--run", run_id, "--output", str(static / "run.csv"))
        direct = time.perf_counter() - began
    finally:
        shutil.rmtree(static, ignore_errors=True)
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def ms(values: list[float], q: float) -> str:
        return f"{values[min(int(q * len(values)), len(values) - 1)] * 1000:.1f} ms"

    print(f"serve command start-up: {cold:.1f} s cold (collectstatic), {warm:.1f} s warm")
    print(
        f"GET /healthz: p50 {ms(health, 0.5)}, p99 {ms(health, 0.99)}; {rate:.0f} requests/s from 8 threads"
    )
    print(f"GET /admin/login/: p50 {ms(login, 0.5)} (mean {statistics.mean(login) * 1000:.1f} ms)")
    print(
        f"export of {rows:,} rows ({size / 1e6:.1f} MB) through gunicorn: {served:.1f} s, {rows / served:,.0f} rows/s; "
        f"manage.py export_synthetic to a file (process start included): {direct:.1f} s; ratio {served / direct:.2f}"
    )


if __name__ == "__main__":
    main()
