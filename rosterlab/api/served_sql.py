"""The bundle → API mapping as SQL: what Clever serves for one night, built set-based in DuckDB.

Each statement reads one night of the SCD2 history (binds ``$district``, ``$seq``, the night,
and ``$district_id``, the district's Clever id) into temporary tables, so that serving a page is
one keyset query (:mod:`rosterlab.api.served`). The mapping decisions are documented in
``docs/api.md``.
"""

from __future__ import annotations

from rosterlab import spec
from rosterlab.api import schemas
from rosterlab.api.schemas import FRL_NAMES, US_DATE
from rosterlab.store import quote_ident
from rosterlab.store.sql import quote_literal, white_space_blank_sql

RACE_NAMES = {
    "A": "Asian",
    "B": "Black or African American",
    "I": "American Indian",
    "M": "Two or More Races",
    "P": "Hawaiian or Other Pacific Islander",
    "W": "Caucasian",
}


def _list(values: list[str]) -> str:
    return "([" + ", ".join(quote_literal(v) for v in values) + "]::VARCHAR[])"


def _lookup(name: str, mapping: dict[str, str]) -> str:
    keys, values = list(mapping), list(mapping.values())
    return (
        f"CREATE OR REPLACE TEMP MACRO {name}(v) AS "
        f"{_list(values)}[list_position({_list(keys)}, v)]"
    )


def _enum(name: str, allowed: tuple[str, ...]) -> str:
    """An API enum value as Clever spells it (case aside); outside it, not served (NULL)."""
    canonical = {a.lower(): a for a in allowed if a}
    keys, values = list(canonical), list(canonical.values())
    return (
        f"CREATE OR REPLACE TEMP MACRO {name}(v) AS "
        f"{_list(values)}[list_position({_list(keys)}, lower(v))]"
    )


MACROS: tuple[str, ...] = (
    f"CREATE OR REPLACE TEMP MACRO rl_blank(v) AS {white_space_blank_sql('v')}",
    # Stable 24-hex ids in creation order: the first night's epoch seconds, then 16 hex of a hash.
    "CREATE OR REPLACE TEMP MACRO rl_cid(first_seen, district, entity, key) AS "
    "printf('%08x', epoch_us(first_seen) // 1000000) "
    "|| sha256(district || chr(31) || entity || chr(31) || key)[1:16]",
    # M/D/YYYY (leading zeros optional) as a date, anything else NULL.
    f"CREATE OR REPLACE TEMP MACRO rl_us_date(v) AS CASE WHEN regexp_full_match(v, "
    f"{quote_literal(US_DATE)}) THEN try_strptime(v, '%m/%d/%Y') END",
    "CREATE OR REPLACE TEMP MACRO rl_dob(v) AS CASE WHEN year(rl_us_date(v)) >= 1 THEN "
    "month(rl_us_date(v)) || '/' || day(rl_us_date(v)) || '/' || year(rl_us_date(v)) END",
    "CREATE OR REPLACE TEMP MACRO rl_iso_date(v) AS CASE WHEN year(rl_us_date(v)) >= 1 THEN "
    "lpad(year(rl_us_date(v))::VARCHAR, 4, '0') || strftime(rl_us_date(v), '-%m-%d') END",
    # ext.* columns become the ext object; other unknown columns are not served.
    "CREATE OR REPLACE TEMP MACRO rl_ext(extra) AS CASE WHEN extra IS NULL THEN json_object() "
    "ELSE to_json(map_from_entries(list_transform(list_filter(map_entries(extra), "
    f"lambda e: starts_with(e.key, {quote_literal(spec.EXTENSION_PREFIX)}) "
    "AND e.value IS NOT NULL), "
    f"lambda e: {{'key': e.key[{len(spec.EXTENSION_PREFIX) + 1}:], 'value': e.value}}))) END",
    # A contact's one-field name: the last word is the last name (unconfirmed).
    "CREATE OR REPLACE TEMP MACRO rl_name_before(v) AS regexp_extract(v, '(?s)^(.*) [^ ]*$', 1)",
    "CREATE OR REPLACE TEMP MACRO rl_name_after(v) AS regexp_extract(v, '(?s)^.* ([^ ]*)$', 1)",
    "CREATE OR REPLACE TEMP MACRO rl_split_name(v) AS json_object("
    "'first', CASE WHEN NOT contains(v, ' ') THEN v WHEN rl_name_before(v) = '' "
    "THEN rl_name_after(v) ELSE rl_name_before(v) END, 'middle', NULL, "
    "'last', CASE WHEN NOT contains(v, ' ') OR rl_name_before(v) = '' THEN NULL "
    "ELSE rl_name_after(v) END)",
    _lookup("rl_race", RACE_NAMES),
    _lookup("rl_frl", FRL_NAMES),
    _enum("rl_grade", schemas.GRADES),
    _enum("rl_gender", schemas.GENDERS),
    _enum("rl_yes_no", schemas.YES_NO),
    _enum("rl_subject", schemas.SUBJECTS),
    _enum("rl_relationship", schemas.RELATIONSHIPS),
    _enum("rl_relationship_type", schemas.RELATIONSHIP_TYPES),
    _enum("rl_phone_type", schemas.PHONE_TYPES),
)


