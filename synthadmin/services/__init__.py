"""synthadmin's service layer: the writes the product makes, behind the admin and the commands.

Each module holds one sub-domain (generation, chunks, dispatch, purge, scenarios...); the most
used entry points are re-exported here, each imported on first use (PEP 562): importing one
service module (``services.ledger``) does not load every other, nor the content engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synthadmin.startup import exports_on_first_use

if TYPE_CHECKING:
    from synthadmin.services.backfill import checkins_backfill
    from synthadmin.services.generation import population_generate
    from synthadmin.services.ledger import Starter
    from synthadmin.services.preview import population_preview
    from synthadmin.services.purge import synthetic_users_purge
    from synthadmin.services.requests import GenerationRequest, generation_request_validate

#: The re-exported names, by the module that holds each.
_EXPORTS = {
    "GenerationRequest": "synthadmin.services.requests",
    "Starter": "synthadmin.services.ledger",
    "checkins_backfill": "synthadmin.services.backfill",
    "generation_request_validate": "synthadmin.services.requests",
    "population_generate": "synthadmin.services.generation",
    "population_preview": "synthadmin.services.preview",
    "synthetic_users_purge": "synthadmin.services.purge",
}


if not TYPE_CHECKING:  # the type checker reads the imports above, and flags a name that is none
    __getattr__ = exports_on_first_use(__name__, _EXPORTS)


__all__ = [
    "GenerationRequest",
    "Starter",
    "checkins_backfill",
    "generation_request_validate",
    "population_generate",
    "population_preview",
    "synthetic_users_purge",
]
