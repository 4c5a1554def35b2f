"""CSV files a spreadsheet opens safely: the one rule every CSV synthadmin writes follows.

A spreadsheet (Excel, LibreOffice, Google Sheets) reads a cell that starts with ``=``, ``+``,
``-`` or ``@`` as a formula, and one that starts with a tab or a carriage return is treated the
same way by some of them (OWASP, "CSV Injection"). So every text cell that starts with one of
those characters is written with a single quote in front (``'=HYPERLINK(…)``): the spreadsheet
shows it as text, and a program reading the file can strip that one leading quote.

Numbers stay numbers: a value that is not text (an ``int``, a ``float``, a ``Decimal``, a
date, a UUID) is written as it is, and so is a text cell of a column the writer was told holds
numbers (``numbers=``) when the cell *is* a number (``-1``, ``-0.5``, ``+3``): a negative
number is a number, not a formula. Anything else in such a column — a payload value that is not
a number at all — gets the quote like any text.

Every CSV writer of synthadmin is :func:`csv_writer` (the export, the logins the admin holds,
``generate_synthetic --credentials-out``); the rule is in the data dictionary
(``docs/data-dictionary.md``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterable
from typing import Any, Protocol

#: What a spreadsheet may take for the start of a formula (OWASP's list).
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
#: What goes in front of such a text cell.
QUOTE = "'"

_LEADS = frozenset(FORMULA_LEADS)
#: A number as a number column holds it: optional sign, digits, optional fraction and exponent.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


class _Writable(Protocol):
    def write(self, s: str, /) -> object: ...


def cell_safe(value: object, *, number: bool = False) -> object:
    """``value`` as a spreadsheet should get it: a text cell starting with a formula character
    gets a leading ``'``; anything else (and, when ``number``, a text that is a number) is
    returned unchanged."""
    if type(value) is not str or not value or value[0] not in _LEADS:
        return value
    if number and _NUMBER.fullmatch(value):
        return value
    return QUOTE + value


class SafeWriter:
    """A ``csv.writer`` whose every row goes through :func:`cell_safe`.

    Also: a text cell holding a carriage return is quoted even when the line terminator has
    none (``csv.writer`` quotes only the terminator's characters, and a bare CR splits the row
    for every reader): such a row is written with every cell quoted.
    """

    def __init__(self, out: _Writable, *, numbers: Collection[int] = (), **fmtparams: Any) -> None:
        self._out = out
        self._writer = csv.writer(out, **fmtparams)
        self._quoted = csv.writer(out, **{**fmtparams, "quoting": csv.QUOTE_ALL})
        self._block = io.StringIO()
        self._plain = csv.writer(self._block, **fmtparams)
        dialect = self._writer.dialect
        self._bare_cr = "\r" not in dialect.lineterminator
        self._numbers = frozenset(numbers)
        # Where a cell may start with a formula character in plainly written rows: at a line's
        # start or after a delimiter, behind an opening quote or not (or any bare CR).
        start = f"(?:^|{re.escape(dialect.delimiter)}){re.escape(dialect.quotechar or chr(34))}?"
        self._suspect = re.compile(f"{start}[=+\\-@\\t\\r]" + ("|\\r" if self._bare_cr else ""), re.M)

    def writerow(self, row: Iterable[object]) -> Any:
        """Write one row, its text cells neutralised (``cell_safe``)."""
        cells, has_cr = self._cells(row)
        return (self._quoted if has_cr and self._bare_cr else self._writer).writerow(cells)

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        """Write many rows, each as ``writerow`` would: written plainly at once and looked at
        once (one scan of the text), and only when something in them may need the rule are they
        written again row by row through it — the same file, most blocks at the speed of
        ``csv.writer``."""
        block = [list(row) for row in rows]
        self._block.seek(0)
        self._block.truncate()
        self._plain.writerows(block)
        text = self._block.getvalue()
        if self._suspect.search(text) is None:
            self._out.write(text)
            return
        for row in block:
            self.writerow(row)

    def _cells(self, row: Iterable[object]) -> tuple[list[object], bool]:
        """The cells of ``row`` as they are written, and whether one holds a carriage return."""
        cells = list(row)
        has_cr = False
        for index, value in enumerate(cells):
            # The common case (a cell that cannot be a formula) costs one type check and two looks.
            if type(value) is str and value and (value[0] in _LEADS or "\r" in value):
                cells[index] = cell_safe(value, number=index in self._numbers)
                has_cr = has_cr or "\r" in value
        return cells, has_cr


def csv_writer(out: _Writable, *, numbers: Collection[int] = (), **fmtparams: Any) -> SafeWriter:
    """A CSV writer on ``out`` (``csv.writer``'s format parameters) that neutralises formula
    cells; ``numbers``: the indexes of the columns that hold numbers (kept when they are)."""
    return SafeWriter(out, numbers=numbers, **fmtparams)


__all__ = ["FORMULA_LEADS", "QUOTE", "SafeWriter", "cell_safe", "csv_writer"]
