"""``rosterlab doctor``: an integrity check of a history store, read-only and set-based.

It checks what an ingest promises to leave behind — one transaction each, so after any crash:
schema migrations complete; every snapshot's ``snapshot_files`` add up to the bundle it recorded
and it has one ``snapshot_entities`` row per entity; every received file has its raw blob, and
(unless ``quick``) the blob decodes to bytes with that sha256; the SCD2 tables keep their
invariants (``valid_from <= valid_to``, no version open twice, intervals within the district's
nights, row counts per night equal ``snapshot_entities``); seqs run 1, 2, 3... per district;
``api_ids`` intervals begin and end at the district's pulls, no Clever id kept twice at once.

Each problem is one line saying what is wrong and what to do. The store is opened read-only and
without migrating, so a store that needs an upgrade is reported rather than upgraded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rosterlab import spec
from rosterlab.bundle.digest import bundle_sha256
from rosterlab.errors import RosterlabError, StoreError
from rosterlab.store import files
from rosterlab.store.schema import duplicate_versions_sql, migrations
from rosterlab.store.sql import quote_ident
from rosterlab.store.store import Store

API_ID_INTERVALS = 17  # the migration that made api_ids intervals
LISTED = 20  # problems listed per check; the rest are counted in one more line
RESTORE = "restore the store from a backup, or re-create it by ingesting the district's nights"
STATE_TABLES = ("snapshots", "findings", "check_runs", "pushes", "ledger", "raw_files")
REQUIRED_TABLES = ("schema_migrations", "snapshots", "snapshot_files", "snapshot_entities")


@dataclass(frozen=True)
class Problem:
    """One integrity problem: which check found it, where, and one line saying what to do."""

    check: str
    message: str
    district: str | None = None
    snapshot: int | None = None
    entity: str | None = None


@dataclass(frozen=True)
class DoctorReport:
    """The result of a check: what was looked at and every problem found (none = healthy)."""

    store: str
    quick: bool
    districts: int
    snapshots: int
    versions: int
    raw_files: int
    raw_files_decoded: int
    problems: tuple[Problem, ...]
    notes: tuple[str, ...] = ()  # worth knowing, not a problem (the store is healthy)

    @property
    def healthy(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "healthy": self.healthy}


def open_for_check(
    path: str | Path,
    *,
    memory_limit: str | None = None,
    threads: int | None = None,
    wait: float = files.DEFAULT_WAIT,
    on_wait: files.Waiting | None = None,
) -> Store:
    """Open the store file itself read-only, without migrating it (a pending migration is a
    finding here); it waits up to ``wait`` seconds for a writer to finish."""
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"no store at {path}: check --store or ROSTERLAB_STORE")
    store = Store.connect(
        path,
        read_only=True,
        memory_limit=memory_limit,
        threads=threads,
        migrate=False,
        published=False,
        wait=wait,
        on_wait=on_wait,
    )
    try:
        store.refuse_foreign()
    except BaseException:
        store.close()
        raise
    return store


def check_store(store: Store, *, quick: bool = False) -> DoctorReport:
    """Run every check on an open store; ``quick`` skips decoding the raw blobs."""
    tables = {row[0] for row in store.rows("SELECT table_name FROM duckdb_tables()")}
    missing = [t for t in REQUIRED_TABLES if t not in tables]
    if "snapshots" in missing:
        raise StoreError(f"{store.path} is not a rosterlab store (no snapshots table)")
    problems = list(_migrations(store, tables))
    if missing or _applied(store, tables) - {version for version, _, _ in migrations()}:
        return _report(store, tables, quick, 0, problems)  # a newer schema: checks would misread
    notes: list[str] = []
    if not problems:  # a pending migration already says what readers need
        found, notes = _published(store, tables)
        problems += found
    problems += _limited(_seqs(store))
    problems += _limited(_bundles(store))
    problems += _limited(_entity_rows_present(store))
    problems += _limited(_orphans(store, tables))
    decoded = 0
    if "raw_files" in tables:
        problems += _limited(_raw_present(store))
        if "raw_file_parts" in tables:
            problems += _limited(_raw_parts_owned(store))
        if not quick:
            decoded, found = _raw_decodes(store)
            problems += _limited(iter(found))
    if API_ID_INTERVALS in _applied(store, tables):
        problems += _limited(_api_ids(store))
    for entity in spec.ENTITIES.values():
        if entity.name in tables:
            problems += _limited(_scd2(store, entity.name))
            problems += _limited(_counts(store, entity.name))
            if "duplicate_versions" in tables:
                problems += _limited(_duplicate_versions(store, entity))
    return _report(store, tables, quick, decoded, problems, notes)


def _report(
    store: Store,
    tables: set[str],
    quick: bool,
    decoded: int,
    problems: list[Problem],
    notes: Sequence[str] = (),
) -> DoctorReport:
    def count(table: str, what: str = "*") -> int:
        if table not in tables:  # a missing table is a problem reported already
            return 0
        return int(store.rows(f"SELECT count({what}) FROM {quote_ident(table)}")[0][0])

    return DoctorReport(
        store=str(store.path),
        quick=quick,
        districts=count("snapshots", "DISTINCT district"),
        snapshots=count("snapshots"),
        versions=sum(count(entity) for entity in spec.ENTITIES),
        raw_files=count("raw_files"),
        raw_files_decoded=decoded,
        problems=tuple(problems),
        notes=tuple(notes),
    )


def _limited(found: Iterator[Problem]) -> list[Problem]:
    """The first LISTED problems of a check, then one line counting the rest."""
    listed: list[Problem] = []
    extra = 0
    for problem in found:
        if len(listed) < LISTED:
            listed.append(problem)
        else:
            extra += 1
    if extra:
        last = listed[-1]
        listed.append(Problem(last.check, f"... and {extra} more {last.check} problems like these"))
    return listed


def _night(district: str, seq: int, snapshot: int) -> str:
    return f"snapshot {snapshot} ({district} night {seq})"


# --- the checks ------------------------------------------------------------------------------


def _applied(store: Store, tables: set[str]) -> set[int]:
    if "schema_migrations" not in tables:
        return set()
    return {row[0] for row in store.rows("SELECT version FROM schema_migrations")}


def _migrations(store: Store, tables: set[str]) -> Iterator[Problem]:
    known = {version: name for version, name, _ in migrations()}
    applied = _applied(store, tables)
    for version in sorted(set(known) - applied):
        yield Problem(
            "migrations",
            f"schema migration {version} ({known[version]}) is not applied: run any rosterlab "
            "ingest once (re-ingesting the latest night changes nothing) to apply it",
        )
    for version in sorted(applied - set(known)):
        yield Problem(
            "migrations",
            f"schema migration {version} is unknown to this rosterlab: the store was written by a "
            "newer version; upgrade rosterlab",
        )


def _published(store: Store, tables: set[str]) -> tuple[list[Problem], list[str]]:
    """Readers open the copy the last writer published: a problem when they cannot (they then
    read the store file and make writers wait), a note when it is behind (a writer killed
    between its commit and publishing it; the next write publishes again)."""
    copy = files.published_path(store.path)
    if not copy.is_file():
        state = "is missing"
    else:
        try:
            with Store.open(store.path, read_only=True) as reader:  # opens the copy
                behind = _state(reader, tables) != _state(store, tables)
        except RosterlabError as exc:
            state = f"cannot be read ({exc.message})"
        else:
            if behind:
                return [], [
                    f"the copy readers open, {copy}, holds an older state than the store: "
                    "notebooks and reports see it until the next rosterlab ingest (or any "
                    "write) publishes again"
                ]
            return [], []
    return [
        Problem(
            "published",
            f"the copy readers open, {copy}, {state}: readers open the store file instead and "
            "make the nightly ingest wait; the next rosterlab ingest (or any write) publishes it",
        )
    ], []


def _state(store: Store, tables: set[str]) -> tuple[int, ...]:
    """Rows in the tables every write adds to: equal in the copy when it is current."""
    kept = [t for t in STATE_TABLES if t in tables]
    counts = " UNION ALL ".join(
        f"SELECT {i} AS i, count(*) AS n FROM {quote_ident(t)}" for i, t in enumerate(kept)
    )
    return tuple(row[0] for row in store.rows(f"SELECT n FROM ({counts}) ORDER BY i"))


def _seqs(store: Store) -> Iterator[Problem]:
    """Seqs run 1, 2, 3... per district, and every district is registered."""
    for district, seq, snapshot, expected in store.rows(
        "SELECT district, seq, id, row_number() OVER (PARTITION BY district ORDER BY seq) AS n "
        "FROM snapshots QUALIFY seq <> n ORDER BY district, seq"
    ):
        yield Problem(
            "seqs",
            f"{_night(district, seq, snapshot)} should be night {expected}: the district's "
            f"nights are not numbered 1, 2, 3...; {RESTORE}",
            district,
            snapshot,
        )
    for (district,) in store.rows(
        "SELECT DISTINCT district FROM snapshots WHERE district NOT IN "
        "(SELECT district FROM districts) ORDER BY district"
    ):
        yield Problem(
            "seqs",
            f"district {district} has snapshots but no districts row; {RESTORE}",
            district,
        )


def _bundles(store: Store) -> Iterator[Problem]:
    """A snapshot's files add up to the bundle sha256 it recorded (as the bundle reader does)."""
    for snapshot, district, seq, recorded, names, hashes in store.rows(
        "SELECT s.id, s.district, s.seq, s.bundle_sha256, list(f.name) FILTER (f.name IS NOT "
        "NULL), list(f.sha256) FILTER (f.name IS NOT NULL) FROM snapshots s LEFT JOIN "
        "snapshot_files f ON f.snapshot_id = s.id GROUP BY ALL ORDER BY s.id"
    ):
        if bundle_sha256(zip(names or [], hashes or [], strict=True)) != recorded:
            yield Problem(
                "snapshot-files",
                f"{_night(district, seq, snapshot)}: its snapshot_files ({len(names or [])} "
                f"files) do not add up to the bundle it recorded; {RESTORE}",
                district,
                snapshot,
            )


