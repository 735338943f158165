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

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from rosterlab import spec
from rosterlab.store.sql import BLANK_CODES, quote_ident, quote_literal
from rosterlab.store.store import SnapshotInfo, Store

# The entities Clever serves, in the order their skips are computed (admins are not served).
_SERVED = ("schools", "students", "contacts", "teachers", "staff", "sections", "enrollments")
# (field, referenced entity): the references Clever follows (spec.followed_references) — the
# row is not served unless their target is; in the order the cause is named, _SERVED's (an
# enrollment of a skipped student and a skipped section is the student's).
FOLLOWED: dict[str, tuple[tuple[str, str], ...]] = {
    entity: tuple(sorted(spec.followed_references(entity), key=lambda ref: _SERVED.index(ref[1])))
    for entity in _SERVED
}
# The upload's finding code for a reference to a record the upload lacks (schools: unknown-school
# or school-id-is-number).
_LACKING = {
    ("enrollments", "students"): "enrollment-unknown-student",
    ("enrollments", "sections"): "enrollment-unknown-section",
}
# References that never name a record the upload lacks: a contact's row is its student's row
# (students.csv), so its Student_id is a student's of the same night, or blank.
_NEVER_LACKING = frozenset({("contacts", "students")})
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
# A version is its row hash (the merge matches versions by it), a number cheaper than its key.
_DUPLICATED = (
    "row_hash IN (SELECT row_hash FROM duplicate_versions WHERE snapshot_id = $3 AND entity = {})"
)


def _blank_tests(entity: str) -> tuple[str, ...]:
    """SQL per blank code of :data:`~rosterlab.store.sql.BLANK_CODES`, in its order: one of the
    entity's confirmed required values is that blank ('false' when it has none)."""
    e = spec.ENTITIES[entity]
    required = [_c(f.name) for f in e.fields if f.required and f.confirmed]
    return tuple(" OR ".join(test(c) for c in required) or "false" for test, _ in BLANK_CODES)


def _tonight(entity: str, duplicated: bool) -> str:
    """CTE body: the entity's rows in night $2 (snapshot $3) of district $1 that Clever may not
    serve: ``key``, ``id`` (its first key column), the references it follows, one column per
    blank code (``b0``: missing-value, ``b1``: white-space-only; the first that holds is the
    row's) and ``dup`` (its key is repeated). Every other row is served: its required values
    are filled, its key is single, and each reference names a record Clever serves (``x_*``).
    ``duplicated``: whether the night repeats a key of the entity (else no row is ``dup``).

    Each way a row may be unserved is its own statement, so that each costs what its rows do:
    the blank test is decided from the columns' statistics when no value can be blank, and a
    reference's semi join ends at once when no value of it is unserved. ``UNION`` (over the
    row id) takes a row unserved two ways once.
    """
    e = spec.ENTITIES[entity]
    spaces, blank = _blank_tests(entity)
    dup = _DUPLICATED.format(quote_literal(entity)) if duplicated else "false"
    refs = "".join(f", {_c(field)}" for field, _ in FOLLOWED[entity])
    rows = (
        f"SELECT rowid AS _r, key, {_c(e.key[0])} AS id{refs}, {spaces} AS b0, {blank} AS b1, "
        f"{dup} AS dup FROM {quote_ident(e.name)} {_IN_NIGHT}"
    )
    # White space only covers only spaces: one test picks the rows, the other tells them apart.
    ways = [f"({blank})", *([dup] if duplicated else [])] + [
        f"{_c(field)} IN (SELECT id FROM x_{entity}_{i})"
        for i, (field, _) in enumerate(FOLLOWED[entity])
    ]
    union = " UNION ".join(f"{rows} AND {way}" for way in ways)
    return f"SELECT key, id{refs}, b0, b1, dup FROM ({union})"


