"""A district's history: night 1 generated, night k derived from night k-1 by vectorised churn.

Churn is deterministic per (seed, night). Incidents are scheduled per night when the district is
made; an incident that changes the district for good (``carry``) shapes every later night, the
rest damage only their night. Nights are cheapest in order: the district keeps the latest night's
clean frames and derives the next one from them.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import polars as pl

from rosterlab.synth.common import (
    CON,
    ENR,
    ENROLLMENTS_CSV,
    SEC,
    SECTIONS_CSV,
    STU,
    STUDENTS_CSV,
    TEA,
    TEACHERS_CSV,
    Frames,
)
from rosterlab.synth.generate import (
    Shape,
    enrollment_rows,
    first_night,
    numbered,
    offered_sections,
    school_year,
    student_rows,
)
from rosterlab.synth.incidents import (
    INCIDENTS,
    FileEdit,
    Incident,
    IncidentContext,
    IncidentResult,
)
from rosterlab.synth.words import AREA_CODES, LAST_NAMES, STREETS, TEACHER_TITLES, TOWNS

TAKEN_AT = time(2, 0, tzinfo=UTC)


@dataclass(frozen=True, eq=False)
class Night:
    """One nightly upload: the files' rows, what went wrong, and how to write it.

    ``frames`` maps spec file names to their rows as written (all String, null = empty cell);
    ``edits`` are byte-level incidents :func:`rosterlab.synth.write_night` applies after writing.
    """

    district: str
    number: int
    taken_at: datetime
    frames: Frames
    results: tuple[IncidentResult, ...] = ()
    edits: tuple[FileEdit, ...] = ()
    newline: str = "\n"

    @property
    def folder(self) -> str:
        """The night's folder name, ``YYYY-MM-DD``."""
        return self.taken_at.date().isoformat()


@dataclass(frozen=True)
class Churn:
    """What changed between two nights (exact counts, for tests and benchmarks)."""

    students_removed: tuple[str, ...]
    students_added: tuple[str, ...]
    students_changed: tuple[str, ...]
    contacts_changed: int
    enrollments_moved: int
    teachers_changed: tuple[str, ...]
    sections_changed: tuple[str, ...]


@dataclass
class _Latest:
    night: int
    frames: Frames
    next_student: int
    churn: Churn | None = None


def _resolve(incident: str | Incident) -> Incident:
    if isinstance(incident, Incident):
        return incident
    try:
        return INCIDENTS[incident]
    except KeyError as exc:
        known = ", ".join(sorted(INCIDENTS))
        raise ValueError(f"unknown incident {incident!r}; known: {known}") from exc


