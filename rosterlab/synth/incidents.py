"""Named incidents: small pure functions that damage one night the way real districts do.

Each incident takes the night's frames and an :class:`IncidentContext` and returns an
:class:`Outcome`: tonight's frames, a frozen :class:`IncidentResult` naming exactly what it did,
optionally ``carry`` (the frames the district continues from tomorrow, for incidents that change
the district for good) and ``edits`` (byte-level changes applied after the CSVs are written:
encodings, BOMs, quoting, file names). The docstring of each function says what it does and what
Clever would do with the upload; ``python -m rosterlab.synth --help`` lists them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import polars as pl

from rosterlab import spec
from rosterlab.synth.common import (
    ENR,
    ENROLLMENTS_CSV,
    SCH,
    SCHOOLS_CSV,
    SEC,
    SECTIONS_CSV,
    STAFF_CSV,
    STF,
    STU,
    STUDENTS_CSV,
    TEA,
    TEACHERS_CSV,
    Frames,
    number_of,
)
from rosterlab.synth.words import FIRST_NAMES, LAST_NAMES, slug


@dataclass(frozen=True)
class IncidentResult:
    """What an incident did, precisely enough for a test or the samples README to name it.

    ``keys`` are the affected records' keys in ``file`` (composite keys joined with ``/``),
    ``related`` the other IDs or names involved (a new ID, a missing parent, a column), ``rows``
    1-based data rows in the written file where that matters (malformed rows, duplicates).
    """

    incident: str
    file: str
    keys: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    rows: tuple[int, ...] = ()
    detail: str = ""


@dataclass(frozen=True)
class FileEdit:
    """A change to a written file: rewrite its bytes and/or rename it."""

    file: str
    transform: Callable[[bytes], bytes] | None = None
    rename: str | None = None


@dataclass(frozen=True)
class Outcome:
    """An incident's effect on one night (see the module docstring)."""

    frames: Frames
    result: IncidentResult
    carry: Frames | None = None
    edits: tuple[FileEdit, ...] = ()


@dataclass(frozen=True)
class IncidentContext:
    """Where an incident happens; ``rng`` gives choices deterministic per (seed, night, purpose)."""

    district: str
    night: int
    taken_at: datetime
    seed: int

    def rng(self, purpose: str) -> random.Random:
        return random.Random(f"{self.seed}:{self.night}:{purpose}")


@dataclass(frozen=True)
class Incident:
    """A named incident; ``params`` override the keyword defaults of ``apply``."""

    name: str
    apply: Callable[..., Outcome]
    params: tuple[tuple[str, Any], ...] = field(default=())

    @property
    def summary(self) -> str:
        """The first line of the incident's docstring."""
        return (self.apply.__doc__ or "").strip().splitlines()[0]

    @property
    def clever(self) -> str:
        """The docstring's body: what happens, and what Clever does with the upload."""
        body = (self.apply.__doc__ or "").strip().splitlines()[1:]
        return " ".join(" ".join(body).split())

    def with_params(self, **params: Any) -> Incident:
        return replace(self, params=tuple(sorted({**dict(self.params), **params}.items())))

    def __call__(self, frames: Frames, ctx: IncidentContext) -> Outcome:
        return self.apply(frames, ctx, **dict(self.params))


INCIDENTS: dict[str, Incident] = {}


def _incident(name: str) -> Callable[[Callable[..., Outcome]], Callable[..., Outcome]]:
    def register(fn: Callable[..., Outcome]) -> Callable[..., Outcome]:
        INCIDENTS[name] = Incident(name, fn)
        return fn

    return register


def _unique(frame: pl.DataFrame, column: str) -> list[str]:
    return frame.get_column(column).unique(maintain_order=True).drop_nulls().to_list()


def _rows_of(frame: pl.DataFrame, where: pl.Expr) -> tuple[int, ...]:
    """1-based data row numbers of the rows matching ``where``."""
    hits = frame.select(pl.arg_where(where)).to_series()
    return tuple(int(i) + 1 for i in hits)


