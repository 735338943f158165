"""From a data row to the line an editor shows.

A quoted value may hold line breaks (an address or a note from an SIS export; PowerShell's
Export-Csv keeps them), so data row N is line N + 1 only until the first such value. The quote
aware field count beside staging (:func:`~rosterlab.bundle.sniff.surplus_rows`) records, per
row, the line breaks inside its values; the store keeps them with the file's staging record
(O(multi-line rows), not O(rows)), and every finding surface turns a row into a line here.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class LineBreaks:
    """A file's rows that span several lines: ascending data rows (0 is the header) and the
    running total of line breaks inside values up to and including each."""

    rows: tuple[int, ...] = ()
    totals: tuple[int, ...] = ()

    @classmethod
    def of(cls, breaks: Iterable[tuple[int, int]]) -> LineBreaks:
        """From (data row, line breaks inside its values) pairs, in any order."""
        pairs = sorted(breaks)
        return cls(
            tuple(row for row, _ in pairs),
            tuple(itertools.accumulate(extra for _, extra in pairs)),
        )

    def line(self, row: int) -> int:
        """The line an editor shows for data ``row``, the header being line 1."""
        before = bisect.bisect_left(self.rows, row)
        return row + 1 + (self.totals[before - 1] if before else 0)

    def row_at(self, line: int) -> int:
        """The data row a line of the file belongs to (the inverse of :meth:`line`)."""
        starts = [self.line(row) for row in self.rows]
        i = bisect.bisect_right(starts, line) - 1
        if i < 0:
            return line - 1
        if line <= self.line(self.rows[i] + 1) - 1:
            return self.rows[i]
        return line - 1 - self.totals[i]
