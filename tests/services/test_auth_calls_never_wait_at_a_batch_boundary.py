"""Through an Auth service that makes one user per call, the calls of a run's batches go through
one pool that never waits at a batch boundary (``services.auth_batches``): the next batch's
intents are committed while the calls before it run, its calls start while the last calls of the
batch before are still in flight, and a batch's rows are written while the next batch's calls
run — and still no call goes out before its batch's intents are committed, a stop commits no
further batch and every committed batch is finished, an error is raised once nothing is in
flight.

The stages are first driven by steps that record what happens (no database, no HTTP: the order
is what is tested, each wait bounded so that a pipeline that waits at a boundary fails instead of
hanging), then a real run through the Auth test server and the database.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from dataclasses import dataclass, field

import pytest

from synthadmin.models import SyntheticUser
from synthadmin.services.auth_batches import BatchSteps, auth_batches_run
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from tests.invariants import assert_invariants, synthetic_counts

WAIT = 5.0  # seconds: far longer than any step here takes when nothing waits at a boundary


@dataclass
class Recorder:
    """Steps of batches of integer calls that record what happens, in order, and can be made to
    wait for another event (``waits``: item or ``("finish", batch)`` -> event name)."""

    stop: threading.Event
    waits: dict[object, str] = field(default_factory=dict)
    raise_in_call: int | None = None
    raise_in_finish: int | None = None
    interrupt_commit: int | None = None  # the batch whose commit Ctrl-C interrupts
    stop_at_call: int | None = None
    log: list[tuple[str, int]] = field(default_factory=list)
    timed_out: list[object] = field(default_factory=list)
    results: list[tuple[int, str]] = field(default_factory=list)
    events: dict[str, threading.Event] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def event(self, name: str) -> threading.Event:
        with self.lock:
            return self.events.setdefault(name, threading.Event())

    def note(self, what: str, value: int) -> None:
        with self.lock:
            self.log.append((what, value))
        self.event(f"{what}:{value}").set()

    def wait_for(self, key: object) -> None:
        if key in self.waits and not self.event(self.waits[key]).wait(WAIT):
            self.timed_out.append(key)

    def steps(self) -> BatchSteps[list[int], int, str]:
        return BatchSteps(
            prepare=lambda jobs: list(jobs),
            commit=self.commit,
            call=self.call,
            finish=self.finish,
            skip=lambda jobs: "skipped",
        )

    def commit(self, calls: list[int]) -> None:
        batch = calls[0] // 4
        if batch == self.interrupt_commit:
            raise KeyboardInterrupt
        self.note("commit", batch)

    def call(self, item: int) -> None:
        if self.stop.is_set():
            self.note("not sent", item)
            return
        self.note("call", item)
        if item == self.stop_at_call:
            self.stop.set()
        if item == self.raise_in_call:
            raise RuntimeError("a step failed")
        self.wait_for(item)
        self.note("ended", item)

    def finish(self, jobs: list[int], calls: list[int]) -> str:
        batch = jobs[0] // 4
        self.note("finish", batch)
        if batch == self.raise_in_finish:
            raise RuntimeError("rows failed")
        self.wait_for(("finish", batch))
        return "finished"

    def index(self, what: str, value: int) -> int:
        return self.log.index((what, value))

    def logged(self, what: str) -> list[int]:
        return [value for kind, value in self.log if kind == what]


BATCHES = [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]


def _run(recorder: Recorder, workers: int = 2) -> bool:
    def on_result(jobs: list[int], result: str) -> None:
        recorder.results.append((jobs[0] // 4, result))

    return auth_batches_run(
        BATCHES, recorder.steps(), workers=workers, stop=recorder.stop, on_result=on_result
    )


def test_the_next_batchs_calls_start_while_the_last_calls_of_the_one_before_run():
    # Each batch's last call ends only once the next batch's first call has started.
    recorder = Recorder(threading.Event(), waits={3: "call:4", 7: "call:8"})

    assert _run(recorder) is False

    assert recorder.timed_out == []
    assert sorted(recorder.results) == [(0, "finished"), (1, "finished"), (2, "finished")]
    assert sorted(recorder.logged("call")) == list(range(12))


def test_a_batchs_rows_are_written_while_the_next_batchs_calls_run():
    # The rows of batch 0 end only once a call of batch 1 has ended, those of 1 once one of 2 has.
    recorder = Recorder(threading.Event(), waits={("finish", 0): "ended:5", ("finish", 1): "ended:9"})

    _run(recorder)

    assert recorder.timed_out == []
    for batch in range(3):  # a batch's rows come after every call of it has ended
        last_call = max(recorder.index("ended", item) for item in BATCHES[batch])
        assert recorder.index("finish", batch) > last_call


def test_no_call_before_its_batchs_intents_and_the_intents_stay_one_batch_ahead():
    recorder = Recorder(threading.Event())

    _run(recorder, workers=1)

    assert recorder.logged("commit") == [0, 1, 2]  # in order, each once
    for batch, items in enumerate(BATCHES):
        assert all(recorder.index("commit", batch) < recorder.index("call", item) for item in items)
    # Batch 2 is committed only once every call of batch 0 has started: one batch ahead, no more.
    assert all(recorder.index("call", item) < recorder.index("commit", 2) for item in BATCHES[0])


def test_a_stop_commits_no_further_batch_and_every_committed_one_is_finished():
    recorder = Recorder(threading.Event(), stop_at_call=1)

    assert _run(recorder, workers=1) is False

    committed = recorder.logged("commit")
    assert committed in ([0], [0, 1])  # batch 1 may already be committed, never batch 2
    assert sorted(recorder.logged("finish")) == committed  # each committed batch finished, once
    assert Counter(result for _, result in recorder.results) == {
        "finished": len(committed),
        "skipped": 3 - len(committed),
    }
    sent = recorder.logged("call")
    assert sent == [0, 1]  # nothing goes out after the stop: the rest is recorded as not sent
    assert sorted(sent + recorder.logged("not sent")) == [i for b in committed for i in BATCHES[b]]


def test_ctrl_c_while_a_batchs_intents_are_committed_sends_none_of_its_calls():
    recorder = Recorder(threading.Event(), interrupt_commit=1)

    assert _run(recorder, workers=1) is True  # Ctrl-C was pressed

    assert recorder.stop.is_set()
    # Its intents may have reached the database: the batch is finished, its calls never sent.
    assert sorted(recorder.results) == [(0, "finished"), (1, "finished"), (2, "skipped")]
    assert not set(recorder.logged("call")) & set(BATCHES[1])
    assert set(recorder.logged("not sent")) >= set(BATCHES[1])


def test_an_error_in_a_call_is_raised_once_every_committed_batch_is_finished():
    recorder = Recorder(threading.Event(), raise_in_call=2)

    with pytest.raises(RuntimeError, match="a step failed"):
        _run(recorder)

    assert recorder.stop.is_set()
    assert sorted(recorder.logged("finish")) == recorder.logged("commit")


def test_an_error_in_a_batchs_rows_is_raised_once_the_other_batches_are_handed_over():
    recorder = Recorder(threading.Event(), raise_in_finish=0)

    with pytest.raises(RuntimeError, match="rows failed"):
        _run(recorder)

    committed = recorder.logged("commit")
    assert sorted(recorder.logged("finish")) == committed
    # The failed batch is not handed over; every other one is, finished or never started.
    assert sorted(batch for batch, _ in recorder.results) == [1, 2]
    assert {batch for batch, result in recorder.results if result == "finished"} == set(committed) - {0}


# --- a real run through the Auth test server ---------------------------------------------------


def test_through_supabase_auth_each_batch_is_called_before_the_last_call_of_the_one_before_ends(
    real_population, settings, auth_server, supabase_gateway
):
    settings.SYNTHADMIN_BATCH_USERS = 10  # not a multiple of the concurrency
    auth_server.faults.latency(0.05)
    request = GenerationRequest(
        patients=40, checkin_days=5, seed=11, end_date=dt.date(2026, 6, 30), concurrency=4
    )
    report = population_generate(request=request, started_by=Starter("os:tester"), gateway=supabase_gateway)

    assert report.status == "succeeded", report.error
    assert report.patients_created == 40 and synthetic_counts()["auth_users"] == 40
    entries = SyntheticUser.objects.filter(run=report.run_id).values_list("pk", "job_index")
    job_of: dict[int, int] = {pk: job for pk, job in entries if job is not None}
    batches: dict[int, list] = {}
    for call in auth_server.requests_for("create"):
        batches.setdefault(job_of[call.json["app_metadata"]["synthadmin"]["intent"]] // 10, []).append(call)
    assert sorted(batches) == [0, 1, 2, 3] and all(len(calls) == 10 for calls in batches.values())
    for batch in range(1, 4):
        previous_ends = max(call.answered_at for call in batches[batch - 1])
        assert min(call.received_at for call in batches[batch]) < previous_ends, f"batch {batch} waited"
    assert_invariants(real_population)
