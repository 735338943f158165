"""A stored snapshot as Clever's Data API would serve it: the bundle → API half of the mapping.

The stand-in serves what this module builds, straight from DuckDB: at start-up the night it
serves is indexed set-based in temporary tables (:mod:`rosterlab.api.served_sql`): every id in
order, the small resources' bodies, and what a student's, contact's or section's body needs
beside its row. A page is one keyset query for its ids (``id > cursor ORDER BY id LIMIT n``),
then the bodies of that id range, rendered from their rows. The events (the diff of the event
window's nights) are computed on the first request that needs them. Memory stays that of
DuckDB's buffer, whatever the district's size.

Ids are stable 24-hex strings in creation order: eight hex digits of the night the record (its
key) was first seen, then sixteen of a hash of district, entity and key, so a record keeps its id
from night to night and a changed ``sis_id`` (a new key) gets a new one (a re-key), as at Clever.
The mapping decisions are documented in ``docs/api.md``; the ones Clever's text does not confirm
are marked there.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rosterlab.api import served_sql
from rosterlab.api.served_sql import FRL_NAMES, RACE_NAMES
from rosterlab.store import SnapshotInfo, Store
from rosterlab.store.outcomes import PROCESSED, SERVED, live_before, outcome_of, same_kind

__all__ = ["FRL_NAMES", "RACE_NAMES"]

RESOURCES: tuple[str, ...] = ("districts", "schools", "terms", "courses", "sections", "users")
USER_ROLES: tuple[str, ...] = ("student", "teacher", "staff", "contact")
US_DATE = re.compile(served_sql.US_DATE)
SIS_TYPES = {"sftp": "sftp", "clever-managed": "clever", "sis-managed": "sis"}  # (unconfirmed)
EVENT_WINDOW = timedelta(days=30)
EVENTS_BATCH = 1000  # changes turned into events per statement
_PARAM = re.compile(r"\$([a-z][a-z0-9_]*)\b")


def clever_id(first_seen: datetime, district: str, entity: str, key: str) -> str:
    stamp = int(first_seen.replace(tzinfo=UTC).timestamp())
    digest = hashlib.sha256(f"{district}\x1f{entity}\x1f{key}".encode()).hexdigest()
    return f"{stamp:08x}{digest[:16]}"


def _bound(sql: str, values: dict[str, Any]) -> tuple[str, list[Any]]:
    """``$name`` placeholders → positional ones, with their values in order."""
    params = [values[m.group(1)] for m in _PARAM.finditer(sql)]
    return _PARAM.sub("?", sql), params


def _run(store: Store, script: str, values: dict[str, Any]) -> None:
    for statement in script.split(";\n"):
        if statement.strip():
            store.execute(*_bound(statement, values))


@dataclass(frozen=True)
class Page:
    """One page of a list: ``(id, body)`` in ascending id order, and whether more lie after or
    before it."""

    items: list[tuple[str, str]]
    more_after: bool
    more_before: bool


class ServedDistrict:
    """What the stand-in serves for one district, in both API versions, built into ``store``'s
    temporary tables (one served instance per open store).

    ``snapshot`` is served as Clever's live state (``as_is=False``): an upload Clever did not
    process, or holds, is not served; the newest earlier processed one is (a hold taken as
    approved before the next night, as in :mod:`rosterlab.store.outcomes`). ``as_is=True``
    serves ``snapshot`` itself.
    """

    def __init__(
        self,
        store: Store,
        snapshot: SnapshotInfo,
        *,
        district_name: str | None = None,
        as_is: bool = False,
        events: bool = True,
    ) -> None:
        self.store = store
        self.requested = snapshot
        self.snapshot = snapshot if as_is else live_state(store, snapshot)
        self.lock = threading.Lock()
        nights = store.rows(
            "SELECT seq, taken_at FROM snapshots WHERE district = ? ORDER BY seq",
            [snapshot.district],
        )
        self.night_time: dict[int, datetime] = dict(nights)
        first_night = self.night_time[min(self.night_time)]
        self.district_id = clever_id(first_night, snapshot.district, "districts", "")
        self.district_name = district_name
        for statement in (
            *served_sql.MACROS,
            served_sql.RECORDS_TABLE,
            served_sql.EVENTS_TABLE,
            served_sql.ROLES_TABLE,
            *served_sql.INDEX_TABLES,
        ):
            store.execute(statement)
        self.events_enabled = events
        self._chain = event_chain(store, self.snapshot, as_is=as_is) if events else []
        self._events_ready = False
        self._build(self.snapshot)

    # --- building ------------------------------------------------------------------------
    def _values(self, night: SnapshotInfo, **more: Any) -> dict[str, Any]:
        return {
            "district": night.district,
            "seq": night.seq,
            "district_id": self.district_id,
            **more,
        }

    def _build(self, night: SnapshotInfo) -> None:
        """Index ``night``: every served id, the small resources' bodies, and what the big
        ones' bodies need beside their row (rendered per page)."""
        values = self._values(night)
        for entity in ("schools", "contacts", "teachers", "sections", "staff"):
            _run(self.store, served_sql.kept(entity), values)
        for script in (
            served_sql.SCHOOLS,
            served_sql.STUDENTS,
            served_sql.TEACHERS,
            served_sql.STAFF,
            served_sql.USERS,
            served_sql.CONTACTS,
            served_sql.SECTIONS,
        ):
            _run(self.store, script, values)
        self.store.execute(
            "INSERT INTO served_records VALUES (?, 'districts', NULL, ?, ?, NULL)",
            [night.seq, self.district_id, self._district_body(night)],
        )
        self._python_escapes("served_records", night.seq)
        for table in served_sql.SCRATCH:
            self.store.execute(f"DROP TABLE IF EXISTS {table}")

    def _district_body(self, night: SnapshotInfo) -> str:
        return _dumps(
            {
                "id": self.district_id,
                "name": self.district_name or night.district,
                "sis_type": SIS_TYPES[night.sync_type],
                "state": "success",
                "last_sync": night.taken_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "pause_start": None,
                "pause_end": None,
                "launch_date": self.night_time[min(self.night_time)].date().isoformat(),
            }
        )

    def _ensure_events(self) -> None:
        """The events, computed on the first request that needs them: each night of the chain
        indexed; per pair of consecutive nights the records whose bodies may differ; each night's
        bodies of those rendered once (for both its pairs), then joined with the night before's,
        set-based, both versions at once."""
        with self.lock:
            if self._events_ready:
                return
            for night in self._chain:
                if night.seq != self.snapshot.seq:
                    self._build(night)
            pairs = list(itertools.pairwise(self._chain))
            self.store.execute(served_sql.CANDIDATES_TABLE)
            for old, new in pairs:
                _run(
                    self.store,
                    served_sql.PAIR_CANDIDATES,
                    self._values(new, old=old.seq, new=new.seq),
                )
            self.store.execute(served_sql.BODIES_TABLE)
            following = {old.seq: new.seq for old, new in pairs}
            # an event id is its night's epoch seconds, then a counter from 0 (continued by a
            # night of the same second): the same whatever older nights the window still keeps
            offsets, second = (0, 0), None
            for night in self._chain if pairs else ():
                values = self._values(night, next=following.get(night.seq, night.seq))
                for statement in served_sql.NIGHT_BODIES:
                    _run(self.store, statement, values)
                self._python_escapes("served_bodies", night.seq)
                before = next((old for old, new in pairs if new == night), None)
                if before is not None:
                    stamp = int(night.taken_at.replace(tzinfo=UTC).timestamp())
                    offsets = offsets if stamp == second else (0, 0)
                    offsets = self._changes_to_events(before, night, offsets)
                    second = stamp
                    # its bodies served their two pairs
                    self.store.execute("DELETE FROM served_bodies WHERE night = ?", [before.seq])
            for table in ("served_bodies", "served_candidates", "served_changes"):
                self.store.execute(f"DROP TABLE IF EXISTS {table}")
            self._events_ready = True

    def _changes_to_events(
        self, old: SnapshotInfo, new: SnapshotInfo, offsets: tuple[int, int]
    ) -> tuple[int, int]:
        """The events of both versions from night ``old`` to ``new``, their ids after
        ``offsets`` (v3.0's, v3.1's); written in batches (an update's fields are compared one by
        one: a whole night at once would not fit the memory limit). Returns the new offsets."""
        values = {
            "old": old.seq,
            "new": new.seq,
            "stamp": int(new.taken_at.replace(tzinfo=UTC).timestamp()),
            "created": new.taken_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "offset30": offsets[0],
            "offset31": offsets[1],
        }
        changes = self.store.written(*_bound(served_sql.CHANGES, values))
        for first in range(1, changes + 1, EVENTS_BATCH):
            last = first + EVENTS_BATCH - 1
            self.store.execute(*_bound(served_sql.EVENTS, {**values, "first": first, "last": last}))
        counted = self.store.rows("SELECT count(event30), count(event31) FROM served_changes")
        return offsets[0] + counted[0][0], offsets[1] + counted[0][1]

    def _python_escapes(self, table: str, seq: int) -> None:
        """The few bodies of night ``seq`` in ``table`` holding an escape, as served
        (:func:`_escaped`)."""
        rows = self.store.rows(
            f"SELECT resource, id, body, body31 FROM {table} WHERE night = ? "
            "AND (contains(body, '\\u00') OR contains(body31, '\\u00'))",
            [seq],
        )
        for resource, cid, body, body31 in rows:
            self.store.execute(
                f"UPDATE {table} SET body = ?, body31 = ? "
                "WHERE night = ? AND resource = ? AND id = ?",
                [
                    None if body is None else _escaped(body),
                    None if body31 is None else _escaped(body31),
                    seq,
                    resource,
                    cid,
                ],
            )

    # --- serving -------------------------------------------------------------------------
    def page(
        self,
        version: str,
        resource: str,
        role: str | None,
        limit: int,
        after: str | None = None,
        before: str | None = None,
        *,
        school: str | None = None,
        record_types: Sequence[str] = (),
    ) -> Page:
        """Up to ``limit`` records after ``after`` (or just before ``before``), by id; events
        only of ``school`` and of ``record_types`` (any) when given."""
        if resource == "events":
            self._ensure_events()
        table, where, params = self._where(version, resource, role)
        if school is not None:
            where += " AND list_contains(schools, ?)"
            params.append(school)
        if record_types:
            where += " AND list_contains(?, record_type)"
            params.append(list(record_types))
        with self.lock:
            # Ids first (a narrow scan), then the bodies of that id range only.
            if before is not None:
                ids = self.store.rows(
                    f"SELECT id FROM {table} WHERE {where} AND id < ? ORDER BY id DESC LIMIT ?",
                    [*params, before, limit + 1],
                )
                more_before = len(ids) > limit
                ids = ids[:limit][::-1]
                more_after = bool(
                    self.store.rows(
                        f"SELECT 1 FROM {table} WHERE {where} AND id >= ? LIMIT 1",
                        [*params, before],
                    )
                )
            else:
                ids = self.store.rows(
                    f"SELECT id FROM {table} WHERE {where} AND id > ? ORDER BY id LIMIT ?",
                    [*params, after or "", limit + 1],
                )
                more_after = len(ids) > limit
                ids = ids[:limit]
                more_before = after is not None and bool(
                    self.store.rows(
                        f"SELECT 1 FROM {table} WHERE {where} AND id <= ? LIMIT 1",
                        [*params, after],
                    )
                )
            if not ids:
                items = []
            elif resource == "events":
                items = self.store.rows(
                    f"SELECT id, body FROM {table} WHERE {where} AND id BETWEEN ? AND ? "
                    "ORDER BY id",
                    [*params, ids[0][0], ids[-1][0]],
                )
            else:
                items = self._bodies(version, resource, role, ids[0][0], ids[-1][0])
        return Page([(str(i), str(b)) for i, b in items], more_after, more_before)

    def one(self, version: str, resource: str, role: str | None, cid: str) -> str | None:
        """One record's body, or None."""
        if resource == "events":
            self._ensure_events()
            with self.lock:
                rows = self.store.rows(
                    "SELECT body FROM served_events WHERE version = ? AND id = ?", [version, cid]
                )
            return str(rows[0][0]) if rows else None
        with self.lock:
            items = self._bodies(version, resource, role, cid, cid)
        return items[0][1] if items else None

    def _bodies(
        self, version: str, resource: str, role: str | None, lo: str, hi: str
    ) -> list[tuple[str, str]]:
        """The bodies of the ids from ``lo`` to ``hi`` (``self.lock`` held), by id: the stored
        ones, and those rendered now from the night's rows."""
        table, where, params = self._where(version, resource, role)
        body = served_sql.BODY_30 if version == "3.0" else served_sql.BODY_31
        found = self.store.rows(
            f"SELECT id, {body} FROM {table} WHERE {where} AND body IS NOT NULL "
            "AND id BETWEEN ? AND ?",
            [*params, lo, hi],
        )
        values = self._values(self.snapshot, lo=lo, hi=hi)
        for sql in _rendered(version, resource, role):
            found += [(i, _escaped(b)) for i, b in self.store.rows(*_bound(sql, values))]
        return sorted((str(i), str(b)) for i, b in found)

    def _where(self, version: str, resource: str, role: str | None) -> tuple[str, str, list[Any]]:
        if resource == "events":
            return "served_events", "version = ?", [version]
        where = "night = ? AND resource = ?"
        params: list[Any] = [self.snapshot.seq, resource]
        if role in served_sql.MERGEABLE_ROLES:  # a merged user is listed under each role
            where += " AND (role = ? OR id IN "
            where += "(SELECT id FROM served_roles WHERE night = ? AND role = ?))"
            params += [role, self.snapshot.seq, role]
        elif role is not None:
            where += " AND role = ?"
            params.append(role)
        return "served_records", where, params

    def create_student(self, number: int) -> None:
        """A new student (a copy of the first, new sis_id ``S-NEW-<number>``), newest id."""
        with self.lock:
            seq = self.snapshot.seq
            newest, first = self.store.rows(
                "SELECT max(id), min(id) FILTER (WHERE role = 'student') FROM served_records "
                "WHERE night = ? AND resource = 'users'",
                [seq],
            )[0]
            cid = f"{int(newest, 16) + 1:024x}"
            copies = []
            for version in ("3.0", "3.1"):
                template = json.loads(self._bodies(version, "users", "student", first, first)[0][1])
                template["id"] = cid
                template["roles"]["student"]["sis_id"] = f"S-NEW-{number}"
                copies.append(json.dumps(template))
            self.store.execute(
                "INSERT INTO served_records VALUES (?, 'users', 'student', ?, ?, ?)",
                [seq, cid, *copies],
            )


