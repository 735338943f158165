"""Staging: a snapshot's spec files parsed into ``staged_<file>`` views, and the SQL over them.

Every received file is parsed by DuckDB ``read_csv`` with every value TEXT and positional columns
``c0..cN`` (:func:`positional`), so any header — duplicated, blank or hostile — is safe. Its view
``staged_<file>`` adds ``_row``, the data row number in the file; malformed and blank rows are
left out (and reported as findings). :class:`ColumnMap` says where each received column landed:
use ``StagedFile.columns.value(name)`` for a spec column's SQL, never a hand-written ``c…``.
Ingest stages a bundle before merging it; checks, fixes and the UI stage a stored snapshot with
:func:`stage_snapshot`.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO

from rosterlab import spec
from rosterlab.bundle import open_bundle
from rosterlab.bundle.model import Bundle, SourceFile
from rosterlab.bundle.sniff import LINE_LIMIT, TOO_LONG, surplus_rows
from rosterlab.errors import StoreError, disk_full
from rosterlab.spec import Finding, finding
from rosterlab.store.sql import quote_ident, white_space_blank_sql

if TYPE_CHECKING:  # store.py stages for Store.received_rows
    from rosterlab.store.store import Store


def positional(index: int) -> str:
    """The staging column holding the ``index``-th (0-based) received column."""
    return f"c{index}"


def staging_table(file_name: str) -> str:
    """The temporary staging table of a spec file (``students.csv`` → ``staged_students``)."""
    return "staged_" + spec.FILES[file_name].stem


@dataclass(frozen=True)
class ColumnMap:
    """Where each column of a received header lands: spec columns by their spec name (matched
    case-insensitively, as Clever does: ``SCHOOL_ID`` is School_id), the rest in ``extra``."""

    spec_positions: dict[str, int]  # spec column → first received position
    extra_positions: dict[str, int]  # other received column (ext.* and unknown) → first position

    @classmethod
    def of(cls, file_name: str, header: Sequence[str]) -> ColumnMap:
        spec_positions: dict[str, int] = {}
        extra_positions: dict[str, int] = {}
        for position, name in enumerate(header):
            column = spec.spec_column(file_name, name)
            if column is None:
                extra_positions.setdefault(name, position)
            else:  # a repeat, in any case, is a duplicate-column finding: the first one counts
                spec_positions.setdefault(column, position)
        return cls(spec_positions, extra_positions)

    def value(self, column: str) -> str:
        """SQL for a spec column's value in staging (absent column: NULL).

        The parser already reads an empty field, quoted or not, as NULL, so '' and NULL are one.
        """
        if column in self.spec_positions:
            return positional(self.spec_positions[column])
        return "NULL::VARCHAR"

    def received(self, name: str) -> str:
        """SQL for any received column by name — a spec column or an extra one (absent: NULL)."""
        positions = self.received_positions()
        return positional(positions[name]) if name in positions else "NULL::VARCHAR"

    def received_positions(self) -> dict[str, int]:
        """Every received column (spec columns by their spec name) → first position, in order."""
        merged = {**self.spec_positions, **self.extra_positions}
        return dict(sorted(merged.items(), key=lambda item: item[1]))

    def extra_names(self) -> list[str]:
        return list(self.extra_positions)

    def extra_values(self) -> list[str]:
        """SQL for the extra columns' values, in received order."""
        return [positional(p) for p in self.extra_positions.values()]

    def extra_map(self) -> str:
        """SQL for the ``extra`` map; binds the list of names (when there are extra columns)."""
        if not self.extra_positions:
            return "NULL::MAP(VARCHAR, VARCHAR)"
        values = ", ".join(self.extra_values())
        return f"MAP(?::VARCHAR[], [{values}])"

    def extra_hash_inputs(self) -> str:
        """Hash inputs for the extra columns; binds the names joined into one string.

        Hashing the names once plus the plain value columns is far cheaper than hashing a map
        built per row, and still changes when a column is renamed.
        """
        values = ", ".join(self.extra_values())
        return f", ?::VARCHAR, {values}" if self.extra_positions else ""


