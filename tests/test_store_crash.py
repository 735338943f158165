"""A killed ingest leaves the store exactly as it was, and the night ingests cleanly afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rosterlab.store import Store
from tests.tiny import tiny_night, write_night

ROSTERLAB = [sys.executable, "-m", "rosterlab"]


def big_night(folder: Path, students: int) -> Path:
    """The tiny district grown to ``students`` students in two sections each (slow to ingest)."""
    night = tiny_night()
    for n in range(students):
        night["students.csv"].append(
            ["SCH-1", f"S-{n:06d}", f"{n:06d}", "Last", "First", "3", "", "", "", "", ""]
        )
        night["enrollments.csv"].append(["SCH-1", "SEC-1", f"S-{n:06d}"])
        night["enrollments.csv"].append(["SCH-2", "SEC-2", f"S-{n:06d}"])
    return write_night(folder, night)


def ingest_cmd(store: Path, folder: Path, taken_at: str) -> list[str]:
    return [
        *ROSTERLAB,
        "--store",
        str(store),
        "ingest",
        str(folder),
        "--district",
        "maple",
        "--taken-at",
        taken_at,
        "--progress",
    ]


@pytest.mark.parametrize(
    "kill_at",
    ["parsing enrollments.csv", "merging students", "merging enrollments", "merging admins"],
)
def test_sigkill_mid_ingest_leaves_earlier_snapshots_only(tmp_path, kill_at):
    store_path = tmp_path / "store.duckdb"
    subprocess.run(
        ingest_cmd(store_path, write_night(tmp_path / "n1", tiny_night()), "2026-09-01T02:00"),
        check=True,
        capture_output=True,
    )
    night2 = big_night(tmp_path / "n2", 60_000)
    proc = subprocess.Popen(
        ingest_cmd(store_path, night2, "2026-09-02T02:00"),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if kill_at in line:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "".join(seen)

    with Store.open(store_path) as store:
        assert [(s.id, s.seq) for s in store.snapshots()] == [(1, 1)]
        assert store.snapshot_rows(1)["students"] == 3
        assert store.rows("SELECT count(*) FROM students")[0][0] == 3
        assert store.rows("SELECT count(*) FROM snapshot_files")[0][0] == 5

    rerun = subprocess.run(
        [*ingest_cmd(store_path, night2, "2026-09-02T02:00"), "--format", "json"],
        capture_output=True,
        text=True,
    )
    assert rerun.returncode == 0, rerun.stderr
    with Store.open(store_path, read_only=True) as store:
        assert [(s.id, s.seq) for s in store.snapshots()] == [(1, 1), (2, 2)]
        assert store.snapshot_rows(2)["students"] == 60_003
        assert store.snapshot_rows(2)["enrollments"] == 120_003
