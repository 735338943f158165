"""The API → bundle half of the mapping, set-based in DuckDB over the raw JSON pages.

Pulled pages are read with ``read_json_objects`` into one temporary table of objects (step,
Clever id, JSON); each bundle file is then one ``COPY`` of a SELECT over it. References are
Clever ids joined back to the referenced object's ``sis_id``; enrollments are rebuilt from
``sections.students[]`` and contacts from contact users, one row per student relationship.
Nothing is held in Python objects, so a large district costs DuckDB's memory, not Python's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rosterlab.store import Store
from rosterlab.store.sql import quote_ident, quote_literal
from rosterlab.store.write import copy_csv

NEWLINE = "\n"
EVENTS_STEP = "events"
STEPS: tuple[tuple[str, str | None], ...] = (
    ("districts", None),
    ("schools", None),
    ("terms", None),
    ("courses", None),
    ("sections", None),
    ("users", "student"),
    ("users", "teacher"),
    ("users", "staff"),
    ("users", "contact"),
)
ONLY_31 = ("Frl_status", "IEP_status", "Home_language")  # student fields v3.0 does not serve
RACE_CODES = {
    "Asian": "A",
    "Black or African American": "B",
    "American Indian": "I",
    "Two or More Races": "M",
    "Hawaiian or Other Pacific Islander": "P",
    "Caucasian": "W",
}


def step_name(resource: str, role: str | None) -> str:
    """``users`` with ``role=student`` → ``users-student``; pages are named after the step."""
    return f"{resource}-{role}" if role else resource


def _v(path: str, source: str = "j") -> str:
    """A JSON value as text, '' read as NULL (Clever serves absent enums as '')."""
    return f"nullif(json_extract_string({source}, {quote_literal(path)}), '')"


def _read(store: Store, table: str, pages: Sequence[Path]) -> None:
    """Every item of the pages into ``table`` (step from the file name, id, JSON)."""
    store.execute(f"CREATE OR REPLACE TEMP TABLE {table} (step VARCHAR, id VARCHAR, j JSON)")
    if pages:
        store.execute(
            f"INSERT INTO {table} SELECT "
            "regexp_extract(filename, '([a-z]+(-[a-z_]+)?)-[0-9]+\\.json$', 1) AS step, "
            "j->>'id' AS id, j FROM (SELECT filename, "
            "unnest(from_json(json->'data', '[\"json\"]'))->'data' AS j "
            "FROM read_json_objects(?, filename = true, format = 'auto'))",
            [[str(p) for p in pages]],
        )


def load_pages(store: Store, pages: Sequence[Path]) -> int:
    """Read every page into the temp table ``api_objects`` (step, id, j); return the objects.

    Event pages (step ``events``) are applied to the objects of the others, in event-id order:
    the last event of an object wins; ``deleted`` removes it, ``created``/``updated`` put its
    ``data.object`` in place (a user once per role it has).
    """
    objects = [p for p in pages if not p.name.startswith(EVENTS_STEP + "-")]
    _read(store, "api_objects", objects)
    events = [p for p in pages if p.name.startswith(EVENTS_STEP + "-")]
    if events:
        _read(store, "api_events", events)
        roles = ", ".join(f"'{role}'" for resource, role in STEPS if role)
        store.execute(
            "CREATE OR REPLACE TEMP TABLE api_latest AS SELECT "
            "split_part(j->>'type', '.', 1) AS resource, split_part(j->>'type', '.', 2) AS kind, "
            "j->'data'->'object' AS obj, j->'data'->'object'->>'id' AS oid FROM api_events "
            "QUALIFY row_number() OVER (PARTITION BY oid ORDER BY id DESC) = 1"
        )
        store.execute("DELETE FROM api_objects WHERE id IN (SELECT oid FROM api_latest)")
        store.execute(
            "INSERT INTO api_objects SELECT CASE WHEN resource = 'users' "
            "THEN 'users-' || role ELSE resource END, oid, obj FROM (SELECT *, unnest(CASE WHEN "
            "resource = 'users' THEN list_filter(json_keys(obj->'roles'), lambda r: "
            f"list_contains([{roles}], r) AND json_type(obj->'roles'->r) = 'OBJECT') "
            "ELSE [NULL] END) AS role FROM api_latest "
            "WHERE kind <> 'deleted' AND resource IN "
            f"({', '.join(repr(r) for r in dict.fromkeys(r for r, _ in STEPS))}))"
        )
        store.execute("DROP TABLE api_events")
        store.execute("DROP TABLE api_latest")
    return int(store.rows("SELECT count(*) FROM api_objects")[0][0])


def district_status(store: Store) -> dict[str, Any]:
    """The served district object (state, sis_type, last_sync, pause window) from the pages."""
    found = store.rows("SELECT j FROM api_objects WHERE step = 'districts' LIMIT 1")
    status = json.loads(found[0][0]) if found else {}
    return status if isinstance(status, dict) else {}


def _ext_columns(store: Store, step: str, ext_path: str, alias: str = "j") -> list[tuple[str, str]]:
    """(column name, SQL) of every ``ext`` key the step's objects carry, sorted by key."""
    keys = store.rows(
        f"SELECT DISTINCT unnest(json_keys(j->{quote_literal(ext_path)})) AS k "
        "FROM api_objects WHERE step = ? ORDER BY k",
        [step],
    )
    columns = []
    for (key,) in keys:
        path = '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
        value = f"json_extract_string({alias}->{quote_literal(ext_path)}, {quote_literal(path)})"
        columns.append((f"ext.{key}", f"nullif({value}, '')"))
    return columns


