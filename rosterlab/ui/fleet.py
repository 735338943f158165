"""The fleet's morning overview for a notebook: static displays (HTML, and text for nbval).

>>> status = fleet_status_of("rosterlab.toml")      # the latest night with results
>>> call_first(status); predicted_holds(status); outcome_grid(status); error_trends(status)
>>> api_pulls(status)                               # how each Data API district was pulled
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from rosterlab.config import load_settings
from rosterlab.fleet import load_fleet
from rosterlab.report import fleet as render
from rosterlab.report.html import esc
from rosterlab.store.fleet_results import NIGHTS_SHOWN, FleetStatus, fleet_status
from rosterlab.ui.base import wrap
from rosterlab.ui.reports import Static


def fleet_status_of(
    config: str | Path, night: date | None = None, nights: int = NIGHTS_SHOWN
) -> FleetStatus:
    """The status of the fleet of ``config`` (a rosterlab.toml with ``[fleet]``) for ``night``."""
    settings = load_settings(config=str(config))
    fleet = load_fleet(settings)
    return fleet_status(
        fleet.root,
        night,
        nights,
        paths_from=Path(config).parent,
        fleet=[d.district for d in fleet.districts],
    )


def call_first(status: FleetStatus) -> Static:
    """Tonight's counts and the districts to call first, in call order."""
    text = render.headline_text(status) + "\n\n" + render.call_first_text(status)
    headline = f"<p>{esc(render.headline_text(status))}</p>"
    return Static(wrap(headline + render.call_first_html(status)), text)


def predicted_holds(status: FleetStatus) -> Static:
    return Static(wrap(render.holds_html(status)), render.holds_text(status))


def outcome_grid(status: FleetStatus) -> Static:
    """Every district's outcome per night (the text lists those with a night not processed)."""
    return Static(wrap(render.grid_html(status)), render.grid_text(status))


def error_trends(status: FleetStatus) -> Static:
    return Static(wrap(render.trends_html(status)), render.trends_text(status))


def api_pulls(status: FleetStatus) -> Static:
    """How each Data API district's night was pulled: by events or in full (and why)."""
    return Static(wrap(render.api_pulls_html(status)), render.api_pulls_text(status))
