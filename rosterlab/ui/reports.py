"""Static displays for the district report: HTML for notebooks and the exported page, text for
nbval. No widgets here: the report is read in a mail client, not in JupyterLab. ``redact=True``
masks personal data (see :mod:`rosterlab.report.html_report` and :mod:`rosterlab.report.diff`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rosterlab.api.reconcile import reconcile
from rosterlab.diff import HoldThresholds, diff_snapshots
from rosterlab.report.diff import diff_fragment, diff_text
from rosterlab.report.html import esc
from rosterlab.report.html_report import findings_fragment, flags_fragment
from rosterlab.report.reconcile import served_summary
from rosterlab.store import SnapshotInfo
from rosterlab.store.outcomes import API_ORIGIN, NOT_PROCESSED, live_before, outcome_of
from rosterlab.ui.base import wrap
from rosterlab.ui.fields import matrix_for
from rosterlab.ui.findings import check
from rosterlab.ui.picker import night_text
from rosterlab.ui.session import NightRef, Workbench


@dataclass(frozen=True)
class Static:
    """A display with an HTML and a text form."""

    html: str
    text: str

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text


# Where a district's roster comes from, by its sync type: a Clever-managed district uploads
# nothing (Clever reads its SIS), so its nights are exports kept for support and the pulls of
# what Clever's Data API serves.
ROSTER_SOURCES = {
    "sftp": "the roster files your district uploads to Clever over SFTP every night",
    "sis-managed": "the roster files your student information system uploads to Clever every night",
    "clever-managed": (
        "your student information system's roster, which Clever reads from it itself "
        "(Clever-managed auto sync: you upload nothing) — nightly exports of your SIS and, "
        "where pulled, what Clever's Data API serves"
    ),
}


def intro(bench: Workbench) -> Static:
    """The report's opening paragraph, worded for how the district's roster reaches Clever."""
    text = (
        f"This report was prepared from {ROSTER_SOURCES[bench.settings.sync_type]}. It shows how "
        "your roster changed from night to night, whether Clever is likely to hold (pause) your "
        "sync, the problems in the latest night that Clever would not process, skip or misread "
        "— grouped by root cause, so that fixing one cause clears many records — and which "
        "fields you send."
    )
    return Static(f"<p>{esc(text)}</p>", text)


# The heading over the district's history, by its sync type: a Clever-managed district's nights
# are exports of the roster Clever reads and pulls of what it serves, not uploads.
HISTORY_HEADINGS = {
    "sftp": "Your uploads, night by night",
    "sis-managed": "Your SIS's uploads, night by night",
    "clever-managed": "Your roster as Clever holds it, night by night",
}


def history_heading(bench: Workbench) -> Static:
    """The heading over the sync history, records and churn, worded for the sync type."""
    text = HISTORY_HEADINGS[bench.settings.sync_type]
    return Static(f"<h2>{esc(text)}</h2>", text)


def title(bench: Workbench, nights: Sequence[NightRef] | None = None) -> Static:
    """The report's heading: the district and the two nights it compares."""
    old, new = bench.pair(nights)
    name = bench.settings.name or bench.district
    text = f"{name} ({bench.district}): {_night(old)} → {_night(new)}"
    return Static(f"<h2>{esc(text)}</h2>", text)


def _night(snap: SnapshotInfo) -> str:
    """``night 9 (2026-12-06)``, and for a pull ``night 9 (2026-12-06, what Clever serves)``."""
    served = ", what Clever serves" if snap.origin == API_ORIGIN else ""
    return f"{night_text(snap)[:-1]}{served})"


def diff_summary(
    bench: Workbench, nights: Sequence[NightRef] | None = None, *, redact: bool = False
) -> Static:
    """What changed between two nights and whether Clever will hold it (no row-level detail).

    An upload and a pull of what Clever serves are reconciled instead: a diff would call
    every record Clever skipped removed and every field the Data API never serves changed."""
    old, new = bench.pair(nights)
    if new.origin == API_ORIGIN and old.origin != API_ORIGIN:
        outcome = outcome_of(bench.store, old.id)
        if outcome.outcome != NOT_PROCESSED:
            page, text = served_summary(
                reconcile(bench.store, bench.district, upload=old.id, served=new.id)
            )
            return Static(wrap(page), text)
        return _from_not_processed(bench, old, new, outcome.reason)
    result = diff_snapshots(
        bench.store, bench.district, old.id, new.id, thresholds=HoldThresholds.of(bench.settings)
    )
    return Static(wrap(diff_fragment(result, redact=redact)), diff_text(result, redact=redact))


def _from_not_processed(
    bench: Workbench, old: SnapshotInfo, new: SnapshotInfo, reason: str
) -> Static:
    """An upload Clever did not process → a pull: Clever never served the upload, and kept
    serving the state before it (``kept``). The pull is compared with that state when it is
    still what the pull serves from; when Clever processed a later upload before the pull, the
    pull shows that one's state, not the named night's, and the report says so instead of
    comparing (with the two comparisons that do answer)."""
    store = bench.store
    kept = live_before(store, old)
    between = [
        s
        for s in store.snapshots(bench.district)
        if s.origin != API_ORIGIN and old.seq < s.seq < new.seq and outcome_of(store, s.id).applied
    ]
    said = (
        f"Clever did not process the upload of {night_text(old)} ({reason}), so it never served it"
    )
    if kept is not None and not between:
        page, text = served_summary(reconcile(store, bench.district, upload=kept.id, served=new.id))
        note = (
            f"{said}: it kept serving {night_text(kept)}'s state, which what Clever serves is "
            "compared with."
        )
        return Static(wrap(f"<p>{esc(note)}</p>{page}"), f"{note}\n{text}")
    state = f"it kept serving {night_text(kept)}'s state" if kept else "it served no upload yet"
    pull = _night(new)
    if not between:
        note = f"{said}, and {state}: there is no upload of it to compare {pull} with."
        return Static(wrap(f"<p>{esc(note)}</p>"), note)
    last = between[-1]
    note = (
        f"{said}, and {state}. {pull[0].upper()}{pull[1:]} comes after "
        f"{', '.join(night_text(s) for s in between)}, which Clever applied: it shows "
        f"{night_text(last)}'s state, not what Clever served at {night_text(old)}, so the two "
        f"are not compared. Compare {night_text(last)} with it"
        + (
            f", or {night_text(kept)} with {night_text(old)} for what Clever kept then."
            if kept
            else "."
        )
    )
    return Static(wrap(f"<p>{esc(note)}</p>"), note)


def night_findings(bench: Workbench, ref: NightRef = "latest", *, redact: bool = False) -> Static:
    """One night's findings: counts, root causes (biggest first), the first findings, hints."""
    result = check(bench, ref)
    breaks = bench.store.line_breaks(result.snapshot.id)
    page, text = findings_fragment(result, redact=redact, breaks=breaks)
    return Static(wrap(page), text)


def field_flags(
    bench: Workbench, nights: Sequence[NightRef] | None = None, *, redact: bool = False
) -> Static:
    """The field-customization flags of each night (columns dropped, added, emptied, reshaped)."""
    page, text = flags_fragment(matrix_for(bench, nights), redact=redact)
    return Static(wrap(page), text)
