"""SQL building blocks the checks share, and the one place query rows become findings.

Every finding query returns the columns of :data:`FINDING_COLUMNS`; ``info`` carries the one
template value a code needs beyond the finding's own fields (see :data:`INFO_NAME`). Queries run
over the staging views (``staged_<file>``: ``_row`` plus positional ``c0..cN``), whose spec
columns are reached through ``StagedFile.columns.value(name)``.

Findings count records: :func:`find` groups the queries' rows, in the one statement that stores
them (the run's row table, kept as the snapshot's ``finding_row_lists``), into one finding per
record (a student repeated over its contact rows is one), and for the codes the catalogue
aggregates (those with a ``many`` message: a value problem) one finding per value of a column,
with its record count and the first records' keys; each finding's rows are stored as lists.
Only those findings reach Python, never the rows.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rosterlab import spec
from rosterlab.checks.model import CheckContext
from rosterlab.spec import Finding, finding
from rosterlab.store import StagedFile, Store, key_sql, quote_ident

FINDING_COLUMNS = ("code", "entity", "key", "field", "value", "row", "cause", "info")

# The template field a finding query's ``info`` column fills, per code.
INFO_NAME = {
    "excel-damage": "detail",
    "too-many-contacts": "contacts",
    "school-id-is-number": "school_id",
    "invalid-value": "suggestion",
    "duplicate-unique-value": "other",
    "teacher-several-schools": "other",
    "override-reverted": "override",
}

# Codes whose hint names the value to use instead (see :func:`suggestion`).
SUGGESTING = frozenset({"invalid-value", "invalid-zip", "unlisted-contact-value", "invalid-date"})

# Suggested fix for a value outside a vocabulary that has no canonical spelling.
YEAR_SUGGESTION = "a four-digit year (YYYY)"
# Suggested fix for a date in no format an exporter is known to write.
DATE_SUGGESTION = "a valid date as MM/DD/YYYY"
# Dates as exporters write them when the query leaves a date column unformatted: ISO (MySQL,
# PostgreSQL, Python's str(date)), ISO with a time (sqlcmd's datetime, JSON), month and day
# without leading zeros, with PowerShell's en-US time ('1/5/2010 12:00:00 AM'), compact ISO.
DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%m/%d/%Y",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M:%S %p",
    "%Y%m%d",
)


def field_of(file_name: str, column: str) -> spec.Field | None:
    """The spec field a received column is (None for ext.* and unknown columns)."""
    return next((f for f in spec.file_columns(file_name) if f.name == column), None)


def row_key(staged: StagedFile, entity: spec.Entity) -> str:
    """SQL for a staged row's record key (composite parts joined with '/', as the store keys)."""
    return key_sql(entity, staged.columns)


def has(staged: StagedFile, column: str) -> bool:
    """Whether the received header has the spec column."""
    return column in staged.columns.spec_positions


def reference_column(entity: spec.Entity) -> str:
    """The column other records use to point at ``entity`` (teachers: Teacher_id)."""
    return entity.key[0]


@functools.lru_cache(maxsize=4096)  # rows of an aggregated finding share their value
def suggestion(entity: str, column: str, value: str) -> str:
    """The value to use instead of ``value`` (``K`` → ``Kindergarten``, ``Free`` → ``F``,
    ``12345-6789`` → ``123456789``)."""
    field = spec.ENTITIES[entity].field(column)
    if field.kind == "date":
        return _as_mm_dd_yyyy(value.strip())
    if field.kind == "zip":
        return re.sub(r"[^0-9A-Za-z]", "", value)
    if field.district_office:
        return spec.DISTRICT_OFFICE
    if field.vocabulary is None:
        return YEAR_SUGGESTION
    words = spec.VOCABULARIES[field.vocabulary]
    aliases = spec.ALIASES.get(field.vocabulary, {})
    if value in aliases:
        return aliases[value]
    folded = {w.lower(): w for w in words} | {a.lower(): c for a, c in aliases.items()}
    canonical = folded.get(value.strip().lower())
    if canonical is not None:
        return canonical
    return "one of " + ", ".join(words)


def _as_mm_dd_yyyy(value: str) -> str:
    """``value`` rewritten as MM/DD/YYYY when it is a date in a format exporters write
    ('2010-01-05T00:00:00' → '01/05/2010 (MM/DD/YYYY)'); else :data:`DATE_SUGGESTION`."""
    for layout in DATE_FORMATS:
        try:
            day = datetime.strptime(value, layout)
        except ValueError:
            continue
        return f"{day:%m/%d/%Y} (MM/DD/YYYY)"
    return DATE_SUGGESTION


