"""Cross-file integrity — broken enrollments and friends — set-based over the staging views.

Every finding names its root ``cause`` (``sections/SEC-77``: the missing or broken parent) so
the result can group them: one section missing from sections.csv breaks all its enrollments,
and fixing that one section repairs them all.

References are checked on *distinct values* first (``CheckContext.distinct``: one aggregation
per column, shared with the other checks), and only the rows holding a bad value are read back
for their row numbers: a clean 8-million-row enrollments file costs three aggregations, not a
join per rule. A reference into a file that is absent or unreadable tonight is not checked row
by row: the file finding already says it all.
"""

from __future__ import annotations

from rosterlab import spec
from rosterlab.checks.model import DISTINCT_TOGETHER, CheckContext
from rosterlab.checks.rows import blank, district_office_sql
from rosterlab.checks.sql import (
    Sql,
    bound,
    cause,
    conflicting_rows,
    find,
    has,
    reference_column,
    repeated_rows,
    row_key,
    select_findings,
)
from rosterlab.spec import Finding
from rosterlab.store import StagedFile

SCHOOLS = spec.ENTITIES["schools"]
TEACHERS = spec.ENTITIES["teachers"]
SECTIONS = spec.ENTITIES["sections"]
ENROLLMENTS = spec.ENTITIES["enrollments"]
STUDENTS = spec.ENTITIES["students"]
# The school-number column an ID is confused with (school-id-is-number).
SCHOOL_NUMBER = SCHOOLS.field("School_number").name

# The code of a broken reference, by (referring entity, referenced entity); schools: any entity.
REFERENCE_CODES: dict[tuple[str, str], str] = {
    (ENROLLMENTS.name, STUDENTS.name): "enrollment-unknown-student",
    (ENROLLMENTS.name, SECTIONS.name): "enrollment-unknown-section",
    (SECTIONS.name, TEACHERS.name): "section-unknown-teacher",
}


def _school_column(entity: spec.Entity) -> str | None:
    """The entity's column pointing at schools (None for schools themselves)."""
    return next((f.name for f in entity.fields if f.references == SCHOOLS.name), None)


def _column_to(entity: spec.Entity, parent: spec.Entity) -> str:
    """The column of ``entity`` that points at ``parent``."""
    return next(f.name for f in entity.fields if f.references == parent.name)


def _unknown(ctx: CheckContext, staged: StagedFile, column: str, parent: StagedFile) -> str:
    """SQL of the distinct values of ``column`` missing from ``parent``'s key (column ``v0``)."""
    entity = spec.ENTITIES[spec.entity_of_file(parent.spec_name)]
    child = ctx.distinct(staged, column)
    known = ctx.distinct(parent, reference_column(entity))
    return f"(SELECT c.v0 FROM {child} c ANTI JOIN {known} k ON c.v0 = k.v0)"


def _references(ctx: CheckContext, staged: StagedFile) -> list[Sql]:
    """Rows whose reference columns name a record missing from the referenced file."""
    queries: list[Sql] = []
    for field in spec.file_columns(staged.spec_name):
        if field.references is None or not has(staged, field.name):
            continue
        entity = spec.entity_of_column(staged.spec_name, field.name)
        parent = spec.ENTITIES[field.references]
        parent_file = ctx.staged_of(parent.name)
        if (
            parent_file is None
            or parent_file is staged
            or not has(parent_file, reference_column(parent))
        ):
            continue
        v = staged.columns.value(field.name)
        # A blank reference (only spaces) names no record: missing-value when it is required.
        bad = f"(SELECT * FROM {_unknown(ctx, staged, field.name, parent_file)} u "
        bad += f"WHERE NOT {blank('u.v0')})"
        if field.district_office:  # DEFAULT_DISTRICT_OFFICE is no school (its misspellings: cells)
            bad = f"(SELECT * FROM {bad} u WHERE NOT {district_office_sql('u.v0')})"
        if parent.name == SCHOOLS.name:
            number = parent_file.columns.value(SCHOOL_NUMBER)
            school_id = parent_file.columns.value(reference_column(SCHOOLS))
            code: Sql = (
                "CASE WHEN b.sid IS NOT NULL THEN ? ELSE ? END",
                ["school-id-is-number", "unknown-school"],
            )
            bad = (
                f"(SELECT b.v0, n.sid FROM {bad} b LEFT JOIN (SELECT {number} AS num, "
                f"arg_min({school_id}, _row) AS sid FROM {parent_file.view} "
                f"WHERE {number} IS NOT NULL GROUP BY 1) n ON b.v0 = n.num)"
            )
            info: Sql = ("b.sid", [])
        else:
            code = bound(REFERENCE_CODES[(entity.name, parent.name)])
            info = ("NULL", [])
        select, params = select_findings(
            code=code,
            entity=entity.name,
            key=row_key(staged, entity),
            field=field.name,
            value="b.v0",
            cause=cause(parent.name, "b.v0"),
            info=info,
        )
        queries.append((f"SELECT {select} FROM {staged.view} JOIN {bad} b ON {v} = b.v0", params))
    return queries


