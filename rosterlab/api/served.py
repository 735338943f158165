"""A stored snapshot as Clever's Data API would serve it: the bundle → API half of the mapping.

The stand-in server serves these objects. Ids are stable 24-hex strings in creation order: eight
hex digits of the night the record (its key) was first seen, then sixteen of a hash of district,
entity and key, so a record keeps its id from night to night and a changed ``sis_id`` (a new key)
gets a new one (a re-key), as at Clever. The mapping decisions are documented in
``docs/api.md``; the ones Clever's text does not confirm are marked there.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from rosterlab import spec
from rosterlab.api import schemas
from rosterlab.store import SnapshotInfo, Store

RESOURCES: tuple[str, ...] = ("districts", "schools", "terms", "courses", "sections", "users")
USER_ROLES: tuple[str, ...] = ("student", "teacher", "staff", "contact")
RACE_NAMES = {
    "A": "Asian",
    "B": "Black or African American",
    "I": "American Indian",
    "M": "Two or More Races",
    "P": "Hawaiian or Other Pacific Islander",
    "W": "Caucasian",
}
# How the SFTP frl codes read in the API's Free/Reduced/Paid/Other; a long form is served as is
# and an off-list Y as Other (both unconfirmed).
FRL_NAMES = {
    **schemas.FRL_CODES,
    "Free": "Free",
    "Reduced": "Reduced",
    "Paid": "Paid",
    "Other": "Other",
    "Y": "Other",
}
US_DATE = re.compile(r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}")
SIS_TYPES = {"sftp": "sftp", "clever-managed": "clever", "sis-managed": "sis"}  # (unconfirmed)


@dataclass(frozen=True)
class Record:
    """One served object: its Clever id, the role (users only) and its JSON text."""

    id: str
    role: str | None
    body: str


@dataclass(frozen=True)
class ServedDistrict:
    """Everything the stand-in serves for one snapshot, each resource sorted by id."""

    district_id: str
    snapshot: SnapshotInfo
    resources: dict[str, list[Record]]

    def records(self, resource: str, role: str | None = None) -> list[Record]:
        found = self.resources[resource]
        return found if role is None else [r for r in found if r.role == role]


def clever_id(first_seen: datetime, district: str, entity: str, key: str) -> str:
    stamp = int(first_seen.replace(tzinfo=UTC).timestamp())
    digest = hashlib.sha256(f"{district}\x1f{entity}\x1f{key}".encode()).hexdigest()
    return f"{stamp:08x}{digest[:16]}"


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _us_date(value: str | None) -> date | None:
    """A date written M/D/YYYY (leading zeros optional); anything else is unreadable (None)."""
    if value is None or not US_DATE.fullmatch(value):
        return None
    try:
        return datetime.strptime(value, "%m/%d/%Y").date()
    except ValueError:
        return None


def _dob(value: str | None) -> str | None:
    """MM/DD/YYYY → M/D/YYYY, as Clever serves it; anything else is not served (lossy)."""
    day = _us_date(value)
    return f"{day.month}/{day.day}/{day.year}" if day else None


def _iso_date(value: str | None) -> str | None:
    """Term dates: MM/DD/YYYY → YYYY-MM-DD (unconfirmed); other forms are not served."""
    day = _us_date(value)
    return day.isoformat() if day else None


def _enum(value: str | None, allowed: tuple[str, ...]) -> str | None:
    """A value of an API enum as Clever spells it (case aside); outside it, not served."""
    if value is None:
        return None
    canonical = {a.lower(): a for a in allowed if a}
    return canonical.get(value.lower())


def _ext(extra: dict[str, str] | None) -> dict[str, str]:
    """``ext.*`` columns become the ``ext`` object; other unknown columns are not served."""
    return {
        k.removeprefix(spec.EXTENSION_PREFIX): v
        for k, v in (extra or {}).items()
        if k.startswith(spec.EXTENSION_PREFIX) and v is not None
    }


def _split_name(full: str | None) -> dict[str, str | None]:
    """A contact's one-field name: the last word is the last name (unconfirmed)."""
    if full is None:
        return {"first": None, "middle": None, "last": None}
    first, _, last = full.rpartition(" ")
    return {"first": first or last, "middle": None, "last": last if first else None}