def key_sql(entity: spec.Entity, columns: ColumnMap) -> str:
    """The entity's key as text, composite parts joined with '/'."""
    if entity.within is not None:
        return (
            f"concat_ws('{spec.KEY_SEPARATOR}', coalesce({columns.value(entity.within)}, ''), "
            f"{contact_identity_sql(columns)})"
        )
    parts = [f"coalesce({columns.value(k)}, '')" for k in entity.key]
    if len(parts) == 1:
        return parts[0]
    return f"concat_ws('{spec.KEY_SEPARATOR}', {', '.join(parts)})"


def contact_identity_sql(columns: ColumnMap) -> str:
    """A contact's identity: Contact_sis_id when present, else the first natural key filled."""
    branches = []
    for combo in spec.CONTACT_IDENTITY:
        filled = " AND ".join(f"{columns.value(c)} IS NOT NULL" for c in combo)
        label = "+".join(c.removeprefix("Contact_") for c in combo)
        joined = " || '|' || ".join(columns.value(c) for c in combo)
        branches.append(f"WHEN {filled} THEN '{label}:' || {joined}")
    fallback = " || '|' || ".join(
        f"coalesce({columns.value(c)}, '')" for c in spec.CONTACT_IDENTITY[-1]
    )
    return f"(CASE {' '.join(branches)} ELSE 'partial:' || {fallback} END)"


def _row_hash(entity: spec.Entity, columns: ColumnMap) -> tuple[str, list[Any]]:
    values = ", ".join(columns.value(c) for c in entity.columns)
    if entity.extensions and columns.extra_positions:
        joined = "\x1f".join(columns.extra_names())
        return f"hash({values}{columns.extra_hash_inputs()})", [joined]
    return f"hash({values})", []


def projection(entity: spec.Entity, columns: ColumnMap) -> tuple[str, list[Any]]:
    """SELECT list projecting staging onto an entity: _row, key, row_hash, columns, extra."""
    row_hash, params = _row_hash(entity, columns)
    with_extra = entity.extensions and bool(columns.extra_positions)
    select = ", ".join(
        [
            "_row",
            f"{key_sql(entity, columns)} AS key",
            f"{row_hash} AS row_hash",
            *(f"{columns.value(c)} AS {quote_ident(c)}" for c in entity.columns),
            f"{columns.extra_map() if with_extra else 'NULL::MAP(VARCHAR, VARCHAR)'} AS extra",
        ]
    )
    return select, params + ([columns.extra_names()] if with_extra else [])


def hash_projection(entity: spec.Entity, columns: ColumnMap) -> tuple[str, list[Any]]:
    """Just ``_row`` and ``row_hash`` (the same hash as :func:`projection`), for the merge."""
    row_hash, params = _row_hash(entity, columns)
    return f"_row, {row_hash} AS row_hash", params


def entity_filter(entity: spec.Entity, columns: ColumnMap) -> str:
    """Rows of the file that carry this entity (contacts: rows with any contact column filled).

    Filled means not blank as the checks read it (only white space is blank, v2.1.1: "a value
    of only spaces is blank"): SQL*Plus's ``SET COLSEP`` spool pads a student's empty contact
    columns with spaces, which is no contact.
    """
    if entity.within is None:
        return "TRUE"
    filled = (f"NOT {white_space_blank_sql(columns.value(c))}" for c in entity.own_columns)
    return "(" + " OR ".join(filled) + ")"


@dataclass(frozen=True)
class StagedFile:
    """A spec file of a snapshot, parsed: its staging view and where each column landed."""

    spec_name: str
    name: str
    view: str
    header: tuple[str, ...]
    columns: ColumnMap

    def received_columns(self) -> list[str]:
        """The staging columns of every received column, header order (duplicates included)."""
        return [positional(i) for i in range(len(self.header))]


