"""Readers and writers racing on one store file: real processes, real DuckDB locks.

DuckDB locks the file per process: one writer or any number of readers, never both. So readers
never open the store file: they open the copy the last writer published (``STORE.published``),
and the writer only ever waits for another writer (or ``doctor``), with a bounded wait that
names the holder. A reader sees the committed state it opened until it reopens — never a
half-written night — and a notebook holding the store never makes ``ingest`` fail.
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
from rosterlab.store import Store, ingest_bundle, published_path
from tests.cli_run import run
from tests.corpus.faults import big_night, program, start_ingest, start_reader, wait_for
from tests.tiny import tiny_night, write_night

NIGHT_2 = "2026-09-02T02:00:00"


def listed(capsys: pytest.CaptureFixture[str], store: Path) -> list[tuple[int, int]]:
    """(id, students) of every snapshot ``rosterlab snapshots`` lists (it must succeed)."""
    code, out, err = run(capsys, "--store", str(store), "snapshots", "--format", "json")
    assert (code, err) == (0, "")
    return [(s["id"], s["rows"]["students"]) for s in json.loads(out)]


def release(child: subprocess.Popen[str]) -> None:
    assert child.stdin is not None
    child.stdin.write("\n")
    child.stdin.close()


@pytest.fixture
def district(tmp_path: Path) -> tuple[Path, Path]:
    """A store holding night 1 of maple, and night 2 (3,000 more students) to ingest."""
    store = tmp_path / "store.duckdb"
    with open_bundle(write_night(tmp_path / "n1", tiny_night())) as bundle, Store.open(store) as s:
        ingest_bundle(s, bundle, district="maple", taken_at=datetime(2026, 9, 1, 2))
    return store, big_night(tmp_path / "n2", 3_000)


def test_readers_work_while_ingest_writes_and_see_the_committed_state(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, district: tuple[Path, Path]
) -> None:
    store, night2 = district
    writer = start_ingest(store, night2, NIGHT_2, pause_at="merging students")
    wait_for(writer, "paused")  # mid-transaction: snapshot 2 inserted, not committed

    assert listed(capsys, store) == [(1, 3)]
    code, out, err = run(
        capsys,
        "--store",
        str(store),
        "export",
        "latest",
        str(tmp_path / "out"),
        "--district",
        "maple",
    )
    assert (code, err) == (0, "")
    assert out.startswith("snapshot 1 (maple night 1): 5 files as received written to")
    code, out, err = run(
        capsys, "--store", str(store), "check", "--district", "maple", "--format", "json"
    )
    assert (code, err) == (0, "")
    assert json.loads(out)["snapshot"] == 1
    process = subprocess.run(
        [sys.executable, "-m", "rosterlab", "--store", str(store), "snapshots", "--format", "json"],
        capture_output=True,
        text=True,
    )
    assert (process.returncode, process.stderr) == (0, "")
    assert [s["id"] for s in json.loads(process.stdout)] == [1]

    release(writer)
    wait_for(writer, "committed snapshot 2")
    assert writer.wait() == 0
    assert listed(capsys, store) == [(1, 3), (2, 3_003)]


def test_a_second_writer_waits_naming_the_holder_and_gives_up_after_store_wait(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    district: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, night2 = district
    night3 = write_night(tmp_path / "n3", tiny_night())
    first = start_ingest(store, night2, NIGHT_2, pause_at="parsing students.csv")
    wait_for(first, "paused")

    second = ["--store", str(store), "ingest", str(night3), "--district", "maple"]
    at = ["--taken-at", "2026-09-03T02:00:00"]
    monkeypatch.setenv("ROSTERLAB_STORE_WAIT", "1.5")
    holder = f"PID {first.pid} ({program(first.pid)})"
    assert run(capsys, *second, *at) == (
        2,
        "",
        f"rosterlab: waiting for the store, held by {holder} — 1 s\n"
        f"rosterlab: store {store} is in use by {holder} (waited 2 s): wait for it to finish "
        "and retry, or raise store_wait\n",
    )

    # With the default wait, a second writer queues behind the first and then commits.
    monkeypatch.delenv("ROSTERLAB_STORE_WAIT")
    queued = subprocess.Popen(
        [sys.executable, "-m", "rosterlab", *second, *at],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert wait_for(queued, "rosterlab: waiting") == [
        f"rosterlab: waiting for the store, held by {holder} — 1 s"
    ]
    release(first)
    assert first.wait() == 0
    assert queued.wait(timeout=60) == 0
    with Store.open(store, read_only=True) as opened:
        assert [(s.id, s.seq, s.taken_at.day) for s in opened.snapshots()] == [
            (1, 1, 1),
            (2, 2, 2),
            (3, 3, 3),
        ]


def test_a_notebook_holding_the_store_never_makes_ingest_wait(
    capsys: pytest.CaptureFixture[str], district: tuple[Path, Path]
) -> None:
    store, night2 = district
    notebook = start_reader(store)
    wait_for(notebook, "holding 1 snapshots")
    ingest = ["--store", str(store), "ingest", str(night2), "--district", "maple"]

    started = time.monotonic()
    code, _, err = run(capsys, *ingest, "--taken-at", NIGHT_2)
    assert (code, err) == (0, "")
    assert time.monotonic() - started < 60  # it did not sit out store_wait (300 s)

    assert notebook.stdin is not None
    notebook.stdin.write("look\n")
    notebook.stdin.flush()
    assert wait_for(notebook, "holding") == ["holding 1 snapshots"]  # what it opened
    notebook.stdin.write("reopen\n")
    notebook.stdin.flush()
    assert wait_for(notebook, "holding") == ["holding 2 snapshots"]  # the new night
    notebook.stdin.close()
    assert notebook.wait() == 0


def test_publishing_keeps_the_writers_lock(district: tuple[Path, Path]) -> None:
    """DuckDB's lock is a POSIX fcntl lock, dropped when the process closes any descriptor of
    the file: copying the store with a fresh open() would let a second writer in."""
    store, _ = district
    with Store.open(store) as writer:
        writer.execute("CREATE TEMP TABLE t AS SELECT 1")
        writer.publish()
        other = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys, duckdb\n"
                "try:\n    duckdb.connect(sys.argv[1]).close()\nexcept duckdb.IOException:\n"
                "    print('refused')\nelse:\n    print('opened')",
                str(store),
            ],
            capture_output=True,
            text=True,
        )
        assert other.stdout == "refused\n"


def test_a_store_without_a_published_copy_is_read_from_the_store_file(
    capsys: pytest.CaptureFixture[str], district: tuple[Path, Path]
) -> None:
    """A store written before the copy existed: readers open the store file itself, and the
    next writer publishes."""
    store, night2 = district
    published_path(store).unlink()
    assert listed(capsys, store) == [(1, 3)]
    code, out, _ = run(capsys, "--store", str(store), "doctor", "--quick")
    assert code == 1
    assert out.splitlines()[0] == (
        f"problem: the copy readers open, {published_path(store)}, is missing: readers open the "
        "store file instead and make the nightly ingest wait; the next rosterlab ingest (or any "
        "write) publishes it"
    )
    code, _, err = run(
        capsys, "--store", str(store), "ingest", str(night2), "--district", "maple",
        "--taken-at", NIGHT_2,
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert published_path(store).is_file()
    assert run(capsys, "--store", str(store), "doctor", "--quick")[0] == 0


def test_readers_polling_through_nightly_ingests_never_wait_and_see_whole_snapshots(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, district: tuple[Path, Path]
) -> None:
    """Cron ingests nights 2-5 while a notebook (this process) keeps listing snapshots."""
    store, _ = district
    nights = []
    for n in range(2, 6):
        night = tiny_night()
        night["students.csv"][3][5] = str(n)  # S-002's grade changes every night
        nights.append((write_night(tmp_path / f"night{n}", night), f"2026-09-0{n}T02:00:00"))
    seen: set[int] = set()
    for night, taken_at in nights:
        writer = start_ingest(store, night, taken_at)
        while writer.poll() is None:
            ids = [snapshot for snapshot, students in listed(capsys, store) if students == 3]
            assert ids == list(range(1, len(ids) + 1))
            seen.add(len(ids))
            time.sleep(0.02)
        assert writer.returncode == 0, writer.stderr.read() if writer.stderr else ""
    with Store.open(store, read_only=True) as opened:
        assert [s.seq for s in opened.snapshots()] == [1, 2, 3, 4, 5]
        grades = opened.rows(
            "SELECT valid_from, \"Grade\" FROM students WHERE key = 'S-002' ORDER BY valid_from"
        )
        assert grades == [(1, "10"), (2, "2"), (3, "3"), (4, "4"), (5, "5")]
    assert seen >= {1, 4}, seen  # readers listed before and between the ingests
    assert os.path.getsize(published_path(store)) == os.path.getsize(store)


def test_a_copy_left_behind_by_a_killed_writer_is_a_note_and_the_next_write_publishes(
    capsys: pytest.CaptureFixture[str], district: tuple[Path, Path]
) -> None:
    """A writer killed between its commit and publishing leaves readers one state behind."""
    store, night2 = district
    before = published_path(store).read_bytes()
    ingest = ["--store", str(store), "ingest", str(night2), "--district", "maple"]
    assert run(capsys, *ingest, "--taken-at", NIGHT_2)[0] == 0
    published_path(store).write_bytes(before)  # as if killed before publishing
    assert listed(capsys, store) == [(1, 3)]
    code, out, _ = run(capsys, "--store", str(store), "doctor", "--quick")
    assert code == 0
    assert out.splitlines()[0] == (
        f"note: the copy readers open, {published_path(store)}, holds an older state than the "
        "store: notebooks and reports see it until the next rosterlab ingest (or any write) "
        "publishes again"
    )
    assert run(capsys, *ingest, "--taken-at", NIGHT_2)[0] == 0  # a no-op re-run publishes
    assert listed(capsys, store) == [(1, 3), (2, 3_003)]
    assert run(capsys, "--store", str(store), "doctor", "--quick")[1].startswith("store ")
