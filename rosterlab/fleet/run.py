"""Loading a fleet, and running a night of it: serially (the baseline) or on Dask."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date

from rosterlab.config import Settings
from rosterlab.errors import ConfigError
from rosterlab.fleet.model import DistrictRun, Fleet, FleetRun
from rosterlab.fleet.task import record_failure, run_district

# Called after each district: (districts done, districts in all, that district's run).
FleetProgress = Callable[[int, int, DistrictRun], None]


def load_fleet(settings: Settings) -> Fleet:
    """The fleet ``[fleet]`` of rosterlab.toml describes (a one-line ConfigError without one)."""
    if settings.fleet is None:
        where = settings.config_path or "rosterlab.toml"
        raise ConfigError(
            f"{where} has no [fleet] table: add [fleet] with a root and "
            "[fleet.districts.ID] tables (see the README's Fleet mode)"
        )
    if not settings.fleet.districts:
        raise ConfigError(
            f"{settings.config_path} [fleet] has no districts: add [fleet.districts.ID] tables"
        )
    return Fleet(settings.fleet.root, settings.fleet.districts, settings)


def run_serial(fleet: Fleet, night: date, *, progress: FleetProgress | None = None) -> FleetRun:
    """Every district's night, one after another in this process (no Dask).

    An unexpected error in a district fails that district alone, as on Dask.
    """
    runs = []
    for district in fleet.districts:
        started = time.monotonic()
        try:
            run = run_district(fleet, district, night)
        except Exception as exc:
            run = record_failure(
                fleet,
                district.district,
                night,
                unexpected(exc),
                time.monotonic() - started,
                1,
            )
        runs.append(run)
        if progress is not None:
            progress(len(runs), len(fleet.districts), run)
    return FleetRun(night, tuple(runs), workers=0)


def unexpected(exc: BaseException) -> str:
    """The one-line reason of a district that failed on something rosterlab did not foresee."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return (
        f"unexpected error ({type(exc).__name__}: {text}): this is a bug in rosterlab; run "
        "rosterlab ingest on the district's bundle with --debug to see the traceback"
    )
