"""Hold prediction and the history findings of a diff.

Clever holds a sync when, for an entity, the share of records deleted is above the district's
deletion threshold (default 10 %) or the share updated is above its update threshold (75 %).
The share's base is the entity's records at the ``from`` end. Counts are raw (a re-keyed record
is a deletion, as Clever sees it); an update counts only a change Clever applies (a spec column
or an ``ext.*`` field it accepts), not one in a column it ignores. A deletion hold of sections
or enrollments is *expected* when a term rollover explains it: without the rolled-over records
the share stays under the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence

from rosterlab.diff.engine import ENROLLMENTS, SECTIONS
from rosterlab.diff.model import (
    DiffResult,
    EntityDiff,
    HoldKind,
    HoldReason,
    HoldThresholds,
    TermRollover,
)
from rosterlab.spec import Finding, finding

ROLLOVER_CAUSE = "term-rollover"


def hold_reasons(
    entities: Sequence[EntityDiff],
    rollovers: Sequence[TermRollover],
    thresholds: HoldThresholds,
) -> tuple[HoldReason, ...]:
    """Every entity whose deleted or updated share is over its threshold, in entity order."""
    rolled = {
        SECTIONS.name: sum(len(r.sections) for r in rollovers),
        ENROLLMENTS.name: sum(r.enrollments for r in rollovers),
    }
    reasons: list[HoldReason] = []
    for item in entities:
        total = item.records_from
        if not total:
            continue
        checks: tuple[tuple[HoldKind, int, float], ...] = (
            ("deletion", item.removed, thresholds.deletion),
            ("update", item.applied_changes, thresholds.update),
        )
        for kind, count, threshold in checks:
            if count / total <= threshold:
                continue
            explained = rolled.get(item.entity, 0) if kind == "deletion" else 0
            expected = explained > 0 and (count - explained) / total <= threshold
            reasons.append(
                HoldReason(item.entity, kind, count, total, count / total, threshold, expected)
            )
    return tuple(reasons)


def history_findings(result: DiffResult, sync_type: str | None = None) -> list[Finding]:
    """The history findings of a diff: predicted holds, term rollovers, re-keyed IDs.

    A hold a term rollover explains carries ``cause='term-rollover'``, as the rollover's own
    finding does, so the two group together.
    """
    found = [
        finding(
            f"hold-mass-{'deletion' if reason.kind == 'deletion' else 'update'}",
            entity=reason.entity,
            value=str(reason.count),
            cause=ROLLOVER_CAUSE if reason.expected else None,
            sync_type=sync_type,
            ratio=reason.ratio,
            threshold=reason.threshold,
            total=reason.total,
        )
        for reason in result.hold_reasons
    ]
    found += [
        finding(
            "term-rollover",
            entity=SECTIONS.name,
            value=rollover.term if rollover.term is not None else rollover.term_end,
            cause=ROLLOVER_CAUSE,
            sync_type=sync_type,
            sections=len(rollover.sections),
            enrollments=rollover.enrollments,
            term_end=rollover.term_end,
        )
        for rollover in result.rollovers
    ]
    found += [
        finding(
            "id-rekeyed",
            entity=rekey.entity,
            key=rekey.new_key,
            value=rekey.old_key,
            sync_type=sync_type,
            old_key=rekey.old_key,
            matched_on=", ".join(rekey.matched_on),
        )
        for rekey in result.rekeys
    ]
    return found