def check_references(ctx: CheckContext) -> list[Finding]:
    """Unknown schools, students, sections and teachers; School_number used as School_id."""
    found: list[Finding] = []
    for staged in ctx.staged.values():
        found += find(ctx, _references(ctx, staged), file=staged.spec_name)
    return found


def _mismatched(ctx: CheckContext, enrollments: StagedFile) -> str | None:
    """SQL of the distinct (section, school) pairs of enrollments whose section is at another
    school (columns v0, v1, school), or None when sections.csv cannot say."""
    sections = ctx.staged_of(SECTIONS.name)
    section_school = _school_column(SECTIONS)
    section_id = reference_column(SECTIONS)
    if (
        sections is None
        or section_school is None
        or not all(has(sections, c) for c in (section_school, section_id))
    ):
        return None
    s_id = sections.columns.value(section_id)
    s_school = sections.columns.value(section_school)
    together = DISTINCT_TOGETHER[ENROLLMENTS.file]
    pairs = ctx.distinct(enrollments, *together)
    section = f"p.v{together.index(_column_to(ENROLLMENTS, SECTIONS))}"
    school = f"p.v{together.index(_column_to(ENROLLMENTS, SCHOOLS))}"
    return (
        f"(SELECT {section} AS v0, {school} AS v1, s.school FROM {pairs} p JOIN "
        f"(SELECT {s_id} AS k, arg_min({s_school}, _row) AS school FROM {sections.view} "
        f"WHERE {s_id} IS NOT NULL GROUP BY 1) s ON {section} = s.k WHERE {school} <> s.school)"
    )


def _duplicate_scope(
    ctx: CheckContext, enrollments: StagedFile, mismatched: str | None
) -> str | None:
    """SQL of (section, student) pairs that surely include every repeated enrollment, or None.

    The store keeps one version per distinct row, so when tonight's rows are as many as its
    versions no row repeats exactly; a repeated (section, student) then differs in School_id,
    the only other column, and one of its rows has a blank School_id, an unknown section, a
    section without a school, or a school other than its section's — rows the other checks
    single out anyway. Otherwise (None) every row must be grouped.
    """
    school = _column_to(ENROLLMENTS, SCHOOLS)
    sections = ctx.staged_of(SECTIONS.name)
    section_school = _school_column(SECTIONS)
    if (
        mismatched is None
        or sections is None
        or section_school is None
        or set(ENROLLMENTS.columns) - set(ENROLLMENTS.key) != {school}
    ):
        return None
    rows = ctx.store.rows(f"SELECT count(*) FROM {enrollments.view}")[0][0]
    versions = ctx.store.rows(
        "SELECT rows FROM snapshot_entities WHERE snapshot_id = ? AND entity = ?",
        [ctx.snapshot.id, ENROLLMENTS.name],
    )
    if not versions or versions[0][0] != rows:
        return None
    section_column = _column_to(ENROLLMENTS, SECTIONS)
    value = enrollments.columns.value
    v_school, v_section = value(school), value(section_column)
    pair = f"SELECT {v_section} AS v0, {value(_column_to(ENROLLMENTS, STUDENTS))} AS v1"
    section_id = sections.columns.value(reference_column(SECTIONS))
    schoolless = (
        f"SELECT {section_id} AS k FROM {sections.view} "
        f"WHERE {sections.columns.value(section_school)} IS NULL"
    )
    unknown = _unknown(ctx, enrollments, section_column, sections)
    view = enrollments.view
    return (
        f"{pair} FROM {view} WHERE {v_school} IS NULL "
        f"UNION {pair} FROM {view} SEMI JOIN {unknown} u ON {v_section} = u.v0 "
        f"UNION {pair} FROM {view} SEMI JOIN ({schoolless}) z ON {v_section} = z.k "
        f"UNION {pair} FROM {view} SEMI JOIN {mismatched} m "
        f"ON {v_section} = m.v0 AND {v_school} = m.v1"
    )


def _repeated(ctx: CheckContext, enrollments: StagedFile, mismatched: str | None) -> Sql:
    """Enrollment rows whose (section, student) appeared on an earlier row."""
    section, student = (
        enrollments.columns.value(_column_to(ENROLLMENTS, parent))
        for parent in (SECTIONS, STUDENTS)
    )
    scope = _duplicate_scope(ctx, enrollments, mismatched)
    if scope is None:
        pair = f"hash({section}, {student})"
        rows = (
            f"{enrollments.view} WHERE {section} IS NOT NULL AND {student} IS NOT NULL AND "
            f"{pair} IN (SELECT {pair} FROM {enrollments.view} GROUP BY 1 HAVING count(*) > 1)"
        )
    else:
        rows = f"{enrollments.view} SEMI JOIN ({scope}) c ON {section} = c.v0 AND {student} = c.v1"
    return repeated_rows(
        "duplicate-enrollment",
        ENROLLMENTS,
        key=row_key(enrollments, ENROLLMENTS),
        field=None,
        partition=f"{section}, {student}",
        rows=rows,
    )