def _unserved_targets(entity: str) -> list[str]:
    """CTEs ``x_<entity>_<i>``: the distinct values of the entity's i-th followed reference in
    the night that name no record Clever serves — a record not served (``code``: its own) or
    none at all (``code`` NULL). A blank reference is no value here: its row is blank."""
    ctes = []
    for i, (field, target) in enumerate(FOLLOWED[entity]):
        if (entity, target) in _NEVER_LACKING:
            ctes.append(f"x_{entity}_{i} AS (SELECT id, code FROM u_{target})")
            continue
        ctes.append(
            f"x_{entity}_{i} AS (SELECT v.id, u.code FROM (SELECT {_c(field)} AS id "
            f"FROM {quote_ident(entity)} {_IN_NIGHT} AND {_c(field)} IS NOT NULL GROUP BY 1) v "
            f"LEFT JOIN u_{target} u ON u.id = v.id "
            f"WHERE u.id IS NOT NULL OR v.id NOT IN (SELECT id FROM i_{target}))"
        )
    return ctes


def _decided(entity: str) -> str:
    """CTE body: each row's ``code`` (NULL when served, else why not) and ``by`` (when carried:
    the entity whose skipped record carries it; the code is then that record's)."""
    codes = [
        f"WHEN t.b{i} THEN {quote_literal(code)}" for i, (_, code) in enumerate(BLANK_CODES)
    ] + ["WHEN t.dup THEN 'duplicate-id'"]
    carriers = []
    joins = []
    for i, (field, target) in enumerate(FOLLOWED[entity]):
        ref, r = f"t.{_c(field)}", f"r{i}"
        joins.append(f"LEFT JOIN x_{entity}_{i} {r} ON {r}.id = {ref}")
        if (entity, target) in _NEVER_LACKING:
            code = f"{r}.code"
        elif target == "schools":
            code = (
                f"coalesce({r}.code, CASE WHEN {ref} IN (SELECT num FROM u_schools_numbers) "
                "THEN 'school-id-is-number' ELSE 'unknown-school' END)"
            )
        else:
            code = f"coalesce({r}.code, {quote_literal(_LACKING[(entity, target)])})"
        codes.append(f"WHEN {r}.id IS NOT NULL THEN {code}")
        carriers.append(
            f"WHEN {r}.id IS NOT NULL THEN CASE WHEN {r}.code IS NOT NULL "
            f"THEN {quote_literal(target)} END"
        )
    blank = " OR ".join(f"t.b{i}" for i in range(len(BLANK_CODES)))
    by = f"CASE WHEN {blank} OR t.dup THEN NULL {' '.join(carriers)} END" if carriers else "NULL"
    return (
        f"SELECT t.key, t.id, CASE {' '.join(codes)} END AS code, {by} AS carrier "
        f"FROM t_{entity} t {' '.join(joins)}"
    )


_REFERENCED = {target for follows in FOLLOWED.values() for _, target in follows}