def _c(name: str) -> str:
    return quote_ident(name)


# A version ``e`` present in night {n} (SCD2: opened at or before it, not closed before it).
_IN_NIGHT = "(e.valid_from <= {n} AND (e.valid_to IS NULL OR e.valid_to >= {n}))"
_TONIGHT = _IN_NIGHT.format(n="$seq")


def _columns(entity: str, alias: str = "") -> str:
    """The entity's spec columns and ``extra``, as a select list."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + _c(c) for c in (*spec.ENTITIES[entity].columns, "extra"))


def obj(*pairs: tuple[str, str]) -> str:
    """``json_object`` of (key, SQL expression) pairs, in order."""
    return "json_object(" + ", ".join(f"{quote_literal(k)}, {v}" for k, v in pairs) + ")"


# Of a contact's rows, what its identity and relationships need: its other columns are read
# once, from its first row (``rid``), into the index (a wide copy of every row cost seconds at 1M).
_CONTACT_KEPT = ("Contact_sis_id", "Student_id", "Contact_relationship", "Contact_type")


def kept(entity: str) -> str:
    """The entity's rows tonight that Clever keeps, as a temporary table (:func:`kept_rows`)."""
    columns = _CONTACT_KEPT if entity == "contacts" else None
    return f"CREATE OR REPLACE TEMP TABLE served_kept_{entity} AS {kept_rows(entity, columns)}"


def kept_rows(entity: str, columns: tuple[str, ...] | None = None, *, ordered: bool = True) -> str:
    """The entity's rows tonight that Clever keeps, with their ``rid`` (rowid), the night each key
    was first seen and (``ordered``) their order (key, row hash): Clever skips a row missing a
    required value, and every row of a duplicated key. Every column, or ``rid``, ``key`` and
    ``columns``."""
    table = quote_ident(spec.ENTITIES[entity].name)
    required = [f.name for f in spec.ENTITIES[entity].fields if f.required and f.confirmed]
    blank = " OR ".join(f"rl_blank(t.{_c(c)})" for c in required) or "false"
    order = ", row_number() OVER (ORDER BY t.key, t.row_hash) AS ord" if ordered else ""
    selected = (
        "t.*"
        if columns is None
        else ", ".join(["t.rid", "t.key", *(f"t.{_c(c)}" for c in columns)])
    )
    return f"""
WITH tonight AS (
    SELECT rowid AS rid, * FROM {table} e WHERE e.district = $district AND {_TONIGHT}
), repeated AS (SELECT key FROM tonight GROUP BY key HAVING count(*) > 1),
first AS (
    SELECT key, min(valid_from) AS first_seq FROM {table} WHERE district = $district GROUP BY key
)
SELECT {selected}, n.taken_at AS first_seen{order}
FROM tonight t JOIN first f ON f.key = t.key
JOIN snapshots n ON n.district = $district AND n.seq = f.first_seq
WHERE t.key NOT IN (SELECT key FROM repeated) AND NOT ({blank})
"""


def _name(first: str, middle: str, last: str) -> str:
    return obj(("first", first), ("middle", middle), ("last", last))


def _location(prefix: str, address: str) -> str:
    return obj(
        ("address", _c(address)),
        ("city", _c(f"{prefix}_city")),
        ("state", _c(f"{prefix}_state")),
        ("zip", _c(f"{prefix}_zip")),
    )


SCHOOLS = f"""
CREATE OR REPLACE TEMP TABLE served_schools AS
SELECT {
    _c("School_id")
} AS sis, rl_cid(first_seen, $district, 'schools', key) AS id, * EXCLUDE (ord), ord
FROM served_kept_schools;
INSERT INTO served_records
SELECT $seq, 'schools', NULL, id, {
    obj(
        ("id", "id"),
        ("district", "$district_id"),
        ("sis_id", _c("School_id")),
        ("name", _c("School_name")),
        ("school_number", f"coalesce({_c('School_number')}, '')"),
        ("state_id", _c("State_id")),
        ("low_grade", f"rl_grade({_c('Low_grade')})"),
        ("high_grade", f"rl_grade({_c('High_grade')})"),
        ("phone", _c("School_phone")),
        ("principal", obj(("name", _c("Principal")), ("email", _c("Principal_email")))),
        ("location", _location("School", "School_address")),
        ("ext", "rl_ext(extra)"),
    )
}::VARCHAR, NULL
FROM served_schools ORDER BY id
"""

