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
#: After the Auth user exists (one user's, or every Auth user of a batch), before any database
#: row of it is written.
AFTER_AUTH_CREATE = "after_auth_create"

# Generation, at its batch boundaries (``services.user_creation``, ``services.writer``).
#: A batch's intent records are committed; no Auth user of it exists yet.
GENERATE_BATCH_INTENTS = "generate_batch_intents"
#: (Then ``AFTER_AUTH_CREATE``: the batch's Auth users exist, none of their rows is written.)
#: A batch's profiles and check-ins are written, inside its transaction, before its commit.
GENERATE_BATCH_COPIED = "generate_batch_copied"
#: A batch is committed (rows and ledger); the next not started.
GENERATE_AFTER_BATCH = "generate_after_batch"

# Purge, at its batch boundaries (``services.purge``).
#: Who is deleted is decided (intents resolved in the ledger), before the first batch's deletes.
PURGE_BEFORE_DELETES = "purge_before_deletes"
#: A batch's Auth users are deleted; its ledger entries not yet marked (local backend: inside the
#: batch's transaction, before its commit; Supabase: after the batch's Auth calls).
PURGE_BATCH_AUTH_DELETED = "purge_batch_auth_deleted"
#: A batch is deleted and marked (committed); the next not started.
PURGE_AFTER_BATCH = "purge_after_batch"
#: Removing an "Add check-in days" run's check-ins: a batch's check-ins deleted, inside its
#: transaction (``services.additions_purge``).
PURGE_ADDITIONS_BATCH = "purge_additions_batch"

# Adding days (``services.backfill``, ``services.extend_today``), at their batch boundaries.
#: A batch's check-ins are copied, inside its transaction, before its ledger counts and records.
ADDITIONS_BATCH_COPIED = "additions_batch_copied"
#: A batch is committed; the next not started.
ADDITIONS_AFTER_BATCH = "additions_after_batch"


def failpoint(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