def not_served_sql(duplicated: frozenset[str] = frozenset(FOLLOWED), *, keys: bool = False) -> str:
    """One query: (entity, code, by, records, rows) of the records Clever does not serve in
    night $2 (snapshot $3) of district $1; ``duplicated``: the entities whose keys the night
    repeats (``duplicate_versions``; the others' keys are not looked up: with none, the query
    binds no $3). ``keys``: (entity, key, code) of each such record instead.

    Only rows that may be unserved are decided one by one: a blank required value, a repeated
    key, or a reference whose value (among the night's distinct values of that column) names
    a record Clever does not serve or none at all. A night's 2.4 M enrollments thus cost two
    aggregations of their references, not two joins of every row.
    """
    ctes = [
        f"u_schools_numbers AS (SELECT {_c('School_number')} AS num FROM "
        f"{quote_ident('schools')} {_IN_NIGHT} AND {_c('School_number')} IS NOT NULL)"
    ]
    for entity in FOLLOWED:
        ctes += _unserved_targets(entity)
        ctes.append(f"t_{entity} AS ({_tonight(entity, entity in duplicated)})")
        ctes.append(f"d_{entity} AS ({_decided(entity)})")
        if entity in _REFERENCED:  # the ids it holds; those it does not serve, with a code
            key = _c(spec.ENTITIES[entity].key[0])
            ctes.append(
                f"i_{entity} AS (SELECT {key} AS id FROM {quote_ident(entity)} {_IN_NIGHT} "
                f"AND {key} IS NOT NULL)"
            )
            ctes.append(
                f"u_{entity} AS (SELECT id, any_value(code) AS code FROM d_{entity} "
                "WHERE id IS NOT NULL AND code IS NOT NULL GROUP BY id)"
            )
    # The contacts (students.csv rows) of the students Clever does not serve; id: Student_id.
    ctes.append(
        f"c AS (SELECT {_c('Student_id')} AS id, count(*) AS n FROM {quote_ident('contacts')} "
        f"{_IN_NIGHT} AND {_c('Student_id')} IN "
        "(SELECT id FROM d_students WHERE code IS NOT NULL) GROUP BY 1)"
    )
    rows = {e: "0" if e in _ROWLESS else "1" for e in FOLLOWED}
    rows["students"] = "greatest(1, coalesce(c.n, 0))"
    unions = " UNION ALL ".join(
        f"SELECT {quote_literal(e)} AS entity, code, carrier, key, {rows[e]} AS rows FROM d_{e} d "
        + ("LEFT JOIN c ON c.id = d.id " if e == "students" else "")
        + "WHERE code IS NOT NULL"
        for e in FOLLOWED
    )
    if keys:
        return f"WITH {', '.join(ctes)} SELECT DISTINCT entity, key, code FROM ({unions})"
    return (
        f"WITH {', '.join(ctes)} SELECT entity, code, carrier, count(DISTINCT key), "
        f"sum(rows)::BIGINT FROM ({unions}) GROUP BY ALL ORDER BY entity, carrier NULLS FIRST, code"
    )


@cache
def _not_served_sql(duplicated: frozenset[str], keys: bool = False) -> str:
    return not_served_sql(duplicated, keys=keys)


def duplicated_entities(store: Store, snapshot_id: int) -> frozenset[str]:
    """The entities whose keys the night holds twice (Clever skips their rows, with or
    without a finding: a contact repeated for its student has none)."""
    return frozenset(
        entity
        for (entity,) in store.rows(
            "SELECT DISTINCT entity FROM duplicate_versions WHERE snapshot_id = ?", [snapshot_id]
        )
    )


def not_served(
    store: Store, snapshot: SnapshotInfo, duplicated: frozenset[str] | None = None
) -> tuple[NotServed, ...]:
    """The records of a night Clever does not serve, by entity, reason and carrier
    (``duplicated``: :func:`duplicated_entities`, when the caller has them)."""
    if duplicated is None:
        duplicated = duplicated_entities(store, snapshot.id)
    return not_served_of(store.rows(*not_served_query(snapshot, duplicated)))


def not_served_query(
    snapshot: SnapshotInfo, duplicated: frozenset[str], *, keys: bool = False
) -> tuple[str, list[object]]:
    """:func:`not_served`'s query and its bound values (it reads committed tables only);
    ``keys``: the records' (entity, key, code) instead of their counts."""
    duplicated &= frozenset(FOLLOWED)
    params: list[object] = [snapshot.district, snapshot.seq]
    return _not_served_sql(duplicated, keys), [*params, snapshot.id] if duplicated else params


def not_served_of(rows: Sequence[tuple[Any, ...]]) -> tuple[NotServed, ...]:
    """The records :func:`not_served_query`'s rows count."""
    return tuple(
        NotServed(entity, code, int(records), int(n), by) for entity, code, by, records, n in rows
    )


def not_served_keys(store: Store, snapshot: SnapshotInfo, table: str) -> None:
    """Temp table ``table`` (entity, key, code): each record of a night Clever does not serve,
    and why (a carried record: the code of the record that carries it)."""
    sql, params = not_served_query(snapshot, duplicated_entities(store, snapshot.id), keys=True)
    store.execute(f"CREATE OR REPLACE TEMP TABLE {quote_ident(table)} AS {sql}", params)