_STUDENT = (
    ("sis_id", _c("Student_id")),
    ("student_number", _c("Student_number")),
    ("state_id", _c("State_id")),
    ("school", "school"),
    ("schools", "to_json([school])"),
    ("grade", f"rl_grade({_c('Grade')})"),
    ("gender", f"rl_gender({_c('Gender')})"),
    ("dob", f"rl_dob({_c('DOB')})"),
    ("graduation_year", _c("Graduation_year")),
    (
        "race",
        f"CASE WHEN coalesce({_c('Race')}, '') <> '' "
        f"THEN coalesce(rl_race({_c('Race')}), 'Unknown') END",
    ),
    ("hispanic_ethnicity", f"rl_yes_no({_c('Hispanic_Latino')})"),
    ("ell_status", f"rl_yes_no({_c('Ell_status')})"),
    ("location", _location("Student", "Student_street")),
    ("credentials", obj(("district_username", f"coalesce({_c('Username')}, '')"))),
    ("ext", "rl_ext(extra)"),
)
_STUDENT_31 = (
    ("frl_status", f"rl_frl({_c('Frl_status')})"),
    ("iep_status", _c("IEP_status")),
    ("home_language", _c("Home_language")),
)


def _user(email: str, name: str, roles: str, user_id: str = "id") -> str:
    """A user's body: ``email`` and ``name`` as SQL, ``roles`` a JSON object of its roles."""
    return obj(
        ("id", user_id),
        ("district", "$district_id"),
        ("email", email),
        ("name", name),
        ("roles", roles),
    )


_STUDENT_NAME = _name(_c("First_name"), _c("Middle_name"), _c("Last_name"))
# A student of a school Clever does not serve is skipped. Its body is rendered per page.
STUDENTS = f"""
INSERT INTO served_student_index BY NAME
SELECT $seq AS night, rl_cid(k.first_seen, $district, 'students', k.key) AS id,
    k.{_c("Student_id")} AS sis, s.id AS school, k.rid, {_columns("students", "k")}
FROM ({kept_rows("students", ordered=False)}) k
JOIN served_schools s ON s.sis = k.{_c("School_id")} ORDER BY id;
INSERT INTO served_records
SELECT $seq, 'users', 'student', id, NULL, NULL FROM served_student_index WHERE night = $seq
ORDER BY id
"""


# Which ids a rendering query renders: a page's range, or the candidates of an events night
# (those of its pair with the night before, $seq, and with the night after, $next).
RANGE = "BETWEEN $lo AND $hi"
CANDIDATES = "IN (SELECT id FROM served_candidates WHERE pair IN ($seq, $next))"


def student_bodies(*versions: str, ids: str = RANGE) -> str:
    """The bodies of night ``$seq``'s students whose id is ``ids``: (id, one body per
    version)."""
    bodies = ", ".join(
        _user(
            _c("Student_email"),
            _STUDENT_NAME,
            obj(("student", obj(*_STUDENT, *_STUDENT_31) if version == "3.1" else obj(*_STUDENT))),
        )
        + "::VARCHAR"
        for version in versions
    )
    return f"""
SELECT s.id, {bodies}
FROM served_student_index s
WHERE s.night = $seq AND s.id {ids} ORDER BY s.id
"""


def _first_per(table: str, entity: str, joined: str, lists: str) -> str:
    """One row per identity: the first row's values (in key order), the lists over every row."""
    return f"""
CREATE OR REPLACE TEMP TABLE served_{table} AS
WITH rows AS ({joined}),
lists AS (SELECT identity, min(ord) AS first_ord, {lists} FROM rows GROUP BY identity)
SELECT rl_cid(r.first_seen, $district, '{entity}', r.identity) AS id, r.identity AS sis,
    lists.* EXCLUDE (identity, first_ord), r.* EXCLUDE (identity)
FROM rows r JOIN lists ON lists.first_ord = r.ord
"""


# One teacher per Teacher_id, with every school it teaches at (the first row's values win).
TEACHERS = _first_per(
    "teachers",
    "teachers",
    f"SELECT k.{_c('Teacher_id')} AS identity, s.id AS school, k.* FROM served_kept_teachers k "
    f"JOIN served_schools s ON s.sis = k.{_c('School_id')}",
    "list(school ORDER BY ord) AS schools",
)
# One staff member per Staff_id, with every school it works at (the first row's values win).
STAFF = _first_per(
    "staff",
    "staff",
    f"SELECT k.{_c('Staff_id')} AS identity, s.id AS school, k.* FROM served_kept_staff k "
    f"JOIN served_schools s ON s.sis = k.{_c('School_id')}",
    "list(school ORDER BY ord) AS schools",
)


def _teacher_role(a: str) -> str:
    return obj(
        ("sis_id", f"{a}.{_c('Teacher_id')}"),
        ("teacher_number", f"{a}.{_c('Teacher_number')}"),
        ("state_id", f"{a}.{_c('State_teacher_id')}"),
        ("title", f"{a}.{_c('Title')}"),
        ("school", f"{a}.school"),
        ("schools", f"to_json({a}.schools)"),
        ("credentials", obj(("district_username", f"coalesce({a}.{_c('Username')}, '')"))),
        ("ext", f"rl_ext({a}.extra)"),
    )