def _next_id(frame: pl.DataFrame, column: str, prefix: str) -> str:
    """A fresh ``prefix<number>`` one above the highest number used in ``column``."""
    top = frame.select(number_of(pl.col(column)).max()).item()
    return f"{prefix}{int(top or 0) + 1}"


def _key_column(file: str) -> str:
    return spec.ENTITIES[spec.entity_of_file(file)].key[0]


def _replace_values(
    frame: pl.DataFrame, columns: tuple[str, ...], old: str, new: str | None
) -> pl.DataFrame:
    """``frame`` with every cell equal to ``old`` in ``columns`` (those present) set to ``new``."""
    return frame.with_columns(
        pl.when(pl.col(c) == old).then(pl.lit(new, dtype=pl.String)).otherwise(pl.col(c)).alias(c)
        for c in columns
        if c in frame.columns
    )


@_incident("orphan-enrollments")
def orphan_enrollments(frames: Frames, ctx: IncidentContext, *, count: int = 3) -> Outcome:
    """Enrollments point at a section missing from sections.csv.

    A section created in the SIS after the sections export ran already has a few students
    enrolled. What Clever does with an enrollment in an unknown section is not stated
    (v2.1.1): those students miss the class at best.
    """
    rng = ctx.rng("orphan-enrollments")
    enrollments, sections = frames[ENROLLMENTS_CSV], frames[SECTIONS_CSV]
    school = rng.choice(_unique(sections, SEC.School_id))
    students = _unique(enrollments.filter(pl.col(ENR.School_id) == school), ENR.Student_id)
    chosen = sorted(rng.sample(students, min(count, len(students))))
    phantom = _next_id(sections, SEC.Section_id, "SEC-")
    added = pl.DataFrame(
        {ENR.School_id: [school] * len(chosen), ENR.Section_id: [phantom] * len(chosen),
         ENR.Student_id: chosen},
        schema=dict.fromkeys(enrollments.columns, pl.String),
    )  # fmt: skip
    first_row = enrollments.height + 1
    result = IncidentResult(
        "orphan-enrollments",
        ENROLLMENTS_CSV,
        keys=tuple(f"{phantom}{spec.KEY_SEPARATOR}{s}" for s in chosen),
        related=(phantom,),
        rows=tuple(range(first_row, first_row + len(chosen))),
        detail=f"{len(chosen)} enrollments in section {phantom}, which sections.csv lacks",
    )
    return Outcome({**frames, ENROLLMENTS_CSV: pl.concat([enrollments, added])}, result)


@_incident("section-missing-teacher")
def section_missing_teacher(frames: Frames, ctx: IncidentContext) -> Outcome:
    """A section is given to a new hire whose teachers.csv row is not exported yet.

    The SIS assigned the section before HR finished the hire; from the next night the teacher is
    in teachers.csv (the district continues with the hire). What Clever does with a section of
    an unknown teacher is not stated (v2.1.1).
    """
    rng = ctx.rng("section-missing-teacher")
    teachers, sections = frames[TEACHERS_CSV], frames[SECTIONS_CSV]
    section = sections.row(rng.randrange(sections.height), named=True)
    new_id = _next_id(teachers, TEA.Teacher_id, "T-")
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    domain = teachers.get_column(TEA.Teacher_email).drop_nulls()[0].split("@", 1)[1]
    local = f"{slug(first)}.{slug(last)}{new_id.rsplit('-', 1)[1]}"
    values = {
        TEA.School_id: section[SEC.School_id],
        TEA.Teacher_id: new_id,
        TEA.Teacher_number: new_id.rsplit("-", 1)[1].zfill(5),
        TEA.Last_name: last,
        TEA.First_name: first,
        TEA.Teacher_email: f"{local}@{domain}",
        TEA.Title: "Teacher",
        TEA.Username: local,
    }
    hire = pl.DataFrame(
        [[values.get(c) for c in teachers.columns]],
        schema=dict.fromkeys(teachers.columns, pl.String),
        orient="row",
    )
    moved = sections.with_columns(
        pl.when(pl.col(SEC.Section_id) == section[SEC.Section_id])
        .then(pl.lit(new_id))
        .otherwise(pl.col(SEC.Teacher_id))
        .alias(SEC.Teacher_id)
    )
    tonight = {**frames, SECTIONS_CSV: moved}
    result = IncidentResult(
        "section-missing-teacher",
        SECTIONS_CSV,
        keys=(section[SEC.Section_id],),
        related=(new_id,),
        rows=_rows_of(sections, pl.col(SEC.Section_id) == section[SEC.Section_id]),
        detail=f"Teacher_id {new_id} ({first} {last}, new hire) is not in teachers.csv tonight",
    )
    carry = {**tonight, TEACHERS_CSV: pl.concat([teachers, hire])}
    return Outcome(tonight, result, carry=carry)


