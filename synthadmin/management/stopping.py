"""SIGTERM and SIGHUP stop a command's run the way Ctrl-C does: cleanly (unless the command
started with them ignored, as under ``nohup``: they stay ignored).

``docker stop``, systemd and CI send SIGTERM; closing a terminal sends SIGHUP. Python's default
for both is to die at once, which leaves Auth users without profiles and runs ``running``
forever. Inside :class:`SignalStop` they set the run's ``stop`` event instead: the service
starts no new user, finishes or compensates the users in flight, records the run as stopped and
returns its report; the command then exits ``128 + signal`` (143 / 129).

Outside a run (a command starting, one that only reads, an export) they raise
:class:`StopSignal` where the main thread is, as Ctrl-C raises ``KeyboardInterrupt``
(``stop_signals_raise``, which ``manage.py`` installs first thing): the ``finally`` blocks run
(an export's hidden partial file is removed) and ``manage.py`` ends with one line and ``128 +
signal``, where Python's default would die at once, silently, leaving them undone.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from types import FrameType, TracebackType
from typing import Any

from synthadmin.management.exitcodes import signal_exit_code

logger = logging.getLogger(__name__)

#: The signals that ask for a clean stop (SIGINT keeps Python's KeyboardInterrupt path unless
#: the command asks for it too: ``SignalStop(interrupt=True)``).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class SignalStop:
    """Context manager: while inside, SIGTERM/SIGHUP set ``event`` instead of killing the process.

    ``received`` is the first signal that arrived (None if none did). Outside the main thread
    (where Python cannot install handlers) it does nothing.

    ``interrupt=True``: Ctrl-C (SIGINT) sets ``event`` too, instead of raising KeyboardInterrupt
    wherever the main thread happens to be — in the middle of counting a user's outcome or
    recording the run's end, which would leave the count, or the run, wrong.
    """

    def __init__(self, event: threading.Event | None = None, *, interrupt: bool = False) -> None:
        self.event = event or threading.Event()
        self.received: signal.Signals | None = None
        self._previous: dict[signal.Signals, Any] = {}
        self._signals = (*STOP_SIGNALS, signal.SIGINT) if interrupt else STOP_SIGNALS

    def __enter__(self) -> SignalStop:
        if threading.current_thread() is threading.main_thread():
            for signum in self._signals:
                if signal.getsignal(signum) == signal.SIG_IGN:
                    # Ignored when we started (``nohup``, a script's background job): the caller
                    # asked for the run to outlive it; Python leaves SIGINT ignored the same way.
                    continue
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        # Only set a flag here: the main thread may be in the middle of a database write, which
        # must not be interrupted; the run checks the event between users.
        if self.received is None:
            self.received = signal.Signals(signum)
            logger.warning(
                "%s received: finishing what is in flight, starting nothing new", self.received.name
            )
        self.event.set()

    @property
    def exit_code(self) -> int | None:
        return None if self.received is None else signal_exit_code(self.received)

    @property
    def name(self) -> str:
        return self.received.name if self.received is not None else ""


class StopSignal(BaseException):  # like KeyboardInterrupt: not an error, a request
    """SIGTERM or SIGHUP received outside a run that stops between batches: raised where the
    main thread is, as Ctrl-C raises ``KeyboardInterrupt`` (a BaseException, so ``except
    Exception`` does not swallow it)."""

    def __init__(self, signum: int) -> None:
        self.signum = signal.Signals(signum)
        super().__init__(self.signum.name)

    @property
    def exit_code(self) -> int:
        return signal_exit_code(self.signum)


def _raise(signum: int, _frame: FrameType | None) -> None:
    raise StopSignal(signum)


def stop_signals_raise() -> dict[signal.Signals, Any]:
    """From now on SIGTERM and SIGHUP raise :class:`StopSignal` in the main thread (those
    ignored when we started, as under ``nohup``, stay ignored); the handlers they had. Does
    nothing outside the main thread."""
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous
    for signum in STOP_SIGNALS:
        if signal.getsignal(signum) != signal.SIG_IGN:
            previous[signum] = signal.signal(signum, _raise)
    return previous


@contextlib.contextmanager
def stop_signals_raising() -> Iterator[None]:
    """``stop_signals_raise`` while inside; the handlers before it again on leaving."""
    previous = stop_signals_raise()
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