def stage_snapshot(store: Store, snapshot_id: int) -> dict[str, StagedFile]:
    """Make ``staged_<file>`` views hold a snapshot's spec files, with data row numbers.

    Right after an ingest they already do (nothing is re-read); otherwise the raw files are
    parsed again — as the ingest recorded it (``file_staging``) when it read them as received,
    else read and sniffed again like a new bundle. Views have ``_row`` plus positional columns
    ``c0..cN`` in received order: use ``StagedFile.columns.value(name)`` for a spec column's SQL.
    """
    if store.staged_snapshot != snapshot_id:
        store.snapshot(snapshot_id)  # a clear error for an unknown id
        recorded = _recorded_staging(store, snapshot_id)
        try:
            with tempfile.TemporaryDirectory(prefix="rosterlab-stage-") as tmp:
                if recorded is not None:
                    _restage(store, recorded, Path(tmp))
                else:
                    folder = Path(tmp) / "bundle"
                    materialize(store, snapshot_id, folder)
                    with open_bundle(folder) as bundle:
                        stage_bundle(store, bundle)
        except OSError as exc:  # the raw files are unpacked into a temporary folder
            unchanged = (
                "the store keeps what it held before (TMPDIR may name a folder on a disk with "
                "space)"
            )
            copy = f"a temporary copy of snapshot {snapshot_id} in {tempfile.gettempdir()}"
            full = disk_full(exc, copy, unchanged)
            if full is not None:
                raise full from exc
            raise StoreError(
                f"cannot unpack snapshot {snapshot_id}'s files into a temporary folder "
                f"({exc.strerror or exc}): set TMPDIR to a folder you can write; {unchanged}"
            ) from exc
        store.staged_snapshot = snapshot_id
    staged = {}
    for name, spec_name, header in store.rows(
        "SELECT name, spec_name, header FROM snapshot_files WHERE snapshot_id = ? "
        "AND spec_name IS NOT NULL AND rows IS NOT NULL ORDER BY spec_name",
        [snapshot_id],
    ):
        staged[spec_name] = StagedFile(
            spec_name,
            name,
            staging_table(spec_name),
            tuple(header),
            ColumnMap.of(spec_name, header),
        )
    return staged


@dataclass(frozen=True)
class _Recorded:
    """A parsed spec file of a snapshot and how the ingest staged it."""

    spec_name: str
    sha256: str
    size: int
    width: int
    skipped: list[int]
    dropped: list[int]


def _recorded_staging(store: Store, snapshot_id: int) -> list[_Recorded] | None:
    """How the ingest staged each parsed spec file, when every one was read as received
    (None: one was transcoded or the snapshot predates ``file_staging``: sniff again)."""
    rows = store.rows(
        "SELECT f.spec_name, f.sha256, f.bytes, len(f.header), s.as_received, s.skipped, "
        "s.dropped "
        "FROM snapshot_files f LEFT JOIN file_staging s USING (snapshot_id, name) "
        "WHERE f.snapshot_id = ? AND f.spec_name IS NOT NULL AND f.rows IS NOT NULL "
        "ORDER BY f.bytes, f.spec_name",
        [snapshot_id],
    )
    if not all(as_received for *_, as_received, _, _ in rows):
        return None
    return [
        _Recorded(spec_name, sha256, size, width, skipped, dropped)
        for spec_name, sha256, size, width, _, skipped, dropped in rows
    ]