@_incident("dropped-column")
def dropped_column(
    frames: Frames,
    ctx: IncidentContext,
    *,
    file: str = STUDENTS_CSV,
    column: str = STU.Student_email,
) -> Outcome:
    """An optional column stops arriving (a field customization changed).

    Someone edited the export, or asked Clever Support or the SIS vendor, and the column is
    gone. Clever accepts the upload and blanks the field for every record: apps lose the value.
    """
    result = IncidentResult(
        "dropped-column", file, related=(column,), detail=f"{column} is no longer in {file}"
    )
    return Outcome({**frames, file: frames[file].drop(column)}, result)


@_incident("added-ext-column")
def added_ext_column(
    frames: Frames, ctx: IncidentContext, *, file: str = STUDENTS_CSV, column: str = "ext.bus_route"
) -> Outcome:
    """A new ``ext.*`` column starts arriving (a custom field the district chose to send).

    Clever accepts the upload and passes the field to apps that read extension data: a field
    customization, not an error.
    """
    # Derived from the record's key, so a student's contact rows agree.
    value = pl.format("Route {}", number_of(pl.col(_key_column(file))) % 24 + 1)
    result = IncidentResult(
        "added-ext-column", file, related=(column,), detail=f"{column} now arrives in {file}"
    )
    return Outcome({**frames, file: frames[file].with_columns(value.alias(column))}, result)


def _changed_keys(
    before: pl.DataFrame, after: pl.DataFrame, file: str, columns: list[str]
) -> tuple[str, ...]:
    """Keys (first key column) of rows where any of ``columns`` differs, in file order."""
    differs = pl.any_horizontal(
        before.get_column(c).ne_missing(after.get_column(c)) for c in columns
    )
    keys = after.select(pl.col(_key_column(file)).filter(differs)).to_series()
    return tuple(keys.unique(maintain_order=True).drop_nulls().to_list())


@_incident("grade-format-shift")
def grade_format_shift(
    frames: Frames, ctx: IncidentContext, *, file: str = STUDENTS_CSV
) -> Outcome:
    """Grades arrive zero-padded (``9`` → ``09``) after an SIS export setting changed.

    Clever treats ``09`` as a non-canonical grade: apps that filter on grade 9 lose those
    students, and every student in grades 1–9 counts as updated.
    """
    padded = {
        canonical: alias
        for alias, canonical in spec.GRADE_ALIASES.items()
        if alias.isdigit() and len(alias) == 2
    }
    before = frames[file]
    columns = [
        f.name
        for f in spec.file_columns(file)
        if f.vocabulary == "grade" and f.name in before.columns
    ]
    after = before.with_columns(
        pl.col(c).replace(list(padded), list(padded.values())) for c in columns
    )
    result = IncidentResult(
        "grade-format-shift",
        file,
        keys=_changed_keys(before, after, file, columns),
        related=tuple(columns),
        detail="grades 1–9 written as 01–09",
    )
    return Outcome({**frames, file: after}, result)