@dataclass(eq=False)
class District:
    """A synthetic district; make one with :func:`generate_district`."""

    shape: Shape
    seed: int
    start: date
    churn: float
    newline: str
    schedule: Mapping[int, tuple[Incident, ...]]
    _latest: _Latest | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.shape.district

    def taken_at(self, k: int) -> datetime:
        """Night k's timestamp: 02:00 UTC on day k of the history (night 1 = ``start``)."""
        return datetime.combine(self.start + timedelta(days=k - 1), TAKEN_AT)

    def night(self, k: int, incidents: Sequence[str | Incident] = ()) -> Night:
        """Night ``k`` (1-based) with its scheduled incidents, then ``incidents`` on top.

        Extra ``incidents`` damage this night only, even those that would carry.
        """
        if k < 1:
            raise ValueError(f"nights are numbered from 1, not {k}")
        latest = self._advance_to(k - 1)
        if latest is None:
            frames, churned = first_night(self.shape, self.seed), None
            next_student = self.shape.students
        else:
            self._latest = None  # churn consumes yesterday's frames as it goes: one copy in memory
            frames, next_student, churned = _churn(self, latest, k)
        ctx = IncidentContext(self.name, k, self.taken_at(k), self.seed)
        tonight, base = frames, frames
        results: list[IncidentResult] = []
        edits: list[FileEdit] = []
        planned = [(i, True) for i in self.schedule.get(k, ())]
        for incident, scheduled in (*planned, *((_resolve(i), False) for i in incidents)):
            outcome = incident(tonight, ctx)
            if outcome.carry is not None and scheduled:
                if tonight is not base:
                    raise ValueError(
                        f"night {k}: schedule {incident.name} before incidents that only damage "
                        "tonight's files"
                    )
                base = outcome.carry
            tonight = outcome.frames
            results.append(outcome.result)
            edits.extend(outcome.edits)
        self._latest = _Latest(k, base, next_student, churned)
        return Night(
            self.name,
            k,
            self.taken_at(k),
            dict(tonight),
            tuple(results),
            tuple(edits),
            self.newline,
        )

    def churn_of(self, k: int) -> Churn | None:
        """What churn changed on night ``k`` (None for night 1)."""
        self._advance_to(k)
        assert self._latest is not None
        return self._latest.churn

    def _advance_to(self, k: int) -> _Latest | None:
        """The clean frames after night ``k`` (None for k = 0), computing nights as needed."""
        if k == 0:
            return None
        if self._latest is None or self._latest.night > k:
            self._latest = None
            self.night(1)
        assert self._latest is not None
        while self._latest.night < k:
            self.night(self._latest.night + 1)
        return self._latest


def generate_district(
    district: str,
    *,
    students: int,
    seed: int = 0,
    start: date = date(2026, 9, 1),
    churn: float = 0.01,
    schools: int | None = None,
    class_size: int = 133,
    enrollments_per_student: int = 8,
    extensions: bool = True,
    newline: str = "\n",
    incidents: Mapping[int, Sequence[str | Incident]] | None = None,
) -> District:
    """A deterministic synthetic district: same arguments, same bytes.

    ``schools`` defaults to one per 600 students (at least 3: one elementary, one middle, one
    high). ``class_size`` is students per section; the default gives ~60,000 sections per
    1,000,000 students. ``churn`` is the nightly fraction of students touched (removed 0.3 %,
    added 0.3 %, changed 0.4 % at the default 1 %). ``incidents`` schedules incidents by night.
    """
    if students < 1:
        raise ValueError("a district needs at least one student")
    if class_size < 1 or enrollments_per_student < 1:
        raise ValueError("class_size and enrollments_per_student must be at least 1")
    if newline not in ("\n", "\r\n"):
        raise ValueError("newline must be '\\n' or '\\r\\n'")
    shape = Shape(
        district=district,
        students=students,
        schools=schools or max(3, students // 600),
        class_size=class_size,
        enrollments_per_student=enrollments_per_student,
        extensions=extensions,
        school_year=school_year(start),
    )
    schedule = {k: tuple(_resolve(i) for i in names) for k, names in (incidents or {}).items()}
    return District(shape, seed, start, churn, newline, schedule)


def _replace_by(
    frame: pl.DataFrame, on: str, column: str, mapping: Mapping[str, str]
) -> pl.DataFrame:
    """Set ``column`` to ``mapping[frame[on]]`` where ``frame[on]`` is a mapping key."""
    if not mapping:
        return frame
    return frame.with_columns(
        pl.col(on)
        .replace_strict(list(mapping), list(mapping.values()), default=pl.col(column))
        .alias(column)
    )


def _replace_rows(frame: pl.DataFrame, column: str, rows: Mapping[int, str]) -> pl.DataFrame:
    """Set ``column`` at 0-based row positions."""
    if not rows:
        return frame
    return frame.with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64)
        .replace_strict(list(rows), list(rows.values()), default=pl.col(column))
        .alias(column)
    )


