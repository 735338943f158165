"""Fleet mode: every district of ``[fleet]``, every night, on Dask distributed.

Each district has its own store (``<root>/stores/<ID>.duckdb``); a night's results are Parquet,
hive-partitioned by night and district (:func:`results_path`). The only room importing dask
and distributed, and only inside :func:`run_fleet`: importing this package stays cheap.

>>> fleet = load_fleet(load_settings(config="rosterlab.toml"))
>>> run = run_fleet(fleet, date(2026, 9, 3), workers=2)     # embedded LocalCluster
>>> run_serial(fleet, date(2026, 9, 3))                      # the same results, no Dask
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from rosterlab.fleet.model import DistrictRun, Fleet, FleetRun
from rosterlab.fleet.results import TABLES, results_path, results_root
from rosterlab.fleet.run import FleetProgress, load_fleet, run_serial
from rosterlab.store.fleet_results import FAILED, NO_UPLOAD

if TYPE_CHECKING:
    from rosterlab.fleet.cluster import Announce


def run_fleet(
    fleet: Fleet,
    night: date,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: FleetProgress | None = None,
    announce: Announce | None = None,
) -> FleetRun:
    """Run the night on Dask: an embedded LocalCluster of ``workers`` processes (default one
    per core), or the cluster whose scheduler is at ``scheduler`` (``tcp://HOST:PORT``)."""
    from rosterlab.fleet.cluster import run_on_dask

    return run_on_dask(
        fleet, night, workers=workers, scheduler=scheduler, progress=progress, announce=announce
    )


__all__ = [
    "FAILED",
    "NO_UPLOAD",
    "TABLES",
    "DistrictRun",
    "Fleet",
    "FleetProgress",
    "FleetRun",
    "load_fleet",
    "results_path",
    "results_root",
    "run_fleet",
    "run_serial",
]
