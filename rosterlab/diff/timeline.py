"""The timeline of one record: every version of one key across all snapshots of its district.

One query reads the key's versions (a handful of rows); walking the district's nights over them
is then cheap. At each night the lowest ``row_hash`` present stands for the key, as in the diff.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from rosterlab import spec
from rosterlab.diff.model import Timeline, TimelineEvent
from rosterlab.errors import ConfigError
from rosterlab.store import SnapshotInfo, Store, quote_ident
from rosterlab.store.outcomes import API_ORIGIN, PROCESSED, SERVED, UploadOutcome, outcomes


def _values(entity: spec.Entity, row: Mapping[str, Any]) -> dict[str, str]:
    """A version's filled values: spec columns, then extra (ext.*) columns by name."""
    values = {c: row[c] for c in entity.columns if row[c] is not None}
    values.update(sorted((k, v) for k, v in (row["extra"] or {}).items() if v is not None))
    return values


def _field_events(
    snap: SnapshotInfo, entity: spec.Entity, old: dict[str, str], new: dict[str, str]
) -> list[TimelineEvent]:
    order = {c: i for i, c in enumerate(entity.columns)}
    names = sorted(set(old) | set(new), key=lambda n: (order.get(n, len(order)), n))
    return [
        TimelineEvent(snap.id, snap.seq, snap.taken_at, "changed", n, old.get(n), new.get(n))
        for n in names
        if old.get(n) != new.get(n)
    ]


def _with_outcome(events: list[TimelineEvent], outcome: UploadOutcome) -> list[TimelineEvent]:
    """A night's events, each saying the night's stored outcome when Clever did not simply
    apply it (held: the apps keep the state before it until the district approves)."""
    if outcome.outcome in (PROCESSED, SERVED):
        return events
    return [replace(e, outcome=outcome.outcome, outcome_reason=outcome.reason) for e in events]


CANDIDATES_LISTED = 10


def full_key(store: Store, district: str, entity: str, key: str) -> str:
    """The key ``key`` names: itself when the entity has it, else the one key of which it is a
    ``/``-separated part (``T-1008`` → ``T-1008/SCH-002``). Several: a ConfigError listing them;
    none: ``key`` unchanged (its timeline is empty)."""
    table = quote_ident(entity)
    if store.rows(f"SELECT 1 FROM {table} WHERE district = ? AND key = ? LIMIT 1", [district, key]):
        return key
    sep = spec.KEY_SEPARATOR
    found = [
        row[0]
        for row in store.rows(
            f"SELECT DISTINCT key FROM {table} WHERE district = ? AND list_contains("
            "string_split(key, ?), ?) ORDER BY key LIMIT ?",
            [district, sep, key, CANDIDATES_LISTED + 1],
        )
    ]
    if len(found) == 1:
        return str(found[0])
    if found:
        shown = ", ".join(found[:CANDIDATES_LISTED])
        more = f", … ({CANDIDATES_LISTED} shown)" if len(found) > CANDIDATES_LISTED else ""
        raise ConfigError(
            f"{key} is part of several {entity} keys of {district}: {shown}{more}; give one "
            "with --key"
        )
    return key


@dataclass
class _Track:
    """What one kind of snapshot (uploads, or pulls from the Data API) last said of the key."""

    last_seen: dict[str, str] | None = None
    present: int = 0  # versions holding the key at the kind's previous applied night
    not_served: bool = False  # pulls: the uploads hold it, the previous pull did not serve it


def record_timeline(store: Store, district: str, entity: str, key: str) -> Timeline:
    """First seen, each field change, removal and re-appearance of ``entity`` ``key`` (a part
    of a composite key is enough when it names one record: :func:`full_key`).

    A night Clever did not process is passed over: Clever kept serving the record as it was.
    The events of a held night carry its outcome (the apps keep the state before it until the
    district approves the hold).
    As in the diff, uploads follow uploads and pulls from the Data API follow pulls: a pull that
    does not serve a record the uploads hold (a row Clever skipped) says ``not-served`` — the
    district did not remove it — and ``served`` when a pull serves it again (or first serves a
    record the uploads showed).
    """
    if entity not in spec.ENTITIES:
        raise ConfigError(f"unknown entity {entity!r}: use one of {', '.join(spec.ENTITIES)}")
    snapshots = store.snapshots(district)
    if not snapshots:
        raise store.no_snapshots(district)
    key = full_key(store, district, entity, key)
    kind = spec.ENTITIES[entity]
    columns = ", ".join(quote_ident(c) for c in kind.columns)
    versions = store.query(
        f"SELECT row_hash, valid_from, valid_to, {columns}, extra FROM {quote_ident(entity)} "
        "WHERE district = ? AND key = ? ORDER BY valid_from, row_hash",
        [district, key],
    ).to_dicts()
    events: list[TimelineEvent] = []
    uploads, pulls = _Track(), _Track()
    nights = outcomes(store, district)
    for snap in snapshots:
        if not nights[snap.id].applied:
            continue
        before = len(events)
        present = [
            v
            for v in versions
            if v["valid_from"] <= snap.seq and (v["valid_to"] is None or v["valid_to"] >= snap.seq)
        ]
        current = _values(kind, min(present, key=lambda v: v["row_hash"])) if present else None
        at = (snap.id, snap.seq, snap.taken_at)
        track, other = (pulls, uploads) if snap.origin == API_ORIGIN else (uploads, pulls)
        if current is None:
            if track is pulls and uploads.present:
                if not pulls.not_served:
                    events.append(TimelineEvent(*at, "not-served"))
            elif track.present:
                events.append(TimelineEvent(*at, "removed"))
        elif track.last_seen is None and other.last_seen is None:
            events.append(TimelineEvent(*at, "first-seen"))
        else:
            if track is pulls and (pulls.not_served or pulls.last_seen is None):
                events.append(TimelineEvent(*at, "served"))
            elif track.last_seen is not None and not track.present:
                events.append(TimelineEvent(*at, "reappeared"))
            if track.last_seen is not None:
                events += _field_events(snap, kind, track.last_seen, current)
        if present and len(present) != max(track.present, 1):
            old = str(max(track.present, 1))
            events.append(TimelineEvent(*at, "versions", None, old, str(len(present))))
        if track is pulls:
            pulls.not_served = current is None and uploads.present > 0
        track.last_seen = current if current is not None else track.last_seen
        track.present = len(present)
        events[before:] = _with_outcome(events[before:], nights[snap.id])
    return Timeline(district, entity, key, len(snapshots), tuple(events))