def _entity_rows_present(store: Store) -> Iterator[Problem]:
    """One snapshot_entities row per snapshot and entity."""
    for snapshot, district, seq, entity in store.rows(
        "SELECT s.id, s.district, s.seq, e.entity FROM snapshots s "
        "CROSS JOIN (SELECT unnest(?::VARCHAR[]) AS entity) e "
        "ANTI JOIN snapshot_entities se ON se.snapshot_id = s.id AND se.entity = e.entity "
        "ORDER BY s.id, e.entity",
        [list(spec.ENTITIES)],
    ):
        yield Problem(
            "snapshot-entities",
            f"{_night(district, seq, snapshot)} has no snapshot_entities row for {entity}; "
            f"{RESTORE}",
            district,
            snapshot,
            entity,
        )


def _orphans(store: Store, tables: set[str]) -> Iterator[Problem]:
    """Rows that name a snapshot the store does not hold (a half-removed snapshot)."""
    for table in (
        "snapshot_files",
        "file_staging",
        "snapshot_entities",
        "findings",
        "finding_row_lists",
        "duplicate_versions",
        "snapshot_outcomes",
    ):
        if table not in tables:
            continue
        for snapshot, rows in store.rows(
            f"SELECT snapshot_id, count(*) FROM {table} WHERE snapshot_id NOT IN "
            "(SELECT id FROM snapshots) GROUP BY ALL ORDER BY snapshot_id"
        ):
            yield Problem(
                "orphans",
                f"{table} has {rows} rows of snapshot {snapshot}, which does not exist; {RESTORE}",
                snapshot=snapshot,
            )


