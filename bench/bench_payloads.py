"""Throughput of the payload engine: build histories and consume their rows.

Times ``build_history`` for 1,000 patients x 365 days plus full consumption of
``iter_json_rows()`` (the bulk COPY path), and the ``iter_payloads()`` dict path for
comparison. Each figure is the best of several repetitions (the machine is shared, so the
best run is the least disturbed one). Run from the repository root:

    python bench/bench_payloads.py [--patients N] [--days D] [--repeat R] [--pattern P]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from synthadmin.content import (
    PATTERN_NAMES,
    PatientHistory,
    build_history,
    patient_seed,
)

END_DATE = dt.date(2025, 6, 30)  # fixed: the benchmark must not depend on the clock
RUN_SEED = 20_250_630


def _histories(pattern: str, patients: int, days: int) -> list[PatientHistory]:
    return [
        build_history(pattern=pattern, end_date=END_DATE, days=days, seed=patient_seed(RUN_SEED, i))
        for i in range(patients)
    ]


def _consume_json(pattern: str, patients: int, days: int) -> int:
    rows = 0
    for i in range(patients):
        history = build_history(pattern=pattern, end_date=END_DATE, days=days, seed=patient_seed(RUN_SEED, i))
        for _row in history.iter_json_rows():
            rows += 1
    return rows


def _consume_dicts(pattern: str, patients: int, days: int) -> int:
    rows = 0
    for i in range(patients):
        history = build_history(pattern=pattern, end_date=END_DATE, days=days, seed=patient_seed(RUN_SEED, i))
        for _row in history.iter_payloads():
            rows += 1
    return rows


def _build_only(pattern: str, patients: int, days: int) -> int:
    return sum(len(h) for h in _histories(pattern, patients, days))


def _best(
    fn: Callable[[str, int, int], int], pattern: str, patients: int, days: int, repeat: int
) -> tuple[int, float, float, float]:
    """Rows, best and median wall-clock seconds, best CPU seconds of this process."""
    wall, cpu = [], []
    rows = 0
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        rows = fn(pattern, patients, days)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return rows, min(wall), statistics.median(wall), min(cpu)


def main() -> None:
    """Print a table of payloads/second per pattern and path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pattern", choices=PATTERN_NAMES, action="append")
    args = parser.parse_args()
    patterns = args.pattern or ["cycling", *[p for p in PATTERN_NAMES if p != "cycling"]]

    print(f"{args.patients} patients x {args.days} days, best (median) of {args.repeat} runs;")
    print("payloads/s is wall-clock, /CPU-s uses this process's CPU time (shared machines)")
    header = f"{'pattern':<14} {'path':<24} {'payloads':>9} {'seconds':>14} {'payloads/s':>20} {'/CPU-s':>9}"
    print(header)
    print("-" * len(header))
    paths: tuple[tuple[str, Callable[[str, int, int], int]], ...] = (
        ("build + iter_json_rows", _consume_json),
        ("build + iter_payloads", _consume_dicts),
        ("build only", _build_only),
    )
    for pattern in patterns:
        for label, fn in paths:
            if label != "build + iter_json_rows" and pattern != patterns[0]:
                continue
            rows, best, median, cpu = _best(fn, pattern, args.patients, args.days, args.repeat)
            print(
                f"{pattern:<14} {label:<24} {rows:>9} {best:>6.2f} ({median:>5.2f}) "
                f"{rows / best:>10,.0f} ({rows / median:>7,.0f}) {rows / cpu:>9,.0f}"
            )


if __name__ == "__main__":
    main()
