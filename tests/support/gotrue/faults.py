"""Faults the Auth test server injects: per-call HTTP faults (``FaultPlan``) and real database
faults (a failing signup trigger on ``auth.users``, a delete blocked by a foreign key)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ROUTES = ("create", "list", "get", "delete")

_DEFAULT = object()

#: Bodies of injected faults, by status: (error code or None for a gateway body, message).
FAULT_BODIES: dict[int, tuple[str | None, str]] = {
    401: ("no_authorization", "This endpoint requires a valid Bearer token"),
    403: ("not_admin", "User not allowed"),
    429: ("over_request_rate_limit", "Request rate limit reached"),
    500: ("unexpected_failure", "Internal Server Error"),
    502: (None, "An invalid response was received from the upstream server"),
    503: (None, "name resolution failed"),
    504: ("request_timeout", "Processing this request timed out, please retry after a moment."),
}


@dataclass
class Fault:
    kind: str
    remaining: int
    route: str
    status: int | None = None
    code: str | None = None
    message: str = ""
    seconds: float = 0.0
    then_process: bool = False
    user_id: str | None = None
    retry_after: str | None = None
    html: bool = False

    def matches(self, route: str, body: Any) -> bool:
        if self.route not in ("any", route):
            return False
        if self.user_id is None:
            return True
        return isinstance(body, dict) and str(body.get("id", "")).lower() == self.user_id


class FaultPlan:
    """Thread-safe, per-call fault injection. Each ``*_next`` fault is used up by ``n`` calls.

    ``route`` is one of ``"create"``, ``"list"``, ``"get"``, ``"delete"`` or ``"any"``. A
    ``user_id`` limits a fault to creates whose body carries that id. Faults apply before the
    admin check and before anything is stored, except ``crash_after_create_next``.
    """

    def __init__(self, occupier: Callable[..., str] | None = None) -> None:
        self._lock = threading.Lock()
        self._occupier = occupier
        self._latency = 0.0
        self._service_time = 0.0
        self._reject: tuple[int, str | None, str, bool] | None = None
        self._before: list[Fault] = []
        self._after: list[Fault] = []
        self._capacity: Capacity | None = None
        self._strip_version: str | None = None
        self._grace = 0
        #: ``hold_next``: set while a call is held; set again to let held calls go on.
        self.holding = threading.Event()
        self._released = threading.Event()

    def grace(self, n: int = 1) -> None:
        """Serve the next ``n`` requests as if nothing were planned (no latency, rejection or
        fault; none used up): synthadmin's preflight passes, and the faults hit the run after
        it — Auth lost, or the key refused, part way."""
        with self._lock:
            self._grace = max(0, int(n))

    def latency(self, seconds: float) -> None:
        """Delay every request by ``seconds`` (e.g. 0.05 for a benchmark); 0 turns it off."""
        with self._lock:
            self._latency = max(0.0, float(seconds))

    def service_time(self, seconds: float) -> None:
        """Answer every request ``seconds`` after it was read, the server's own work included (a
        server "at 100 ms per call": ``latency`` comes on top of that work, this does not; work
        that takes longer is answered when done); 0 turns it off."""
        with self._lock:
            self._service_time = max(0.0, float(seconds))

    def fail_next(
        self,
        n: int = 1,
        *,
        status: int = 500,
        code: Any = _DEFAULT,
        message: str | None = None,
        route: str = "create",
        user_id: uuid.UUID | str | None = None,
        retry_after: float | str | None = None,
        html: bool = False,
    ) -> None:
        """Answer the next ``n`` matching calls with ``status`` and nothing stored.

        The default bodies: 429 ``over_request_rate_limit``, 500 ``unexpected_failure``, 504
        ``request_timeout`` (GoTrue's); 502 / 503 a gateway body without a code. ``code=None``
        sends a gateway-style ``{"message": ...}`` body; ``html=True`` an HTML page (a proxy, a
        wrong URL), with any status, 200 included. ``retry_after`` adds a ``Retry-After``
        header (seconds, or a string such as an HTTP-date).
        """
        default_code, default_message = FAULT_BODIES.get(status, ("unexpected_failure", f"HTTP {status}"))
        self.add_before(
            Fault(
                "fail",
                n,
                _check_route(route),
                status=status,
                code=default_code if code is _DEFAULT else code,
                message=default_message if message is None else message,
                user_id=_norm_id(user_id),
                retry_after=None if retry_after is None else _header_value(retry_after),
                html=html,
            )
        )

    def trickle_next(self, n: int = 1, *, interval: float = 3.0, route: str = "any") -> None:
        """Carry out the next ``n`` matching calls, then send each answer one byte every
        ``interval`` seconds, status line first (httpx's per-read timeouts never fire)."""
        self.add_before(Fault("trickle", n, _check_route(route), seconds=float(interval)))

    def hold_next(self, n: int = 1, *, route: str = "create") -> None:
        """Hold the next ``n`` matching calls, read but neither carried out nor answered, until
        ``release_holds()`` (or the server stops); then carry them out, as a server that goes on
        with a request whose client has gone does. ``holding`` is set once a call is held: a
        test knows the call is in flight, and that nothing of it is stored yet."""
        self._released.clear()
        self.holding.clear()
        self.add_before(Fault("hold", n, _check_route(route)))

    def release_holds(self) -> None:
        """Let every held call go on (and those a ``hold_next`` fault still has to hold)."""
        self._released.set()

    def hold(self, stopping: threading.Event) -> None:
        """The server's part: hold this call until released or the server stops."""
        self.holding.set()
        while not (self._released.wait(0.05) or stopping.is_set()):
            pass

    def capacity(
        self, concurrent: int | None, *, queue: int = 0, retry_after: float | str | None = None
    ) -> None:
        """Serve at most ``concurrent`` requests at once (the latency counts as serving), let
        ``queue`` more wait, and answer 429 (with ``retry_after``, if given) beyond that, like
        a gateway in front of a busy Auth service. ``None`` removes the limit."""
        with self._lock:
            self._capacity = (
                None
                if concurrent is None
                else Capacity(concurrent, queue, None if retry_after is None else _header_value(retry_after))
            )

    def strip_version_header(self, where: str = "response") -> None:
        """Lose ``X-Supabase-Api-Version`` on the way ``"in"`` (GoTrue then renders legacy error
        bodies) or on the way out (``"response"``: 2024 bodies, but the client cannot tell), as
        a component in between might; until ``clear()``."""
        if where not in ("in", "response"):
            raise ValueError("where must be 'in' or 'response'")
        with self._lock:
            self._strip_version = where

    def timeout_next(
        self,
        n: int = 1,
        seconds: float = 1.5,
        *,
        route: str = "create",
        then_process: bool = False,
        user_id: uuid.UUID | str | None = None,
    ) -> None:
        """Hold the next ``n`` matching calls for ``seconds`` before answering.

        Use a client whose httpx timeout is shorter than ``seconds``: it gives up with
        ``AuthRetryableError(status=0)``. Afterwards the server answers 504 ``request_timeout``
        with nothing stored or, with ``then_process=True``, carries the request out (the user
        is created although the client never heard back).
        """
        self.add_before(
            Fault(
                "timeout",
                n,
                _check_route(route),
                seconds=float(seconds),
                then_process=then_process,
                user_id=_norm_id(user_id),
            )
        )

    def duplicate_email_next(self, n: int = 1) -> None:
        """Answer the next ``n`` creates with GoTrue's 422 ``email_exists``, storing nothing."""
        self.add_before(
            Fault(
                "fail",
                n,
                "create",
                status=422,
                code="email_exists",
                message="A user with this email address has already been registered",
            )
        )

    def crash_after_create_next(
        self, n: int = 1, *, status: int | None = 500, user_id: uuid.UUID | str | None = None
    ) -> None:
        """Store the next ``n`` successful creates, then fail the response.

        ``status`` 500 answers ``unexpected_failure`` (502-504 give the client a retryable
        error); ``status=None`` drops the connection without a response (the client raises
        ``AuthRetryableError(status=0)``). Either way the user exists.
        """
        self.add_after(Fault("crash", n, "create", status=status, user_id=_norm_id(user_id)))

    def die_after_create_next(self, *, user_id: uuid.UUID | str | None = None) -> None:
        """Store the next matching create, then die as a killed Auth process does: this
        connection is dropped without an answer, every request after it too, and the server
        stops (connections refused from then on). ``GoTrueDouble.start()`` brings it back."""
        self.add_after(Fault("die", 1, "create", user_id=_norm_id(user_id)))

    def reject_all(
        self, status: int = 401, *, code: Any = _DEFAULT, message: str | None = None, html: bool = False
    ) -> None:
        """Answer every request with ``status`` (401 ``no_authorization``, 403 ``not_admin``...)
        until ``clear()``; ``code=None`` sends a gateway body such as 401 "Invalid API key";
        ``html=True`` an HTML page (a proxy or a wrong URL answering)."""
        default_code, default_message = FAULT_BODIES.get(status, ("unexpected_failure", f"HTTP {status}"))
        with self._lock:
            self._reject = (
                status,
                default_code if code is _DEFAULT else code,
                default_message if message is None else message,
                html,
            )

    def occupy_id(self, user_id: uuid.UUID | str, *, email: str | None = None) -> str:
        """Commit a foreign user with ``user_id`` now, so creating that id takes GoTrue's genuine
        500 ``unexpected_failure`` path. Returns the foreign user's e-mail."""
        if self._occupier is None:
            raise RuntimeError("this FaultPlan is not attached to a GoTrueDouble")
        return self._occupier(user_id, email=email)

    existing_id = occupy_id

    def clear(self) -> None:
        """Remove every fault, latency and rejection."""
        with self._lock:
            self._latency = 0.0
            self._service_time = 0.0
            self._reject = None
            self._before.clear()
            self._after.clear()
            self._capacity = None
            self._strip_version = None
            self._grace = 0
        self._released.set()  # nothing held any more
        self.holding.clear()

    @property
    def pending(self) -> int:
        """How many injected fault uses are still to come (``reject_all`` not counted)."""
        with self._lock:
            return sum(f.remaining for f in (*self._before, *self._after))

    def add_before(self, fault: Fault) -> None:
        if fault.remaining > 0:
            with self._lock:
                self._before.append(fault)

    def add_after(self, fault: Fault) -> None:
        if fault.remaining > 0:
            with self._lock:
                self._after.append(fault)

    def take_grace(self) -> bool:
        with self._lock:
            if self._grace <= 0:
                return False
            self._grace -= 1
            return True

    def current_latency(self) -> float:
        with self._lock:
            return self._latency

    def current_service_time(self) -> float:
        with self._lock:
            return self._service_time

    def current_rejection(self) -> tuple[int, str | None, str, bool] | None:
        with self._lock:
            return self._reject

    def current_capacity(self) -> Capacity | None:
        with self._lock:
            return self._capacity

    def version_stripped(self) -> str | None:
        with self._lock:
            return self._strip_version

    def _take(self, faults: list[Fault], route: str, body: Any) -> Fault | None:
        with self._lock:
            for fault in faults:
                if fault.matches(route, body):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        faults.remove(fault)
                    return fault
        return None

    def take_before(self, route: str, body: Any) -> Fault | None:
        return self._take(self._before, route, body)

    def take_after(self, route: str, body: Any) -> Fault | None:
        return self._take(self._after, route, body)


class Capacity:
    """``concurrent`` requests served at once, ``queue`` waiting, 429 for the rest."""

    def __init__(self, concurrent: int, queue: int, retry_after: str | None) -> None:
        self.concurrent = concurrent
        self.queue = queue
        self.retry_after = retry_after
        self._slots = threading.Semaphore(concurrent)
        self._lock = threading.Lock()
        self._admitted = 0  # serving + waiting
        self.refused = 0
        self.served = 0

    def admit(self) -> bool:
        with self._lock:
            if self._admitted >= self.concurrent + self.queue:
                self.refused += 1
                return False
            self._admitted += 1
        self._slots.acquire()
        return True

    def leave(self) -> None:
        self._slots.release()
        with self._lock:
            self._admitted -= 1
            self.served += 1


FAILING_TRIGGER = "synthadmin_test_on_auth_user_created"
BLOCKING_TABLE = "public.synthadmin_test_user_notes"


def install_failing_signup_trigger(cursor: Any) -> None:
    """Install a real AFTER INSERT trigger on ``auth.users`` that raises (P0001), as a signup
    trigger does whose insert into an app table fails. Works through any DB-API cursor."""
    cursor.execute(
        "CREATE OR REPLACE FUNCTION public.synthadmin_test_handle_new_user() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'cannot create the app row for new user %', NEW.id; "
        "END $$"
    )
    cursor.execute(f"DROP TRIGGER IF EXISTS {FAILING_TRIGGER} ON auth.users")
    cursor.execute(
        f"CREATE TRIGGER {FAILING_TRIGGER} AFTER INSERT ON auth.users "
        "FOR EACH ROW EXECUTE FUNCTION public.synthadmin_test_handle_new_user()"
    )


def remove_failing_signup_trigger(cursor: Any) -> None:
    cursor.execute(f"DROP TRIGGER IF EXISTS {FAILING_TRIGGER} ON auth.users")
    cursor.execute("DROP FUNCTION IF EXISTS public.synthadmin_test_handle_new_user()")


def block_delete(cursor: Any, user_id: uuid.UUID | str) -> None:
    """Make deleting ``user_id`` fail as on a project whose table references ``auth.users``
    without ``ON DELETE CASCADE``: a real foreign key, a real row (SQLSTATE 23503 on delete)."""
    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS {BLOCKING_TABLE} ("
        " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " user_id uuid NOT NULL REFERENCES auth.users (id))"
    )
    cursor.execute(f"INSERT INTO {BLOCKING_TABLE} (user_id) VALUES (%s)", [str(uuid.UUID(str(user_id)))])


def unblock_deletes(cursor: Any) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {BLOCKING_TABLE}")


def _check_route(route: str) -> str:
    if route not in (*ROUTES, "any"):
        raise ValueError(f"route must be one of {(*ROUTES, 'any')}, not {route!r}")
    return route


def _norm_id(user_id: uuid.UUID | str | None) -> str | None:
    return None if user_id is None else str(uuid.UUID(str(user_id)))


def _header_value(retry_after: float | str) -> str:
    if isinstance(retry_after, str):
        return retry_after
    return str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)


__all__ = [
    "BLOCKING_TABLE",
    "FAILING_TRIGGER",
    "FAULT_BODIES",
    "ROUTES",
    "Capacity",
    "Fault",
    "FaultPlan",
    "block_delete",
    "install_failing_signup_trigger",
    "remove_failing_signup_trigger",
    "unblock_deletes",
]
