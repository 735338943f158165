"""A fleet night as text and as a JSON-ready dict (the CLI prints them)."""

from __future__ import annotations

from typing import Any

from rosterlab.fleet.model import DistrictRun, FleetRun
from rosterlab.report.fleet import pulled_text

BAR_WIDTH = 24


def progress_line(done: int, total: int, run: DistrictRun) -> str:
    """``[#########---------------]  3/8 districts  maple: held`` for the stderr progress."""
    filled = BAR_WIDTH * done // total if total else BAR_WIDTH
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    state = "already done" if run.already_done else run.outcome
    return f"[{bar}] {done:>{len(str(total))}}/{total} districts  {run.district}: {state}"


def _where(run: FleetRun) -> str:
    if run.workers == 0:
        return "serially (no Dask)"
    return f"on {run.workers} Dask worker{'' if run.workers == 1 else 's'}"


def pulled(run: DistrictRun) -> str | None:
    """How a Data API district's night was pulled (None: not pulled from the Data API)."""
    if run.api is None:
        return None
    api = run.api
    return pulled_text(
        run.snapshot_id,
        run.unchanged,
        api.by,
        api.pages,
        api.events_applied_to,
        api.events_not_applied,
    )


def fleet_run_text(run: FleetRun, results: str) -> str:
    """The night in a few lines: counts per outcome, every failed district and why, then how
    each Data API district's night was pulled."""
    counts = ", ".join(f"{outcome} {n}" for outcome, n in run.counts().items())
    done = sum(d.already_done for d in run.districts)
    lines = [
        f"night {run.night.isoformat()}: {len(run.districts)} districts {_where(run)}: {counts}"
        + (f" ({done} already done before this run)" if done else "")
    ]
    if run.failures:
        lines.append(f"failed ({len(run.failures)}; the other districts ran):")
        lines += [f"  {d.district}: {d.reason}" for d in run.failures]
    api = [(d.district, told) for d in run.districts if (told := pulled(d)) is not None]
    if api:
        lines.append(f"pulled from the Data API ({len(api)}):")
        lines += [f"  {district}: {told}" for district, told in api]
    lines.append(f"results: {results}")
    return "\n".join(lines)


def fleet_run_dict(run: FleetRun, results: str) -> dict[str, Any]:
    return {
        "night": run.night.isoformat(),
        "workers": run.workers,
        "dashboard": run.dashboard,
        "results": results,
        "counts": run.counts(),
        "failed": [d.district for d in run.failures],
        "districts": [
            {
                "district": d.district,
                "outcome": d.outcome,
                "reason": d.reason,
                "snapshot_id": d.snapshot_id,
                "attempts": d.attempts,
                "already_done": d.already_done,
                "seconds": round(d.seconds, 3),
                "unchanged": d.unchanged,
                "api": None
                if d.api is None
                else {
                    "pulled_by": d.api.by,
                    "pages_fetched": d.api.pages,
                    "events_applied_to": d.api.events_applied_to,
                    "events_not_applied": d.api.events_not_applied,
                },
            }
            for d in run.districts
        ],
    }