def _restage(store: Store, files: list[_Recorded], tmp: Path) -> None:
    """Stage files the ingest read as received: unpack each kept file and parse it as the
    ingest did, leaving out the rows it recorded (no sniffing, no counting of fields).

    Smallest first, each file is unpacked in a worker while DuckDB parses the one before (the
    decoder, the digest and the write release the GIL), so the largest file's unpacking hides
    behind the second largest's parse; the disk holds at most two of the files at a time.
    """
    clear_staging(store)

    def unpack(write: Callable[[BinaryIO], None], path: Path) -> Path:
        with path.open("wb") as stream:
            write(stream)
        return path

    with ThreadPoolExecutor(max_workers=1) as pool:
        unpacking: list[Future[Path]] = []
        for index, recorded in enumerate(files):
            # The blob is read here (the connection is this thread's); the worker only decodes.
            unpacking.append(
                pool.submit(unpack, store.raw_writer(recorded.sha256), tmp / f"{index}.csv")
            )
            if index:
                _restage_file(store, files[index - 1], unpacking[index - 1].result())
        if files:
            _restage_file(store, files[-1], unpacking[-1].result())


def _restage_file(store: Store, recorded: _Recorded, path: Path) -> None:
    parsed = _parse(store, path, recorded.spec_name, recorded.width)
    path.unlink()
    view = staging_table(recorded.spec_name)
    _create_staging_view(store, view, parsed, recorded.skipped, recorded.dropped)


def clear_staging(store: Store, *, shared: bool = True) -> None:
    """Drop every staging view (nothing is staged afterwards) and choose where the next staging
    goes: the store's staging catalog (:meth:`Store.staging_catalog`), which every connection of
    the store sees, unless ``shared`` is False or a transaction is open (then TEMP views).

    A TEMP object is found before the staging catalog's of the same name — a view's tables too:
    DuckDB keeps them as ``main.<table>`` —, so staging into the catalog drops the TEMP ones
    (a transaction cannot drop the catalog's: they are left, found only for a file tonight
    stages again, and replaced by the next staging there).
    """
    catalog = store.staging_catalog() if shared else None
    for file_name in spec.FILES:
        store.execute(f"DROP VIEW IF EXISTS temp.main.{staging_table(file_name)}")
        if catalog is not None:
            store.execute(f"DROP VIEW IF EXISTS {catalog}.main.{staging_table(file_name)}")
            parsed = parsed_table(file_name)
            for table in (parsed, f"_segments_{parsed}", f"_dropped_{parsed}"):
                store.execute(f"DROP TABLE IF EXISTS temp.main.{table}")
    store.staged_in = catalog
    store.staged_snapshot = None


def _staging_object(store: Store, name: str) -> str:
    """A staging table's or view's qualified name, in the catalog the staging goes to."""
    return f"{store.staged_in or 'temp'}.main.{name}"


def _create(store: Store, kind: str, name: str) -> str:
    """``CREATE OR REPLACE [TEMP] <kind> <name>`` in the catalog the staging goes to."""
    if store.staged_in is None:
        return f"CREATE OR REPLACE TEMP {kind} {name}"
    return f"CREATE OR REPLACE {kind} {_staging_object(store, name)}"


def stage_bundle(store: Store, bundle: Bundle) -> None:
    """Parse a bundle's spec files into staging without recording anything."""
    clear_staging(store)
    for source in bundle.files:
        if source.parsable:
            stage_file(store, source)


@dataclass(frozen=True)
class FileStaging:
    """How one received file was staged: its rows, its malformed rows as findings, and what a
    later re-stage needs to repeat it without sniffing or counting the file again."""

    rows: int
    findings: tuple[Finding, ...]
    as_received: bool  # the parser read the received bytes (no transcoding, one line break)
    skipped: tuple[int, ...]  # data rows the parser did not keep (malformed, blank), ascending
    dropped: tuple[int, ...]  # data rows it kept that are malformed all the same, ascending
    # (data row, line breaks inside its quoted values), ascending; row 0 is the header
    breaks: tuple[tuple[int, int], ...] = ()


