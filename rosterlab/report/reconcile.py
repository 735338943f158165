"""Renderers for reconcile: upload vs served as text and as a JSON-ready dict."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rosterlab import spec
from rosterlab.api.reconcile import ReconcileResult
from rosterlab.report.html import PAGE_STYLE, esc, html_table
from rosterlab.report.snapshots import outcome_sentence
from rosterlab.report.text import shown
from rosterlab.store.outcomes import SERVED_REASON


def _snapshot(result: ReconcileResult, which: str) -> dict[str, Any]:
    snap = result.upload if which == "upload" else result.served
    return {
        "id": snap.id,
        "seq": snap.seq,
        "origin": snap.origin,
        "taken_at": snap.taken_at.isoformat(timespec="seconds"),
    }


def reconcile_dict(result: ReconcileResult) -> dict[str, Any]:
    outcome = result.upload_outcome
    upload = _snapshot(result, "upload")
    if outcome is not None:
        upload |= {**outcome.as_dict(), "settings": dict(outcome.settings)}
    return {
        "district": result.district,
        "upload": upload,
        "served": {**_snapshot(result, "served"), "api_version": result.version},
        "entities": [
            {
                "entity": e.entity,
                "uploaded": e.uploaded,
                "served": e.served,
                "matched": e.matched,
                "identical": e.identical,
            }
            for e in result.entities
        ],
        "differences": dict(result.totals),
        "unexplained": result.unexplained,
        "truncated": result.truncated,
        "findings": [f.to_dict() for f in result.findings],
    }


def reconcile_text(result: ReconcileResult, *, details: bool = False) -> str:
    up, served = result.upload, result.served
    lines = [
        f"{result.district}: upload snapshot {up.id} ({up.taken_at:%Y-%m-%d %H:%M}) vs served "
        f"snapshot {served.id} (API v{result.version}, {served.taken_at:%Y-%m-%d %H:%M})",
        *([f"  {shown(outcome_sentence(result.upload_outcome))}"] if result.upload_outcome else []),
        f"  {'entity':<12} {'uploaded':>9} {'served':>9} {'matched':>9} {'identical':>9}",
    ]
    for e in result.entities:
        lines.append(
            f"  {e.entity:<12} {e.uploaded:>9,} {e.served:>9,} {e.matched:>9,} {e.identical:>9,}"
        )
    total = sum(count for _, count in result.totals)
    if not total:
        lines.append("  no differences: Clever serves exactly what was uploaded")
        return "\n".join(lines)
    lines.append(
        f"  differences: {total:,} ({result.unexplained:,} unexplained)"
        + (" — details truncated, counts exact" if result.truncated else "")
    )
    lines += [f"    {line}" for line in _differences_by_code(result)]
    if details:
        lines.append("  details:")
        lines += [f"    {f.severity:<7} {f.code}: {shown(f.message)}" for f in result.findings]
    return "\n".join(lines)


def _differences_by_code(result: ReconcileResult) -> list[str]:
    """One line per code, most severe first: its differences (they add up to the total; a
    finding may stand for several, 'references served empty: 4') and its first message."""
    first: dict[str, str] = {}
    for f in result.findings:
        first.setdefault(f.code, f.message)
    codes = sorted(result.totals, key=lambda t: (spec.SEVERITY_RANK[_severity(t[0])], t[0]))
    return [
        f"{_severity(code):<7} {code} ×{count:,}"
        + (f": {shown(first[code])}" if code in first else "")
        for code, count in codes
    ]


def _severity(code: str) -> str:
    return spec.CATALOGUE[code].severity


def _records_table(result: ReconcileResult) -> str:
    """Per entity: records uploaded, served, matched by key and served identical."""
    return html_table(
        ("entity", "uploaded", "served", "matched", "identical"),
        (
            (e.entity, f"{e.uploaded:,}", f"{e.served:,}", f"{e.matched:,}", f"{e.identical:,}")
            for e in result.entities
        ),
        numeric=("uploaded", "served", "matched", "identical"),
    )


def reconcile_html(result: ReconcileResult) -> str:
    """One self-contained page (inline style, no scripts); every value escaped."""
    up, served = result.upload, result.served
    title = f"rosterlab reconcile — {result.district}"
    total = sum(count for _, count in result.totals)
    severity = {f.code: f.severity for f in result.findings}
    shown_per_code = Counter(f.code for f in result.findings)
    parts = [
        f"<p>upload snapshot {up.id} ({up.taken_at:%Y-%m-%d %H:%M}) vs served snapshot "
        f"{served.id} (API v{esc(result.version)}, {served.taken_at:%Y-%m-%d %H:%M})</p>",
        f"<p>{esc(outcome_sentence(result.upload_outcome))}</p>" if result.upload_outcome else "",
        "<h2>Records</h2>",
        _records_table(result),
        "<h2>Differences</h2>",
    ]  # fmt: skip
    if not total:
        parts.append('<p class="muted">No differences: Clever serves what was uploaded.</p>')
    else:
        parts.append(
            f"<p>{total:,} differences, {result.unexplained:,} unexplained"
            + (" (details truncated; counts exact)" if result.truncated else "")
            + "</p>"
        )
        parts.append(
            html_table(
                ("code", "severity", "differences", "listed"),
                (
                    (code, severity[code], f"{count:,}", f"{shown_per_code[code]:,}")
                    for code, count in result.totals
                ),
                numeric=("differences", "listed"),
            )
        )
        parts += [
            "<h2>Details</h2>",
            html_table(
                ("severity", "code", "entity", "key", "field", "message", "hint"),
                (
                    (f.severity, f.code, f.entity or "", f.key or "", f.field or "", f.message,
                     f.hint)
                    for f in result.findings
                ),
            ),
        ]  # fmt: skip
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{PAGE_STYLE}</style></head><body>"
        f"<h1>{esc(title)}</h1>\n" + "\n".join(parts) + "\n</body></html>\n"
    )


def served_summary(result: ReconcileResult) -> tuple[str, str]:
    """(HTML, text) for a report whose night is a pull: what Clever serves against the upload
    it served from, counted per entity and per reason, without a record's values (nothing to
    redact). A diff of the two would call every skipped record removed and every field the
    Data API never serves changed."""
    up, served = result.upload, result.served
    lead = (
        f"Night {served.seq} is what Clever serves ({SERVED_REASON} v{result.version} on "
        f"{served.taken_at:%Y-%m-%d}), not an upload: compared with the upload of night "
        f"{up.seq} ({up.taken_at:%Y-%m-%d}), each difference with its reason."
    )
    outcome = (
        f"The upload of night {up.seq} — {outcome_sentence(result.upload_outcome)}."
        if result.upload_outcome
        else ""
    )
    total = sum(count for _, count in result.totals)
    reasons = [
        (code, spec.CATALOGUE[code].severity, spec.CATALOGUE[code].title, count)
        for code, count in result.totals
    ]
    page = "".join(
        [
            f"<p>{esc(lead)}</p>",
            f"<p>{esc(outcome)}</p>" if outcome else "",
            "<h3>Records</h3>",
            _records_table(result),
            "<h3>Differences</h3>",
            f"<p>{total:,} differences, {result.unexplained:,} unexplained</p>",
            html_table(
                ("code", "severity", "meaning", "differences"),
                ((c, sev, title, f"{n:,}") for c, sev, title, n in reasons),
                numeric=("differences",),
                empty="none: Clever serves what was uploaded",
            ),
        ]
    )  # fmt: skip
    lines = [lead, *([outcome] if outcome else [])]
    lines += [
        f"  {'entity':<12} {'uploaded':>9} {'served':>9} {'matched':>9} {'identical':>9}",
        *(
            f"  {e.entity:<12} {e.uploaded:>9,} {e.served:>9,} {e.matched:>9,} {e.identical:>9,}"
            for e in result.entities
        ),
        f"  differences: {total:,} ({result.unexplained:,} unexplained)",
        *(f"    {sev:<7} {c} ×{n:,}: {title}" for c, sev, title, n in reasons),
    ]
    return page, "\n".join(lines)