def _write(
    store: Store, folder: Path, name: str, columns: list[tuple[str, str]], from_sql: str
) -> int:
    select = ", ".join(f"{sql} AS {quote_ident(column)}" for column, sql in columns)
    return copy_csv(
        store,
        f"SELECT {select} {from_sql}",
        [],
        folder / name,
        header=[c for c, _ in columns],
        newline=NEWLINE,
    )


def _race(source: str) -> str:
    cases = " ".join(
        f"WHEN {quote_literal(name)} THEN {quote_literal(code)}"
        for name, code in RACE_CODES.items()
    )
    return f"(CASE {_v('$.roles.student.race', source)} {cases} ELSE NULL END)"


def _date(path: str, source: str, parse: str) -> str:
    """A date served as ``parse`` written back as MM/DD/YYYY (else the served text as is)."""
    raw = _v(path, source)
    return f"coalesce(strftime(try_strptime({raw}, '{parse}'), '%m/%d/%Y'), {raw})"


def write_bundle(store: Store, folder: Path, version: str) -> dict[str, int]:
    """Write the bundle files derived from ``api_objects`` into ``folder``; return rows per file."""
    folder.mkdir(parents=True, exist_ok=True)
    store.execute(
        "CREATE OR REPLACE TEMP TABLE api_sis AS "
        "SELECT step, id, coalesce(j->>'sis_id', j->>'$.roles.student.sis_id', "
        "j->>'$.roles.teacher.sis_id', j->>'$.roles.staff.staff_id') AS sis "
        "FROM api_objects WHERE step IN ('schools', 'sections', 'users-student', "
        "'users-teacher', 'users-staff')"
    )
    written = {
        "schools.csv": _schools(store, folder),
        "students.csv": _students(store, folder, version),
        "teachers.csv": _teachers(store, folder),
        "sections.csv": _sections(store, folder),
        "enrollments.csv": _enrollments(store, folder),
    }
    if store.rows("SELECT count(*) FROM api_objects WHERE step = 'users-staff'")[0][0]:
        written["staff.csv"] = _staff(store, folder)
    return written


def _schools(store: Store, folder: Path) -> int:
    columns = [
        ("School_id", _v("$.sis_id")),
        ("School_name", _v("$.name")),
        ("School_number", _v("$.school_number")),
        ("State_id", _v("$.state_id")),
        ("Low_grade", _v("$.low_grade")),
        ("High_grade", _v("$.high_grade")),
        ("Principal", _v("$.principal.name")),
        ("Principal_email", _v("$.principal.email")),
        ("School_address", _v("$.location.address")),
        ("School_city", _v("$.location.city")),
        ("School_state", _v("$.location.state")),
        ("School_zip", _v("$.location.zip")),
        ("School_phone", _v("$.phone")),
        *_ext_columns(store, "schools", "$.ext"),
    ]
    return _write(
        store, folder, "schools.csv", columns, "FROM api_objects WHERE step = 'schools' ORDER BY id"
    )


