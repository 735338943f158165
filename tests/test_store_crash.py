"""A killed ingest leaves the store exactly as it was, and the night ingests cleanly afterwards.

Kill points: four named progress lines through the real CLI, and ``ROSTERLAB_KILL_POINTS``
(default 20) seeded points — after a seeded number of progress lines plus a seeded delay, so they
land inside phases, in the commit and after it. After each: ``doctor`` passes on the store as the
kill left it, the store holds exactly the committed snapshots, every kept file exports byte for
byte (nothing lost), and re-running the ingest succeeds.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from rosterlab.bundle import open_bundle
from rosterlab.store import Store, export_snapshot, ingest_bundle
from rosterlab.store.doctor import check_store, open_for_check
from tests.corpus.faults import big_night, copy_store, start_ingest
from tests.tiny import folder_files, tiny_night, write_night

ROSTERLAB = [sys.executable, "-m", "rosterlab"]
KILL_POINTS = int(os.environ.get("ROSTERLAB_KILL_POINTS", "20"))
NIGHT_2 = "2026-09-02T02:00"


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

    healthy(store_path)
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
    with Store.open(store_path, read_only=True, published=False) as store:
        assert [(s.id, s.seq) for s in store.snapshots()] == [(1, 1), (2, 2)]
        assert store.snapshot_rows(2)["students"] == 60_003
        assert store.snapshot_rows(2)["enrollments"] == 120_003


def healthy(store_path: Path) -> None:
    store = open_for_check(store_path)
    try:
        report = check_store(store)
    finally:
        store.close()
    assert report.problems == ()


def exported(store: Store, snapshot_id: int, dest: Path) -> dict[str, bytes]:
    export_snapshot(store, snapshot_id, dest)
    return folder_files(dest)


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A store holding night 1, and night 2: the tiny district grown by 8,000 students."""
    base = tmp_path_factory.mktemp("kill")
    night1 = write_night(base / "n1", tiny_night())
    night2 = big_night(base / "n2", 8_000)
    template = base / "template.duckdb"
    with open_bundle(night1) as bundle, Store.open(template) as store:
        ingest_bundle(store, bundle, district="maple", taken_at=datetime(2026, 9, 1, 2))
    return template, night1, night2


@pytest.mark.parametrize("seed", range(KILL_POINTS))
def test_sigkill_at_a_seeded_point_loses_nothing_and_the_rerun_succeeds(
    nights: tuple[Path, Path, Path], tmp_path: Path, seed: int
) -> None:
    template, night1, night2 = nights
    store_path = tmp_path / "store.duckdb"
    copy_store(template, store_path)
    rng = random.Random(seed)
    lines, delay = rng.randrange(0, 24), rng.uniform(0, 0.05)

    child = start_ingest(store_path, night2, NIGHT_2)
    assert child.stderr is not None
    seen = [child.stderr.readline()]
    while seen[-1] and len(seen) <= lines:
        seen.append(child.stderr.readline())
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.wait()
    seen += child.stderr.readlines()
    committed = any(line.startswith("committed") for line in seen)

    healthy(store_path)  # on the store exactly as the kill left it (WAL not yet replayed)
    with Store.open(store_path, read_only=True, published=False) as store:
        ids = [s.id for s in store.snapshots()]
        assert ids == [1, 2] if committed else ids in ([1], [1, 2]), "".join(seen)
        assert exported(store, 1, tmp_path / "out1") == folder_files(night1)
        if ids == [1, 2]:
            assert exported(store, 2, tmp_path / "out2") == folder_files(night2)
    with open_bundle(night2) as bundle, Store.open(store_path) as store:
        rerun = ingest_bundle(
            store, bundle, district="maple", taken_at=datetime.fromisoformat(NIGHT_2)
        )
        assert (rerun.snapshot.id, rerun.new) == (2, ids == [1])
        assert store.snapshot_rows(2)["students"] == 8_003
        assert exported(store, 2, tmp_path / "again") == folder_files(night2)
    healthy(store_path)
