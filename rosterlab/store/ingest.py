"""Ingest: one bundle becomes one snapshot, in one transaction, set-based in DuckDB.

Every spec file is first parsed into its staging view (``store/staging.py``: every value TEXT in
positional columns, with the data row number ``_row``). Each entity is then projected from
staging, hashed per row, and merged into its SCD2 table: versions no longer present are closed
at the previous night, versions not yet present are opened at this night. Only the changes are
written, so storage and time after the parse grow with churn, not with district size.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from rosterlab import spec
from rosterlab.bundle import open_bundle
from rosterlab.bundle.history import date_in_name
from rosterlab.bundle.model import Bundle, SourceFile
from rosterlab.errors import (
    ConfigError,
    OutOfOrderError,
    StoreError,
    TakenAtError,
)
from rosterlab.spec import Finding
from rosterlab.spec.lines import LineBreaks
from rosterlab.store import raw
from rosterlab.store.api_pulls import forget_ids, forget_served
from rosterlab.store.delta import OwnerDelta, merge_delta
from rosterlab.store.pushes import was_pushed
from rosterlab.store.sql import quote_ident
from rosterlab.store.staging import (
    ColumnMap,
    FileStaging,
    clear_staging,
    entity_filter,
    hash_projection,
    key_sql,
    materialize,
    projection,
    stage_file,
    stage_written,
    staging_table,
)
from rosterlab.store.store import (
    ORIGINS,
    IngestResult,
    Origin,
    Progress,
    SnapshotInfo,
    Store,
    naive_utc,
)

FUTURE_SLACK = timedelta(days=1)  # clocks and time zones differ; a later time is a wrong clock


class Ingestor:
    """Carries one ingest through its steps inside one transaction."""

    def __init__(self, store: Store, progress: Progress | None) -> None:
        self.store = store
        self.progress = progress or (lambda _message: None)
        # set by _merge_first for the entity just merged: how many key hashes repeat tonight
        # (in the temp table _repeated), which _record_duplicate_versions then narrows to
        self.repeated: int | None = None

    def run(
        self,
        bundle: Bundle,
        *,
        district: str,
        taken_at: datetime,
        sync_type: str,
        origin: Origin,
        source: str,
        district_name: str | None,
        allow_out_of_order: bool = False,
        snapshot_id: int | None = None,
        replaying: bool = False,
        written: Collection[str] = (),
        delta: OwnerDelta | None = None,
        evict_for_delta: bool = False,
    ) -> IngestResult:
        if sync_type not in spec.SYNC_TYPES:
            raise StoreError(f"sync type {sync_type!r} must be one of {', '.join(spec.SYNC_TYPES)}")
        if origin not in ORIGINS:
            raise StoreError(f"origin {origin!r} must be one of {', '.join(ORIGINS)}")
        taken_at = naive_utc(taken_at)
        history = self.store.snapshots(district)
        # A replayed snapshot is recorded even when it repeats the night before: it was a
        # night of its own.
        already = None if replaying else _already_ingested(history, bundle.sha256, taken_at)
        if already is not None:
            return IngestResult(already, False, tuple(self.store.findings(already.id)))
        if history and taken_at <= history[-1].taken_at and not allow_out_of_order:
            raise OutOfOrderError(_out_of_order(source, taken_at, district, history))
        seq = history[-1].seq + 1 if history else 1
        with self._keeping_raw(bundle, district, seq, evict_for_delta=evict_for_delta) as keeping:
            # Staged before the transaction when none is open (a plain ingest): into the
            # store's staging catalog, which a check's lanes read too (one transaction writes
            # one attached database). Files written from their parse tables stay TEMP.
            staged = None
            if not self.store.in_transaction and not written:
                staged = self._stage_files(bundle, written, shared=True)
            with self.store.transaction():
                snapshot = self._insert_snapshot(
                    bundle,
                    district,
                    district_name,
                    seq,
                    taken_at,
                    sync_type,
                    origin,
                    source,
                    snapshot_id,
                )
                if staged is None:
                    staged = self._stage_files(bundle, written, shared=False)
                keeping.parsed.set()
                ingest_findings = self._record_staging(bundle, snapshot, staged)
                self._merge_entities(bundle, snapshot, delta)
                keeping.keep()
                findings = tuple(ingest_findings)
                self.store.record_findings(snapshot.id, "ingest", findings)
                self.progress("committing")
        return IngestResult(snapshot, True, findings)

    def _insert_snapshot(
        self,
        bundle: Bundle,
        district: str,
        district_name: str | None,
        seq: int,
        taken_at: datetime,
        sync_type: str,
        origin: Origin,
        source: str,
        snapshot_id: int | None,
    ) -> SnapshotInfo:
        self.store.execute(
            "INSERT INTO districts (district, name, sync_type) VALUES (?, ?, ?) "
            "ON CONFLICT (district) DO UPDATE SET "
            "sync_type = excluded.sync_type, name = coalesce(excluded.name, districts.name)",
            [district, district_name, sync_type],
        )
        if snapshot_id is None:
            snapshot_id = self.store.rows("SELECT nextval('snapshot_ids')")[0][0]
        ingested_at = datetime.now(UTC).replace(tzinfo=None)
        self.store.execute(
            "INSERT INTO snapshots VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                snapshot_id,
                district,
                seq,
                taken_at,
                ingested_at,
                source,
                bundle.sha256,
                origin,
                sync_type,
            ],
        )
        return self.store.snapshot(snapshot_id)

    def _stage_files(
        self, bundle: Bundle, written: Collection[str], *, shared: bool
    ) -> list[FileStaging | None]:
        """Stage every parsable file (``shared``: into the staging catalog, see
        :func:`clear_staging`); how each file was staged, None for one not parsed."""
        clear_staging(self.store, shared=shared)
        found: list[FileStaging | None] = []
        for source in bundle.files:
            staged: FileStaging | None = None
            if source.parsable and source.spec_name in written:
                staged = stage_written(self.store, source)
            if source.parsable and staged is None:
                self.progress(f"parsing {source.name} ({source.size:,} bytes)")
                staged = stage_file(self.store, source)
            found.append(staged)
        return found

    def _record_staging(
        self, bundle: Bundle, snapshot: SnapshotInfo, staging: Sequence[FileStaging | None]
    ) -> list[Finding]:
        """Record the bundle's files and how each was staged; the bundle's findings (rows placed
        on data rows, hints worded for the district's sync type) and the parse's."""
        findings: list[Finding] = []
        breaks: dict[str, LineBreaks] = {}
        for source, staged in zip(bundle.files, staging, strict=True):
            if staged is not None:
                findings += staged.findings
                if staged.breaks and source.spec_name is not None:
                    breaks[source.spec_name] = LineBreaks.of(staged.breaks)
                self.store.execute(
                    "INSERT INTO file_staging VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        snapshot.id,
                        source.name,
                        staged.as_received,
                        list(staged.skipped),
                        list(staged.dropped),
                        [row for row, _ in staged.breaks],
                        [lines for _, lines in staged.breaks],
                    ],
                )
            entity = spec.entity_of_file(source.spec_name) if source.spec_name else None
            self.store.execute(
                "INSERT INTO snapshot_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    snapshot.id,
                    source.name,
                    source.spec_name,
                    entity,
                    source.sha256,
                    source.size,
                    staged.rows if staged else None,
                    source.encoding,
                    source.bom,
                    source.newline,
                    list(source.header),
                    naive_utc(source.mtime),
                ],
            )
        self.store.staged_snapshot = snapshot.id
        return [
            spec.for_sync_type(_on_data_row(f, breaks), snapshot.sync_type) for f in bundle.findings
        ] + findings

    def _merge_entities(
        self, bundle: Bundle, snapshot: SnapshotInfo, delta: OwnerDelta | None
    ) -> None:
        previous = self.store.rows(
            "SELECT id FROM snapshots WHERE district = ? AND seq = ?",
            [snapshot.district, snapshot.seq - 1],
        )
        if delta is not None and (not previous or previous[0][0] != delta.base_snapshot):
            self.progress("the events' base is not the previous night: merging in full")
            delta = None
        for entity in spec.ENTITIES.values():
            source = bundle.spec_file(entity.file)
            if source is None or not source.parsable:
                source = None
            self.progress(f"merging {entity.name}")
            opened, self.repeated = None, None
            if delta is not None:
                opened = self._merge_owners(entity, source, snapshot, delta)
            if opened is None:
                opened = self._merge(entity, source, snapshot)
            self._record_duplicate_versions(
                entity, snapshot, previous[0][0] if previous else None, opened
            )

    def _merge_owners(
        self,
        entity: spec.Entity,
        source: SourceFile | None,
        snapshot: SnapshotInfo,
        delta: OwnerDelta,
    ) -> int | None:
        """Merge only the rows of the owners the events touched (:mod:`rosterlab.store.delta`);
        return the versions opened, or None (saying why) when only the full merge is exact."""
        why = delta.why_not(entity, tuple(source.header) if source is not None else None)
        merged = None
        if why is None:
            counted = self.store.rows(
                "SELECT rows FROM snapshot_entities WHERE snapshot_id = ? AND entity = ?",
                [delta.base_snapshot, entity.name],
            )
            previous_rows = int(counted[0][0]) if counted else 0
            merged = merge_delta(self.store, entity, snapshot, delta, previous_rows)
            why = "a key the events touched is also held by another record"
        if merged is None:
            self.progress(f"{entity.name}: merged in full ({why})")
            return None
        rows, opened, closed = merged
        self.store.execute(
            "INSERT INTO snapshot_entities VALUES (?, ?, ?, ?, ?)",
            [snapshot.id, entity.name, rows, opened, closed],
        )
        return opened

    def _merge(self, entity: spec.Entity, source: SourceFile | None, snapshot: SnapshotInfo) -> int:
        """Close the versions that vanished, open the ones that appeared, count the rows.

        Returns how many versions were opened.
        """
        table = quote_ident(entity.name)
        district, seq = snapshot.district, snapshot.seq
        if source is not None and source.spec_name is not None:
            columns = ColumnMap.of(source.spec_name, source.header)
            if not self.store.rows(
                f"SELECT count(*) FROM (SELECT 1 FROM {table} "
                "WHERE district = ? AND valid_to IS NULL LIMIT 1)",
                [district],
            )[0][0]:
                return self._merge_first(entity, columns, source.spec_name, snapshot)
            hashed, params = hash_projection(entity, columns)
            tonight = (
                f"SELECT {hashed} FROM {staging_table(source.spec_name)} "
                f"WHERE {entity_filter(entity, columns)}"
            )
        else:
            tonight, params = "SELECT NULL::BIGINT AS _row, NULL::UBIGINT AS row_hash LIMIT 0", []
        # One hash join over tonight's rows and the open versions finds both sides of the change.
        self.store.execute(
            "CREATE OR REPLACE TEMP TABLE _delta AS "
            "SELECT c.row_hash AS new_hash, c._row AS first_row, o.row_hash AS old_hash "
            f"FROM ({tonight}) c FULL JOIN (SELECT row_hash FROM {table} "
            "WHERE district = ? AND valid_to IS NULL) o ON c.row_hash = o.row_hash "
            "WHERE c.row_hash IS NULL OR o.row_hash IS NULL",
            [*params, district],
        )
        counts = self.store.rows("SELECT count(old_hash), count(new_hash) FROM _delta")
        closed, unmatched = counts[0]
        if closed:
            self.store.execute(
                f"UPDATE {table} SET valid_to = ? FROM _delta d WHERE {table}.district = ? "
                f"AND {table}.valid_to IS NULL AND {table}.row_hash = d.old_hash",
                [seq - 1, district],
            )
        opened = self.store.written(
            "CREATE OR REPLACE TEMP TABLE _opened AS SELECT new_hash, min(first_row) AS first_row "
            "FROM _delta WHERE new_hash IS NOT NULL GROUP BY new_hash"
        )
        if opened and source is not None and source.spec_name is not None:
            select, params = projection(entity, columns)
            staged = staging_table(source.spec_name)
            # Every row of tonight opens a version of its own (a first night, typically): all of
            # them are inserted, without looking each one up among the rows opened.
            rows_of = f"WHERE {entity_filter(entity, columns)}"
            everyone = (
                unmatched == opened
                and unmatched == self.store.rows(f"SELECT count(*) FROM {staged} {rows_of}")[0][0]
            )
            column_list = ", ".join(quote_ident(c) for c in entity.columns)
            self.store.execute(
                f"INSERT INTO {table} (district, key, row_hash, valid_from, valid_to, "
                f"{column_list}, extra) "
                f"SELECT ?, key, row_hash, ?, NULL, {column_list}, extra "
                f"FROM (SELECT {select} FROM {staged} "
                f"{rows_of if everyone else 'WHERE _row IN (SELECT first_row FROM _opened)'})",
                [district, seq, *params],
            )
        rows = self.store.rows(
            f"SELECT count(*) FROM {table} WHERE district = ? AND valid_to IS NULL", [district]
        )[0][0]
        self.store.execute(
            "INSERT INTO snapshot_entities VALUES (?, ?, ?, ?, ?)",
            [snapshot.id, entity.name, int(rows), int(opened), int(closed)],
        )
        self.store.execute("DROP TABLE _delta")
        self.store.execute("DROP TABLE _opened")
        return int(opened)

    def _merge_first(
        self, entity: spec.Entity, columns: ColumnMap, spec_name: str, snapshot: SnapshotInfo
    ) -> int:
        """Open a version for every row tonight when the entity has no open version (the
        district's first night, typically): the merge's result without joining tonight's rows
        with the open versions or grouping them by hash. A row identical to an earlier row
        (the same key, then the same hash) opens none, as in :meth:`_merge`; such twins are
        looked for among the rows whose key's hash is repeated only.

        Returns how many versions were opened.
        """
        table = quote_ident(entity.name)
        staged = staging_table(spec_name)
        rows_of = f"WHERE {entity_filter(entity, columns)}"
        key = key_sql(entity, columns)
        self.repeated = self.store.written(
            f"CREATE OR REPLACE TEMP TABLE _repeated AS SELECT hash({key}) AS key_hash "
            f"FROM {staged} {rows_of} GROUP BY ALL HAVING count(*) > 1"
        )
        if self.repeated:
            hashed, hash_params = hash_projection(entity, columns)
            if self.store.written(
                f"CREATE OR REPLACE TEMP TABLE _twins AS SELECT _row FROM (SELECT {hashed} "
                f"FROM {staged} {rows_of} AND hash({key}) IN (SELECT key_hash FROM _repeated)) "
                "QUALIFY row_number() OVER (PARTITION BY row_hash ORDER BY _row) > 1",
                hash_params,
            ):
                rows_of += " AND _row NOT IN (SELECT _row FROM _twins)"
        select, params = projection(entity, columns)
        column_list = ", ".join(quote_ident(c) for c in entity.columns)
        opened = self.store.written(
            f"INSERT INTO {table} (district, key, row_hash, valid_from, valid_to, "
            f"{column_list}, extra) "
            f"SELECT ?, key, row_hash, ?, NULL, {column_list}, extra "
            f"FROM (SELECT {select} FROM {staged} {rows_of})",
            [snapshot.district, snapshot.seq, *params],
        )
        self.store.execute(
            "INSERT INTO snapshot_entities VALUES (?, ?, ?, ?, ?)",
            [snapshot.id, entity.name, opened, opened, 0],
        )
        self.store.execute("DROP TABLE IF EXISTS _twins")
        return opened

    def _record_duplicate_versions(
        self, entity: spec.Entity, snapshot: SnapshotInfo, previous: int | None, opened: int
    ) -> None:
        """Record tonight's versions of the keys two or more versions hold (``duplicate_versions``).

        A key becomes duplicated only through a version opened tonight and stays so only if it
        was last night, so after the first night just those keys are looked up in the key column
        (and nothing is scanned when there are none).
        """
        table = quote_ident(entity.name)
        district = snapshot.district
        repeated, self.repeated = self.repeated, None
        params: list[object]
        if repeated is not None:  # merged by _merge_first: every open version is tonight's
            if not repeated:
                self.store.execute("DROP TABLE _repeated")
                return
            candidates, params = "AND hash(key) IN (SELECT key_hash FROM _repeated)", []
        elif previous is None:  # the keys whose hash repeats, then those keys exactly
            candidates = (
                f"AND hash(key) IN (SELECT hash(key) FROM {table} WHERE district = ? "
                "AND valid_to IS NULL GROUP BY ALL HAVING count(*) > 1)"
            )
            params = [district]
        else:
            candidates = (
                f"AND key IN (SELECT key FROM {table} WHERE district = ? AND valid_from = ? "
                "UNION ALL SELECT key FROM duplicate_versions WHERE snapshot_id = ? AND entity = ?)"
            )
            params = [district, snapshot.seq, previous, entity.name]
            if (
                not opened
                and not self.store.rows(
                    "SELECT count(*) FROM duplicate_versions WHERE snapshot_id = ? AND entity = ?",
                    [previous, entity.name],
                )[0][0]
            ):
                return
        # Keys first (an aggregate holds far less than a window over every open version).
        if self.store.written(
            f"CREATE OR REPLACE TEMP TABLE _duplicated AS SELECT key FROM {table} "
            f"WHERE district = ? AND valid_to IS NULL {candidates} "
            "GROUP BY key HAVING count(*) > 1",
            [district, *params],
        ):
            self.store.execute(
                f"INSERT INTO duplicate_versions SELECT ?, ?, key, row_hash FROM {table} "
                "WHERE district = ? AND valid_to IS NULL "
                "AND key IN (SELECT key FROM _duplicated)",
                [snapshot.id, entity.name, district],
            )
        self.store.execute("DROP TABLE _duplicated")
        self.store.execute("DROP TABLE IF EXISTS _repeated")

    @contextmanager
    def _keeping_raw(
        self, bundle: Bundle, district: str, seq: int, *, evict_for_delta: bool
    ) -> Iterator[_Keeping]:
        """Keep the received files the raw store lacks, compressed in a worker beside the body.

        The body parses then merges, and sets the yielded ``parsed`` event once the parse is
        done; then, inside its transaction, ``keep()`` writes the blobs. The codec needs about
        twice a file's size in memory, so the largest file waits for that event: its codec never
        meets the parse's peak (DuckDB parsing that same file), while the other files and then
        the largest are compressed beside the parse and the merge. The worker never touches
        DuckDB: keyframes are read before it starts, blobs written by ``keep()``.

        With ``evict_for_delta`` (``api pull``, under its 1 GB limit), a largest file kept
        against a stored keyframe waits for ``keep()`` instead, after the merges, which evicts
        DuckDB's buffers while its codec runs (:meth:`Store.buffers_evicted`): the keyframe's
        content plus the new file or the verifying decoder's window (~2 × the file) would
        otherwise come on top of DuckDB's whole limit. A full frame has no keyframe to load and
        waits for the parse only. An upload leaves it off: the eviction would write the night's
        staging to disk before the checks read it back, unmeasured against the ingest and check
        targets (as the fleet's and the workbench's pulls, under their own limits).
        """
        kept = self.store.raw_kept([source.sha256 for source in bundle.files])
        jobs: list[tuple[SourceFile, tuple[str, int, bytes] | None]] = []
        for source in bundle.files:
            if source.sha256 not in kept:
                kept.add(source.sha256)
                jobs.append((source, self._stored_keyframe(source, district, seq)))
        jobs.sort(key=lambda job: job[0].size)  # the largest last
        evicting = evict_for_delta and bool(jobs) and jobs[-1][1] is not None
        largest = jobs[-1][0].name if jobs else ""
        parsed, stop, evicted = threading.Event(), threading.Event(), threading.Event()
        with ThreadPoolExecutor(max_workers=1) as pool:
            packing = pool.submit(_pack_files, jobs, evicted if evicting else parsed, stop)
            del jobs  # the worker owns the keyframes now and drops each once used

            def keep() -> None:
                if evicting:
                    with self.store.buffers_evicted():
                        self.progress(
                            f"keeping raw files ({largest} packed against its keyframe, "
                            "DuckDB's buffers evicted)"
                        )
                        evicted.set()
                        packed = packing.result()
                else:
                    self.progress("keeping raw files")
                    packed = packing.result()
                while packed:  # each blob freed once kept: the largest, last, meets no other
                    source, blob = packed.pop(0)
                    self.store.keep_raw(source.sha256, source.size, blob)
                    del blob

            try:
                yield _Keeping(parsed, keep)
            except BaseException:
                stop.set()
                raise
            finally:
                parsed.set()
                evicted.set()

    def _stored_keyframe(
        self, source: SourceFile, district: str, seq: int
    ) -> tuple[str, int, bytes] | None:
        """(sha256, bytes, data) of the keyframe behind the district's newest earlier version."""
        if source.spec_name is None:
            return None
        found = self.store.rows(
            "SELECT k.sha256 FROM snapshot_files f JOIN snapshots s ON s.id = f.snapshot_id "
            "JOIN raw_files r ON r.sha256 = f.sha256 "
            "JOIN raw_files k ON k.sha256 = coalesce(r.base_sha256, r.sha256) "
            "WHERE s.district = ? AND s.seq < ? AND f.spec_name = ? "
            "ORDER BY s.seq DESC LIMIT 1",
            [district, seq, source.spec_name],
        )
        if not found:
            return None
        stored = self.store.stored_raw(found[0][0])
        return None if stored is None else (found[0][0], stored[0], stored[1].data)


@dataclass(frozen=True)
class _Keeping:
    """The raw files being kept (:meth:`Ingestor._keeping_raw`): set ``parsed`` once the parse
    is done; ``keep()`` waits for the blobs and writes them (inside the ingest's transaction)."""

    parsed: threading.Event
    keep: Callable[[], None]


def _pack_files(
    jobs: list[tuple[SourceFile, tuple[str, int, bytes] | None]],
    last: threading.Event,
    stop: threading.Event,
) -> list[tuple[SourceFile, raw.Blob]]:
    """Compress files one at a time, smallest first; the largest once ``last`` is set (the
    parse done, or DuckDB's buffers evicted: :meth:`Ingestor._keeping_raw`)."""
    packed = []
    while jobs:
        if len(jobs) == 1:
            last.wait()  # a failed body sets it too, with stop
        if stop.is_set():
            break
        source, stored = jobs.pop(0)
        keyframe = _load_keyframe(source, *stored) if stored else None
        del stored
        packed.append(
            (source, raw.pack(source.name, source.path, source.sha256, source.size, keyframe))
        )
        del keyframe  # before the next file's keyframe is loaded
    return packed


def _load_keyframe(source: SourceFile, sha256: str, size: int, data: bytes) -> raw.Keyframe:
    try:
        return raw.load_keyframe(sha256, size, data)
    except StoreError as exc:
        raise StoreError(
            f"cannot keep {source.name}: the store's keyframe of it ({sha256[:12]}) is corrupt; "
            "run rosterlab doctor"
        ) from exc


def _out_of_order(
    source: str, taken_at: datetime, district: str, history: Sequence[SnapshotInfo]
) -> str:
    """Why a night older than the district's newest is refused, and what to do.

    A Data API pull is dated when it was pulled: a hand export of an earlier night that arrives
    after it belongs before it, and the pull stays what Clever serves after that night.
    """
    night = f"{source} was taken at {taken_at:%Y-%m-%d %H:%M}"
    later = [snapshot for snapshot in history if snapshot.taken_at >= taken_at]
    if all(snapshot.origin == "api" for snapshot in later):
        ids = ", ".join(str(snapshot.id) for snapshot in later)
        pulls = (
            f"pull, snapshot {ids} (pulled"
            if len(later) == 1
            else f"pulls, snapshots {ids} (the first pulled"
        )
        return (
            f"{night}, before district {district}'s Data API {pulls} "
            f"{later[0].taken_at:%Y-%m-%d %H:%M}): re-run with --rebuild to put the night in "
            "time order before the pull (what Clever served when it was pulled stays the served "
            "state after it)"
        )
    newest = history[-1]
    return (
        f"{night}, not after district {district}'s newest snapshot {newest.id} "
        f"({newest.taken_at:%Y-%m-%d %H:%M}): re-run with --rebuild to replay the district's "
        "history in time order"
    )


def _already_ingested(
    history: Sequence[SnapshotInfo], bundle_sha256: str, taken_at: datetime
) -> SnapshotInfo | None:
    """The snapshot this bundle already is: the newest one, or one taken at the same time.

    Re-ingesting a night is a no-op; a district re-sending an older night's exact files after a
    change is a real new night (a revert), so it is ingested.
    """
    for snapshot in reversed(history):
        if snapshot.bundle_sha256 == bundle_sha256 and (
            snapshot is history[-1] or snapshot.taken_at == taken_at
        ):
            return snapshot
    return None


def resolve_taken_at(
    bundle: Bundle,
    taken_at: datetime | None,
    *,
    allow_future: bool,
    source: str | None = None,
    dated_by: str = "given",
) -> tuple[datetime, str]:
    """The night's time and where it came from (a key of ``DATED_BY``): ``taken_at`` (as
    ``dated_by``), else the date in the bundle's name, else the newest file modification time,
    else now.

    A time more than a day ahead of now raises unless ``allow_future``: every later night would
    be "older than the newest" and refused. Call it before opening the store to leave no trace.
    """
    when, dated_by = _when(bundle, taken_at, dated_by)
    if not allow_future:
        origin_of_time = (
            "--taken-at"
            if taken_at
            else "the date in its name"
            if dated_by == "name"
            else "the newest file's modification time"
        )
        _refuse_future(
            naive_utc(when),
            source or bundle.source,
            origin_of_time,
            "fix the clock or pass --taken-at",
        )
    return when, dated_by


def _refuse_future(when: datetime, subject: str, origin: str, fix: str) -> None:
    """Raise when ``when`` (naive UTC) is more than :data:`FUTURE_SLACK` after now: a wrong
    clock, not a night (ingest and redate both refuse it unless --allow-future)."""
    now = datetime.now(UTC)
    if when > naive_utc(now + FUTURE_SLACK):
        raise TakenAtError(
            f"{subject} would be taken at {when:%Y-%m-%d %H:%M} UTC ({origin}), more than a day "
            f"after today ({now:%Y-%m-%d} UTC): {fix}, or re-run with --allow-future if it is "
            "right"
        )


def ingest_bundle(
    store: Store,
    bundle: Bundle,
    *,
    district: str,
    taken_at: datetime | None = None,
    sync_type: str | None = None,
    origin: Origin = "upload",
    source: str | None = None,
    district_name: str | None = None,
    progress: Progress | None = None,
    rebuild: bool = False,
    allow_future: bool = False,
    dated_by: str = "given",
    snapshot_id: int | None = None,
    written: Collection[str] = (),
    delta: OwnerDelta | None = None,
    evict_for_delta: bool = False,
) -> IngestResult:
    """Record ``bundle`` as the district's next snapshot (a no-op when already ingested).

    ``taken_at`` defaults to the date in the bundle's folder or zip name (``YYYY-MM-DD`` at
    02:00, or ``YYYY-MM-DDTHHMM``), else the newest file modification time (``dated_by`` of the
    result says which; a given ``taken_at`` is ``dated_by``). ``sync_type`` defaults to the
    district's known one, else ``sftp``. A night older than the district's newest is refused
    unless ``rebuild``, which replays the district's history from the raw files in time order.
    A time more than a day ahead of now is refused unless ``allow_future``
    (:func:`resolve_taken_at`). ``snapshot_id`` gives the new snapshot that id instead of the
    next from the sequence (a trial ingest that is rolled back leaves no gap). ``written``
    names spec files just written from their parse tables (``parsed_table``, c0..cN in file
    order): those are staged from the tables instead of being parsed back (``stage_written``).
    ``delta`` (an events pull's touched owners) merges each entity from their rows alone where
    that is exact (:mod:`rosterlab.store.delta`). ``evict_for_delta`` (``api pull``, under its
    1 GB limit) packs the largest raw file, when kept against a stored keyframe, after the
    merges with DuckDB's buffers evicted (``Ingestor._keeping_raw``); an upload leaves it off.
    """
    sync_type = sync_type or store.district_sync_type(district) or "sftp"
    when, dated_by = resolve_taken_at(
        bundle, taken_at, allow_future=allow_future, source=source, dated_by=dated_by
    )
    result = _ingest(
        store,
        bundle,
        district,
        when,
        sync_type,
        origin,
        source,
        district_name,
        progress,
        rebuild,
        snapshot_id,
        written,
        delta,
        evict_for_delta,
    )
    return replace(result, dated_by=dated_by)


def _when(bundle: Bundle, taken_at: datetime | None, dated_by: str) -> tuple[datetime, str]:
    """The night's time and where it came from (a key of ``DATED_BY``)."""
    if taken_at is not None:
        return taken_at, dated_by
    named = date_in_name(bundle.source)
    if named is not None:
        return named, "name"
    if bundle.newest_mtime is not None:
        return bundle.newest_mtime, "mtime"
    return datetime.now(UTC), "now"


def _ingest(
    store: Store,
    bundle: Bundle,
    district: str,
    when: datetime,
    sync_type: str,
    origin: Origin,
    source: str | None,
    district_name: str | None,
    progress: Progress | None,
    rebuild: bool,
    snapshot_id: int | None,
    written: Collection[str],
    delta: OwnerDelta | None,
    evict_for_delta: bool,
) -> IngestResult:
    ingestor = Ingestor(store, progress)
    args = _run_args(
        store,
        bundle,
        district=district,
        when=when,
        sync_type=sync_type,
        origin=origin,
        source=source,
        district_name=district_name,
        snapshot_id=snapshot_id,
        written=() if rebuild else written,  # a replay parses over the tables
        delta=None if rebuild else delta,
        evict_for_delta=evict_for_delta,
    )
    if not rebuild:
        return ingestor.run(bundle, **args)
    return _rebuild(store, ingestor, bundle, args)


def _run_args(
    store: Store,
    bundle: Bundle,
    *,
    district: str,
    when: datetime,
    sync_type: str,
    origin: Origin,
    source: str | None,
    district_name: str | None,
    snapshot_id: int | None = None,
    written: Collection[str] = (),
    delta: OwnerDelta | None = None,
    evict_for_delta: bool = False,
) -> dict[str, Any]:
    """``Ingestor.run``'s keywords for one night: a bundle rosterlab pushed for the district
    that comes back is origin ``corrected``."""
    if origin in ("upload", "pulled") and was_pushed(store, district, bundle.sha256):
        origin = "corrected"  # the district's night as rosterlab corrected and pushed it
    return {
        "district": district,
        "taken_at": when,
        "sync_type": sync_type,
        "origin": origin,
        "source": source or bundle.source,
        "district_name": district_name,
        "snapshot_id": snapshot_id,
        "written": written,
        "delta": delta,
        "evict_for_delta": evict_for_delta,
    }


def _rebuild(
    store: Store, ingestor: Ingestor, bundle: Bundle, args: dict[str, Any]
) -> IngestResult:
    """Replay a district's snapshots plus ``bundle`` in time order, as one transaction (a night
    after the newest needs no replay: it is ingested as every night is)."""
    district = args["district"]
    history = store.snapshots(district)
    new_at = naive_utc(args["taken_at"])
    already = _already_ingested(history, bundle.sha256, new_at)
    if already is not None:
        return IngestResult(already, False, tuple(store.findings(already.id)))
    if not history or new_at > history[-1].taken_at:
        return ingestor.run(bundle, **{**args, "taken_at": new_at})
    with store.transaction():
        (result,) = _replay(
            store,
            ingestor,
            district,
            {old.id: naive_utc(old.taken_at) for old in history},
            [(new_at, lambda: ingestor.run(bundle, **{**args, "taken_at": new_at}))],
        )
    return result


def ingest_bundles(
    store: Store,
    nights: Sequence[tuple[Bundle, dict[str, Any]]],
    *,
    progress: Progress | None = None,
    allow_future: bool = False,
) -> list[IngestResult]:
    """:func:`ingest_bundle` with ``rebuild`` for several nights of one district (a history
    folder's), replaying the district's history once: the nights older than its newest snapshot
    are put in their places in ONE replay (one transaction), then the later ones are ingested
    in order, as every night is; a night already ingested is a no-op. ``nights`` pairs each
    bundle with ``ingest_bundle``'s keywords (district, taken_at, sync_type, source,
    district_name, dated_by); the results come in ``nights``' order.
    """
    ingestor = Ingestor(store, progress)
    planned: list[tuple[Bundle, dict[str, Any], str]] = []
    for bundle, keywords in nights:
        district = keywords["district"]
        when, dated_by = resolve_taken_at(
            bundle,
            keywords.get("taken_at"),
            allow_future=allow_future,
            source=keywords.get("source"),
            dated_by=keywords.get("dated_by", "given"),
        )
        args = _run_args(
            store,
            bundle,
            district=district,
            when=naive_utc(when),
            sync_type=keywords.get("sync_type") or store.district_sync_type(district) or "sftp",
            origin=keywords.get("origin", "upload"),
            source=keywords.get("source"),
            district_name=keywords.get("district_name"),
        )
        planned.append((bundle, args, dated_by))
    if not planned:
        return []
    district = planned[0][1]["district"]
    history = store.snapshots(district)
    results: dict[int, IngestResult] = {}
    older: list[tuple[int, datetime, Callable[[], IngestResult]]] = []
    for i, (bundle, args, _) in enumerate(planned):
        already = _already_ingested(history, bundle.sha256, args["taken_at"])
        if already is not None:
            results[i] = IngestResult(already, False, tuple(store.findings(already.id)))
        elif history and args["taken_at"] <= history[-1].taken_at:
            older.append((i, args["taken_at"], partial(ingestor.run, bundle, **args)))
    if older:
        with store.transaction():
            replayed = _replay(
                store,
                ingestor,
                district,
                {old.id: naive_utc(old.taken_at) for old in history},
                [(at, run) for _, at, run in older],
            )
        results.update(zip([i for i, _, _ in older], replayed, strict=True))
    for i, (bundle, args, _) in enumerate(planned):
        if i not in results:  # after the newest: no replay
            results[i] = ingestor.run(bundle, **args)
    return [
        replace(
            results[i],
            # a night met already ingested is read after the replay (its night number moved)
            snapshot=results[i].snapshot
            if results[i].new
            else store.snapshot(results[i].snapshot.id),
            dated_by=dated_by,
        )
        for i, (_, _, dated_by) in enumerate(planned)
    ]


def _replay(
    store: Store,
    ingestor: Ingestor,
    district: str,
    times: dict[int, datetime],
    inserts: Sequence[tuple[datetime, Callable[[], IngestResult]]] = (),
) -> list[IngestResult]:
    """Re-ingest the district's snapshots named in ``times`` at those times, in time order.

    Their ids are kept; snapshots not named are dropped. ``inserts`` are new nights (each its
    time and how to ingest it), in time order, replayed in their places; their results are
    returned in that order. The caller holds the transaction.
    """
    history = store.snapshots(district)
    with tempfile.TemporaryDirectory(prefix="rosterlab-rebuild-") as tmp:
        folders = {}
        for old in history:
            if old.id in times:
                folders[old.id] = Path(tmp) / str(old.id)
                materialize(store, old.id, folders[old.id])
        dropped = [old.id for old in history if old.id not in times]
        forget_ids(store, district, dropped)  # reads the pulls' snapshots: before they go
        _forget_district(store, district, [old.id for old in history])
        forget_served(store, dropped)
        for table in ("field_profiles", "check_runs", "api_pulls", "api_pages"):
            store.execute(
                f"DELETE FROM {table} WHERE snapshot_id IN (SELECT unnest(?::INTEGER[]))",
                [dropped],
            )
        plan = sorted(
            ((times[old.id], old) for old in history if old.id in times), key=lambda item: item[0]
        )
        results: list[IngestResult] = []
        for taken_at, old in plan:
            while len(results) < len(inserts) and inserts[len(results)][0] < taken_at:
                results.append(inserts[len(results)][1]())
            with open_bundle(folders[old.id]) as replay:
                ingestor.run(
                    replay,
                    district=district,
                    taken_at=taken_at,
                    sync_type=old.sync_type,
                    origin=old.origin,
                    source=old.source,
                    district_name=None,
                    snapshot_id=old.id,
                    replaying=True,
                )
        results += [run() for _, run in inserts[len(results) :]]
        return results


def forget_snapshot(store: Store, snapshot_id: int) -> list[SnapshotInfo]:
    """Remove one snapshot; the district's other nights are replayed from their raw files.

    One transaction; the other snapshots keep their ids (their night numbers close up). The
    raw files stay (content-addressed). Returns the district's snapshots after.
    """
    gone = store.snapshot(snapshot_id)
    history = store.snapshots(gone.district)
    with store.transaction():
        _replay(
            store,
            Ingestor(store, None),
            gone.district,
            {old.id: old.taken_at for old in history if old.id != snapshot_id},
        )
    return store.snapshots(gone.district)


def redate_snapshot(
    store: Store, snapshot_id: int, taken_at: datetime, *, allow_future: bool = False
) -> list[SnapshotInfo]:
    """Give one snapshot another ``taken_at``; the district's history is replayed in the new
    time order from the raw files, in one transaction, every id kept. Returns the snapshots.

    A time more than a day ahead of now raises unless ``allow_future``, as at ingest."""
    moved = store.snapshot(snapshot_id)
    when = naive_utc(taken_at)
    if not allow_future:
        _refuse_future(when, f"snapshot {snapshot_id}", "--taken-at", "fix --taken-at")
    history = store.snapshots(moved.district)
    for other in history:
        if other.id != snapshot_id and other.taken_at == when:
            raise ConfigError(
                f"snapshot {other.id} (night {other.seq} of {moved.district}) is already taken "
                f"at {when:%Y-%m-%d %H:%M}: give another --taken-at"
            )
    with store.transaction():
        _replay(
            store,
            Ingestor(store, None),
            moved.district,
            {old.id: when if old.id == snapshot_id else old.taken_at for old in history},
        )
    return store.snapshots(moved.district)


def _forget_district(store: Store, district: str, snapshot_ids: list[int]) -> None:
    """Remove a district's derived history (raw files stay: they are content-addressed)."""
    for entity in spec.ENTITIES.values():
        store.execute(f"DELETE FROM {quote_ident(entity.name)} WHERE district = ?", [district])
    for table in (
        "snapshot_entities",
        "snapshot_files",
        "file_staging",
        "findings",
        "finding_row_lists",
        "duplicate_versions",
        "snapshot_outcomes",
    ):
        store.execute(
            f"DELETE FROM {table} WHERE snapshot_id IN (SELECT unnest(?::INTEGER[]))",
            [snapshot_ids],
        )
    store.execute("DELETE FROM snapshots WHERE district = ?", [district])


def _on_data_row(f: Finding, breaks: dict[str, LineBreaks]) -> Finding:
    """A bad-bytes finding found before parsing names its physical line: its row is the data
    row that line belongs to, once the file's multi-line values are known."""
    if f.code != "invalid-utf8-bytes" or f.row is None or f.entity not in spec.ENTITIES:
        return f
    lines = breaks.get(spec.ENTITIES[f.entity].file)
    return f if lines is None else replace(f, row=lines.row_at(f.row + 1))