def _filter_owned(frames: Frames, name: str, keep: pl.Expr) -> pl.DataFrame:
    """``frames.pop(name).filter(keep)`` one column at a time, freeing each unfiltered column as
    it goes: a million-student night never holds two copies of students.csv."""
    frame = frames.pop(name)
    mask = frame.select(keep).to_series()
    columns = []
    for column in frame.columns:
        columns.append(frame.get_column(column).filter(mask))
        frame = frame.drop(column)
    return pl.DataFrame(columns)


def _churn(district: District, latest: _Latest, k: int) -> tuple[Frames, int, Churn]:
    """Night k's clean frames from night k-1's: students leave, arrive and change, contacts
    change phone numbers, schedules move, teachers change titles, sections change periods."""
    rng = random.Random(f"{district.seed}:{k}:churn")
    rate = district.churn
    frames, latest.frames = dict(latest.frames), {}
    ids = frames[STUDENTS_CSV].get_column(STU.Student_id).unique(maintain_order=True)
    n = ids.len()
    n_remove, n_add, n_change = (round(n * rate * share) for share in (0.3, 0.3, 0.4))
    n_contacts, n_moves = round(n * rate * 0.2), round(n * rate * 0.5)
    picked = [ids[i] for i in rng.sample(range(n), min(n, n_remove + n_change))]
    removed, changed = picked[:n_remove], picked[n_remove:]

    gone = pl.Series(removed, dtype=pl.String).implode()
    students = _filter_owned(frames, STUDENTS_CSV, ~pl.col(STU.Student_id).is_in(gone))
    enrollments = _filter_owned(frames, ENROLLMENTS_CSV, ~pl.col(ENR.Student_id).is_in(gone))
    students = _change_students(students, changed, rng)
    students = _change_contacts(students, n_contacts, rng)

    shape = district.shape
    first = latest.next_student
    new = numbered(shape, first, n_add)
    new_rows = student_rows(shape, district.seed, first, n_add)
    students = pl.concat([students, new_rows.select(students.columns)])
    sections = frames[SECTIONS_CSV]
    enrollments, moved = _move_enrollments(enrollments, sections, shape, n_moves, rng)
    enrollments = pl.concat([enrollments, enrollment_rows(shape, district.seed, new, sections)])

    teachers = frames[TEACHERS_CSV]
    teacher_ids = teachers.get_column(TEA.Teacher_id).unique(maintain_order=True).to_list()
    retitled = rng.sample(teacher_ids, min(len(teacher_ids), round(len(teacher_ids) * rate * 0.3)))
    titles = [t for t, _ in TEACHER_TITLES]
    teachers = _replace_by(
        teachers, TEA.Teacher_id, TEA.Title, {t: rng.choice(titles) for t in retitled}
    )
    section_ids = sections.get_column(SEC.Section_id).to_list()
    reperiod = rng.sample(section_ids, min(len(section_ids), round(len(section_ids) * rate * 0.3)))
    sections = _replace_by(
        sections, SEC.Section_id, SEC.Period, {s: str(rng.randint(1, 8)) for s in reperiod}
    )
    churned = Churn(
        students_removed=tuple(removed),
        students_added=tuple(new_rows.get_column(STU.Student_id).unique(maintain_order=True)),
        students_changed=tuple(changed),
        contacts_changed=n_contacts,
        enrollments_moved=moved,
        teachers_changed=tuple(retitled),
        sections_changed=tuple(reperiod),
    )
    out = {
        **frames,
        STUDENTS_CSV: students,
        ENROLLMENTS_CSV: enrollments,
        TEACHERS_CSV: teachers,
        SECTIONS_CSV: sections,
    }
    return out, first + n_add, churned