def build_finding(
    code: str,
    *,
    entity: str,
    key: str | None,
    field: str | None,
    value: str | None,
    row: int | None,
    cause: str | None,
    info: str | None,
    file: str,
    sync_type: str | None,
    count: int = 1,
    rows: int = 1,
    sample_keys: tuple[str, ...] = (),
) -> Finding:
    """A finding from one row of a finding query (or of the stored row list)."""
    context: dict[str, Any] = {}
    if code in SUGGESTING and value is not None:
        context["suggestion"] = suggestion(entity, field or "", value)
    elif info is not None and code in INFO_NAME:
        context[INFO_NAME[code]] = info
    return finding(
        code,
        entity=entity,
        key=key or None,
        field=field,
        value=value,
        row=row,
        cause=cause,
        sync_type=sync_type,
        file=file,
        count=count,
        rows=rows,
        sample_keys=sample_keys,
        **context,
    )


# Codes aggregated per value of a column (the catalogue words them for many records).
AGGREGATED = sorted(code for code, kind in spec.CATALOGUE.items() if kind.many)

# The keys of a finding's first rows read back with it: its sample keys are the first distinct
# ones among them (a record's rows may come one after another: a student's contact rows).
FIRST_KEYS = 64

# The rows of a batch stored as one row per finding — per value of a column for the AGGREGATED
# codes, per record (a key, or a row without one) for the others — with its rows and their keys
# as lists; what comes back is each finding's values, records, first keys, rows and first row.
# The records are counted over the list of keys: 0.127 CPU s against count(DISTINCT key)'s
# 0.159 for 479,672 rows (best of 5; the statement without a count: 0.066).
_GROUPED = """
INSERT INTO {table}
SELECT ?, ?, ?, code, entity, field, value, cause, info,
    list_unique(list(key)) + count(*) FILTER (WHERE key IS NULL),
    coalesce(min_by(key, "row", {first_keys}) FILTER (WHERE key IS NOT NULL), []),
    list("row"), list(key)
FROM ({found})
GROUP BY code, entity, field, value, cause, info,
    CASE WHEN NOT list_contains(?::VARCHAR[], code) THEN key END,
    CASE WHEN NOT list_contains(?::VARCHAR[], code) AND key IS NULL THEN "row" END
RETURNING code, entity, field, value, cause, info, records, first_keys, len("rows"),
    list_min("rows")
"""

# The first keys of a finding whose first rows hold fewer than SAMPLE_KEYS records.
_SAMPLE = """
SELECT key FROM (
    SELECT unnest(keys) AS key, unnest("rows") AS "row" FROM {table}
    WHERE snapshot_id = ? AND batch = ? AND code = ? AND entity IS NOT DISTINCT FROM ?
        AND field IS NOT DISTINCT FROM ? AND value IS NOT DISTINCT FROM ?
        AND cause IS NOT DISTINCT FROM ? AND info IS NOT DISTINCT FROM ?
)
WHERE key IS NOT NULL GROUP BY key ORDER BY min("row"), key LIMIT ?
"""


STORED_ROWS = "finding_row_lists"


def rows_table(store: Store, snapshot_id: int) -> str:
    """Where a check run puts its finding rows: the store's ``finding_row_lists``, or on a
    read-only store a temporary table of the connection with the same columns."""
    return f"_finding_rows_{snapshot_id}" if store.read_only else STORED_ROWS


def create_rows_table(ctx: CheckContext) -> str:
    """Make the run's row table ready: the snapshot's old rows go (one transaction with the new
    findings), or a fresh temporary table on a read-only store."""
    table = rows_table(ctx.store, ctx.snapshot.id)
    if table == STORED_ROWS:
        ctx.store.execute(f"DELETE FROM {table} WHERE snapshot_id = ?", [ctx.snapshot.id])
    else:
        ctx.store.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM {STORED_ROWS} LIMIT 0"
        )
    return table


Sql = tuple[str, list[Any]]
"""A SQL snippet and its bound values, in textual order."""

NULL: Sql = ("NULL", [])


def bound(value: str) -> Sql:
    """A bound text value as a snippet."""
    return "?::VARCHAR", [value]


def select_findings(
    *,
    code: Sql,
    entity: str,
    key: str,
    field: str | None,
    value: str,
    row: str = "_row",
    cause: Sql = NULL,
    info: Sql = NULL,
) -> Sql:
    """A SELECT list in :data:`FINDING_COLUMNS` order (entity and field bound)."""
    parts: list[Sql] = [
        code,
        ("?::VARCHAR", [entity]),
        (key, []),
        ("?::VARCHAR", [field]),
        (value, []),
        (f"{row}::BIGINT", []),
        (f"{cause[0]}::VARCHAR", cause[1]),
        (f"{info[0]}::VARCHAR", info[1]),
    ]
    select = ", ".join(
        f"{sql} AS {quote_ident(name)}"
        for (sql, _), name in zip(parts, FINDING_COLUMNS, strict=True)
    )
    return select, [v for _, values in parts for v in values]


