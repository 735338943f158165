"""What an API pull records beside its snapshot: the pull, its raw JSON pages, Clever ids.

Pages are kept in ``raw_files`` like received files (content-addressed, zstd), so the snapshot
can be re-derived from exactly what Clever served.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rosterlab.store.store import Store


@dataclass(frozen=True)
class KeptPage:
    """One raw JSON page of a pull."""

    step: str
    page: int
    uri: str
    path: Path
    sha256: str
    bytes: int
    records: int


@dataclass(frozen=True)
class ApiPull:
    """One pull, as recorded in ``api_pulls``."""

    snapshot_id: int
    target: str
    base_url: str
    version: str
    clever_district_id: str | None
    district_state: str | None
    sis_type: str | None
    last_sync: str | None
    pause_start: str | None
    pause_end: str | None
    scope: dict[str, int]
    pages: int
    requests: int
    rate_limit_waits: int
    started_at: datetime
    finished_at: datetime
    event_cursor: str | None  # None: events not served; "": served, none yet (all apply next)
    # since when the cursor is known to miss no event (None: ``started_at``); see confirm_cursor
    cursor_confirmed_at: datetime | None = None


def packed_path(page: Path, sha256: str) -> Path:
    """Where :func:`pack_page` leaves a page's compressed copy (named by content, never stale)."""
    return page.with_name(f"{sha256}.zst")


def pack_page(page: Path, sha256: str, size: int) -> None:
    """Compress a fetched page beside it ahead of :func:`record_pull` (checked like any raw
    file; no DuckDB, so a worker thread may do it while the next pages are fetched)."""
    from rosterlab.store import raw  # the codec loads only for a pull, not to read pulls

    blob = raw.pack(page.name, page, sha256, size, None)
    target = packed_path(page, sha256)
    partial = target.with_name(target.name + ".part")
    partial.write_bytes(blob.data)
    partial.replace(target)


_PULL_COLUMNS = (
    "snapshot_id, target, base_url, version, clever_district_id, district_state, sis_type, "
    "last_sync, pause_start, pause_end, scope, pages, requests, rate_limit_waits, started_at, "
    "finished_at, event_cursor, cursor_confirmed_at"
)


def record_pull(store: Store, pull: ApiPull, pages: Sequence[KeptPage]) -> None:
    """Record a pull and keep its pages (call inside the snapshot's transaction); a page
    compressed ahead by :func:`pack_page` is stored as packed."""
    values: list[Any] = [getattr(pull, name.strip()) for name in _PULL_COLUMNS.split(",")]
    values[10] = {"key": list(pull.scope), "value": list(pull.scope.values())}
    values[17] = pull.cursor_confirmed_at or pull.started_at
    store.execute(
        f"INSERT INTO api_pulls ({_PULL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "MAP(?::VARCHAR[], ?::BIGINT[]), ?, ?, ?, ?, ?, ?, ?)",
        [*values[:10], values[10]["key"], values[10]["value"], *values[11:]],
    )
    _keep_pages(store, pull.snapshot_id, pages)


def _keep_pages(store: Store, snapshot_id: int, pages: Sequence[KeptPage]) -> None:
    """A pull's pages as ``api_pages`` rows, in pull order, each page's blob kept once."""
    from rosterlab.store import raw  # the codec loads only for a pull, not to read pulls

    kept = store.raw_kept([p.sha256 for p in pages])
    for page in pages:
        if page.sha256 not in kept:
            kept.add(page.sha256)
            packed = packed_path(page.path, page.sha256)
            if packed.is_file():
                blob = raw.Blob(raw.FULL, packed.read_bytes())
            else:
                blob = raw.pack(page.path.name, page.path, page.sha256, page.bytes, None)
            store.keep_raw(page.sha256, page.bytes, blob)
        store.execute(
            "INSERT INTO api_pages VALUES (?, ?, ?, ?, ?, ?, ?)",
            [snapshot_id, page.step, page.page, page.uri, page.sha256, page.bytes, page.records],
        )


def take_pull(store: Store, pull: ApiPull, pages: Sequence[KeptPage]) -> None:
    """A later pull found served a state that maps to the bundle of this pull's snapshot
    (``pull.snapshot_id``) with the same Clever ids: this pull takes that state. Its pages
    become ``pages`` (an events pull's: this pull's own plus its event pages, a full pull's:
    those it fetched), its event cursor ``pull``'s, confirmed at ``pull``'s start (the events
    after it apply to those pages), and what it records of the district as served follows them
    (base URL, status, scope, page count); its own start, finish, requests and rate-limit waits
    stay. Call inside the later pull's transaction; the blobs of pages no pull keeps any more
    stay in ``raw_files``, as a forgotten snapshot's do."""
    store.execute(
        "UPDATE api_pulls SET base_url = ?, clever_district_id = ?, district_state = ?, "
        "sis_type = ?, last_sync = ?, pause_start = ?, pause_end = ?, "
        "scope = MAP(?::VARCHAR[], ?::BIGINT[]), pages = ?, event_cursor = ?, "
        "cursor_confirmed_at = ? WHERE snapshot_id = ?",
        [
            pull.base_url,
            pull.clever_district_id,
            pull.district_state,
            pull.sis_type,
            pull.last_sync,
            pull.pause_start,
            pull.pause_end,
            list(pull.scope),
            list(pull.scope.values()),
            len(pages),
            pull.event_cursor,
            pull.started_at,
            pull.snapshot_id,
        ],
    )
    store.execute("DELETE FROM api_pages WHERE snapshot_id = ?", [pull.snapshot_id])
    _keep_pages(store, pull.snapshot_id, pages)


