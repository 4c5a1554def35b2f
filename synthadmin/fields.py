"""Model fields for the messages synthadmin stores: kept whatever the database's encoding.

A failure reason or an error summary can hold text from anywhere (a server's answer, a name);
stored as it is in a ``LATIN1`` database, one character the encoding lacks made the UPDATE fail,
and the ledger entry lost its reason and its state. These fields send such text in a form the
database holds (``synthadmin.db.encoding.text_storable``); ASCII text, the usual case, is sent
unchanged without asking the connection anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models.expressions import Combinable

from synthadmin.db.encoding import text_storable


class _StorableText:
    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        value = super().get_db_prep_value(value, connection, prepared)  # type: ignore[misc]
        if isinstance(value, str) and not value.isascii():
            return text_storable(value, connection)
        return value


if TYPE_CHECKING:  # django-stubs' fields are generic (set type, get type); Django's are not
    _TextField = models.TextField[str | Combinable, str]
    _CharField = models.CharField[str | Combinable, str]
else:
    _TextField, _CharField = models.TextField, models.CharField


class MessageTextField(_StorableText, _TextField):
    """A ``TextField`` whose values are made fit for the database's encoding when stored."""

    def deconstruct(self) -> Any:
        # The column is a plain text column: migrations see a TextField (nothing to migrate).
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.TextField", args, kwargs


class MessageCharField(_StorableText, _CharField):
    """A ``CharField`` whose values are made fit for the database's encoding when stored."""

    def deconstruct(self) -> Any:
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.CharField", args, kwargs