def _raw_parts_owned(store: Store) -> Iterator[Problem]:
    """Every stored part belongs to a kept raw file (a part without one is a half-removed blob)."""
    for sha256, parts in store.rows(
        "SELECT sha256, count(*) FROM raw_file_parts "
        "WHERE sha256 NOT IN (SELECT sha256 FROM raw_files) GROUP BY ALL ORDER BY sha256"
    ):
        yield Problem(
            "orphans",
            f"raw_file_parts has {parts} part{'s' if parts > 1 else ''} of raw file "
            f"{sha256[:12]}, which is not kept; "
            f"{RESTORE}",
        )


def _raw_present(store: Store) -> Iterator[Problem]:
    """Every received file has its raw blob, of the recorded size."""
    for sha256, snapshot, name, size, kept in store.rows(
        "SELECT f.sha256, min(f.snapshot_id), min(f.name), min(f.bytes), min(r.bytes) "
        "FROM snapshot_files f LEFT JOIN raw_files r ON r.sha256 = f.sha256 "
        "GROUP BY f.sha256 HAVING min(r.bytes) IS DISTINCT FROM min(f.bytes) "
        "OR count(DISTINCT f.bytes) > 1 ORDER BY 2, 3"
    ):
        what = "is missing" if kept is None else f"holds {kept:,} bytes, not {size:,}"
        yield Problem(
            "raw-files",
            f"raw file {sha256[:12]} ({name} of snapshot {snapshot}) {what}: export and push of "
            f"that night will fail; {RESTORE}",
            snapshot=snapshot,
        )


