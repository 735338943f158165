"""Soak: notebooks and the nightly job on one store, as real processes, for minutes.

``READERS`` processes act as notebooks: open the workbench (``ui.open_workbench``), diff the last
two nights (``DiffExplorer``), browse the findings (``FindingsBrowser``), refresh, again and
again. Meanwhile a cron-like loop ingests the nights of a synth district one by one, each in its
own ``rosterlab ingest`` process. Every reader observation is checked against the truth: the
snapshots it sees are nights 1..k (k never going back), each with the row counts of that
night's files, and every one checked at ingest. At the end ``rosterlab doctor`` must be clean.

    python -m tests.soak --nights 60 --minutes 10 --students 2000    # the documented long run
    python -m tests.soak --nights 8 --students 300                   # what tests/test_soak.py runs

Prints one JSON summary: failed ingests, reader errors, observations, worst waits (seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DISTRICT = "soak"
INGEST = """
import json, sys, time
from datetime import datetime
from rosterlab.bundle import open_bundle
from rosterlab.checks import ingest_and_check
from rosterlab.store import Store

store_path, night, taken_at = sys.argv[1:4]
started = time.monotonic()
with open_bundle(night) as bundle:
    store = Store.connect(store_path, wait=600)
    opened = time.monotonic() - started
    try:
        result = ingest_and_check(
            store,
            bundle,
            district="soak",
            known=None,
            taken_at=datetime.fromisoformat(taken_at),
            source=night,
        ).result
    finally:
        closing = time.monotonic()
        store.close()  # publishes the copy readers open
print(json.dumps({"seq": result.snapshot.seq, "waited": store.waited, "opened": opened,
                  "published": time.monotonic() - closing, "seconds": time.monotonic() - started}))
