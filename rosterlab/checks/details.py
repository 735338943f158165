"""The rows behind a finding, on demand: an aggregated finding's records, row by row.

A check run keeps every row its finding queries found, as lists of rows and keys per finding
(``finding_row_lists``, or on a read-only store a temporary table named by the result's
``details``). A finding that stands for several rows (:attr:`~rosterlab.spec.Finding.aggregated`:
a value repeated over a column, or a student repeated over its contact rows) is matched to its
lists by code, entity, field and value (and its key, when it names one); only the matched lists
are unnested, and each row comes back as a row-level finding, in file order.

>>> rows_of(store, result, finding, offset=0, limit=50)   # one page, for the browser
>>> expanded(store, result, result.findings)                # every row, for --details and CSV
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rosterlab.checks.model import CheckResult, worded_for
from rosterlab.checks.sql import build_finding
from rosterlab.spec import Finding
from rosterlab.store import Store, quote_ident

_TARGETS = (
    "STRUCT(i INTEGER, code VARCHAR, entity VARCHAR, field VARCHAR, value VARCHAR, key VARCHAR)[]"
)


def _target(i: int, f: Finding) -> dict[str, Any]:
    return {
        "i": i,
        "code": f.code,
        "entity": f.entity,
        "field": f.field,
        "value": f.value,
        "key": f.key,
    }


def _query(result: CheckResult, *, paged: bool) -> str:
    return (
        'SELECT i, file, key, value, "row", info FROM (SELECT t.i, t.key AS wanted, r.file, '
        'r.value, r.info, unnest(r.keys) AS key, unnest(r."rows") AS "row" FROM '
        f"(SELECT unnest(?::{_TARGETS}, recursive := true)) t "
        f"JOIN {quote_ident(result.details)} r ON r.code = t.code "
        "AND r.entity IS NOT DISTINCT FROM t.entity AND r.field IS NOT DISTINCT FROM t.field "
        "AND r.value IS NOT DISTINCT FROM t.value WHERE r.snapshot_id = ?) "
        'WHERE wanted IS NULL OR key = wanted ORDER BY i, "row", key'
        + (" LIMIT ? OFFSET ?" if paged else "")
    )


def _row_finding(f: Finding, result: CheckResult, row: tuple[Any, ...]) -> Finding:
    _, file, key, value, line, info = row
    found = build_finding(
        f.code,
        entity=f.entity or "",
        key=key,
        field=f.field,
        value=value,
        row=line,
        cause=f.cause,
        info=info,
        file=file,
        sync_type=result.snapshot.sync_type,
    )
    return worded_for(result.snapshot, [found])[0]


def rows_of(
    store: Store, result: CheckResult, finding: Finding, *, offset: int = 0, limit: int = 50
) -> list[Finding]:
    """One page of an aggregated finding's rows, as row-level findings in file order."""
    if not finding.aggregated:
        return [finding] if offset == 0 else []
    rows = store.rows(
        _query(result, paged=True), [[_target(0, finding)], result.snapshot.id, limit, offset]
    )
    return [_row_finding(finding, result, row) for row in rows]


def details_of(
    store: Store, result: CheckResult, findings: Sequence[Finding]
) -> dict[int, list[Finding]]:
    """The rows of each aggregated finding of ``findings``, by its position (one query)."""
    targets = [_target(i, f) for i, f in enumerate(findings) if f.aggregated]
    by_finding: dict[int, list[Finding]] = {}
    if targets:
        for row in store.rows(_query(result, paged=False), [targets, result.snapshot.id]):
            by_finding.setdefault(row[0], []).append(_row_finding(findings[row[0]], result, row))
    return by_finding


def expanded(store: Store, result: CheckResult, findings: Sequence[Finding]) -> list[Finding]:
    """``findings`` with each aggregated one replaced by its rows (row-level findings)."""
    details = details_of(store, result, findings)
    return [row for i, f in enumerate(findings) for row in details.get(i, [f])]
