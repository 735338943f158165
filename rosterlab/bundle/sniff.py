"""Sniff one received file: hash, encoding, BOM, newline style, header row and blank lines.

Everything is streamed in large chunks and counted with C-level ``bytes`` methods, so a
multi-gigabyte file never goes through Python line by line. Text that is not UTF-8 (or carries a
BOM) is transcoded once to a UTF-8 copy, the ``parse_path`` the store hands to DuckDB.

Blank lines and record terminators need to know which line breaks sit inside quoted values. A
line break is inside quotes exactly when an odd number of ``"`` precede it (an escaped ``""`` adds
two), so when the cheap counts show a possible blank line, or mixed newlines in a file that has
quotes, one more pass splits the text into lines with polars and finds record starts from the
running quote parity, set-based.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import polars as pl

CHUNK = 16 * 1024 * 1024
HEAD_LIMIT = 1024 * 1024  # the header row is read from at most this many leading bytes
PROBE = 4096  # leading bytes that decide between a BOM, UTF-16 without one, and the rest
BINARY = "binary"  # the encoding-not-utf8 value for a file that is not text at all

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Byte pairs that can only occur around an empty line (LF, CRLF or CR files).
_BLANK_PATTERNS = (b"\n\n", b"\n\r\n", b"\r\r")


@dataclass(frozen=True)
class Sniffed:
    """What sniffing one file found (see :class:`rosterlab.bundle.model.SourceFile`)."""

    sha256: str
    size: int
    parse_path: Path
    encoding: str | None
    bom: bool
    newline: str | None
    header: tuple[str, ...]
    blank_rows: tuple[int, ...]


class _Counts:
    """Newline, quote and blank-line evidence over UTF-8 bytes, fed chunk by chunk."""

    def __init__(self) -> None:
        self.crlf = self.lf = self.cr = self.quotes = 0
        self.maybe_blank = False
        self.head = b""
        self._head_done = False
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        if not self._head_done:
            self.head += chunk[: HEAD_LIMIT - len(self.head)]
            self._head_done = len(self.head) >= HEAD_LIMIT or bool(re.search(rb"[\r\n]", self.head))
        # Each count is a full pass over the chunk: skip the CR passes when there is no CR
        # (most files), which halves the sniffing time of a large LF file.
        cr = chunk.count(b"\r")
        split_crlf = self._tail.endswith(b"\r") and chunk.startswith(b"\n")
        self.crlf += (chunk.count(b"\r\n") if cr else 0) + split_crlf
        self.lf += chunk.count(b"\n")
        self.cr += cr
        self.quotes += chunk.count(b'"')
        if not self.maybe_blank:
            seam = self._tail + chunk[:2]
            patterns = _BLANK_PATTERNS if cr or b"\r" in seam else _BLANK_PATTERNS[:1]
            self.maybe_blank = any(p in chunk or p in seam for p in patterns)
        self._tail = (self._tail + chunk)[-2:]

    def newline_kinds(self) -> dict[str, int]:
        """Line breaks by style, all of them (also those inside quoted values)."""
        counts = {"CRLF": self.crlf, "LF": self.lf - self.crlf, "CR": self.cr - self.crlf}
        return {kind: n for kind, n in counts.items() if n}


def sniff(
    path: Path, utf8_path: Path, stream: IO[bytes] | None = None, *, chunk: int = CHUNK
) -> Sniffed:
    """Sniff the file at ``path``; with ``stream``, first copy the stream's bytes to ``path``.

    ``utf8_path`` is where a UTF-8 copy is written when the file needs transcoding; otherwise
    ``parse_path`` is ``path`` itself.
    """
    digest = hashlib.sha256()
    size = 0
    valid_utf8 = True
    nul = False
    decoder = codecs.getincrementaldecoder("utf-8")()
    counts = _Counts()
    with path.open("wb" if stream else "rb") as fh:
        source: IO[bytes] = stream or fh
        probe = source.read(PROBE)
        kind = _bom_kind(probe)  # then the UTF-16 byte pattern; None = try UTF-8
        bom = kind is not None
        kind = kind or _utf16_kind(probe)
        pieces = (probe[i : i + chunk] for i in range(0, len(probe), chunk))
        for block in itertools.chain(pieces, iter(lambda: source.read(chunk), b"")):
            if stream:
                fh.write(block)
            digest.update(block)
            size += len(block)
            nul = nul or b"\x00" in block
            if valid_utf8 and kind in (None, "utf-8-sig"):
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    valid_utf8 = False
                else:
                    if kind is None:
                        counts.feed(block)
    if valid_utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            valid_utf8 = False

    encoding, transcoded = _decide(path, utf8_path, kind, bom, valid_utf8, nul, chunk)
    if encoding is None:
        return Sniffed(digest.hexdigest(), size, path, None, False, None, (), ())
    if transcoded is not None:
        counts = transcoded
    parse_path = path if encoding == "utf-8" else utf8_path
    header = _header(counts.head)
    kinds = counts.newline_kinds()
    blank_rows: tuple[int, ...] = ()
    if header and (counts.maybe_blank or (len(kinds) > 1 and counts.quotes)):
        separator = "\n" if counts.lf else "\r"
        blank_rows, kinds = _scan_records(parse_path, separator, chunk)
    newline = None if not kinds else next(iter(kinds)) if len(kinds) == 1 else "mixed"
    return Sniffed(digest.hexdigest(), size, parse_path, encoding, bom, newline, header, blank_rows)


def _bom_kind(block: bytes) -> str | None:
    return next((kind for mark, kind in _BOMS if block.startswith(mark)), None)


def _utf16_kind(probe: bytes) -> str | None:
    """UTF-16 without a BOM: mostly-ASCII text has a NUL in every other byte."""
    half = len(probe) // 2
    if half < 2:
        return None
    even, odd = probe[0::2].count(0), probe[1::2].count(0)
    if odd > 0.4 * half and even < 0.05 * half:
        return "utf-16-le"
    if even > 0.4 * half and odd < 0.05 * half:
        return "utf-16-be"
    return None


def _decide(
    path: Path,
    utf8_path: Path,
    kind: str | None,
    bom: bool,
    valid_utf8: bool,
    nul: bool,
    chunk: int,
) -> tuple[str | None, _Counts | None]:
    """The file's encoding, and the counts over its UTF-8 copy when one had to be written."""
    if kind is None and valid_utf8:
        return "utf-8", None
    if kind in ("utf-16-le", "utf-16-be"):
        counts = _transcode(path, utf8_path, kind, 2 if bom else 0, chunk)
        return (kind, counts) if counts else (None, None)
    skip = len(codecs.BOM_UTF8) if bom else 0
    if kind == "utf-8-sig" and valid_utf8:
        return "utf-8-sig", _transcode(path, utf8_path, "utf-8", skip, chunk)
    if nul:
        return None, None
    counts = _transcode(path, utf8_path, "cp1252", skip, chunk)
    if counts:
        return "cp1252", counts
    # Bytes cp1252 leaves undefined (0x81, 0x8D, ...): latin-1 decodes every byte.
    return "latin-1", _transcode(path, utf8_path, "latin-1", skip, chunk)


