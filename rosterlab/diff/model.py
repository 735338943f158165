"""Frozen results of a diff and of a record's timeline; renderers in ``rosterlab.report.diff``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from rosterlab.config import DistrictSettings
from rosterlab.store import SnapshotInfo
from rosterlab.store.outcomes import NOT_PROCESSED, PROCESSED

if TYPE_CHECKING:
    import polars as pl

# Columns of the tidy row-level change frame, in order.
CHANGE_COLUMNS: tuple[str, ...] = ("entity", "key", "change", "field", "old", "new")
HoldKind = Literal["deletion", "update"]
TimelineChange = Literal[
    "first-seen", "changed", "removed", "reappeared", "versions", "not-served", "served"
]


@dataclass(frozen=True)
class Duplicate:
    """A key held by more than one version at an end of the diff (``versions_from``/``_to``)."""

    key: str
    versions_from: int
    versions_to: int


@dataclass(frozen=True)
class EntityDiff:
    """Counts for one entity, per record (key).

    ``unchanged`` counts the keys present at both ends with the same values; a key duplicated
    identically at both ends that the diff never touches counts once per version (the count
    comes from ``snapshot_entities`` without scanning the snapshot). ``duplicates`` lists the
    duplicated keys among the keys the diff touches.
    """

    entity: str
    added: int
    removed: int
    changed: int
    unchanged: int
    fields: tuple[tuple[str, int], ...]
    duplicates: tuple[Duplicate, ...]
    # Changed records with a change Clever applies (a spec column or an ext.* field); a change
    # only in a column Clever ignores is no update. None: every changed record (no such column).
    applied: int | None = None

    @property
    def applied_changes(self) -> int:
        """Changed records Clever updates: the base of an update hold."""
        return self.changed if self.applied is None else self.applied

    @property
    def records_from(self) -> int:
        """Records at the ``from`` end: the base of the hold ratios."""
        return self.removed + self.changed + self.unchanged


@dataclass(frozen=True)
class Rekey:
    """A removed and an added record that are one person/section by natural key."""

    entity: str
    old_key: str
    new_key: str
    matched_on: tuple[str, ...]


@dataclass(frozen=True)
class TermRollover:
    """Removed sections whose term had ended at the ``to`` snapshot, with their enrollments."""

    term: str | None
    term_end: str
    sections: tuple[str, ...]
    enrollments: int


@dataclass(frozen=True)
class HoldThresholds:
    """Shares above which Clever holds a sync (``>``, per entity)."""

    deletion: float = 0.10
    update: float = 0.75

    @classmethod
    def of(cls, district: DistrictSettings) -> HoldThresholds:
        return cls(district.hold_deletion_threshold, district.hold_update_threshold)


@dataclass(frozen=True)
class HoldReason:
    """One entity over a threshold. ``expected``: a term rollover explains it (deletions only:
    the deletions left after taking out the rolled-over records stay under the threshold)."""

    entity: str
    kind: HoldKind
    count: int
    total: int
    ratio: float
    threshold: float
    expected: bool


@dataclass(frozen=True)
class DiffResult:
    """What changed between two snapshots of one district.

    Counts stay raw: a re-keyed record is one removed and one added record (that is what Clever
    sees and holds on) and is listed in ``rekeys`` as well. ``changes`` (the tidy row-level
    frame, :data:`CHANGE_COLUMNS`) is only computed when asked for.
    """

    district: str
    from_snapshot: SnapshotInfo
    to_snapshot: SnapshotInfo
    thresholds: HoldThresholds
    entities: tuple[EntityDiff, ...]
    rekeys: tuple[Rekey, ...]
    rollovers: tuple[TermRollover, ...]
    hold_reasons: tuple[HoldReason, ...]
    changes: pl.DataFrame | None = None
    # What Clever does with ``to`` and why, as ``snapshots`` lists it (processed, held,
    # not-processed or served; the stored outcome, against the live state before ``to``).
    outcome: str = PROCESSED
    outcome_reason: str = ""
    # The same of ``from``; when Clever did not process it, ``served_before`` is the state it
    # served instead when ``to`` arrived (None: none yet) — ``from`` never reached the apps.
    from_outcome: str = PROCESSED
    from_outcome_reason: str = ""
    served_before: SnapshotInfo | None = None

    @property
    def not_processed(self) -> str | None:
        """Why Clever does not process the ``to`` upload (None: it does): it keeps serving the
        last state it processed, so nothing here is deleted or held."""
        return self.outcome_reason if self.outcome == NOT_PROCESSED else None

    @property
    def from_not_processed(self) -> str | None:
        """Why Clever did not process the ``from`` upload (None: it did)."""
        return self.from_outcome_reason if self.from_outcome == NOT_PROCESSED else None

    @property
    def hold_predicted(self) -> bool:
        return bool(self.hold_reasons)

    @property
    def backward(self) -> bool:
        """``from`` is a later night than ``to``: no hold is predicted (Clever holds an upload
        against the state before it, so a hold only makes sense forward in time)."""
        return self.from_snapshot.seq > self.to_snapshot.seq

    def entity(self, name: str) -> EntityDiff:
        for item in self.entities:
            if item.entity == name:
                return item
        raise KeyError(name)


@dataclass(frozen=True)
class TimelineEvent:
    """One step in a record's life.

    ``change``: ``first-seen``, ``changed`` (one event per field), ``removed``, ``reappeared``
    (followed by ``changed`` events against the version last seen), ``versions`` (the number of
    versions holding the key changed: a duplicate appeared or went away; old/new are counts),
    ``not-served`` (a pull from the Data API without a record the uploads hold: Clever skipped
    it, the district did not remove it), ``served`` (a pull serves it again, or first serves a
    record the uploads showed; followed by ``changed`` events against the previous pull's).

    ``outcome``/``outcome_reason``: the night's stored outcome when Clever did not simply apply
    it (``held``: the apps keep the state before it until the district approves the hold), so
    that a ``removed`` on a held night is not read as gone from the apps; None otherwise.
    """

    snapshot_id: int
    seq: int
    taken_at: datetime
    change: TimelineChange
    field: str | None = None
    old: str | None = None
    new: str | None = None
    outcome: str | None = None
    outcome_reason: str | None = None


@dataclass(frozen=True)
class Timeline:
    """Every change of one record across all snapshots of its district."""

    district: str
    entity: str
    key: str
    snapshots: int
    events: tuple[TimelineEvent, ...]
