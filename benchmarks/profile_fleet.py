"""Where a fleet night's CPU goes: per process and per thread, serially and on 2 Dask workers.

Runs one night of a fleet whose stores hold the nights before (``--stores``: a folder of
``<ID>.duckdb`` files, copied into a scratch root first, so every run starts from the same
state), in this process: serially, or on a 2-worker LocalCluster built as ``rosterlab fleet run``
builds it (``--dask-defaults``: with Dask's own worker settings instead of rosterlab's; ``--set
KEY=JSON``: any other Dask setting). Reads user/system CPU seconds and minor page faults of
every thread from /proc at the end, in the workers through ``client.run``; exited threads show
as the process total minus its live threads.

    python -m benchmarks.profile_fleet CONFIG NIGHT serial|dask --stores DIR --out FILE.json
        [--dask-defaults] [--set distributed.admin.tick.interval='"500ms"']

Run it under ``flock /tmp/bench.lock``; docs/benchmarks.md "Fleet: where the CPU goes" has
what it found.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

TICKS = os.sysconf("SC_CLK_TCK")


def _cpu(stat_path: str) -> list[float]:
    """[user s, system s, minor faults] from a /proc stat file."""
    with open(stat_path) as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return [int(fields[11]) / TICKS, int(fields[12]) / TICKS, int(fields[7])]


def threads_cpu() -> dict[str, Any]:
    """This process's CPU, and each live thread's, by thread name (run in workers too)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    threads = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            cpu = _cpu(f"/proc/self/task/{tid}/stat")
            with open(f"/proc/self/task/{tid}/comm") as comm:
                name = names.get(int(tid), comm.read().strip())
        except OSError:
            continue  # the thread ended meanwhile
        threads[f"{name}:{tid}"] = cpu
    return {"pid": os.getpid(), "total": _cpu("/proc/self/stat"), "threads": threads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("night", type=date.fromisoformat)
    parser.add_argument("mode", choices=("serial", "dask"))
    parser.add_argument("--stores", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--dask-defaults", action="store_true")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON")
    args = parser.parse_args()

    from rosterlab.config import load_settings
    from rosterlab.fleet import load_fleet, run_serial

    fleet = load_fleet(load_settings(config=args.config))
    shutil.rmtree(fleet.root, ignore_errors=True)
    shutil.copytree(args.stores, fleet.root / "stores")
    report: dict[str, Any] = {"mode": args.mode, "dask_defaults": args.dask_defaults}
    started, before = time.perf_counter(), os.times()
    if args.mode == "serial":
        run = run_serial(fleet, args.night)
    else:
        from rosterlab.fleet import cluster

        settings: dict[str, Any] = dict(cluster.LOCAL_SCHEDULER)
        if not args.dask_defaults:
            settings = cluster.local_settings()
        settings |= {key: json.loads(value) for key, value in (s.split("=", 1) for s in args.set)}
        report["dask_settings"] = settings
        with cluster.embedded_client(2, settings) as client:
            share = cluster._with_duckdb(fleet, threads=1, memory_limit=cluster._memory_share(2))
            run = cluster._run(client, share, args.night, 2, None, None, None)
            report["workers"] = list(client.run(threads_cpu).values())
            report["parent"] = threads_cpu()
    after = os.times()
    report["parent"] = report.get("parent") or threads_cpu()
    report["wall"] = time.perf_counter() - started
    report["cpu_parent"] = (after.user - before.user) + (after.system - before.system)
    report["cpu_workers"] = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    report["counts"] = run.counts()
    report["load"] = os.getloadavg()
    args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps({k: report[k] for k in ("wall", "cpu_parent", "cpu_workers", "counts")}))


if __name__ == "__main__":
    main()
