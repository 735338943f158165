"""A night of the fleet on Dask distributed: one task per district.

Embedded default: a ``LocalCluster`` of worker processes (one thread each), every server on
127.0.0.1 with an ephemeral port, the dashboard link given only when bokeh is installed. With
``scheduler`` the night runs on an existing cluster (``dask scheduler`` + ``dask worker``
processes that can import rosterlab and reach the fleet root). A task whose worker dies is re-run
on another worker (the scheduler's ``distributed.scheduler.allowed-failures``, default 3); an
exception rosterlab did not foresee is retried once. A district that keeps failing gets a
``failed`` outcome; the rest continue.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from typing import Any

import dask
from distributed import Client, LocalCluster, as_completed
from distributed.client import Future

from rosterlab.config import FleetDistrict
from rosterlab.errors import ConfigError, RosterlabError
from rosterlab.fleet.model import DistrictRun, Fleet, FleetRun
from rosterlab.fleet.run import FleetProgress, unexpected
from rosterlab.fleet.task import record_failure, run_district

RETRIES = 1  # re-runs of a task that raised something unforeseen
CONNECT_TIMEOUT = "10s"
DASHBOARD_PROBE = 3.0  # seconds to see whether a remote scheduler serves its dashboard
WORKER_WAIT = 30.0  # seconds to wait for a scheduler's first worker
# A worker's DuckDB gets this share of the worker's memory; Dask's nanny restarts a worker
# past 95 % of it, and DuckDB spills to disk instead of growing past its limit.
DUCKDB_SHARE = 0.6

# One district at a time per worker thread (Dask's default queues a second one on the worker):
# the rest wait at the scheduler, so a big district never holds a small one hostage, and a worker
# that dies takes only the district it was running with it (others are not counted as its victims).
LOCAL_SCHEDULER = {"distributed.scheduler.worker-saturation": 1.0}
# The embedded cluster spends its CPU on districts (docs/benchmarks.md, "Fleet: where the CPU
# goes"): Dask's nanny starts each worker with MALLOC_TRIM_THRESHOLD_=65536, which also turns off
# glibc's adaptive mmap threshold, so DuckDB's buffers were mapped and unmapped on every allocation
# (41 % more page faults, a third more system CPU). Every server (the scheduler and the nannies in
# this process, each worker) checks its event loop for blocking every 20 ms by default: every
# 500 ms still reports a loop blocked past the 3 s limit; the nanny's and worker's memory checks
# every 500 ms instead of 100 ms (the nanny still restarts a worker past 95 % of its memory, and
# DuckDB itself stops at its share, DUCKDB_SHARE).
LOCAL_WORKERS: dict[str, Any] = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.admin.tick.interval": "500ms",
    "distributed.worker.memory.monitor-interval": "500ms",
}
# What only the dashboard reads, off unless bokeh serves it: the statistical profiler, which
# samples the task thread every 10 ms for the profile page, and the system monitor's 500 ms
# samples (CPU, memory, network and disk) for the system pages — kept every 5 s, without disk.
NO_DASHBOARD: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.admin.system-monitor.disk": False,
}


def local_settings() -> dict[str, Any]:
    """The Dask settings of rosterlab's embedded cluster (a remote one keeps its own)."""
    return {**LOCAL_SCHEDULER, **LOCAL_WORKERS, **({} if _has_bokeh() else NO_DASHBOARD)}


Announce = Callable[[str], None]  # told the dashboard link when one is up


