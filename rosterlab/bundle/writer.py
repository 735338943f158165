"""Write CSV the way Clever wants it: UTF-8 without BOM, RFC 4180 minimal quoting, one newline.

Big spec files are written by the store (DuckDB ``COPY``) behind a header line made here, so the
header is always exact (received names, received order, duplicates kept) and quoted the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

NEWLINES: dict[str, str] = {"CRLF": "\r\n", "LF": "\n"}
_NEEDS_QUOTES = (",", '"', "\r", "\n")


def newline_chars(style: str | None, default: str = "LF") -> str:
    """The characters of a newline style (``CRLF`` / ``LF``); other styles get ``default``."""
    return NEWLINES.get(style or "", NEWLINES[default])


def csv_field(value: str | None) -> str:
    """One field, quoted only when it holds a comma, a quote or a line break (RFC 4180)."""
    if value is None:
        return ""
    if any(ch in value for ch in _NEEDS_QUOTES):
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_line(values: Sequence[str | None], newline: str = "\n") -> str:
    """One record, terminated by ``newline``."""
    return ",".join(csv_field(v) for v in values) + newline


def write_csv(
    path: Path,
    header: Sequence[str],
    rows: Iterable[Sequence[str | None]],
    newline: str = "\n",
) -> None:
    """Write a small CSV file (header + rows) as UTF-8 without BOM; ``None`` is an empty field."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(csv_line(header, newline))
        for row in rows:
            fh.write(csv_line(row, newline))