def cause(parent: str, value: str) -> Sql:
    """SQL of a finding's root cause: ``parent/<value>`` (``sections/SEC-77``)."""
    return f"? || {value}", [f"{parent}{spec.KEY_SEPARATOR}"]


def repeated_rows(
    code: str, entity: spec.Entity, *, key: str, field: str | None, partition: str, rows: str
) -> Sql:
    """A finding query for the rows whose ``partition`` values appeared on an earlier row.

    ``rows`` is what to read (a staging view, perhaps with a WHERE or a join); ``key`` is the
    SQL of the row's record key, which is also the finding's value and cause.
    """
    select, params = select_findings(
        code=bound(code),
        entity=entity.name,
        key="_k",
        field=field,
        value="_k",
        cause=cause(entity.name, "_k"),
    )
    return (
        f"SELECT {select} FROM (SELECT _row, {key} AS _k, row_number() OVER "
        f"(PARTITION BY {partition} ORDER BY _row) AS _n FROM {rows}) WHERE _n > 1",
        params,
    )


def conflicting_rows(
    code: str,
    entity: spec.Entity,
    *,
    field: str,
    ident: str,
    value: str,
    rows: str,
    key: str | None = None,
    scope: Sql = ("", []),
    info: Sql = NULL,
) -> Sql:
    """A finding query for the rows whose ``value`` differs from the first row's of the same
    ``ident`` (one ID, two different people or records).

    ``rows`` is what to read; ``key`` the SQL of the record key (default: ``ident``, which is
    also the finding's value and cause); ``scope`` common table expressions ``rows`` may use;
    ``info`` may read the first row's value as ``d._v0``.
    """
    select, params = select_findings(
        code=bound(code),
        entity=entity.name,
        key="r._key",
        field=field,
        value="r._id",
        row="r._row",
        cause=cause(entity.name, "r._id"),
        info=info,
    )
    return (
        f"WITH {scope[0]}r AS (SELECT _row, {ident} AS _id, {key or ident} AS _key, "
        f"{value} AS _v FROM {rows}), "
        "d AS (SELECT _id, arg_min(_v, _row) AS _v0 FROM r GROUP BY 1 HAVING min(_v) <> max(_v)) "
        f"SELECT {select} FROM r JOIN d USING (_id) WHERE r._v <> d._v0",
        [*scope[1], *params],
    )


def find(ctx: CheckContext, queries: Sequence[Sql], *, file: str) -> list[Finding]:
    """Run finding queries as one UNION ALL, grouped into the run's row table; return one finding
    per record (per value of a column for :data:`AGGREGATED` codes), ordered by row, field and
    code."""
    if not queries:
        return []
    table = ctx.rows_into or rows_table(ctx.store, ctx.snapshot.id)
    batch = len(ctx.batches)
    ctx.batches.append(file)
    sql = " UNION ALL ".join(f"({q})" for q, _ in queries)
    params = [v for _, values in queries for v in values]
    grouped = ctx.store.rows(
        _GROUPED.format(table=table, first_keys=FIRST_KEYS, found=sql),
        [batch, ctx.snapshot.id, file, *params, AGGREGATED, AGGREGATED],
    )
    found = []
    for code, entity, field, value, cause, info, records, first_keys, n, row in grouped:
        key = first_keys[0] if records == 1 and first_keys else None
        samples: tuple[str, ...] = ()
        if records > 1:
            samples = _first_distinct(first_keys)
            if len(samples) < spec.SAMPLE_KEYS and len(first_keys) == FIRST_KEYS:
                where = [ctx.snapshot.id, batch, code, entity, field, value, cause, info]
                sampled = ctx.store.rows(_SAMPLE.format(table=table), [*where, spec.SAMPLE_KEYS])
                samples = tuple(k for (k,) in sampled)
        in_file_order = tuple((v is None, v) for v in (row, field, code, entity, key, value))
        found.append(
            (
                in_file_order,
                build_finding(
                    code,
                    entity=entity,
                    key=key,
                    field=field,
                    value=value,
                    row=row,
                    cause=cause,
                    info=info,
                    file=file,
                    sync_type=ctx.snapshot.sync_type,
                    count=records,
                    rows=n,
                    sample_keys=samples,
                ),
            )
        )
    # As SQL's ORDER BY "row", field, code, entity, key, value would: a missing value last.
    return [f for _, f in sorted(found, key=lambda pair: pair[0])]


def _first_distinct(keys: Sequence[str]) -> tuple[str, ...]:
    """The first :data:`~rosterlab.spec.SAMPLE_KEYS` distinct keys, in order."""
    return tuple(dict.fromkeys(keys))[: spec.SAMPLE_KEYS]