def _raw_decodes(store: Store) -> tuple[int, list[Problem]]:
    """Decode every kept blob and hash it (the expensive part; ``--quick`` skips it)."""
    problems = []
    kept = store.rows("SELECT sha256, bytes FROM raw_files ORDER BY sha256")
    for sha256, size in kept:
        try:
            data = store.raw_bytes(sha256)
        except StoreError as exc:  # the raw store checks what it decodes and says what is wrong
            problems.append(_corrupt(sha256, f"cannot be read ({exc.message})"))
            continue
        if len(data) != size or hashlib.sha256(data).hexdigest() != sha256:
            problems.append(_corrupt(sha256, "decodes to other bytes than were received"))
    return len(kept), problems


def _corrupt(sha256: str, what: str) -> Problem:
    return Problem(
        "raw-files",
        f"raw file {sha256[:12]} {what}: export of the nights holding it is lost; {RESTORE}",
    )


def _scd2(store: Store, entity: str) -> Iterator[Problem]:
    """Intervals well-formed, within the district's nights, no version present twice at once."""
    table = quote_ident(entity)
    for district, key, valid_from, valid_to, last in store.rows(
        f"SELECT v.district, v.key, v.valid_from, v.valid_to, n.last FROM {table} v "
        "LEFT JOIN (SELECT district, max(seq) AS last FROM snapshots GROUP BY ALL) n "
        "USING (district) WHERE n.last IS NULL OR v.valid_from < 1 OR v.valid_from > n.last "
        "OR v.valid_to < v.valid_from OR v.valid_to > n.last ORDER BY ALL"
    ):
        nights = f"1..{last}" if last is not None else "none"
        yield Problem(
            "scd2",
            f"{entity} {key!r} of district {district} has interval [{valid_from}, {valid_to}] "
            f"outside its nights ({nights}) or reversed; {RESTORE}",
            district,
            entity=entity,
        )
    for district, key, valid_from in store.rows(
        f"SELECT district, key, valid_from FROM (SELECT district, key, valid_from, "
        "lag(coalesce(valid_to, 2147483647)) OVER (PARTITION BY district, row_hash "
        f"ORDER BY valid_from, valid_to NULLS LAST) AS before FROM {table}) "
        "WHERE before >= valid_from ORDER BY ALL"
    ):
        yield Problem(
            "scd2",
            f"{entity} {key!r} of district {district}: the same version is present twice from "
            f"night {valid_from} (ingest would mis-close it); {RESTORE}",
            district,
            entity=entity,
        )


