"""Render check results, the field × night matrix and the ledger (CLI contract shapes).

JSON keeps every finding (the contract lists them all; an aggregated finding once, with its
record count and sample keys, and with ``--details`` its rows); text summarizes: the root causes
that break the most records, then each code with its counts, hint and first findings (with
``--details``, every row).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from rosterlab import spec
from rosterlab.checks import CheckResult, FieldMatrix, Override
from rosterlab.report.findings_csv import finding_file, finding_line
from rosterlab.report.snapshots import summary_text
from rosterlab.report.text import shown
from rosterlab.spec import Finding, plural
from rosterlab.spec.lines import LineBreaks

TOP_CAUSES = 10
ROWS_PER_CODE = 5


# A finding's JSON keys up to ``row``: ``line`` follows them.
_BEFORE_LINE = frozenset({"code", "severity", "entity", "key", "field", "value", "row"})


def check_dict(
    result: CheckResult,
    details: Mapping[int, Sequence[Finding]] | None = None,
    breaks: Mapping[str, LineBreaks] | None = None,
) -> dict[str, Any]:
    """``rosterlab check --format json``; ``details`` (by finding position: the rows of each
    aggregated finding) adds each one's ``details``, its rows as row-level findings. Beside
    each ``row``, ``line``: where an editor shows it (``breaks``: :meth:`Store.line_breaks`)."""
    lines = breaks or {}

    def placed(f: Finding) -> dict[str, Any]:
        fields = f.to_dict()
        return {
            **{k: v for k, v in fields.items() if k in _BEFORE_LINE},
            "line": finding_line(f, lines),
            **{k: v for k, v in fields.items() if k not in _BEFORE_LINE},
        }

    def record(i: int, f: Finding) -> dict[str, Any]:
        fields = placed(f)
        if details is not None and f.aggregated:
            fields["details"] = [placed(row) for row in details.get(i, ())]
        return fields

    return {
        "snapshot": result.snapshot.id,
        "district": result.snapshot.district,
        "seq": result.snapshot.seq,
        "summary": {**result.summary(), "records": spec.record_counts(result.findings)},
        "findings": [record(i, f) for i, f in enumerate(result.findings)],
        "groups": [g.to_dict() for g in result.groups],
    }


def _where(f: Finding, received: Mapping[str, str], lines: Mapping[str, LineBreaks]) -> str:
    """``enrollments.csv line 5 SEC-9/S-001: `` — where a finding is, when it is in one place
    (the line as an editor counts it: the header is line 1)."""
    parts = []
    if f.row is not None:
        at = finding_line(f, lines)
        line = f"from line {at}" if f.aggregated and not f.key else f"line {at}"
        parts.append(f"{shown(finding_file(f, received))} {line}".lstrip())
    if f.key:
        parts.append(shown(f.key))
    return " ".join(parts) + ": " if parts else ""


def check_text(
    result: CheckResult,
    *,
    top_causes: int = TOP_CAUSES,
    rows_per_code: int = ROWS_PER_CODE,
    filtered: str = "",
    received: Mapping[str, str] | None = None,
    breaks: Mapping[str, LineBreaks] | None = None,
    details: Sequence[Finding] | None = None,
) -> str:
    """A readable summary: totals, the causes to fix first, then each code's first findings
    and every distinct hint. ``filtered`` describes the filter the findings passed, if any;
    ``received`` maps spec file names to the names received and ``breaks`` to their line
    breaks (for where a finding is); ``details`` (the findings with aggregated ones expanded
    to their rows) lists every row."""
    received = received or {}
    breaks = breaks or {}
    snap = result.snapshot
    summary = result.summary()
    lines = [
        f"{snap.district} snapshot {snap.id} (night {snap.seq}, {snap.taken_at:%Y-%m-%d %H:%M}): "
        + summary_text(summary, spec.severity_records(result.findings))
        + (f" (only {shown(filtered)})" if filtered else "")
    ]
    if not result.findings:
        return lines[0] + "\nno findings"
    # A finding of a root cause whose one hint is printed is fixed by that hint: its own
    # would contradict it (cedar's re-keys: "restore T-1005/SCH-002" eight times beside "do
    # not restore records one by one").
    covered = {g.cause for g in result.groups[:top_causes] if g.hint}
    if result.groups:
        lines += ["", "fix first (root causes, most records broken first):"]
        width = max((len(g.cause) for g in result.groups[:top_causes]), default=0)
        for group in result.groups[:top_causes]:
            lines.append(
                f"  {group.cause:<{width}}  {plural(group.count, 'record'):>12}  "
                + ", ".join(group.codes)
            )
            if group.hint:
                lines.append(f"      hint: {shown(group.hint)}")
        if len(result.groups) > top_causes:
            lines.append(f"  … and {plural(len(result.groups) - top_causes, 'more cause')}")
    by_code: dict[str, list[Finding]] = {}
    for f in result.findings:
        by_code.setdefault(f.code, []).append(f)
    rows_by_code: dict[str, list[Finding]] = {}
    for f in details or ():
        rows_by_code.setdefault(f.code, []).append(f)
    lines += ["", "findings by code:"]
    for code in sorted(by_code, key=lambda c: (spec.SEVERITY_RANK[by_code[c][0].severity], c)):
        found = by_code[code]
        records = sum(f.count for f in found)
        counted = f" ({plural(records, 'record')})" if records != len(found) else ""
        lines.append(f"  {found[0].severity:<7} {code} ×{len(found):,}{counted}")
        listed = rows_by_code.get(code, []) if details is not None else found[:rows_per_code]
        for f in listed:
            lines.append(f"      {_where(f, received, breaks)}{shown(f.message)}")
        if details is None and len(found) > rows_per_code:
            lines.append(f"      … and {len(found) - rows_per_code:,} more")
        hints = Counter(
            f"fixed with its root cause {f.cause} (above)" if f.cause in covered else f.hint
            for f in found
        )
        for hint, count in hints.items():
            also = f" (×{count:,})" if len(hints) > 1 else ""
            lines.append(f"      hint{also}: {shown(hint)}")
    return "\n".join(lines)


def flag_dict(snapshot_id: int, f: Finding) -> dict[str, Any]:
    return {"snapshot": snapshot_id, **f.to_dict()}


def fields_dict(matrix: FieldMatrix) -> dict[str, Any]:
    """``rosterlab fields --format json``: the field × night matrix and its flags."""
    return {
        "district": matrix.district,
        "snapshots": [s.id for s in matrix.snapshots],
        "fields": [
            {
                "entity": row.entity,
                "file": row.file,
                "field": row.field,
                "in_spec": row.in_spec,
                "required": row.required,
                "extension": row.extension,
                "present": list(row.present),
                "fill_rate": list(row.fill_rate),
                "distinct": list(row.distinct),
                "distinct_estimated": list(row.distinct_estimated),
                "pattern": list(row.pattern),
            }
            for row in matrix.fields
        ],
        "flags": [flag_dict(snapshot_id, f) for snapshot_id, f in matrix.flags],
    }


def _cell(present: bool, fill: float | None) -> str:
    if not present:
        return "·"
    if fill is None:
        return "0 rows"
    return f"{fill:.0%}"


def fields_text(matrix: FieldMatrix) -> str:
    """Fill rate per column and night (``·`` = not sent), then the flags."""
    if not matrix.snapshots:
        return f"district {matrix.district} has no snapshots"
    header = ["file", "field", "kind", *(f"#{s.id}" for s in matrix.snapshots)]
    table = [header]
    for row in matrix.fields:
        kind = "ext" if row.extension else ("spec" if row.in_spec else "unknown")
        if row.required:
            kind += " (req)"
        cells = [_cell(p, f) for p, f in zip(row.present, row.fill_rate, strict=True)]
        table.append([row.file, row.field, kind, *cells])
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = [f"{matrix.district}: fill rate per column and night (· = column not sent)", ""]
    lines += [
        "  ".join(
            cell.ljust(width) if i < 3 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in table
    ]
    if matrix.flags:
        lines += ["", "flags:"]
        lines += [
            f"  #{snapshot_id} {f.severity:<7} {f.code}: {shown(f.message)}"
            for snapshot_id, f in matrix.flags
        ]
    return "\n".join(lines)


def override_dict(item: Override) -> dict[str, Any]:
    return {
        "id": item.id,
        "district": item.district,
        "entity": item.entity,
        "key": item.key,
        "field": item.field,
        "value": item.value,
        "reason": item.reason,
        "created_at": item.created_at.isoformat(timespec="seconds"),
    }


def overrides_text(district: str, items: Sequence[Override]) -> str:
    if not items:
        return f"district {district} keeps no overrides (add one with rosterlab ledger add)"
    return "\n".join(
        f"{o.id:>4}  {o.entity} {o.key} {o.field} = {o.value!r}  ({o.reason})" for o in items
    )
