"""What reading a bundle yields: the files as received, sniffed, with file/header findings.

Parsing the rows themselves is done set-based by the store (DuckDB ``read_csv`` over
``SourceFile.parse_path``), so that a million-row file never passes through Python row by row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rosterlab.bundle.sniff import BadBytes
from rosterlab.spec import Finding


@dataclass(frozen=True)
class SourceFile:
    """One file of a bundle, as received.

    ``name`` is the path inside the bundle as received (``students.csv``, ``sub/Students.CSV``);
    ``spec_name`` is the spec file it *is* (its name at the top level, in any case) or ``None``.
    ``path`` holds the received bytes; ``parse_path`` holds the same text as UTF-8 without BOM
    (the same file when no transcoding was needed) for the parser: record terminators made one
    style when they were mixed, a header's line breaks inside quoted names made spaces.
    """

    name: str
    spec_name: str | None
    path: Path
    parse_path: Path
    sha256: str
    size: int
    mtime: datetime
    encoding: str | None  # utf-8 utf-8-sig utf-16-le utf-16-be cp1252 latin-1, None = binary
    bom: bool
    newline: str | None  # CRLF | LF | CR | mixed | None (single line)
    header: tuple[str, ...]  # as received, in received order (empty when no header row)
    blank_rows: tuple[int, ...] = ()  # 1-based data row numbers of empty lines
    too_wide: bool = False  # more columns than Limits.max_columns: never parsed
    bad_bytes: tuple[BadBytes, ...] = ()  # of a UTF-8 file, read as Windows-1252 (the first 100)

    @property
    def parsable(self) -> bool:
        """A spec file whose rows are read: text, with a header, not too wide."""
        return bool(self.spec_name and self.encoding and self.header and not self.too_wide)


@dataclass(frozen=True)
class Bundle:
    """A bundle read from a folder or a zip: files, findings, and its identity."""

    source: str
    files: tuple[SourceFile, ...]
    findings: tuple[Finding, ...]
    sha256: str  # over the sorted (name, sha256) of every file: same files → same bundle
    newest_mtime: datetime | None

    def spec_file(self, name: str) -> SourceFile | None:
        """The received file Clever would read as ``name`` (e.g. ``students.csv``)."""
        for f in self.files:
            if f.spec_name == name:
                return f
        return None
