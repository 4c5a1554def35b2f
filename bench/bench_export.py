"""The export as a guest far from its database: round trips and wall time through added latency.

One population is built directly (``generate_synthetic``, local backend), then
``export_synthetic --run ID --format csv --output FILE`` runs as a user runs it (a ``manage.py``
subprocess, start-up included) with its database behind ``tests/support/latency_proxy.py`` at
each RTT (default 0, 10, 40, 100 ms). Printed per RTT: round trips in all, per patient and per
1,000 rows, wall time, and its ratio to the same export at RTT 0. The figures of the two
populations (``--patients`` and 1 patient) give what an export costs whatever its size (start-up)
and what it costs per block of rows. Run from the repository root:

    python bench/bench_export.py [--patients 205] [--days 30] [--rtt 0,10,40,100]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_latency import _drop, _manage, _scratch, _server, _url


def _generate(url: str, patients: int, days: int, seed: int) -> str:
    args = ["generate_synthetic", "--patients", str(patients), "--checkins", str(days)]
    result = _manage([*args, "--seed", str(seed), "--json"], url)
    if result.returncode != 0:
        raise SystemExit(result.stderr[-2000:])
    return re.search(r'"run_id": "([0-9a-f-]{36})"', result.stdout).group(1)  # type: ignore[union-attr]


def _export(proxy, url: str, run_id: str) -> tuple[int, int, float]:
    target = Path(tempfile.gettempdir()) / f"bench-export-{uuid.uuid4().hex[:6]}.csv"
    with proxy.measuring() as counts:
        began = time.perf_counter()
        result = _manage(["export_synthetic", "--run", run_id, "--output", str(target)], url)
        seconds = time.perf_counter() - began
    if result.returncode != 0:
        raise SystemExit(result.stderr[-2000:])
    rows = sum(1 for _ in target.open()) - 1
    target.unlink()
    return counts.round_trips, rows, seconds


def main() -> None:
    from tests.support.latency_proxy import LatencyProxy

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=205)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rtt", default="0,10,40,100", help="round-trip times in ms, comma-separated")
    options = parser.parse_args()
    server = _server()
    name = _scratch(server)
    try:
        direct = _url(server, name)
        runs = {
            1: _generate(direct, 1, options.days, 7),
            options.patients: _generate(direct, options.patients, options.days, 8),
        }
        print(f"{'patients':>8} {'RTT ms':>6} {'rows':>8} {'round trips':>11} {'/patient':>8} {'/1,000 rows':>11} "
              f"{'wall s':>7} {'x RTT 0':>7}")  # fmt: skip
        at_zero: dict[int, float] = {}
        for rtt in [float(x) for x in options.rtt.split(",")]:
            with LatencyProxy(str(server["host"]), int(server["port"]), rtt_ms=rtt) as proxy:
                url = _url(server, name, proxy.port)
                for patients, run_id in runs.items():
                    trips, rows, seconds = _export(proxy, url, run_id)
                    at_zero.setdefault(patients, seconds)
                    print(f"{patients:8,} {rtt:6.0f} {rows:8,} {trips:11,} {trips / patients:8.1f} "
                          f"{trips / max(rows, 1) * 1000:11.1f} {seconds:7.1f} {seconds / at_zero[patients]:7.2f}")  # fmt: skip
    finally:
        _drop(server, name)


if __name__ == "__main__":
    main()
