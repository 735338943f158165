"""Findings as a CSV a support engineer can hand over (spreadsheet-safe).

A function over findings, so any list of them (a night's, a filtered set, aggregated ones) can
be exported. Columns: file, line (as an editor counts it: the header is line 1), entity, key,
field, value, code, severity, message, hint, cause, count (the records a finding stands for: 1
for a row, more for an aggregated finding, whose line is its first).
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from rosterlab import spec
from rosterlab.report.html import esc
from rosterlab.spec import Finding
from rosterlab.spec.lines import LineBreaks

if TYPE_CHECKING:
    from rosterlab.store import Store

CSV_COLUMNS = (
    "file",
    "line",
    "entity",
    "key",
    "field",
    "value",
    "code",
    "severity",
    "message",
    "hint",
    "cause",
    "count",
)


def spreadsheet_safe(text: str) -> str:
    """A cell a spreadsheet shows as text: a value starting with one of
    :data:`~rosterlab.spec.FORMULA_STARTS` gets a leading single quote (the SQL form for
    ``changes.csv`` is :func:`rosterlab.store.sql.spreadsheet_safe_sql`)."""
    return "'" + text if text.startswith(spec.FORMULA_STARTS) else text


def finding_file(f: Finding, received: Mapping[str, str]) -> str:
    """The file a finding is in: the received name of its entity's spec file (``received``
    maps spec names to received names), else the spec name; blank for bundle-wide findings."""
    if f.entity not in spec.ENTITIES:
        return ""
    spec_name = spec.ENTITIES[f.entity].file
    return received.get(spec_name, spec_name)


def finding_line(f: Finding, lines: Mapping[str, LineBreaks]) -> int | None:
    """The line of a finding's row as an editor counts it (the header is line 1): its file's
    line breaks inside quoted values (``lines`` maps spec names to them) added to row + 1."""
    if f.row is None:
        return None
    breaks = lines.get(spec.ENTITIES[f.entity].file) if f.entity in spec.ENTITIES else None
    return f.row + 1 if breaks is None else breaks.line(f.row)


def findings_csv(
    findings: Iterable[Finding],
    received: Mapping[str, str],
    lines: Mapping[str, LineBreaks] | None = None,
) -> str:
    """CSV text (header first, CRLF line ends as RFC 4180) of ``findings`` in their order;
    ``lines`` places their rows on lines (:meth:`Store.line_breaks`)."""
    lines = lines or {}
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for f in findings:
        cells = (
            finding_file(f, received),
            "" if f.row is None else str(finding_line(f, lines)),
            f.entity,
            f.key,
            f.field,
            f.value,
            f.code,
            f.severity,
            f.message,
            f.hint,
            f.cause,
            str(f.count),
        )
        writer.writerow(["" if cell is None else spreadsheet_safe(cell) for cell in cells])
    return stream.getvalue()


def received_names(store: Store, snapshot_id: int) -> dict[str, str]:
    """Spec name → the name the file was received under, for one snapshot."""
    files = store.snapshot_files(snapshot_id)
    return {
        row["spec_name"]: row["name"]
        for row in files.select("spec_name", "name").iter_rows(named=True)
        if row["spec_name"] is not None
    }


def csv_download_link(csv_text: str, filename: str, label: str = "Download CSV") -> str:
    """An HTML link that saves ``csv_text`` as ``filename`` (a ``data:`` URI: works offline,
    in an emailed report and in a notebook output alike; no script)."""
    payload = base64.b64encode(csv_text.encode("utf-8-sig")).decode("ascii")
    return (
        f'<a class="rl-download" download="{esc(filename)}" '
        f'href="data:text/csv;charset=utf-8;base64,{payload}">{esc(label)}</a>'
    )


def findings_filename(district: str, seq: int) -> str:
    """``maple-night-3-findings.csv`` (the district id made file-name safe)."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in district)
    return f"{safe}-night-{seq}-findings.csv"
