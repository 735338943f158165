"""Sniff one received file: hash, encoding, BOM, newline style, header row and blank lines.

Everything is streamed in large chunks and counted with C-level ``bytes`` methods, so a
multi-gigabyte file never goes through Python line by line. Text that is not UTF-8 (or carries a
BOM) is transcoded once to a UTF-8 copy, the ``parse_path`` the store hands to DuckDB.

Blank lines and record terminators need to know which line breaks sit inside quoted values. A
line break is inside quotes exactly when an odd number of ``"`` precede it (an escaped ``""`` adds
two), so when the cheap counts show a possible blank line, or mixed newlines in a file that has
quotes, one more pass splits the text into lines with polars and finds record starts from the
running quote parity, set-based.

A file whose line breaks come in more than one style (an exporter appending CRLF rows to an LF
file, a stray CR) is rewritten once more for the parser with every record terminator as LF —
line breaks inside quoted values are kept — because DuckDB's strict CSV parser gives up on a file
whose terminators are mixed. A header whose quoted names hold line breaks is written once more
with those breaks as spaces (DuckDB would take the file's line break style from them).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import polars as pl

CHUNK = 16 * 1024 * 1024
HEAD_LIMIT = 1024 * 1024  # the header row is read from at most this many leading bytes
PROBE = 4096  # leading bytes that decide between a BOM, UTF-16 without one, and the rest
LINE_LIMIT = 2_000_000  # DuckDB's max_line_size: a longer line is a malformed row
TOO_LONG = 0  # surplus_rows' field count for a line over LINE_LIMIT
BAD_BYTE_PLACES = 100  # bad bytes of a mostly-UTF-8 file reported by place
_ESCAPED = re.compile("[\udc80-\udcff]+")  # bytes the surrogateescape handler kept
_CP1252_UNDEFINED = frozenset((0x81, 0x8D, 0x8F, 0x90, 0x9D))

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Byte pairs that can only occur around an empty line (LF, CRLF or CR files).
_BLANK_PATTERNS = (b"\n\n", b"\n\r\n", b"\r\r")
# As DuckDB's parser reads a record: a quote opens a value only at the start of a field (a quote
# inside an unquoted value is a character), and "" inside a quoted value is one quote. group 1:
# the closing quote ('' when the value runs past the end of the text); group 2: a line break.
_RECORD_TOKENS = re.compile(rb'(?<![^,\r\n])"(?:[^"]|"")*("|\Z)|(\r\n|\r|\n)')
_QUOTED_REST = re.compile(rb'(?:[^"]|"")*("|\Z)')
_TERMINATORS = {b"\r\n": "CRLF", b"\n": "LF", b"\r": "CR"}


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
    bad_bytes: tuple[BadBytes, ...] = ()


@dataclass(frozen=True)
class BadBytes:
    """Bytes that are not UTF-8 in a UTF-8 file: where (1-based line, 0-based field), and what."""

    line: int
    field: int | None  # None when the line is too long to tell
    raw: bytes
    text: str  # as read: the bytes decoded as Windows-1252


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
            self._head_done = len(self.head) >= HEAD_LIMIT or _record_ended(self.head)
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
    nul = False
    decoder = codecs.getincrementaldecoder("utf-8")()
    counts = _Counts()
    with path.open("wb" if stream else "rb") as fh:
        source: IO[bytes] = stream or fh
        probe = source.read(PROBE)
        kind = _bom_kind(probe)  # then the UTF-16 byte pattern; None = try UTF-8
        bom = kind is not None
        kind = kind or _utf16_kind(probe)
        # Mostly NUL bytes (and not UTF-16): a disk image or a zeroed file, not text.
        valid_utf8 = kind is not None or probe.count(0) * 2 <= len(probe)
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

    bad: tuple[BadBytes, ...] = ()
    repaired = None
    if kind in (None, "utf-8-sig") and not valid_utf8 and not nul:
        repaired = _repair_utf8(path, utf8_path, len(codecs.BOM_UTF8) if bom else 0, chunk)
    encoding: str | None
    transcoded: _Counts | None
    if repaired is not None:
        encoding, (transcoded, bad) = kind or "utf-8", repaired
    else:
        encoding, transcoded = _decide(path, utf8_path, kind, bom, valid_utf8, nul, chunk)
    if encoding is None:
        return Sniffed(digest.hexdigest(), size, path, None, False, None, (), ())
    if transcoded is not None:
        counts = transcoded
    parse_path = path if encoding == "utf-8" and not repaired else utf8_path
    header = _header(counts.head)
    kinds = counts.newline_kinds()
    blank_rows: tuple[int, ...] = ()
    if header and len(kinds) > 1:
        kinds, unified = _unify_terminators(parse_path, utf8_path, chunk)
        if unified:
            parse_path = utf8_path
            blank_rows = _scan_records(parse_path, "\n", chunk)[0]
        elif counts.maybe_blank:  # one terminator style; other breaks sit inside quotes
            blank_rows = _scan_records(parse_path, "\r" if "CR" in kinds else "\n", chunk)[0]
    elif header and counts.maybe_blank:
        separator = "\n" if counts.lf else "\r"
        blank_rows, kinds = _scan_records(parse_path, separator, chunk)
    newline = None if not kinds else next(iter(kinds)) if len(kinds) == 1 else "mixed"
    if any("\r" in name or "\n" in name for name in header):
        _flatten_header(parse_path, utf8_path, chunk)
        parse_path = utf8_path
    return Sniffed(
        digest.hexdigest(), size, parse_path, encoding, bom, newline, header, blank_rows, bad
    )


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


def _repair_utf8(
    path: Path, utf8_path: Path, skip: int, chunk: int
) -> tuple[_Counts, tuple[BadBytes, ...]] | None:
    """A UTF-8 file but for a few bytes: write it to ``utf8_path`` with each bad byte read as
    Windows-1252 (Latin-1 for the five bytes it leaves undefined), good text untouched.

    None when the file is not mostly UTF-8: as many bad bytes as bytes continuing a valid
    multi-byte character (a Windows-1252 file has bad bytes and hardly any of those).
    """
    bad = good = 0
    decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    with path.open("rb") as src:
        src.seek(skip)
        while True:
            block = src.read(chunk)
            text = decoder.decode(block, final=not block)
            bad += sum(len(run) for run in _ESCAPED.findall(text))
            good += len(block) - len(text) if block else 0
            if not block:
                break
    if bad > good:
        return None
    decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    counts = _Counts()
    places: list[BadBytes] = []
    utf8_path.parent.mkdir(parents=True, exist_ok=True)
    lines = 1
    partial = ""  # the current line up to this block (for the field a bad byte sits in)
    with path.open("rb") as src, utf8_path.open("wb") as out:
        src.seek(skip)
        while True:
            block = src.read(chunk)
            text = decoder.decode(block, final=not block)
            for match in _ESCAPED.finditer(text) if len(places) < BAD_BYTE_PLACES else ():
                start = text.rfind("\n", 0, match.start()) + 1
                line = lines + text.count("\n", 0, match.start())
                prefix = (partial if start == 0 else "") + text[start : match.start()]
                places.append(BadBytes(line, _field_index(prefix), *_as_cp1252(match.group())))
                if len(places) == BAD_BYTE_PLACES:
                    break
            data = _ESCAPED.sub(lambda m: _as_cp1252(m.group())[1], text).encode("utf-8")
            out.write(data)
            counts.feed(data)
            lines += text.count("\n")
            last = text.rfind("\n")
            partial = text[last + 1 :] if last >= 0 else partial + text
            partial = partial if len(partial) <= LINE_LIMIT else partial[:LINE_LIMIT]
            if not block:
                break
    return counts, tuple(places)


def _as_cp1252(escaped: str) -> tuple[bytes, str]:
    """The raw bytes behind surrogate escapes, and their Windows-1252 (else Latin-1) reading."""
    raw = bytes(ord(ch) - 0xDC00 for ch in escaped)
    text = "".join(
        bytes([b]).decode("cp1252") if b not in _CP1252_UNDEFINED else chr(b) for b in raw
    )
    return raw, text


def _field_index(prefix: str) -> int | None:
    """The 0-based field a position sits in, from its line up to it (None: line too long)."""
    if len(prefix) >= LINE_LIMIT:
        return None
    try:
        return len(next(csv.reader([prefix]))) - 1 if prefix else 0
    except csv.Error:  # a quote left open, past csv's field size limit
        return prefix.count(",")


def _record_ended(head: bytes) -> bool:
    """True once ``head`` holds a line break outside quotes: the header record is complete."""
    return any(
        head.count(b'"', 0, match.start()) % 2 == 0 for match in re.finditer(rb"[\r\n]", head)
    )


def _header(head: bytes) -> tuple[str, ...]:
    """The first record as CSV cells; () when the file is empty or starts with an empty line.

    A quoted header cell may hold a line break, as the parser reads it (the record, not the line).
    """
    text = head.decode("utf-8", errors="replace")  # HEAD_LIMIT may cut a character in two
    if not text or text[0] in "\r\n":
        return ()
    try:
        return tuple(next(csv.reader(io.StringIO(text, newline=""))))
    except csv.Error:  # a cell past csv's field size limit: keep the plain comma split
        return tuple(re.split(r"[\r\n]", text, maxsplit=1)[0].split(","))


def _flatten_header(path: Path, flat_path: Path, chunk: int) -> None:
    """Write ``path`` to ``flat_path`` (it may be ``path`` itself) with the line breaks inside
    the header's quoted names as spaces, the rest byte for byte.

    DuckDB takes a file's line break style from its first break, even one inside a quoted header
    name: a header ``"ext.house<CRLF>note"`` over LF rows (or LF inside a CRLF file) then parses
    to no rows at all, without a reject. The names are read from the header as sniffed (with
    their breaks), so the parser only needs the header to be one line.
    """
    scratch = flat_path.with_name(flat_path.name + ".flat")
    scratch.parent.mkdir(parents=True, exist_ok=True)
    with path.open("rb") as src, scratch.open("wb") as out:
        head = src.read(HEAD_LIMIT)
        end = next(
            (
                match.start()
                for match in re.finditer(rb"[\r\n]", head)
                if head.count(b'"', 0, match.start()) % 2 == 0
            ),
            len(head),
        )
        out.write(head[:end].replace(b"\r", b" ").replace(b"\n", b" ") + head[end:])
        while block := src.read(chunk):
            out.write(block)
    os.replace(scratch, flat_path)


def _unify_terminators(path: Path, unified_path: Path, chunk: int) -> tuple[dict[str, int], bool]:
    """Record terminators by style, read as the parser reads records; rewrite them as LF if mixed.

    Returns the styles and whether ``unified_path`` now holds the rewritten text (it may be
    ``path`` itself, a transcoded copy). Line breaks inside quoted values stay as they are.
    """
    kinds = dict.fromkeys(_TERMINATORS.values(), 0)
    scratch = unified_path.with_name(unified_path.name + ".unified")
    scratch.parent.mkdir(parents=True, exist_ok=True)
    inside = False
    previous = b"\n"  # the text starts at a record start
    carry = b""
    with path.open("rb") as src, scratch.open("wb") as out:
        while True:
            block = src.read(chunk)
            data = carry + block
            # Trailing quotes may be half of "", a trailing CR half of CRLF: decide next time.
            cut = len(data.rstrip(b'"')) if block else len(data)
            if block and cut == len(data) and data.endswith(b"\r"):
                cut -= 1
            data, carry = data[:cut], data[cut:]
            if data:
                text, inside = _unify_block(previous + data, inside, kinds)
                out.write(text)
                previous = data[-1:]
            if not block:
                break
    found = {kind: n for kind, n in kinds.items() if n}
    if len(found) > 1:
        os.replace(scratch, unified_path)
        return found, True
    scratch.unlink()
    return found, False


def _unify_block(text: bytes, inside: bool, kinds: dict[str, int]) -> tuple[bytes, bool]:
    """``text[1:]`` with line breaks outside quotes as LF (``text[0]`` is the byte before it)."""
    parts = []
    position = 1
    if inside:
        rest = _QUOTED_REST.match(text, 1)
        assert rest is not None  # the pattern matches the empty string
        position, inside = rest.end(), not rest.group(1)
    start = 1
    while not inside:
        token = _RECORD_TOKENS.search(text, position)
        if token is None:
            break
        position = token.end()
        if token.group(2) is None:
            inside = not token.group(1)
            continue
        kinds[_TERMINATORS[token.group(2)]] += 1
        if token.group(2) != b"\n":
            parts.append(text[start : token.start()])
            parts.append(b"\n")
            start = position
    parts.append(text[start:])
    return b"".join(parts), inside


def _scan_records(path: Path, separator: str, chunk: int) -> tuple[tuple[int, ...], dict[str, int]]:
    """Blank data rows and record terminators by style, telling quoted line breaks apart.

    A data row is a record after the header; an empty line counts as one, so row N is line N+1
    of the file when no value holds a line break.
    """
    sep = separator.encode()
    blank: list[pl.Series] = []
    crlf = plain = 0
    quotes = records = 0  # quotes and record starts before the current block
    with path.open("rb") as fh:
        for body in _line_blocks(fh, sep, chunk):
            if body is None:  # a line too long for the parser: one record, its quotes unknown
                records += 1
                continue
            # Only terminated lines matter: an unterminated last line is neither blank nor a
            # terminator.
            body = body[: body.rfind(sep) + 1]
            if not body:
                continue
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


# As the parser reads a line (see _RECORD_TOKENS): a whole quoted field, one left open at the end
# of the line, and the rest of a quoted field a line starts inside of (up to its closing quote).
_COMMA = ord(",")
_QUOTED_FIELD = r'(^|,)"(?:[^"]|"")*"'
_OPEN_FIELD = r'(^|,)".*$'
_CLOSING = r'^(?:[^"]|"")*"'


def surplus_rows(
    path: Path,
    newline: str | None,
    fields: int,
    chunk: int = CHUNK,
    breaks: dict[int, int] | None = None,
) -> list[tuple[int, int]]:
    """(data row, fields) of the records with more than ``fields`` fields, as DuckDB splits them;
    fields is ``TOO_LONG`` for a line longer than ``LINE_LIMIT`` (never buffered whole).
    ``breaks``, when given, is filled with data row → line breaks inside its quoted values
    (row 0 is the header): what places a row on the line an editor shows (``spec.lines``).

    DuckDB's strict parser silently drops *empty* surplus fields at the end of a row, so an
    unquoted comma in a row whose last columns are empty would shift its values one column to
    the right unnoticed. This set-based pass (polars, per line) counts the fields of every record:
    commas outside quoted fields, following the quote state from line to line.
    """
    separator = "\r" if newline == "CR" else "\n"
    sep = separator.encode()
    found: list[tuple[int, int]] = []
    state = 0  # 1 when the next line starts inside a quoted value
    records = 0  # records (header included) that started before the next line
    pending = 0  # commas of a record still open at the end of the previous block
    with path.open("rb") as fh:
        for body in _line_blocks(fh, sep, chunk):
            if body is None:  # a line too long for the parser: one record, reported as such
                if state == 0 and records:
                    found.append((records, TOO_LONG))
                records, state, pending = records + (state == 0), 0, 0
            elif state == 0 and b'"' not in body:
                records, pending = _surplus_plain_block(body, sep, records, fields, found), 0
            else:
                lines = pl.Series("line", [body.decode("utf-8")]).str.split(separator).explode()
                if body.endswith(sep):
                    lines = lines.head(-1)
                state, records, pending = _surplus_block(
                    lines, state, records, pending, fields, found, breaks
                )
    return found


def _add_breaks(frame: pl.DataFrame, breaks: dict[int, int]) -> None:
    """Add to ``breaks`` the lines of ``frame`` that continue a record (they start inside a
    quoted value), per data row; a record may continue from the previous block."""
    continuing = frame.filter(pl.col("start") == 1)
    if continuing.is_empty():
        return
    per_row = continuing.group_by("record").len()
    for record, extra in per_row.iter_rows():
        breaks[record - 1] = breaks.get(record - 1, 0) + extra


def _line_blocks(fh: IO[bytes], sep: bytes, chunk: int) -> Iterator[bytes | None]:
    """The file in blocks of whole lines (the last one may lack its line break).

    A line longer than the parser's ``LINE_LIMIT`` is skipped — None stands for it — so no
    buffer grows past ``LINE_LIMIT + chunk``, whatever the file (gigabytes without a newline).
    """
    rest = b""
    while True:
        block = fh.read(chunk)
        data = rest + block
        cut = data.rfind(sep) + 1 if block else len(data)
        body, rest = data[:cut], data[cut:]
        if body:
            yield body
        if not block:
            return
        if len(rest) > LINE_LIMIT:
            yield None
            while (end := (block := fh.read(chunk)).find(sep)) < 0:
                if not block:
                    return
            rest = block[end + 1 :]


def _surplus_plain_block(
    body: bytes, sep: bytes, records: int, fields: int, found: list[tuple[int, int]]
) -> int:
    """The common case, a block with no quote that starts a record: one line, one record.

    Commas are summed per line with its line break (numpy, on the bytes: in UTF-8 a comma or
    line-break byte is never part of another character), so no line is empty and the sums are
    exact. Returns the records seen so far.
    """
    data = np.frombuffer(body, dtype=np.uint8)
    ends = np.flatnonzero(data == sep[0])
    if not body.endswith(sep):
        ends = np.append(ends, len(data))  # the file's last line, without a line break
    starts = np.concatenate(([0], ends[:-1] + 1))
    per_line = np.add.reduceat((data == _COMMA).view(np.uint8), starts, dtype=np.int64) + 1
    index = np.arange(records, records + len(ends))
    over = (per_line > fields) & (index > 0)  # record 0 is the header
    found += zip(index[over].tolist(), per_line[over].tolist(), strict=True)
    return records + len(ends)


def _surplus_block(
    lines: pl.Series,
    state: int,
    records: int,
    pending: int,
    fields: int,
    found: list[tuple[int, int]],
    breaks: dict[int, int] | None = None,
) -> tuple[int, int, int]:
    """Count the fields of the records in ``lines``; append the rows over ``fields`` (and add
    each record's lines after its first to ``breaks``).

    Only lines holding a quote need the quote patterns; a line without one keeps the quote state
    and its commas count only outside quotes.
    """
    frame = pl.DataFrame(lines).with_row_index("i")
    frame = frame.with_columns(
        c0=pl.col("line").str.count_matches(",", literal=True),
        quoted=pl.col("line").str.contains('"', literal=True),
    )
    line = pl.col("line")
    outside = line.str.replace_all(_QUOTED_FIELD, "$1")
    closed = line.str.replace(_CLOSING, "").str.replace_all(_QUOTED_FIELD, "$1")
    patterns = frame.filter(pl.col("quoted")).select(
        "i",
        g0=outside.str.contains(_OPEN_FIELD),
        c0=outside.str.replace(_OPEN_FIELD, "$1").str.count_matches(",", literal=True),
        closes=line.str.contains(_CLOSING),
        g1=~line.str.contains(_CLOSING) | closed.str.contains(_OPEN_FIELD),
        c1=closed.str.replace(_OPEN_FIELD, "$1").str.count_matches(",", literal=True),
    )
    frame = (
        frame.join(patterns, on="i", how="left", suffix="_q")
        .with_columns(
            g0=pl.col("g0").fill_null(False),
            g1=pl.col("g1").fill_null(True),
            c0=pl.coalesce("c0_q", "c0"),
            c1=pl.col("c1").fill_null(0),
            closes=pl.col("closes").fill_null(False),
        )
        # The quote state after each line: a line maps the state before it to a constant, to
        # itself or to its opposite; compose the maps with running counts.
        .with_columns(
            const=pl.when(pl.col("g0") == pl.col("g1")).then(pl.col("g0").cast(pl.Int64)),
            flips=(pl.col("g0") & ~pl.col("g1")).cast(pl.Int64).cum_sum(),
        )
        .with_columns(
            end=(
                pl.col("const").forward_fill().fill_null(state)
                + pl.col("flips")
                - pl.when(pl.col("const").is_not_null())
                .then(pl.col("flips"))
                .forward_fill()
                .fill_null(0)
            )
            % 2
        )
        .with_columns(start=pl.col("end").shift(1, fill_value=state))
        .with_columns(
            commas=pl.when(pl.col("start") == 0)
            .then(pl.col("c0"))
            .when(pl.col("closes"))
            .then(pl.col("c1"))
            .otherwise(0),
            record=(pl.col("start") == 0).cast(pl.Int64).cum_sum() + records,
        )
        # A record's commas: the running sum at its last line less the sum before its first.
        .with_columns(total=pl.col("commas").cum_sum() + pending)
        .with_columns(
            before=pl.when(pl.col("start") == 0)
            .then(pl.col("total") - pl.col("commas"))
            .forward_fill()
            .fill_null(0),
            last=pl.col("start").shift(-1, fill_value=pl.col("end").last()) == 0,
        )
    )
    over = frame.filter(
        pl.col("last")
        & (pl.col("total") - pl.col("before") + 1 > fields)
        & (pl.col("record") > 1)
        & ~((pl.col("start") == 0) & pl.col("line").is_in(["", "\r"]))
    )
    counted = over["total"] - over["before"] + 1
    found += zip((over["record"] - 1).to_list(), counted.to_list(), strict=True)
    if breaks is not None:
        _add_breaks(frame, breaks)
    end = int(frame["end"][-1])
    carried = int(frame["total"][-1] - frame["before"][-1]) if end else 0
    return end, int(frame["record"][-1]), carried
