"""The snapshot diff, set-based in DuckDB, at the cost of the changes rather than the district.

A version is present at night ``s`` iff ``valid_from <= s`` and ``valid_to`` is NULL or ``>= s``.
A diff of nights ``a → b`` reads three small sets per entity, never a whole snapshot:

* ``L``: versions present at ``a`` and not at ``b`` (consecutive nights: ``valid_to = a``).
  Their rows lie scattered over the table, so reading any value column decodes nearly all of
  it: an entity whose removed records may be re-keys reads L's values in the same scan (nearly
  all of them are needed), enrollments read key and hash only and fetch the few values needed
  after;
* ``R``: versions present at ``b`` and not at ``a`` (consecutive nights: ``valid_from = b``;
  appended together by the ingest, so cheap to read whole);
* ``S``: versions present at both ends whose key is in ``L`` or ``R``. A touched key can still
  hold an untouched version when it is duplicated (two versions with one key at once); without
  ``S`` a vanished duplicate would read as a removed record.

A row hash in both ``L`` and ``R`` is content that left and came back between ``a`` and ``b``:
it is present at both ends, so it joins ``S``. Per key, the version with the lowest ``row_hash``
stands for the key at each end (deterministic under duplicates); two representatives differ when
a value differs, NULL-safe, in a spec column or in the ``extra`` map (ext.* and unknown columns;
a missing entry is NULL). Untouched keys are unchanged; their count comes from
``snapshot_entities`` (versions present at ``b``), not from a scan.

A version in ``S`` shares its key with a touched version at one end (the key is held twice
there), so ``S`` is looked up among the ``duplicate_versions`` the ingest recorded for the two
nights, not by scanning the entity's key column (it has no index).

The temp tables carry those words: ``_rl_left_only`` (L), ``_rl_right_only`` (R),
``_rl_came_back`` (hashes in both), ``_rl_touched_keys`` (keys of L or R), ``_rl_both`` (S, from
``_rl_both_candidates`` → ``_rl_both_duplicated`` → ``_rl_both_values``), ``_rl_key_ends`` (per key:
the representative hash and version count at each end), ``_rl_values`` (a view over the values
read: L's or ``_rl_values_fetched`` for ``_rl_values_needed``, R, S), ``_rl_field_changes``,
``_rl_one_sided`` (added/removed records' values), and the accumulators ``_rl_rekeys``,
``_rl_rolled``, ``_rl_changes``. Reconcile compares only the columns the API serves: keys alike
in those (``_rl_alike``, by a hash of them) are taken out of L and R before their values are
compared or fetched (L is then read with that hash instead of its values).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rosterlab import spec
from rosterlab.diff.model import (
    CHANGE_COLUMNS,
    Duplicate,
    EntityDiff,
    Rekey,
    TermRollover,
)
from rosterlab.diff.rekey import NATURAL_KEYS, rule_sql
from rosterlab.store import SnapshotInfo, Store, quote_ident

if TYPE_CHECKING:
    import polars as pl

SECTIONS = spec.ENTITIES["sections"]
ENROLLMENTS = spec.ENTITIES["enrollments"]
TERM_NAME = SECTIONS.field("Term_name").name
TERM_END = SECTIONS.field("Term_end").name
# The enrollments column naming the section (the one referencing sections).
ENROLLMENT_SECTION = next(f.name for f in ENROLLMENTS.fields if f.references == SECTIONS.name)
# Term_end must be a real MM/DD/YYYY date to count (a spreadsheet's M/D/YY is not trusted).
DATE_PATTERN = r"\d\d/\d\d/\d\d\d\d"
DATE_FORMAT = "%m/%d/%Y"
# admins.csv is deprecated: the entity is listed only when a snapshot of the pair has admins.
OPTIONAL_ENTITY = "admins"

_TEMP_TABLES = (
    "_rl_alike",
    "_rl_left_only",
    "_rl_right_only",
    "_rl_came_back",
    "_rl_touched_keys",
    "_rl_both_candidates",
    "_rl_both_duplicated",
    "_rl_both_values",
    "_rl_both",
    "_rl_values_needed",
    "_rl_values_fetched",
    "_rl_key_ends",
    "_rl_field_changes",
    "_rl_one_sided",
    "_rl_rekeys",
    "_rl_rolled",
    "_rl_changes",
)


@dataclass(frozen=True)
class DiffParts:
    """What the engine computes; :func:`rosterlab.diff.diff_snapshots` adds the hold."""

    entities: tuple[EntityDiff, ...]
    rekeys: tuple[Rekey, ...]
    rollovers: tuple[TermRollover, ...]
    changes: pl.DataFrame | None


def _only(present: int, absent: int) -> tuple[str, list[Any]]:
    """Versions present at night ``present`` and not at ``absent`` (zone-map friendly)."""
    if present < absent:
        return "valid_to >= ? AND valid_to < ? AND valid_from <= ?", [present, absent, present]
    return (
        "valid_from > ? AND valid_from <= ? AND (valid_to IS NULL OR valid_to >= ?)",
        [absent, present, present],
    )


def _counted_hash(counted: Sequence[str], prefix: str = "") -> str:
    """A hash of the ``counted`` columns and ``extra`` (NULL-safe, as row_hash is)."""
    return f"hash({', '.join(prefix + quote_ident(c) for c in [*counted, 'extra'])})"


def _both(a: int, b: int) -> tuple[str, list[Any]]:
    return "valid_from <= ? AND (valid_to IS NULL OR valid_to >= ?)", [min(a, b), max(a, b)]


class DiffEngine:
    """Runs one diff through the entities on one store connection, in temp tables."""

    def __init__(
        self,
        store: Store,
        frm: SnapshotInfo,
        to: SnapshotInfo,
        *,
        details: bool,
        removed_values: bool = False,
    ) -> None:
        """``removed_values``: :meth:`compare` gives the values of removed records too (read
        with L's values, or fetched with the changed ones)."""
        self.store = store
        self.frm = frm
        self.to = to
        self.details = details
        self.removed_values = removed_values
        self.rows_to = store.snapshot_rows(to.id)
        self.rows_from = store.snapshot_rows(frm.id)
        self.alike = 0  # keys the last compare() left out as alike (see compare's ``columns``)
        self.left_values = False  # whether the last compare() read L with its values

    # --- the whole diff ------------------------------------------------------------------
    def __enter__(self) -> DiffEngine:
        self._create_accumulators()
        return self

    def __exit__(self, *_: object) -> None:
        self._drop()

    def run(self) -> DiffParts:
        with self:
            entities = tuple(
                self._entity(entity)
                for entity in spec.ENTITIES.values()
                if entity.name != OPTIONAL_ENTITY
                or self.rows_from.get(entity.name)
                or self.rows_to.get(entity.name)
            )
            return DiffParts(
                entities,
                self._rekeys(),
                self._rollovers(),
                self._changes() if self.details else None,
            )

    def rekeys(self) -> tuple[Rekey, ...]:
        """Only the re-keys: the entities with natural keys, read as :meth:`run` reads them,
        without field changes, counts, rollovers or the entities no rule pairs (enrollments)."""
        with self:
            for entity in spec.ENTITIES.values():
                if entity.name not in NATURAL_KEYS or not self.compare(entity):
                    continue
                added, removed = self.store.rows(
                    "SELECT count(*) FILTER (WHERE from_hash IS NULL), "
                    "count(*) FILTER (WHERE to_hash IS NULL) FROM _rl_key_ends"
                )[0]
                if added and removed:
                    self._rekey(entity)
            return self._rekeys()

    def _drop(self) -> None:
        self.store.execute("DROP VIEW IF EXISTS _rl_values")
        for table in _TEMP_TABLES:
            self.store.execute(f"DROP TABLE IF EXISTS {table}")

    def _create_accumulators(self) -> None:
        self.store.execute(
            "CREATE OR REPLACE TEMP TABLE _rl_rekeys "
            "(entity VARCHAR, old_key VARCHAR, new_key VARCHAR, rule INTEGER)"
        )
        self.store.execute(
            "CREATE OR REPLACE TEMP TABLE _rl_rolled "
            "(key VARCHAR, term VARCHAR, term_end VARCHAR, enrollments BIGINT)"
        )
        self.store.execute(
            "CREATE OR REPLACE TEMP TABLE _rl_changes (entity VARCHAR, entity_ord INTEGER, "
            "key VARCHAR, change VARCHAR, field VARCHAR, ord INTEGER, old VARCHAR, new VARCHAR)"
        )

    # --- one entity ----------------------------------------------------------------------
    def compare(self, entity: spec.Entity, columns: Sequence[str] | None = None) -> bool:
        """Read ``entity``'s touched keys: ``_rl_key_ends`` (per key, the representative hash and
        version count at each end) and the view ``_rl_values`` (values by row_hash; those of
        ``L`` too when :meth:`_l_values`). False when no key is touched: both ends are equal.

        ``columns``: only these spec columns and ``extra`` count (reconcile: what the API
        serves). A key held once at each end whose versions agree in them is left out before
        its values are compared or fetched (L is read with a hash of them instead of its
        values); :attr:`alike` counts those keys.
        """
        a, b = self.frm.seq, self.to.seq
        self.alike = 0
        if a == b or not self._touched(entity, a, b, columns):
            return False
        self._stable(entity, a, b)
        self._per_key()
        self._values(entity, a, b)
        return True

    def _entity(self, entity: spec.Entity) -> EntityDiff:
        rows_to = int(self.rows_to.get(entity.name, 0))
        if not self.compare(entity):
            return EntityDiff(entity.name, 0, 0, 0, rows_to, (), ())
        self._field_changes(entity)
        added, removed, changed, same, versions_to, applied = self.store.rows(
            "SELECT count(*) FILTER (WHERE from_hash IS NULL), "
            "count(*) FILTER (WHERE to_hash IS NULL), "
            "count(*) FILTER (WHERE key IN (SELECT key FROM _rl_field_changes)), "
            "count(*) FILTER (WHERE from_hash IS NOT NULL AND to_hash IS NOT NULL "
            "AND key NOT IN (SELECT key FROM _rl_field_changes)), "
            "coalesce(sum(n_to), 0), "
            "count(*) FILTER (WHERE key IN (SELECT key FROM _rl_field_changes "
            "WHERE ord < ? OR starts_with(field, ?))) FROM _rl_key_ends",
            [len(entity.columns), spec.EXTENSION_PREFIX if entity.extensions else "\0"],
        )[0]
        fields = self.store.rows(
            "SELECT field, count(*) FROM _rl_field_changes GROUP BY field, ord ORDER BY ord, field"
        )
        duplicates = self.store.rows(
            "SELECT key, n_from, n_to FROM _rl_key_ends WHERE n_from > 1 OR n_to > 1 ORDER BY key"
        )
        if added and removed:
            self._rekey(entity)
        if entity.name == SECTIONS.name:
            self._rolled_sections()
        elif entity.name == ENROLLMENTS.name:
            self._rolled_enrollments()
        if self.details:
            self._record_changes(entity)
        return EntityDiff(
            entity.name,
            int(added),
            int(removed),
            int(changed),
            rows_to - int(versions_to) + int(same),
            tuple((str(f), int(n)) for f, n in fields),
            tuple(Duplicate(str(k), int(f), int(t)) for k, f, t in duplicates),
            int(applied),
        )

    def _rekey(self, entity: spec.Entity) -> None:
        """Pair removed and added records rule by rule, on the records still unpaired."""
        for rule_index, rule in enumerate(NATURAL_KEYS.get(entity.name, ())):
            self.store.execute(rule_sql(rule), [entity.name, rule_index, entity.name, entity.name])

    def _needs_removed(self, entity: spec.Entity) -> bool:
        """Whether an entity read without L's values needs its removed records' values: only
        enrollments do, to count those of rolled-over sections."""
        return entity.name == ENROLLMENTS.name and bool(
            self.store.rows("SELECT count(*) FROM _rl_rolled")[0][0]
        )

    def _select(self, entity: spec.Entity, prefix: str = "") -> str:
        return ", ".join(
            [f"{prefix}key", f"{prefix}row_hash"]
            + [f"{prefix}{quote_ident(c)}" for c in entity.columns]
            + [f"{prefix}extra"]
        )

    def _l_values(self, entity: spec.Entity) -> bool:
        """Whether L is read with its values (see the module's docstring)."""
        return self.details or entity.name in NATURAL_KEYS

    def _touched(
        self, entity: spec.Entity, a: int, b: int, counted: Sequence[str] | None = None
    ) -> bool:
        """Build L (with its values or key and hash only), R (appended together, cheap to read
        whole) and the touched keys, less the keys alike in the ``counted`` columns; False when
        no key is touched."""
        table = quote_ident(entity.name)
        district = self.frm.district
        self.left_values = self._l_values(entity) and counted is None
        l_columns = self._select(entity) if self.left_values else "key, row_hash"
        if counted is not None:
            l_columns += f", {_counted_hash(counted)} AS counted"
        for name, columns, (where, params) in (
            ("_rl_left_only", l_columns, _only(a, b)),
            ("_rl_right_only", self._select(entity), _only(b, a)),
        ):
            self.store.execute(
                f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {columns} "
                f"FROM {table} WHERE district = ? AND {where}",
                [district, *params],
            )
        if counted is not None:
            self.alike = self._alike(entity, counted)
        self.store.execute(
            """
            CREATE OR REPLACE TEMP TABLE _rl_came_back AS
            SELECT row_hash FROM _rl_left_only INTERSECT SELECT row_hash FROM _rl_right_only
            """
        )
        return bool(
            self.store.written(
                """
                CREATE OR REPLACE TEMP TABLE _rl_touched_keys AS
                SELECT DISTINCT key FROM (
                    SELECT key, row_hash FROM _rl_left_only
                    UNION ALL SELECT key, row_hash FROM _rl_right_only
                ) WHERE row_hash NOT IN (SELECT row_hash FROM _rl_came_back)
                """
            )
        )

    def _alike(self, entity: spec.Entity, counted: Sequence[str]) -> int:
        """``_rl_alike``: keys held once at each end (none of the two nights' duplicate versions)
        whose versions differ, but not in the ``counted`` columns nor in ``extra`` (compared by
        a hash of those: L's read with its key and hash, R's from its values), taken out of L
        and R. Returns how many."""
        alike = self.store.written(
            "CREATE OR REPLACE TEMP TABLE _rl_alike AS SELECT l.key FROM _rl_left_only l "
            "JOIN _rl_right_only r ON l.key = r.key AND l.row_hash <> r.row_hash "
            f"AND l.counted = {_counted_hash(counted, 'r.')} "
            "WHERE l.key NOT IN (SELECT key FROM duplicate_versions "
            "WHERE snapshot_id IN (?, ?) AND entity = ?)",
            [self.frm.id, self.to.id, entity.name],
        )
        if alike:
            for table in ("_rl_left_only", "_rl_right_only"):
                self.store.execute(f"DELETE FROM {table} WHERE key IN (SELECT key FROM _rl_alike)")
        return alike

    def _stable(self, entity: spec.Entity, a: int, b: int) -> None:
        """S (key, row_hash): versions present at both ends with a touched key, and content that
        came back; ``_rl_both_values`` holds their values (rarely any).

        Such a version shares its key with a touched version at one end, so it is among the
        ``duplicate_versions`` the ingest recorded at ``a`` or ``b``; those candidates are kept
        when present at both ends.
        """
        where, params = _both(a, b)
        table = quote_ident(entity.name)
        found = 0
        if self.store.written(
            """
            CREATE OR REPLACE TEMP TABLE _rl_both_candidates AS
            SELECT DISTINCT row_hash FROM duplicate_versions
            WHERE snapshot_id IN (?, ?) AND entity = ? AND key IN (SELECT key FROM _rl_touched_keys)
            """,
            [self.frm.id, self.to.id, entity.name],
        ):
            # Keep the candidates present at both ends, reading no text column; only those
            # few have their values fetched (the others lie scattered over the table).
            found = self.store.written(
                "CREATE OR REPLACE TEMP TABLE _rl_both_duplicated AS SELECT row_hash FROM "
                f"{table} WHERE district = ? AND {where} "
                "AND row_hash IN (SELECT row_hash FROM _rl_both_candidates)",
                [self.frm.district, *params],
            )
        if found:
            self.store.execute(
                "CREATE OR REPLACE TEMP TABLE _rl_both_values AS "
                f"SELECT {self._select(entity)} FROM {table} WHERE district = ? AND {where} "
                "AND row_hash IN (SELECT row_hash FROM _rl_both_duplicated)",
                [self.frm.district, *params],
            )
        else:
            self.store.execute(
                "CREATE OR REPLACE TEMP TABLE _rl_both_values AS FROM _rl_right_only LIMIT 0"
            )
        self.store.execute(
            """
            CREATE OR REPLACE TEMP TABLE _rl_both AS
            SELECT key, row_hash FROM _rl_both_values
            UNION ALL SELECT key, row_hash FROM _rl_right_only
            WHERE row_hash IN (SELECT row_hash FROM _rl_came_back)
                AND key IN (SELECT key FROM _rl_touched_keys)
            """
        )

    def _values(self, entity: spec.Entity, a: int, b: int) -> None:
        """_rl_values (a view): the values of the versions the diff reads, one row per row_hash.

        R and the looked-up S are at hand (content that came back is in R). L is too when it was
        read with its values (less the content that came back); otherwise the representatives
        of changed keys, and those of removed keys when :meth:`_needs_removed`, are fetched from
        the table into ``_rl_values_fetched``.
        """
        if self.left_values:
            self.store.execute(
                """
                CREATE OR REPLACE TEMP VIEW _rl_values AS
                FROM _rl_left_only WHERE row_hash NOT IN (SELECT row_hash FROM _rl_came_back)
                UNION ALL FROM _rl_right_only UNION ALL FROM _rl_both_values
                """
            )
            return
        where, params = _only(a, b)
        gone = " OR to_hash IS NULL" if self.removed_values or self._needs_removed(entity) else ""
        fetch, fetch_params = "FROM _rl_right_only LIMIT 0", []
        if self.store.written(
            "CREATE OR REPLACE TEMP TABLE _rl_values_needed AS SELECT key, from_hash AS row_hash "
            f"FROM _rl_key_ends WHERE (from_hash <> to_hash{gone}) "
            "AND from_hash NOT IN (SELECT row_hash FROM _rl_both)"
        ):
            # The key is at hand: not reading it again spares decoding the widest column.
            values = ", ".join([*(quote_ident(c) for c in entity.columns), "extra"])
            fetch = (
                f"SELECT n.key, v.* FROM (SELECT row_hash, {values} FROM "
                f"{quote_ident(entity.name)} WHERE district = ? AND {where} "
                "AND row_hash IN (SELECT row_hash FROM _rl_values_needed)) v "
                "JOIN _rl_values_needed n USING (row_hash)"
            )
            fetch_params = [self.frm.district, *params]
        self.store.execute(
            f"CREATE OR REPLACE TEMP TABLE _rl_values_fetched AS {fetch}", fetch_params
        )
        self.store.execute(
            "CREATE OR REPLACE TEMP VIEW _rl_values AS "
            "FROM _rl_values_fetched UNION ALL FROM _rl_right_only UNION ALL FROM _rl_both_values"
        )

    def _per_key(self) -> None:
        """Per touched key: the representative (lowest row_hash) and version count at each end."""
        self.store.execute(
            """
            CREATE OR REPLACE TEMP TABLE _rl_key_ends AS
            WITH f AS (
                SELECT key, min(row_hash) AS h, count(*) AS n FROM (
                    SELECT key, row_hash FROM _rl_left_only
                    WHERE row_hash NOT IN (SELECT row_hash FROM _rl_came_back)
                    UNION ALL SELECT key, row_hash FROM _rl_both
                ) GROUP BY key
            ), t AS (
                SELECT key, min(row_hash) AS h, count(*) AS n FROM (
                    SELECT key, row_hash FROM _rl_right_only
                    WHERE row_hash NOT IN (SELECT row_hash FROM _rl_came_back)
                    UNION ALL SELECT key, row_hash FROM _rl_both
                ) GROUP BY key
            )
            SELECT coalesce(f.key, t.key) AS key, f.h AS from_hash, coalesce(f.n, 0) AS n_from,
                t.h AS to_hash, coalesce(t.n, 0) AS n_to
            FROM f FULL JOIN t ON f.key = t.key
            """
        )

    def _field_changes(self, entity: spec.Entity) -> None:
        """_rl_field_changes: (key, field, ord, old, new), every differing field of a changed key.

        One pass over the changed pairs: each pair unnests into (field, ord, old, new) structs.
        """
        columns = entity.columns
        fields = ", ".join(
            f"{{'field': ?::VARCHAR, 'ord': {i}, 'old': f.{quote_ident(c)}, "
            f"'new': t.{quote_ident(c)}}}"
            for i, c in enumerate(columns)
        )
        self.store.execute(
            "CREATE OR REPLACE TEMP TABLE _rl_field_changes AS WITH p AS (SELECT k.key, "
            f"f.extra AS fx, t.extra AS tx, [{fields}] AS fields FROM _rl_key_ends k "
            "JOIN _rl_values f ON f.row_hash = k.from_hash "
            "JOIN _rl_values t ON t.row_hash = k.to_hash "
            "WHERE k.from_hash <> k.to_hash) "
            "SELECT key, c.field, c.ord, c.old, c.new FROM (SELECT key, unnest(fields) AS c "
            "FROM p) WHERE c.old IS DISTINCT FROM c.new "
            f"UNION ALL SELECT key, name, {len(columns)}, map_extract_value(fx, name), "
            "map_extract_value(tx, name) FROM (SELECT key, fx, tx, unnest(list_distinct("
            "list_concat(coalesce(map_keys(fx), []::VARCHAR[]), "
            "coalesce(map_keys(tx), []::VARCHAR[])))) AS name FROM p) "
            "WHERE map_extract_value(fx, name) IS DISTINCT FROM map_extract_value(tx, name)",
            list(columns),
        )

    def _rolled_sections(self) -> None:
        """Removed sections whose MM/DD/YYYY Term_end is before the ``to`` night's date."""
        self.store.execute(
            f"INSERT INTO _rl_rolled SELECT k.key, v.{quote_ident(TERM_NAME)}, "
            f"v.{quote_ident(TERM_END)}, 0 FROM _rl_key_ends k "
            "JOIN _rl_values v ON v.row_hash = k.from_hash WHERE k.to_hash IS NULL "
            f"AND regexp_full_match(v.{quote_ident(TERM_END)}, ?) "
            f"AND try_strptime(v.{quote_ident(TERM_END)}, ?)::DATE < ?::DATE",
            [DATE_PATTERN, DATE_FORMAT, self.to.taken_at.date()],
        )

    def _rolled_enrollments(self) -> None:
        """Count the removed enrollments of each rolled-over section."""
        self.store.execute(
            "UPDATE _rl_rolled SET enrollments = n FROM (SELECT v."
            f"{quote_ident(ENROLLMENT_SECTION)} AS section, count(*) AS n FROM _rl_key_ends k "
            "JOIN _rl_values v ON v.row_hash = k.from_hash WHERE k.to_hash IS NULL "
            "GROUP BY section) e WHERE e.section = _rl_rolled.key"
        )

    def _record_changes(self, entity: spec.Entity) -> None:
        """Append the tidy row-level changes: changed fields, and every filled field of an
        added (new) or removed (old) record, so the changes rebuild ``to`` from ``from``."""
        columns = entity.columns
        order = list(spec.ENTITIES).index(entity.name)
        self.store.execute(
            "INSERT INTO _rl_changes "
            "SELECT ?, ?, key, 'changed', field, ord, old, new FROM _rl_field_changes",
            [entity.name, order],
        )
        self.store.execute(
            f"CREATE OR REPLACE TEMP TABLE _rl_one_sided AS SELECT k.key, 'added' AS change, "
            f"{self._select(entity, 'v.')} FROM _rl_key_ends k "
            "JOIN _rl_values v ON v.row_hash = k.to_hash "
            "WHERE k.from_hash IS NULL UNION ALL SELECT k.key, 'removed', "
            f"{self._select(entity, 'v.')} FROM _rl_key_ends k JOIN _rl_values v "
            "ON v.row_hash = k.from_hash WHERE k.to_hash IS NULL"
        )
        side = "CASE WHEN change = 'removed' THEN {v} END, CASE WHEN change = 'added' THEN {v} END"
        branches = [
            f"SELECT key, change, ?::VARCHAR, {i}, "
            + side.format(v=quote_ident(c))
            + f" FROM _rl_one_sided WHERE {quote_ident(c)} IS NOT NULL"
            for i, c in enumerate(columns)
        ]
        branches.append(
            f"SELECT key, change, e.key, {len(columns)}, "
            + side.format(v="e.value")
            + " FROM (SELECT key, change, unnest(map_entries(extra)) AS e FROM _rl_one_sided) "
            "WHERE e.value IS NOT NULL"
        )
        self.store.execute(
            "INSERT INTO _rl_changes SELECT ?, ?, * FROM (" + " UNION ALL ".join(branches) + ")",
            [entity.name, order, *columns],
        )

    # --- across entities -----------------------------------------------------------------
    def _rekeys(self) -> tuple[Rekey, ...]:
        order = {name: i for i, name in enumerate(spec.ENTITIES)}
        found = [
            Rekey(entity, old, new, NATURAL_KEYS[entity][rule].columns)
            for entity, old, new, rule in self.store.rows(
                "SELECT entity, old_key, new_key, rule FROM _rl_rekeys"
            )
        ]
        return tuple(sorted(found, key=lambda r: (order[r.entity], r.old_key, r.new_key)))

    def _rollovers(self) -> tuple[TermRollover, ...]:
        rows = self.store.rows(
            "SELECT term, term_end, list(key ORDER BY key), sum(enrollments) FROM _rl_rolled "
            "GROUP BY term, term_end ORDER BY strptime(term_end, ?), term NULLS FIRST",
            [DATE_FORMAT],
        )
        return tuple(
            TermRollover(term, term_end, tuple(keys), int(enrollments))
            for term, term_end, keys, enrollments in rows
        )

    def _changes(self) -> pl.DataFrame:
        return self.store.query(
            f"SELECT {', '.join(CHANGE_COLUMNS)} FROM _rl_changes "
            "ORDER BY entity_ord, key, ord, field"
        )


def run_diff(store: Store, frm: SnapshotInfo, to: SnapshotInfo, *, details: bool) -> DiffParts:
    """Compute the per-entity diff, re-keys, term rollovers and (with ``details``) changes."""
    return DiffEngine(store, frm, to, details=details).run()


def find_rekeys(store: Store, frm: SnapshotInfo, to: SnapshotInfo) -> tuple[Rekey, ...]:
    """The re-keys of ``frm`` → ``to`` (those of :func:`run_diff`), at the cost of the
    changed records of the entities natural keys pair."""
    return DiffEngine(store, frm, to, details=False).rekeys()
