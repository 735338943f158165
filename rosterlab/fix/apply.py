"""Apply corrections rules to a snapshot, set-based in DuckDB.

Each spec file of the snapshot is copied from its staging view into a temporary work table
``fix_<stem>`` (``_row`` = the received data row, ``c0..cN`` = the received columns); each rule
is one or two SQL statements over those tables. Before changing anything a rule logs what it is
about to change into ``fix_changes`` (entity, key, field, old, new), so ``changes.csv`` is a
query too. Nothing here loops over rows in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rosterlab import spec
from rosterlab.bundle import newline_chars
from rosterlab.fix.rules import (
    DropRule,
    FillRule,
    LedgerRule,
    MapRule,
    RekeyRule,
    RenameColumnRule,
    Rule,
    SetRule,
    id_field,
)
from rosterlab.store import (
    ColumnMap,
    SnapshotInfo,
    Store,
    entity_filter,
    key_sql,
    positional,
    stage_snapshot,
)
from rosterlab.store.sql import spreadsheet_safe_sql

CHANGES = "fix_changes"
LEDGER = "ledger"  # the checks room's customization ledger (store migration 4)
CHANGES_HEADER = ("entity", "key", "field", "change", "old", "new", "rule", "reason")
# The change log's rule numbers of what no rule did: the header rows (the header line again, or
# its underline, read as a record) and the rows the parser could not read (rules count from 1).
HEADER_ROWS = -1
UNPARSEABLE = 0
# A header row as the checks find it (repeated-header, underline-row: a query tool's pages, joined
# exports), as the change log says what it is.
HEADER_LINES = {
    "repeated-header": "its header line again",
    "underline-row": "the dashes a query tool prints under its header",
}


@dataclass
class WorkFile:
    """One spec file being corrected: its work table and current header."""

    spec_name: str
    table: str
    header: list[str]
    newline: str
    order: int

    def columns(self) -> ColumnMap:
        return ColumnMap.of(self.spec_name, self.header)

    def position(self, name: str) -> int | None:
        """The received position of a column (the first, if the header repeats it)."""
        return self.header.index(name) if name in self.header else None

    def key(self, entity: spec.Entity) -> str:
        return key_sql(entity, self.columns())

    def rows_of(self, entity: spec.Entity) -> str:
        """Predicate for the rows that carry ``entity`` (contacts: rows with a contact)."""
        return entity_filter(entity, self.columns())


def canonical_header(spec_name: str, header: Sequence[str]) -> list[str]:
    """The received header with spec columns in their spec spelling (``SCHOOL_ID`` → School_id;
    a repeat, in any case, stays as received)."""
    canonical: list[str] = []
    for name in header:
        column = spec.spec_column(spec_name, name)
        canonical.append(column if column and column not in canonical else name)
    return canonical


class Correction:
    """The work tables of one snapshot being corrected, and the change log."""

    def __init__(self, store: Store, snapshot: SnapshotInfo) -> None:
        self.store = store
        self.snapshot = snapshot
        self.files: dict[str, WorkFile] = {}
        self.unparsed: list[str] = []
        staged = stage_snapshot(store, snapshot.id)
        received = store.rows(
            "SELECT spec_name, newline, name FROM snapshot_files WHERE snapshot_id = ? "
            "AND spec_name IS NOT NULL",
            [snapshot.id],
        )
        newlines = {spec_name: newline for spec_name, newline, _ in received}
        names = {spec_name: name for spec_name, _, name in received}
        usual = _usual_newline(list(newlines.values()))
        for order, spec_name in enumerate(spec.FILES):
            if spec_name in newlines and spec_name not in staged:
                self.unparsed.append(spec_name)
            if spec_name not in staged:
                continue
            table = "fix_" + spec.FILES[spec_name].stem
            store.execute(
                f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM {staged[spec_name].view}"
            )
            self.files[spec_name] = WorkFile(
                spec_name,
                table,
                canonical_header(spec_name, staged[spec_name].header),
                newline_chars(newlines[spec_name], usual),
                order,
            )
        store.execute(
            f"CREATE OR REPLACE TEMP TABLE {CHANGES} (rule INTEGER, rule_label VARCHAR, "
            "reason VARCHAR, file_order INTEGER, _row BIGINT, field_order INTEGER, "
            "entity VARCHAR, key VARCHAR, field VARCHAR, change VARCHAR, old VARCHAR, "
            "new VARCHAR)"
        )
        self._log_unparseable_rows()
        self._leave_out_header_rows(names)

    def close(self) -> None:
        """Drop the work tables (they are temporary: this only frees memory early)."""
        for work in self.files.values():
            self.store.execute(f"DROP TABLE IF EXISTS {work.table}")
        self.store.execute(f"DROP TABLE IF EXISTS {CHANGES}")

    # --- the change log ------------------------------------------------------------------
    def _log(
        self,
        rule: Rule,
        work: WorkFile,
        entity: spec.Entity,
        *,
        change: str,
        column: int | None,
        old: str,
        new: str,
        where: str,
        params: Sequence[Any],
        source: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Log one change per matching row (``old``/``new``/``reason`` are SQL over the source).

        ``reason`` defaults to the rule's reason.
        """
        field_name = work.header[column] if column is not None else None
        self.store.execute(
            f"INSERT INTO {CHANGES} SELECT ?, ?, {reason or '?'}, ?, _row, ?, ?, "
            f"{work.key(entity)}, ?, ?, {old}, {new} FROM {source or work.table} WHERE {where}",
            [
                rule.number,
                rule.label,
                *([] if reason else [rule.reason]),
                work.order,
                column if column is not None else -1,
                entity.name,
                field_name,
                change,
                *params,
            ],
        )

    def _change(
        self,
        rule: Rule,
        work: WorkFile,
        entity: spec.Entity,
        column: int,
        new: str,
        new_params: Sequence[Any],
        where: str,
        params: Sequence[Any],
    ) -> None:
        """Log, then make, the change of ``column`` to ``new`` (SQL binding ``new_params``) in
        the rows ``where`` (binding ``params``) selects."""
        c = positional(column)
        bound = [*new_params, *params]
        self._log(
            rule,
            work,
            entity,
            change="changed",
            column=column,
            old=c,
            new=new,
            where=where,
            params=bound,
        )
        self.store.execute(f"UPDATE {work.table} SET {c} = {new} WHERE {where}", bound)

    def _log_unparseable_rows(self) -> None:
        """Rows the parser could not read are not in staging: say so in the change log (in
        their file's order, as the header rows)."""
        self.store.execute(
            f"INSERT INTO {CHANGES} SELECT ?, NULL, 'not parseable, so not in the corrected "
            "bundle: ' || message, coalesce((?::INTEGER[])[list_position(?::VARCHAR[], entity)], "
            "0), \"row\", -1, entity, NULL, NULL, 'dropped', NULL, NULL FROM findings "
            "WHERE snapshot_id = ? AND code IN ('malformed-row', 'query-tool-line')",
            [UNPARSEABLE, _file_orders(), list(spec.ENTITIES), self.snapshot.id],
        )

    def _leave_out_header_rows(self, names: dict[str, str]) -> None:
        """Header rows — the header line again, the dashes a query tool prints under it, read as
        records (``repeated-header``, ``underline-row``) — are not records: each row the findings
        name (every row of a record repeated, not only its first) leaves the corrected bundle,
        and the change log says so, with the row, for every record on it (a student and its
        contact)."""
        header_rows = (
            'SELECT "row", min(code) AS code FROM finding_places WHERE snapshot_id = ? '
            "AND code IN (SELECT unnest(?::VARCHAR[])) "
            'AND entity IN (SELECT unnest(?::VARCHAR[])) AND "row" IS NOT NULL GROUP BY "row"'
        )
        codes = list(HEADER_LINES)
        if not self.store.rows(
            "SELECT count(*) FROM findings WHERE snapshot_id = ? "
            "AND code IN (SELECT unnest(?::VARCHAR[]))",
            [self.snapshot.id, codes],
        )[0][0]:
            return  # a night without a header row pays one query
        what = "CASE code " + " ".join("WHEN ? THEN ?" for _ in codes) + " END"
        what_params = [v for pair in HEADER_LINES.items() for v in pair]
        for work in self.files.values():
            entities = spec.FILES[work.spec_name].entities
            self.store.execute(
                f"CREATE OR REPLACE TEMP TABLE fix_header_rows AS {header_rows}",
                [self.snapshot.id, codes, list(entities)],
            )
            for name in entities:
                entity = spec.ENTITIES[name]
                self.store.execute(
                    f"INSERT INTO {CHANGES} SELECT ?, NULL, 'not a record, so not in the "
                    "corrected bundle: ' || ? || ' row ' || _row || "
                    f"' is ' || {what} || ' (' || code || ')', ?, _row, -1, ?, "
                    f"{work.key(entity)}, NULL, 'dropped', NULL, NULL FROM {work.table} "
                    f'JOIN fix_header_rows ON _row = "row" WHERE {work.rows_of(entity)}',
                    [HEADER_ROWS, names[work.spec_name], *what_params, work.order, entity.name],
                )
            self.store.execute(
                f'DELETE FROM {work.table} WHERE _row IN (SELECT "row" FROM fix_header_rows)'
            )
        self.store.execute("DROP TABLE fix_header_rows")

    # --- applying rules --------------------------------------------------------------------
    def apply(self, rule: Rule) -> list[str]:
        """Apply one rule; return its notes (what it could not do, or did beyond the rows)."""
        notes: list[str] = []
        if rule.when is not None and not self._present(rule.when):
            return [
                f"when {rule.when}: snapshot {self.snapshot.id} has no such finding, so the rule "
                "did nothing"
            ]
        match rule:
            case RenameColumnRule():
                self._rename(rule, notes)
            case LedgerRule():
                self._ledger(rule, notes)
            case RekeyRule():
                self._rekey(rule, notes)
            case DropRule() | MapRule() | SetRule():
                entity = spec.ENTITIES[rule.entity]
                work = self.files.get(entity.file)
                if work is None:
                    notes.append(f"{entity.file} is not in the snapshot: nothing to do")
                elif isinstance(rule, DropRule):
                    self._drop(rule, entity, work, notes)
                elif isinstance(rule, MapRule):
                    self._map(rule, entity, work, notes)
                else:
                    self._set(rule, entity, work, notes)
        return notes

    def _present(self, code: str) -> bool:
        """Whether the snapshot has a finding of ``code`` (a rule's ``when``)."""
        return bool(
            self.store.rows(
                "SELECT count(*) FROM finding_places WHERE snapshot_id = ? AND code = ?",
                [self.snapshot.id, code],
            )[0][0]
        )

    def _carrying(
        self, code: str, entity: spec.Entity, work: WorkFile, notes: list[str]
    ) -> tuple[str, list[Any]] | None:
        """SQL (and its parameters) selecting the rows whose record carries the finding
        ``code``; None (with a note) when no record does.

        A finding with a row pins the row of the file (whichever of the file's entities it is
        reported on: contact findings are reported on students.csv's rows); one without a row
        is matched by the rule entity's key. The header rows (``repeated-header``,
        ``underline-row``) left the work tables before any rule: none is left to carry them.
        """
        if code in HEADER_LINES:
            notes.append(
                f"the rows carrying {code} are header rows, left out of the corrected bundle "
                "before any rule: none is left for this rule"
            )
            return None
        by_row = (
            'SELECT "row" FROM finding_places WHERE snapshot_id = ? AND code = ? '
            'AND entity IN (SELECT unnest(?::VARCHAR[])) AND "row" IS NOT NULL'
        )
        by_key = (
            "SELECT key FROM finding_places WHERE snapshot_id = ? AND code = ? AND entity = ? "
            'AND "row" IS NULL'
        )
        row_params = [self.snapshot.id, code, list(spec.FILES[entity.file].entities)]
        key_params = [self.snapshot.id, code, entity.name]
        carried = self.store.rows(
            f"SELECT count(*) FROM ({by_row} UNION ALL {by_key})", [*row_params, *key_params]
        )[0][0]
        if not carried:
            notes.append(f"no {entity.name} record carries {code} in snapshot {self.snapshot.id}")
            return None
        return (
            f"(_row IN ({by_row}) OR {work.key(entity)} IN ({by_key}))",
            [*row_params, *key_params],
        )

    def _scope(
        self, rule: Rule, entity: spec.Entity, work: WorkFile, notes: list[str]
    ) -> tuple[str, list[Any]] | None:
        """The rows a rule may touch: all, or those carrying its ``when`` finding (None: no
        row does)."""
        if rule.when is None:
            return "TRUE", []
        return self._carrying(rule.when, entity, work, notes)

    def _drop(self, rule: DropRule, entity: spec.Entity, work: WorkFile, notes: list[str]) -> None:
        """Drop the records carrying the finding code (and ``when``'s, if given)."""
        carrying = self._carrying(rule.code, entity, work, notes)
        scope = self._scope(rule, entity, work, notes)
        if carrying is None or scope is None:
            return
        where = f"({work.rows_of(entity)}) AND {carrying[0]} AND {scope[0]}"
        params = [*carrying[1], *scope[1]]
        self._log(
            rule,
            work,
            entity,
            change="dropped",
            column=None,
            old="NULL",
            new="NULL",
            where=where,
            params=params,
        )
        if entity.within is not None:  # the row stays: it also carries its owner (a student)
            cleared = [
                f"{positional(p)} = NULL"
                for name in entity.own_columns
                if (p := work.position(name)) is not None
            ]
            if cleared:
                self.store.execute(
                    f"UPDATE {work.table} SET {', '.join(cleared)} WHERE {where}", params
                )
        else:
            self.store.execute(f"DELETE FROM {work.table} WHERE {where}", params)

    def _map(self, rule: MapRule, entity: spec.Entity, work: WorkFile, notes: list[str]) -> None:
        column = work.position(rule.field)
        if column is None:
            notes.append(f"{work.spec_name} has no {rule.field} column: nothing to map")
            return
        scope = self._scope(rule, entity, work, notes)
        if scope is None:
            return
        c = positional(column)
        olds = [old for old, _ in rule.values]
        case = "CASE " + " ".join(f"WHEN {c} = ? THEN ?" for _ in rule.values) + " END"
        case_params = [v for pair in rule.values for v in pair]
        where = f"({work.rows_of(entity)}) AND {c} IN (SELECT unnest(?::VARCHAR[])) AND {scope[0]}"
        self._change(rule, work, entity, column, case, case_params, where, [olds, *scope[1]])

    def _set(self, rule: SetRule, entity: spec.Entity, work: WorkFile, notes: list[str]) -> None:
        """set / fill: write ``value`` into ``field`` of the selected records."""
        field_name = rule.field
        column = work.position(field_name)
        if column is None and rule.value is None:
            return
        scope = self._scope(rule, entity, work, notes)
        if scope is None:
            return
        conditions = [f"({work.rows_of(entity)})", scope[0]]
        params: list[Any] = list(scope[1])
        if rule.keys:
            conditions.append(f"{work.key(entity)} IN (SELECT unnest(?::VARCHAR[]))")
            params.append(self._full_keys(rule, entity, work, notes))
        for name, value in rule.where:
            position = work.position(name)
            if position is None:
                conditions.append("TRUE" if value is None else "FALSE")
            elif value is None:
                conditions.append(f"{positional(position)} IS NULL")
            else:
                conditions.append(f"{positional(position)} = ?")
                params.append(value)
        if column is None:
            column = self._add_column(work, field_name)
            notes.append(f"{field_name} added to {work.spec_name} (it was not sent)")
        c = positional(column)
        if isinstance(rule, FillRule):
            conditions.append(f"{c} IS NULL")
        else:
            conditions.append(f"{c} IS DISTINCT FROM ?")
            params.append(rule.value)
        self._change(
            rule, work, entity, column, "?", [rule.value], " AND ".join(conditions), params
        )

    def _full_keys(
        self, rule: SetRule, entity: spec.Entity, work: WorkFile, notes: list[str]
    ) -> list[str]:
        """The records ``rule.keys`` name, as ``check`` and ``diff`` show their keys: a key
        itself, else the one key of which it is a ``/``-separated part (teachers ``T-1`` →
        ``T-1/SCH-1``, as ``timeline --key`` reads it). A key naming none or several is noted."""
        found = self.store.rows(
            "SELECT k, coalesce(list(DISTINCT w.key ORDER BY w.key) FILTER (w.key IS NOT NULL), "
            "[]), bool_or(w.key = k) FROM unnest(?::VARCHAR[]) t(k) LEFT JOIN (SELECT DISTINCT "
            f"{work.key(entity)} AS key FROM {work.table} WHERE {work.rows_of(entity)}) w "
            "ON w.key = k OR list_contains(string_split(w.key, ?), k) GROUP BY k ORDER BY k",
            [list(rule.keys), spec.KEY_SEPARATOR],
        )
        keys: list[str] = []
        missing: list[str] = []
        for key, names, exact in found:
            if exact or len(names) == 1:
                keys.append(key if exact else names[0])
            elif names:
                notes.append(
                    f"{key} is part of several {entity.name} keys: {', '.join(names)}; "
                    "give one as key"
                )
            else:
                missing.append(key)
        if missing:
            notes.append(f"no {entity.name} record has key {', '.join(missing)}")
        return keys

    def _add_column(self, work: WorkFile, name: str) -> int:
        """Append a column the district did not send (NULL everywhere) to a work file."""
        position = len(work.header)
        self.store.execute(f"ALTER TABLE {work.table} ADD COLUMN {positional(position)} VARCHAR")
        work.header.append(name)
        return position

    def _rename(self, rule: RenameColumnRule, notes: list[str]) -> None:
        work = self.files.get(rule.file)
        old, new = rule.old, rule.new
        if work is None:
            notes.append(f"{rule.file} is not in the snapshot: nothing to rename")
        elif old not in work.header:
            notes.append(f"{rule.file} has no column {old!r}: nothing to rename")
        elif new in work.header:
            notes.append(f"{rule.file} already has {new}: {old!r} left as it is")
        else:
            column = work.header.index(old)
            work.header[column] = new
            entity = spec.entity_of_column(work.spec_name, new)
            self.store.execute(
                f"INSERT INTO {CHANGES} VALUES (?, ?, ?, ?, 0, ?, ?, NULL, ?, 'renamed', ?, ?)",
                [
                    rule.number,
                    rule.label,
                    rule.reason,
                    work.order,
                    column,
                    entity.name,
                    new,
                    old,
                    new,
                ],
            )

    def _rekey(self, rule: RekeyRule, notes: list[str]) -> None:
        """Change an ID in its own column and in every column that refers to it (per spec)."""
        owner = spec.ENTITIES[rule.entity]
        places: dict[tuple[str, str], spec.Entity] = {(owner.file, id_field(owner.name)): owner}
        for entity in spec.ENTITIES.values():
            for f in entity.fields:
                if f.references == owner.name:
                    places.setdefault((entity.file, f.name), entity)
        touched = 0
        for (file_name, column_name), entity in places.items():
            work = self.files.get(file_name)
            column = work.position(column_name) if work else None
            if work is None or column is None:
                continue
            where = f"{positional(column)} = ?"
            touched += self.store.rows(
                f"SELECT count(*) FROM {work.table} WHERE {where}", [rule.old]
            )[0][0]
            self._change(rule, work, entity, column, "?", [rule.new], where, [rule.old])
        if not touched:
            notes.append(f"no {owner.name} record or reference has ID {rule.old}")

    def _ledger(self, rule: LedgerRule, notes: list[str]) -> None:
        """Re-apply the district's kept field overrides (the customization ledger).

        Each change's reason is the rule's, then the ledger entry's own.
        """
        groups = self.store.rows(
            "SELECT entity, field, list(key ORDER BY key), list(value ORDER BY key), "
            f"list(reason ORDER BY key) FROM {LEDGER} WHERE district = ? GROUP BY entity, field "
            "ORDER BY entity, field",
            [self.snapshot.district],
        )
        if not groups:
            notes.append(f"the ledger has no entries for {self.snapshot.district}")
        for entity_name, field_name, keys, values, reasons in groups:
            entity = spec.ENTITIES.get(entity_name)
            work = self.files.get(entity.file) if entity else None
            if entity is None or work is None or not _is_field(entity, field_name):
                notes.append(f"ledger entry {entity_name}.{field_name} does not apply")
                continue
            column = work.position(field_name)
            if column is None:
                column = self._add_column(work, field_name)
            self.store.execute(
                "CREATE OR REPLACE TEMP TABLE fix_ledger AS SELECT unnest(?::VARCHAR[]) AS "
                "ledger_key, unnest(?::VARCHAR[]) AS ledger_value, unnest(?::VARCHAR[]) AS "
                "ledger_reason",
                [keys, values, [f"{rule.reason}: {why}" for why in reasons]],
            )
            self._apply_ledger(rule, entity, work, column)
            self.store.execute("DROP TABLE fix_ledger")

    def _apply_ledger(self, rule: Rule, entity: spec.Entity, work: WorkFile, column: int) -> None:
        c = positional(column)
        joined = f"{work.table} JOIN fix_ledger ON {work.key(entity)} = ledger_key"
        where = f"({work.rows_of(entity)}) AND {c} IS DISTINCT FROM ledger_value"
        self._log(
            rule,
            work,
            entity,
            change="changed",
            column=column,
            old=c,
            new="ledger_value",
            where=where,
            params=[],
            source=joined,
            reason="ledger_reason",
        )
        self.store.execute(
            f"UPDATE {work.table} SET {c} = ledger_value FROM fix_ledger "
            f"WHERE {work.key(entity)} = ledger_key AND {where}"
        )

    # --- results ---------------------------------------------------------------------------
    def valid_values_changed(self, rule: Rule) -> list[tuple[str, str, str, str, str | None]]:
        """(entity, key, field, old, new) of each value a ``map`` or ``set`` rule changed that
        is valid tonight: no finding of the snapshot is on that record's field (nor, for a
        rule with ``when``, is its finding on the record). Such a change may undo the
        district's own fix (a teacher who exists by now), so ``fix`` refuses it unless forced.
        """
        if not isinstance(rule, MapRule | SetRule) or isinstance(rule, FillRule):
            return []
        rows = self.store.rows(
            f"SELECT DISTINCT entity, key, field, old, new FROM {CHANGES} c "
            "WHERE rule = ? AND change = 'changed' AND old IS NOT NULL AND NOT EXISTS ("
            "SELECT 1 FROM finding_places f WHERE f.snapshot_id = ? AND f.entity = c.entity "
            'AND (f.key = c.key OR f."row" = c._row) '
            "AND (f.field = c.field OR f.code IS NOT DISTINCT FROM ?)) "
            "ORDER BY entity, key, field",
            [rule.number, self.snapshot.id, rule.when],
        )
        return [(str(e), str(k), str(f), str(o), n) for e, k, f, o, n in rows]

    def select(self, work: WorkFile) -> str:
        """SQL of a corrected file's rows in received order."""
        columns = ", ".join(positional(i) for i in range(len(work.header)))
        return f"SELECT {columns} FROM {work.table} ORDER BY _row"

    _DISTINCT_CHANGES = (
        "SELECT entity, key, field, change, old, new, rule, rule_label, reason, "
        "min(file_order) AS f, min(_row) AS r, min(field_order) AS c "
        f"FROM {CHANGES} GROUP BY ALL"
    )

    def changes_select(self) -> str:
        """SQL of ``changes.csv``: one row per changed record and field, in rule then row order.

        A record on several rows (a student with contacts) or repeated rows change once. Values
        a spreadsheet would run as formulas are neutralised (:func:`spreadsheet_safe_sql`).
        """
        columns = ("entity", "key", "field", "change", "old", "new", "rule_label", "reason")
        safe = ", ".join(f"{spreadsheet_safe_sql(c)} AS {c}" for c in columns)
        return (
            f"SELECT {safe} FROM ({self._DISTINCT_CHANGES}) "
            f"ORDER BY greatest(rule, {UNPARSEABLE}), f, r, c, key, old, new"
        )

    def changes_per_rule(self) -> dict[int, int]:
        """Rows of ``changes.csv`` per rule number (UNPARSEABLE: rows the parser could not read,
        HEADER_ROWS: the records on header rows)."""
        rows = self.store.rows(
            f"SELECT rule, count(*) FROM ({self._DISTINCT_CHANGES}) GROUP BY rule"
        )
        return {int(rule): int(count) for rule, count in rows}

    def header_rows(self) -> int:
        """How many header rows (the header line again, its underline) were left out."""
        return int(
            self.store.rows(
                f"SELECT count(DISTINCT (file_order, _row)) FROM {CHANGES} WHERE rule = ?",
                [HEADER_ROWS],
            )[0][0]
        )


def _file_orders() -> list[int]:
    """Per entity of spec.ENTITIES, its file's order (a work file's ``order``): the change log
    lists what no rule did file by file, row by row."""
    files = list(spec.FILES)
    return [files.index(entity.file) for entity in spec.ENTITIES.values()]


def _usual_newline(styles: list[str | None]) -> str:
    """The snapshot's usual newline among CRLF and LF (for files whose own style is unclear)."""
    crlf, lf = styles.count("CRLF"), styles.count("LF")
    return "CRLF" if crlf > lf else "LF"


def _is_field(entity: spec.Entity, name: str) -> bool:
    """A spec column of the entity, or an ``ext.*`` column where the entity has them."""
    return name in entity.columns or (entity.extensions and name.startswith(spec.EXTENSION_PREFIX))