def stage_file(store: Store, source: SourceFile) -> FileStaging:
    """Parse one file into staging: its row count, malformed rows, skipped and dropped rows."""
    assert source.spec_name is not None
    view = staging_table(source.spec_name)
    width = len(source.header)
    # DuckDB accepts a row whose surplus fields are all empty, dropping them: an unquoted
    # comma in a row ending with empty columns would shift its values unnoticed. Every
    # row's fields are counted beside the parse; such rows are malformed and leave staging
    # like rejected ones.
    breaks: dict[int, int] = {}
    with ThreadPoolExecutor(max_workers=1) as pool:
        counting = pool.submit(
            surplus_rows, source.parse_path, source.newline, width, breaks=breaks
        )
        parsed = _parse(store, source.parse_path, source.spec_name, width)
        surplus = dict(counting.result())
    # The parser read a header whose quoted names hold line breaks as one line (the sniff
    # flattened it); an editor shows the header on as many lines as the names hold.
    separator = "\r" if source.newline == "CR" else "\n"
    if header_breaks := sum(name.count(separator) for name in source.header):
        breaks[0] = header_breaks
    # DuckDB may reject a row once per surplus or missing field: one finding per row, the
    # reject naming the most fields found (too many) or the fewest (too few).
    rejects = store.rows(
        "SELECT line, error_type, error_message, csv_line FROM reject_errors QUALIFY "
        "row_number() OVER (PARTITION BY line ORDER BY CASE WHEN error_type = 'TOO MANY "
        "COLUMNS' THEN -column_idx::BIGINT ELSE column_idx END) = 1 ORDER BY line"
    )
    problems = {int(line) - 1: _reject_detail(kind, text) for line, kind, text, _ in rejects}
    printed = {
        int(line) - 1: (text.strip(), tool)
        for line, _, _, text in rejects
        if (tool := _query_tool_line(text or "")) is not None
    }
    for row, fields in surplus.items():
        if fields == TOO_LONG:  # DuckDB may skip a huge last line without a word
            problems.setdefault(
                row, _reject_detail("LINE SIZE OVER MAXIMUM", f"over {LINE_LIMIT:,} bytes")
            )
            continue
        problems[row] = _reject_detail(
            "TOO MANY COLUMNS", f"Expected Number of Columns: {width} Found: {fields}"
        )
    entity = spec.entity_of_file(source.spec_name)
    findings = [
        finding("malformed-row", entity=entity, row=row, file=source.name, detail=detail)
        if row not in printed
        else finding(
            "query-tool-line",
            entity=entity,
            row=row,
            value=printed[row][0],
            file=source.name,
            printed=printed[row][1][0],
            switch=printed[row][1][1],
        )
        for row, detail in sorted(problems.items())
    ]
    rejected = {int(line) - 1 for line, *_ in rejects}
    skipped = sorted(rejected | set(source.blank_rows))
    accepted_surplus = sorted(set(surplus) - rejected)
    _create_staging_view(store, view, parsed, skipped, accepted_surplus)
    rows = store.rows(f"SELECT count(*) FROM {view}")[0][0]
    return FileStaging(
        int(rows),
        tuple(findings),
        source.parse_path == source.path,
        tuple(skipped),
        tuple(accepted_surplus),
        tuple(sorted(breaks.items())),
    )


def parsed_table(spec_name: str) -> str:
    """The temporary table a spec file's rows are parsed into (``_parsed_students``)."""
    return "_parsed_" + spec.FILES[spec_name].stem