def _staff_role(a: str) -> str:
    role = f"{a}.{_c('Role')}"
    return obj(
        ("staff_id", f"{a}.{_c('Staff_id')}"),
        ("department", f"{a}.{_c('Department')}"),
        ("title", f"{a}.{_c('Title')}"),
        (
            "roles",
            f"to_json(CASE WHEN coalesce({role}, '') = '' THEN []::VARCHAR[] ELSE [{role}] END)",
        ),
        ("schools", f"to_json({a}.schools)"),
        ("credentials", obj(("district_username", f"coalesce({a}.{_c('Username')}, '')"))),
        ("ext", f"rl_ext({a}.extra)"),
    )


# Teachers and staff are employees: one teacher and one staff member with the same email are ONE
# user (Clever: "If this same user is listed in the staff.csv file with the same email address,
# they will also have a staff account" on the same user id) with both roles, under the older of
# their two ids; the teacher's name and email are the user's. An email held by two teachers or
# two staff members merges nothing (unconfirmed), nor does a blank one. The merged user is
# listed once (its row's role is teacher); served_roles lists it as staff too.
USERS = f"""
CREATE OR REPLACE TEMP TABLE served_merged AS
WITH people AS (
    SELECT 'teacher' AS role, id, {_c("Teacher_email")} AS email FROM served_teachers
    UNION ALL SELECT 'staff', id, {_c("Staff_email")} FROM served_staff
), merged AS (
    SELECT email, min(id) AS user_id FROM people WHERE NOT rl_blank(email) GROUP BY email
    HAVING count(*) FILTER (WHERE role = 'teacher') = 1
        AND count(*) FILTER (WHERE role = 'staff') = 1
)
SELECT p.role, p.id, m.user_id FROM people p JOIN merged m ON m.email = p.email;
UPDATE served_teachers SET id = m.user_id FROM served_merged m
WHERE m.role = 'teacher' AND m.id = served_teachers.id;
UPDATE served_staff SET id = m.user_id FROM served_merged m
WHERE m.role = 'staff' AND m.id = served_staff.id;
INSERT INTO served_roles SELECT $seq, user_id, 'staff' FROM served_merged WHERE role = 'staff';
INSERT INTO served_records
SELECT $seq, 'users', 'teacher', t.id, {
    _user(
        f"t.{_c('Teacher_email')}",
        _name(f"t.{_c('First_name')}", f"t.{_c('Middle_name')}", f"t.{_c('Last_name')}"),
        f"CASE WHEN s.id IS NULL THEN {obj(('teacher', _teacher_role('t')))} "
        f"ELSE {obj(('teacher', _teacher_role('t')), ('staff', _staff_role('s')))} END",
        "t.id",
    )
}::VARCHAR, NULL
FROM served_teachers t LEFT JOIN served_staff s ON s.id = t.id ORDER BY t.id;
INSERT INTO served_records
SELECT $seq, 'users', 'staff', s.id, {
    _user(
        f"s.{_c('Staff_email')}",
        _name(f"s.{_c('First_name')}", "NULL", f"s.{_c('Last_name')}"),
        obj(("staff", _staff_role("s"))),
        "s.id",
    )
}::VARCHAR, NULL
FROM served_staff s WHERE s.id NOT IN (SELECT id FROM served_teachers) ORDER BY s.id
"""
# A merged user's roles beyond its served_records row's (per night): whom ``?role=`` lists too.
ROLES_TABLE = "CREATE OR REPLACE TEMP TABLE served_roles (night INTEGER, id VARCHAR, role VARCHAR)"
MERGEABLE_ROLES = ("teacher", "staff")

# One contact user per Contact_sis_id (else per student and contact identity); the contact of
# a student Clever does not serve is not served.
_RELATIONSHIP = obj(
    ("student", "student"),
    ("relationship", f"rl_relationship({_c('Contact_relationship')})"),
    ("type", f"rl_relationship_type({_c('Contact_type')})"),
)
CONTACTS = (
    _first_per(
        "contacts",
        "contacts",
        f"SELECT coalesce(nullif(k.{_c('Contact_sis_id')}, ''), k.key) AS identity, "
        f"s.id AS student, k.* FROM served_kept_contacts k "
        f"JOIN served_student_index s ON s.night = $seq AND s.sis = k.{_c('Student_id')}",
        f"list({_RELATIONSHIP} ORDER BY ord) AS relationships",
    )
    + f""";
INSERT INTO served_contact_index BY NAME
SELECT $seq AS night, c.id, c.rid, c.relationships, {_columns("contacts", "r")}
FROM served_contacts c JOIN {quote_ident(spec.ENTITIES["contacts"].name)} r ON r.rowid = c.rid
ORDER BY c.id;
INSERT INTO served_records
SELECT $seq, 'users', 'contact', id, NULL, NULL FROM served_contacts ORDER BY id
"""
)


