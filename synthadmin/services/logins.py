"""Logins made in the admin: held only encrypted until their one download (issue 11, item 5).

The generate form's "Create logins" hands ``population_generate`` the sink made by
``logins_sink()``. Each created user's ``Credential`` becomes one ``HeldLogin`` row in
synthadmin's own schema: a Fernet token (AES-128-CBC + HMAC-SHA256, from ``cryptography``) of
the CSV line ``email,password,role,user_id`` — the columns of ``generate_synthetic
--credentials-out`` (README, "From the command line"). Nothing else stores, logs or shows the
password; the database holds no plaintext of it.

The Fernet key is derived from ``settings.SECRET_KEY`` with HKDF-SHA256 (RFC 5869; the secret
key is already high-entropy, so an extract-and-expand KDF is the right one, not a password
hash) under a fixed salt and info naming this purpose, so the same secret key yields unrelated
keys elsewhere. ``SECRET_KEY_FALLBACKS`` still decrypt (``MultiFernet``) after a key rotation.

A held set lives until the first of: its download by the staff member who started the run
(``logins_take``, which deletes the rows in the same statement that reads them: the first
download wins), ``LIFETIME`` after the run ended (``logins_expire``; a background run's chunks
write logins for as long as the run goes, so the hour starts when it ends — ``CEILING`` after a
login was written, whatever the run), or the purge of its users (``logins_expire`` again: a
login whose user is no longer live is deleted). While the run is still queued or running
nothing can be downloaded (``LoginsNotReadyError``): a download then would miss the users still
to come.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import secrets
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TextIO

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from synthadmin.csvsafe import SafeWriter, csv_writer
from synthadmin.exceptions import SynthadminError
from synthadmin.models import LIVE_STATES, HeldLogin, SyntheticRun, SyntheticUser
from synthadmin.services.reports import Credential

#: How long a held set waits for its download, from the end of its run.
LIFETIME = dt.timedelta(hours=1)
#: Deleted this long after being written even if its run never ends (a run nobody finished).
CEILING = dt.timedelta(days=1)

#: The permission a download needs, besides being the run's starter.
GENERATE_PERMISSION = "synthadmin.generate_synthetic_data"

#: The CSV's columns (those of ``generate_synthetic --credentials-out``).
COLUMNS = ("email", "password", "role", "user_id")

#: A password's first character: a letter or a digit, never one a spreadsheet reads as the start
#: of a formula (``=``, ``+``, ``-``, ``@``; ``synthadmin.csvsafe``).
PASSWORD_FIRST = string.ascii_letters + string.digits

_HKDF_SALT = b"synthadmin.services.logins"
_HKDF_INFO = b"synthadmin: Fernet key for admin logins held until their one download, v1"


class LoginsForbiddenError(SynthadminError):
    """The requester may not download this run's logins (HTTP 403): only the staff member who
    started the run, holding ``synthadmin.generate_synthetic_data``, may."""


class LoginsNotReadyError(SynthadminError):
    """The run is still queued or running (HTTP 409): its logins are offered once it ends."""


class LoginsGoneError(SynthadminError):
    """Nothing to download (HTTP 410): already downloaded, expired, purged, or never made."""


@dataclass(frozen=True)
class HeldLogins:
    """What is held for a run: ``count`` logins so far, downloadable until ``expires_at``
    (aware), or — ``expires_at`` None — once the run, still queued or running, ends."""

    count: int
    expires_at: dt.datetime | None

    @property
    def ready(self) -> bool:
        return self.expires_at is not None


def password_new() -> str:
    """A new password for a synthetic user's login: a letter or digit, then 43 characters of
    ``secrets.token_urlsafe(32)`` (letters, digits, ``-``, ``_``) — 262 bits from ``secrets``,
    44 characters, never starting with a character a spreadsheet takes for a formula."""
    return secrets.choice(PASSWORD_FIRST) + secrets.token_urlsafe(32)


def credentials_writer(out: TextIO, **fmtparams: Any) -> SafeWriter:
    """A CSV writer of logins on ``out`` (``csvsafe``), its header row (``COLUMNS``) written:
    ``credentials_writer(out).writerow(credential_row(credential))`` for each login."""
    writer = csv_writer(out, **fmtparams)
    writer.writerow(COLUMNS)
    return writer


def credential_row(credential: Credential) -> list[str]:
    """One login as a CSV row: ``email, password, role, user_id`` (``COLUMNS``)."""
    return [credential.email, credential.password, credential.role, str(credential.user_id)]


def logins_sink() -> Callable[[Credential], None]:
    """A credentials sink for ``population_generate(credentials=...)`` that holds each login
    encrypted in a ``HeldLogin`` row of the user's run.

    Thread-safe and process-safe: each call writes one row through the calling thread's own
    database connection (the generation workers call it from several threads) and keeps
    nothing in memory. The run is the one whose ledger entry for ``credential.user_id`` is
    complete (the sink is called once the user's rows are written). Raises
    ``SyntheticUser.DoesNotExist`` for a user no run created; its message never holds the
    password.
    """

    def hold(credential: Credential) -> None:
        run_id = (
            SyntheticUser.objects.filter(user_id=credential.user_id, state=SyntheticUser.State.COMPLETE)
            .values_list("run_id", flat=True)
            .get()
        )
        line = _csv_line(credential_row(credential))
        HeldLogin.objects.create(
            run_id=run_id, user_id=credential.user_id, token=_fernet().encrypt(line).decode("ascii")
        )

    return hold


def logins_held(*, run: SyntheticRun) -> HeldLogins | None:
    """The logins held for ``run`` (expired ones deleted first), or None when there are none."""
    logins_expire()
    count = HeldLogin.objects.filter(run=run).count()
    if not count:
        return None
    run.refresh_from_db(fields=["finished_at"])
    return HeldLogins(count=count, expires_at=run.finished_at + LIFETIME if run.finished_at else None)


def logins_may_take(*, run: SyntheticRun, user: AbstractUser | AnonymousUser) -> bool:
    """Whether ``user`` may download ``run``'s logins: it started the run and may generate.

    A superuser who did not start the run may not (the passwords are the starter's).
    """
    return bool(
        user.is_authenticated
        and run.started_by_user_id is not None
        and run.started_by_user_id == user.pk
        and user.has_perm(GENERATE_PERMISSION)
    )


def logins_take(*, run: SyntheticRun, user: AbstractUser | AnonymousUser) -> Iterator[bytes]:
    """The run's logins as CSV (UTF-8 bytes: a header ``email,password,role,user_id``, then one
    line per user in the order they were held), deleting them: the first download wins.

    The rows are deleted and read in one statement (``DELETE … RETURNING``) in one transaction,
    so two downloads at once cannot both get them; only the encrypted tokens are read into
    memory (about 200 bytes a user), each line is decrypted as it is streamed.
    Raises LoginsForbiddenError when ``user`` may not (``logins_may_take``), LoginsGoneError when
    nothing is held (already downloaded, expired, purged) or the tokens cannot be decrypted
    (``SECRET_KEY`` changed without a fallback; the rows are then deleted, being useless).
    """
    if not logins_may_take(run=run, user=user):
        raise LoginsForbiddenError(
            "only the staff member who started this run, with the permission to generate synthetic "
            "data, may download its logins"
        )
    logins_expire()
    run.refresh_from_db(fields=["finished_at"])
    if run.finished_at is None:
        raise LoginsNotReadyError(
            f"run {str(run.pk)[:8]} is still going: its logins can be downloaded once it ends "
            f"(for {int(LIFETIME.total_seconds() // 60)} minutes after that)"
        )
    table = connection.ops.quote_name(HeldLogin._meta.db_table)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH taken AS (DELETE FROM {table} WHERE run_id = %s RETURNING id, token) "  # noqa: S608 - the model's own table name
                "SELECT token FROM taken ORDER BY id",
                [run.pk],
            )
            tokens = [row[0] for row in cursor.fetchall()]
    if not tokens:
        raise LoginsGoneError(
            f"the logins of run {str(run.pk)[:8]} were already downloaded, or expired "
            f"({int(LIFETIME.total_seconds() // 60)} minutes after the run), or the run was purged"
        )
    fernet = _fernet()
    try:
        first = fernet.decrypt(tokens[0])
    except InvalidToken:
        raise LoginsGoneError(
            "the held logins cannot be decrypted (the secret key changed since the run); they are deleted"
        ) from None
    return _stream(fernet, first, tokens[1:])


def logins_expire(*, now: dt.datetime | None = None) -> int:
    """Delete every held login whose run ended more than ``LIFETIME`` ago (or written more than
    ``CEILING`` ago), and every one whose user is no longer live (purged, or its ledger entry
    otherwise settled); return how many went.

    Gone from the database, not hidden. Called by the admin views and the services that touch
    runs (generate, purge), so an expired set never outlives the next look.
    """
    now = now or timezone.now()
    live = SyntheticUser.objects.filter(user_id=OuterRef("user_id"), state__in=LIVE_STATES)
    old = HeldLogin.objects.filter(run__finished_at__lt=now - LIFETIME) | HeldLogin.objects.filter(
        created_at__lt=now - CEILING
    )
    orphaned = HeldLogin.objects.filter(~Exists(live))
    # One DELETE statement, no transaction around it (a round trip, not three): nothing refers
    # to a held login and no signal listens for its deletion, so Django's collector has nothing
    # to do.
    expired = old | orphaned
    return expired._raw_delete(expired.db)


def _stream(fernet: MultiFernet, first: bytes, rest: list[str]) -> Iterator[bytes]:
    yield _csv_line(list(COLUMNS))
    yield first
    for token in rest:
        yield fernet.decrypt(token)


def _csv_line(values: list[str]) -> bytes:
    buffer = io.StringIO()
    csv_writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue().encode("utf-8")


def _fernet() -> MultiFernet:
    return _fernet_for(settings.SECRET_KEY, tuple(getattr(settings, "SECRET_KEY_FALLBACKS", ())))


@lru_cache(maxsize=4)
def _fernet_for(secret_key: str, fallbacks: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(_derive(key)) for key in (secret_key, *fallbacks)])


def _derive(secret_key: str) -> bytes:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO).derive(
        secret_key.encode("utf-8")
    )
    return base64.urlsafe_b64encode(key)


__all__ = [
    "COLUMNS",
    "LIFETIME",
    "PASSWORD_FIRST",
    "HeldLogins",
    "LoginsForbiddenError",
    "LoginsGoneError",
    "credential_row",
    "credentials_writer",
    "logins_expire",
    "logins_held",
    "logins_may_take",
    "logins_sink",
    "logins_take",
    "password_new",
]
