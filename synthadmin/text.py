"""Words for people: counts in messages ("1 therapist", "2 therapists", "1,005 check-ins"), and
names as search compares them."""

from __future__ import annotations

import re
import unicodedata

_IRREGULAR = {"check-in": "check-ins", "therapy": "therapies"}


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``count`` and the noun, singular for exactly one; thousands separated by commas."""
    noun = singular if count == 1 else (plural_form or _IRREGULAR.get(singular, singular + "s"))
    return f"{count:,} {noun}"


def name_folded(name: str) -> str:
    """A displayed name as search compares it: accents dropped, case folded, words separated by
    one space ("Davi Miguel Aragão" → "davi miguel aragao"; "Ørsted" → "orsted")."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_UNDECOMPOSED))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.split(r"[\W_]+", bare.casefold())).strip()


#: Letters Unicode does not decompose into a base letter and an accent.
_UNDECOMPOSED = str.maketrans(
    {
        "ø": "o",
        "Ø": "O",
        "đ": "d",
        "Đ": "D",
        "ł": "l",
        "Ł": "L",
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "\u0131": "i",  # dotless i
    }
)
