"""``diff_snapshots``: what changed between two snapshots of a district, and will Clever hold it."""

from __future__ import annotations

from rosterlab.diff.engine import run_diff
from rosterlab.diff.hold import hold_reasons
from rosterlab.diff.model import DiffResult, HoldThresholds
from rosterlab.errors import SnapshotNotFoundError
from rosterlab.store import Store

DEFAULT_THRESHOLDS = HoldThresholds()


def diff_snapshots(
    store: Store,
    district: str,
    frm: str | int = "previous",
    to: str | int = "latest",
    *,
    thresholds: HoldThresholds = DEFAULT_THRESHOLDS,
    details: bool = False,
) -> DiffResult:
    """Diff two snapshots (ids, ``latest`` or ``previous``) of ``district``; read-only.

    Consecutive nights cost O(changes); any pair is exact. ``details`` adds the tidy row-level
    ``changes`` frame (entity, key, change, field, old, new).
    """
    if not store.snapshots(district):
        raise SnapshotNotFoundError(
            f"district {district} has no snapshots: check --district or ingest its nights"
        )
    from_snapshot = store.resolve(frm, district)
    to_snapshot = store.resolve(to, district)
    parts = run_diff(store, from_snapshot, to_snapshot, details=details)
    return DiffResult(
        district=district,
        from_snapshot=from_snapshot,
        to_snapshot=to_snapshot,
        thresholds=thresholds,
        entities=parts.entities,
        rekeys=parts.rekeys,
        rollovers=parts.rollovers,
        hold_reasons=hold_reasons(parts.entities, parts.rollovers, thresholds),
        changes=parts.changes,
    )