def confirm_cursor(store: Store, snapshot_id: int, confirmed_at: datetime) -> None:
    """An events pull started at ``confirmed_at`` found no event after this pull's cursor: every
    event after it is newer than that, so Clever keeps them all for 30 days from then."""
    store.execute(
        "UPDATE api_pulls SET cursor_confirmed_at = greatest(cursor_confirmed_at, ?) "
        "WHERE snapshot_id = ?",
        [confirmed_at, snapshot_id],
    )


def pulls(store: Store, district: str) -> list[ApiPull]:
    """A district's recorded pulls, oldest first."""
    return _pulls(store, "s.district = ?", [district])


def pulled_as(store: Store, clever_district_id: str) -> list[str]:
    """The store's districts holding a pull of this Clever district, in name order."""
    return [
        district
        for (district,) in store.rows(
            "SELECT DISTINCT s.district FROM api_pulls p JOIN snapshots s ON s.id = p.snapshot_id "
            "WHERE p.clever_district_id = ? ORDER BY s.district",
            [clever_district_id],
        )
    ]


def pull_of(store: Store, snapshot_id: int) -> ApiPull | None:
    """The pull that made a snapshot (None: not an API snapshot)."""
    found = _pulls(store, "s.id = ?", [snapshot_id])
    return found[0] if found else None


def _pulls(store: Store, where: str, params: list[Any]) -> list[ApiPull]:
    rows = store.rows(
        f"SELECT {', '.join('p.' + c.strip() for c in _PULL_COLUMNS.split(','))} "
        f"FROM api_pulls p JOIN snapshots s ON s.id = p.snapshot_id WHERE {where} "
        "ORDER BY s.seq",
        params,
    )
    found = []
    for row in rows:
        values = list(row)
        values[10] = dict(values[10])  # scope: DuckDB returns a MAP as a dict already
        found.append(ApiPull(*values))
    return found


def kept_pages(
    store: Store, snapshot_id: int, folder: Path, *, write: bool = True
) -> list[KeptPage]:
    """A pull's kept pages, written back to ``folder`` as ``<step>-<page>.json``, in pull order
    (``write=False``: only listed, for a pull that records them again without reading them)."""
    folder.mkdir(parents=True, exist_ok=True)
    pages = []
    for step, page, uri, sha256, size, records in store.rows(
        "SELECT step, page, uri, sha256, bytes, records FROM api_pages WHERE snapshot_id = ? "
        "ORDER BY rowid",
        [snapshot_id],
    ):
        path = folder / f"{step}-{page:05d}.json"
        if write:
            with path.open("wb") as out:
                store.copy_raw(sha256, out)
        pages.append(KeptPage(step, page, uri, path, sha256, size, records))
    return pages


def keep_served(store: Store, district: str, snapshot_id: int) -> None:
    """Keep the objects in ``api_objects`` as the district's served state, the state of the
    pull that made ``snapshot_id`` (call inside its transaction)."""
    store.execute("DELETE FROM api_served WHERE district = ?", [district])
    compress_served(store, True)
    try:
        store.execute(
            "INSERT INTO api_served SELECT ?, step, id, j, v FROM api_objects", [district]
        )
    finally:
        compress_served(store, False)
    mark_served(store, district, snapshot_id)


def compress_served(store: Store, on: bool) -> None:
    """Served objects' JSON (~1.5 GB at 1M students) compressed with zstd while they are
    written (``on``), DuckDB's own choice again after: half the CPU of its choice (FSST),
    about the same size on disk."""
    store.execute("SET force_compression = 'zstd'" if on else "RESET force_compression")


def pending_served(district: str) -> str:
    """The ``district`` of the served rows a full pull writes as it loads its pages (a line
    break: never a district's id); :func:`adopt_served` makes them the district's, or
    :func:`drop_pending` drops them."""
    return f"{district}\n(pull in progress)"


def adopt_served(store: Store, district: str, snapshot_id: int) -> None:
    """The full pull's pending served rows become the district's kept served state, the
    state of the pull that made ``snapshot_id``: the objects are written once, not copied
    (call inside the snapshot's transaction)."""
    store.execute("DELETE FROM api_served WHERE district = ?", [district])
    store.execute(
        "UPDATE api_served SET district = ? WHERE district = ?",
        [district, pending_served(district)],
    )
    mark_served(store, district, snapshot_id)


