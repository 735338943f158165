"""``diff_snapshots``: what changed between two snapshots of a district, and will Clever hold it."""

from __future__ import annotations

from dataclasses import replace

from rosterlab.diff.engine import DiffParts, run_diff
from rosterlab.diff.hold import hold_reasons
from rosterlab.diff.model import DiffResult, HoldThresholds
from rosterlab.errors import SnapshotNotFoundError
from rosterlab.store import SnapshotInfo, Store
from rosterlab.store.outcomes import API_ORIGIN, NOT_PROCESSED, live_before, outcome_of

LIVE = "live"

DEFAULT_THRESHOLDS = HoldThresholds()


class NoLiveStateError(SnapshotNotFoundError):
    """``to`` has no state Clever served before it to diff from: a district's first pull
    (``first_pull``), or an upload with no processed upload before it. The message is worded
    for the CLI (``--from``); a widget words its own from ``to`` and ``first_pull``."""

    def __init__(self, to: SnapshotInfo, first_pull: bool) -> None:
        self.to = to
        self.first_pull = first_pull
        super().__init__(
            f"snapshot {to.id} is {to.district}'s first pull from the Data API, and the state "
            "before a pull is the previous pull: give --from previous (the upload before it), "
            "or compare it with an upload by rosterlab reconcile"
            if first_pull
            else f"snapshot {to.id} has no processed upload before it to compare with: give --from"
        )


def live_from(store: Store, to_snapshot: SnapshotInfo) -> SnapshotInfo:
    """The state Clever served when ``to_snapshot`` arrived (a diff's default ``--from``): its
    last processed upload, or for a pull the previous pull; none is a NoLiveStateError."""
    live = live_before(store, to_snapshot)
    if live is None:
        raise NoLiveStateError(to_snapshot, first_pull=to_snapshot.origin == API_ORIGIN)
    return live


def diff_snapshots(
    store: Store,
    district: str,
    frm: str | int = LIVE,
    to: str | int = "latest",
    *,
    thresholds: HoldThresholds = DEFAULT_THRESHOLDS,
    details: bool = False,
    computed: DiffResult | None = None,
) -> DiffResult:
    """Diff two snapshots (ids, ``latest`` or ``previous``) of ``district``; read-only.

    ``frm`` defaults to ``live``: the state Clever serves when ``to`` arrives (the last upload it
    processed, so a night it did not process or holds is skipped); ``previous`` is the night
    before ``to``, whatever Clever did with it.

    Consecutive nights cost O(changes); any pair is exact. ``details`` adds the tidy row-level
    ``changes`` frame (entity, key, change, field, old, new). ``computed``: a diff of the same
    two snapshots made earlier on this store (the history checks' diff, which a fleet night
    reuses): its counts, re-keys and rollovers are taken as they are — stored versions never
    change once a night is ingested — and only the upload's outcome and the holds are read
    again (the checks run before tonight's outcome is recorded).

    No hold is predicted for a ``to`` pulled from the Data API: it is what Clever serves, already
    applied (Clever holds uploads, not what it serves) — nor for a backward diff (``frm`` later
    than ``to``): a hold only makes sense forward in time.
    """
    if not store.snapshots(district):
        raise store.no_snapshots(district)
    to_snapshot = store.resolve(to, district)
    if frm == LIVE:
        from_snapshot = live_from(store, to_snapshot)
    else:
        from_snapshot = store.resolve_from(frm, to_snapshot)
    if (
        computed is not None
        and (computed.from_snapshot.id, computed.to_snapshot.id)
        == (from_snapshot.id, to_snapshot.id)
        and (computed.changes is not None or not details)
    ):
        changes = computed.changes if details else None
        parts = DiffParts(computed.entities, computed.rekeys, computed.rollovers, changes)
    else:
        parts = run_diff(store, from_snapshot, to_snapshot, details=details)
    outcome = outcome_of(store, to_snapshot.id)
    from_outcome = outcome_of(store, from_snapshot.id)
    served_before = (
        live_before(store, to_snapshot) if from_outcome.outcome == NOT_PROCESSED else None
    )
    result = DiffResult(
        district=district,
        from_snapshot=from_snapshot,
        to_snapshot=to_snapshot,
        thresholds=thresholds,
        entities=parts.entities,
        rekeys=parts.rekeys,
        rollovers=parts.rollovers,
        hold_reasons=(),
        changes=parts.changes,
        outcome=outcome.outcome,
        outcome_reason=outcome.reason,
        from_outcome=from_outcome.outcome,
        from_outcome_reason=from_outcome.reason,
        served_before=served_before,
    )
    if result.not_processed or to_snapshot.origin == API_ORIGIN or result.backward:
        return result
    return replace(result, hold_reasons=hold_reasons(parts.entities, parts.rollovers, thresholds))
