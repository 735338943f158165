"""The customization ledger: field values a district keeps on purpose, and uploads that undo them.

A district records an override (entity, key, field, value, reason) — e.g. a student's preferred
name kept despite the SIS — in the store's ``ledger`` table. ``override-reverted`` flags a
snapshot in which that record is present with a different value for that field (a blank or a
dropped column counts as different). Records absent tonight are not flagged: that is a deletion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from rosterlab import spec
from rosterlab.checks.model import CheckContext
from rosterlab.checks.sql import Sql, bound, find, row_key, select_findings
from rosterlab.errors import LedgerError
from rosterlab.spec import Finding
from rosterlab.store import Store, quote_ident

_COLUMNS = "id, district, entity, key, field, value, reason, created_at"


@dataclass(frozen=True)
class Override:
    """One ledger entry: the value a district keeps for one field of one record."""

    id: int
    district: str
    entity: str
    key: str
    field: str
    value: str | None
    reason: str
    created_at: datetime


def _validate(entity: str, field: str) -> None:
    if entity not in spec.ENTITIES:
        raise LedgerError(f"unknown entity {entity!r}: use one of {', '.join(spec.ENTITIES)}")
    known = spec.ENTITIES[entity]
    if field not in known.columns and not (
        known.extensions and field.startswith(spec.EXTENSION_PREFIX)
    ):
        raise LedgerError(
            f"{entity} has no field {field!r}: use a spec column or an ext.* field "
            f"({', '.join(known.columns)})"
        )


NEAREST_KEYS = 3


def _check_key(store: Store, district: str, entity: str, key: str) -> None:
    """Refuse a key in no night of the district (a typo would keep an override nothing matches),
    naming the nearest keys the district has."""
    table = quote_ident(entity)
    if store.rows(f"SELECT 1 FROM {table} WHERE district = ? AND key = ? LIMIT 1", [district, key]):
        return
    nearest = [
        row[0]
        for row in store.rows(
            f"SELECT key FROM (SELECT DISTINCT key FROM {table} WHERE district = ?) "
            "ORDER BY levenshtein(key, ?), key LIMIT ?",
            [district, key, NEAREST_KEYS],
        )
    ]
    raise LedgerError(
        f"{district} has no {entity} record {key!r} in any night: "
        + (
            f"nearest {', '.join(nearest)} (give the record's key as its nights hold it)"
            if nearest
            else f"no night of {district} holds {entity} (ingest its nights first)"
        )
    )


def add_override(
    store: Store,
    district: str,
    *,
    entity: str,
    key: str,
    field: str,
    value: str | None,
    reason: str,
) -> Override:
    """Record (or replace) the override of one field of one record (its key must be in a night
    of the district, as its field must be the entity's); returns it."""
    _validate(entity, field)
    if not reason.strip():
        raise LedgerError("give a --reason: the ledger says why a value is kept on purpose")
    _check_key(store, district, entity, key)
    store.execute(
        "INSERT INTO ledger (district, entity, key, field, value, reason, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (district, entity, key, field) DO UPDATE SET "
        "value = excluded.value, reason = excluded.reason, created_at = excluded.created_at",
        [district, entity, key, field, value or None, reason, _now()],
    )
    rows = store.rows(
        f"SELECT {_COLUMNS} FROM ledger WHERE district = ? AND entity = ? AND key = ? "
        "AND field = ?",
        [district, entity, key, field],
    )
    return Override(*rows[0])


def overrides(store: Store, district: str) -> list[Override]:
    """The district's overrides, oldest first."""
    rows = store.rows(f"SELECT {_COLUMNS} FROM ledger WHERE district = ? ORDER BY id", [district])
    return [Override(*row) for row in rows]


def remove_override(store: Store, district: str, override_id: int) -> Override:
    """Retire an override; returns what was removed."""
    rows = store.rows(
        f"SELECT {_COLUMNS} FROM ledger WHERE district = ? AND id = ?", [district, override_id]
    )
    if not rows:
        raise LedgerError(
            f"district {district} has no override {override_id}: list them with rosterlab "
            "ledger list"
        )
    store.execute("DELETE FROM ledger WHERE id = ?", [override_id])
    return Override(*rows[0])


def ledger_fingerprint(store: Store, district: str) -> str:
    """Changes whenever the district's ledger does (part of the check cache key)."""
    rows = store.rows(
        "SELECT count(*), coalesce(sum(hash(id, entity, key, field, value)), 0) FROM ledger "
        "WHERE district = ?",
        [district],
    )
    return f"{rows[0][0]}:{rows[0][1]}"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def check_ledger(ctx: CheckContext) -> list[Finding]:
    """override-reverted: tonight's value of a kept override differs from the ledger's."""
    kept = overrides(ctx.store, ctx.snapshot.district)
    found: list[Finding] = []
    by_file: dict[str, list[Sql]] = {}
    for item in kept:
        entity = spec.ENTITIES[item.entity]
        staged = ctx.staged_of(entity.name)
        if staged is None:
            continue
        value = staged.columns.received(item.field)
        key = row_key(staged, entity)
        select, params = select_findings(
            code=bound("override-reverted"),
            entity=entity.name,
            key="_k",
            field=item.field,
            value="_v",
            info=bound(item.value or ""),
        )
        by_file.setdefault(staged.spec_name, []).append(
            (
                f"SELECT {select} FROM (SELECT _row, {key} AS _k, {value} AS _v "
                f"FROM {staged.view} WHERE {key} = ? QUALIFY row_number() OVER "
                "(ORDER BY _row) = 1) WHERE _v IS DISTINCT FROM ?",
                [*params, item.key, item.value],
            )
        )
    for file, queries in by_file.items():
        found += find(ctx, queries, file=file)
    return found