_CONTACT_ROLE = obj(
    ("sis_id", _c("Contact_sis_id")),
    ("phone", _c("Contact_phone")),
    ("phone_type", f"rl_phone_type({_c('Contact_phone_type')})"),
    ("student_relationships", "to_json(relationships)"),
)


def contact_bodies(ids: str = RANGE) -> str:
    """Contacts' bodies (id, body), rendered from their first row (``rid``) and relationships."""
    return f"""
SELECT c.id, {
        _user(
            _c("Contact_email"),
            f"CASE WHEN {_c('Contact_name')} IS NULL THEN {_name('NULL', 'NULL', 'NULL')} "
            f"ELSE rl_split_name({_c('Contact_name')}) END",
            obj(("contact", _CONTACT_ROLE)),
        )
    }::VARCHAR
FROM served_contact_index c
WHERE c.night = $seq AND c.id {ids} ORDER BY c.id
"""


_SLOTS = ", ".join(_c(s) for s in spec.TEACHER_SLOTS)
_COURSE_KEY = (
    f"coalesce({_c('Course_name')}, 'None') || chr(31) || coalesce({_c('Course_number')}, 'None')"
)
_TERM_KEY = (
    f"coalesce({_c('Term_name')}, 'None') || chr(31) || coalesce({_c('Term_start')}, 'None') "
    f"|| chr(31) || coalesce({_c('Term_end')}, 'None')"
)
# Sections of a school Clever serves; students from enrollments of served students (in key
# order); teachers from the teacher slots that name a served teacher; courses and terms from
# the section columns, their ids from the first section (in key order) naming them.
SECTIONS = f"""
CREATE OR REPLACE TEMP TABLE served_section_rows AS
SELECT k.*, s.id AS school, rl_cid(k.first_seen, $district, 'sections', k.key) AS id,
    CASE WHEN coalesce({_c("Course_name")}, '') <> '' OR coalesce({_c("Course_number")}, '') <> ''
        THEN {_COURSE_KEY} END AS course_key,
    CASE WHEN coalesce({_c("Term_name")}, '') <> '' OR coalesce({_c("Term_start")}, '') <> ''
        OR coalesce({_c("Term_end")}, '') <> '' THEN {_TERM_KEY} END AS term_key
FROM served_kept_sections k JOIN served_schools s ON s.sis = k.{_c("School_id")};
CREATE OR REPLACE TEMP TABLE served_courses AS
SELECT course_key, rl_cid(first_seen, $district, 'courses', course_key) AS id,
    {_c("Course_name")} AS name, {_c("Course_number")} AS number
FROM served_section_rows WHERE course_key IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY course_key ORDER BY ord) = 1;
CREATE OR REPLACE TEMP TABLE served_terms AS
SELECT term_key, rl_cid(first_seen, $district, 'terms', term_key) AS id, {_c("Term_name")} AS name,
    rl_iso_date({_c("Term_start")}) AS start_date, rl_iso_date({_c("Term_end")}) AS end_date
FROM served_section_rows WHERE term_key IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY term_key ORDER BY ord) = 1;
INSERT INTO served_records
SELECT $seq, 'terms', NULL, id, {
    obj(
        ("id", "id"),
        ("district", "$district_id"),
        ("name", "name"),
        ("start_date", "start_date"),
        ("end_date", "end_date"),
    )
}::VARCHAR, NULL FROM served_terms ORDER BY id;
INSERT INTO served_records
SELECT $seq, 'courses', NULL, id, {
    obj(("id", "id"), ("district", "$district_id"), ("name", "name"), ("number", "number"))
}::VARCHAR, NULL FROM served_courses ORDER BY id;
INSERT INTO served_section_index
WITH slots AS (
    SELECT ord, unnest([{_SLOTS}]) AS sis, unnest(range({len(spec.TEACHER_SLOTS)})) AS slot
    FROM served_section_rows
), teachers AS (
    SELECT slots.ord, list(t.id ORDER BY slots.slot) AS teachers
    FROM slots JOIN served_teachers t ON t.sis = slots.sis GROUP BY slots.ord
)
SELECT $seq, r.id, r.{_c("Section_id")}, r.rid, r.school, c.id, tm.id, t0.id,
    coalesce(teachers.teachers, []::VARCHAR[])
FROM served_section_rows r
LEFT JOIN served_courses c ON c.course_key = r.course_key
LEFT JOIN served_terms tm ON tm.term_key = r.term_key
LEFT JOIN served_teachers t0 ON t0.sis = r.{_c("Teacher_id")}
LEFT JOIN teachers ON teachers.ord = r.ord
ORDER BY r.id;
INSERT INTO served_records
SELECT $seq, 'sections', NULL, id, NULL, NULL FROM served_section_index WHERE night = $seq
ORDER BY id
"""
_ENROLLMENTS = quote_ident(spec.ENTITIES["enrollments"].name)
_ENROLLMENT_BLANK = " OR ".join(
    f"rl_blank(e.{_c(f.name)})"
    for f in spec.ENTITIES["enrollments"].fields
    if f.required and f.confirmed
)


