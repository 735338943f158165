"""Row and cell checks, set-based over the staging views (so every finding has its file row).

- cells: required values, vocabularies (with the canonical spelling as the fix), dates, emails,
  phones, years, Excel damage (scientific-notation IDs, zips that lost a leading zero, M/D/YY
  dates), padded IDs, a database's NULL written as text, and the lines a query tool prints for
  people that parse as records (the header again, the dashes under it: seen on the record's ID)
  — one finding per cell, the most specific code first;
- duplicate IDs: a key that repeats (what Clever then does is not stated); for students, whose
  rows repeat once per contact, a row whose student-level values differ from the student's first
  row; values that must be unique in the district; teachers listed at several schools;
- contacts: more than five per student, and contact rows without Contact_type or Contact_name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rosterlab import spec
from rosterlab.checks.model import CheckContext
from rosterlab.checks.sql import (
    NULL,
    Sql,
    bound,
    conflicting_rows,
    find,
    has,
    repeated_rows,
    row_key,
    select_findings,
)
from rosterlab.spec import Finding
from rosterlab.store import StagedFile, contact_identity_sql, entity_filter, quote_ident
from rosterlab.store.sql import BLANK_CODES, white_space_blank_sql

CONTACTS = spec.ENTITIES["contacts"]
ENROLLMENTS = spec.ENTITIES["enrollments"].name
TEACHERS = spec.ENTITIES["teachers"].name
# A contact row needs these (spec §3: "required when any contact column is filled").
CONTACT_REQUIRED: tuple[str, ...] = tuple(
    CONTACTS.field(name).name for name in ("Contact_type", "Contact_name")
)

SCIENTIFIC = r"[0-9](\.[0-9]+)?[eE]\+?[0-9]+"
SHORT_ZIP = r"[0-9]{4}(-[0-9]{4})?"
SHORT_DATE = r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{2}"
LOST_LETTER = r"[[:alpha:]]\?|\?[[:alpha:]]"  # 'Zo?', 'N??ez': a '?' against a letter
# What a spreadsheet did to a value, by the kind of field it damaged (excel-damage's detail).
EXCEL_DETAIL = {
    "id": "scientific notation",
    "zip": "the zip lost its leading zero",
    "date": "a date rewritten as M/D/YY",
}

Rule = tuple[Sql, str | None]
"""A cell rule: a condition on the value, and its code (None: the value is fine, stop here)."""


def blank(v: str) -> str:
    """SQL: the value is blank — empty, or only white space (spaces, tabs, no-break spaces:
    spec.WHITE_SPACE), the one rule the stand-in and the carried skips follow too."""
    return white_space_blank_sql(v)


def blank_rules(field: spec.Field, v: str) -> list[Rule]:
    """The rules a blank value of the field meets first: a confirmed required value of only
    spaces is missing-value, of other white space white-space-only (Clever does not say it
    reads a tab or no-break space as blank); any other field's blank is its only rule."""
    if field.required and field.confirmed:
        return [((blank_sql(v), []), code) for blank_sql, code in BLANK_CODES]
    return [((blank(v), []), "missing-value-unconfirmed" if field.required else None)]


def district_office_sql(v: str) -> str:
    """SQL: the value is DEFAULT_DISTRICT_OFFICE in any spelling (spaces, case)."""
    return f"(lower(regexp_replace({v}, '[\\s_]', '', 'g')) = 'defaultdistrictoffice')"


def _words(vocabulary: str, v: str) -> Sql:
    """SQL: the value is in the vocabulary (case-insensitively where Clever compares so)."""
    words = list(spec.VOCABULARIES[vocabulary])
    if vocabulary in spec.CASE_INSENSITIVE_VOCABULARIES:
        return f"list_contains(?::VARCHAR[], lower({v}))", [[w.lower() for w in words]]
    return f"list_contains(?::VARCHAR[], {v})", [words]


