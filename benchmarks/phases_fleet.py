"""Where a fleet district's fixed cost goes: wall and CPU seconds per phase of its task.

Runs one night of a fleet (its stores holding the nights before, copied from ``--stores`` first,
so every run starts from the same state) serially in this process, or only every ``n``-th
district from the ``i``-th (``--part i/n``): two processes started at once with ``--part 0/2``
and ``--part 1/2`` run the same districts two at a time without Dask, which tells the cost of
running two at once from the cost of Dask. Each phase is timed by wrapping the function that
does it (the checks include their diff of the live state; ``fleet diff`` is the one the results
report); CPU is this process's (all its threads).

    python -m benchmarks.phases_fleet CONFIG NIGHT --stores DIR --out FILE.json [--part i/n]

Run it under ``flock /tmp/bench.lock``; docs/benchmarks.md "Fleet: the fixed cost of a
district" has what it found.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

SECONDS: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])


def timed(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            kept = SECONDS[label]
            kept[0] += time.perf_counter() - wall
            kept[1] += time.process_time() - cpu
            kept[2] += 1

    return wrapper


def wrap(owner: Any, name: str, label: str) -> None:
    setattr(owner, name, timed(label, getattr(owner, name)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("night", type=date.fromisoformat)
    parser.add_argument("--stores", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--part", default="0/1", metavar="i/n")
    args = parser.parse_args()
    part, parts = map(int, args.part.split("/"))

    from rosterlab.checks import pipeline
    from rosterlab.config import load_settings
    from rosterlab.fleet import load_fleet, results, task
    from rosterlab.store import files
    from rosterlab.store.store import Store

    wrap(task, "run_district", "task (all)")
    wrap(files, "connect_waiting", "open: connect")
    wrap(Store, "refuse_foreign", "open: schema check")
    wrap(Store, "_migrate", "open: migrations")
    wrap(pipeline, "ingest_bundle", "ingest")
    wrap(pipeline, "check_ingested", "checks, outcome")
    wrap(task, "diff_snapshots", "fleet diff")
    wrap(task, "write_night", "Parquet")
    wrap(Store, "_close", "close (all)")
    wrap(files, "publish", "close: checkpoint + readers' copy")

    fleet = load_fleet(load_settings(config=args.config))
    fleet = replace(fleet, settings=replace(fleet.settings, threads=1))  # as fleet run does
    mine = fleet.districts[part::parts]
    for district in mine:
        for path in args.stores.glob(f"{district.district}.duckdb*"):
            target = fleet.root / "stores" / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        for table in results.TABLES:
            shutil.rmtree(
                results.partition(fleet.root, table, args.night, district.district),
                ignore_errors=True,
            )
    os.sync()
    wall, cpu = time.perf_counter(), time.process_time()
    for district in mine:
        task.run_district(fleet, district, args.night)
    report = {
        "districts": len(mine),
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "load": os.getloadavg(),
        "phases": {label: SECONDS[label] for label in sorted(SECONDS)},
    }
    args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps({k: report[k] for k in ("districts", "wall", "cpu")}))


if __name__ == "__main__":
    main()
