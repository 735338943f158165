"""Readers and writers racing on one store file: real processes, real DuckDB locks.

DuckDB locks the file per process: a writer holds it exclusively for as long as it is open, readers
share it. So a reader that starts while ``ingest`` writes, or a second writer, gets the one-line
"store busy, retry" error (exit 2) — never a traceback or a torn read — and a reader that opens
sees only committed snapshots. A notebook holding the store open read-only makes ``ingest`` wait
the same way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from rosterlab.bundle import open_bundle
from rosterlab.store import Store, ingest_bundle
from tests.cli_run import run
from tests.corpus.faults import big_night, start_ingest, start_reader, wait_for
from tests.tiny import tiny_night, write_night

NIGHT_2 = "2026-09-02T02:00:00"


def busy(store: Path, pid: int) -> str:
    return (
        f"rosterlab: store {store} is in use by another process (held by process {pid}): "
        "wait for it to finish and retry\n"
    )


@pytest.fixture
def district(tmp_path: Path) -> tuple[Path, Path]:
    """A store holding night 1 of maple, and night 2 (3,000 more students) to ingest."""
    store = tmp_path / "store.duckdb"
    with open_bundle(write_night(tmp_path / "n1", tiny_night())) as bundle, Store.open(store) as s:
        ingest_bundle(s, bundle, district="maple", taken_at=datetime(2026, 9, 1, 2))
    return store, big_night(tmp_path / "n2", 3_000)


def test_reader_while_ingest_writes_gets_the_busy_line_then_the_committed_list(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, district: tuple[Path, Path]
) -> None:
    store, night2 = district
    writer = start_ingest(store, night2, NIGHT_2, pause_at="merging students")
    wait_for(writer, "paused")  # mid-transaction: snapshot 2 inserted, not committed

    for argv in (
        ["snapshots", "--format", "json"],
        ["export", "latest", str(tmp_path / "out"), "--district", "maple"],
        ["diff", "--district", "maple", "--from", "1", "--to", "1"],
    ):
        assert run(capsys, "--store", str(store), *argv) == (2, "", busy(store, writer.pid))
    process = subprocess.run(
        [sys.executable, "-m", "rosterlab", "--store", str(store), "snapshots"],
        capture_output=True,
        text=True,
    )
    assert (process.returncode, process.stdout, process.stderr) == (
        2,
        "",
        busy(store, writer.pid),
    )

    assert writer.stdin is not None
    writer.stdin.write("\n")
    writer.stdin.close()
    wait_for(writer, "committed snapshot 2")
    assert writer.wait() == 0
    code, out, err = run(capsys, "--store", str(store), "snapshots", "--format", "json")
    assert (code, err) == (0, "")
    assert [(s["id"], s["seq"], s["rows"]["students"]) for s in json.loads(out)] == [
        (1, 1, 3),
        (2, 2, 3_003),
    ]


def test_second_writer_gets_the_busy_line_and_the_first_commits_alone(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, district: tuple[Path, Path]
) -> None:
    store, night2 = district
    night3 = write_night(tmp_path / "n3", tiny_night())
    first = start_ingest(store, night2, NIGHT_2, pause_at="parsing students.csv")
    wait_for(first, "paused")

    second = ["--store", str(store), "ingest", str(night3), "--district", "maple"]
    at = ["--taken-at", "2026-09-03T02:00:00"]
    assert run(capsys, *second, *at) == (2, "", busy(store, first.pid))

    assert first.stdin is not None
    first.stdin.write("\n")
    first.stdin.close()
    assert first.wait() == 0
    with Store.open(store, read_only=True) as opened:
        assert [(s.id, s.seq) for s in opened.snapshots()] == [(1, 1), (2, 2)]
    code, _, err = run(capsys, *second, *at)
    assert (code, err) == (0, "")
    with Store.open(store, read_only=True) as opened:
        assert [(s.id, s.seq, s.taken_at.day) for s in opened.snapshots()] == [
            (1, 1, 1),
            (2, 2, 2),
            (3, 3, 3),
        ]


def test_a_notebook_holding_the_store_makes_ingest_wait_with_the_busy_line(
    capsys: pytest.CaptureFixture[str], district: tuple[Path, Path]
) -> None:
    store, night2 = district
    notebook = start_reader(store)
    wait_for(notebook, "holding 1 snapshots")
    ingest = ["--store", str(store), "ingest", str(night2), "--district", "maple"]

    assert run(capsys, *ingest, "--taken-at", NIGHT_2) == (2, "", busy(store, notebook.pid))
    code, _, err = run(capsys, "--store", str(store), "snapshots")  # readers share the file
    assert (code, err) == (0, "")

    assert notebook.stdin is not None
    notebook.stdin.close()
    assert notebook.wait() == 0
    code, _, err = run(capsys, *ingest, "--taken-at", NIGHT_2)
    assert (code, err) == (0, "")


def test_readers_polling_through_nightly_ingests_see_only_whole_committed_snapshots(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, district: tuple[Path, Path]
) -> None:
    """Cron ingests nights 2-5 (retrying when busy) while a notebook keeps listing snapshots."""
    store, _ = district
    nights = []
    for n in range(2, 6):
        night = tiny_night()
        night["students.csv"][3][5] = str(n)  # S-002's grade changes every night
        nights.append((write_night(tmp_path / f"night{n}", night), f"2026-09-0{n}T02:00:00"))
    outcomes = {"listed": 0, "busy": 0, "writer busy": 0}
    writer = None
    while nights or writer is not None:
        if writer is None:
            writer = start_ingest(store, *nights[0])
        elif writer.poll() is not None:
            assert writer.stderr is not None
            lines = writer.stderr.read()
            if writer.returncode == 0:
                nights.pop(0)
            else:  # the notebook (this process) had the store open: cron retries
                assert lines.endswith(busy(store, os.getpid())), lines
                outcomes["writer busy"] += 1
                assert outcomes["writer busy"] < 50, outcomes
            writer = None
            continue
        time.sleep(0.05)  # a notebook re-lists now and then, not in a tight loop
        code, out, err = run(capsys, "--store", str(store), "snapshots", "--format", "json")
        if code == 2:
            assert writer is not None
            assert err == busy(store, writer.pid)
            outcomes["busy"] += 1
            continue
        assert (code, err) == (0, "")
        listed = json.loads(out)
        ids = tuple(s["id"] for s in listed)
        assert ids == tuple(range(1, len(ids) + 1))
        assert all(s["rows"]["students"] == 3 and s["rows"]["enrollments"] == 3 for s in listed)
        outcomes["listed"] += 1
    with Store.open(store, read_only=True) as opened:
        assert [s.seq for s in opened.snapshots()] == [1, 2, 3, 4, 5]
        grades = opened.rows(
            "SELECT valid_from, \"Grade\" FROM students WHERE key = 'S-002' ORDER BY valid_from"
        )
        assert grades == [(1, "10"), (2, "2"), (3, "3"), (4, "4"), (5, "5")]
    assert outcomes["listed"] > 0, outcomes