def stage_written(store: Store, source: SourceFile) -> FileStaging | None:
    """Stage a file from the table it was just written from, without parsing it back.

    Its :func:`parsed_table` holds the rows in file order in positional TEXT columns ``c0..cN``,
    exactly the values written (an empty string is written quoted; the parser reads it as NULL,
    and so does the view). DuckDB's CSV writer and parser round-trip every value, so the staging
    equals a parse of the file. None when the file is not that simple (not read as received, a
    blank line, not LF-only): stage it with :func:`stage_file`.
    """
    assert source.spec_name is not None
    if source.parse_path != source.path or source.blank_rows or source.newline not in ("LF", None):
        return None
    parsed = parsed_table(source.spec_name)
    values = ", ".join(
        f"nullif(p.{positional(i)}, '') AS {positional(i)}" for i in range(len(source.header))
    )
    view = staging_table(source.spec_name)
    store.execute(f"DROP VIEW IF EXISTS {_staging_object(store, view)}")
    _create_staging_view(store, view, parsed, [], [], values)
    rows = int(store.rows(f"SELECT count(*) FROM {parsed}")[0][0])
    # A line per row and the header's: no value holds a line break, nothing to look for.
    plain = _line_feeds(source.path) == rows + 1
    breaks = () if plain else _written_breaks(store, parsed, len(source.header))
    return FileStaging(rows, (), True, (), (), breaks)


def _line_feeds(path: Path) -> int:
    """The line feeds in a file (a count over its bytes, far cheaper than a scan of its cells)."""
    feeds = 0
    with path.open("rb") as stream:
        while block := stream.read(1 << 24):
            feeds += block.count(b"\n")
    return feeds


def _written_breaks(store: Store, parsed: str, width: int) -> tuple[tuple[int, int], ...]:
    """(data row, line breaks) of the written rows whose values hold a line break (the writer
    keeps them inside quotes, so an editor shows such a row on several lines)."""
    cells = [positional(i) for i in range(width)]
    joined = " || ".join(f"coalesce({c}, '')" for c in cells)
    found = store.rows(
        f"SELECT _row, length(j) - length(replace(j, chr(10), '')) FROM ("
        f"SELECT {_ordinal_sql(parsed)} AS _row, {joined} AS j FROM {parsed} p "
        f"WHERE {' OR '.join(f'contains({c}, chr(10))' for c in cells)}) ORDER BY _row"
    )
    return tuple((int(row), int(n)) for row, n in found)


def _parse(store: Store, path: Path, spec_name: str, width: int) -> str:
    """Parse a UTF-8 file of ``width`` columns into its temporary table (every value TEXT, in
    positional columns); rejected rows land in DuckDB's ``reject_errors``. Returns the table."""
    parsed = parsed_table(spec_name)
    columns = "{" + ", ".join(f"'{positional(i)}': 'VARCHAR'" for i in range(width)) + "}"
    store.execute("DROP TABLE IF EXISTS reject_errors")
    store.execute("DROP TABLE IF EXISTS reject_scans")
    store.execute(f"DROP VIEW IF EXISTS {_staging_object(store, staging_table(spec_name))}")
    store.execute(
        f"{_create(store, 'TABLE', parsed)} AS SELECT * FROM read_csv(?, "
        f"header = true, auto_detect = false, columns = {columns}, delim = ',', "
        "quote = '\"', escape = '\"', strict_mode = true, null_padding = false, "
        "store_rejects = true)",
        [str(path)],
    )
    return parsed


def _ordinal_sql(parsed: str) -> str:
    """SQL of a parsed row's 1-based position in its file (alias ``p``).

    Inside an open transaction DuckDB numbers new rows from a large base, not 0: count from the
    table's first rowid so the position is right before and after the commit.
    """
    return f"(p.rowid - (SELECT min(rowid) FROM {parsed}) + 1)"