class _Builder:
    def __init__(self, store: Store, snapshot: SnapshotInfo, version: str) -> None:
        self.store = store
        self.snapshot = snapshot
        self.version = version
        nights = store.rows(
            "SELECT seq, taken_at FROM snapshots WHERE district = ?", [snapshot.district]
        )
        self.night_time = dict(nights)
        first_night = self.night_time[min(self.night_time)]
        self.district_id = clever_id(first_night, snapshot.district, "districts", "")

    def rows(self, entity: str) -> list[dict[str, Any]]:
        """The entity's rows tonight that Clever keeps, with the night each key was first seen.

        Clever skips a row missing a required value, and every row of a duplicated key.
        """
        table = spec.ENTITIES[entity].name
        frame = self.store.query(
            f"SELECT t.*, f.first_seen FROM ({self.store.entity_sql(entity)}) t JOIN "
            f'(SELECT key, min(valid_from) AS first_seen FROM "{table}" WHERE district = ? '
            "GROUP BY key) f USING (key) ORDER BY key, row_hash",
            [self.snapshot.district, self.snapshot.seq, self.snapshot.seq, self.snapshot.district],
        )
        counts = frame["key"].value_counts()
        duplicated = set(counts.filter(counts["count"] > 1)["key"].to_list())
        required = [f.name for f in spec.ENTITIES[entity].fields if f.required and f.confirmed]
        return [
            row
            for row in frame.iter_rows(named=True)
            if row["key"] not in duplicated and not any(_blank(row[c]) for c in required)
        ]

    def make_id(self, entity: str, key: str, first_seen_seq: int) -> str:
        first = self.night_time[first_seen_seq]
        return clever_id(first, self.snapshot.district, entity, key)

    def build(self, district_name: str | None, sync_type: str) -> dict[str, list[Record]]:
        schools = self._schools()
        school_ids = {sis: cid for sis, (cid, _) in schools.items()}
        out: dict[str, list[tuple[str, str | None, dict[str, Any]]]] = {r: [] for r in RESOURCES}
        out["districts"].append((self.district_id, None, self._district(district_name, sync_type)))
        out["schools"] = [(cid, None, body) for cid, body in schools.values()]
        students = self._students(school_ids)
        student_ids = {sis: cid for sis, (cid, _) in students.items()}
        teachers = self._teachers(school_ids)
        teacher_ids = {sis: cid for sis, (cid, _) in teachers.items()}
        out["users"] += [(cid, "student", body) for cid, body in students.values()]
        out["users"] += [(cid, "teacher", body) for cid, body in teachers.values()]
        out["users"] += [(cid, "staff", body) for cid, body in self._staff(school_ids)]
        out["users"] += [(cid, "contact", body) for cid, body in self._contacts(student_ids)]
        sections, terms, courses = self._sections(school_ids, teacher_ids, student_ids)
        out["sections"], out["terms"], out["courses"] = sections, terms, courses
        return {
            name: [
                Record(cid, role, json.dumps(body, separators=(",", ":"), ensure_ascii=False))
                for cid, role, body in sorted(items, key=lambda item: item[0])
            ]
            for name, items in out.items()
        }

    def _district(self, name: str | None, sync_type: str) -> dict[str, Any]:
        return {
            "id": self.district_id,
            "name": name or self.snapshot.district,
            "sis_type": SIS_TYPES[sync_type],
            "state": "success",
            "last_sync": self.snapshot.taken_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "pause_start": None,
            "pause_end": None,
            "launch_date": self.night_time[min(self.night_time)].date().isoformat(),
        }

    def _schools(self) -> dict[str, tuple[str, dict[str, Any]]]:
        found = {}
        for r in self.rows("schools"):
            cid = self.make_id("schools", r["key"], r["first_seen"])
            found[r["School_id"]] = (
                cid,
                {
                    "id": cid,
                    "district": self.district_id,
                    "sis_id": r["School_id"],
                    "name": r["School_name"],
                    "school_number": r["School_number"] or "",
                    "state_id": r["State_id"],
                    "low_grade": _enum(r["Low_grade"], schemas.GRADES),
                    "high_grade": _enum(r["High_grade"], schemas.GRADES),
                    "phone": r["School_phone"],
                    "principal": {"name": r["Principal"], "email": r["Principal_email"]},
                    "location": {
                        "address": r["School_address"],
                        "city": r["School_city"],
                        "state": r["School_state"],
                        "zip": r["School_zip"],
                    },
                    "ext": _ext(r["extra"]),
                },
            )
        return found

    def _students(self, school_ids: dict[str, str]) -> dict[str, tuple[str, dict[str, Any]]]:
        found = {}
        for r in self.rows("students"):
            school = school_ids.get(r["School_id"])
            if school is None:
                continue  # a school Clever does not serve: the row is skipped
            cid = self.make_id("students", r["key"], r["first_seen"])
            student: dict[str, Any] = {
                "sis_id": r["Student_id"],
                "student_number": r["Student_number"],
                "state_id": r["State_id"],
                "school": school,
                "schools": [school],
                "grade": _enum(r["Grade"], schemas.GRADES),
                "gender": _enum(r["Gender"], schemas.GENDERS),
                "dob": _dob(r["DOB"]),
                "graduation_year": r["Graduation_year"],
                "race": RACE_NAMES.get(r["Race"] or "", "Unknown") if r["Race"] else None,
                "hispanic_ethnicity": _enum(r["Hispanic_Latino"], schemas.YES_NO),
                "ell_status": _enum(r["Ell_status"], schemas.YES_NO),
                "location": {
                    "address": r["Student_street"],
                    "city": r["Student_city"],
                    "state": r["Student_state"],
                    "zip": r["Student_zip"],
                },
                "credentials": {"district_username": r["Username"] or ""},
                "ext": _ext(r["extra"]),
            }
            if self.version == "3.1":
                student["frl_status"] = FRL_NAMES.get(r["Frl_status"] or "")
                student["iep_status"] = r["IEP_status"]
                student["home_language"] = r["Home_language"]
            found[r["Student_id"]] = (
                cid,
                {
                    "id": cid,
                    "district": self.district_id,
                    "email": r["Student_email"],
                    "name": {
                        "first": r["First_name"],
                        "middle": r["Middle_name"],
                        "last": r["Last_name"],
                    },
                    "roles": {"student": student},
                },
            )
        return found

    def _teachers(self, school_ids: dict[str, str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """One user per Teacher_id, with every school it teaches at (first row's values win)."""
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        for r in self.rows("teachers"):
            school = school_ids.get(r["School_id"])
            if school is None:
                continue
            if r["Teacher_id"] in found:
                teacher = found[r["Teacher_id"]][1]["roles"]["teacher"]
                if school not in teacher["schools"]:
                    teacher["schools"].append(school)
                continue
            cid = self.make_id("teachers", r["Teacher_id"], r["first_seen"])
            found[r["Teacher_id"]] = (
                cid,
                {
                    "id": cid,
                    "district": self.district_id,
                    "email": r["Teacher_email"],
                    "name": {
                        "first": r["First_name"],
                        "middle": r["Middle_name"],
                        "last": r["Last_name"],
                    },
                    "roles": {
                        "teacher": {
                            "sis_id": r["Teacher_id"],
                            "teacher_number": r["Teacher_number"],
                            "state_id": r["State_teacher_id"],
                            "title": r["Title"],
                            "school": school,
                            "schools": [school],
                            "credentials": {"district_username": r["Username"] or ""},
                            "ext": _ext(r["extra"]),
                        }
                    },
                },
            )
        return found

    def _staff(self, school_ids: dict[str, str]) -> Iterable[tuple[str, dict[str, Any]]]:
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        for r in self.rows("staff"):
            school = school_ids.get(r["School_id"])
            if school is None:
                continue
            if r["Staff_id"] in found:
                staff = found[r["Staff_id"]][1]["roles"]["staff"]
                if school not in staff["schools"]:
                    staff["schools"].append(school)
                continue
            cid = self.make_id("staff", r["Staff_id"], r["first_seen"])
            found[r["Staff_id"]] = (
                cid,
                {
                    "id": cid,
                    "district": self.district_id,
                    "email": r["Staff_email"],
                    "name": {"first": r["First_name"], "middle": None, "last": r["Last_name"]},
                    "roles": {
                        "staff": {
                            "staff_id": r["Staff_id"],
                            "department": r["Department"],
                            "title": r["Title"],
                            "roles": [r["Role"]] if r["Role"] else [],
                            "schools": [school],
                            "credentials": {"district_username": r["Username"] or ""},
                            "ext": _ext(r["extra"]),
                        }
                    },
                },
            )
        return found.values()

    def _contacts(self, student_ids: dict[str, str]) -> Iterable[tuple[str, dict[str, Any]]]:
        """One contact user per Contact_sis_id (else per student and contact identity)."""
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        for r in self.rows("contacts"):
            student = student_ids.get(r["Student_id"])
            if student is None:
                continue  # the contact of a skipped student is not served
            identity = r["Contact_sis_id"] or r["key"]
            relationship = {
                "student": student,
                "relationship": _enum(r["Contact_relationship"], schemas.RELATIONSHIPS),
                "type": _enum(r["Contact_type"], schemas.RELATIONSHIP_TYPES),
            }
            if identity in found:
                found[identity][1]["roles"]["contact"]["student_relationships"].append(relationship)
                continue
            cid = self.make_id("contacts", identity, r["first_seen"])
            found[identity] = (
                cid,
                {
                    "id": cid,
                    "district": self.district_id,
                    "email": r["Contact_email"],
                    "name": _split_name(r["Contact_name"]),
                    "roles": {
                        "contact": {
                            "sis_id": r["Contact_sis_id"],
                            "phone": r["Contact_phone"],
                            "phone_type": _enum(r["Contact_phone_type"], schemas.PHONE_TYPES),
                            "student_relationships": [relationship],
                        }
                    },
                },
            )
        return found.values()

    def _sections(
        self,
        school_ids: dict[str, str],
        teacher_ids: dict[str, str],
        student_ids: dict[str, str],
    ) -> tuple[list[Any], list[Any], list[Any]]:
        enrolled: dict[str, list[str]] = {}
        for r in self.rows("enrollments"):
            student = student_ids.get(r["Student_id"])
            if student is not None:
                enrolled.setdefault(r["Section_id"], []).append(student)
        sections: list[Any] = []
        terms: dict[str, dict[str, Any]] = {}
        courses: dict[str, dict[str, Any]] = {}
        for r in self.rows("sections"):
            school = school_ids.get(r["School_id"])
            if school is None:
                continue
            first_seen = self.night_time[r["first_seen"]]
            teachers = [teacher_ids[r[s]] for s in spec.TEACHER_SLOTS if r[s] in teacher_ids]
            course_id = term_id = None
            if r["Course_name"] or r["Course_number"]:
                course_key = f"{r['Course_name']}\x1f{r['Course_number']}"
                course_id = clever_id(first_seen, self.snapshot.district, "courses", course_key)
                courses.setdefault(
                    course_key,
                    {
                        "id": course_id,
                        "district": self.district_id,
                        "name": r["Course_name"],
                        "number": r["Course_number"],
                    },
                )
                course_id = courses[course_key]["id"]
            if r["Term_name"] or r["Term_start"] or r["Term_end"]:
                term_key = f"{r['Term_name']}\x1f{r['Term_start']}\x1f{r['Term_end']}"
                term_id = clever_id(first_seen, self.snapshot.district, "terms", term_key)
                terms.setdefault(
                    term_key,
                    {
                        "id": term_id,
                        "district": self.district_id,
                        "name": r["Term_name"],
                        "start_date": _iso_date(r["Term_start"]),
                        "end_date": _iso_date(r["Term_end"]),
                    },
                )
                term_id = terms[term_key]["id"]
            cid = self.make_id("sections", r["key"], r["first_seen"])
            sections.append(
                (
                    cid,
                    None,
                    {
                        "id": cid,
                        "district": self.district_id,
                        "school": school,
                        "sis_id": r["Section_id"],
                        "name": r["Name"] or "",
                        "section_number": r["Section_number"],
                        "period": r["Period"],
                        "grade": _enum(r["Grade"], schemas.GRADES),
                        "subject": _enum(r["Subject"], schemas.SUBJECTS),
                        "course": course_id,
                        "term_id": term_id,
                        "teacher": teacher_ids.get(r["Teacher_id"] or ""),
                        "teachers": teachers,
                        "students": enrolled.get(r["Section_id"], []),
                        "ext": _ext(r["extra"]),
                    },
                )
            )
        return (
            sections,
            [(body["id"], None, body) for body in terms.values()],
            [(body["id"], None, body) for body in courses.values()],
        )


def served_district(
    store: Store,
    snapshot: SnapshotInfo,
    version: str,
    *,
    district_name: str | None = None,
) -> ServedDistrict:
    """What Clever would serve for ``snapshot`` in API ``version`` (3.0 or 3.1)."""
    builder = _Builder(store, snapshot, version)
    return ServedDistrict(
        builder.district_id,
        snapshot,
        builder.build(district_name, snapshot.sync_type),
    )


EVENT_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class Event:
    """One served event: its id (ascending in time), when it happened, and its JSON text."""

    id: str
    created: datetime
    body: str


def events_between(old: ServedDistrict, new: ServedDistrict, counter: int) -> list[Event]:
    """The events that turn what ``old`` serves into what ``new`` serves, at ``new``'s time.

    Per resource and Clever id: ``created``, ``deleted`` (the last object), or ``updated`` with
    ``previous_attributes`` (the changed top-level fields' old values). Ids: the night's time,
    then ``counter`` onwards, so they ascend across nights.
    """
    when = new.snapshot.taken_at
    stamp = int(when.replace(tzinfo=UTC).timestamp())
    created_text = when.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    events: list[Event] = []
    for resource in RESOURCES:
        before = {r.id: r.body for r in old.resources[resource]}
        after = {r.id: r.body for r in new.resources[resource]}
        for cid in sorted(before.keys() | after.keys()):
            if before.get(cid) == after.get(cid):
                continue
            data: dict[str, Any]
            if cid not in before:
                kind, data = "created", {"object": json.loads(after[cid])}
            elif cid not in after:
                kind, data = "deleted", {"object": json.loads(before[cid])}
            else:
                previous, current = json.loads(before[cid]), json.loads(after[cid])
                changed = {
                    k: previous.get(k)
                    for k in previous.keys() | current.keys()
                    if previous.get(k) != current.get(k)
                }
                kind, data = "updated", {"object": current, "previous_attributes": changed}
            event_id = f"{stamp:08x}{counter + len(events):016x}"
            body = {
                "id": event_id,
                "type": f"{resource}.{kind}",
                "created": created_text,
                "data": data,
            }
            events.append(Event(event_id, when, json.dumps(body, separators=(",", ":"))))
    return events


def served_events(
    store: Store, snapshot: SnapshotInfo, version: str, *, district_name: str | None = None
) -> list[Event]:
    """The events Clever keeps when serving ``snapshot``: those of the nights within
    :data:`EVENT_WINDOW` before it, each night diffed with the one before (like with like: API
    pulls with API pulls, uploads with uploads)."""
    pulled = snapshot.origin == "api"
    nights = [
        s
        for s in store.snapshots(snapshot.district)
        if s.seq <= snapshot.seq and (s.origin == "api") == pulled
    ]
    start = snapshot.taken_at - EVENT_WINDOW
    before = [s for s in nights if s.taken_at < start]
    chain = before[-1:] + [s for s in nights if s.taken_at >= start]
    events: list[Event] = []
    previous: ServedDistrict | None = None
    for night in chain:
        current = served_district(store, night, version, district_name=district_name)
        if previous is not None:
            events += events_between(previous, current, len(events))
        previous = current
    return events