def section_bodies(ids: str = RANGE) -> str:
    """Sections' bodies (id, body): the students from tonight's enrollments of these sections
    (a duplicated enrollment key is skipped: the key holds the Section_id, so its rows are among
    these sections'), of served students, in key order."""
    return f"""
WITH page AS (
    SELECT * FROM served_section_index WHERE night = $seq AND id {ids}
), tonight AS (
    SELECT * FROM {_ENROLLMENTS} e
    WHERE e.district = $district AND {_TONIGHT} AND e.{_c("Section_id")} IN (SELECT sis FROM page)
), enrolled AS (
    SELECT e.{_c("Section_id")} AS section, list_transform(
        list_sort(list(struct_pack(k := e.key, h := e.row_hash, id := s.id))), lambda x: x.id
    ) AS students
    FROM tonight e JOIN served_student_index s ON s.night = $seq AND s.sis = e.{_c("Student_id")}
    WHERE NOT ({_ENROLLMENT_BLANK})
        AND e.key NOT IN (SELECT key FROM tonight GROUP BY key HAVING count(*) > 1)
    GROUP BY e.{_c("Section_id")}
)
SELECT p.id, {
        obj(
            ("id", "p.id"),
            ("district", "$district_id"),
            ("school", "p.school"),
            ("sis_id", f"r.{_c('Section_id')}"),
            ("name", f"coalesce(r.{_c('Name')}, '')"),
            ("section_number", f"r.{_c('Section_number')}"),
            ("period", f"r.{_c('Period')}"),
            ("grade", f"rl_grade(r.{_c('Grade')})"),
            ("subject", f"rl_subject(r.{_c('Subject')})"),
            ("course", "p.course"),
            ("term_id", "p.term"),
            ("teacher", "p.teacher"),
            ("teachers", "to_json(p.teachers)"),
            ("students", "to_json(coalesce(enrolled.students, []::VARCHAR[]))"),
            ("ext", "rl_ext(r.extra)"),
        )
    }::VARCHAR
FROM page p JOIN {quote_ident(spec.ENTITIES["sections"].name)} r ON r.rowid = p.rid
LEFT JOIN enrolled ON enrolled.section = p.sis
ORDER BY p.id
"""


# A stored body as served in v3.0 and v3.1: the same in both (``body31`` NULL) but for a
# student created by the ``create`` fault. Students, contacts and sections store none (both
# NULL): theirs are rendered per page (``LAZY_BODIES``).
BODY_30 = "body"
BODY_31 = "coalesce(body31, body)"
RECORDS_TABLE = """
CREATE OR REPLACE TEMP TABLE served_records (
    night INTEGER, resource VARCHAR, role VARCHAR, id VARCHAR, body VARCHAR, body31 VARCHAR
)"""


def _changed_index(table: str, columns: tuple[str, ...]) -> str:
    """The ids of ``table`` (an index) in one of nights ``$old``, ``$new`` but not the other, or
    whose ``columns`` differ."""
    differ = " OR ".join(f"o.{c}::VARCHAR IS DISTINCT FROM n.{c}::VARCHAR" for c in columns)
    return (
        f"SELECT coalesce(o.id, n.id) AS id FROM (SELECT * FROM {table} WHERE night = $old) o "
        f"FULL JOIN (SELECT * FROM {table} WHERE night = $new) n ON o.id = n.id "
        f"WHERE o.id IS NULL OR n.id IS NULL OR {differ}"
    )


