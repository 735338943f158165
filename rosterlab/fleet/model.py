"""The fleet and what a night's run did, as frozen records."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from rosterlab.config import FleetDistrict, Settings
from rosterlab.store.fleet_results import FAILED
from rosterlab.store.outcomes import HELD, NOT_PROCESSED

# ``fleet run --fail-on``: an outcome and every one before it makes the run exit 1 (most
# serious first: nothing of tonight was read, Clever does not process it, Clever holds it).
FAIL_ON = (FAILED, NOT_PROCESSED, HELD)


@dataclass(frozen=True)
class Fleet:
    """Every district of ``[fleet]``, its root folder, and the settings it runs with."""

    root: Path
    districts: tuple[FleetDistrict, ...]
    settings: Settings

    def store_path(self, district: str) -> Path:
        return store_path(self.root, district)

    def of_district(self, district: FleetDistrict) -> Fleet:
        """What one district's task needs: its own entry and the settings it reads (targets,
        API targets, limits, DuckDB), not the whole fleet — a task carries it to its worker."""
        settings = self.settings
        kept: dict[str, Any] = {k: settings.raw[k] for k in ("targets", "api") if k in settings.raw}
        slim = replace(settings, raw=kept, districts={}, fleet=None)
        return Fleet(self.root, (district,), slim)


def store_path(root: Path, district: str) -> Path:
    """A fleet district's own history store."""
    return root / "stores" / f"{district}.duckdb"


@dataclass(frozen=True)
class ApiNight:
    """How an ``api`` district's night was pulled: ``by`` ``events`` (applied to the pull of
    snapshot ``events_applied_to``, ``pages`` event pages fetched) or ``full`` (``pages``
    fetched; ``events_not_applied``: why not by events — the pull's fallback, or the setting
    forcing full pulls)."""

    by: str
    pages: int
    events_applied_to: int | None = None
    events_not_applied: str | None = None


@dataclass(frozen=True)
class DistrictRun:
    """One district's night: its outcome (``processed``, ``held``, ``not-processed``,
    ``no-upload``, ``failed`` or ``served``), why, and whether this run did it or found it done
    already. ``unchanged``: the night's files (or served data) are the district's newest
    snapshot's, ``snapshot_id``: no new night; ``api``: how a Data API district's night was
    pulled."""

    district: str
    night: date
    outcome: str
    reason: str
    snapshot_id: int | None
    seconds: float
    attempts: int
    already_done: bool = False
    unchanged: bool = False
    api: ApiNight | None = None


@dataclass(frozen=True)
class FleetRun:
    """A night of the fleet: every district's run, in district order."""

    night: date
    districts: tuple[DistrictRun, ...]
    workers: int  # 0: the serial run, without Dask
    dashboard: str | None = None

    @property
    def failures(self) -> tuple[DistrictRun, ...]:
        return tuple(d for d in self.districts if d.outcome == FAILED)

    def failing(self, fail_on: str | None) -> tuple[DistrictRun, ...]:
        """The districts whose outcome is ``fail_on`` or more serious (:data:`FAIL_ON`)."""
        if fail_on is None:
            return ()
        gate = FAIL_ON[: FAIL_ON.index(fail_on) + 1]
        return tuple(d for d in self.districts if d.outcome in gate)

    def counts(self) -> dict[str, int]:
        """Districts per outcome, in outcome order."""
        counts: dict[str, int] = {}
        for run in sorted(self.districts, key=lambda d: d.outcome):
            counts[run.outcome] = counts.get(run.outcome, 0) + 1
        return counts
