"""The Auth test server (a GoTrue admin API double over real HTTP) and what tests import from it."""

from tests.support.gotrue.faults import (
    BLOCKING_TABLE,
    FAILING_TRIGGER,
    FaultPlan,
    block_delete,
    install_failing_signup_trigger,
    remove_failing_signup_trigger,
    unblock_deletes,
)
from tests.support.gotrue.handler import RecordedRequest
from tests.support.gotrue.server import DEFAULT_JWT_SECRET, GoTrueDouble

__all__ = [
    "BLOCKING_TABLE",
    "DEFAULT_JWT_SECRET",
    "FAILING_TRIGGER",
    "FaultPlan",
    "GoTrueDouble",
    "RecordedRequest",
    "block_delete",
    "install_failing_signup_trigger",
    "remove_failing_signup_trigger",
    "unblock_deletes",
]