def drop_pending(store: Store, district: str) -> None:
    """Drop a full pull's pending served rows (its snapshot was not new, or it failed)."""
    store.execute("DELETE FROM api_served WHERE district = ?", [pending_served(district)])


def mark_served(store: Store, district: str, snapshot_id: int) -> None:
    """Say the district's kept served state is that of the pull that made ``snapshot_id``."""
    store.execute("DELETE FROM api_served_of WHERE district = ?", [district])
    store.execute("INSERT INTO api_served_of VALUES (?, ?)", [district, snapshot_id])


def served_of(store: Store, district: str) -> int | None:
    """The snapshot whose pull the district's kept served state is (None: none kept)."""
    found = store.rows("SELECT snapshot_id FROM api_served_of WHERE district = ?", [district])
    return int(found[0][0]) if found else None


def forget_served(store: Store, snapshot_ids: Sequence[int]) -> None:
    """Drop the served state kept for any of these snapshots (they are being removed)."""
    gone = "(SELECT unnest(?::INTEGER[]))"
    store.execute(
        "DELETE FROM api_served WHERE district IN "
        f"(SELECT district FROM api_served_of WHERE snapshot_id IN {gone})",
        [list(snapshot_ids)],
    )
    store.execute(f"DELETE FROM api_served_of WHERE snapshot_id IN {gone}", [list(snapshot_ids)])


def forget_ids(store: Store, district: str, snapshot_ids: Sequence[int]) -> None:
    """Take the district's pulls among ``snapshot_ids`` out of its ``api_ids`` intervals (they
    are being removed; call it while their ``snapshots`` and ``api_pulls`` rows are still there).

    Each interval keeps the pulls left in it (none: the row goes), runs that a removed pull kept
    apart become one row, and a pair the newest pull left serves is open again. One pass over the
    district's rows, only when a pull is removed; the other pulls' ids stay what they were.
    """
    pulls = [
        snapshot_id
        for (snapshot_id,) in store.rows(
            "SELECT p.snapshot_id FROM api_pulls p JOIN snapshots s ON s.id = p.snapshot_id "
            "WHERE s.district = ? ORDER BY 1",
            [district],
        )
    ]
    gone = set(snapshot_ids)
    if not gone.intersection(pulls):
        return
    kept = [pull for pull in pulls if pull not in gone]
    # per pull (kept or not): the rank among the kept of the first kept pull at or after it
    # (``up``) and of the last kept pull at or before it (``down``), NULL where there is none
    up, down, rank = [], [], 0
    for pull in pulls:
        up.append(rank + 1 if rank < len(kept) else None)
        if pull not in gone:
            rank += 1
            up[-1] = rank
        down.append(rank or None)
    store.execute(
        "CREATE OR REPLACE TEMP TABLE _runs AS "
        "WITH m AS (SELECT unnest(?::INTEGER[]) AS id, unnest(?::BIGINT[]) AS up, "
        "unnest(?::BIGINT[]) AS down), "
        "r AS (SELECT i.entity, i.sis_id, i.clever_id, f.up AS lo, t.down AS hi FROM api_ids i "
        "JOIN m f ON f.id = i.valid_from JOIN m t ON t.id = coalesce(i.valid_to, ?) "
        "WHERE i.district = ?), "
        "s AS (SELECT *, coalesce(lo <> lag(hi) OVER (PARTITION BY entity, sis_id, clever_id "
        "ORDER BY lo) + 1, true) AS fresh FROM r WHERE lo <= hi), "
        "g AS (SELECT *, sum(fresh::INTEGER) OVER (PARTITION BY entity, sis_id, clever_id "
        "ORDER BY lo) AS run FROM s) "
        "SELECT entity, sis_id, clever_id, min(lo) AS lo, max(hi) AS hi FROM g "
        "GROUP BY entity, sis_id, clever_id, run",
        [pulls, up, down, pulls[-1], district],
    )
    store.execute("DELETE FROM api_ids WHERE district = ?", [district])
    store.execute(
        "INSERT INTO api_ids SELECT ?, r.entity, r.sis_id, r.clever_id, f.id, "
        "CASE WHEN r.hi = ? THEN NULL ELSE t.id END FROM _runs r "
        "JOIN (SELECT unnest(?::INTEGER[]) AS id, generate_subscripts(?::INTEGER[], 1) AS n) f "
        "ON f.n = r.lo "
        "JOIN (SELECT unnest(?::INTEGER[]) AS id, generate_subscripts(?::INTEGER[], 1) AS n) t "
        "ON t.n = r.hi",
        [district, len(kept), kept, kept, kept, kept],
    )
    store.execute("DROP TABLE _runs")