def _api_ids(store: Store) -> Iterator[Problem]:
    """Clever id intervals begin and end at pulls of their district, in order, and no pair is
    served twice at once (``api_ids_of`` would read it twice)."""
    pulls = "(SELECT p.snapshot_id FROM api_pulls p JOIN snapshots s ON s.id = p.snapshot_id "
    for district, entity, sis_id, valid_from, valid_to in store.rows(
        f"SELECT district, entity, sis_id, valid_from, valid_to FROM api_ids i "
        f"WHERE valid_from NOT IN {pulls}WHERE s.district = i.district) "
        f"OR valid_to NOT IN {pulls}WHERE s.district = i.district) "
        "OR valid_to < valid_from ORDER BY ALL"
    ):
        yield Problem(
            "api-ids",
            f"{entity} {sis_id!r} of district {district} has Clever id interval "
            f"[{valid_from}, {valid_to}], not between two of the district's api pulls; {RESTORE}",
            district,
            entity=entity,
        )
    for district, entity, sis_id, valid_from in store.rows(
        "SELECT district, entity, sis_id, valid_from FROM (SELECT *, "
        "lag(coalesce(valid_to, 2147483647)) OVER (PARTITION BY district, entity, sis_id, "
        "clever_id ORDER BY valid_from, valid_to NULLS LAST) AS before FROM api_ids) "
        "WHERE before >= valid_from ORDER BY ALL"
    ):
        yield Problem(
            "api-ids",
            f"{entity} {sis_id!r} of district {district}: the same Clever id is kept twice from "
            f"pull {valid_from} (reconcile would read it twice); {RESTORE}",
            district,
            entity=entity,
        )


def _duplicate_versions(store: Store, entity: spec.Entity) -> Iterator[Problem]:
    """The versions recorded as sharing their key with another are those the history holds so."""
    for snapshot, district, seq, recorded, held in store.rows(
        f"WITH held AS ({duplicate_versions_sql(entity)}), "
        "recorded AS (SELECT snapshot_id, entity, key, row_hash FROM duplicate_versions "
        "WHERE entity = ?), "
        "wrong AS (SELECT DISTINCT id FROM ((FROM held EXCEPT FROM recorded) "
        "UNION ALL (FROM recorded EXCEPT FROM held))) "
        "SELECT s.id, s.district, s.seq, "
        "(SELECT count(*) FROM recorded r WHERE r.snapshot_id = s.id), "
        "(SELECT count(*) FROM held h WHERE h.id = s.id) "
        "FROM wrong w JOIN snapshots s ON s.id = w.id ORDER BY s.id",
        [entity.name],
    ):
        yield Problem(
            "duplicate-versions",
            f"{_night(district, seq, snapshot)}: duplicate_versions records {recorded} "
            f"{entity.name} versions sharing a key but the history holds {held}; {RESTORE}",
            district,
            snapshot,
            entity.name,
        )


def _counts(store: Store, entity: str) -> Iterator[Problem]:
    """Rows present per night, versions opened and closed, equal snapshot_entities."""
    table = quote_ident(entity)
    for snapshot, district, seq, counted, recorded in store.rows(
        "WITH events AS ("
        f"  SELECT district, valid_from AS seq, 1 AS delta, 1 AS opened, 0 AS closed FROM {table}"
        "  UNION ALL"
        "  SELECT district, valid_to + 1, -1, 0, 1 FROM " + table + " WHERE valid_to IS NOT NULL),"
        " per_night AS (SELECT district, seq, sum(delta) AS delta, sum(opened) AS opened,"
        "  sum(closed) AS closed FROM events GROUP BY ALL),"
        " counted AS (SELECT s.id, s.district, s.seq,"
        "  sum(coalesce(p.delta, 0)) OVER (PARTITION BY s.district ORDER BY s.seq) AS rows,"
        "  coalesce(p.opened, 0) AS opened, coalesce(p.closed, 0) AS closed"
        "  FROM snapshots s LEFT JOIN per_night p ON p.district = s.district AND p.seq = s.seq)"
        " SELECT c.id, c.district, c.seq, [c.rows, c.opened, c.closed],"
        "  [e.rows, e.versions_added, e.versions_closed]"
        " FROM counted c JOIN snapshot_entities e ON e.snapshot_id = c.id AND e.entity = ?"
        " WHERE [c.rows, c.opened, c.closed] <> [e.rows, e.versions_added, e.versions_closed]"
        " ORDER BY c.id",
        [entity],
    ):
        yield Problem(
            "counts",
            f"{_night(district, seq, snapshot)}: {entity} history gives rows/opened/closed "
            f"{'/'.join(map(str, counted))} but snapshot_entities records "
            f"{'/'.join(map(str, recorded))}; {RESTORE}",
            district,
            snapshot,
            entity,
        )
