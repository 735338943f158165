"""Vectorised generation of a district's first night: every value is a polars expression.

A student's values depend only on (seed, student number), so students added by churn on later
nights come from the same code path. Schools are numbered ``s``; a student numbered ``n`` goes to
school ``n % schools``; school ``s`` teaches the grade band ``s % 3`` (elementary, middle, high).
Helper columns start with ``_`` and never reach a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from rosterlab.synth.common import (
    CON,
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
    digits,
    draw,
    ordered,
    pick,
    weighted,
    with_hash,
)
from rosterlab.synth.words import (
    AREA_CODES,
    BANDS,
    COURSES,
    FIRST_NAMES,
    HOME_LANGUAGES,
    LAST_NAMES,
    SCHOOL_PLACES,
    STATE,
    STREETS,
    TEACHER_TITLES,
    TOWNS,
    slug,
)

GRADES: tuple[str, ...] = tuple(g for _, _, grades in BANDS for g in grades)  # index = grade no.
BAND_OFFSET = tuple(GRADES.index(grades[0]) for _, _, grades in BANDS)
BAND_SIZE = tuple(len(grades) for _, _, grades in BANDS)
FIRST_SLUGS = tuple(slug(n) for n in FIRST_NAMES)
LAST_SLUGS = tuple(slug(n) for n in LAST_NAMES)
STUDENT_EXT = "ext.homeroom"
SECTION_EXT = "ext.room"
MULTI_SCHOOL_EVERY = 25  # teacher t with t % 25 == 7 also teaches at the next school
CO_TEACHER_EVERY = 8  # section q with q % 8 == 3 has a Teacher_2_id
THIRD_TEACHER_EVERY = 32  # section q with q % 32 == 11 also has a Teacher_3_id
H = pl.col("_h")


@dataclass(frozen=True)
class Shape:
    """Everything generation needs besides the seed."""

    district: str
    students: int
    schools: int
    class_size: int
    enrollments_per_student: int
    extensions: bool
    school_year: int  # the calendar year the school year starts in

    @property
    def domain(self) -> str:
        return f"{slug(self.district) or 'district'}.example.org"

    def terms(self) -> tuple[tuple[str, str, str], ...]:
        """(Term_name, Term_start, Term_end) of the school year; the summer term ends first."""
        y = self.school_year
        return (
            ("Summer Bridge", f"07/13/{y}", f"09/04/{y}"),
            ("Fall Semester", f"08/24/{y}", f"01/22/{y + 1}"),
            ("Full Year", f"08/24/{y}", f"06/11/{y + 1}"),
        )


def school_year(day: date) -> int:
    """The year a school year starts in (July onwards belongs to the new year)."""
    return day.year if day.month >= 7 else day.year - 1


def _by_band(band: pl.Expr, values: tuple[int, ...]) -> pl.Expr:
    return band.replace_strict(list(range(len(values))), list(values), return_dtype=pl.Int64)


def _phone(r: pl.Expr) -> pl.Expr:
    return pl.concat_str(pick(AREA_CODES, r), pl.lit("555"), digits(r // 7, 4))


def school_id(s: pl.Expr) -> pl.Expr:
    return pl.concat_str(pl.lit("SCH-"), (s + 1).cast(pl.String).str.zfill(3))


def student_id(n: pl.Expr) -> pl.Expr:
    return pl.format("S-{}", n + 100_001)


def teacher_id(t: pl.Expr) -> pl.Expr:
    return pl.format("T-{}", t + 1001)


def _person(first: pl.Expr, last: pl.Expr, number: pl.Expr) -> pl.Expr:
    """An email local part that is unique thanks to ``number`` (``jose.garcia42``)."""
    return pl.concat_str(
        pick(FIRST_SLUGS, first), pl.lit("."), pick(LAST_SLUGS, last), number.cast(pl.String)
    )


def _plan(shape: Shape) -> pl.LazyFrame:
    """One row per school: index, band, and how many students, sections, teachers it starts with."""
    n, s, e = shape.students, shape.schools, shape.enrollments_per_student
    sections = (pl.col("_n") * e + shape.class_size - 1) // shape.class_size
    return (
        pl.LazyFrame({"_s": pl.int_range(s, eager=True, dtype=pl.Int64)})
        .with_columns(
            _band=pl.col("_s") % len(BANDS),
            _n=n // s + (pl.col("_s") < n % s).cast(pl.Int64),
        )
        .with_columns(_sections=pl.max_horizontal(sections, e + 2))
        .with_columns(_teachers=pl.max_horizontal((pl.col("_sections") + 4) // 5, 3))
    )


def schools(shape: Shape, seed: int) -> pl.DataFrame:
    """schools.csv: a School_number distinct from the School_id, zips with leading zeros."""
    s, band = pl.col("_s"), pl.col("_band")
    again = s // (len(BANDS) * len(SCHOOL_PLACES))
    first, last = draw(H, "principal-first"), draw(H, "principal-last")
    town = s % len(TOWNS)
    low = _by_band(band, BAND_OFFSET)
    frame = with_hash(_plan(shape), s, seed, "schools").select(
        school_id(s).alias(SCH.School_id),
        pl.concat_str(
            pick(SCHOOL_PLACES, s // len(BANDS)), pl.lit(" "),
            pick([suffix for _, suffix, _ in BANDS], band),
            pl.when(again > 0).then(pl.format(" {}", again + 1)).otherwise(pl.lit("")),
        ).alias(SCH.School_name),
        digits((s + 1) * 17 + 20, 5).alias(SCH.School_number),
        digits((s + 1) * 7919 + 130_000, 8).alias(SCH.State_id),
        pick(GRADES, low).alias(SCH.Low_grade),
        pick(GRADES, low + _by_band(band, BAND_SIZE) - 1).alias(SCH.High_grade),
        pl.concat_str(pick(FIRST_NAMES, first), pl.lit(" "), pick(LAST_NAMES, last))
        .alias(SCH.Principal),
        pl.concat_str(_person(first, last, s + 1), pl.lit(f"@{shape.domain}"))
        .alias(SCH.Principal_email),
        pl.concat_str(
            (draw(H, "street-no") % 900 + 10).cast(pl.String), pl.lit(" "),
            pick(STREETS, draw(H, "street")),
        ).alias(SCH.School_address),
        pick([t for t, _ in TOWNS], town).alias(SCH.School_city),
        pl.lit(STATE).alias(SCH.School_state),
        pick([z for _, z in TOWNS], town).alias(SCH.School_zip),
        _phone(draw(H, "phone")).alias(SCH.School_phone),
    )  # fmt: skip
    return ordered(frame.collect(), SCHOOLS_CSV)


def _gpa(x: pl.Expr) -> pl.Expr:
    return pl.format("{}.{}", x // 100, (x % 100).cast(pl.String).str.zfill(2))


def student_rows(shape: Shape, seed: int, first: int, count: int) -> pl.DataFrame:
    """students.csv rows (one per student and contact) for student numbers first..first+count-1."""
    n = pl.col("_n")
    band = pl.col("_s") % len(BANDS)
    grade = pl.col("_grade")
    month = pl.col("_month")
    first_i, last_i = draw(H, "first"), draw(H, "last")
    local = pl.concat_str(
        pick(FIRST_SLUGS, first_i).str.slice(0, 1), pick(LAST_SLUGS, last_i), (n + 100_001)
    )
    language = weighted(HOME_LANGUAGES, draw(H, "language"))
    town = draw(H, "town") % len(TOWNS)
    gpa = 200 + draw(H, "gpa") % 200
    high = band == len(BANDS) - 1
    contacts = draw(H, "contacts") % 100
    year = shape.school_year - 5 - grade - (month >= 9).cast(pl.Int64)
    # Explode to one row per contact first, then compute the student columns on the exploded rows:
    # slower than exploding finished columns but it never holds two copies of the big frame.
    per_student = with_hash(numbered(shape, first, count).lazy(), n, seed, "students")
    rows = (
        per_student.with_columns(
            _c=(contacts >= 15).cast(pl.Int64) + (contacts >= 50) + (contacts >= 90)
        )
        .with_columns(_ci=pl.int_ranges(0, pl.max_horizontal(pl.col("_c"), 1)))
        .explode("_ci")
        .with_columns(
            _grade=_by_band(band, BAND_OFFSET) + draw(H, "grade") % _by_band(band, BAND_SIZE),
            _month=draw(H, "dob-month") % 12 + 1,
            _last=last_i,
        )
        .with_columns(
            school_id(pl.col("_s")).alias(STU.School_id),
            student_id(n).alias(STU.Student_id),
            digits(n * 7 + 123, 7).alias(STU.Student_number),
            (10**11 + (n * 123_456_791 + 12_345) % (9 * 10**11))
            .cast(pl.String)
            .alias(STU.State_id),
            pick(LAST_NAMES, last_i).alias(STU.Last_name),
            pl.when(draw(H, "has-middle") % 100 < 45)
            .then(pick(FIRST_NAMES, draw(H, "middle")))
            .alias(STU.Middle_name),
            pick(FIRST_NAMES, first_i).alias(STU.First_name),
            pick(GRADES, grade).alias(STU.Grade),
            weighted((("F", 49), ("M", 49), ("X", 2)), draw(H, "gender")).alias(STU.Gender),
            pl.concat_str(
                month.cast(pl.String).str.zfill(2),
                pl.lit("/"),
                (draw(H, "dob-day") % 28 + 1).cast(pl.String).str.zfill(2),
                pl.lit("/"),
                year.cast(pl.String),
            ).alias(STU.DOB),
            (shape.school_year + 13 - grade).cast(pl.String).alias(STU.Graduation_year),
            weighted(
                (("W", 45), ("B", 15), ("A", 10), ("M", 8), ("I", 1), ("P", 1)), draw(H, "race")
            ).alias(STU.Race),
            weighted((("Y", 22), ("N", 78)), draw(H, "hispanic")).alias(STU.Hispanic_Latino),
            language.alias(STU.Home_language),
            pl.when((language != "English") & (draw(H, "ell") % 100 < 45))
            .then(pl.lit("Y"))
            .otherwise(pl.lit("N"))
            .alias(STU.Ell_status),
            weighted((("F", 35), ("R", 8), ("N", 57)), draw(H, "frl")).alias(STU.Frl_status),
            weighted((("Y", 14), ("N", 86)), draw(H, "iep")).alias(STU.IEP_status),
            pl.concat_str(
                (draw(H, "street-no") % 990 + 10).cast(pl.String),
                pl.lit(" "),
                pick(STREETS, draw(H, "street")),
            ).alias(STU.Student_street),
            pick([t for t, _ in TOWNS], town).alias(STU.Student_city),
            pl.lit(STATE).alias(STU.Student_state),
            pick([z for _, z in TOWNS], town).alias(STU.Student_zip),
            pl.concat_str(local, pl.lit(f"@students.{shape.domain}")).alias(STU.Student_email),
            local.alias(STU.Username),
            pl.when(high).then(_gpa(gpa)).alias(STU.Unweighted_gpa),
            pl.when(high).then(_gpa(gpa + draw(H, "weighted") % 40)).alias(STU.Weighted_gpa),
            *(
                [pl.format("Room {}", draw(H, "homeroom") % 60 + 100).alias(STUDENT_EXT)]
                if shape.extensions
                else []
            ),
            _sis=draw(H, "contact-sis") % 100 < 60,
        )
    )
    frame = _with_contacts(rows, seed).collect()
    return ordered(frame.drop(c for c in frame.columns if c.startswith("_")), STUDENTS_CSV)


def _with_contacts(rows: pl.LazyFrame, seed: int) -> pl.LazyFrame:
    """Fill the contact columns of rows numbered ``_ci`` (< ``_c``, the student's contacts)."""
    ci = pl.col("_ci")
    parent = ci <= 1
    relationship = (
        pl.when(parent)
        .then(weighted((("Parent", 92), ("Grandparent", 6), ("Other", 2)), draw(H, "rel")))
        .otherwise(
            weighted(
                (("Grandparent", 4), ("Aunt/Uncle", 3), ("Sibling", 2), ("Other", 1)),
                draw(H, "rel"),
            )
        )
    )
    c_first = draw(H, "first")
    c_last = (
        pl.when(parent & (draw(H, "same-last") % 100 < 80))
        .then(pl.col("_last"))
        .otherwise(draw(H, "last"))
    )
    contact = {
        CON.Contact_relationship: relationship,
        CON.Contact_type: pick(("Primary", "Secondary", "Emergency"), ci),
        CON.Contact_name: pl.concat_str(
            pick(FIRST_NAMES, c_first), pl.lit(" "), pick(LAST_NAMES, c_last)
        ),
        CON.Contact_phone: _phone(draw(H, "phone")),
        CON.Contact_phone_type: weighted(
            (("Cell", 70), ("Home", 20), ("Work", 10)), draw(H, "phone-type")
        ),
        CON.Contact_email: pl.when(draw(H, "with-email") % 100 < 70).then(
            pl.concat_str(
                pick(FIRST_SLUGS, c_first), pl.lit("."), pick(LAST_SLUGS, c_last),
                (pl.col("_n") % 997).cast(pl.String), pl.lit("@mail.example.com"),
            )
        ),
        CON.Contact_sis_id: pl.when(pl.col("_sis")).then(
            pl.format("C-{}", pl.col("_n") * 4 + ci + 300_001)
        ),
    }  # fmt: skip
    return with_hash(rows.drop("_h"), pl.col("_n") * 4 + ci, seed, "contacts").with_columns(
        pl.when(ci < pl.col("_c")).then(expr).alias(name) for name, expr in contact.items()
    )


def teachers(shape: Shape, seed: int) -> pl.DataFrame:
    """Teacher rows plus ``_s`` (school index) and ``_visit``: a multi-school teacher has a
    visiting row at the next school, for the sections roster only. teachers.csv lists each
    teacher once, at the home school (help centre: one row, the primary school)."""
    t = pl.col("_t")
    first, last = draw(H, "first"), draw(H, "last")
    home = (
        _plan(shape)
        .select(pl.col("_s").repeat_by("_teachers").explode())
        .with_row_index("_t")
        .with_columns(pl.col("_t").cast(pl.Int64))
    )
    visiting = home.filter((t % MULTI_SCHOOL_EVERY == 7) & pl.lit(shape.schools > 1)).with_columns(
        _s=(pl.col("_s") + 1) % shape.schools
    )
    rows = pl.concat(
        [home.with_columns(_visit=pl.lit(False)), visiting.with_columns(_visit=pl.lit(True))]
    )
    frame = with_hash(rows.sort("_s", "_t"), t, seed, "teachers")
    frame = frame.with_columns(
        school_id(pl.col("_s")).alias(TEA.School_id),
        teacher_id(t).alias(TEA.Teacher_id),
        digits(t + 1, 5).alias(TEA.Teacher_number),
        digits(draw(H, "state-id"), 9).alias(TEA.State_teacher_id),
        pick(LAST_NAMES, last).alias(TEA.Last_name),
        pl.when(draw(H, "has-middle") % 100 < 30)
        .then(pick(FIRST_NAMES, draw(H, "middle")))
        .alias(TEA.Middle_name),
        pick(FIRST_NAMES, first).alias(TEA.First_name),
        pl.concat_str(_person(first, last, t + 1), pl.lit(f"@{shape.domain}")).alias(
            TEA.Teacher_email
        ),
        weighted(TEACHER_TITLES, draw(H, "title")).alias(TEA.Title),
        _person(first, last, t + 1).alias(TEA.Username),
    ).drop("_t", "_h")
    return ordered(frame.collect(), TEACHERS_CSV)


def _slot(name: str, offset: int, when: pl.Expr) -> pl.Expr:
    """A teacher slot taken from the school's roster, ``offset`` places after the section's."""
    return pl.when(when).then(pl.col(f"_slot{offset}")).alias(name)


def sections(shape: Shape, seed: int, teacher_rows: pl.DataFrame) -> pl.DataFrame:
    """sections.csv rows: round-robin teachers from the school's roster, some co-taught."""
    roster = teacher_rows.lazy().select(
        "_s", pl.int_range(pl.len()).over("_s").cast(pl.Int64).alias("_pos"), TEA.Teacher_id
    )
    sizes = roster.group_by("_s").agg(pl.len().cast(pl.Int64).alias("_r"))
    q, j, band = pl.col("_q"), pl.col("_j"), pl.col("_band")
    catalogue = pl.LazyFrame(
        [
            {"_band": b, "_k": k, "_course": c, "_number": num, "_subject": subj}
            for b, (name, _, _) in enumerate(BANDS)
            for k, (c, num, subj) in enumerate(COURSES[name])
        ],
        schema={"_band": pl.Int64, "_k": pl.Int64, "_course": pl.String, "_number": pl.String,
                "_subject": pl.String},
    )  # fmt: skip
    per_band = tuple(len(COURSES[name]) for name, _, _ in BANDS)
    terms = shape.terms()
    term = pl.when(q % 7 == 0).then(0).when(q % 7 <= 3).then(1).otherwise(2)
    number = digits(j // _by_band(band, per_band) + 1, 2)
    frame = (
        _plan(shape)
        .select(pl.col("_s").repeat_by("_sections").explode())
        .with_row_index("_q")
        .with_columns(pl.col("_q").cast(pl.Int64), _band=pl.col("_s") % len(BANDS))
        .with_columns(_j=pl.int_range(pl.len()).over("_s").cast(pl.Int64))
        .with_columns(_k=j % _by_band(band, per_band))
        .join(sizes, on="_s", how="left", maintain_order="left")
        .join(catalogue, on=["_band", "_k"], how="left", maintain_order="left")
    )
    for offset in range(3):
        frame = frame.with_columns(_pos=(j + offset) % pl.col("_r")).join(
            roster.rename({TEA.Teacher_id: f"_slot{offset}"}),
            on=["_s", "_pos"],
            how="left",
            maintain_order="left",
        )
    frame = with_hash(frame, q, seed, "sections").with_columns(
        school_id(pl.col("_s")).alias(SEC.School_id),
        pl.format("SEC-{}", q + 1001).alias(SEC.Section_id),
        _slot(SEC.Teacher_id, 0, pl.lit(True)),
        _slot(SEC.Teacher_2_id, 1, (q % CO_TEACHER_EVERY == 3) & (pl.col("_r") > 1)),
        _slot(SEC.Teacher_3_id, 2, (q % THIRD_TEACHER_EVERY == 11) & (pl.col("_r") > 2)),
        pl.concat_str(pl.col("_course"), pl.lit(" - "), number).alias(SEC.Name),
        number.alias(SEC.Section_number),
        pick(GRADES, _by_band(band, BAND_OFFSET) + j % _by_band(band, BAND_SIZE)).alias(SEC.Grade),
        pl.col("_course").alias(SEC.Course_name),
        pl.col("_number").alias(SEC.Course_number),
        (j % 7 + 1).cast(pl.String).alias(SEC.Period),
        pl.col("_subject").alias(SEC.Subject),
        pick([name for name, _, _ in terms], term).alias(SEC.Term_name),
        pick([start for _, start, _ in terms], term).alias(SEC.Term_start),
        pick([end for _, _, end in terms], term).alias(SEC.Term_end),
        *(
            [(draw(H, "room") % 60 + 100).cast(pl.String).alias(SECTION_EXT)]
            if shape.extensions
            else []
        ),
    )  # fmt: skip
    rows = frame.collect()
    return ordered(rows.drop(c for c in rows.columns if c.startswith("_")), SECTIONS_CSV)


def numbered(shape: Shape, first: int, count: int) -> pl.DataFrame:
    """Number ``_n`` and school index ``_s`` of students first..first+count-1."""
    n = pl.int_range(first, first + count, eager=True, dtype=pl.Int64)
    return pl.DataFrame({"_n": n}).with_columns(_s=pl.col("_n") % shape.schools)


def offered_sections(shape: Shape, section_rows: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Sections grouped by school (``School_id``, ``Section_id``, ``_s``), and per school
    ``_first`` (row of its first section in that frame) and ``_count``."""
    schools = pl.DataFrame({"_s": pl.int_range(shape.schools, eager=True, dtype=pl.Int64)})
    offered = (
        section_rows.select(SEC.School_id, SEC.Section_id)
        .join(
            schools.with_columns(school_id(pl.col("_s")).alias(SEC.School_id)),
            on=SEC.School_id,
            how="inner",
            maintain_order="left",
        )
        .with_row_index("_row")
        .sort("_s", "_row")
        .drop("_row")
    )
    starts = (
        offered.with_row_index("_first")
        .group_by("_s")
        .agg(pl.col("_first").min().cast(pl.Int64), pl.len().cast(pl.Int64).alias("_count"))
        .sort("_s")
    )
    return offered, starts


def enrollment_rows(
    shape: Shape, seed: int, students: pl.DataFrame, section_rows: pl.DataFrame
) -> pl.DataFrame:
    """enrollments.csv rows for ``students`` (``_n``, ``_s``, see :func:`numbered`): each in up
    to ``enrollments_per_student`` distinct sections of their school, a window of consecutive
    sections (in file order) starting at a random one.
    """
    offered, starts = offered_sections(shape, section_rows)
    e = shape.enrollments_per_student
    at = pl.col("_first") + (pl.col("_o") + pl.col("_t")) % pl.col("_count")
    frame = (
        with_hash(students.lazy(), pl.col("_n"), seed, "enrollments")
        .join(starts.lazy(), on="_s", how="inner", maintain_order="left")
        .with_columns(
            _o=H % pl.col("_count"), _t=pl.int_ranges(0, pl.min_horizontal(pl.col("_count"), e))
        )
        .explode("_t")
        .select(
            pl.lit(offered.get_column(SEC.School_id)).gather(at).alias(ENR.School_id),
            pl.lit(offered.get_column(SEC.Section_id)).gather(at).alias(ENR.Section_id),
            student_id(pl.col("_n")).alias(ENR.Student_id),
        )
    )
    return frame.collect()


def staff(shape: Shape, seed: int) -> pl.DataFrame:
    """staff.csv: two people per school plus two district people listed at every school."""
    local_roles = (
        ("Technology Coordinator", "Technology", "School Tech Lead"),
        ("School Counselor", "Student Services", None),
    )
    district_roles = (
        ("Director of Data & Assessment", "District Office", None),
        ("Instructional Technology Specialist", "District Office", None),
    )
    pairs = pl.LazyFrame({"_s": pl.int_range(shape.schools, eager=True, dtype=pl.Int64)}).join(
        pl.LazyFrame({"_k": [0, 1]}, schema={"_k": pl.Int64}), how="cross", maintain_order="left"
    )
    frames = []
    for roles, person in (
        (district_roles, pl.col("_k")),
        (local_roles, pl.col("_s") * 2 + pl.col("_k") + len(district_roles)),
    ):
        frames.append(
            pairs.with_columns(
                _p=person,
                _title=pick([r[0] for r in roles], pl.col("_k")),
                _dept=pick([r[1] for r in roles], pl.col("_k")),
                _role=pl.when(pl.col("_k") == 0).then(pl.lit(roles[0][2], dtype=pl.String)),
            )
        )
    p = pl.col("_p")
    first, last = draw(H, "first"), draw(H, "last")
    frame = with_hash(pl.concat(frames).sort("_s", "_p"), p, seed, "staff").select(
        school_id(pl.col("_s")).alias(STF.School_id),
        pl.format("E-{}", p + 5001).alias(STF.Staff_id),
        pl.concat_str(_person(first, last, p + 1), pl.lit(f"@{shape.domain}")).alias(
            STF.Staff_email
        ),
        pick(FIRST_NAMES, first).alias(STF.First_name),
        pick(LAST_NAMES, last).alias(STF.Last_name),
        pl.col("_dept").alias(STF.Department),
        pl.col("_title").alias(STF.Title),
        _person(first, last, p + 1).alias(STF.Username),
        pl.col("_role").alias(STF.Role),
    )
    return ordered(frame.collect(), STAFF_CSV)


def first_night(shape: Shape, seed: int) -> Frames:
    """Every file of the district's first night."""
    teacher_rows = teachers(shape, seed)
    section_rows = sections(shape, seed, teacher_rows)
    return {
        SCHOOLS_CSV: schools(shape, seed),
        STUDENTS_CSV: student_rows(shape, seed, 0, shape.students),
        TEACHERS_CSV: teacher_rows.filter(~pl.col("_visit")).drop("_s", "_visit"),
        SECTIONS_CSV: section_rows,
        ENROLLMENTS_CSV: enrollment_rows(
            shape, seed, numbered(shape, 0, shape.students), section_rows
        ),
        STAFF_CSV: staff(shape, seed),
    }