def _transcode(path: Path, utf8_path: Path, codec: str, skip: int, chunk: int) -> _Counts | None:
    """Write ``path`` decoded as ``codec`` to ``utf8_path`` as UTF-8; None if it does not decode."""
    decoder = codecs.getincrementaldecoder(codec)()
    counts = _Counts()
    utf8_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("rb") as src, utf8_path.open("wb") as out:
            src.seek(skip)
            while True:
                block = src.read(chunk)
                data = decoder.decode(block, final=not block).encode("utf-8")
                out.write(data)
                counts.feed(data)
                if not block:
                    break
    except UnicodeDecodeError:
        utf8_path.unlink()
        return None
    return counts


def _header(head: bytes) -> tuple[str, ...]:
    """The first line as CSV cells; () when the file is empty or starts with an empty line."""
    line = re.split(rb"[\r\n]", head, maxsplit=1)[0]
    text = line.decode("utf-8", errors="replace")  # HEAD_LIMIT may cut a character in two
    if not text:
        return ()
    try:
        return tuple(next(csv.reader([text])))
    except csv.Error:  # a cell past csv's field size limit: keep the plain comma split
        return tuple(text.split(","))


def _scan_records(path: Path, separator: str, chunk: int) -> tuple[tuple[int, ...], dict[str, int]]:
    """Blank data rows and record terminators by style, telling quoted line breaks apart.

    A data row is a record after the header; an empty line counts as one, so row N is line N+1
    of the file when no value holds a line break.
    """
    sep = separator.encode()
    blank: list[pl.Series] = []
    crlf = plain = 0
    quotes = records = 0  # quotes and record starts before the current block
    rest = b""
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            data = rest + block
            cut = data.rfind(sep) + 1
            body, rest = data[:cut], data[cut:]
            if not body:
                continue
            # Only terminated lines matter: an unterminated last line is neither blank nor a
            # terminator, so ``rest`` left at the end is never scanned.
            lines = pl.Series("line", [body.decode("utf-8")]).str.split(separator).explode()
            frame = (
                pl.DataFrame(lines.head(-1))
                .with_columns(q=pl.col("line").str.count_matches('"', literal=True))
                .with_columns(after=pl.col("q").cum_sum() + quotes)
                .with_columns(
                    start=(pl.col("after") - pl.col("q")) % 2 == 0,
                    end=pl.col("after") % 2 == 0,
                )
                .with_columns(record=pl.col("start").cast(pl.Int64).cum_sum() + records)
            )
            empty = pl.col("line").is_in(["", "\r"])
            blank.append(frame.filter(pl.col("start") & empty)["record"] - 1)
            ends = frame.filter(pl.col("end"))["line"]
            with_cr = int(ends.str.ends_with("\r").sum()) if separator == "\n" else 0
            crlf += with_cr
            plain += len(ends) - with_cr
            quotes = int(frame["after"][-1])
            records = int(frame["record"][-1])
    rows = tuple(pl.concat(blank).to_list()) if blank else ()
    kinds = {"CRLF": crlf, "LF" if separator == "\n" else "CR": plain}
    return rows, {kind: n for kind, n in kinds.items() if n}