def cell_rules(field: spec.Field, v: str, *, record_id: bool = False) -> list[Rule]:
    """The rules of one spec field over the value SQL ``v``, in order.

    Each kind starts with a cheap test that accepts the common well-formed value, so the
    costlier tests (regular expressions, date parsing) only see the few values that fail it.
    ``record_id``: the field is its file's record ID, whose value tells a line a query tool
    printed for people (the header again, the dashes under it) from a record.
    """
    rules = blank_rules(field, v)
    rules.append(((f"{v} IN ('NULL', '\\N')", []), "null-marker"))
    if record_id:
        rules.append(((f"lower(trim({v})) = ?", [field.name.lower()]), "repeated-header"))
        rules.append(((f"(contains({v}, '--') AND trim({v}, ' -') = '')", []), "underline-row"))
    if field.district_office:  # staff School_id (v2.1.1); any other spelling: the fix named
        rules.append(((f"{v} = '{spec.DISTRICT_OFFICE}'", []), None))
        rules.append(((district_office_sql(v), []), "invalid-value"))
    if field.kind == "id":
        rules.append(((f"(prefix({v}, ' ') OR suffix({v}, ' '))", []), "padded-id"))
        scientific = f"(contains({v}, '+') AND regexp_full_match({v}, '{SCIENTIFIC}'))"
        rules.append(((scientific, []), "excel-damage"))
    elif field.kind == "name":  # a letter an ASCII export could not write became '?'
        lost = f"(contains({v}, '?') AND regexp_matches({v}, '{LOST_LETTER}'))"
        rules.append(((lost, []), "letters-lost"))
    elif field.kind == "zip":  # 5 or 9 letters or digits, no punctuation (v2.1.1)
        valid = f"(length({v}) IN (5, 9) AND regexp_full_match({v}, '[0-9A-Za-z]+'))"
        rules.append(((valid, []), None))
        short = f"(length({v}) IN (4, 9) AND regexp_full_match({v}, '{SHORT_ZIP}'))"
        rules.append(((short, []), "excel-damage"))
        rules.append((("TRUE", []), "invalid-zip"))
    elif field.kind == "state":  # a two-letter abbreviation (v2.1.1)
        rules.append(((f"NOT regexp_full_match({v}, '[A-Za-z]{{2}}')", []), "invalid-state"))
    elif field.kind == "date":
        valid = f"(length({v}) = 10 AND try_strptime({v}, '%m/%d/%Y') IS NOT NULL)"
        rules.append(((valid, []), None))
        rules.append(((f"regexp_full_match({v}, '{SHORT_DATE}')", []), "excel-damage"))
        rules.append((("TRUE", []), "invalid-date"))
    elif field.kind == "email":
        valid = (
            f"({v} LIKE '%_@_%._%' AND NOT contains({v}, ' ') AND NOT {v} LIKE '%@%@%' "
            f"AND NOT contains({v}, '@.') AND NOT suffix({v}, '.'))"
        )
        rules.append(((valid, []), None))
        rules.append((("TRUE", []), "invalid-email"))
    elif field.kind == "phone":  # 10 or 11 digits, digits only (v2.1.1)
        plain = f"(length({v}) IN (10, 11) AND regexp_full_match({v}, '[0-9]+'))"
        rules.append(((f"NOT {plain}", []), "invalid-phone"))
    elif field.kind == "year":
        year = f"(length({v}) = 4 AND TRY_CAST({v} AS USMALLINT) IS NOT NULL)"
        rules.append(((f"NOT {year}", []), "invalid-value"))
    if field.vocabulary is not None:
        listed, params = _words(field.vocabulary, v)
        if field.ranges:  # a grade range such as 9-13 (v2.1.1): two listed grades
            low, low_params = _words(field.vocabulary, f"split_part({v}, '-', 1)")
            high, high_params = _words(field.vocabulary, f"split_part({v}, '-', 2)")
            is_range = (
                f"(length({v}) - length(replace({v}, '-', '')) = 1 AND {low} AND {high})",
                low_params + high_params,
            )
            rules.append((is_range, None))
        code = (
            "unlisted-contact-value"
            if field.vocabulary in spec.ADVISORY_VOCABULARIES
            else "invalid-value"
        )
        rules.append(((f"NOT {listed}", params), code))
    return rules


def _case(rules: list[Rule]) -> Sql:
    """``CASE WHEN cond THEN code ... END``: the first rule that holds decides."""
    sql, params = [], []
    for condition, code in rules:
        then = bound(code) if code is not None else ("NULL", [])
        sql.append(f"WHEN {condition[0]} THEN {then[0]}")
        params += condition[1] + then[1]
    return "CASE " + " ".join(sql) + " END", params


