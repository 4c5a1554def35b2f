"""Words for counts in messages: "1 therapist", "2 therapists", "1,005 check-ins"."""

from __future__ import annotations

_IRREGULAR = {"check-in": "check-ins", "therapy": "therapies"}


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``count`` and the noun, singular for exactly one; thousands separated by commas."""
    noun = singular if count == 1 else (plural_form or _IRREGULAR.get(singular, singular + "s"))
    return f"{count:,} {noun}"
