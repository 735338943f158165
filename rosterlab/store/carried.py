"""Which uploaded records Clever does not serve, and why: the skips and the records they carry.

A record is skipped *directly* for its own problem — a blank required value (``missing-value``,
Clever's word, SFTP v2.1.1; ``white-space-only`` when only a tab or no-break space makes it
blank), a repeated key (``duplicate-id``), a reference to a record the
upload lacks (``unknown-school``, ``school-id-is-number``, ``enrollment-unknown-*``) — or it is
*carried* with a record it references that Clever skips: a student of a skipped school, the
contacts and enrollments of a skipped student, the enrollments of a skipped section, the
teachers, staff and sections of a skipped school. Clever's text states no consequence for the
references (docs/api.md): every carried record *may* be skipped. These are the rules the
stand-in serves by (``api/served_sql.py``), computed set-based over the snapshot's rows in one
query; a test holds them equal to what reconcile finds skipped on every sample night.

District admins are left out: they are not served at all (admins.csv is deprecated).
"""

from __future__ import annotations

from dataclasses import dataclass

from rosterlab import spec
from rosterlab.store.sql import (
    quote_ident,
    quote_literal,
    spaces_blank_sql,
    white_space_blank_sql,
)
from rosterlab.store.store import SnapshotInfo, Store

# (field, referenced entity): references whose target Clever must serve, or the row is not
# served; in the order the cause is named (an enrollment of a skipped student and a skipped
# section is the student's).
FOLLOWED: dict[str, tuple[tuple[str, str], ...]] = {
    "schools": (),
    "students": (("School_id", "schools"),),
    "contacts": (("Student_id", "students"),),
    "teachers": (("School_id", "schools"),),
    "staff": (("School_id", "schools"),),
    "sections": (("School_id", "schools"),),
    "enrollments": (("Student_id", "students"), ("Section_id", "sections")),
}
# The upload's finding code for a reference to a record the upload lacks (schools: unknown-school
# or school-id-is-number). A contact's student is never lacking: its row is the student's row.
_LACKING = {
    ("contacts", "students"): "missing-value",
    ("enrollments", "students"): "enrollment-unknown-student",
    ("enrollments", "sections"): "enrollment-unknown-section",
}
# A contact's rows are its student's rows in students.csv: carried with its student, it adds none.
_ROWLESS = frozenset({"contacts"})
CONFIRMED = "missing-value"  # the only skip on Clever's word


@dataclass(frozen=True)
class NotServed:
    """Records of one entity Clever skips for one reason (a finding ``code``), directly
    (``by`` None) or carried with the skipped records of entity ``by``; ``rows``: their rows
    in the entity's file (a student's rows are its contact rows; a contact adds none)."""

    entity: str
    code: str
    records: int
    rows: int
    by: str | None = None

    @property
    def confirmed(self) -> bool:
        return self.by is None and self.code == CONFIRMED


def _c(name: str) -> str:
    return quote_ident(name)


_IN_NIGHT = "WHERE district = $1 AND valid_from <= $2 AND (valid_to IS NULL OR valid_to >= $2)"
# Keys the night holds in two or more versions (recorded at ingest): every row of them is skipped.
_DUPLICATED = "key IN (SELECT key FROM duplicate_versions WHERE snapshot_id = $3 AND entity = {})"


def _tonight(entity: str) -> str:
    """CTE body: the entity's rows in night $2 (snapshot $3) of district $1: ``key``, ``id``
    (its first key column), the references it follows, ``blank`` (a confirmed required value
    is blank: only white space), ``spaces`` (one is empty or only spaces: missing-value; else
    white-space-only) and ``dup`` (its key is repeated)."""
    e = spec.ENTITIES[entity]
    required = [_c(f.name) for f in e.fields if f.required and f.confirmed]
    blank = " OR ".join(white_space_blank_sql(c) for c in required)
    spaces = " OR ".join(spaces_blank_sql(c) for c in required)
    refs = "".join(f", {_c(field)}" for field, _ in FOLLOWED[entity])
    return (
        f"SELECT key, {_c(e.key[0])} AS id{refs}, {blank or 'false'} AS blank, "
        f"{spaces or 'false'} AS spaces, "
        f"{_DUPLICATED.format(quote_literal(entity))} AS dup FROM {quote_ident(e.name)} "
        f"{_IN_NIGHT}"
    )