def _change_students(
    students: pl.DataFrame, changed: list[str], rng: random.Random
) -> pl.DataFrame:
    """Realistic edits to a few students: a move, a new email, a name change, an ELL or IEP flip."""
    if not changed:
        return students
    current = {
        row[STU.Student_id]: row
        for row in students.filter(
            pl.col(STU.Student_id).is_in(pl.Series(changed, dtype=pl.String).implode())
        )
        .unique(STU.Student_id, keep="first", maintain_order=True)
        .iter_rows(named=True)
    }
    edits: dict[str, dict[str, str]] = {}
    flip = {"Y": "N", "N": "Y"}
    for sid in changed:
        row = current[sid]
        kind = rng.choice(("moved", "email", "name", "ell", "iep"))
        if kind == "moved":
            town, zip_code = rng.choice(TOWNS)
            street = f"{rng.randint(10, 999)} {rng.choice(STREETS)}"
            updates = {
                STU.Student_street: street,
                STU.Student_city: town,
                STU.Student_zip: zip_code,
            }
        elif kind == "email":
            local, domain = str(row[STU.Student_email]).split("@", 1)
            updates = {STU.Student_email: f"{local}.{rng.randint(1, 9)}@{domain}"}
        elif kind == "name":
            updates = {STU.Last_name: f"{row[STU.Last_name]}-{rng.choice(LAST_NAMES)}"}
        elif kind == "ell":
            updates = {STU.Ell_status: flip.get(str(row[STU.Ell_status]), "N")}
        else:
            updates = {STU.IEP_status: flip.get(str(row[STU.IEP_status]), "N")}
        for column, value in updates.items():
            edits.setdefault(column, {})[sid] = value
    for column, mapping in edits.items():
        if column in students.columns:
            students = _replace_by(students, STU.Student_id, column, mapping)
    return students


def _change_contacts(students: pl.DataFrame, count: int, rng: random.Random) -> pl.DataFrame:
    """A few contacts get a new phone number."""
    with_contact = students.select(pl.arg_where(pl.col(CON.Contact_name).is_not_null())).to_series()
    rows = sorted(rng.sample(range(with_contact.len()), min(count, with_contact.len())))
    phones = {
        int(with_contact[r]): f"{rng.choice(AREA_CODES)}555{rng.randint(0, 9999):04d}" for r in rows
    }
    return _replace_rows(students, CON.Contact_phone, phones)


def _move_enrollments(
    enrollments: pl.DataFrame,
    sections: pl.DataFrame,
    shape: Shape,
    count: int,
    rng: random.Random,
) -> tuple[pl.DataFrame, int]:
    """Schedule changes: a few enrollments move to another section of the same school."""
    if count == 0 or enrollments.height == 0:
        return enrollments, 0
    rows = sorted(rng.sample(range(enrollments.height), min(count, enrollments.height)))
    offered, starts = offered_sections(shape, sections)
    picked = (
        enrollments.with_row_index("_row")
        .filter(pl.col("_row").is_in(pl.Series(rows, dtype=pl.UInt32).implode()))
        .with_columns(_r=pl.Series([rng.randrange(2**31 - 1) for _ in rows], dtype=pl.Int64))
        .join(offered.select(SEC.School_id, "_s").unique("_s"), on=ENR.School_id, how="inner",
              maintain_order="left")
        .join(starts, on="_s", how="inner", maintain_order="left")
        .with_columns(
            pl.lit(offered.get_column(SEC.Section_id))
            .gather(pl.col("_first") + pl.col("_r") % pl.col("_count"))
            .alias("_new")
        )
        .filter(pl.col("_new") != pl.col(ENR.Section_id))
    )  # fmt: skip
    # A student already in the new section keeps their old one instead.
    moving = picked.get_column(ENR.Student_id).implode()
    taken = enrollments.filter(pl.col(ENR.Student_id).is_in(moving))
    picked = picked.join(
        taken.select(pl.col(ENR.Section_id).alias("_new"), ENR.Student_id),
        on=["_new", ENR.Student_id],
        how="anti",
        maintain_order="left",
    ).unique([ENR.Student_id, "_new"], keep="first", maintain_order=True)
    moves = dict(
        zip(picked.get_column("_row").cast(pl.Int64), picked.get_column("_new"), strict=True)
    )
    return _replace_rows(enrollments, ENR.Section_id, moves), len(moves)
