"""Data API benchmark: ``api pull`` against a bare httpx loop, events, and reconcile vs diff.

A synthetic district (rosterlab.synth, 1,000,000 students by default, ~1 % nightly churn, three
nights) is ingested into an uploads store; the stand-in (``rosterlab api serve``, its own
process) serves night 2, then night 3. Each measurement runs in its own child process (seconds
and peak RSS of that child):

* a bare httpx loop fetching the same pages (limit 10000, following ``next``) to disk;
* ``pull_district`` (full pull: pages, mapping in DuckDB, ingest; no checks) of night 2;
* ``pull_district(events=True)`` of night 3 on top of it, and a full pull of night 3;
* ``reconcile`` of night 3's upload against its pull, and ``diff_snapshots`` of nights 2 → 3.

Targets (issue 14): full pull ≤ 1.5× the bare loop with peak RSS ≤ 1.5 GB; events pull ≤ 0.1×
the full pull; reconcile ≤ 2× the consecutive diff.

    python -m benchmarks.bench_api [--students 1000000] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.common import (
    DATA,
    PYTHON,
    ROOT,
    Timed,
    ingest_without_checks,
    nights_of,
    run_timed,
    synth_district,
    write_section,
)

DISTRICT = "apibench"
TOKEN = "bench-token"
ENV = {"ROSTERLAB_STANDIN_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}

BARE = """
import os, sys, httpx
origin, folder = sys.argv[1], sys.argv[2]
token = os.environ["ROSTERLAB_STANDIN_TOKEN"]
steps = [("districts", ""), ("schools", ""), ("terms", ""), ("courses", ""), ("sections", "")]
steps += [("users", f"role={r}&") for r in ("student", "teacher", "staff", "contact")]
with httpx.Client(base_url=origin, headers={"Authorization": f"Bearer {token}"}, timeout=600) as c:
    n = 0
    for resource, role in steps:
        uri = f"/v3.1/{resource}?{role}limit=10000"
        while uri:
            r = c.get(uri)
            with open(f"{folder}/{n:05d}.json", "wb") as out:
                out.write(r.content)
            n += 1
            uri = next((l["uri"] for l in r.json()["links"] if l["rel"] == "next"), None)
"""

PULL = """
import sys
from rosterlab.api import pull_district
from rosterlab.api.target import ApiTarget
from rosterlab.store import Store
target = ApiTarget("bench", sys.argv[2], "3.1", "ROSTERLAB_STANDIN_TOKEN", timeout=600)
with Store.open(sys.argv[1]) as store:
    pull_district(store, target, sys.argv[4], district=sys.argv[3], events=sys.argv[5] == "events")
"""

RECONCILE = """
import sys
from rosterlab.api.reconcile import reconcile
from rosterlab.store import Store
with Store.open(sys.argv[1], read_only=True) as store:
    reconcile(store, sys.argv[2])
"""

DIFF = """
import sys
from rosterlab.diff import diff_snapshots
from rosterlab.store import Store
with Store.open(sys.argv[1], read_only=True) as store:
    diff_snapshots(store, sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def standin(store: Path, snapshot: int) -> Iterator[str]:
    port = free_port()
    argv = [PYTHON, "-m", "rosterlab", "--store", str(store), "api", "serve",
            "--district", DISTRICT, "--snapshot", str(snapshot), "--port", str(port)]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env={**os.environ, **ENV})
    try:
        assert process.stdout is not None
        if not process.stdout.readline():
            raise RuntimeError("the stand-in did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=60)


def pull(store: Path, origin: str, mode: str) -> Timed:
    return run_timed([PYTHON, "-c", PULL, str(store), origin, DISTRICT, TOKEN, mode], env=ENV)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1_000_000)
    parser.add_argument("--no-write", action="store_true", help="print, keep docs as they are")
    args = parser.parse_args()
    work = DATA / f"api-{args.students}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    folder = synth_district(DISTRICT, students=args.students, nights=3)
    uploads, pulls, fresh = work / "uploads.duckdb", work / "pulls.duckdb", work / "fresh.duckdb"
    for night in nights_of(folder):
        ingest_without_checks(uploads, night, DISTRICT, f"{night.name}T02:00:00")
    pages = work / "bare"
    pages.mkdir()
    with standin(uploads, 2) as origin:
        bare = run_timed([PYTHON, "-c", BARE, origin, str(pages)], env=ENV)
        full = pull(pulls, origin, "full")
    with standin(uploads, 3) as origin:
        events = pull(pulls, origin, "events")
        full3 = pull(fresh, origin, "full")
        pull(uploads, origin, "full")  # night 3's pull beside its upload, for reconcile
    recon = run_timed([PYTHON, "-c", RECONCILE, str(uploads), DISTRICT], env=ENV)
    diff = run_timed([PYTHON, "-c", DIFF, str(uploads), DISTRICT, "2", "3"], env=ENV)
    body = "\n".join(
        [
            f"{args.students:,} students, 3 nights, ~1 % churn; stand-in on 127.0.0.1.",
            "",
            "| measurement | seconds | peak RSS MB | ratio | target |",
            "| --- | ---: | ---: | ---: | --- |",
            f"| bare httpx loop (pages to disk) | {bare.seconds:.1f} | {bare.peak_mb:,.0f} "
            "| 1.00 | |",
            f"| api pull, full (night 2) | {full.seconds:.1f} | {full.peak_mb:,.0f} | "
            f"{full.seconds / bare.seconds:.2f} × bare | ≤ 1.5 ×, ≤ 1,536 MB |",
            f"| api pull --events (night 3) | {events.seconds:.1f} | {events.peak_mb:,.0f} | "
            f"{events.seconds / full3.seconds:.2f} × full | ≤ 0.1 × |",
            f"| api pull, full (night 3) | {full3.seconds:.1f} | {full3.peak_mb:,.0f} | | |",
            f"| reconcile (night 3) | {recon.seconds:.1f} | {recon.peak_mb:,.0f} | "
            f"{recon.seconds / diff.seconds:.2f} × diff | ≤ 2 × |",
            f"| diff nights 2 → 3 | {diff.seconds:.1f} | {diff.peak_mb:,.0f} | | |",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("Data API: pull, events, reconcile", body)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