_IN_OLD, _IN_NEW = _IN_NIGHT.format(n="$old"), _IN_NIGHT.format(n="$new")
# Per pair of nights (``pair``: the later night), the records whose rendered body may differ.
CANDIDATES_TABLE = "CREATE OR REPLACE TEMP TABLE served_candidates (pair INTEGER, id VARCHAR)"
# The records whose body may differ between nights $old and $new: a rendered body is the same
# when its row (``rid``) and what its index holds are, and a section's students also when none
# of its enrollment rows is in one night only and none of its enrolled students is served in
# one night only.
PAIR_CANDIDATES = f"""
INSERT INTO served_candidates SELECT $new, id FROM (
{_changed_index("served_student_index", ("rid", "school"))}
UNION ALL {_changed_index("served_contact_index", ("rid", "relationships"))}
UNION ALL {
    _changed_index(
        "served_section_index", ("rid", "school", "course", "term", "teacher", "teachers")
    )
}
UNION ALL SELECT s.id FROM served_section_index s WHERE s.night IN ($old, $new) AND s.sis IN (
    SELECT e.{_c("Section_id")} FROM {_ENROLLMENTS} e
    WHERE e.district = $district AND ({_IN_OLD} <> {_IN_NEW} OR ({_IN_OLD} OR {_IN_NEW})
        AND e.{_c("Student_id")} IN (
            SELECT coalesce(o.sis, n.sis)
            FROM (SELECT * FROM served_student_index WHERE night = $old) o
            FULL JOIN (SELECT * FROM served_student_index WHERE night = $new) n ON o.sis = n.sis
            WHERE o.id IS DISTINCT FROM n.id
        ))
))
"""
# The rendered bodies of the event window's nights that may differ from a neighbour's, while
# its events are computed (each night rendered once, for both its pairs).
BODIES_TABLE = (
    "CREATE OR REPLACE TEMP TABLE served_bodies "
    "(night INTEGER, resource VARCHAR, id VARCHAR, body VARCHAR, body31 VARCHAR)"
)
# A night's rendered bodies of its candidates into served_bodies.
NIGHT_BODIES = (
    "INSERT INTO served_bodies SELECT $seq, 'users', * "
    f"FROM ({student_bodies('3.0', '3.1', ids=CANDIDATES)})",
    f"INSERT INTO served_bodies SELECT $seq, 'users', *, NULL FROM ({contact_bodies(CANDIDATES)})",
    "INSERT INTO served_bodies SELECT $seq, 'sections', *, NULL "
    f"FROM ({section_bodies(CANDIDATES)})",
)
# Per night, in id order: a student's and a contact's row (a contact's first) with what its
# body needs beside it; a section's row id with its school, course, term and teachers.
INDEX_TABLES = (
    "CREATE OR REPLACE TEMP TABLE served_student_index AS SELECT 0 AS night, '' AS id, "
    f"'' AS sis, '' AS school, 0::BIGINT AS rid, {_columns('students')} "
    f"FROM {quote_ident(spec.ENTITIES['students'].name)} LIMIT 0",
    "CREATE OR REPLACE TEMP TABLE served_contact_index AS SELECT 0 AS night, '' AS id, "
    f"0::BIGINT AS rid, []::JSON[] AS relationships, {_columns('contacts')} "
    f"FROM {quote_ident(spec.ENTITIES['contacts'].name)} LIMIT 0",
    "CREATE OR REPLACE TEMP TABLE served_section_index (night INTEGER, id VARCHAR, sis VARCHAR, "
    "rid BIGINT, school VARCHAR, course VARCHAR, term VARCHAR, teacher VARCHAR, "
    "teachers VARCHAR[])",
)
EVENTS_TABLE = (
    "CREATE OR REPLACE TEMP TABLE served_events "
    "(version VARCHAR, id VARCHAR, record_type VARCHAR, schools VARCHAR[], body VARCHAR)"
)

SCRATCH = (
    "served_kept_schools",
    "served_kept_contacts",
    "served_kept_teachers",
    "served_kept_sections",
    "served_kept_staff",
    "served_schools",
    "served_teachers",
    "served_staff",
    "served_contacts",
    "served_section_rows",
    "served_courses",
    "served_terms",
    "served_merged",
)

# The schools an object belongs to, for the events' ``school`` filter: a school itself, a
# section's school, a student's, teacher's or staff member's schools (contacts, terms, courses
# and the district belong to none (unconfirmed)).
_SCHOOLS = (
    "CASE WHEN {body} IS NULL THEN []::VARCHAR[] WHEN resource = 'schools' "
    "THEN [json_extract_string({body}, '$.id')] WHEN resource = 'sections' "
    "THEN [json_extract_string({body}, '$.school')] WHEN resource = 'users' "
    "THEN coalesce(json_extract_string({body}, '$.roles.*.schools[*]'), []::VARCHAR[]) "
    "ELSE []::VARCHAR[] END"
)
_RESOURCE_ORDER = _list(["districts", "schools", "terms", "courses", "sections", "users"])


def _served(night: str) -> str:
    """What night ``night`` serves that may differ in pair ``$new``: the stored bodies (not a
    student the ``create`` fault made after the events were due) and the rendered candidates."""
    return (
        f"SELECT resource, id, body, body31 FROM served_records WHERE night = {night} "
        "AND body IS NOT NULL AND role IS DISTINCT FROM 'student' "
        f"UNION ALL SELECT resource, id, body, body31 FROM served_bodies WHERE night = {night} "
        "AND id IN (SELECT id FROM served_candidates WHERE pair = $new)"
    )