def check_enrollments(ctx: CheckContext) -> list[Finding]:
    """Enrollments whose School_id differs from their section's, and repeated enrollments."""
    enrollments = ctx.staged_of(ENROLLMENTS.name)
    columns = (
        _column_to(ENROLLMENTS, SCHOOLS),
        _column_to(ENROLLMENTS, SECTIONS),
        _column_to(ENROLLMENTS, STUDENTS),
    )
    if enrollments is None or not all(has(enrollments, c) for c in columns):
        return []
    school, section = (enrollments.columns.value(c) for c in columns[:2])
    key = row_key(enrollments, ENROLLMENTS)
    queries: list[Sql] = []
    mismatched = _mismatched(ctx, enrollments)
    if mismatched is not None:
        select, params = select_findings(
            code=bound("enrollment-school-mismatch"),
            entity=ENROLLMENTS.name,
            key=key,
            field=columns[0],
            value=school,
            cause=cause(SECTIONS.name, section),
            info=("b.school", []),
        )
        queries.append(
            (
                f"SELECT {select} FROM {enrollments.view} JOIN {mismatched} b "
                f"ON {section} = b.v0 AND {school} = b.v1",
                params,
            )
        )
    queries.append(_repeated(ctx, enrollments, mismatched))
    return find(ctx, queries, file=enrollments.spec_name)


def _unreferenced(
    ctx: CheckContext,
    code: str,
    records: StagedFile,
    entity: spec.Entity,
    referrers: StagedFile,
    columns: list[str],
) -> Sql:
    """Records of ``entity`` (first row per key) that no referrer column names."""
    own_column = reference_column(entity)
    own = records.columns.value(own_column)
    named = " UNION ".join(f"SELECT v0 FROM {ctx.distinct(referrers, c)}" for c in columns)
    bad = f"(SELECT v0 FROM {ctx.distinct(records, own_column)} EXCEPT SELECT v0 FROM ({named}))"
    key = row_key(records, entity)
    select, params = select_findings(
        code=bound(code),
        entity=entity.name,
        key="_key",
        field=None,
        value="_id",
        row="_first",
        cause=cause(entity.name, "_key"),
    )
    return (
        f"SELECT {select} FROM (SELECT {key} AS _key, any_value({own}) AS _id, "
        f"min(_row) AS _first FROM {records.view} WHERE {own} IN (SELECT v0 FROM {bad}) "
        "GROUP BY 1)",
        params,
    )


def check_orphans(ctx: CheckContext) -> list[Finding]:
    """Sections nobody is enrolled in, students in no section, teachers with no section."""
    found: list[Finding] = []
    enrollments = ctx.staged_of(ENROLLMENTS.name)
    sections = ctx.staged_of(SECTIONS.name)
    plan: list[tuple[str, spec.Entity, StagedFile | None, list[spec.Field]]] = [
        ("section-without-students", SECTIONS, enrollments, list(ENROLLMENTS.fields)),
        ("student-without-enrollments", STUDENTS, enrollments, list(ENROLLMENTS.fields)),
        ("teacher-without-sections", TEACHERS, sections, list(SECTIONS.fields)),
    ]
    for code, entity, referrers, fields in plan:
        records = ctx.staged_of(entity.name)
        if records is None or referrers is None or not has(records, reference_column(entity)):
            continue
        columns = [f.name for f in fields if f.references == entity.name and has(referrers, f.name)]
        if not columns:
            continue
        query = _unreferenced(ctx, code, records, entity, referrers, columns)
        found += find(ctx, [query], file=records.spec_name)
    return found


def _people(entity: spec.Entity) -> tuple[str, list[str]] | None:
    """(ID column, name columns) of an entity keyed by a person ID and a school."""
    school = _school_column(entity)
    names = [f.name for f in entity.fields if f.required and f.kind == "name"]
    if school is None or len(entity.key) != 2 or school not in entity.key or not names:
        return None
    return next(k for k in entity.key if k != school), names


def check_shared_ids(ctx: CheckContext) -> list[Finding]:
    """One Staff_id or Teacher_id used by different people (different names)."""
    found: list[Finding] = []
    for staged in ctx.staged.values():
        entity = spec.ENTITIES[spec.FILES[staged.spec_name].entities[0]]
        people = _people(entity)
        if people is None or not has(staged, people[0]):
            continue
        id_column, names = people
        person_id = staged.columns.value(id_column)
        person = " || '|' || ".join(
            f"coalesce(lower(trim({staged.columns.value(n)})), '')" for n in names
        )
        query = conflicting_rows(
            "shared-staff-id",
            entity,
            field=id_column,
            ident=person_id,
            value=person,
            rows=f"{staged.view} WHERE {person_id} IS NOT NULL",
            key=row_key(staged, entity),
        )
        found += find(ctx, [query], file=staged.spec_name)
    return found