def run_on_dask(
    fleet: Fleet,
    night: date,
    *,
    workers: int | None,
    scheduler: str | None,
    progress: FleetProgress | None,
    announce: Announce | None,
) -> FleetRun:
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers {workers} must be at least 1")
    if scheduler is not None:
        with _connect(scheduler) as client:
            count = _workers(client, scheduler)
            # A remote worker thread runs one district at a time, its DuckDB on one thread
            # (`dask worker --nthreads 1 --nworkers N` is one worker per core).
            remote = _with_duckdb(fleet, threads=1, memory_limit=None)
            return _run(client, remote, night, count, _dashboard(client), progress, announce)
    cores = os.cpu_count() or 1
    count = min(workers or cores, len(fleet.districts))  # none idle from the start
    with embedded_client(count, local_settings()) as client:
        link = client.dashboard_link if _has_bokeh() else None
        local = _with_duckdb(
            fleet, threads=max(1, cores // count), memory_limit=_memory_share(count)
        )
        return _run(client, local, night, count, link, progress, announce)


@contextmanager
def embedded_client(workers: int, settings: dict[str, Any]) -> Iterator[Client]:
    """A client of an embedded ``LocalCluster``: ``workers`` processes of one thread each,
    every server on 127.0.0.1 with an ephemeral port, under the Dask ``settings`` given."""
    with (
        dask.config.set(settings),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            # Every server on 127.0.0.1 and an ephemeral port (its HTTP server runs, with the
            # dashboard's pages only when bokeh is installed).
            dashboard_address="127.0.0.1:0",
            worker_dashboard_address="127.0.0.1:0",
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _connect(scheduler: str) -> Client:
    if not scheduler.startswith(("tcp://", "tls://")):
        raise ConfigError(f"--scheduler {scheduler!r} must be an address like tcp://HOST:PORT")
    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise RosterlabError(
            f"cannot reach the Dask scheduler at {scheduler} ({' '.join(str(exc).split())}): "
            "start it with `dask scheduler` or check the address"
        ) from exc


def _workers(client: Client, scheduler: str) -> int:
    """The scheduler's workers, waiting a while for the first one."""
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT)
    except TimeoutError as exc:
        raise RosterlabError(
            f"the Dask scheduler at {scheduler} has no workers (waited {WORKER_WAIT:.0f} s): "
            f"start some with `dask worker {scheduler}`"
        ) from exc
    return len(client.scheduler_info().get("workers", {}))


def _has_bokeh() -> bool:
    return importlib.util.find_spec("bokeh") is not None


def _dashboard(client: Client) -> str | None:
    """The dashboard link of a remote scheduler that serves one (its HTTP server always runs,
    with the dashboard's pages only when bokeh is there and ``--no-dashboard`` is not)."""
    info = client.scheduler_info()
    port = info.get("services", {}).get("dashboard")
    if port is None:
        return None
    host = str(info.get("address", "")).split("://")[-1].rsplit(":", 1)[0]
    link = f"http://{host}:{port}/status"
    try:
        with urllib.request.urlopen(link, timeout=DASHBOARD_PROBE) as page:
            return link if page.status == 200 else None
    except (OSError, ValueError):
        return None


def _with_duckdb(fleet: Fleet, *, threads: int, memory_limit: str | None) -> Fleet:
    """The fleet with its workers' DuckDB threads and memory limit, unless configured
    (``threads`` / ``memory_limit`` in rosterlab.toml or the environment)."""
    settings = fleet.settings
    threads = settings.threads or threads
    memory_limit = settings.memory_limit or memory_limit
    return replace(fleet, settings=replace(settings, threads=threads, memory_limit=memory_limit))


def _memory_share(workers: int) -> str:
    """One embedded worker's share of the machine's memory for DuckDB."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{int(total * DUCKDB_SHARE / workers / 2**20)}MB"


def _run(
    client: Client,
    fleet: Fleet,
    night: date,
    workers: int,
    dashboard: str | None,
    progress: FleetProgress | None,
    announce: Announce | None,
) -> FleetRun:
    if dashboard and announce is not None:
        announce(dashboard)
    token = uuid.uuid4().hex[:8]
    started = time.monotonic()
    # One graph for the night (client.map, not one submit per district): the scheduler sees the
    # whole group at once and queues it, handing each worker thread one district at a time.
    queue = biggest_first(fleet)
    submitted = client.map(
        _district_task,
        queue,
        [fleet.of_district(district) for district in queue],
        night=night,
        key=[f"fleet-{night.isoformat()}-{d.district}-{token}" for d in queue],
        retries=RETRIES,
        pure=False,
    )
    futures: dict[Future, str] = {
        future: district.district for future, district in zip(submitted, queue, strict=True)
    }
    runs: dict[str, DistrictRun] = {}
    for future in as_completed(futures):
        district = futures[future]
        error = future.exception()
        if error is None:
            runs[district] = future.result()
        else:
            runs[district] = record_failure(
                fleet, district, night, _reason(error), time.monotonic() - started, None
            )
        future.release()
        if progress is not None:
            progress(len(runs), len(futures), runs[district])
    ordered = tuple(runs[d.district] for d in fleet.districts)
    return FleetRun(night, ordered, workers=workers, dashboard=dashboard)


def biggest_first(fleet: Fleet) -> list[FleetDistrict]:
    """The districts by the size of their store, biggest first (ties in the fleet's order), so
    the night does not end with one worker busy on a big district while the others idle."""
    sizes: dict[str, int] = {}
    for district in fleet.districts:
        path = fleet.store_path(district.district)
        sizes[district.district] = path.stat().st_size if path.is_file() else 0
    return sorted(fleet.districts, key=lambda d: -sizes[d.district])


def _district_task(district: FleetDistrict, fleet: Fleet, night: date) -> DistrictRun:
    return run_district(fleet, district, night)


def _reason(error: Any) -> str:
    """One line for a task Dask gave up on (its workers kept dying, or it kept raising)."""
    if type(error).__name__ == "KilledWorker":
        return (
            "its worker died on every try (killed, or out of memory): see the workers' logs, "
            "then re-run the night"
        )
    return unexpected(error)