# The changes that turn what night $old serves into what night $new serves, at $new's time
# ($stamp), both versions at once: per resource and Clever id, ``created``, ``deleted`` or
# ``updated`` (``r``, from 1, in event order) with its bodies in each version (``before``,
# ``after``; ``before31``, ``after31``) and its number among the changes of each version it
# changes in (``n30``, ``n31``; NULL in a version where it does not change). Event ids: the
# night's epoch seconds, then a counter from the version's $offset30 or $offset31 (0, unless
# the night before has the same second), so they ascend across nights and an event keeps its id
# whatever older nights the window still keeps.
CHANGES = f"""
CREATE OR REPLACE TEMP TABLE served_changes AS
WITH o AS ({_served("$old")}), n AS ({_served("$new")}),
changed AS (
    SELECT coalesce(n.resource, o.resource) AS resource, coalesce(n.id, o.id) AS id,
        o.body AS before, n.body AS after,
        coalesce(o.body31, o.body) AS before31, coalesce(n.body31, n.body) AS after31,
        CASE WHEN o.id IS NULL THEN 'created' WHEN n.id IS NULL THEN 'deleted'
            ELSE 'updated' END AS kind
    FROM o FULL JOIN n ON o.resource = n.resource AND o.id = n.id
    WHERE o.body IS DISTINCT FROM n.body
        OR coalesce(o.body31, o.body) IS DISTINCT FROM coalesce(n.body31, n.body)
), numbered AS (
    SELECT *, before IS DISTINCT FROM after AS in30, before31 IS DISTINCT FROM after31 AS in31,
        row_number() OVER events AS r,
        count(*) FILTER (WHERE before IS DISTINCT FROM after) OVER events AS n30,
        count(*) FILTER (WHERE before31 IS DISTINCT FROM after31) OVER events AS n31
    FROM changed
    WINDOW events AS (ORDER BY list_position({_RESOURCE_ORDER}, resource), id
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT * EXCLUDE (in30, in31, n30, n31),
    CASE WHEN in30 THEN printf('%08x%016x', $stamp::BIGINT, $offset30::BIGINT - 1 + n30) END
        AS event30,
    CASE WHEN in31 THEN printf('%08x%016x', $stamp::BIGINT, $offset31::BIGINT - 1 + n31) END
        AS event31
FROM numbered ORDER BY r
"""


def _event_tail() -> str:
    """An event's JSON after its id: type, time ($created), the object (the last one) and, for
    an update, ``previous_attributes``: the old values of the top-level fields that changed (or
    that only one body has), each body parsed once (``bm``, ``am``: its fields as a map)."""
    return """'","type":"' || resource || '.' || kind || '","created":"' || $created
    || '","data":{"object":' || coalesce(after, before)
    || CASE WHEN kind = 'updated' THEN ',"previous_attributes":' || (
        SELECT coalesce(json_group_object(k, bm[k]), json_object())
        FROM unnest(list_distinct(map_keys(bm) || map_keys(am))) AS u(k)
        WHERE bm[k]::VARCHAR IS DISTINCT FROM am[k]::VARCHAR
            OR list_contains(map_keys(bm), k) <> list_contains(map_keys(am), k)
    )::VARCHAR ELSE '' END || '}}'"""


_FIELDS = """'"MAP(VARCHAR, JSON)"'"""


def _event_parts(before: str, after: str) -> str:
    """A change's event schools and JSON tail (:func:`_event_tail`) from bodies ``before`` and
    ``after`` of its version."""
    return (
        f"{_event_schools('before', 'after')} AS schools, {_event_tail()} AS tail FROM (SELECT "
        f"r, resource, kind, {before} AS before, {after} AS after, "
        f"json_transform({before}, {_FIELDS}) AS bm, json_transform({after}, {_FIELDS}) AS am "
        "FROM batch"
    )


def _event_schools(before: str, after: str) -> str:
    return (
        f"list_distinct(list_concat({_SCHOOLS.format(body=before)}, {_SCHOOLS.format(body=after)}))"
    )


# The events of changes $first to $last (a batch: an update's previous_attributes are worked out
# per field), both versions: ``created`` and ``deleted`` with the object, ``updated`` with the
# new object and ``previous_attributes``. A record whose bodies are the same in both versions
# (all but students) has its event worked out once, for both.
EVENTS = f"""
INSERT INTO served_events
WITH batch AS (
    SELECT *, before IS NOT DISTINCT FROM before31 AND after IS NOT DISTINCT FROM after31 AS same
    FROM served_changes WHERE r BETWEEN $first AND $last
), worked AS MATERIALIZED (
    SELECT r, false AS v31, {_event_parts("before", "after")}
        WHERE event30 IS NOT NULL OR same)
    UNION ALL
    SELECT r, true, {_event_parts("before31", "after31")} WHERE NOT same)
)
SELECT '3.0', b.event30, b.resource, w.schools, '{{"id":"' || b.event30 || w.tail
FROM batch b JOIN worked w ON w.r = b.r AND NOT w.v31 WHERE b.event30 IS NOT NULL
UNION ALL
SELECT '3.1', b.event31, b.resource, w.schools, '{{"id":"' || b.event31 || w.tail
FROM batch b JOIN worked w ON w.r = b.r AND w.v31 = NOT b.same WHERE b.event31 IS NOT NULL
"""