def _students(store: Store, folder: Path, version: str) -> int:
    s = "s.j"
    student = [
        ("School_id", "sc.sis"),
        ("Student_id", _v("$.roles.student.sis_id", s)),
        ("Student_number", _v("$.roles.student.student_number", s)),
        ("State_id", _v("$.roles.student.state_id", s)),
        ("Last_name", _v("$.name.last", s)),
        ("Middle_name", _v("$.name.middle", s)),
        ("First_name", _v("$.name.first", s)),
        ("Grade", _v("$.roles.student.grade", s)),
        ("Gender", _v("$.roles.student.gender", s)),
        ("DOB", _date("$.roles.student.dob", s, "%m/%d/%Y")),
        ("Graduation_year", _v("$.roles.student.graduation_year", s)),
        ("Race", _race(s)),
        ("Hispanic_Latino", _v("$.roles.student.hispanic_ethnicity", s)),
        ("Home_language", _v("$.roles.student.home_language", s)),
        ("Ell_status", _v("$.roles.student.ell_status", s)),
        ("Frl_status", _v("$.roles.student.frl_status", s)),
        ("IEP_status", _v("$.roles.student.iep_status", s)),
        ("Student_street", _v("$.roles.student.location.address", s)),
        ("Student_city", _v("$.roles.student.location.city", s)),
        ("Student_state", _v("$.roles.student.location.state", s)),
        ("Student_zip", _v("$.roles.student.location.zip", s)),
        ("Student_email", _v("$.email", s)),
        ("Username", _v("$.roles.student.credentials.district_username", s)),
    ]
    if version == "3.0":
        student = [c for c in student if c[0] not in ONLY_31]
    c = "c.j"
    contact = [
        ("Contact_relationship", _v("$.relationship", "c.rel")),
        ("Contact_type", _v("$.type", "c.rel")),
        (
            "Contact_name",
            f"nullif(concat_ws(' ', {_v('$.name.first', c)}, "
            f"{_v('$.name.middle', c)}, {_v('$.name.last', c)}), '')",
        ),
        ("Contact_phone", _v("$.roles.contact.phone", c)),
        ("Contact_phone_type", _v("$.roles.contact.phone_type", c)),
        ("Contact_email", _v("$.email", c)),
        ("Contact_sis_id", _v("$.roles.contact.sis_id", c)),
    ]
    ext = _ext_columns(store, "users-student", "$.roles.student.ext", "s.j")
    from_sql = (
        "FROM (SELECT * FROM api_objects WHERE step = 'users-student') s "
        "LEFT JOIN api_sis sc ON sc.step = 'schools' AND sc.id = s.j->>'$.roles.student.school' "
        "LEFT JOIN (SELECT id, j, rel, rel->>'student' AS student FROM (SELECT id, j, "
        "unnest(from_json(j->'$.roles.contact.student_relationships', '[\"json\"]')) AS rel "
        "FROM api_objects WHERE step = 'users-contact')) c ON c.student = s.id "
        "ORDER BY s.id, c.id"
    )
    return _write(store, folder, "students.csv", student + ext + contact, from_sql)


def _per_school(role: str) -> str:
    """One row per (user, school in ``schools[]``), the school joined back to its sis_id."""
    return (
        f"FROM (SELECT id, j, unnest(from_json(j->'$.roles.{role}.schools', '[\"varchar\"]')) "
        f"AS school, unnest(range(json_array_length(j->'$.roles.{role}.schools')::BIGINT)) AS pos "
        f"FROM api_objects WHERE step = 'users-{role}') t "
        "LEFT JOIN api_sis sc ON sc.step = 'schools' AND sc.id = t.school ORDER BY t.id, t.pos"
    )


def _teachers(store: Store, folder: Path) -> int:
    t = "t.j"
    columns = [
        ("School_id", "sc.sis"),
        ("Teacher_id", _v("$.roles.teacher.sis_id", t)),
        ("Teacher_number", _v("$.roles.teacher.teacher_number", t)),
        ("State_teacher_id", _v("$.roles.teacher.state_id", t)),
        ("Last_name", _v("$.name.last", t)),
        ("Middle_name", _v("$.name.middle", t)),
        ("First_name", _v("$.name.first", t)),
        ("Teacher_email", _v("$.email", t)),
        ("Title", _v("$.roles.teacher.title", t)),
        ("Username", _v("$.roles.teacher.credentials.district_username", t)),
        *_ext_columns(store, "users-teacher", "$.roles.teacher.ext", t),
    ]
    return _write(store, folder, "teachers.csv", columns, _per_school("teacher"))


def _staff(store: Store, folder: Path) -> int:
    t = "t.j"
    columns = [
        ("School_id", "sc.sis"),
        ("Staff_id", _v("$.roles.staff.staff_id", t)),
        ("Staff_email", _v("$.email", t)),
        ("First_name", _v("$.name.first", t)),
        ("Last_name", _v("$.name.last", t)),
        ("Department", _v("$.roles.staff.department", t)),
        ("Title", _v("$.roles.staff.title", t)),
        ("Username", _v("$.roles.staff.credentials.district_username", t)),
        ("Role", _v("$.roles.staff.roles[0]", t)),
        *_ext_columns(store, "users-staff", "$.roles.staff.ext", t),
    ]
    return _write(store, folder, "staff.csv", columns, _per_school("staff"))