def _decided(entity: str) -> str:
    """CTE body: each row's ``code`` (NULL when served, else why not) and ``by`` (when carried:
    the entity whose skipped record carries it; the code is then that record's)."""
    codes = [
        "WHEN t.spaces THEN 'missing-value'",
        "WHEN t.blank THEN 'white-space-only'",
        "WHEN t.dup THEN 'duplicate-id'",
    ]
    carriers = []
    joins = []
    for i, (field, target) in enumerate(FOLLOWED[entity]):
        ref, r = f"t.{_c(field)}", f"r{i}"
        joins.append(f"LEFT JOIN k_{target} {r} ON {r}.id = {ref}")
        if target == "schools":
            lacking = (
                f"CASE WHEN {ref} IN (SELECT num FROM u_schools) THEN 'school-id-is-number' "
                "ELSE 'unknown-school' END"
            )
        else:
            lacking = quote_literal(_LACKING[(entity, target)])
        codes.append(f"WHEN {r}.served IS NOT TRUE THEN coalesce({r}.code, {lacking})")
        carriers.append(
            f"WHEN {r}.served IS NOT TRUE THEN CASE WHEN {r}.id IS NOT NULL "
            f"THEN {quote_literal(target)} END"
        )
    by = f"CASE WHEN t.blank OR t.dup THEN NULL {' '.join(carriers)} END" if carriers else "NULL"
    return (
        f"SELECT t.key, t.id, CASE {' '.join(codes)} END AS code, {by} AS carrier "
        f"FROM t_{entity} t {' '.join(joins)}"
    )


_REFERENCED = {target for follows in FOLLOWED.values() for _, target in follows}


def not_served_sql() -> str:
    """One query: (entity, code, by, records, rows) of the records Clever does not serve in
    night $2 (snapshot $3) of district $1."""
    ctes = [
        f"u_schools AS (SELECT {_c('School_number')} AS num FROM {quote_ident('schools')} "
        f"{_IN_NIGHT} AND {_c('School_number')} IS NOT NULL)"
    ]
    for entity in FOLLOWED:
        ctes.append(f"t_{entity} AS ({_tonight(entity)})")
        ctes.append(f"d_{entity} AS ({_decided(entity)})")
        if entity in _REFERENCED:  # per id: its code, and whether Clever serves it
            ctes.append(
                f"k_{entity} AS (SELECT id, any_value(code) AS code, count(code) = 0 AS served "
                f"FROM d_{entity} WHERE id IS NOT NULL GROUP BY id)"
            )
    # The contacts (students.csv rows) of the students Clever does not serve; id: Student_id.
    ctes.append(
        "c AS (SELECT id, count(*) AS n FROM t_contacts WHERE id IN "
        "(SELECT id FROM d_students WHERE code IS NOT NULL) GROUP BY id)"
    )
    rows = {e: "0" if e in _ROWLESS else "1" for e in FOLLOWED}
    rows["students"] = "greatest(1, coalesce(c.n, 0))"
    unions = " UNION ALL ".join(
        f"SELECT {quote_literal(e)} AS entity, code, carrier, key, {rows[e]} AS rows FROM d_{e} d "
        + ("LEFT JOIN c ON c.id = d.id " if e == "students" else "")
        + "WHERE code IS NOT NULL"
        for e in FOLLOWED
    )
    return (
        f"WITH {', '.join(ctes)} SELECT entity, code, carrier, count(DISTINCT key), "
        f"sum(rows)::BIGINT FROM ({unions}) GROUP BY ALL ORDER BY entity, carrier NULLS FIRST, code"
    )


_NOT_SERVED_SQL = not_served_sql()


def not_served(store: Store, snapshot: SnapshotInfo) -> tuple[NotServed, ...]:
    """The records of a night Clever does not serve, by entity, reason and carrier."""
    return tuple(
        NotServed(entity, code, int(records), int(rows), by)
        for entity, code, by, records, rows in store.rows(
            _NOT_SERVED_SQL, [snapshot.district, snapshot.seq, snapshot.id]
        )
    )


def has_duplicates(store: Store, snapshot_id: int) -> bool:
    """Whether the night holds a key twice (Clever skips its rows, with or without a finding:
    a contact repeated for its student has none)."""
    return bool(
        store.rows("SELECT 1 FROM duplicate_versions WHERE snapshot_id = ? LIMIT 1", [snapshot_id])
    )
