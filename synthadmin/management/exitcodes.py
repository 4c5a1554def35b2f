"""The exit codes of every synthadmin command, in one place (the README has the same table).

==========  ===================================================================================
code        meaning
==========  ===================================================================================
0           done
1           bad input or configuration; nothing was written
2           some users failed, were blocked or were left alone (each named); the rest complete
3           stopped part way: the Auth service or the database was lost, or a diagnosis
            stopped the run
129/130/143 stopped by a signal (SIGHUP / SIGINT / SIGTERM) after a clean stop
141         standard output closed by its reader (``… | head``): ended quietly, as by SIGPIPE
==========  ===================================================================================
"""

from __future__ import annotations

import signal

OK = 0
INVALID = 1
PARTIAL = 2
STOPPED = 3

#: 128 + the signal number, the shell's convention for "ended by this signal".
SIGNALLED = {
    signal.SIGHUP: 128 + signal.SIGHUP,  # 129
    signal.SIGINT: 128 + signal.SIGINT,  # 130
    signal.SIGTERM: 128 + signal.SIGTERM,  # 143
}
INTERRUPTED = SIGNALLED[signal.SIGINT]
#: Standard output's reader closed the pipe: 128 + SIGPIPE, what a shell reports for a program
#: SIGPIPE ended (``manage.py`` ends any command so, quietly).
CLOSED_PIPE = 128 + signal.SIGPIPE  # 141


def signal_exit_code(signum: int) -> int:
    """The exit code of a run stopped cleanly by ``signum``."""
    return 128 + int(signum)
