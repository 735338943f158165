"""What Clever does with each upload (its outcome) and the state it serves (the live state).

Every upload is a full snapshot, but Clever does not apply every one (SFTP Instructions v2.1.1,
and its published hold thresholds):

- ``not-processed``: a required file is missing (or unreadable as a whole: not text at all, which
  is ours — Clever does not say): Clever keeps serving the last state it processed. An optional
  file (staff.csv, admins.csv) that is not text is taken as not sent (ours): the rest is
  processed, and its records count as deleted, as when the file is left out;
- ``held``: a predicted hold: the live state stays until the district approves the upload;
- ``processed``: applied, less the rows Clever skips (counted by file and reason), and
  naming apart the rows it may skip: a broken link or a repeated ID, whose consequence Clever
  does not state (the stand-in skips them; reconcile shows what Clever did), and the rows a
  skip carries with it — the enrollments of a skipped section or student, a skipped school's
  students, teachers, staff and sections (``store/carried.py``): Clever states no consequence
  for them either, so they too *may* be skipped;
- ``served``: a snapshot pulled from the Data API (origin ``api``) is no upload: it is the state
  Clever serves at the pull, already applied — nothing in it is skipped or held. Its findings
  still describe served records (a section served without its teacher); the outcome counts them.

The outcome is computed from a snapshot's findings when it is checked (at ingest) and stored in
``snapshot_outcomes`` beside the district settings it was checked with. The *live state* before
a snapshot is the newest earlier snapshot of the same kind (uploads follow uploads, API pulls
follow pulls) that Clever processed — a hold taken as approved before the next night, since
rosterlab does not see the district's decision: what tonight's upload is compared with.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rosterlab import spec
from rosterlab.spec import Finding
from rosterlab.spec.findings import HELD as HOLD_CONSEQUENCE
from rosterlab.spec.findings import NOT_PROCESSED as NOT_PROCESSED_CONSEQUENCE
from rosterlab.spec.findings import (
    NOT_READ,
    ROW_SKIPPED,
    ROWS_MAY_BE_SKIPPED,
    ROWS_SKIPPED,
    SECTION_SKIPPED,
)
from rosterlab.store.carried import (
    NotServed,
    duplicated_entities,
    not_served,
    not_served_of,
    not_served_query,
)
from rosterlab.store.store import Beside, SnapshotInfo, Store

NOT_PROCESSED = "not-processed"
HELD = "held"
PROCESSED = "processed"
SERVED = "served"
OUTCOMES = (PROCESSED, HELD, NOT_PROCESSED, SERVED)
SERVED_REASON = "pulled from the Data API"
API_ORIGIN = "api"

# Catalogue consequences that stop the upload (a missing file; one Clever cannot read: ours).
_STOPPING = (NOT_PROCESSED_CONSEQUENCE, NOT_READ)
# Catalogue consequences that skip rows, and how many rows a finding stands for.
_ROW_SKIPPING = (ROW_SKIPPED, SECTION_SKIPPED)
_FILE_SKIPPING = (ROWS_SKIPPED,)
# A stored skipped item ``[file, code, rows]`` of rows Clever may skip carries this 4th element,
# one of rows carried with skipped records ``[file, code, rows, "carried", by]``, and the
# records Clever does not serve ``[entity, code, records, "records", by, rows]``.
_MAY_SKIP = "unconfirmed"
_CARRIED = "carried"
_RECORDS = "records"
# The findings that describe a served snapshot's records: ``["", "findings", count, "served"]``.
_SERVED = "served"


@dataclass(frozen=True)
class Skipped:
    """Rows of one file Clever skips for one reason (a finding code); carried rows name the
    entity whose skipped records carry them (``by``: the enrollments of skipped sections)."""

    file: str
    code: str
    rows: int
    by: str | None = None


@dataclass(frozen=True)
class UploadOutcome:
    """What Clever does with one upload, and why (``reason``: the deciding finding codes).

    ``skipped``: rows Clever skips on its word; ``may_skip``: rows it may skip (their
    finding's consequence is unconfirmed), never counted in ``skipped``; ``carried``: rows with
    no problem of their own that a skip carries with it (they may be skipped: Clever does not
    say); ``not_served``: the same per entity in records, direct and carried — what reconcile
    counts as ``served-skipped``. A ``served`` snapshot (an API pull) skips nothing:
    ``served_findings`` counts its error and warning findings, which describe served records.
    """

    snapshot_id: int
    outcome: str
    reason: str
    skipped: tuple[Skipped, ...] = ()
    settings: tuple[tuple[str, Any], ...] = ()
    may_skip: tuple[Skipped, ...] = ()
    carried: tuple[Skipped, ...] = ()
    not_served: tuple[NotServed, ...] = ()
    served_findings: int = 0

    @property
    def applied(self) -> bool:
        """True when Clever serves this upload once the district has decided.

        A held upload waits for the district's approval; rosterlab does not see that decision
        and takes a hold as approved before the next night (the usual case: a term rollover, a
        planned change). A not-processed upload is never served.
        """
        return self.outcome != NOT_PROCESSED

    def skipped_rows(self) -> int:
        return sum(s.rows for s in self.skipped)

    def may_skip_rows(self) -> int:
        return sum(s.rows for s in self.may_skip)

    def carried_rows(self) -> int:
        return sum(s.rows for s in self.carried)

    def as_dict(self) -> dict[str, Any]:
        served = {"served_findings": self.served_findings} if self.outcome == SERVED else {}
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "skipped": [{"file": s.file, "code": s.code, "rows": s.rows} for s in self.skipped],
            "may_skip": [{"file": s.file, "code": s.code, "rows": s.rows} for s in self.may_skip],
            "carried": [
                {"file": s.file, "code": s.code, "rows": s.rows, "by": s.by} for s in self.carried
            ],
            "not_served": [
                {
                    "entity": n.entity,
                    "code": n.code,
                    "records": n.records,
                    "by": n.by,
                    "confirmed": n.confirmed,
                }
                for n in self.not_served
            ],
            **served,
        }


def _file_of(f: Finding) -> str | None:
    entity = spec.ENTITIES.get(f.entity or "")
    return entity.file if entity is not None else None


def upload_outcome(
    snapshot_id: int,
    findings: Sequence[Finding],
    file_rows: Mapping[str, int],
    settings: Mapping[str, Any] | None = None,
    unserved: Sequence[NotServed] = (),
) -> UploadOutcome:
    """The outcome the findings imply: not processed, held, or processed less skipped rows;
    ``unserved``: the records Clever does not serve (``carried.not_served``), which give the
    rows a skip carries with it."""
    frozen_settings = tuple(sorted((settings or {}).items()))
    catalogue = spec.CATALOGUE
    if stopping := _stopping(findings):
        codes = sorted({f.code for f in stopping})
        missing = sorted({f.value for f in stopping if f.value})
        reason = ", ".join(codes) + (f": {', '.join(missing)}" if missing else "")
        return UploadOutcome(snapshot_id, NOT_PROCESSED, reason, (), frozen_settings)
    holds = sorted(
        {
            f"{f.entity} {f.code.removeprefix('hold-mass-')}"
            for f in findings
            if catalogue[f.code].clever == HOLD_CONSEQUENCE and f.code.startswith("hold-mass-")
        }
    )
    skipped_rows: Counter[tuple[str, str]] = Counter()
    may_skip_rows: Counter[tuple[str, str]] = Counter()
    seen_rows: set[tuple[str, str, int | None, str | None]] = set()
    for f in findings:
        consequence = spec.consequence(f)
        file = _file_of(f)
        if file is None:
            continue
        if consequence in _FILE_SKIPPING:
            skipped_rows[(file, f.code)] = file_rows.get(file, 0)
        elif consequence in _ROW_SKIPPING or (
            consequence == ROWS_MAY_BE_SKIPPED and spec.follows(f.entity, f.field)
        ):
            place = (file, f.code, f.row, f.key if f.row is None else None)
            if place not in seen_rows:
                seen_rows.add(place)
                counter = skipped_rows if consequence in _ROW_SKIPPING else may_skip_rows
                counter[(file, f.code)] += f.rows  # a record's rows (its contact rows)
    skipped, may_skip = (
        tuple(Skipped(file, code, rows) for (file, code), rows in sorted(counted.items()) if rows)
        for counted in (skipped_rows, may_skip_rows)
    )
    outcome, reason = (HELD, "hold: " + ", ".join(holds)) if holds else (PROCESSED, "")
    carried = tuple(
        Skipped(spec.ENTITIES[n.entity].file, n.code, n.rows, n.by)
        for n in unserved
        if n.by is not None and n.rows
    )
    return UploadOutcome(
        snapshot_id,
        outcome,
        reason,
        skipped,
        frozen_settings,
        may_skip,
        carried,
        tuple(unserved),
    )


def served_outcome(
    snapshot_id: int, findings: Sequence[Finding], settings: Mapping[str, Any] | None = None
) -> UploadOutcome:
    """The outcome of a snapshot pulled from the Data API: ``served``, with its error and warning
    findings counted (they describe what Clever serves; nothing in it is skipped or held)."""
    described = sum(1 for f in findings if f.severity in ("error", "warning"))
    return UploadOutcome(
        snapshot_id,
        SERVED,
        SERVED_REASON,
        settings=tuple(sorted((settings or {}).items())),
        served_findings=described,
    )


def skips_rows(findings: Sequence[Finding]) -> bool:
    """Whether a finding skips (or may skip) a row Clever would otherwise serve."""
    catalogue = spec.CATALOGUE
    return any(
        catalogue[f.code].clever in (*_ROW_SKIPPING, *_FILE_SKIPPING)
        or (catalogue[f.code].clever == ROWS_MAY_BE_SKIPPED and spec.follows(f.entity, f.field))
        for f in findings
    )


class UnservedLater:
    """A night's records Clever does not serve (:func:`~rosterlab.store.carried.not_served`),
    their query started on the store's second lane as soon as the findings so far (``found``,
    with the ingest's) say the outcome will count them — beside the checks still running."""

    def __init__(self, store: Store, snapshot: SnapshotInfo, beside: Beside) -> None:
        self._store = store
        self._snapshot = snapshot
        self._beside = beside
        self._ingest = store.findings(snapshot.id, "ingest")
        self.duplicated = duplicated_entities(store, snapshot.id)
        self._rows: Callable[[], list[tuple[Any, ...]]] | None = None

    def start_if_needed(self, found: Sequence[Finding]) -> None:
        if self._rows is not None or self._snapshot.origin == API_ORIGIN:
            return
        everything = (*self._ingest, *found)
        if _stopping(everything) or not (self.duplicated or skips_rows(everything)):
            return
        self._rows = self._beside.rows(*not_served_query(self._snapshot, self.duplicated))

    def records(self) -> tuple[NotServed, ...]:
        if self._rows is None:
            return not_served(self._store, self._snapshot, self.duplicated)
        return not_served_of(self._rows())


def _stopping(findings: Sequence[Finding]) -> list[Finding]:
    """The findings that stop the upload (Clever does not process it): the one rule."""
    return [f for f in findings if spec.consequence(f) in _STOPPING]


def snapshot_outcome(
    store: Store,
    snapshot_id: int,
    findings: Sequence[Finding],
    settings: Mapping[str, Any] | None = None,
    *,
    unserved: UnservedLater | None = None,
) -> UploadOutcome:
    """A snapshot's outcome from its findings, with the records its skips carry: counted in
    the store (one query over the night's rows) only when Clever processes the upload and a
    finding skips a row or the night repeats a key (``unserved``: that query, perhaps already
    started). A snapshot pulled from the Data API is :func:`served_outcome`."""
    snapshot = store.snapshot(snapshot_id)
    if snapshot.origin == API_ORIGIN:
        return served_outcome(snapshot_id, findings, settings)
    rows = file_rows(store, snapshot_id)
    outcome = upload_outcome(snapshot_id, findings, rows, settings)
    if outcome.outcome == NOT_PROCESSED:
        return outcome
    duplicated = unserved.duplicated if unserved else duplicated_entities(store, snapshot_id)
    if not (skips_rows(findings) or duplicated):
        return outcome
    records = unserved.records() if unserved else not_served(store, snapshot, duplicated)
    return upload_outcome(snapshot_id, findings, rows, settings, records)


def file_rows(store: Store, snapshot_id: int) -> dict[str, int]:
    """Data rows per received spec file of a snapshot."""
    return {
        name: int(rows or 0)
        for name, rows in store.rows(
            "SELECT spec_name, rows FROM snapshot_files "
            "WHERE snapshot_id = ? AND spec_name IS NOT NULL",
            [snapshot_id],
        )
    }


def record_outcome(store: Store, outcome: UploadOutcome) -> None:
    """Store a snapshot's outcome and the settings it was checked with (replacing any)."""
    store.execute(
        "INSERT OR REPLACE INTO snapshot_outcomes VALUES (?, ?, ?, ?, ?)",
        [
            outcome.snapshot_id,
            outcome.outcome,
            outcome.reason,
            json.dumps(
                [[s.file, s.code, s.rows] for s in outcome.skipped]
                + [[s.file, s.code, s.rows, _MAY_SKIP] for s in outcome.may_skip]
                + [[s.file, s.code, s.rows, _CARRIED, s.by] for s in outcome.carried]
                + [
                    [n.entity, n.code, n.records, _RECORDS, n.by, n.rows]
                    for n in outcome.not_served
                ]
                + (
                    [["", "findings", outcome.served_findings, _SERVED]]
                    if outcome.outcome == SERVED
                    else []
                )
            ),
            json.dumps(dict(outcome.settings), sort_keys=True),
        ],
    )


def _stored(row: tuple[Any, ...]) -> UploadOutcome:
    snapshot_id, outcome, reason, skipped, settings = row
    items = json.loads(skipped)
    kind = [item[3] if len(item) > 3 else None for item in items]
    return UploadOutcome(
        snapshot_id,
        outcome,
        reason,
        tuple(Skipped(*item[:3]) for item, k in zip(items, kind, strict=True) if k is None),
        tuple(sorted(json.loads(settings).items())),
        tuple(Skipped(*item[:3]) for item, k in zip(items, kind, strict=True) if k == _MAY_SKIP),
        tuple(
            Skipped(item[0], item[1], item[2], item[4])
            for item, k in zip(items, kind, strict=True)
            if k == _CARRIED
        ),
        tuple(
            NotServed(item[0], item[1], item[2], item[5], item[4])
            for item, k in zip(items, kind, strict=True)
            if k == _RECORDS
        ),
        sum(item[2] for item, k in zip(items, kind, strict=True) if k == _SERVED),
    )


def _current(store: Store, outcome: UploadOutcome, origin: str) -> UploadOutcome:
    """A pull's outcome recorded before pulls were ``served`` (as an upload's) is read as one."""
    if origin != API_ORIGIN or outcome.outcome == SERVED:
        return outcome
    found = store.findings(outcome.snapshot_id)
    return served_outcome(outcome.snapshot_id, found, dict(outcome.settings))


def outcomes(store: Store, district: str | None = None) -> dict[int, UploadOutcome]:
    """Every snapshot's outcome (of one district): stored, else implied by its stored findings."""
    snapshots = store.snapshots(district)
    rows = store.rows(
        "SELECT o.* FROM snapshot_outcomes o JOIN snapshots s ON s.id = o.snapshot_id"
        + (" WHERE s.district = ?" if district else ""),
        [district] if district else [],
    )
    stored = {row[0]: _stored(row) for row in rows}
    return {
        snapshot.id: _current(store, stored[snapshot.id], snapshot.origin)
        if snapshot.id in stored
        else _implied(store, snapshot.id, snapshot.origin)
        for snapshot in snapshots
    }


def outcome_of(store: Store, snapshot_id: int) -> UploadOutcome:
    """One snapshot's outcome (stored, else implied by its stored findings)."""
    rows = store.rows(
        "SELECT o.*, s.origin FROM snapshot_outcomes o JOIN snapshots s ON s.id = o.snapshot_id "
        "WHERE o.snapshot_id = ?",
        [snapshot_id],
    )
    if rows:
        return _current(store, _stored(rows[0][:-1]), rows[0][-1])
    return _implied(store, snapshot_id, store.snapshot(snapshot_id).origin)


def _implied(store: Store, snapshot_id: int, origin: str) -> UploadOutcome:
    """The outcome of a snapshot never checked (so none stored), from its stored findings alone:
    the rows its skips carry are counted when it is checked (one query over the night's rows,
    too dear for every read: the diff and the stand-in ask for the outcome of each night). A
    pull's is :func:`served_outcome`."""
    found = store.findings(snapshot_id)
    if origin == API_ORIGIN:
        return served_outcome(snapshot_id, found)
    return upload_outcome(snapshot_id, found, file_rows(store, snapshot_id))


def same_kind(a: SnapshotInfo, b: SnapshotInfo) -> bool:
    """Uploads follow uploads, API pulls follow pulls."""
    return (a.origin == API_ORIGIN) == (b.origin == API_ORIGIN)


def live_before(store: Store, snapshot: SnapshotInfo) -> SnapshotInfo | None:
    """The state Clever serves when ``snapshot`` arrives: the newest earlier processed one."""
    earlier = [
        s
        for s in store.snapshots(snapshot.district)
        if s.seq < snapshot.seq and same_kind(s, snapshot)
    ]
    for candidate in reversed(earlier):
        if outcome_of(store, candidate.id).applied:
            return candidate
    return None


def recorded_settings(store: Store, district: str) -> dict[str, Any] | None:
    """The district settings the district's newest checked snapshot was checked with."""
    rows = store.rows(
        "SELECT o.settings FROM snapshot_outcomes o JOIN snapshots s ON s.id = o.snapshot_id "
        "WHERE s.district = ? AND o.settings <> '{}' ORDER BY s.seq DESC LIMIT 1",
        [district],
    )
    return json.loads(rows[0][0]) if rows else None
