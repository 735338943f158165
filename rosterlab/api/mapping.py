"""The API → bundle half of the mapping, set-based in DuckDB over the raw JSON pages.

Pulled pages are read with ``read_json_objects`` into one temporary table of objects (step,
Clever id, JSON); each bundle file is then one SELECT over it into the file's parse table
(``parsed_table``, positional TEXT columns in file order) and one ``COPY`` of that table, so the
ingest stages the file from the table instead of parsing it back (``ingest_bundle(written=…)``).
References are Clever ids joined back to the referenced object's ``sis_id``; enrollments are
rebuilt from ``sections.students[]`` and contacts from contact users, one row per student
relationship.
Nothing is held in Python objects, so a large district costs DuckDB's memory, not Python's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rosterlab.api import schemas
from rosterlab.api.schemas import ONLY_31
from rosterlab.store import Store
from rosterlab.store.sql import quote_literal
from rosterlab.store.staging import clear_staging, parsed_table, positional
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


# The values each step's files read, extracted once per object as it is loaded (``v``): a full
# pull loads pages on a worker while the next pages are fetched, so this parse overlaps the
# fetching instead of following it. A path not listed here is still read (from ``j``).
LOADED: dict[str, tuple[str, ...]] = {
    "schools": (
        "$.sis_id", "$.name", "$.school_number", "$.state_id", "$.low_grade", "$.high_grade",
        "$.principal.name", "$.principal.email", "$.location.address", "$.location.city",
        "$.location.state", "$.location.zip", "$.phone",
    ),
    "users-student": (
        "$.roles.student.sis_id", "$.roles.student.student_number", "$.roles.student.state_id",
        "$.name.last", "$.name.middle", "$.name.first", "$.roles.student.grade",
        "$.roles.student.gender", "$.roles.student.dob", "$.roles.student.graduation_year",
        "$.roles.student.race", "$.roles.student.hispanic_ethnicity",
        "$.roles.student.home_language", "$.roles.student.ell_status",
        "$.roles.student.frl_status", "$.roles.student.iep_status",
        "$.roles.student.location.address", "$.roles.student.location.city",
        "$.roles.student.location.state", "$.roles.student.location.zip", "$.email",
        "$.roles.student.credentials.district_username", "$.roles.student.school",
    ),
    "users-contact": (
        "$.name.first", "$.name.middle", "$.name.last", "$.roles.contact.phone",
        "$.roles.contact.phone_type", "$.email", "$.roles.contact.sis_id",
    ),
    "users-teacher": (
        "$.roles.teacher.sis_id", "$.roles.teacher.teacher_number", "$.roles.teacher.state_id",
        "$.name.last", "$.name.middle", "$.name.first", "$.email", "$.roles.teacher.title",
        "$.roles.teacher.credentials.district_username",
    ),
    "users-staff": (
        "$.roles.staff.staff_id", "$.email", "$.name.first", "$.name.last",
        "$.roles.staff.department", "$.roles.staff.title",
        "$.roles.staff.credentials.district_username", "$.roles.staff.roles[0]",
    ),
    "sections": (
        "$.sis_id", "$.teacher", "$.name", "$.section_number", "$.grade", "$.course", "$.period",
        "$.subject", "$.term_id", "$.school",
    ),
    "courses": ("$.name", "$.number"),
    "terms": ("$.name", "$.start_date", "$.end_date"),
}  # fmt: skip
SIS_PATHS = {
    "schools": "$.sis_id",
    "sections": "$.sis_id",
    "users-student": "$.roles.student.sis_id",
    "users-teacher": "$.roles.teacher.sis_id",
    "users-staff": "$.roles.staff.staff_id",
}
_SIS_STEPS = ", ".join(map(quote_literal, SIS_PATHS))


def _loaded(step: str, path: str) -> str:
    """SQL of a value loaded with the object (``v``) — for an object of ``step``."""
    return f"v[{LOADED[step].index(path) + 1}]"


def _loading(step: str, j: str) -> str:
    """SQL of ``v`` for an object ``j`` of step ``step`` (NULL for a step that reads nothing)."""
    cases = " ".join(
        f"WHEN {quote_literal(name)} THEN json_extract_string({j}, "
        f"[{', '.join(quote_literal(p) for p in paths)}])"
        for name, paths in LOADED.items()
    )
    return f"CASE {step} {cases} END"


def _read(store: Store, table: str, pages: Sequence[Path]) -> None:
    """Every item of the pages into a new ``table`` (step from the file name, id, JSON, and
    the values its files read)."""
    store.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} (step VARCHAR, id VARCHAR, j JSON, v VARCHAR[])"
    )
    _add(store, table, pages)


# A page is one JSON object: 10,000 sections listing their students run to tens of MB at
# district scale (DuckDB's default limit is 16 MB). DuckDB reserves buffers of the limit's size,
# so the limit is the largest page read (a fixed 1 GiB did not fit a 1 GB memory limit).
DEFAULT_OBJECT_BYTES = 16 << 20
# The pages one statement reads, at most this many bytes together (a larger page alone): a
# statement over every page waiting (the loader's queue, a pull's kept pages) holds several
# times their bytes at once and ran out of the pull's memory limit now and then; in batches the
# memory follows the largest page, not the queue.
BATCH_BYTES = 8 << 20


def _object_limit(pages: Sequence[Path]) -> int:
    return max(DEFAULT_OBJECT_BYTES, *(p.stat().st_size + 1 for p in pages))


def _batches(pages: Sequence[Path]) -> list[list[Path]]:
    """The pages in order, in batches of at most :data:`BATCH_BYTES` together (a larger page
    alone)."""
    batches: list[list[Path]] = []
    size = 0
    for page in pages:
        page_bytes = page.stat().st_size
        if not batches or size + page_bytes > BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(page)
        size += page_bytes
    return batches


def _add(store: Store, table: str, pages: Sequence[Path], district: str | None = None) -> None:
    # One JSONPath pass per page (a third less work than from_json of the list then ->'data'
    # of each item); the client checked that every item has a data object with an id.
    column, params = ("?, ", [district]) if district is not None else ("", [])
    for batch in _batches(pages):
        store.execute(
            f"INSERT INTO {table} SELECT {column}step, id, j, {_loading('step', 'j')} FROM "
            "(SELECT regexp_extract(filename, '([a-z]+(-[a-z_]+)?)-[0-9]+\\.json$', 1) AS step, "
            "j->>'id' AS id, j FROM (SELECT filename, "
            "unnest(json_extract(json, '$.data[*].data')) AS j "
            "FROM read_json_objects(?, filename = true, format = 'auto', "
            f"maximum_object_size = {_object_limit(batch)})))",
            [*params, [str(p) for p in batch]],
        )


def start_objects(store: Store, served: str | None = None) -> None:
    """An empty ``api_objects`` for :func:`add_pages` (a full pull loads pages as they come):
    a temp table, or with ``served`` a view of the rows of ``api_served`` whose district is
    ``served`` (a full pull's pending served state: its objects are then written once)."""
    if served is None:
        _read(store, "api_objects", [])
    else:
        serve_kept(store, served)


def add_pages(store: Store, pages: Sequence[Path], served: str | None = None) -> None:
    """Append the objects of resource pages (never event pages) to ``api_objects`` (with
    ``served``: to the rows of ``api_served`` of that district, :func:`start_objects`)."""
    if served is None:
        _add(store, "api_objects", pages)
    else:
        _add(store, "api_served", pages, served)


def count_objects(store: Store) -> int:
    return int(store.rows("SELECT count(*) FROM api_objects")[0][0])


class _Extract:
    """The JSON values a file reads from one object alias of one step, read in ONE parse.

    Calling it with a path returns the SQL of that value ('' as NULL); :meth:`over` wraps the
    step's objects with the list of every path asked for: the values loaded with the object
    (``v``, :data:`LOADED`), then any other path read from ``j`` (``json_extract_string`` with
    a list parses each object once, several times faster than one call per column).
    """

    def __init__(self, alias: str, step: str, objects: str = "api_objects") -> None:
        self.alias = alias
        self.step = step
        self.objects = objects
        self.paths: list[str] = list(LOADED[step])

    def __call__(self, path: str) -> str:
        if path not in self.paths:
            self.paths.append(path)
        return f"nullif({self.alias}.{self.alias}_v[{self.paths.index(path) + 1}], '')"

    def values(self) -> str:
        """SQL of the list of every value asked for, of an ``api_objects`` row."""
        more = self.paths[len(LOADED[self.step]) :]
        if not more:
            return "v"
        return f"list_concat(v, json_extract_string(j, [{', '.join(map(quote_literal, more))}]))"

    def over(self) -> str:
        """The step's objects with the values column, aliased (for a FROM clause)."""
        return (
            f"(SELECT *, {self.values()} AS {self.alias}_v FROM {self.objects} "
            f"WHERE step = {quote_literal(self.step)}) {self.alias}"
        )


def load_pages(store: Store, pages: Sequence[Path]) -> int:
    """Read every page into the temp table ``api_objects`` (step, id, j, v); return the objects.

    Event pages (step ``events``) are applied to the objects of the others
    (:func:`apply_events`).
    """
    objects = [p for p in pages if not is_event_page(p)]
    _read(store, "api_objects", objects)
    apply_events(store, [p for p in pages if is_event_page(p)])
    return count_objects(store)


def is_event_page(page: Path) -> bool:
    return page.name.startswith(EVENTS_STEP + "-")


def apply_events(
    store: Store, pages: Sequence[Path], table: str = "api_objects", district: str | None = None
) -> int:
    """Apply event pages to the objects in ``table``, in event-id order; return the objects
    the events touched (:func:`read_events` then :func:`apply_latest`)."""
    if not pages:
        return 0
    read_events(store, pages)
    return apply_latest(store, table, district)


def read_events(store: Store, pages: Sequence[Path]) -> None:
    """The last event of each object the event pages name, in the temp table ``api_latest``
    (resource, kind, the object, its id). Each event is parsed once: its type and ids in one
    JSONPath list, its object in one extraction.

    A page is read whole (one JSON object, tens of MB when sections list their students), so
    the pages are read one statement each: reading them in one statement held several at once
    and ran out of a 1 GB memory limit at 1M students (six 76 MB pages). The newest event per
    object is then found on the ids alone (a narrow aggregate), not by sorting the objects.
    """
    store.execute(
        "CREATE OR REPLACE TEMP TABLE api_events "
        "(resource VARCHAR, kind VARCHAR, obj JSON, oid VARCHAR, eid VARCHAR)"
    )
    for page in pages:
        store.execute(
            "INSERT INTO api_events SELECT split_part(x[1], '.', 1), split_part(x[1], '.', 2), "
            "obj, x[2], x[3] FROM (SELECT "
            "json_extract_string(j, ['$.type', '$.data.object.id', '$.id']) AS x, "
            "json_extract(j, '$.data.object') AS obj FROM (SELECT "
            "unnest(json_extract(json, '$.data[*].data')) AS j FROM read_json_objects(?, "
            f"format = 'auto', maximum_object_size = {_object_limit([page])})))",
            [str(page)],
        )
    store.execute(
        "CREATE OR REPLACE TEMP TABLE api_latest AS SELECT resource, kind, obj, oid "
        "FROM api_events WHERE eid IN (SELECT max(eid) FROM api_events GROUP BY oid)"
    )
    store.execute("DROP TABLE api_events")


def apply_latest(
    store: Store, table: str = "api_objects", district: str | None = None, owned: bool = False
) -> int:
    """Put the objects of ``api_latest`` in place in ``table``; return how many it names.

    The last event of an object wins: ``deleted`` removes it, ``created``/``updated`` put its
    ``data.object`` in place (a user once per role it has). A ``district`` names the rows of
    ``table`` (``api_served``: district, step, id, j, v) the events apply to. With ``owned``
    the owners' objects and the sis_ids :func:`mark_owners` read before the events
    (``api_owned``, ``api_sis``) are brought to the state after them too, from the events
    alone: every object the events name is an owner, every other owner is unchanged.
    """
    _put_latest(store, table, district)
    if owned:
        _put_latest(store, "api_owned", None)
        store.execute("DELETE FROM api_sis WHERE id IN (SELECT oid FROM api_latest)")
        store.execute(
            f"INSERT INTO api_sis SELECT step, id, {_sis_case()} FROM api_owned "
            f"WHERE id IN (SELECT oid FROM api_latest) AND step IN ({_SIS_STEPS})"
        )
    touched = int(store.rows("SELECT count(*) FROM api_latest")[0][0])
    store.execute("DROP TABLE api_latest")
    return touched


def _put_latest(store: Store, table: str, district: str | None) -> None:
    """``api_latest``'s objects in place in ``table`` (see :func:`apply_latest`)."""
    roles = ", ".join(f"'{role}'" for resource, role in STEPS if role)
    where, params, column = "", [], ""
    if district is not None:
        where, params, column = " AND district = ?", [district], "?, "
    store.execute(f"DELETE FROM {table} WHERE id IN (SELECT oid FROM api_latest){where}", params)
    store.execute(
        f"INSERT INTO {table} SELECT {column}step, id, j, {_loading('step', 'j')} FROM (SELECT "
        "CASE WHEN resource = 'users' THEN 'users-' || role ELSE resource END AS step, "
        "oid AS id, obj AS j FROM (SELECT *, unnest(CASE WHEN "
        "resource = 'users' THEN list_filter(json_keys(obj->'roles'), lambda r: "
        f"list_contains([{roles}], r) AND json_type(obj->'roles'->r) = 'OBJECT') "
        "ELSE [NULL] END) AS role FROM api_latest "
        "WHERE kind <> 'deleted' AND resource IN "
        f"({', '.join(repr(r) for r in dict.fromkeys(r for r, _ in STEPS))})))",
        params,
    )


# The objects that own bundle rows: a school, a student (its contact rows too), a teacher or
# staff member (a row per school), a section (its sections.csv row; its enrollment rows are
# owned pair by pair, :func:`mark_owners`).
OWNER_STEPS = ("schools", "users-student", "users-teacher", "users-staff", "sections")
# Steps other rows name by sis_id only: a student's, teacher's or staff member's School_id, a
# section's School_id and teacher slots, an enrollment's three ids. An edit keeping the sis_id
# changes none of those rows.
NAMED_BY_SIS = {
    "schools": ("schools", None),
    "sections": ("sections", None),
    "users-teacher": ("users", "teacher"),
    "users-student": ("users", "student"),
}


def _sis_case(j: str = "v") -> str:
    """SQL of an object's sis_id by its ``step`` (of ``v``: loaded values; else of JSON ``j``)."""
    cases = " ".join(
        f"WHEN {quote_literal(step)} THEN "
        + (_loaded(step, path) if j == "v" else f"json_extract_string({j}, {quote_literal(path)})")
        for step, path in SIS_PATHS.items()
    )
    return f"CASE step {cases} END"


def _sis_changed(store: Store) -> None:
    """``api_resis`` (step, id): the records of :data:`NAMED_BY_SIS` whose sis_id the events
    change (created and deleted ones included: NULL on one side)."""
    steps = ", ".join(map(quote_literal, NAMED_BY_SIS))
    after = " UNION ALL ".join(
        f"SELECT {quote_literal(step)} AS step, oid AS id, obj FROM api_latest "
        f"WHERE kind <> 'deleted' AND resource = {quote_literal(resource)}"
        + (f" AND json_type(obj->'roles'->{quote_literal(role)}) = 'OBJECT'" if role else "")
        for step, (resource, role) in NAMED_BY_SIS.items()
    )
    store.execute(
        "CREATE OR REPLACE TEMP TABLE api_resis AS SELECT coalesce(b.step, a.step) AS step, "
        "coalesce(b.id, a.id) AS id FROM "
        f"(SELECT step, id, {_sis_case()} AS sis FROM api_objects WHERE step IN ({steps}) "
        "AND id IN (SELECT oid FROM api_latest)) b FULL JOIN "
        f"(SELECT step, id, {_sis_case('obj')} AS sis FROM ({after})) a "
        "ON a.step = b.step AND a.id = b.id WHERE b.sis IS DISTINCT FROM a.sis"
    )


def _resis(step: str) -> str:
    return f"(SELECT id FROM api_resis WHERE step = {quote_literal(step)})"


# The objects the events leave alone: a scan for who names a changed record reads their lists
# only (a changed object is an owner already, and its lists before and after are in the events'
# reach: ``api_lists``), so its cost follows the objects left alone at the most — at 1 % churn
# most sections change, and their students[] are not parsed twice.
UNCHANGED = "id NOT IN (SELECT oid FROM api_latest)"


def _listing(step: str, path: str, refs: str) -> str:
    """SQL of the (id, ref) pairs of the step's objects the events leave alone whose list at
    ``path`` holds a ref."""
    return (
        f"SELECT id, ref FROM (SELECT id, unnest(from_json(j->{quote_literal(path)}, "
        f"'[\"varchar\"]')) AS ref FROM api_objects WHERE step = {quote_literal(step)} "
        f"AND {UNCHANGED}) WHERE ref IN {refs}"
    )


def mark_owners(store: Store) -> int:
    """The owners whose rows the events in ``api_latest`` may change, into the temp table
    ``api_owners`` (id); return how many. Read before the events are applied (``api_objects``).

    Closed over references, as far as the rows read them: the changed objects; students of a
    school whose sis_id changed, or related to a changed contact (before or after the change);
    teachers and staff of a school whose sis_id changed; sections naming a school or teacher
    (primary or co-teacher) whose sis_id changed, or a changed course or term. An object the
    events leave alone references the same objects before and after, so its references are
    read once. Also made: ``api_enrolled`` (section, student), the enrollment rows that may
    change — every entry of a section whose own sis_id or school changed, the students
    entering or leaving a changed section, and every entry naming a student whose sis_id
    changed —, and ``api_related`` (id), the contacts the owners' student rows read.
    """
    changed = "(SELECT oid FROM api_latest)"
    _sis_changed(store)

    def related(objects: str, j: str) -> str:
        return (
            f"SELECT unnest(json_extract_string({j}, "
            "'$.roles.contact.student_relationships[*].student')) "
            f"FROM {objects}"
        )

    school = _loaded("users-student", "$.roles.student.school")
    references = " OR ".join(
        f"{_loaded('sections', path)} IN {refs}"
        for path, refs in (
            ("$.school", _resis("schools")),
            ("$.teacher", _resis("users-teacher")),
            ("$.course", changed),
            ("$.term_id", changed),
        )
    )
    found = store.written(
        "CREATE OR REPLACE TEMP TABLE api_owners AS "
        "SELECT oid AS id FROM api_latest "
        "UNION "
        + related(f"api_objects WHERE step = 'users-contact' AND id IN {changed}", "j")
        + " UNION "
        + related("api_latest WHERE resource = 'users'", "obj")
        + f" UNION SELECT id FROM api_objects WHERE step = 'users-student' AND {school} IN "
        f"{_resis('schools')} UNION SELECT id FROM ("
        + _listing("users-teacher", "$.roles.teacher.schools", _resis("schools"))
        + ") UNION SELECT id FROM ("
        + _listing("users-staff", "$.roles.staff.schools", _resis("schools"))
        + f") UNION SELECT id FROM api_objects WHERE step = 'sections' AND ({references}) "
        "UNION SELECT id FROM (" + _listing("sections", "$.teachers", _resis("users-teacher")) + ")"
    )
    # The owners' objects, read once (every file maps from them; a view read every object's
    # JSON again per file) and brought after the events by apply_latest(owned=True); likewise
    # every object's sis_id, which the owners' rows and the whole mapping after read.
    owner_steps = ", ".join(map(quote_literal, OWNER_STEPS))
    store.execute(
        "CREATE OR REPLACE TEMP TABLE api_owned AS SELECT * FROM api_objects "
        f"WHERE step IN ({owner_steps}) AND id IN (SELECT id FROM api_owners)"
    )
    _make_sis(store)
    _mark_enrolled(store)
    store.execute(
        "CREATE OR REPLACE TEMP TABLE api_related AS SELECT id FROM (SELECT id, "
        "unnest(json_extract_string(j, '$.roles.contact.student_relationships[*].student')) "
        "AS student FROM api_objects WHERE step = 'users-contact') "
        "WHERE student IN (SELECT id FROM api_owners) UNION SELECT oid FROM api_latest"
    )
    return found


def _mark_enrolled(store: Store) -> None:
    """``api_enrolled`` (section, student): see :func:`mark_owners`. A section the events name
    is read in its lists before and after (``api_lists``: what enters or leaves, every entry
    when it is re-keyed, moved or re-schooled, every entry after naming a re-keyed student —
    one naming it before and not after leaves); only the sections left alone are scanned for
    entries naming a re-keyed student or of a re-keyed school."""
    school = _loaded("sections", "$.school")
    store.execute(
        "CREATE OR REPLACE TEMP TABLE api_lists AS SELECT coalesce(b.id, a.id) AS id, "
        "coalesce(b.students, []) AS before, coalesce(a.students, []) AS after, "
        f"b.id IS NULL OR a.id IS NULL OR b.id IN {_resis('sections')} "
        f"OR b.school IS DISTINCT FROM a.school OR b.school IN {_resis('schools')} "
        f"OR a.school IN {_resis('schools')} AS whole FROM "
        f"(SELECT id, {school} AS school, from_json(j->'students', '[\"varchar\"]') AS students "
        "FROM api_objects WHERE step = 'sections' AND id IN (SELECT oid FROM api_latest)) b "
        "FULL JOIN (SELECT oid AS id, obj->>'school' AS school, "
        "from_json(obj->'students', '[\"varchar\"]') AS students FROM api_latest "
        "WHERE resource = 'sections' AND kind <> 'deleted') a ON a.id = b.id"
    )
    store.execute(
        "CREATE OR REPLACE TEMP TABLE api_enrolled AS "
        "SELECT id AS section, unnest(list_concat(before, after)) AS student FROM api_lists "
        "WHERE whole UNION "
        "SELECT id, unnest(list_concat("
        "list_filter(before, lambda s: NOT list_contains(after, s)), "
        "list_filter(after, lambda s: NOT list_contains(before, s)))) "
        "FROM api_lists WHERE NOT whole "
        "UNION SELECT id, ref FROM ("
        + _listing("sections", "$.students", _resis("users-student"))
        + ") UNION SELECT id, ref FROM (SELECT id, unnest(after) AS ref FROM api_lists) "
        f"WHERE ref IN {_resis('users-student')} "
        "UNION SELECT id, unnest(from_json(j->'students', '[\"varchar\"]')) FROM api_objects "
        f"WHERE step = 'sections' AND {UNCHANGED} AND {school} IN {_resis('schools')}"
    )
    store.execute("DROP TABLE api_lists")


def drop_owners(store: Store) -> None:
    """Drop ``api_owners`` and the tables :func:`mark_owners` and :func:`map_owners` made."""
    for table in ("api_owners", "api_owned", "api_resis", "api_enrolled", "api_related"):
        store.execute(f"DROP TABLE IF EXISTS {table}")
    for tag in OWNER_TAGS:
        for file_name in FILES:
            store.execute(f"DROP TABLE IF EXISTS {owned_table(tag, file_name)}")


OWNER_TAGS = ("before", "after")
FILES = (
    "schools.csv", "students.csv", "teachers.csv", "sections.csv", "enrollments.csv", "staff.csv",
)  # fmt: skip


def owned_table(tag: str, file_name: str) -> str:
    """The temp table of the owners' rows of a file mapped by :func:`map_owners`."""
    return f"api_{tag}_{Path(file_name).stem}"


def map_owners(
    store: Store, version: str, tag: str, ext: dict[str, list[str] | None] | None = None
) -> dict[str, tuple[str, ...]]:
    """Map only the owners' rows (:func:`mark_owners`: the owners' objects in ``api_owned``, the
    enrollment entries in ``api_enrolled``, the contacts in ``api_related``; references are
    read from every object's sis_id in ``api_sis`` — both brought after the events by
    :func:`apply_latest` with ``owned``) into one table per file (:func:`owned_table`:
    ``_row``, then ``c0..cN`` as staging holds them); return each file's header. ``ext`` gives
    a step's ``ext`` keys when known (:func:`ext_after`), else they are read from every object.
    """
    out = _Out(
        tag=tag,
        objects="api_owned",
        enrolled="api_enrolled",
        related="api_related",
        ext=ext,
        sis_kept=True,
    )
    _map(store, version, out)
    return out.headers


def ext_after(
    base: dict[str, list[str]],
    owned_before: dict[str, list[str]],
    owned_after: dict[str, list[str]],
) -> dict[str, list[str] | None]:
    """The ``ext`` keys of every object after the events, per step, from the base's (every
    object's before) and the owners' before and after: the base's plus the owners' after when
    every key the owners carried before they still carry (no key can then vanish: an object
    the events leave alone keeps its keys); else None (read them from every object)."""
    return {
        step: sorted({*base[step], *owned_after[step]})
        if set(owned_before[step]) <= set(owned_after[step])
        else None
        for step in EXT_PATHS
    }


def serve_kept(store: Store, district: str) -> None:
    """``api_objects`` as a view of the district's kept served state (``api_served``)."""
    store.execute(
        "CREATE OR REPLACE TEMP VIEW api_objects AS SELECT step, id, j, v FROM api_served "
        f"WHERE district = {quote_literal(district)}"
    )


def district_status(store: Store) -> dict[str, Any]:
    """The served district object (state, sis_type, last_sync, pause window) from the pages."""
    found = store.rows("SELECT j FROM api_objects WHERE step = 'districts' LIMIT 1")
    status = json.loads(found[0][0]) if found else {}
    return status if isinstance(status, dict) else {}


# Each owner step's ``ext`` object, whose keys become ``ext.*`` columns of the step's file.
EXT_PATHS = {
    "schools": "$.ext",
    "users-student": "$.roles.student.ext",
    "users-teacher": "$.roles.teacher.ext",
    "users-staff": "$.roles.staff.ext",
    "sections": "$.ext",
}
EXT_FILES = {
    "schools": "schools.csv",
    "users-student": "students.csv",
    "users-teacher": "teachers.csv",
    "users-staff": "staff.csv",
    "sections": "sections.csv",
}


def ext_keys(store: Store, objects: str = "api_objects") -> dict[str, list[str]]:
    """Every ``ext`` key the objects carry, per step, sorted (a JSON pass over them)."""
    return {step: _ext_keys(store, step, objects) for step in EXT_PATHS}


def _ext_keys(store: Store, step: str, objects: str = "api_objects") -> list[str]:
    found = store.rows(
        f"SELECT DISTINCT unnest(json_keys(j->{quote_literal(EXT_PATHS[step])})) AS k "
        f"FROM {objects} WHERE step = ? ORDER BY k",
        [step],
    )
    return [key for (key,) in found]


def header_ext_keys(headers: dict[str, Sequence[str]]) -> dict[str, list[str]]:
    """The ``ext`` keys per step that mapped files' headers name (``ext.KEY`` columns)."""
    return {
        step: [c.removeprefix("ext.") for c in headers.get(name, ()) if c.startswith("ext.")]
        for step, name in EXT_FILES.items()
    }


def _ext_columns(store: Store, out: _Out, step: str, x: _Extract) -> list[tuple[str, str]]:
    """(column name, SQL) of every ``ext`` key the step's objects carry, sorted by key (the
    keys ``out`` already knows, else read from every object)."""
    known = out.ext.get(step) if out.ext is not None else None
    keys = _ext_keys(store, step) if known is None else known
    columns = []
    for key in keys:
        quoted = '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
        columns.append((f"ext.{key}", x(f"{EXT_PATHS[step]}.{quoted}")))
    return columns


@dataclass
class _Out:
    """Where mapped files go: CSV files in ``folder`` (each file's rows kept in its parse
    table), or for :func:`map_owners` (``tag``) only a table of the owners' rows per file."""

    folder: Path | None = None
    tag: str | None = None
    objects: str = "api_objects"  # the owner objects the files' rows come from
    enrolled: str | None = None  # only these (section, student) enrollment entries
    related: str | None = None  # only these contacts (ids) on the students' rows
    ext: dict[str, list[str] | None] | None = None  # per step, the ext keys if known
    sis_kept: bool = False  # ``api_sis`` holds the sis_ids of ``api_objects`` already
    headers: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _write_owned(store: Store, table: str, columns: list[tuple[str, str]], from_sql: str) -> int:
    """The rows as staging holds them (an empty value is NULL), numbered from 1 in ``_row``."""
    values = ", ".join(
        f"nullif({sql}, '') AS {positional(i)}" for i, (_, sql) in enumerate(columns)
    )
    return store.written(
        f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT row_number() OVER () AS _row, {values} "
        f"{from_sql}"
    )


def _write(
    store: Store, out: _Out, name: str, columns: list[tuple[str, str]], from_sql: str
) -> int:
    if out.tag is not None:
        out.headers[name] = tuple(column for column, _ in columns)
        return _write_owned(store, owned_table(out.tag, name), columns, from_sql)
    assert out.folder is not None
    folder = out.folder
    select = ", ".join(f"{sql} AS {positional(i)}" for i, (_, sql) in enumerate(columns))
    table = parsed_table(name)
    store.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {select} {from_sql}")
    return copy_csv(
        store,
        f"SELECT * FROM {table}",
        [],
        folder / name,
        header=[c for c, _ in columns],
        newline=NEWLINE,
    )


def _race(x: _Extract) -> str:
    cases = " ".join(
        f"WHEN {quote_literal(name)} THEN {quote_literal(code)}"
        for name, code in RACE_CODES.items()
    )
    return f"(CASE {x('$.roles.student.race')} {cases} ELSE NULL END)"


def _frl(x: _Extract) -> str:
    """frl read back as the SFTP codes (Free → F, Reduced → R, Paid → N); Other as served."""
    cases = " ".join(
        f"WHEN {quote_literal(name)} THEN {quote_literal(code)}"
        for code, name in schemas.FRL_CODES.items()
    )
    served = x("$.roles.student.frl_status")
    return f"(CASE {served} {cases} ELSE {served} END)"


def _date(raw: str, parse: str) -> str:
    """A date served as ``parse`` written back as MM/DD/YYYY (else the served text as is)."""
    return f"coalesce(strftime(try_strptime({raw}, '{parse}'), '%m/%d/%Y'), {raw})"


def write_bundle(
    store: Store,
    folder: Path,
    version: str,
    ext: dict[str, list[str] | None] | None = None,
    sis_kept: bool = False,
) -> dict[str, int]:
    """Write the bundle files derived from ``api_objects`` into ``folder``; return rows per file.

    Each file's rows stay in its parse table (the staging of whatever was staged before is
    cleared: those tables are replaced). An events pull gives the ``ext`` keys it knows
    (:func:`ext_after`) and ``sis_kept`` when ``api_sis`` is current (:func:`apply_latest`):
    neither is then read from every object again.
    """
    folder.mkdir(parents=True, exist_ok=True)
    clear_staging(store)
    return _map(store, version, _Out(folder=folder, ext=ext, sis_kept=sis_kept))


def _make_sis(store: Store) -> None:
    """``api_sis`` (step, id, sis): every referenced object's sis_id, of ``api_objects``."""
    store.execute(
        f"CREATE OR REPLACE TEMP TABLE api_sis AS SELECT step, id, {_sis_case()} AS sis "
        f"FROM api_objects WHERE step IN ({_SIS_STEPS})"
    )


def _map(store: Store, version: str, out: _Out) -> dict[str, int]:
    if not out.sis_kept:
        _make_sis(store)
    written = {
        "schools.csv": _schools(store, out),
        "students.csv": _students(store, out, version),
        "teachers.csv": _teachers(store, out),
        "sections.csv": _sections(store, out),
        "enrollments.csv": _enrollments(store, out),
    }
    if store.rows("SELECT count(*) FROM api_objects WHERE step = 'users-staff'")[0][0]:
        written["staff.csv"] = _staff(store, out)
    return written


def _schools(store: Store, out: _Out) -> int:
    o = _Extract("o", "schools", out.objects)
    columns = [
        ("School_id", o("$.sis_id")),
        ("School_name", o("$.name")),
        ("School_number", o("$.school_number")),
        ("State_id", o("$.state_id")),
        ("Low_grade", o("$.low_grade")),
        ("High_grade", o("$.high_grade")),
        ("Principal", o("$.principal.name")),
        ("Principal_email", o("$.principal.email")),
        ("School_address", o("$.location.address")),
        ("School_city", o("$.location.city")),
        ("School_state", o("$.location.state")),
        ("School_zip", o("$.location.zip")),
        ("School_phone", o("$.phone")),
        *_ext_columns(store, out, "schools", o),
    ]
    return _write(store, out, "schools.csv", columns, f"FROM {o.over()} ORDER BY o.id")


def _students(store: Store, out: _Out, version: str) -> int:
    s = _Extract("s", "users-student", out.objects)
    student = [
        ("School_id", "sc.sis"),
        ("Student_id", s("$.roles.student.sis_id")),
        ("Student_number", s("$.roles.student.student_number")),
        ("State_id", s("$.roles.student.state_id")),
        ("Last_name", s("$.name.last")),
        ("Middle_name", s("$.name.middle")),
        ("First_name", s("$.name.first")),
        ("Grade", s("$.roles.student.grade")),
        ("Gender", s("$.roles.student.gender")),
        ("DOB", _date(s("$.roles.student.dob"), "%m/%d/%Y")),
        ("Graduation_year", s("$.roles.student.graduation_year")),
        ("Race", _race(s)),
        ("Hispanic_Latino", s("$.roles.student.hispanic_ethnicity")),
        ("Home_language", s("$.roles.student.home_language")),
        ("Ell_status", s("$.roles.student.ell_status")),
        ("Frl_status", _frl(s)),
        ("IEP_status", s("$.roles.student.iep_status")),
        ("Student_street", s("$.roles.student.location.address")),
        ("Student_city", s("$.roles.student.location.city")),
        ("Student_state", s("$.roles.student.location.state")),
        ("Student_zip", s("$.roles.student.location.zip")),
        ("Student_email", s("$.email")),
        ("Username", s("$.roles.student.credentials.district_username")),
    ]
    if version == "3.0":
        student = [c for c in student if c[0] not in ONLY_31]
    c = _Extract("c", "users-contact")
    contact = [
        ("Contact_relationship", _v("$.relationship", "c.rel")),
        ("Contact_type", _v("$.type", "c.rel")),
        (
            "Contact_name",
            f"nullif(concat_ws(' ', {c('$.name.first')}, "
            f"{c('$.name.middle')}, {c('$.name.last')}), '')",
        ),
        ("Contact_phone", c("$.roles.contact.phone")),
        ("Contact_phone_type", c("$.roles.contact.phone_type")),
        ("Contact_email", c("$.email")),
        ("Contact_sis_id", c("$.roles.contact.sis_id")),
    ]
    ext = _ext_columns(store, out, "users-student", s)
    school = s("$.roles.student.school")
    only = f" AND id IN (SELECT id FROM {out.related})" if out.related else ""
    from_sql = (
        f"FROM {s.over()} "
        f"LEFT JOIN api_sis sc ON sc.step = 'schools' AND sc.id = {school} "
        "LEFT JOIN (SELECT id, c_v, rel, pos, rel->>'student' AS student FROM (SELECT id, c_v, "
        "unnest(rels) AS rel, generate_subscripts(rels, 1) AS pos FROM (SELECT id, "
        f"{c.values()} AS c_v, "
        "from_json(j->'$.roles.contact.student_relationships', '[\"json\"]') AS rels "
        f"FROM api_objects WHERE step = 'users-contact'{only}))) c ON c.student = s.id "
        "ORDER BY s.id, c.id, c.pos"
    )
    return _write(store, out, "students.csv", student + ext + contact, from_sql)


def _per_school(role: str, t: _Extract, objects: str) -> str:
    """One row per (user, school in ``schools[]``), the school joined back to its sis_id."""
    return (
        f"FROM (SELECT id, {t.values()} AS t_v, "
        f"unnest(from_json(j->'$.roles.{role}.schools', '[\"varchar\"]')) AS school, "
        f"unnest(range(json_array_length(j->'$.roles.{role}.schools')::BIGINT)) AS pos "
        f"FROM {objects} WHERE step = 'users-{role}') t "
        "LEFT JOIN api_sis sc ON sc.step = 'schools' AND sc.id = t.school ORDER BY t.id, t.pos"
    )


def _teachers(store: Store, out: _Out) -> int:
    t = _Extract("t", "users-teacher", out.objects)
    columns = [
        ("School_id", "sc.sis"),
        ("Teacher_id", t("$.roles.teacher.sis_id")),
        ("Teacher_number", t("$.roles.teacher.teacher_number")),
        ("State_teacher_id", t("$.roles.teacher.state_id")),
        ("Last_name", t("$.name.last")),
        ("Middle_name", t("$.name.middle")),
        ("First_name", t("$.name.first")),
        ("Teacher_email", t("$.email")),
        ("Title", t("$.roles.teacher.title")),
        ("Username", t("$.roles.teacher.credentials.district_username")),
        *_ext_columns(store, out, "users-teacher", t),
    ]
    return _write(store, out, "teachers.csv", columns, _per_school("teacher", t, out.objects))


def _staff(store: Store, out: _Out) -> int:
    t = _Extract("t", "users-staff", out.objects)
    columns = [
        ("School_id", "sc.sis"),
        ("Staff_id", t("$.roles.staff.staff_id")),
        ("Staff_email", t("$.email")),
        ("First_name", t("$.name.first")),
        ("Last_name", t("$.name.last")),
        ("Department", t("$.roles.staff.department")),
        ("Title", t("$.roles.staff.title")),
        ("Username", t("$.roles.staff.credentials.district_username")),
        ("Role", t("$.roles.staff.roles[0]")),
        *_ext_columns(store, out, "users-staff", t),
    ]
    return _write(store, out, "staff.csv", columns, _per_school("staff", t, out.objects))


def _sections(store: Store, out: _Out) -> int:
    # Co-teachers: teachers[] in order without the primary teacher fill Teacher_2_id.. slots.
    store.execute(
        "CREATE OR REPLACE TEMP TABLE api_coteachers AS SELECT section, "
        "row_number() OVER (PARTITION BY section ORDER BY pos) + 1 AS slot, ut.sis AS sis "
        f"FROM (SELECT id AS section, {_loaded('sections', '$.teacher')} AS primary_teacher, "
        "unnest(from_json(j->'teachers', '[\"varchar\"]')) AS teacher, "
        "unnest(range(json_array_length(j->'teachers')::BIGINT)) AS pos "
        f"FROM {out.objects} WHERE step = 'sections') x "
        "LEFT JOIN api_sis ut ON ut.step = 'users-teacher' AND ut.id = x.teacher "
        "WHERE x.teacher IS DISTINCT FROM x.primary_teacher"
    )
    s, co = _Extract("s", "sections", out.objects), _Extract("co", "courses")
    te = _Extract("te", "terms")
    slots = [(f"Teacher_{n}_id", f"ct.t{n}") for n in range(2, 11)]
    pivot = ", ".join(f"max(sis) FILTER (WHERE slot = {n}) AS t{n}" for n in range(2, 11))
    columns = [
        ("School_id", "sc.sis"),
        ("Section_id", s("$.sis_id")),
        ("Teacher_id", "tp.sis"),
        *slots,
        ("Name", s("$.name")),
        ("Section_number", s("$.section_number")),
        ("Grade", s("$.grade")),
        ("Course_name", co("$.name")),
        ("Course_number", co("$.number")),
        ("Period", s("$.period")),
        ("Subject", s("$.subject")),
        ("Term_name", te("$.name")),
        ("Term_start", _date(te("$.start_date"), "%Y-%m-%d")),
        ("Term_end", _date(te("$.end_date"), "%Y-%m-%d")),
        *_ext_columns(store, out, "sections", s),
    ]
    school, teacher = s("$.school"), s("$.teacher")
    course, term = s("$.course"), s("$.term_id")
    from_sql = (
        f"FROM {s.over()} "
        f"LEFT JOIN api_sis sc ON sc.step = 'schools' AND sc.id = {school} "
        f"LEFT JOIN api_sis tp ON tp.step = 'users-teacher' AND tp.id = {teacher} "
        f"LEFT JOIN (SELECT section, {pivot} FROM api_coteachers GROUP BY section) ct "
        "ON ct.section = s.id "
        f"LEFT JOIN {co.over()} ON co.id = {course} "
        f"LEFT JOIN {te.over()} ON te.id = {term} ORDER BY s.id"
    )
    return _write(store, out, "sections.csv", columns, from_sql)


def _enrollments(store: Store, out: _Out) -> int:
    columns = [("School_id", "sc.sis"), ("Section_id", "e.section_sis"), ("Student_id", "st.sis")]
    sections, only = f"{out.objects} WHERE step = 'sections'", ""
    if out.enrolled:  # the entries named, of every section (not only the owners)
        sections = (
            f"api_objects WHERE step = 'sections' AND id IN (SELECT section FROM {out.enrolled})"
        )
        only = (
            f"SEMI JOIN {out.enrolled} p ON p.section = e.id AND p.student IS NOT DISTINCT FROM "
            "e.student "
        )
    # The section's values are read once per section, before its students are unnested (an
    # expression beside unnest() is evaluated per unnested row: a section's JSON parsed 30×).
    from_sql = (
        "FROM (SELECT id, school, section_sis, unnest(students) AS student, "
        "generate_subscripts(students, 1) AS pos FROM (SELECT id, "
        "from_json(j->'students', '[\"varchar\"]') AS students, "
        f"{_loaded('sections', '$.school')} AS school, "
        f"{_loaded('sections', '$.sis_id')} AS section_sis "
        f"FROM {sections})) e "
        "LEFT JOIN api_sis sc ON sc.step = 'schools' AND sc.id = e.school "
        "LEFT JOIN api_sis st ON st.step = 'users-student' AND st.id = e.student "
        f"{only}ORDER BY e.id, e.pos"
    )
    return _write(store, out, "enrollments.csv", columns, from_sql)


# Each served record's (entity, sis_id, clever_id), of ``api_sis``.
_SERVED_IDS = (
    "(SELECT DISTINCT entity, sis_id, clever_id FROM ("
    "SELECT 'schools' AS entity, sis AS sis_id, id AS clever_id FROM api_sis "
    "WHERE step = 'schools' "
    "UNION ALL SELECT 'sections', sis, id FROM api_sis WHERE step = 'sections' "
    "UNION ALL SELECT 'students', sis, id FROM api_sis WHERE step = 'users-student' "
    "UNION ALL SELECT 'teachers', sis, id FROM api_sis WHERE step = 'users-teacher' "
    "UNION ALL SELECT 'staff', sis, id FROM api_sis WHERE step = 'users-staff') "
    "WHERE sis_id IS NOT NULL)"
)


def record_clever_ids(store: Store, snapshot_id: int) -> None:
    """Keep each record's Clever id beside its sis_id (table ``api_ids``), for reconcile: as a
    delta on the district's open rows. An open pair the pull no longer serves is closed at the
    district's previous pull, a pair new to it opens a row at it, every other pair is left alone.

    Called before the pull's ``api_pulls`` row is written (the previous pull is the newest one
    recorded). The ids are read back through ``api_ids_of(snapshot)`` (rosterlab/store/schema.py).
    """
    district = "(SELECT district FROM snapshots WHERE id = ?)"
    store.execute(
        "UPDATE api_ids SET valid_to = (SELECT max(p.snapshot_id) FROM api_pulls p "
        f"JOIN snapshots s ON s.id = p.snapshot_id WHERE s.district = {district}) "
        f"WHERE district = {district} AND valid_to IS NULL AND (entity, sis_id, clever_id) "
        f"NOT IN (FROM {_SERVED_IDS})",
        [snapshot_id, snapshot_id],
    )
    store.execute(
        f"INSERT INTO api_ids SELECT {district}, entity, sis_id, clever_id, ?, NULL "
        f"FROM {_SERVED_IDS} ANTI JOIN (SELECT entity, sis_id, clever_id FROM api_ids "
        f"WHERE district = {district} AND valid_to IS NULL) USING (entity, sis_id, clever_id)",
        [snapshot_id, snapshot_id, snapshot_id],
    )


def serves_clever_ids(store: Store, snapshot_id: int) -> bool:
    """Whether the records mapped (``api_sis``) are served under exactly the Clever ids the
    store keeps for API snapshot ``snapshot_id`` (a re-issued Clever id does not show in the
    bundle)."""
    differ = store.rows(
        f"SELECT count(*) FROM ((FROM {_SERVED_IDS} EXCEPT FROM api_ids_of(?)) "
        f"UNION ALL (FROM api_ids_of(?) EXCEPT FROM {_SERVED_IDS}))",
        [snapshot_id, snapshot_id],
    )
    return differ[0][0] == 0