def _cell_queries(ctx: CheckContext, staged: StagedFile) -> list[Sql]:
    """The finding queries of a file's cells, after one pass over the file says which columns
    have a finding at all.

    That pass evaluates every column's rules on every row (one scan, counting each column's
    findings); only the columns with a finding are then read again, for their rows. A column
    pointing at another file is checked once per distinct value (the references check gathers
    them anyway), reading back only the rows that hold a bad one; the pass only counts its
    NULLs. In a file that repeats a record over several rows (students.csv: a row per contact)
    the record's own columns are counted over the record's versions present tonight instead:
    the store keeps one version per distinct record-level row (by its hash), so a value that
    fails on some row fails on some version — 300,000 versions instead of 479,672 rows.
    """
    record = spec.FILES[staged.spec_name].entities[0]
    record_id = spec.ENTITIES[record].key[0]
    by_version = len(spec.FILES[staged.spec_name].entities) > 1
    # Each finding query, in column order, with the SQL counting its rows in the one pass (None:
    # a query over distinct values, always run) and whether it counts over the versions.
    planned: list[tuple[Sql | None, bool, Sql]] = []
    for field in spec.file_columns(staged.spec_name):
        if not has(staged, field.name):
            continue  # an absent column is a header finding, not one per row
        v = staged.columns.value(field.name)
        entity = spec.entity_of_column(staged.spec_name, field.name)
        detail = EXCEL_DETAIL.get(field.kind)
        select, select_params = select_findings(
            code=("_code", []),
            entity=entity.name,
            key=row_key(staged, entity),
            field=field.name,
            value=v,
            info=bound(detail) if detail else NULL,
        )
        heads = field.name == record_id
        if field.references is None:
            code_sql, code_params = _case(cell_rules(field, v, record_id=heads))
            versions = by_version and entity.name == record
            counted = (
                _case(cell_rules(field, quote_ident(field.name), record_id=heads))
                if versions
                else None
            )
            count_sql, count_params = counted or (code_sql, code_params)
            planned.append(
                (
                    (f"count({count_sql})", count_params),
                    versions,
                    (
                        f"SELECT {select} FROM (SELECT {code_sql} AS _code, * FROM {staged.view}) "
                        "WHERE _code IS NOT NULL",
                        select_params + code_params,
                    ),
                )
            )
            continue
        blanks = blank_rules(field, v)
        rules = cell_rules(field, "d.v0", record_id=heads)[len(blanks) :]
        values = ctx.distinct(staged, field.name)
        if blanks[0][1] is not None:
            # Whether a row is blank, without testing every row: its NULLs are counted in the
            # pass, and a value of only white space is looked up among the distinct values.
            blank_code, blank_params = _case(blanks)
            planned.append(
                (
                    (
                        f"count(*) - count({v}) + "
                        f"(SELECT count(*) FROM {values} WHERE {blank('v0')})",
                        [],
                    ),
                    False,
                    (
                        f"SELECT {select} FROM (SELECT {blank_code} AS _code, * FROM "
                        f"{staged.view} WHERE {blank(v)})",
                        [*select_params, *blank_params],
                    ),
                )
            )
        if rules:
            rules.insert(0, ((blank("d.v0"), []), None))
            code_sql, code_params = _case(rules)
            bad = (
                f"(SELECT * FROM (SELECT d.v0, {code_sql} AS _code FROM {values} d) "
                "WHERE _code IS NOT NULL)"
            )
            planned.append(
                (
                    None,
                    False,
                    (
                        f"SELECT {select} FROM {staged.view} JOIN {bad} b ON {v} = b.v0",
                        select_params + code_params,
                    ),
                )
            )

    def one_pass(over: bool, source: str, source_params: list[Any]) -> Sql | None:
        counts = [count for count, by, _ in planned if count is not None and by is over]
        if not counts:
            return None
        return (
            f"SELECT {', '.join(sql for sql, _ in counts)} FROM {source}",
            [*(value for _, params in counts for value in params), *source_params],
        )

    # The versions' pass reads the store's committed tables only: it runs beside the rows'.
    by_versions = one_pass(True, *ctx.store.entity_in(ctx.snapshot, record))
    by_rows = one_pass(False, staged.view, [])
    versions_counted = ctx.committed_rows(*by_versions) if by_versions else None
    found: dict[bool, Iterator[Any]] = {
        False: iter(ctx.store.rows(*by_rows)[0] if by_rows else ()),
        True: iter(versions_counted()[0] if versions_counted else ()),
    }
    return [query for count, over, query in planned if count is None or next(found[over])]


