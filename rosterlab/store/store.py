"""The history store: one DuckDB file holding every night of every district.

This is the only module family that imports duckdb. Other rooms call :class:`Store` methods or
hand it SQL text with bound values; results come back as polars DataFrames or frozen records.
"""

from __future__ import annotations

import os
import re
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, get_args

import duckdb

import rosterlab
from rosterlab import spec
from rosterlab.errors import (
    ConfigError,
    RosterlabError,
    SnapshotNotFoundError,
    StoreError,
    disk_full,
)
from rosterlab.spec import Finding
from rosterlab.spec.lines import LineBreaks
from rosterlab.store import files
from rosterlab.store.schema import migrations
from rosterlab.store.sql import quote_ident, quote_literal

if TYPE_CHECKING:  # polars and the raw codec load where used: a reader (diff) needs neither
    import polars as pl

    from rosterlab.store import raw

# A progress line for the user (the CLI prints it on stderr, the workbench in its log).
Progress = Callable[[str], None]


# Where a snapshot came from: a district's upload, an SFTP pull, a corrected bundle, an API pull.
Origin = Literal["upload", "pulled", "corrected", "api"]
ORIGINS: tuple[Origin, ...] = get_args(Origin)


@dataclass(frozen=True)
class SnapshotInfo:
    """One ingested bundle of one district."""

    id: int
    district: str
    seq: int
    taken_at: datetime
    ingested_at: datetime
    source: str
    bundle_sha256: str
    origin: Origin
    sync_type: str


@dataclass(frozen=True)
class ReceivedFile:
    """One file of a snapshot as received (``snapshot_files``): what sniffing it found."""

    name: str  # as received, inside the bundle
    spec_name: str | None  # the spec file it is, None for a file Clever does not read
    entity: str | None
    sha256: str
    bytes: int
    rows: int | None  # data rows staged, None when the file was not parsed
    encoding: str | None  # None: binary
    bom: bool
    newline: str | None  # CRLF | LF | CR | mixed | None (single line)
    header: tuple[str, ...]
    mtime: datetime | None


@dataclass(frozen=True)
class ReceivedRows:
    """Some data rows of a received file as sent: ``rows`` are (row number, value, ...) in
    header order, every received column (a repeated one too)."""

    name: str
    header: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    spec_name: str  # the spec file it is (``name`` is as received: ``Students.csv``)


# How an ingest dated its night (IngestResult.dated_by).
DATED_BY = {
    "given": "given (--taken-at)",
    "name": "the date in the bundle's name",
    "mtime": "the files' newest modification time (no YYYY-MM-DD in the bundle's name)",
    "remote-mtime": "the remote files' newest modification time",
    "now": "the time of the ingest (no files, no YYYY-MM-DD in the bundle's name)",
}


@dataclass(frozen=True)
class IngestResult:
    """What ``ingest`` did: the snapshot, whether it is new, the findings recorded for it, and
    where its ``taken_at`` came from (a key of :data:`DATED_BY`)."""

    snapshot: SnapshotInfo
    new: bool
    findings: tuple[Finding, ...]
    dated_by: str = "given"

    def severity_counts(self) -> dict[str, int]:
        return spec.severity_counts(self.findings)


def naive_utc(value: datetime, *, named: str | None = None) -> datetime:
    """A time as the store keeps it: in UTC without a zone (a time without one is UTC already).

    A time outside 0001-9999 once in UTC (0001-01-01T00:00+01:00) is a one-line ConfigError
    naming it as ``named`` (default: ``taken_at`` and the time).
    """
    if value.tzinfo is None:
        return value
    try:
        return value.astimezone(UTC).replace(tzinfo=None)
    except OverflowError as exc:
        raise ConfigError(
            f"{named or f'taken_at {value.isoformat()}'} is outside 0001-01-01 to 9999-12-31 "
            "once in UTC: give a time within those years"
        ) from exc


_SNAPSHOT_COLUMNS = (
    "id, district, seq, taken_at, ingested_at, source, bundle_sha256, origin, sync_type"
)
_OPEN: weakref.WeakSet[Store] = weakref.WeakSet()  # every open store, for interrupt_queries()
# The in-memory database staging goes to outside a transaction (Store.staging_catalog).
STAGING_CATALOG = "rosterlab_staging"
DEFAULT_LIMIT = "DuckDB's default"  # Store.memory_limit when none was configured
# DuckDB's memory limit while its buffers are evicted (Store.buffers_evicted): what a statement
# of the raw store (a 4 MiB part) needs.
EVICTED_LIMIT = "64MB"


def interrupt_queries() -> None:
    """Stop the query every open store is running (safe from another thread, e.g. on Ctrl-C).

    The query fails with ``duckdb.InterruptException``; a store that is idle is unaffected.
    """
    for store in list(_OPEN):
        for con in (store._con, *store._lanes):
            with suppress(duckdb.Error):  # closed meanwhile
                con.interrupt()