"""


def write_nights(folder: Path, nights: int, students: int, seed: int) -> dict[int, dict[str, int]]:
    """The synth district's nights as bundle folders; the records of each entity per night
    (students.csv has a row per contact: its students are its distinct Student_ids)."""
    from rosterlab.spec import ENTITIES
    from rosterlab.synth import generate_district, write_night

    district = generate_district(DISTRICT, students=students, seed=seed)
    expected = {}
    for number in range(1, nights + 1):
        night = district.night(number)
        write_night(night, folder / f"night-{number:03d}")
        expected[number] = {
            entity: night.frames[spec.file].height
            for entity, spec in ENTITIES.items()
            if entity not in ("students", "contacts") and spec.file in night.frames
        }
        expected[number]["students"] = night.frames["students.csv"]["Student_id"].n_unique()
    return expected


def taken_at(number: int) -> str:
    return f"2026-{9 + (number - 1) // 30:02d}-{(number - 1) % 30 + 1:02d}T02:00:00"


# --- a notebook ---------------------------------------------------------------------------


def reader(store: Path, expected_file: Path, stop: Path, out: Path, seed: int) -> None:
    """Act as a notebook until ``stop`` exists; write what it saw and its errors to ``out``."""
    from rosterlab import ui

    expected = {int(k): v for k, v in json.loads(expected_file.read_text()).items()}
    rng = random.Random(seed)
    report: dict[str, Any] = {"observations": 0, "states": [], "errors": [], "waits": []}

    def observe(bench: ui.Workbench, last: int) -> int:
        """Check what the workbench sees is a committed state; the number of nights it holds."""
        history = bench.snapshots
        seqs = [s.seq for s in history]
        if seqs != list(range(1, len(seqs) + 1)) or len(seqs) < last:
            raise AssertionError(f"nights {seqs} after seeing {last}")
        for snap in history:
            rows = bench.store.snapshot_rows(snap.id)
            want = expected[snap.seq]
            got = {e: rows.get(e) for e in want}
            if got != want:
                raise AssertionError(f"night {snap.seq}: rows {got}, the night has {want}")
        checked = bench.store.rows("SELECT count(*) FROM check_runs")[0][0]
        if checked != len(seqs):
            raise AssertionError(f"{checked} nights checked of {len(seqs)}")
        report["observations"] += 1
        if not report["states"] or report["states"][-1] != len(seqs):
            report["states"].append(len(seqs))
        return len(seqs)

    bench = None
    seen = 0
    stopping: float | None = None  # when the stop file appeared
    while True:
        if stopping is None and stop.exists():
            stopping = time.monotonic()
        if stopping is not None and (
            seen >= int(stop.read_text()) or time.monotonic() - stopping > 30
        ):
            break  # it saw the last night (or gave up waiting for it)
        try:
            started = time.monotonic()
            if bench is None:
                bench = ui.open_workbench(store, district=DISTRICT)
            else:
                bench.refresh()
            report["waits"].append(time.monotonic() - started)
            seen = observe(bench, seen)
            for _ in range(rng.randint(1, 3)):  # a few actions on the state it opened
                if seen >= 2:
                    explorer = ui.DiffExplorer(bench)
                    assert explorer.result is not None
                    if explorer.result.to_snapshot.seq != seen:
                        raise AssertionError(f"diff to night {explorer.result.to_snapshot.seq}")
                browser = ui.FindingsBrowser(bench)
                assert browser.result is not None and browser.result.cached
                seen = observe(bench, seen)
                time.sleep(rng.uniform(0.05, 0.3))
        except Exception as exc:  # every error is counted, none ends the notebook
            report["errors"].append("".join(traceback.format_exception_only(exc)).strip())
            if bench is not None:
                bench.close()
                bench = None
            time.sleep(0.2)
    if bench is not None:
        bench.close()
    out.write_text(json.dumps(report))


# --- the run ------------------------------------------------------------------------------


def soak(
    folder: Path, *, nights: int, students: int, readers: int, minutes: float, seed: int
) -> dict[str, Any]:
    store = folder / "store.duckdb"
    expected = write_nights(folder / "nights", nights, students, seed)
    expected_file = folder / "expected.json"
    expected_file.write_text(json.dumps(expected))
    stop = folder / "stop"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}

    def ingest(number: int) -> subprocess.CompletedProcess[str]:
        night = folder / "nights" / f"night-{number:03d}"
        return subprocess.run(
            [sys.executable, "-c", INGEST, str(store), str(night), taken_at(number)],
            capture_output=True,
            text=True,
            env=env,
        )

    results: list[dict[str, Any]] = []
    failed: list[str] = []

    def record(number: int, done: subprocess.CompletedProcess[str]) -> None:
        if done.returncode != 0:
            failed.append(f"night {number}: exit {done.returncode}: {done.stderr.strip()}")
        else:
            results.append(json.loads(done.stdout))

    record(1, ingest(1))  # a notebook opens a store that has a night
    outs = [folder / f"reader-{n}.json" for n in range(readers)]
    notebook = [sys.executable, "-m", "tests.soak", "reader", str(store), str(expected_file)]
    children = [
        subprocess.Popen(
            [*notebook, str(stop), str(out), str(seed + n)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n, out in enumerate(outs)
    ]
    started = time.monotonic()
    pace = minutes * 60 / max(nights - 1, 1)
    time.sleep(min(pace, 3.0))  # the notebooks are open before the first cron run
    for number in range(2, nights + 1):
        due = started + (number - 1) * pace
        time.sleep(max(0.0, due - time.monotonic()))
        record(number, ingest(number))
    stop.write_text(str(nights))  # the notebooks stop once they have seen the last night
    crashed = []
    for child in children:
        _, err = child.communicate(timeout=120)
        if child.returncode != 0:
            crashed.append(err.strip().splitlines()[-1] if err.strip() else str(child.returncode))
    reports = [json.loads(out.read_text()) for out in outs if out.exists()]
    doctor = subprocess.run(
        [sys.executable, "-m", "rosterlab", "--store", str(store), "doctor"],
        capture_output=True,
        text=True,
        env=env,
    )
    return {
        "nights": nights,
        "students": students,
        "readers": readers,
        "seconds": round(time.monotonic() - started, 1),
        "ingested": len(results),
        "failed_ingests": failed,
        "reader_errors": [e for r in reports for e in r["errors"]] + crashed,
        "observations": [r["observations"] for r in reports],
        "states_seen": [r["states"] for r in reports],
        "worst_reader_wait": round(max(w for r in reports for w in r["waits"]), 3),
        "worst_writer_wait": round(max(r["waited"] for r in results), 3),
        "worst_writer_open": round(max(r["opened"] for r in results), 3),
        "worst_publish": round(max(r["published"] for r in results), 3),
        "worst_ingest": round(max(r["seconds"] for r in results), 3),
        "store_bytes": store.stat().st_size,
        "doctor": [doctor.returncode, doctor.stdout.strip(), doctor.stderr.strip()],
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "reader":
        store, expected, stop, out, seed = args[1:6]
        reader(Path(store), Path(expected), Path(stop), Path(out), int(seed))
        return 0
    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__)
    parser.add_argument("--nights", type=int, default=8)
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--readers", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=0.0, help="spread the nights over")
    parser.add_argument("--seed", type=int, default=17)
    parsed = parser.parse_args(args)
    with tempfile.TemporaryDirectory(prefix="rosterlab-soak-") as tmp:
        summary = soak(
            Path(tmp),
            nights=parsed.nights,
            students=parsed.students,
            readers=parsed.readers,
            minutes=parsed.minutes,
            seed=parsed.seed,
        )
    print(json.dumps(summary, indent=2))
    clean = not summary["failed_ingests"] and not summary["reader_errors"]
    return 0 if clean and summary["doctor"][0] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
