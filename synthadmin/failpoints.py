"""Test-only failpoints: make a crash happen at an exact place, deterministically.

``SYNTHADMIN_TEST_FAILPOINT=<name>`` in the environment makes ``failpoint(<name>)`` kill the
process with SIGKILL — what ``kill -9``, the OOM killer or a lost machine do — so tests can
prove what a crash at that point leaves behind and that purge finishes it. Unset (always, in
production), ``failpoint`` does nothing.
"""

from __future__ import annotations

import os
import signal

ENV = "SYNTHADMIN_TEST_FAILPOINT"
#: After the Auth user exists, before any database row of it is written.
AFTER_AUTH_CREATE = "after_auth_create"


def failpoint(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