_NIGHT_REF = re.compile(r"n[1-9][0-9]*")
_DATE_REF = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _reference_kind(text: str) -> str | None:
    """``latest``/``previous`` (themselves), ``night`` (n3), ``date`` (2026-09-05) or None."""
    if text in ("latest", "previous"):
        return text
    if _NIGHT_REF.fullmatch(text):
        return "night"
    if _DATE_REF.fullmatch(text):
        return "date"
    return None


class Store:
    """An open history store: use :meth:`open` (a context manager) or :meth:`connect`.

    Opened writable it holds the store file (one writer at a time, waiting up to ``wait``
    seconds for another); opened read-only it reads the copy the last writer published (see
    :mod:`rosterlab.store.files`), so readers and the writer never wait for each other.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, read_only: bool) -> None:
        self._con = con
        self.path = path
        self.read_only = read_only
        self._depth = 0
        # Which snapshot the temporary staging views (staged_<file>) currently hold.
        self.staged_snapshot: int | None = None
        self.staged_in: str | None = None  # their catalog: None for TEMP (staging_catalog)
        self.memory_limit = DEFAULT_LIMIT  # as configured, for the out-of-memory message
        _OPEN.add(self)
        self._descriptor: int | None = None  # the writer's own view of the file, to publish it
        self._damaged = False
        self.waited = 0.0  # seconds spent waiting for another process to release the file
        self.reading_copy = False  # True: reads the published copy, not the store file
        self._lanes: list[duckdb.DuckDBPyConnection] = []  # open second lanes (beside)
        self._search_path: str | None = None  # set once STAGING_CATALOG is attached
        self._staging_attached: bool | None = None  # None: not tried yet

    # --- opening -------------------------------------------------------------------------
    @classmethod
    def connect(
        cls,
        path: str | Path,
        *,
        read_only: bool = False,
        memory_limit: str | None = None,
        threads: int | None = None,
        migrate: bool = True,
        published: bool = True,
        wait: float = files.DEFAULT_WAIT,
        on_wait: files.Waiting | None = None,
    ) -> Store:
        """Open (creating and migrating when writable) the store at ``path``.

        Read-only opens the published copy when there is one (``published=False``: the store
        file itself, as ``rosterlab doctor`` does). ``migrate=False`` opens it as it is
        (``rosterlab doctor`` reports pending migrations). A writer waits up to ``wait``
        seconds for another process holding the file, telling ``on_wait`` now and then.
        """
        path = Path(path)
        copy = files.published_path(path)
        reading_copy = read_only and published and copy.is_file()
        _check_path(path, read_only=read_only, copy_exists=reading_copy)
        config: dict[str, Any] = {}
        if memory_limit:
            config["memory_limit"] = memory_limit
        if threads:
            config["threads"] = threads
        descriptor = None
        waited = 0.0
        try:
            if reading_copy:
                con = files.attach_read_only(copy, config)
            else:
                con, waited = files.connect_waiting(
                    path, read_only=read_only, config=config, wait=wait, on_wait=on_wait
                )
                if not read_only:  # opened while DuckDB holds the lock: see files.publish
                    descriptor = os.open(path, os.O_RDONLY)
        except duckdb.Error as exc:
            raise _open_error(path, exc, memory_limit, threads, in_copy=reading_copy) from exc
        store = cls(con, path, read_only)
        store.reading_copy = reading_copy
        store._descriptor = descriptor
        store.waited = waited
        store.memory_limit = memory_limit or store.memory_limit
        try:
            if migrate:
                if store.refuse_foreign():
                    store._refuse_newer()
                store._migrate()
        except BaseException:
            store._close(publish=False)  # nothing was written: a foreign file stays as it was
            raise
        return store

    @classmethod
    @contextmanager
    def open(
        cls,
        path: str | Path,
        *,
        read_only: bool = False,
        memory_limit: str | None = None,
        threads: int | None = None,
        published: bool = True,
        wait: float = files.DEFAULT_WAIT,
        on_wait: files.Waiting | None = None,
    ) -> Iterator[Store]:
        store = cls.connect(
            path,
            read_only=read_only,
            memory_limit=memory_limit,
            threads=threads,
            published=published,
            wait=wait,
            on_wait=on_wait,
        )
        try:
            yield store
        finally:
            store.close()

    def close(self) -> None:
        """Close; a writer first publishes what it committed for the readers."""
        self._close(publish=True)

    def _close(self, *, publish: bool) -> None:
        _OPEN.discard(self)
        try:
            if publish and self._descriptor is not None and not (self._depth or self._damaged):
                self.publish()
        finally:
            self._con.close()
            if self._descriptor is not None:  # only now: closing it drops DuckDB's lock
                os.close(self._descriptor)
                self._descriptor = None

    def publish(self) -> None:
        """Give readers the last committed state (the writer does it on close).

        A copy that cannot be written (a full disk) leaves readers on the previous one, which
        ``rosterlab doctor`` reports; the nights committed are kept either way.
        """
        if self._descriptor is None:
            return
        try:
            try:
                files.publish(self._con, self.path, self._descriptor)
            except duckdb.InterruptException:  # Ctrl-C's interrupt met the CHECKPOINT: once more
                files.publish(self._con, self.path, self._descriptor)
        except (OSError, duckdb.Error):
            return

    def refuse_foreign(self) -> bool:
        """Refuse a DuckDB file that is not a rosterlab store; False: empty, a new store."""
        tables = {
            row[0]
            for row in self._rows(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_catalog = current_database()"
            )
        }
        if not tables:
            if self.read_only:
                raise StoreError(
                    f"{self.path} is an empty DuckDB file, not a rosterlab store yet: ingest a "
                    "bundle into it first (rosterlab ingest)"
                )
            return False
        first_version, first_name, _ = migrations()[0]
        ours = "schema_migrations" in tables and (
            self._rows("SELECT name FROM schema_migrations WHERE version = ?", [first_version])
            == [(first_name,)]
            or (tables == {"schema_migrations"} and not self._rows("FROM schema_migrations"))
        )
        if not ours:
            listed = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
            raise StoreError(
                f"{self.path} is a DuckDB database but not a rosterlab store (it holds {listed}): "
                "give another --store (a new file, or an existing rosterlab store)"
            )
        return True

    def _refuse_newer(self) -> None:
        """A store a newer rosterlab migrated may hold what this one would misread or break."""
        newest = max(version for version, _, _ in migrations())
        found = self._rows("SELECT max(version) FROM schema_migrations")[0][0]
        if found is not None and found > newest:
            raise StoreError(
                f"store {self.path} was written by a newer rosterlab (schema version {found}; "
                f"this rosterlab {rosterlab.__version__} knows up to {newest}): upgrade "
                "rosterlab to read or write it"
            )

    def _migrate(self) -> None:
        self.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)"
            if not self.read_only
            else "SELECT 1"
        )
        applied = {row[0] for row in self._rows("SELECT version FROM schema_migrations")}
        pending = [m for m in migrations() if m[0] not in applied]
        if not pending:
            return
        if self.read_only:
            raise StoreError(
                f"store {self.path} needs a schema upgrade: open it once for writing "
                "(run rosterlab ingest) and retry"
            )
        with self.transaction():
            for version, name, sql in pending:
                self.execute(sql)
                self.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, now()::TIMESTAMP)",
                    [version, name],
                )

    # --- low-level access for rooms above ----------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of work: everything inside commits together or not at all.

        Nested uses join the outermost transaction, so a rebuild that replays many ingests is
        still one unit.
        """
        self._require_writable()
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.execute("BEGIN TRANSACTION")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._rollback()
            self.staged_snapshot = None  # staging made inside the transaction is gone too
            raise
        finally:
            self._depth = 0
        self.execute("COMMIT")

    def _rollback(self) -> None:
        """Roll the open transaction back, even when Ctrl-C's interrupt lands on the ROLLBACK.

        On Ctrl-C the main thread unwinds (KeyboardInterrupt) while the signal watcher's thread
        interrupts every open store's query (cli/interrupts.py): the two race, and the interrupt
        can stop this ROLLBACK, leaving the transaction open and aborted — the store's close
        could then not publish the readers' copy (tests/test_cli_faults.py's Ctrl-C during a
        real ingest failed so, ~40 % of runs once ingest staged before its transaction). An
        interrupt stops one statement: the second attempt rolls back.
        """
        try:
            self._con.execute("ROLLBACK").fetchall()
        except duckdb.InterruptException:
            self._con.execute("ROLLBACK").fetchall()

    @contextmanager
    def trial(self) -> Iterator[None]:
        """Work whose writes are never kept: rolled back when the block ends, however it ends.

        For a what-if (a corrected bundle ingested to predict its hold); transactions inside
        join it. Not inside a transaction: its rollback would undo the enclosing work too.
        """
        self._require_writable()
        if self._depth:
            raise RuntimeError("Store.trial() cannot run inside a transaction")
        self.execute("BEGIN TRANSACTION")
        self._depth = 1
        try:
            yield
        finally:
            self._depth = 0
            self._rollback()
            self.staged_snapshot = None  # staging made inside the trial is gone too

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction (or a trial) is open."""
        return bool(self._depth)

    def _require_writable(self) -> None:
        if self.read_only:
            raise StoreError(f"store {self.path} is open read-only: reopen it for writing")

    @contextmanager
    def _resources(self) -> Iterator[None]:
        """Running out of memory is a tool failure with a one-line remedy, not a traceback."""
        try:
            yield
        except duckdb.OutOfMemoryException as exc:
            raise StoreError(
                f"store {self.path} ran out of memory (memory_limit {self.memory_limit}): raise "
                "memory_limit in rosterlab.toml or ROSTERLAB_MEMORY_LIMIT, or lower threads"
            ) from exc
        except duckdb.Error as exc:  # IO or commit errors: a full disk says what to do
            full = disk_full(exc, f"store {self.path}", "the store keeps what it held before")
            if full is not None:
                raise full from exc
            if (reason := files.damage(exc)) is not None:
                self._damaged = True  # never publish this over the readers' good copy
                raise files.damaged(self.path, reason, in_copy=self.reading_copy) from exc
            raise

    @contextmanager
    def buffers_evicted(self) -> Iterator[None]:
        """DuckDB's buffers evicted while the block runs (its memory limit lowered to
        :data:`EVICTED_LIMIT`: cached blocks dropped, temp tables written to its temp folder),
        for work beside the store that needs the memory — a large raw file's delta codec, about
        twice the file (:mod:`rosterlab.store.raw`), which would otherwise come on top of
        DuckDB's whole limit; the limit as configured again after. When DuckDB cannot get below
        that limit (pinned buffers) it keeps its limit and the block runs all the same."""
        configured = self.memory_limit
        restore = (
            "RESET memory_limit"
            if configured == DEFAULT_LIMIT
            else f"SET memory_limit = {quote_literal(configured)}"
        )
        try:
            self._con.execute(f"SET memory_limit = {quote_literal(EVICTED_LIMIT)}")
        except duckdb.Error:
            lowered = False
        else:
            lowered = True
        try:
            yield
        finally:
            if lowered:
                with self._resources():
                    self._con.execute(restore)

    @contextmanager
    def beside(self) -> Iterator[Beside]:
        """A second lane for queries of committed tables, so a run of many small statements
        (a check) keeps both cores busy: :meth:`Beside.rows` starts a query on a second
        connection of the store, in a thread, while this one goes on.

        Concurrent only when this connection is outside a transaction as the lane opens (a
        second connection sees committed data only; the caller's transaction, begun after,
        must not write what the lane reads) and may use more than one thread; otherwise a
        query runs on this connection when its rows are asked for. Leaving the block waits for
        the lane (interrupting it when the block failed) and closes it.
        """
        threads = int(self._rows("SELECT current_setting('threads')")[0][0])
        lane = Beside(self, concurrent=not self._depth and threads > 1)
        try:
            yield lane
        except BaseException:
            lane.close(interrupt=True)
            raise
        lane.close(interrupt=False)

    def staging_catalog(self) -> str | None:
        """Where staging and the checks' shared tables go: outside a transaction the attached
        in-memory database :data:`STAGING_CATALOG`, which every connection of the store sees
        (a TEMP table is its own connection's), so a check's lanes read tonight's files.

        None — TEMP — inside a transaction (a DuckDB transaction writes one attached database)
        or where it cannot be attached (a read-only store file). Its tables are found by their
        plain names after the store's own (a TEMP one of the same name first).
        """
        if self._depth:
            return None
        if self._staging_attached is None:
            database = self._rows("SELECT current_database()")[0][0]
            try:
                self._con.execute(f"ATTACH ':memory:' AS {STAGING_CATALOG}")
            except duckdb.Error:
                self._staging_attached = False
                return None
            self._search_path = f"{quote_ident(database)},{STAGING_CATALOG}"
            _name_tables_of(self._con, self._search_path)
            self._staging_attached = True
        return STAGING_CATALOG if self._staging_attached else None

    def lane(self) -> Store:
        """This store on a second connection of its database, for another thread: the same
        tables by the same names (staging included), committed data only; close it after."""
        lane = Store(self._cursor(), self.path, self.read_only)
        lane.memory_limit, lane.reading_copy = self.memory_limit, self.reading_copy
        lane._staging_attached, lane._search_path = self._staging_attached, self._search_path
        lane.staged_snapshot = self.staged_snapshot
        return lane

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        database = self._rows("SELECT current_database()")[0][0]
        con = self._con.cursor()
        con.execute(f"USE {quote_ident(database)}")  # a reader's copy is attached
        if self._search_path is not None:
            _name_tables_of(con, self._search_path)
        return con

    def interrupt(self) -> None:
        """Stop the statement this store is running (from another thread; idle: no effect)."""
        with suppress(duckdb.Error):  # closed meanwhile
            self._con.interrupt()

    def append(self, table: str, frame: pl.DataFrame) -> None:
        """Insert a frame's rows into ``table`` (its columns, in order)."""
        self._con.register("_appended", frame)
        try:
            self.execute(f"INSERT INTO {table} SELECT * FROM _appended")
        finally:
            self._con.unregister("_appended")

    def _rows(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        with self._resources():
            return self._con.execute(sql, params or []).fetchall()

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """Run a statement with bound values (for rooms that keep their SQL beside their logic).

        The result is always fetched: an unfinished result would block the connection.
        """
        with self._resources():
            self._con.execute(sql, params or []).fetchall()

    def written(self, sql: str, params: Sequence[Any] | None = None) -> int:
        """Run a ``CREATE TABLE ... AS`` or ``INSERT`` with bound values; return the rows written.

        Saves the ``count(*)`` query that would otherwise follow it.
        """
        return int(self._rows(sql, params)[0][0])

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
        """Run a query with bound values and return a polars DataFrame."""
        with self._resources():
            return self._con.sql(sql, params=list(params or [])).pl()

    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a query with bound values and return plain tuples (small results only)."""
        return self._rows(sql, params)

    # --- snapshots -----------------------------------------------------------------------
    def snapshots(self, district: str | None = None) -> list[SnapshotInfo]:
        """Every snapshot (of one district), oldest first."""
        where, params = ("WHERE district = ?", [district]) if district else ("", [])
        rows = self._rows(
            f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots {where} ORDER BY district, seq", params
        )
        return [SnapshotInfo(*row) for row in rows]

    def districts(self) -> list[str]:
        return [row[0] for row in self._rows("SELECT district FROM districts ORDER BY district")]

    def snapshot(self, snapshot_id: int) -> SnapshotInfo:
        rows = self._rows(f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots WHERE id = ?", [snapshot_id])
        if not rows:
            raise SnapshotNotFoundError(
                f"no snapshot {snapshot_id} in {self.path}: list them with rosterlab snapshots"
            )
        return SnapshotInfo(*rows[0])

    def resolve(self, ref: str | int, district: str | None = None) -> SnapshotInfo:
        """A snapshot from a reference (``SNAP``): an id, ``latest``, ``previous``, a date
        (``2026-09-05``: the district's night of that day) or a night number (``n3``).

        Ids are unique across districts; the others are within ``district``. An error names
        the district's nights so the user can pick the right one.
        """
        text = str(ref).strip()
        if isinstance(ref, int) or text.isdigit():
            found = self.snapshot(int(text))
            if district and found.district != district:
                raise SnapshotNotFoundError(
                    f"snapshot {text} belongs to {found.district}; {self._nights(district)}"
                )
            return found
        kind = _reference_kind(text)
        if kind is None:
            raise SnapshotNotFoundError(
                f"snapshot reference {text!r} is not an id, latest, previous, a date "
                "(YYYY-MM-DD) or a night number (n3)"
            )
        if not district:
            raise SnapshotNotFoundError(f"'{text}' needs --district to know whose snapshots")
        history = self.snapshots(district)
        if not history:
            raise self.no_snapshots(district)
        if kind == "night":
            found_night = [s for s in history if s.seq == int(text[1:])]
            if not found_night:
                raise SnapshotNotFoundError(f"there is no night {text}; {self._nights(district)}")
            return found_night[0]
        if kind == "date":
            on_day = [s for s in history if f"{s.taken_at:%Y-%m-%d}" == text]
            if len(on_day) == 1:
                return on_day[0]
            if on_day:
                names = ", ".join(f"n{s.seq} = {s.id} ({s.taken_at:%H:%M})" for s in on_day)
                raise SnapshotNotFoundError(
                    f"{district} has {len(on_day)} nights on {text}: {names}; give the id or nN"
                )
            raise SnapshotNotFoundError(
                f"{district} has no night on {text}; {self._nights(district)}"
            )
        wanted = 1 if text == "latest" else 2
        if len(history) < wanted:
            raise SnapshotNotFoundError(
                f"district {district} has {len(history)} snapshot(s), so there is no '{text}': "
                "ingest more nights"
            )
        return history[-wanted]

    def resolve_from(self, ref: str | int, to: SnapshotInfo) -> SnapshotInfo:
        """The earlier snapshot of a pair ending at ``to``: as :meth:`resolve`, but
        ``previous`` is the night before ``to`` (whatever Clever did with it), not the
        district's second newest."""
        if str(ref).strip() != "previous":
            return self.resolve(ref, to.district)
        earlier = [s for s in self.snapshots(to.district) if s.seq < to.seq]
        if not earlier:
            raise SnapshotNotFoundError(
                f"snapshot {to.id} is {to.district}'s first night, so there is no 'previous' "
                "night before it: give a later night to compare with it"
            )
        return earlier[-1]

    def no_snapshots(self, district: str) -> SnapshotNotFoundError:
        """The error for a district without snapshots (a typo, usually): the store's districts."""
        held = self.districts()
        where = f"the store holds {', '.join(held)}" if held else "the store holds no district"
        return SnapshotNotFoundError(
            f"district {district} has no snapshots ({where}): check --district, or ingest its "
            "nights with rosterlab ingest"
        )

    def _nights(self, district: str, shown: int = 8) -> str:
        """``cedar's nights are n1 = 6 (2026-09-01), …`` for an error message."""
        history = self.snapshots(district)
        if not history:
            return f"{district} has no snapshots (list them with rosterlab snapshots)"
        names = [f"n{s.seq} = {s.id} ({s.taken_at:%Y-%m-%d})" for s in history[-shown:]]
        more = f"{len(history) - shown} earlier, …, " if len(history) > shown else ""
        return f"{district}'s nights are {more}{', '.join(names)}"

    def snapshot_rows(self, snapshot_id: int) -> dict[str, int]:
        """Row counts per entity in a snapshot (as ingested)."""
        rows = self._rows(
            "SELECT entity, rows FROM snapshot_entities WHERE snapshot_id = ? ORDER BY entity",
            [snapshot_id],
        )
        order = list(spec.ENTITIES)
        return dict(sorted(rows, key=lambda r: order.index(r[0])))

    def snapshot_files(self, snapshot_id: int) -> pl.DataFrame:
        return self.query(
            "SELECT * EXCLUDE (snapshot_id) FROM snapshot_files WHERE snapshot_id = ? "
            "ORDER BY name",
            [snapshot_id],
        )

    def line_breaks(self, snapshot_id: int) -> dict[str, LineBreaks]:
        """Spec name → where its rows sit as lines, for the snapshot's files whose quoted values
        hold line breaks (a file staged before they were recorded is absent: row + 1)."""
        found = self._rows(
            "SELECT f.spec_name, s.break_rows, s.break_lines FROM snapshot_files f "
            "JOIN file_staging s USING (snapshot_id, name) "
            "WHERE f.snapshot_id = ? AND f.spec_name IS NOT NULL AND len(s.break_rows) > 0",
            [snapshot_id],
        )
        return {name: LineBreaks.of(zip(rows, extra, strict=True)) for name, rows, extra in found}

    def received_files(self, snapshot_id: int) -> list[ReceivedFile]:
        """The files of a snapshot as received, by name."""
        rows = self._rows(
            "SELECT name, spec_name, entity, sha256, bytes, rows, encoding, bom, newline, header, "
            "mtime FROM snapshot_files WHERE snapshot_id = ? ORDER BY name",
            [snapshot_id],
        )
        return [
            ReceivedFile(
                name=row[0],
                spec_name=row[1],
                entity=row[2],
                sha256=row[3],
                bytes=row[4],
                rows=row[5],
                encoding=row[6],
                bom=row[7],
                newline=row[8],
                header=tuple(row[9]),
                mtime=row[10],
            )
            for row in rows
        ]

    def received_rows(
        self, snapshot_id: int, wanted: Mapping[str, Iterable[int]]
    ) -> list[ReceivedRows]:
        """Data rows of a snapshot's spec files as received: ``wanted`` maps a spec file name to
        its row numbers. Files in name order; a file the snapshot did not parse is left out.
        Stages the snapshot (see :func:`~rosterlab.store.staging.stage_snapshot`)."""
        from rosterlab.store.staging import stage_snapshot  # the reader: not for every command

        staged = stage_snapshot(self, snapshot_id)
        found = []
        for file_name, numbers in sorted(wanted.items()):
            source = staged.get(file_name)
            if source is None:
                continue
            columns = ", ".join(source.received_columns())
            rows = self._rows(
                f"SELECT _row, {columns} FROM {quote_ident(source.view)} "
                "WHERE _row IN (SELECT unnest(?::BIGINT[])) ORDER BY _row",
                [sorted(set(numbers))],
            )
            found.append(ReceivedRows(source.name, source.header, tuple(rows), file_name))
        return found

    def findings(self, snapshot_id: int, stage: str | None = None) -> list[Finding]:
        """The findings recorded for a snapshot (optionally of one stage), in stable order."""
        where = "snapshot_id = ?" + (" AND stage = ?" if stage else "")
        params: list[Any] = [snapshot_id] + ([stage] if stage else [])
        rows = self._rows(
            'SELECT code, severity, entity, key, field, value, "row", message, hint, cause, '
            f'"count", "rows", sample_keys FROM findings WHERE {where} ORDER BY rowid',
            params,
        )
        return [
            Finding(
                code, severity, entity, key, field, value, line, message, hint, cause,
                count=count, rows=n, sample_keys=tuple(samples),
            )
            for (
                code, severity, entity, key, field, value, line, message, hint, cause,
                count, n, samples,
            ) in rows
        ]  # fmt: skip

    def record_findings(self, snapshot_id: int, stage: str, findings: Sequence[Finding]) -> None:
        """Replace the findings of one stage of a snapshot (idempotent re-checks)."""
        self.execute(
            "DELETE FROM findings WHERE snapshot_id = ? AND stage = ?", [snapshot_id, stage]
        )
        if findings:
            import polars as pl

            frame = pl.DataFrame(
                [f.to_dict() for f in findings],
                schema={
                    "code": pl.String,
                    "severity": pl.String,
                    "entity": pl.String,
                    "key": pl.String,
                    "field": pl.String,
                    "value": pl.String,
                    "row": pl.Int64,
                    "message": pl.String,
                    "hint": pl.String,
                    "cause": pl.String,
                    "count": pl.Int64,
                    "rows": pl.Int64,
                    "sample_keys": pl.List(pl.String),
                },
            )
            self._con.register("_new_findings", frame)
            try:
                self.execute(
                    "INSERT INTO findings SELECT ?, ?, code, severity, entity, key, field, value, "
                    '"row", message, hint, cause, "count", "rows", sample_keys FROM _new_findings',
                    [snapshot_id, stage],
                )
            finally:
                self._con.unregister("_new_findings")

    # --- entity history ------------------------------------------------------------------
    def entity_sql(self, entity: str) -> str:
        """SQL of the rows of ``entity`` present in one snapshot; binds (district, seq, seq)."""
        table = quote_ident(spec.ENTITIES[entity].name)
        return (
            f"SELECT * FROM {table} WHERE district = ? AND valid_from <= ? "
            "AND (valid_to IS NULL OR valid_to >= ?)"
        )

    def entity_in(self, snapshot: SnapshotInfo, entity: str) -> tuple[str, list[Any]]:
        """A parenthesised subquery of the versions of ``entity`` present in ``snapshot`` (one
        per distinct record-level row), with the values it binds."""
        return f"({self.entity_sql(entity)})", [snapshot.district, snapshot.seq, snapshot.seq]

    def entity_frame(self, snapshot_id: int, entity: str) -> pl.DataFrame:
        """The rows of ``entity`` in a snapshot, ordered by key (one row per version)."""
        snap = self.snapshot(snapshot_id)
        return self.query(
            self.entity_sql(entity) + " ORDER BY key, row_hash",
            [snap.district, snap.seq, snap.seq],
        )

    def raw_bytes(self, sha256: str) -> bytes:
        """The bytes of a received file, from the content-addressed raw store (sha256-checked).

        A delta is decoded against its keyframe; a corrupt or unreadable blob raises StoreError.
        Holds the file twice in memory at the end: export and staging use :meth:`copy_raw`.
        """
        from rosterlab.store import raw

        return raw.unpack(sha256, *self._raw_blob(sha256))

    def copy_raw(self, sha256: str, stream: BinaryIO) -> None:
        """Write a received file to a binary stream as it is decoded, never whole in memory.

        Its sha256 is checked at the end: on StoreError the stream holds a partial file.
        """
        self.raw_writer(sha256)(stream)

    def raw_writer(self, sha256: str) -> Callable[[BinaryIO], None]:
        """Load a kept file's blob now; the function returned writes the file to a stream like
        :meth:`copy_raw` without touching the connection, so it may run in another thread."""
        from rosterlab.store import raw

        size, blob, keyframe = self._raw_blob(sha256)
        return lambda stream: raw.unpack_to(stream, sha256, size, blob, keyframe)

    def _raw_blob(self, sha256: str) -> tuple[int, raw.Blob, raw.Keyframe | None]:
        """A kept file's size, blob and (for a delta) loaded keyframe."""
        stored = self.stored_raw(sha256)
        if stored is None:
            raise StoreError(
                f"raw file {sha256[:12]} is not kept (pruned by retention): "
                "export with --canonical instead"
            )
        size, blob = stored
        keyframe = self._raw_keyframe(sha256, blob.base_sha256) if blob.base_sha256 else None
        return size, blob, keyframe

    def _raw_keyframe(self, sha256: str, base_sha256: str) -> raw.Keyframe:
        stored = self.stored_raw(base_sha256)
        if stored is None:
            raise StoreError(
                f"raw file {sha256[:12]} is a delta of keyframe {base_sha256[:12]}, which is not "
                "kept: export with --canonical instead"
            )
        from rosterlab.store import raw

        return raw.load_keyframe(base_sha256, stored[0], stored[1].data)

    def stored_raw(self, sha256: str) -> tuple[int, raw.Blob] | None:
        """A kept file's size and blob as stored, its parts joined; None when it is not kept."""
        rows = self._rows(
            "SELECT bytes, codec, data, base_sha256 FROM raw_files WHERE sha256 = ?", [sha256]
        )
        if not rows:
            return None
        from rosterlab.store import raw

        size, codec, data, base_sha256 = rows[0]
        parts = self._rows(
            "SELECT data FROM raw_file_parts WHERE sha256 = ? ORDER BY part", [sha256]
        )
        if parts:
            data = b"".join([data, *(part for (part,) in parts)])
        return size, raw.Blob(codec, data, base_sha256)

    def raw_kept(self, sha256s: Sequence[str]) -> set[str]:
        """Which of these files the raw store keeps already (content-addressed: kept once)."""
        return {
            row[0]
            for row in self._rows(
                "SELECT sha256 FROM raw_files WHERE sha256 IN (SELECT unnest(?::VARCHAR[]))",
                [list(sha256s)],
            )
        }

    def keep_raw(self, sha256: str, size: int, blob: raw.Blob) -> None:
        """Keep a received file's blob: its first :data:`raw.PART` bytes in ``raw_files``, the
        rest in numbered ``raw_file_parts``, so that no statement binds more than a part (DuckDB
        copies a bound blob several times while inserting it)."""
        from rosterlab.store import raw

        data = memoryview(blob.data)
        self.execute(
            "INSERT INTO raw_files (sha256, bytes, codec, data, base_sha256) "
            "VALUES (?, ?, ?, ?, ?)",
            [sha256, size, blob.codec, bytes(data[: raw.PART]), blob.base_sha256],
        )
        for part, start in enumerate(range(raw.PART, len(data), raw.PART), 1):
            self.execute(
                "INSERT INTO raw_file_parts (sha256, part, data) VALUES (?, ?, ?)",
                [sha256, part, bytes(data[start : start + raw.PART])],
            )

    def district_sync_type(self, district: str) -> str | None:
        rows = self._rows("SELECT sync_type FROM districts WHERE district = ?", [district])
        return rows[0][0] if rows else None


class Beside:
    """A store's second lane (:meth:`Store.beside`): queries of committed tables run on their
    own connection in one worker thread, in the order given; errors are the store's own
    (:class:`~rosterlab.errors.StoreError` for running out of memory), raised where the rows
    are asked for."""

    def __init__(self, store: Store, *, concurrent: bool) -> None:
        self._store = store
        self._con: duckdb.DuckDBPyConnection | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Future[list[tuple[Any, ...]]]] = []
        if concurrent:
            self._con = store._cursor()
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="rosterlab-beside")
            store._lanes.append(self._con)  # interrupt_queries() stops it too

    @property
    def concurrent(self) -> bool:
        return self._pool is not None

    def rows(
        self, sql: str, params: Sequence[Any] | None = None
    ) -> Callable[[], list[tuple[Any, ...]]]:
        """Start a query; the function returned waits for its rows (small results only)."""
        if self._pool is None or self._con is None:
            ran: list[list[tuple[Any, ...]]] = []

            def later() -> list[tuple[Any, ...]]:
                if not ran:
                    ran.append(self._store._rows(sql, params))
                return ran[0]

            return later
        con = self._con
        future = self._pool.submit(self._run, con, sql, params)
        self._pending.append(future)
        return future.result

    def _run(
        self, con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None
    ) -> list[tuple[Any, ...]]:
        with self._store._resources():
            return con.execute(sql, params or []).fetchall()

    def close(self, *, interrupt: bool) -> None:
        """Wait for the lane's queries (stopping the one running when ``interrupt``); close."""
        if self._pool is None or self._con is None:
            return
        if interrupt:
            with suppress(duckdb.Error):
                self._con.interrupt()
            for future in self._pending:
                future.cancel()
        pool, con, pending = self._pool, self._con, self._pending
        self._pool, self._con, self._pending = None, None, []
        try:
            pool.shutdown(wait=True)
            if not interrupt:  # a query nobody asked the rows of still fails loudly
                for future in pending:
                    future.result()
        finally:
            self._store._lanes.remove(con)
            con.close()


def _name_tables_of(con: duckdb.DuckDBPyConnection, search_path: str) -> None:
    """Let ``con`` find tables by plain names in the store's database, then in staging's."""
    con.execute("SET search_path = " + "'" + search_path.replace("'", "''") + "'")


def _check_path(path: Path, *, read_only: bool, copy_exists: bool) -> None:
    """One line for a store path that cannot be a store file (missing, a folder, under a file)."""
    if path.is_dir():
        raise StoreError(f"store {path} is a folder, not a file: give a file name as --store")
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise StoreError(
            f"cannot use store {path}: {parent} is a file, not a folder: give another --store"
        )
    if read_only:
        if not path.exists() and not copy_exists:
            raise StoreError(f"no store at {path}: ingest a bundle first (rosterlab ingest)")
        return
    copy = files.published_path(path)
    if not path.exists() and copy.is_file():  # a new store would be published over the copy
        raise StoreError(
            f"store {path} is missing but the copy readers open, {copy}, is there: restore the "
            f"store from it (cp {copy} {path}) and retry, or remove the copy to start a new store"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the folder of store {path} ({exc.strerror}): give another --store"
        ) from exc


def _open_error(
    path: Path,
    exc: duckdb.Error,
    memory_limit: str | None,
    threads: int | None,
    *,
    in_copy: bool,
) -> RosterlabError:
    """The one line for a store DuckDB could not open."""
    if (full := disk_full(exc, str(path), "the store was not opened")) is not None:
        return full
    if isinstance(exc, duckdb.OutOfMemoryException):
        return StoreError(
            f"DuckDB could not start with memory_limit {memory_limit or 'default'} and threads "
            f"{threads or 'default'} (out of memory before opening {path}): give memory_limit "
            "a size like '2GB' and threads a number no larger than the cores "
            "(rosterlab.toml, ROSTERLAB_MEMORY_LIMIT, ROSTERLAB_THREADS)"
        )
    if "not a valid DuckDB database" in str(exc) and not in_copy:
        return StoreError(
            f"{path} is not a rosterlab store (not a DuckDB file): give another --store"
        )
    if (reason := files.damage(exc)) is not None:
        return files.damaged(path, reason, in_copy=in_copy)
    if isinstance(exc, duckdb.IOException):
        return StoreError(f"cannot open store {path} ({exc}): check the path")
    return StoreError(
        f"cannot open store {path} ({type(exc).__name__}: {str(exc).splitlines()[0]}): "
        "check the path and the settings"
    )