def _scientific(value: pl.Expr) -> pl.Expr:
    """How Excel shows a long all-digit ID: 6 significant digits (``1.23457E+11``)."""
    exponent = value.str.len_chars() - 1
    mantissa = (value.str.slice(0, 7).cast(pl.Int64, strict=False) + 5) // 10  # 6 digits, rounded
    carry = mantissa >= 1_000_000
    digits = pl.when(carry).then(mantissa // 10).otherwise(mantissa).cast(pl.String)
    rest = digits.str.slice(1).str.strip_chars_end("0")
    return pl.concat_str(
        digits.str.slice(0, 1),
        pl.when(rest.str.len_chars() > 0)
        .then(pl.concat_str(pl.lit("."), rest))
        .otherwise(pl.lit("")),
        pl.lit("E+"),
        (exponent + carry.cast(pl.UInt32)).cast(pl.String),
    )


def _excel(value: pl.Expr, kind: str) -> pl.Expr:
    """``value`` after a round trip through Excel for a spec field of ``kind``."""
    if kind == "date":
        parts = value.str.extract_groups(r"^(\d{2})/(\d{2})/\d{2}(\d{2})$")
        short = pl.concat_str(
            parts.struct[0].cast(pl.Int64).cast(pl.String), pl.lit("/"),
            parts.struct[1].cast(pl.Int64).cast(pl.String), pl.lit("/"), parts.struct[2],
        )  # fmt: skip
        return pl.coalesce(short, value)
    numeric = value.str.contains(r"^\d+$")
    stripped = value.str.strip_chars_start("0")
    lost_zeros: pl.Expr = pl.when(numeric).then(
        pl.when(stripped == "").then(pl.lit("0")).otherwise(stripped)
    )
    if kind == "id":
        long = numeric & (value.str.len_chars() >= 12)
        lost_zeros = pl.when(long).then(_scientific(value)).otherwise(lost_zeros)
    return pl.coalesce(lost_zeros, value)


@_incident("excel-damage")
def excel_damage(frames: Frames, ctx: IncidentContext, *, file: str = STUDENTS_CSV) -> Outcome:
    """The file was opened and saved in Excel: IDs, zips and dates rewritten.

    All-digit IDs lose leading zeros (``0000123`` → ``123``), 12+ digit IDs become scientific
    notation (``100000012345`` → ``1E+11``), zips lose their leading zero (``02134`` → ``2134``),
    dates become ``M/D/YY``. Clever accepts the upload: every damaged record is "updated" (a hold
    if it is most of them) and the wrong values reach apps.
    """
    before = frames[file]
    fields = [
        f
        for f in spec.file_columns(file)
        if f.kind in ("id", "zip", "date") and f.name in before.columns
    ]
    after = before
    for f in fields:  # one column at a time: fewer intermediate columns alive at once
        after = after.with_columns(_excel(pl.col(f.name), f.kind).alias(f.name))
    changed = [
        f.name for f in fields if not before.get_column(f.name).equals(after.get_column(f.name))
    ]
    result = IncidentResult(
        "excel-damage",
        file,
        keys=_changed_keys(before, after, file, changed),
        related=tuple(changed),
        detail=f"Excel rewrote {', '.join(changed)}",
    )
    return Outcome({**frames, file: after}, result)


@_incident("truncated-export")
def truncated_export(frames: Frames, ctx: IncidentContext, *, keep: float = 0.5) -> Outcome:
    """The SIS export stopped part-way: only the first half of the students arrive.

    Students after the cut and their enrollments are missing. Clever would delete them all; the
    mass deletion (far over 10 %) puts the sync on hold until the district approves or discards it.
    """
    students = frames[STUDENTS_CSV]
    ids = _unique(students, STU.Student_id)
    gone = ids[int(len(ids) * keep + 0.5) :]
    lost = pl.Series(gone, dtype=pl.String).implode()
    enrollments = frames[ENROLLMENTS_CSV]
    kept_enrollments = enrollments.filter(~pl.col(ENR.Student_id).is_in(lost))
    result = IncidentResult(
        "truncated-export",
        STUDENTS_CSV,
        keys=tuple(gone),
        detail=(
            f"{len(gone)} of {len(ids)} students and "
            f"{enrollments.height - kept_enrollments.height} enrollments missing"
        ),
    )
    tonight = {
        **frames,
        STUDENTS_CSV: students.filter(~pl.col(STU.Student_id).is_in(lost)),
        ENROLLMENTS_CSV: kept_enrollments,
    }
    return Outcome(tonight, result)


@_incident("rekeyed-teacher")
def rekeyed_teacher(frames: Frames, ctx: IncidentContext) -> Outcome:
    """A teacher's Teacher_id changes everywhere; name and email stay the same.

    An SIS migration re-numbered the teacher (``T-1042`` → ``T-91042``) and the district keeps
    the new ID. Clever deletes the old teacher and creates a new one: apps lose the teacher's
    history (classes, assignments) unless the re-key is caught.
    """
    rng = ctx.rng("rekeyed-teacher")
    teachers, sections = frames[TEACHERS_CSV], frames[SECTIONS_CSV]
    old = rng.choice(sorted(_unique(sections, SEC.Teacher_id)))
    taken = set(teachers.get_column(TEA.Teacher_id).to_list())
    prefix, number = old.rsplit("-", 1)
    new = f"{prefix}-9{number}"
    while new in taken:
        new = f"{prefix}-9{new.rsplit('-', 1)[1]}"
    tonight = {
        **frames,
        TEACHERS_CSV: _replace_values(teachers, (TEA.Teacher_id,), old, new),
        SECTIONS_CSV: _replace_values(sections, spec.TEACHER_SLOTS, old, new),
    }
    result = IncidentResult(
        "rekeyed-teacher",
        TEACHERS_CSV,
        keys=(old,),
        related=(new,),
        detail=f"Teacher_id {old} is now {new} in teachers.csv and sections.csv",
    )
    return Outcome(tonight, result, carry=tonight)


@_incident("term-rollover")
def term_rollover(frames: Frames, ctx: IncidentContext) -> Outcome:
    """Sections whose Term_end has passed leave the export, with their enrollments.

    The expected hold: at a term boundary the SIS stops exporting last term's sections. Clever
    deletes them and unenrolls their students; when that is over 10 % of sections or
    enrollments the sync is held until the district approves it. The district stays rolled over.
    """
    sections, enrollments = frames[SECTIONS_CSV], frames[ENROLLMENTS_CSV]
    ended = pl.col(SEC.Term_end).str.to_date("%m/%d/%Y", strict=False) < ctx.taken_at.date()
    over = sections.filter(ended)
    gone = over.get_column(SEC.Section_id)
    kept_enrollments = enrollments.filter(~pl.col(ENR.Section_id).is_in(gone.implode()))
    terms = tuple(_unique(over, SEC.Term_name))
    tonight = {
        **frames,
        SECTIONS_CSV: sections.filter(~ended.fill_null(False)),
        ENROLLMENTS_CSV: kept_enrollments,
    }
    result = IncidentResult(
        "term-rollover",
        SECTIONS_CSV,
        keys=tuple(gone.to_list()),
        related=terms,
        detail=(
            f"{over.height} sections of {', '.join(terms) or 'no term'} and "
            f"{enrollments.height - kept_enrollments.height} enrollments removed"
        ),
    )
    return Outcome(tonight, result, carry=tonight)


@_incident("utf16-file")
def utf16_file(frames: Frames, ctx: IncidentContext, *, file: str = TEACHERS_CSV) -> Outcome:
    """One file is written as UTF-16 LE with a byte-order mark (older Windows tooling).

    Clever reads UTF-8 only: the upload has errors and is not processed.
    """
    edit = FileEdit(file, transform=lambda data: b"\xff\xfe" + data.decode().encode("utf-16-le"))
    result = IncidentResult("utf16-file", file, related=("utf-16-le",), detail=f"{file} is UTF-16")
    return Outcome(frames, result, edits=(edit,))


@_incident("cp1252-file")
def cp1252_file(frames: Frames, ctx: IncidentContext, *, file: str = STUDENTS_CSV) -> Outcome:
    """One file is written as Windows-1252 (Latin-1) instead of UTF-8.

    Names like ``José`` become invalid UTF-8 bytes. Clever may show them garbled (v2.1.1 asks
    for UTF-8 and does not state the consequence).
    """
    edit = FileEdit(file, transform=lambda data: data.decode().encode("cp1252", errors="replace"))
    result = IncidentResult(
        "cp1252-file", file, related=("cp1252",), detail=f"{file} is Windows-1252"
    )
    return Outcome(frames, result, edits=(edit,))


@_incident("bom")
def bom(frames: Frames, ctx: IncidentContext, *, file: str = STUDENTS_CSV) -> Outcome:
    """One file starts with a UTF-8 byte-order mark (saved by Excel or Notepad).

    Clever asks for UTF-8 without BOM; a naive reader sees the first header as ``\\ufeffSchool_id``.
    """
    edit = FileEdit(file, transform=lambda data: b"\xef\xbb\xbf" + data)
    result = IncidentResult("bom", file, detail=f"{file} starts with a BOM")
    return Outcome(frames, result, edits=(edit,))


@_incident("misnamed-file")
def misnamed_file(
    frames: Frames,
    ctx: IncidentContext,
    *,
    file: str = STUDENTS_CSV,
    name: str = "students.csv.txt",
) -> Outcome:
    """A file is uploaded as ``students.csv.txt`` (Windows hides known extensions).

    Clever does not pick that name up: the required students.csv is missing, so Clever does not
    process the upload (v2.1.1).
    """
    result = IncidentResult(
        "misnamed-file", file, related=(name,), detail=f"{file} uploaded as {name}"
    )
    return Outcome(frames, result, edits=(FileEdit(file, rename=name),))


@_incident("unquoted-comma")
def unquoted_comma(frames: Frames, ctx: IncidentContext, *, suffix: str = ", Jr.") -> Outcome:
    """A last name with a comma is written without quotes (a hand-rolled exporter).

    The student's rows in students.csv get one field too many: malformed rows, which Clever may
    misread (the consequence is not stated).
    """
    rng = ctx.rng("unquoted-comma")
    students = frames[STUDENTS_CSV]
    row = students.row(rng.randrange(students.height), named=True)
    student, name = row[STU.Student_id], f"{row[STU.Last_name]}{suffix}"
    mine = pl.col(STU.Student_id) == student
    after = students.with_columns(
        pl.when(mine).then(pl.lit(name)).otherwise(pl.col(STU.Last_name)).alias(STU.Last_name)
    )
    quoted = f'"{name}"'.encode()
    edit = FileEdit(STUDENTS_CSV, transform=lambda data: data.replace(quoted, name.encode()))
    result = IncidentResult(
        "unquoted-comma",
        STUDENTS_CSV,
        keys=(student,),
        related=(name,),
        rows=_rows_of(students, mine),
        detail=f"Last_name {name!r} written without quotes",
    )
    return Outcome({**frames, STUDENTS_CSV: after}, result, edits=(edit,))


@_incident("duplicate-ids")
def duplicate_ids(frames: Frames, ctx: IncidentContext) -> Outcome:
    """Two different students share one Student_id (the SIS reused an ID).

    The later student's rows and enrollments carry the earlier student's ID. Clever processes
    only the first rows with that ID: the second student vanishes and their enrollments land on
    the first student.
    """
    rng = ctx.rng("duplicate-ids")
    students, enrollments = frames[STUDENTS_CSV], frames[ENROLLMENTS_CSV]
    first, second = sorted(rng.sample(range(len(ids := _unique(students, STU.Student_id))), 2))
    keeper, victim = ids[first], ids[second]
    tonight = {
        **frames,
        STUDENTS_CSV: _replace_values(students, (STU.Student_id,), victim, keeper),
        ENROLLMENTS_CSV: _replace_values(enrollments, (ENR.Student_id,), victim, keeper).unique(
            maintain_order=True
        ),
    }
    result = IncidentResult(
        "duplicate-ids",
        STUDENTS_CSV,
        keys=(keeper,),
        related=(victim,),
        rows=_rows_of(students, pl.col(STU.Student_id) == victim),
        detail=f"student {victim} exported with {keeper}'s Student_id",
    )
    return Outcome(tonight, result)


@_incident("shared-staff-id")
def shared_staff_id(frames: Frames, ctx: IncidentContext) -> Outcome:
    """Two different staff members at different schools share one Staff_id.

    Clever treats them as one person: one of them loses access or gets the other's schools.
    """
    rng = ctx.rng("shared-staff-id")
    staff = frames[STAFF_CSV]
    at_one_school = (
        staff.group_by(STF.Staff_id, maintain_order=True)
        .agg(pl.col(STF.School_id).first(), pl.len().alias("_n"))
        .filter(pl.col("_n") == 1)
    )
    a, b = rng.sample(range(at_one_school.height), 2)
    keeper, other = at_one_school.row(a, named=True), at_one_school.row(b, named=True)
    if keeper[STF.School_id] == other[STF.School_id]:
        other = at_one_school.filter(pl.col(STF.School_id) != keeper[STF.School_id]).row(
            0, named=True
        )
    tonight = {
        **frames,
        STAFF_CSV: _replace_values(
            staff, (STF.Staff_id,), other[STF.Staff_id], keeper[STF.Staff_id]
        ),
    }
    result = IncidentResult(
        "shared-staff-id",
        STAFF_CSV,
        keys=(keeper[STF.Staff_id],),
        related=(other[STF.Staff_id],),
        rows=_rows_of(staff, pl.col(STF.Staff_id) == other[STF.Staff_id]),
        detail=f"staff member {other[STF.Staff_id]} exported with Staff_id {keeper[STF.Staff_id]}",
    )
    return Outcome(tonight, result)


@_incident("blank-teacher-id")
def blank_teacher_id(frames: Frames, ctx: IncidentContext) -> Outcome:
    """A section arrives with an empty Teacher_id (teacher unassigned in the SIS).

    Teacher_id is required: Clever skips the section's row (v2.1.1).
    """
    rng = ctx.rng("blank-teacher-id")
    sections = frames[SECTIONS_CSV]
    section = sections.row(rng.randrange(sections.height), named=True)
    mine = pl.col(SEC.Section_id) == section[SEC.Section_id]
    after = sections.with_columns(
        pl.when(mine).then(pl.lit(None, dtype=pl.String)).otherwise(pl.col(SEC.Teacher_id))
        .alias(SEC.Teacher_id)
    )  # fmt: skip
    result = IncidentResult(
        "blank-teacher-id",
        SECTIONS_CSV,
        keys=(section[SEC.Section_id],),
        related=(section[SEC.Teacher_id],),
        rows=_rows_of(sections, mine),
        detail=f"section {section[SEC.Section_id]} has no Teacher_id",
    )
    return Outcome({**frames, SECTIONS_CSV: after}, result)


@_incident("school-id-is-number")
def school_id_is_number(frames: Frames, ctx: IncidentContext) -> Outcome:
    """One school's School_number is used instead of its School_id in every other file.

    Rows of that school point at a school Clever does not know (the consequence is not stated).
    """
    rng = ctx.rng("school-id-is-number")
    schools = frames[SCHOOLS_CSV]
    school = schools.row(rng.randrange(schools.height), named=True)
    old, new = school[SCH.School_id], school[SCH.School_number]
    tonight = {
        name: frame if name == SCHOOLS_CSV else _replace_values(frame, (SCH.School_id,), old, new)
        for name, frame in frames.items()
    }
    result = IncidentResult(
        "school-id-is-number",
        SCHOOLS_CSV,
        keys=(old,),
        related=(new,),
        detail=f"School_id {old} written as its School_number {new} outside schools.csv",
    )
    return Outcome(tonight, result)


@_incident("misspelled-header")
def misspelled_header(
    frames: Frames,
    ctx: IncidentContext,
    *,
    file: str = STUDENTS_CSV,
    column: str = STU.IEP_status,
    spelled: str = "IEPstatus",
) -> Outcome:
    """A header is misspelled (``IEPstatus``): the sensitive field silently arrives empty.

    Clever ignores the unknown column and blanks IEP_status for every student.
    """
    result = IncidentResult(
        "misspelled-header", file, related=(column, spelled), detail=f"{column} sent as {spelled}"
    )
    return Outcome({**frames, file: frames[file].rename({column: spelled})}, result)
