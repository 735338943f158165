"""An SCD2 delta: merge only the rows of the owners an events pull touched.

An events pull maps the owners its events may change twice — from the served state before
the events and after them (``rosterlab.api.mapping.map_owners``) — into tables holding their
rows as staging holds them (``_row``, ``c0..cN``). Per entity, the hashes of the rows before
minus those after close their versions at the previous night and the hashes after minus those
before open versions; every other open version carries over untouched, so the entity table is
not scanned beyond the keys.

That is the full merge's result only when the previous night is the events' base (its open
versions are the base's rows), the file's header is unchanged (a new or vanished ``ext.*`` key
changes every row's hash) and no other owner holds a row of a key the touched rows hold (then
a hash could be shared with a row that stays). Otherwise the entity is merged in full.
"""

from __future__ import annotations

from dataclasses import dataclass

from rosterlab import spec
from rosterlab.store.sql import quote_ident
from rosterlab.store.staging import (
    ColumnMap,
    entity_filter,
    hash_projection,
    key_sql,
    projection,
    staging_table,
)
from rosterlab.store.store import SnapshotInfo, Store


@dataclass(frozen=True)
class OwnedFile:
    """The touched owners' rows of one bundle file: its table and header."""

    table: str
    header: tuple[str, ...]


@dataclass(frozen=True)
class OwnerDelta:
    """The touched owners' rows before and after the events, per spec file, and the snapshot
    whose served state "before" is."""

    base_snapshot: int
    before: dict[str, OwnedFile]
    after: dict[str, OwnedFile]

    def why_not(self, entity: spec.Entity, header: tuple[str, ...] | None) -> str | None:
        """Why the entity needs the full merge (None: the delta is exact so far)."""
        before, after = self.before.get(entity.file), self.after.get(entity.file)
        if before is None and after is None and header is None:
            return None  # a file the mapping never writes (admins.csv)
        if before is None or after is None or header is None:
            return f"{entity.file} is new or gone"
        if not before.header == after.header == header:
            return f"{entity.file}'s columns changed"
        return None


def merge_delta(
    store: Store,
    entity: spec.Entity,
    snapshot: SnapshotInfo,
    delta: OwnerDelta,
    previous_rows: int,
) -> tuple[int, int, int] | None:
    """Merge the entity from the delta: (rows, opened, closed), or None when another owner
    holds a row of a touched key (then only the full merge is exact)."""
    before, after = delta.before.get(entity.file), delta.after.get(entity.file)
    if before is None or after is None:  # neither night has the file (OwnerDelta.why_not)
        return previous_rows, 0, 0
    columns = ColumnMap.of(entity.file, after.header)
    where = entity_filter(entity, columns)
    key = key_sql(entity, columns)
    store.execute(
        "CREATE OR REPLACE TEMP TABLE _delta_rows AS SELECT * FROM "
        f"(SELECT * FROM {before.table} UNION ALL SELECT * FROM {after.table}) WHERE {where}"
    )
    # Staged rows are narrowed by each key part's values first (a semi join per column), so
    # the key is built for the touched rows' candidates only, not for every row tonight.
    parts = [entity.within] if entity.within is not None else list(entity.key)
    narrowed = " AND ".join(
        f"coalesce({columns.value(part)}, '') IN "
        f"(SELECT coalesce({columns.value(part)}, '') FROM _delta_rows)"
        for part in parts
    )
    tonight, touched = store.rows(
        f"SELECT (SELECT count(*) FROM (SELECT * FROM {staging_table(entity.file)} "
        f"WHERE {where} AND {narrowed}) WHERE {key} IN (SELECT {key} FROM _delta_rows)), "
        f"(SELECT count(*) FROM {after.table} WHERE {where})"
    )[0]
    store.execute("DROP TABLE _delta_rows")
    if tonight != touched:
        return None
    table = quote_ident(entity.name)
    district, seq = snapshot.district, snapshot.seq
    hashed, params = hash_projection(entity, columns)
    store.execute(
        "CREATE OR REPLACE TEMP TABLE _delta AS "
        "SELECT a.row_hash AS new_hash, a._row AS first_row, b.row_hash AS old_hash "
        f"FROM (SELECT {hashed} FROM {after.table} WHERE {where}) a FULL JOIN "
        f"(SELECT DISTINCT row_hash FROM (SELECT {hashed} FROM {before.table} WHERE {where})) b "
        "ON a.row_hash = b.row_hash WHERE a.row_hash IS NULL OR b.row_hash IS NULL",
        [*params, *params],
    )
    closed = int(store.rows("SELECT count(old_hash) FROM _delta")[0][0])
    if closed:
        store.execute(
            f"UPDATE {table} SET valid_to = ? FROM _delta d WHERE {table}.district = ? "
            f"AND {table}.valid_to IS NULL AND {table}.row_hash = d.old_hash",
            [seq - 1, district],
        )
    opened = store.written(
        "CREATE OR REPLACE TEMP TABLE _opened AS SELECT new_hash, min(first_row) AS first_row "
        "FROM _delta WHERE new_hash IS NOT NULL GROUP BY new_hash"
    )
    if opened:
        select, params = projection(entity, columns)
        column_list = ", ".join(quote_ident(c) for c in entity.columns)
        store.execute(
            f"INSERT INTO {table} (district, key, row_hash, valid_from, valid_to, "
            f"{column_list}, extra) "
            f"SELECT ?, key, row_hash, ?, NULL, {column_list}, extra "
            f"FROM (SELECT {select} FROM {after.table} "
            "WHERE _row IN (SELECT first_row FROM _opened))",
            [district, seq, *params],
        )
    store.execute("DROP TABLE _delta")
    store.execute("DROP TABLE _opened")
    return previous_rows + opened - closed, opened, closed
