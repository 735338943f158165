"""Renderers for API pulls: text lines and JSON-ready dicts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rosterlab.api.pull import PullResult


def pull_dict(result: PullResult) -> dict[str, Any]:
    """What the pull did, whether or not it recorded a snapshot (``unchanged``: the served
    data maps to the bundle of ``matched_snapshot``, nothing new recorded). ``pages``: the
    pages its state was made of (an events pull: the base pull's and its own), kept with a new
    snapshot; ``pages_fetched``: those this pull fetched, in its ``requests``;
    ``event_cursor``: the cursor the next events pull continues from (unchanged: the target's
    newest pull's, this pull's when ``cursor_kept``: that pull took this pull's state)."""
    pull = result.pull
    unchanged = not result.ingest.new
    return {
        "target": pull.target,
        "base_url": pull.base_url,
        "version": pull.version,
        "unchanged": unchanged,
        "matched_snapshot": pull.snapshot_id if unchanged else None,
        "resumed": result.resumed,
        "events_applied_to": result.events_base,
        "events_not_applied": result.full_because,
        "event_cursor": pull.event_cursor,
        "cursor_kept": result.cursor_kept,
        "district": {
            "clever_id": pull.clever_district_id,
            "state": pull.district_state,
            "sis_type": pull.sis_type,
            "last_sync": pull.last_sync,
            "pause_start": pull.pause_start,
            "pause_end": pull.pause_end,
        },
        "scope": dict(pull.scope),
        "pages": pull.pages,
        "pages_fetched": result.fetched,
        "requests": pull.requests,
        "rate_limit_waits": pull.rate_limit_waits,
    }


def pull_text(result: PullResult) -> str:
    """The pull's requests, the district's status and what it served, then, unchanged, which
    snapshot holds that data; ``full_because``: why --events made a full pull (said whether or
    not progress is shown: a cron job asked for events and must learn it paged everything
    instead). The pages said beside the requests are those this pull fetched; an events pull
    says how many it kept from the pull it applied them to. ``cursor_kept``: the newest pull
    took the state an unchanged pull found (its pages, event cursor and district status)."""
    pull, fetched, events_base = result.pull, result.fetched, result.events_base
    served = " · ".join(f"{step} {count:,}" for step, count in pull.scope.items())
    pause = (
        f", paused {pull.pause_start} – {pull.pause_end}"
        if pull.pause_start or pull.pause_end
        else ""
    )
    lines = [
        f"  api: {pull.target} v{pull.version}, {fetched} pages in {pull.requests} "
        f"requests, {pull.rate_limit_waits} rate-limit waits"
        + (", resumed" if result.resumed else "")
        + (
            f", events applied to snapshot {events_base} "
            f"({pull.pages - fetched} pages kept from it)"
            if events_base
            else ""
        ),
        f"  district: state {pull.district_state or 'unknown'}, sis_type "
        f"{pull.sis_type or 'unknown'}, last sync {pull.last_sync or 'never'}{pause}",
        f"  served: {served}",
    ]
    if not result.ingest.new:
        lines.append(
            f"  unchanged: the served data is snapshot {pull.snapshot_id}'s; "
            + (
                "no new snapshot, its pull takes this pull's pages and event cursor: the next "
                "--events pull applies the events after it"
                if result.cursor_kept
                else "nothing new recorded"
            )
        )
    if result.full_because:
        lines.append(f"  events: not applied, a full pull instead: {result.full_because}")
    return "\n".join(lines)
