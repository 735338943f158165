"""A district's sync history at a glance: one line per night (files, rows, findings and the
records they cover)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from rosterlab import spec
from rosterlab.report.html import html_table
from rosterlab.report.snapshots import outcome_text
from rosterlab.store import ReceivedFile
from rosterlab.store.outcomes import outcome_of
from rosterlab.ui.base import wrap
from rosterlab.ui.findings import check
from rosterlab.ui.session import NightRef, Workbench


@dataclass(frozen=True)
class NightSummary:
    """What one night's upload held and what was wrong with it."""

    snapshot_id: int
    seq: int
    taken_at: datetime
    origin: str
    files: tuple[str, ...]
    notes: tuple[str, ...]  # encodings, BOMs, newline styles worth a look
    rows: tuple[tuple[str, int], ...]
    findings: tuple[tuple[str, int], ...]  # per severity
    records: tuple[tuple[str, int], ...] = ()  # per severity: the records the findings cover
    clever: str = ""  # what Clever does with the upload (processed, held, not-processed, ...)


@dataclass(frozen=True)
class SyncHistory:
    """Every night of a district (or a span of them), oldest first."""

    district: str
    nights: tuple[NightSummary, ...]

    @property
    def entities(self) -> list[str]:
        seen = {entity for night in self.nights for entity, count in night.rows if count}
        return [e for e in spec.ENTITIES if e in seen]

    def table(self) -> tuple[list[str], list[list[object]]]:
        entities = self.entities
        columns = [
            "night",
            "date",
            "origin",
            "Clever",
            *entities,
            *spec.SEVERITIES,
            "files",
            "notes",
        ]
        body: list[list[object]] = []
        for night in self.nights:
            rows, found, records = dict(night.rows), dict(night.findings), dict(night.records)
            body.append(
                [
                    night.seq,
                    f"{night.taken_at:%Y-%m-%d}",
                    night.origin,
                    night.clever,
                    *(rows.get(e, 0) for e in entities),
                    *(_found(found.get(s, 0), records.get(s)) for s in spec.SEVERITIES),
                    len(night.files),
                    "; ".join(night.notes),
                ]
            )
        return columns, body

    def _repr_html_(self) -> str:
        columns, body = self.table()
        numeric = {"night", *self.entities, *spec.SEVERITIES, "files"}
        return wrap(html_table(columns, body, numeric=numeric))

    def __repr__(self) -> str:
        columns, body = self.table()
        cells = [columns] + [[_text(v) for v in row] for row in body]
        widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
        lines = [f"SyncHistory: {self.district}, {len(self.nights)} nights"]
        lines += [
            "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in cells
        ]
        return "\n".join(lines)


def _found(findings: int, records: int | None) -> int | str:
    """A severity's findings, and the records they cover where those differ (as ``check``)."""
    if records is None or records == findings:
        return findings
    return f"{findings:,} ({records:,} records)"


def _text(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _notes(files: Sequence[ReceivedFile]) -> list[str]:
    notes = []
    newlines = {f.newline for f in files if f.newline}
    for f in files:
        if f.spec_name is None:
            notes.append(f"{f.name}: not a file name Clever reads")
        elif f.spec_name != f.name:
            notes.append(f"{f.name}: should be {f.spec_name}")
        if f.encoding and f.encoding not in ("utf-8", "utf-8-sig"):
            notes.append(f"{f.name}: {f.encoding}")
        if f.bom:
            notes.append(f"{f.name}: BOM")
    if len(newlines) > 1:
        notes.append("mixed newlines: " + ", ".join(sorted(newlines)))
    return notes


def sync_history(bench: Workbench, nights: Sequence[NightRef] | None = None) -> SyncHistory:
    """One :class:`NightSummary` per night of ``nights`` (None: all): files, rows, findings."""
    summaries = []
    for snap in bench.span(nights):
        files = bench.store.received_files(snap.id)
        result = check(bench, snap.id)
        summaries.append(
            NightSummary(
                snapshot_id=snap.id,
                seq=snap.seq,
                taken_at=snap.taken_at,
                origin=snap.origin,
                files=tuple(f.name for f in files),
                notes=tuple(_notes(files)),
                rows=tuple(bench.store.snapshot_rows(snap.id).items()),
                findings=tuple(result.severity_counts().items()),
                records=tuple(spec.severity_records(result.findings).items()),
                clever=outcome_text(outcome_of(bench.store, snap.id)),
            )
        )
    return SyncHistory(bench.district, tuple(summaries))