def cell_values(ctx: CheckContext) -> None:
    """Make the distinct-value tables the cells check reads (its columns pointing at another
    file) before it runs beside checks that make more (rosterlab.checks.lanes)."""
    for staged in ctx.staged.values():
        for field in spec.file_columns(staged.spec_name):
            if field.references is not None and has(staged, field.name):
                ctx.distinct(staged, field.name)


def check_cells(ctx: CheckContext) -> list[Finding]:
    """Required values and the format of every spec cell, file by file."""
    found: list[Finding] = []
    for staged in ctx.staged.values():
        found += find(ctx, _cell_queries(ctx, staged), file=staged.spec_name)
    return found


def _keys_present(staged: StagedFile, entity: spec.Entity) -> str:
    return " AND ".join(f"{staged.columns.value(k)} IS NOT NULL" for k in entity.key)


def _student_conflicts(ctx: CheckContext, staged: StagedFile, entity: spec.Entity) -> Sql:
    """Rows of a per-contact file whose record-level values differ from the record's first row.

    The store already holds one version per distinct record-level row, so a key with two
    versions present tonight is a conflict: only those keys' rows are read from staging.
    """
    (key_column,) = entity.key
    k = staged.columns.value(key_column)
    values = [staged.columns.value(c) for c in entity.columns if has(staged, c)]
    values += staged.columns.extra_values()
    versions, params = ctx.store.entity_in(ctx.snapshot, entity.name)
    return conflicting_rows(
        "duplicate-id",
        entity,
        field=key_column,
        ident=k,
        value=f"hash({', '.join(values)})",
        rows=f"{staged.view} WHERE {k} IN (SELECT key FROM c)",
        scope=(f"c AS (SELECT key FROM {versions} GROUP BY key HAVING count(*) > 1), ", params),
    )


def _repeated_keys(staged: StagedFile, entity: spec.Entity) -> Sql:
    """Rows whose key already appeared on an earlier row."""
    key = row_key(staged, entity)
    return repeated_rows(
        "duplicate-id",
        entity,
        key=key,
        field=entity.key[0],
        partition=key,
        rows=f"{staged.view} WHERE {_keys_present(staged, entity)}",
    )


def _shared_values(ctx: CheckContext, staged: StagedFile, entity: spec.Entity) -> list[Sql]:
    """Rows whose unique-in-the-district value (Student_number, Teacher_number, Staff_email,
    Admin_email; v2.1.1) an earlier row of another record already holds. The record is its
    ID column: a staff member's rows at several schools share their email rightly.

    In a file that repeats a record over its rows (students.csv) only the values two records
    hold among tonight's versions (one per distinct record-level row) are read from the rows;
    those are found among the values two versions hold (a count: usually none, and then no
    record is compared).
    """
    record = staged.columns.value(entity.key[0])
    queries = []
    for field in entity.fields:
        if not field.unique or not has(staged, field.name):
            continue
        v = staged.columns.value(field.name)
        rows = f"{staged.view} WHERE NOT {blank(v)} AND {record} IS NOT NULL"
        scope: Sql = ("", [])
        if len(spec.FILES[staged.spec_name].entities) > 1:
            held, by = quote_ident(field.name), quote_ident(entity.key[0])
            versions, params = ctx.store.entity_in(ctx.snapshot, entity.name)
            versions += f" WHERE {by} IS NOT NULL"
            scope = (
                f"twice AS (SELECT {held} AS v FROM {versions} AND {held} IS NOT NULL "
                "GROUP BY 1 HAVING count(*) > 1), "
                f"u AS (SELECT {held} AS v FROM {versions} AND {held} IN (SELECT v FROM twice) "
                f"GROUP BY 1 HAVING min({by}) <> max({by})), ",
                params * 2,
            )
            rows += f" AND {v} IN (SELECT v FROM u)"
        queries.append(
            conflicting_rows(
                "duplicate-unique-value",
                entity,
                field=field.name,
                ident=v,
                value=record,
                rows=rows,
                key=row_key(staged, entity),
                scope=scope,
                info=("d._v0", []),
            )
        )
    return queries