def _create_staging_view(
    store: Store,
    view: str,
    parsed: str,
    skipped: list[int],
    dropped: list[int],
    values: str = "p.*",
) -> None:
    """``staged_<file>``: the parsed rows (table ``parsed``) with ``_row``, their data row number
    in the file; beside them in the catalog the staging goes to.

    The parse keeps file order, so the n-th accepted row has the n-th rowid. When malformed or
    blank rows were skipped, the accepted ordinal o lands on data row o + k, where k counts
    the skipped rows before it: the k-th skipped row s_k starts the ordinals >= s_k - k + 1.
    ``dropped`` rows were parsed but are malformed all the same: the view leaves them out.
    """
    table = _staging_object(store, parsed)
    ordinal = _ordinal_sql(table)
    numbered = f"SELECT {ordinal} AS _row, {values} FROM {table} p"
    if skipped:
        segments = "_segments_" + parsed
        # Consecutive skipped rows share a start: the run keeps its last (largest) shift.
        # One statement with list parameters: a row-by-row executemany cost about 1 ms per
        # skipped row (a million blank lines took minutes while holding the store).
        shifts = {s - k + 1: k for k, s in enumerate(skipped, start=1)}
        store.execute(
            f"{_create(store, 'TABLE', segments)} AS SELECT unnest(?::BIGINT[]) AS start, "
            "unnest(?::BIGINT[]) AS shift",
            [list(shifts), list(shifts.values())],
        )
        numbered = (
            f"SELECT {ordinal} + coalesce(g.shift, 0) AS _row, {values} FROM {table} p "
            f"ASOF LEFT JOIN {_staging_object(store, segments)} g ON {ordinal} >= g.start"
        )
    if dropped:
        excluded = "_dropped_" + parsed
        store.execute(
            f"{_create(store, 'TABLE', excluded)} AS SELECT unnest(?::BIGINT[]) AS row",
            [dropped],
        )
        numbered = (
            f"SELECT * FROM ({numbered}) WHERE _row NOT IN "
            f"(SELECT row FROM {_staging_object(store, excluded)})"
        )
    store.execute(f"{_create(store, 'VIEW', view)} AS {numbered}")


# Lines a query tool prints for people, where a record belongs: what each is, and the setting
# that leaves it out. sqlcmd's row count "(N rows affected)" (osql: "(N row(s) affected)"),
# SQL*Plus's FEEDBACK line, and the dashes both print under the column names (a line the
# parser rejects: no separator in it, or fewer than the header's).
_QUERY_TOOL_LINES = (
    (
        re.compile(r"\([0-9]+ rows?(?:\(s\))? affected\)"),
        "the row count sqlcmd prints after the rows",
        "SET NOCOUNT ON",
    ),
    (
        re.compile(r"(?:[0-9]+|no) rows? selected\.?"),
        "the row count SQL*Plus prints after the rows",
        "SET FEEDBACK OFF",
    ),
    (
        re.compile(r"-[-, ]*"),
        "the dashes a query tool prints under the column names",
        "sqlcmd -h -1; SQL*Plus SET UNDERLINE OFF or SET PAGESIZE 0",
    ),
)


def _query_tool_line(line: str) -> tuple[str, str] | None:
    """What ``line`` is when a query tool printed it for people, and the setting that leaves it
    out; None for any other line."""
    text = line.strip()
    return next(
        ((what, switch) for pattern, what, switch in _QUERY_TOOL_LINES if pattern.fullmatch(text)),
        None,
    )


def _reject_detail(error_type: str, message: str) -> str:
    kinds = {
        "MISSING COLUMNS": "too few fields",
        "TOO MANY COLUMNS": "too many fields",
        "UNQUOTED VALUE": "unclosed or stray quote",
        "INVALID UNICODE": "invalid characters",
        "LINE SIZE OVER MAXIMUM": "line too long",
    }
    return f"{kinds.get(error_type, error_type.lower())} ({message.rstrip('.')})"


def materialize(store: Store, snapshot_id: int, folder: Path) -> None:
    """Write a snapshot's raw files back to a folder, names and mtimes as received."""
    for name, sha256, mtime in store.rows(
        "SELECT name, sha256, mtime FROM snapshot_files WHERE snapshot_id = ?", [snapshot_id]
    ):
        target = folder.joinpath(*PurePosixPath(name).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as stream:
            store.copy_raw(sha256, stream)
        if mtime is not None:
            stamp = mtime.replace(tzinfo=UTC).timestamp()
            os.utime(target, (stamp, stamp))
    folder.mkdir(parents=True, exist_ok=True)
