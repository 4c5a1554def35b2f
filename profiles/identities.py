"""Who a synthetic user is called: the reserved e-mail domains, the default locale, and the
usernames and e-mails a run gives its users (unique by construction: the run tag and the user's
number, never ``fake.unique``). Plain functions: the factories build with them, and the services
name people with them without loading factory_boy and Faker.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["DEFAULT_LOCALE", "RESERVED_EMAIL_DOMAINS", "ascii_slug", "synthetic_email", "synthetic_username"]

RESERVED_EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
DEFAULT_LOCALE = "pt_BR"


def ascii_slug(text: str) -> str:
    """``"João da Conceição"`` → ``"joao.da.conceicao"``: safe in an e-mail local part."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", ".", ascii_text.lower()).strip(".") or "user"


def synthetic_username(*, name: str, run_tag: str, number: int) -> str:
    """``first.last.<run tag>.<number>``: a username no other user has, made the way e-mails are
    (for a ``profiles.username`` under a unique index; elsewhere usernames stay ``first.last``)."""
    return f"{name}.{run_tag}.{number}"


def synthetic_email(*, username: str, run_tag: str, number: int, domain: str, attempt: int = 1) -> str:
    """The e-mail of the ``number``-th user of a run (``username``: its ``first.last``);
    ``attempt`` > 1 after a duplicate."""
    if domain not in RESERVED_EMAIL_DOMAINS:
        raise ValueError(
            f"synthetic e-mails must use a reserved domain {RESERVED_EMAIL_DOMAINS}, not {domain!r}"
        )
    suffix = f"-r{attempt}" if attempt > 1 else ""
    return f"{synthetic_username(name=username, run_tag=run_tag, number=number)}{suffix}@{domain}"
