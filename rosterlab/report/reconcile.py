"""Renderers for reconcile: upload vs served as text and as a JSON-ready dict."""

from __future__ import annotations

from typing import Any

from rosterlab.api.reconcile import ReconcileResult
from rosterlab.report.snapshots import findings_by_code
from rosterlab.report.text import shown


def _snapshot(result: ReconcileResult, which: str) -> dict[str, Any]:
    snap = result.upload if which == "upload" else result.served
    return {
        "id": snap.id,
        "seq": snap.seq,
        "origin": snap.origin,
        "taken_at": snap.taken_at.isoformat(timespec="seconds"),
    }


def reconcile_dict(result: ReconcileResult) -> dict[str, Any]:
    return {
        "district": result.district,
        "upload": _snapshot(result, "upload"),
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
    lines += [f"    {line}" for line in findings_by_code(result.findings)]
    if details:
        lines.append("  details:")
        lines += [f"    {f.severity:<7} {f.code}: {shown(f.message)}" for f in result.findings]
    return "\n".join(lines)
