"""Render ingest results and snapshot listings (the shapes in the CLI contract)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from rosterlab import spec
from rosterlab.report.text import shown
from rosterlab.spec import Finding, plural
from rosterlab.spec.findings import HELD as HOLD_CONSEQUENCE
from rosterlab.spec.findings import NOT_PROCESSED as NOT_PROCESSED_CONSEQUENCE
from rosterlab.store import DATED_BY, IngestResult, SnapshotInfo
from rosterlab.store.outcomes import HELD, NOT_PROCESSED, SERVED, UploadOutcome


def _iso(value: Any) -> str:
    return value.isoformat(timespec="seconds")


def ingest_dict(result: IngestResult, outcome: UploadOutcome) -> dict[str, Any]:
    snap = result.snapshot
    return {
        **outcome.as_dict(),
        "snapshot": {
            "id": snap.id,
            "district": snap.district,
            "seq": snap.seq,
            "taken_at": _iso(snap.taken_at),
            "bundle_sha256": snap.bundle_sha256,
            "new": result.new,
            "taken_at_from": result.dated_by,
        },
        "findings_summary": result.severity_counts(),
        "records_summary": spec.severity_records(result.findings),
    }


def snapshot_dict(
    snap: SnapshotInfo, rows: Mapping[str, int], outcome: UploadOutcome
) -> dict[str, Any]:
    return {
        "id": snap.id,
        "district": snap.district,
        "seq": snap.seq,
        "taken_at": _iso(snap.taken_at),
        "origin": snap.origin,
        "sync_type": snap.sync_type,
        "bundle_sha256": snap.bundle_sha256,
        **outcome.as_dict(),
        "rows": dict(rows),
    }


def outcome_text(outcome: UploadOutcome, *, short: bool = False) -> str:
    """``processed, 3 rows skipped``, ``held (hold: students deletion)``, ``not-processed (…)``,
    then the rows Clever may skip: ``…, 2 rows may be skipped (unconfirmed)``, and those the
    skips carry with them: ``…, 16 rows carried with skipped records``. A pull from the Data
    API skips nothing: ``served (pulled from the Data API), 4 findings describe served records``.

    ``short``: the outcome and the skipped rows only (a table cell: ``…, 16 rows carried``,
    ``served, 4 findings``).
    """
    skipped, may_skip = outcome.skipped_rows(), outcome.may_skip_rows()
    text = outcome.outcome + (f", {plural(skipped, 'row')} skipped" if skipped else "")
    if outcome.reason and not short:
        text += f" ({outcome.reason})"
    if may_skip:
        text += f", {plural(may_skip, 'row')} may be skipped (unconfirmed)"
    if carried := outcome.carried_rows():
        text += f", {plural(carried, 'row')} carried" + ("" if short else " with skipped records")
    if outcome.served_findings:
        text += f", {plural(outcome.served_findings, 'finding')}" + (
            ""
            if short
            else f" describe{'s' if outcome.served_findings == 1 else ''} served records"
        )
    return text


# What an outcome Clever does not simply apply means, in the catalogue's words.
OUTCOME_MEANS = {HELD: HOLD_CONSEQUENCE, NOT_PROCESSED: NOT_PROCESSED_CONSEQUENCE}


def night_outcome_text(outcome: str, reason: str | None) -> str:
    """A night's outcome beside what happened on it (a record's timeline): ``Clever: held
    (hold: teachers deletion): sync held until the district approves it (…)``."""
    return (
        f"Clever: {outcome}"
        + (f" ({reason})" if reason else "")
        + (f": {OUTCOME_MEANS[outcome]}" if outcome in OUTCOME_MEANS else "")
    )


HOLD_THRESHOLDS = (("hold_deletion_threshold", "deleted"), ("hold_update_threshold", "updated"))


def outcome_sentence(outcome: UploadOutcome) -> str:
    """What Clever did with an upload and the thresholds that decided it, in one sentence (the
    CLI, the HTML pages and the widgets): ``Clever: held, 1 row skipped (hold: teachers
    deletion); hold thresholds 5% deleted, 75% updated``; a pull from the Data API (``served``)
    is never held: no thresholds."""
    settings = dict(outcome.settings) if outcome.outcome != SERVED else {}
    thresholds = [f"{settings[key]:.0%} {word}" for key, word in HOLD_THRESHOLDS if key in settings]
    return f"Clever: {outcome_text(outcome)}" + (
        f"; hold thresholds {', '.join(thresholds)}" if thresholds else ""
    )


def outcome_lines(outcome: UploadOutcome) -> list[str]:
    """The outcome, then one line per file and reason of skipped rows (a pull: that its
    findings' records are served as they are)."""
    lines = ["Clever: " + outcome_text(outcome)]
    lines += [f"  {s.file}: {plural(s.rows, 'row')} skipped ({s.code})" for s in outcome.skipped]
    lines += [
        f"  {s.file}: {plural(s.rows, 'row')} may be skipped ({s.code}: consequence unconfirmed)"
        for s in outcome.may_skip
    ]
    lines += [
        f"  {s.file}: {plural(s.rows, 'row')} may be skipped with the skipped {s.by} they name "
        f"({s.code}: consequence unconfirmed)"
        for s in outcome.carried
    ]
    if outcome.outcome == SERVED and outcome.served_findings:
        lines.append(f"  {SERVED_RECORDS}")
    return lines


# Under a pull's findings: they describe records Clever serves (a blank required value served).
SERVED_RECORDS = (
    "Clever already applied it and serves these records as they are (reconcile compares them "
    "with an upload)"
)


def summary_text(summary: Mapping[str, int], records: Mapping[str, int] | None = None) -> str:
    """``0 errors, 502 warnings (749 records), 2 info``: findings per severity and, where they
    differ, the records they stand for (``records``: :func:`rosterlab.spec.severity_records`).
    Only the severities ``summary`` names are said."""
    parts = []
    for severity in (s for s in spec.SEVERITIES if s in summary):
        found = summary[severity]
        counted = f"{found:,} info" if severity == "info" else plural(found, severity)
        if records is not None and records[severity] != found:
            counted += f" ({plural(records[severity], 'record')})"
        parts.append(counted)
    return ", ".join(parts)


def ingest_text(result: IngestResult, rows: Mapping[str, int], outcome: UploadOutcome) -> str:
    snap = result.snapshot
    state = "new" if result.new else "already ingested, unchanged"
    lines = [
        f"{snap.district} {snap.taken_at:%Y-%m-%d %H:%M} → snapshot {snap.id} "
        f"(night {snap.seq}, {state})",
    ]
    if result.new and result.dated_by not in ("given", "name"):
        lines.append(f"  taken_at: from {DATED_BY[result.dated_by]}")
    if result.new and result.dated_by in ("mtime", "now"):
        lines.append(
            f"    wrong? rosterlab snapshots redate {snap.id} --taken-at YYYY-MM-DDTHH:MM, or "
            "name the bundle's folder or zip after its night (YYYY-MM-DD)"
        )
    lines += [
        "  rows: " + " · ".join(f"{entity} {count:,}" for entity, count in rows.items()),
        *(f"  {line}" for line in outcome_lines(outcome)),
        "  findings: "
        + summary_text(result.severity_counts(), spec.severity_records(result.findings)),
    ]
    lines += [f"    {line}" for line in findings_by_code(result.findings)]
    return "\n".join(lines)


def findings_by_code(findings: Sequence[Finding]) -> list[str]:
    """One line per finding code, most severe first: ``error  missing-file ×2: <first message>``."""
    counts = Counter(f.code for f in findings)
    first: dict[str, Finding] = {}
    for f in findings:
        first.setdefault(f.code, f)
    codes = sorted(counts, key=lambda c: (spec.SEVERITY_RANK[first[c].severity], c))
    return [f"{first[c].severity:<7} {c} ×{counts[c]}: {shown(first[c].message)}" for c in codes]


def snapshots_text(items: Sequence[tuple[SnapshotInfo, Mapping[str, int], UploadOutcome]]) -> str:
    """The snapshots table (an empty store: how to start)."""
    if not items:
        return "no snapshots yet: ingest a bundle with rosterlab ingest"
    entities = list(items[0][1]) if items else []
    header = ["id", "district", "night", "taken_at", "origin", "outcome", *entities]
    table = [header]
    for snap, rows, outcome in items:
        table.append(
            [
                str(snap.id),
                snap.district,
                str(snap.seq),
                f"{snap.taken_at:%Y-%m-%d %H:%M}",
                snap.origin,
                outcome_text(outcome, short=True),
                *(f"{rows.get(e, 0):,}" for e in entities),
            ]
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i < 6 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in table
    )
