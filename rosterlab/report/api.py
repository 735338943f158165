"""Renderers for API pulls: text lines and JSON-ready dicts."""

from __future__ import annotations

from typing import Any

from rosterlab.store.api_pulls import ApiPull


def pull_dict(
    pull: ApiPull | None,
    resumed: bool,
    events_base: int | None,
    full_because: str | None,
    fetched: int,
) -> dict[str, Any] | None:
    """``pages``: the pages the snapshot keeps (an events pull: the base pull's and its own);
    ``pages_fetched``: those this pull fetched, in its ``requests``."""
    if pull is None:
        return None
    return {
        "target": pull.target,
        "base_url": pull.base_url,
        "version": pull.version,
        "resumed": resumed,
        "events_applied_to": events_base,
        "events_not_applied": full_because,
        "event_cursor": pull.event_cursor,
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
        "pages_fetched": fetched,
        "requests": pull.requests,
        "rate_limit_waits": pull.rate_limit_waits,
    }


def pull_text(
    pull: ApiPull | None,
    resumed: bool,
    events_base: int | None,
    full_because: str | None,
    fetched: int,
    cursor_kept: bool,
) -> str:
    """``full_because``: why --events made a full pull (said whether or not progress is shown:
    a cron job asked for events and must learn it paged everything instead). The pages said
    beside the requests are those this pull fetched (``fetched``); an events pull says how
    many it kept from the pull it applied them to. ``cursor_kept``: an unchanged pull fetched
    the very pages of the newest pull, which takes its event cursor."""
    fallback = f"  events: not applied, a full pull instead: {full_because}" if full_because else ""
    if pull is None:
        unchanged = (
            "  api: served data unchanged since the newest snapshot; nothing new recorded"
            + (
                " but its event cursor: the next --events pull applies the events after it"
                if cursor_kept
                else ""
            )
        )
        return "\n".join(line for line in (unchanged, fallback) if line)
    served = " · ".join(f"{step} {count:,}" for step, count in pull.scope.items())
    pause = (
        f", paused {pull.pause_start} – {pull.pause_end}"
        if pull.pause_start or pull.pause_end
        else ""
    )
    return "\n".join(
        [
            f"  api: {pull.target} v{pull.version}, {fetched} pages in {pull.requests} "
            f"requests, {pull.rate_limit_waits} rate-limit waits"
            + (", resumed" if resumed else "")
            + (
                f", events applied to snapshot {events_base} "
                f"({pull.pages - fetched} pages kept from it)"
                if events_base
                else ""
            ),
            f"  district: state {pull.district_state or 'unknown'}, sis_type "
            f"{pull.sis_type or 'unknown'}, last sync {pull.last_sync or 'never'}{pause}",
            f"  served: {served}",
            *([fallback] if fallback else []),
        ]
    )
