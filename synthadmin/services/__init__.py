"""synthadmin's service layer: every write the product makes goes through these functions.

The admin and the management commands are thin adapters over them.

* ``synthetic_generate`` — create a synthetic population (Auth users, profiles, histories);
* ``synthetic_generate_preview`` — the same, built but not written (``--dry-run``);
* ``synthetic_checkins_extend`` — add check-in days to synthetic patients;
* ``synthetic_purge`` — delete synthetic users, never real ones.
"""

from synthadmin.services.extend import synthetic_checkins_extend
from synthadmin.services.generation import Starter, synthetic_generate
from synthadmin.services.preview import synthetic_generate_preview
from synthadmin.services.purge import synthetic_purge
from synthadmin.services.requests import GenerationRequest, generation_request_validate

__all__ = [
    "GenerationRequest",
    "Starter",
    "generation_request_validate",
    "synthetic_checkins_extend",
    "synthetic_generate",
    "synthetic_generate_preview",
    "synthetic_purge",
]