def _sections(store: Store, folder: Path) -> int:
    # Co-teachers: teachers[] in order without the primary teacher fill Teacher_2_id.. slots.
    store.execute(
        "CREATE OR REPLACE TEMP TABLE api_coteachers AS SELECT section, "
        "row_number() OVER (PARTITION BY section ORDER BY pos) + 1 AS slot, ut.sis AS sis "
        "FROM (SELECT id AS section, j->>'teacher' AS primary_teacher, "
        "unnest(from_json(j->'teachers', '[\"varchar\"]')) AS teacher, "
        "unnest(range(json_array_length(j->'teachers')::BIGINT)) AS pos "
        "FROM api_objects WHERE step = 'sections') x "
        "LEFT JOIN api_sis ut ON ut.step = 'users-teacher' AND ut.id = x.teacher "
        "WHERE x.teacher IS DISTINCT FROM x.primary_teacher"
    )
    s = "s.j"
    slots = [(f"Teacher_{n}_id", f"ct.t{n}") for n in range(2, 11)]
    pivot = ", ".join(f"max(sis) FILTER (WHERE slot = {n}) AS t{n}" for n in range(2, 11))
    columns = [
        ("School_id", "sc.sis"),
        ("Section_id", _v("$.sis_id", s)),
        ("Teacher_id", "tp.sis"),
        *slots,
        ("Name", _v("$.name", s)),
        ("Section_number", _v("$.section_number", s)),
        ("Grade", _v("$.grade", s)),
        ("Course_name", _v("$.name", "co.j")),
        ("Course_number", _v("$.number", "co.j")),
        ("Period", _v("$.period", s)),
        ("Subject", _v("$.subject", s)),
        ("Term_name", _v("$.name", "te.j")),
        ("Term_start", _date("$.start_date", "te.j", "%Y-%m-%d")),
        ("Term_end", _date("$.end_date", "te.j", "%Y-%m-%d")),
        *_ext_columns(store, "sections", "$.ext", s),
    ]
    from_sql = (
        "FROM (SELECT * FROM api_objects WHERE step = 'sections') s "
        "LEFT JOIN api_sis sc ON sc.step = 'schools' AND sc.id = s.j->>'school' "
        "LEFT JOIN api_sis tp ON tp.step = 'users-teacher' AND tp.id = s.j->>'teacher' "
        f"LEFT JOIN (SELECT section, {pivot} FROM api_coteachers GROUP BY section) ct "
        "ON ct.section = s.id "
        "LEFT JOIN (SELECT * FROM api_objects WHERE step = 'courses') co "
        "ON co.id = s.j->>'course' "
        "LEFT JOIN (SELECT * FROM api_objects WHERE step = 'terms') te "
        "ON te.id = s.j->>'term_id' ORDER BY s.id"
    )
    return _write(store, folder, "sections.csv", columns, from_sql)


def _enrollments(store: Store, folder: Path) -> int:
    columns = [("School_id", "sc.sis"), ("Section_id", "e.section_sis"), ("Student_id", "st.sis")]
    from_sql = (
        "FROM (SELECT id, j->>'school' AS school, j->>'sis_id' AS section_sis, "
        "unnest(from_json(j->'students', '[\"varchar\"]')) AS student, "
        "unnest(range(json_array_length(j->'students')::BIGINT)) AS pos "
        "FROM api_objects WHERE step = 'sections') e "
        "LEFT JOIN api_sis sc ON sc.step = 'schools' AND sc.id = e.school "
        "LEFT JOIN api_sis st ON st.step = 'users-student' AND st.id = e.student "
        "ORDER BY e.id, e.pos"
    )
    return _write(store, folder, "enrollments.csv", columns, from_sql)


def record_clever_ids(store: Store, snapshot_id: int) -> None:
    """Keep each record's Clever id beside its sis_id (table ``api_ids``), for reconcile."""
    store.execute(
        "INSERT INTO api_ids SELECT ?, entity, sis_id, clever_id FROM ("
        "SELECT 'schools' AS entity, sis AS sis_id, id AS clever_id FROM api_sis "
        "WHERE step = 'schools' "
        "UNION ALL SELECT 'sections', sis, id FROM api_sis WHERE step = 'sections' "
        "UNION ALL SELECT 'students', sis, id FROM api_sis WHERE step = 'users-student' "
        "UNION ALL SELECT 'teachers', sis, id FROM api_sis WHERE step = 'users-teacher' "
        "UNION ALL SELECT 'staff', sis, id FROM api_sis WHERE step = 'users-staff') "
        "WHERE sis_id IS NOT NULL",
        [snapshot_id],
    )