def _teachers_at_several_schools(staged: StagedFile, entity: spec.Entity) -> Sql:
    """teachers.csv rows of a Teacher_id already listed at another school: the help centre lists
    a teacher once, with a primary school (staff.csv, by contrast, repeats a row per school)."""
    teacher, school = (staged.columns.value(k) for k in entity.key)
    return conflicting_rows(
        "teacher-several-schools",
        entity,
        field=entity.key[0],
        ident=teacher,
        value=school,
        rows=f"{staged.view} WHERE {teacher} IS NOT NULL AND {school} IS NOT NULL",
        key=row_key(staged, entity),
        info=("d._v0", []),
    )


def check_duplicates(ctx: CheckContext) -> list[Finding]:
    """Keys that repeat (for students, the same Student_id with different student values),
    values that must be unique in the district, and teachers listed at several schools."""
    found: list[Finding] = []
    for staged in ctx.staged.values():
        names = spec.FILES[staged.spec_name].entities
        entity = spec.ENTITIES[names[0]]
        if entity.name == ENROLLMENTS or not all(has(staged, k) for k in entity.key):
            continue  # a repeated enrollment is duplicate-enrollment (cross-file)
        queries = _shared_values(ctx, staged, entity)
        if len(names) > 1:
            queries.append(_student_conflicts(ctx, staged, entity))
        else:
            queries.append(_repeated_keys(staged, entity))
        if entity.name == TEACHERS:
            queries.append(_teachers_at_several_schools(staged, entity))
        found += find(ctx, queries, file=staged.spec_name)
    return found


def check_contacts(ctx: CheckContext) -> list[Finding]:
    """Contact rows missing Contact_type/Contact_name, and students with more than 5 contacts."""
    staged = ctx.staged_of(CONTACTS.name)
    if staged is None:
        return []
    sid = staged.columns.value(CONTACTS.key[0])
    is_contact = entity_filter(CONTACTS, staged.columns)  # a contact column not blank
    queries: list[Sql] = []
    # A contact row is a version of tonight's contacts (the same filter, the same values): the
    # rows are read only for a column some version leaves blank (usually none). One WHERE per
    # column: DuckDB then rules a blank out from the column's statistics, without a scan.
    versions, versions_params = ctx.store.entity_in(ctx.snapshot, CONTACTS.name)
    blanks = ctx.store.rows(
        "SELECT "
        + ", ".join(
            f"EXISTS (SELECT 1 FROM {versions} WHERE {blank(quote_ident(c))})"
            for c in CONTACT_REQUIRED
        ),
        versions_params * len(CONTACT_REQUIRED),
    )[0]
    for column, blank_versions in zip(CONTACT_REQUIRED, blanks, strict=True):
        if not blank_versions:
            continue
        select, params = select_findings(
            code=bound("incomplete-contact"),
            entity=spec.FILES[staged.spec_name].entities[0],
            key=sid,
            field=column,
            value="NULL",
        )
        queries.append(
            (
                f"SELECT {select} FROM {staged.view} WHERE {is_contact} "
                f"AND {blank(staged.columns.value(column))}",
                params,
            )
        )
    # Students with more than five rows (usually none; the Student_id table the references and
    # orphans share counts them) are listed first; only their rows are then read to count
    # distinct contacts.
    crowded = [
        row[0]
        for row in ctx.store.rows(
            f"SELECT v0 FROM {ctx.distinct(staged, CONTACTS.key[0])} WHERE _rows > ?",
            [spec.MAX_CONTACTS],
        )
    ]
    if crowded:
        select, params = select_findings(
            code=bound("too-many-contacts"),
            entity=spec.FILES[staged.spec_name].entities[0],
            key="k",
            field=None,
            value="total::VARCHAR",
            row="r",
            info=("total", []),
        )
        identity = contact_identity_sql(staged.columns)
        queries.append(
            (
                f"WITH f AS (SELECT {sid} AS k, {identity} AS ident, min(_row) AS r "
                f"FROM {staged.view} WHERE {is_contact} AND {sid} IN (SELECT unnest(?)) "
                "GROUP BY ALL), "
                "ranked AS (SELECT k, r, row_number() OVER (PARTITION BY k ORDER BY r) AS n, "
                "count(*) OVER (PARTITION BY k) AS total FROM f) "
                f"SELECT {select} FROM ranked WHERE n = ? + 1",
                [crowded, *params, spec.MAX_CONTACTS],
            )
        )
    return find(ctx, queries, file=staged.spec_name)