def _rendered(version: str, resource: str, role: str | None) -> list[str]:
    """The queries rendering the bodies of ``resource`` (of ``role``) that are not stored."""
    queries = []
    if resource == "users" and role in (None, "student"):
        queries.append(served_sql.student_bodies(version))
    if resource == "users" and role in (None, "contact"):
        queries.append(served_sql.contact_bodies())
    if resource == "sections":
        queries.append(served_sql.section_bodies())
    return queries


def _escaped(body: str) -> str:
    """DuckDB writes a control character as ``\\u001F``; Clever (and json.dumps) as
    ``\\u001f``: a body holding an escape is rewritten the usual way."""
    return _dumps(json.loads(body)) if "\\u00" in body else body


def _dumps(payload: object) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def live_state(store: Store, snapshot: SnapshotInfo) -> SnapshotInfo:
    """What Clever serves when ``snapshot`` is the newest night: itself once processed; while
    it is held, or when Clever did not process it, the newest earlier night it applied (a pull
    is what Clever served: itself)."""
    outcome = outcome_of(store, snapshot.id).outcome
    if outcome in (PROCESSED, SERVED):
        return snapshot
    live = live_before(store, snapshot)
    if live is not None:
        return live
    from rosterlab.errors import ApiError

    raise ApiError(
        f"{snapshot.district} night {snapshot.seq} is "
        f"{outcome} and Clever processed no night before it, "
        "so it serves nothing yet: serve it as it is with --as-is"
    )


def event_chain(store: Store, snapshot: SnapshotInfo, *, as_is: bool) -> list[SnapshotInfo]:
    """The nights whose changes Clever still keeps as events when it serves ``snapshot``: those
    of the :data:`EVENT_WINDOW` before it and the one before them, like with like (API pulls
    with API pulls, uploads with uploads); Clever's live states only, unless ``as_is``."""
    nights = [
        s
        for s in store.snapshots(snapshot.district)
        if s.seq <= snapshot.seq
        and same_kind(s, snapshot)
        and (as_is or s.seq == snapshot.seq or outcome_of(store, s.id).applied)
    ]
    start = snapshot.taken_at - EVENT_WINDOW
    before = [s for s in nights if s.taken_at < start]
    return before[-1:] + [s for s in nights if s.taken_at >= start]
