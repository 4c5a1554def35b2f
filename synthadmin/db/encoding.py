"""What text the database can hold: its server encoding, and text made fit for it.

Django talks UTF-8 to PostgreSQL (``client_encoding``); the server converts to its own encoding
and refuses a character that encoding lacks (SQLSTATE 22P05). A ``LATIN1`` database holds
``João`` but not ``Иван`` nor an em dash. ``text_storable`` makes a message synthadmin stores
(a failure reason, an error summary) fit: unchanged where it fits, else common punctuation in
ASCII and every other missing character as a ``\\uXXXX`` escape — the reason is kept, never
lost to the error of storing it.
"""

from __future__ import annotations

import codecs
from typing import Any

#: PostgreSQL server encodings whose Python codec is not their lowercased name.
_CODECS = {
    "LATIN1": "iso8859-1",
    "LATIN2": "iso8859-2",
    "LATIN3": "iso8859-3",
    "LATIN4": "iso8859-4",
    "LATIN5": "iso8859-9",
    "LATIN6": "iso8859-10",
    "LATIN7": "iso8859-13",
    "LATIN8": "iso8859-14",
    "LATIN9": "iso8859-15",
    "LATIN10": "iso8859-16",
    "WIN866": "cp866",
    "WIN874": "cp874",
    "KOI8R": "koi8-r",
    "KOI8U": "koi8-u",
    "EUC_CN": "gb2312",
}
#: Encodings that take any text: UTF8, and SQL_ASCII (the server stores the bytes unconverted).
_ANY_TEXT = frozenset({"UTF8", "SQL_ASCII"})
_ASCII_PUNCTUATION = str.maketrans(
    {
        "\u2014": "-",  # em dash
        "\u2013": "-",  # en dash
        "\u2026": "...",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2192": "->",
        "\u00b7": "-",
        "\u00a0": " ",
    }
)


def server_encoding(connection: Any) -> str:
    """The server encoding of Django ``connection``'s database (``UTF8``, ``LATIN1``...): a
    parameter the server reported when the session began, read without a query."""
    connection.ensure_connection()
    return str(connection.connection.info.parameter_status("server_encoding") or "UTF8")


def codec_of(encoding: str) -> str | None:
    """The Python codec of PostgreSQL ``encoding``; None when it takes any text; ``ascii`` for
    one Python has no codec for (safe: ASCII fits every server encoding)."""
    name = encoding.upper()
    if name in _ANY_TEXT:
        return None
    codec = _CODECS.get(name, name.lower())
    try:
        codecs.lookup(codec)
    except LookupError:
        return "ascii"
    return codec


def text_fits(text: str, encoding: str) -> bool:
    """Whether a database in ``encoding`` can hold ``text`` as it is."""
    codec = codec_of(encoding)
    if codec is None:
        return True
    try:
        text.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def text_fitted(text: str, encoding: str) -> str:
    """``text`` as a database in ``encoding`` can hold it (see the module docstring)."""
    codec = codec_of(encoding)
    if codec is None or text_fits(text, encoding):
        return text
    return text.translate(_ASCII_PUNCTUATION).encode(codec, errors="backslashreplace").decode(codec)


def text_storable(text: str, connection: Any) -> str:
    """``text`` as the database behind Django ``connection`` can hold it."""
    return text_fitted(text, server_encoding(connection))


__all__ = ["codec_of", "server_encoding", "text_fits", "text_fitted", "text_storable"]
