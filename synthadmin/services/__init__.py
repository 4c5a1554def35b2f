"""synthadmin's service layer: the writes the product makes, behind the admin and the commands.

Each module holds one sub-domain (generation, chunks, dispatch, purge, scenarios...); the most
used entry points are re-exported here.
"""

from synthadmin.services.backfill import checkins_backfill
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.preview import population_preview
from synthadmin.services.purge import synthetic_users_purge
from synthadmin.services.requests import GenerationRequest, generation_request_validate

__all__ = [
    "GenerationRequest",
    "Starter",
    "checkins_backfill",
    "generation_request_validate",
    "population_generate",
    "population_preview",
    "synthetic_users_purge",
]
