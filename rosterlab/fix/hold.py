"""Predict whether Clever will hold a corrected bundle, against what Clever last received from us.

The baseline is the district's last successful push, else the state Clever serves when the
corrected bundle arrives: the last upload before the corrected one that Clever processed (a night
it did not process is skipped, as ``diff``'s default ``--from live`` does). When the baseline is
a snapshot in the store (a pushed bundle is one when the district holds a snapshot with exactly
its files, e.g. after ``pull``), the record-level diff of ``rosterlab.diff`` predicts the hold:
deletions and updates per entity, term rollovers expected. A push whose files are not in the
store only left its rows per entity in the push log: then deletions are estimated from row
counts (a net count that misses deletions offset by additions; updates are not measured) and
the prediction says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rosterlab.config import DistrictSettings
from rosterlab.diff import HoldReason, HoldThresholds, diff_snapshots
from rosterlab.store import SnapshotInfo, Store
from rosterlab.store.outcomes import live_before
from rosterlab.store.pushes import PushRecord, last_push

DIFF = "diff"
ROW_COUNTS = "row-counts"
ROW_COUNTS_NOTE = (
    "the pushed files are not in the store, so deletions are estimated from rows per entity: "
    "deletions offset by additions are missed and updates are not measured"
)


@dataclass(frozen=True)
class HoldPrediction:
    """Whether a hold is predicted, against which baseline, how, and why."""

    predicted: bool
    method: str | None  # diff | row-counts | None (nothing to compare with)
    baseline: dict[str, Any] | None  # {"kind": "push" | "snapshot", ...}
    reasons: tuple[HoldReason, ...]
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "predicted": self.predicted,
            "method": self.method,
            "baseline": self.baseline,
            "reasons": [_reason_dict(r) for r in self.reasons],
            "note": self.note,
        }


def hold_of_manifest(data: Any) -> HoldPrediction | None:
    """The hold prediction a manifest.json recorded (None when it has none or it is damaged)."""
    try:
        return HoldPrediction(
            predicted=bool(data["predicted"]),
            method=data["method"],
            baseline=data["baseline"],
            reasons=tuple(
                HoldReason(
                    r["entity"],
                    r["kind"],
                    int(r["count"]),
                    int(r["total"]),
                    float(r["ratio"]),
                    float(r["threshold"]),
                    bool(r["expected"]),
                )
                for r in data["reasons"]
            ),
            note=data.get("note"),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _reason_dict(reason: HoldReason) -> dict[str, Any]:
    return {
        "entity": reason.entity,
        "kind": reason.kind,
        "count": reason.count,
        "total": reason.total,
        "ratio": round(reason.ratio, 4),
        "threshold": reason.threshold,
        "expected": reason.expected,
    }


def predict_hold(
    store: Store,
    source: SnapshotInfo,
    corrected: SnapshotInfo,
    rows: Mapping[str, int],
    settings: DistrictSettings,
) -> HoldPrediction:
    """Hold prediction for ``corrected`` (a snapshot in the store, ``rows`` per entity)."""
    thresholds = HoldThresholds.of(settings)
    pushed = last_push(store, source.district)
    if pushed is not None:
        described = _push(pushed)
        snapshot = _snapshot_of(store, pushed)
        if snapshot is not None:
            described["snapshot"] = snapshot.id
            return _by_diff(store, snapshot, corrected, thresholds, described)
        if pushed.entity_rows is not None:
            reasons = _by_rows(pushed.entity_rows, rows, thresholds)
            return HoldPrediction(bool(reasons), ROW_COUNTS, described, reasons, ROW_COUNTS_NOTE)
    live = live_before(store, source)
    if live is None:
        return HoldPrediction(
            False,
            None,
            None,
            (),
            "no earlier push or processed upload of the district to compare with",
        )
    described = {"kind": "snapshot", "snapshot": live.id, "night": live.seq}
    return _by_diff(store, live, corrected, thresholds, described)


def _push(pushed: PushRecord) -> dict[str, Any]:
    return {
        "kind": "push",
        "push": pushed.id,
        "target": pushed.target,
        "bundle_sha256": pushed.bundle_sha256,
        "pushed_at": pushed.finished_at.isoformat(timespec="seconds"),
    }


def _snapshot_of(store: Store, pushed: PushRecord) -> SnapshotInfo | None:
    """The district's newest snapshot made of exactly the pushed files (same bundle sha256)."""
    found = [s for s in store.snapshots(pushed.district) if s.bundle_sha256 == pushed.bundle_sha256]
    return found[-1] if found else None


def _by_diff(
    store: Store,
    baseline: SnapshotInfo,
    corrected: SnapshotInfo,
    thresholds: HoldThresholds,
    described: dict[str, Any],
) -> HoldPrediction:
    diff = diff_snapshots(
        store, corrected.district, baseline.id, corrected.id, thresholds=thresholds
    )
    return HoldPrediction(bool(diff.hold_reasons), DIFF, described, diff.hold_reasons)


def _by_rows(
    before: Mapping[str, int], after: Mapping[str, int], thresholds: HoldThresholds
) -> tuple[HoldReason, ...]:
    reasons = []
    for entity, total in before.items():
        removed = total - after.get(entity, 0)
        if total > 0 and removed > 0 and removed / total > thresholds.deletion:
            reasons.append(
                HoldReason(
                    entity, "deletion", removed, total, removed / total, thresholds.deletion, False
                )
            )
    return tuple(reasons)
