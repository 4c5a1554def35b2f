"""synthadmin's service layer: every write the product makes goes through these functions.

The admin and the management commands are thin adapters over them.

* ``synthetic_generate`` — create a synthetic population (Auth users, profiles, histories);
* ``synthetic_generate_preview`` — the same, built but not written (``--dry-run``);
* ``checkins_backfill`` — add check-in days before synthetic patients' first check-in;
* ``synthetic_purge`` — delete synthetic users, never real ones.
"""

from synthadmin.services.backfill import checkins_backfill
from synthadmin.services.generation import Starter, synthetic_generate
from synthadmin.services.preview import synthetic_generate_preview
from synthadmin.services.purge import synthetic_purge
from synthadmin.services.requests import GenerationRequest, generation_request_validate

__all__ = [
    "GenerationRequest",
    "Starter",
    "checkins_backfill",
    "generation_request_validate",
    "synthetic_generate",
    "synthetic_generate_preview",
    "synthetic_purge",
]
