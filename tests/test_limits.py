"""Limits: a night bigger than DuckDB's memory limit is ingested within it by spilling to disk.

The night: a 100,000-student synthetic district (62 MB of CSV, 800,000 enrollments). Ingesting it
with no limit peaks at about 340 MB of DuckDB memory; with ``memory_limit = 64MB`` and one thread
it completes, spilling about 140 MB to the store's ``.tmp`` folder (measured, see
docs/reliability.md). The test proves the spill is what makes it fit: with spilling switched off
the same ingest runs out of memory (a one-line error, nothing committed), with it on it succeeds.

A full disk is simulated per process with ``RLIMIT_FSIZE`` (writes past the limit fail with
EFBIG, as ENOSPC would on a full disk; SIGXFSZ ignored): ingest, export and fix each give one
line saying the disk is full, exit 2, and leave the store healthy and the re-run working.
"""

from __future__ import annotations

import re
import resource
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rosterlab.bundle import open_bundle
from rosterlab.cli import main
from rosterlab.config import load_settings
from rosterlab.errors import ConfigError, StoreError
from rosterlab.store import Store, ingest_bundle
from rosterlab.synth import generate_district, write_night
from tests.tiny import folder_files, tiny_night
from tests.tiny import write_night as write_tiny

LIMIT = "64MB"
STUDENTS = 100_000


def out_of_memory(store: Path, limit: str) -> str:
    return (
        f"store {store} ran out of memory (memory_limit {limit}): raise memory_limit in "
        "rosterlab.toml or ROSTERLAB_MEMORY_LIMIT, or lower threads"
    )


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    district = generate_district("big", students=STUDENTS, seed=3, extensions=False)
    folder = tmp_path_factory.mktemp("limits") / "2026-09-01"
    write_night(district.night(1), folder)
    return folder


def test_a_night_bigger_than_the_memory_limit_is_ingested_by_spilling_to_disk(
    night: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    size = sum(p.stat().st_size for p in night.iterdir())
    assert size > 60_000_000

    unspilled = tmp_path / "no-spill.duckdb"
    with Store.open(unspilled, memory_limit=LIMIT, threads=1) as store:
        store.execute("SET temp_directory = ''")  # no spilling: the night must fit in memory
        with open_bundle(night) as bundle, pytest.raises(StoreError) as raised:
            ingest_bundle(store, bundle, district="big")
        assert raised.value.message == out_of_memory(unspilled, LIMIT)
        assert store.snapshots() == []

    monkeypatch.setenv("ROSTERLAB_MEMORY_LIMIT", LIMIT)
    monkeypatch.setenv("ROSTERLAB_THREADS", "1")
    store_path = tmp_path / "store.duckdb"
    code = main(["--store", str(store_path), "ingest", str(night), "--district", "big"])
    _, err = capsys.readouterr()
    assert (code, err) == (0, "")
    with Store.open(store_path, read_only=True) as store:
        rows = store.snapshot_rows(1)
        assert (rows["students"], rows["enrollments"]) == (STUDENTS, 8 * STUDENTS)
    spill = Path(f"{store_path}.tmp")
    assert not spill.exists() or not any(spill.iterdir())  # spill files are cleaned up


def test_a_limit_too_small_for_any_work_is_a_one_line_error_and_nothing_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ROSTERLAB_MEMORY_LIMIT", "4MB")
    store_path = tmp_path / "store.duckdb"
    folder = write_tiny(tmp_path / "night", tiny_night())
    code = main(["--store", str(store_path), "ingest", str(folder), "--district", "maple"])
    out, err = capsys.readouterr()
    assert (code, out, err) == (2, "", f"rosterlab: {out_of_memory(store_path, '4MB')}\n")
    monkeypatch.delenv("ROSTERLAB_MEMORY_LIMIT")
    with Store.open(store_path, read_only=True) as store:
        assert store.snapshots() == []


def test_memory_limit_and_threads_come_from_the_environment_before_rosterlab_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ROSTERLAB_MEMORY_LIMIT", raising=False)
    monkeypatch.delenv("ROSTERLAB_THREADS", raising=False)
    config = tmp_path / "rosterlab.toml"
    config.write_text('memory_limit = "2GB"\nthreads = 4\n')
    settings = load_settings(config=str(config))
    assert (settings.memory_limit, settings.threads) == ("2GB", 4)

    monkeypatch.setenv("ROSTERLAB_MEMORY_LIMIT", "512MB")
    monkeypatch.setenv("ROSTERLAB_THREADS", "2")
    settings = load_settings(config=str(config))
    assert (settings.memory_limit, settings.threads) == ("512MB", 2)
    assert (load_settings().memory_limit, load_settings().threads) == ("512MB", 2)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            'memory_limit = "lots"\n',
            "{config}: memory_limit 'lots' must be a size like '2GB' or '512MB'",
        ),
        (
            "memory_limit = 2048\n",
            "{config}: memory_limit 2048 must be a size like '2GB' or '512MB'",
        ),
        ("threads = 0\n", "{config}: threads 0 must be a whole number of at least 1"),
        ('threads = "two"\n', "{config}: threads 'two' must be a whole number of at least 1"),
    ],
)
def test_a_wrong_limit_is_a_one_line_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toml: str, message: str
) -> None:
    monkeypatch.delenv("ROSTERLAB_MEMORY_LIMIT", raising=False)
    monkeypatch.delenv("ROSTERLAB_THREADS", raising=False)
    config = tmp_path / "rosterlab.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError) as raised:
        load_settings(config=str(config))
    assert raised.value.message == message.format(config=config)


FULL = (
    "(file too large): free space on that disk (or raise the quota or file-size limit), then re-run"
)
RULES = """district = "maple"

[[rules]]
op = "drop"
entity = "enrollments"
code = "enrollment-unknown-section"
reason = "SEC-9 is not exported yet"
"""


def file_size_limit(limit: int) -> Callable[[], None]:
    """For ``preexec_fn``: writes past ``limit`` bytes of any file fail, as on a full disk."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def rosterlab(store: Path, *argv: str, limit: int | None = None) -> tuple[int, str]:
    """Run the CLI in a process (under a file-size limit); its exit code and stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "rosterlab", "--store", str(store), *argv],
        capture_output=True,
        text=True,
        preexec_fn=None if limit is None else file_size_limit(limit),
    )
    return done.returncode, done.stderr


def test_a_full_disk_is_one_line_for_ingest_export_and_fix_and_the_store_stays_healthy(
    tmp_path: Path,
) -> None:
    store = tmp_path / "store.duckdb"
    night2 = tiny_night()
    night2["enrollments.csv"].append(["SCH-1", "SEC-9", "S-001"])  # for fix to drop
    folders = [
        write_tiny(tmp_path / "n1", tiny_night()),
        write_tiny(tmp_path / "n2", night2, when=datetime(2026, 9, 2, 2, tzinfo=UTC)),
    ]
    assert rosterlab(store, "ingest", str(folders[0]), "--district", "maple") == (0, "")
    ingest = ["ingest", str(folders[1]), "--district", "maple"]

    assert rosterlab(store, *ingest, limit=0) == (  # not even a temporary file can be written
        2,
        "rosterlab: disk full while writing a temporary folder (none of TMPDIR, /tmp, /var/tmp "
        "or the current folder takes a file): free space on that disk (or raise the quota or "
        "file-size limit), then re-run; nothing was read (TMPDIR may name a folder on a disk "
        "with space)\n",
    )
    assert rosterlab(store, *ingest, limit=1000) == (
        2,
        f"rosterlab: disk full while writing {store}.wal {FULL}; the store keeps what it held "
        "before\n",
    )
    assert rosterlab(store, "doctor") == (0, "")
    with Store.open(store, read_only=True) as opened:
        assert [s.id for s in opened.snapshots()] == [1]
    assert rosterlab(store, *ingest) == (0, "")

    dest = tmp_path / "export"
    export = ["export", "2", str(dest)]
    assert rosterlab(store, *export, limit=200) == (
        2,
        f"rosterlab: disk full while writing {dest / 'students.csv'} {FULL}; nothing was "
        "exported\n",
    )
    assert list(dest.iterdir()) == []  # the re-run may use the same folder
    assert rosterlab(store, *export) == (0, "")
    assert folder_files(dest) == folder_files(folders[1])

    (tmp_path / "rules.toml").write_text(RULES)
    out = tmp_path / "fixed"
    fix = ["fix", "--district", "maple", "--rules", str(tmp_path / "rules.toml"), "--out", str(out)]
    code, err = rosterlab(store, *fix, limit=1000)
    assert code == 2
    assert re.fullmatch(  # the first write is the re-check's throw-away store, in a temp folder
        rf"rosterlab: disk full while writing /\S+/check\.duckdb(\.wal)? {re.escape(FULL)}; "
        rf"no corrected bundle was written to {re.escape(str(out))}\n",
        err,
    ), err
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "export", "n1", "n2", "rules.toml", "store.duckdb", "store.duckdb.published",
    ]  # fmt: skip
    assert rosterlab(store, "doctor") == (0, "")
    assert rosterlab(store, *fix) == (0, "")
    assert sorted(p.name for p in out.iterdir()) == [
        "changes.csv", "enrollments.csv", "manifest.json", "schools.csv", "sections.csv",
        "students.csv", "teachers.csv",
    ]  # fmt: skip
    with Store.open(store, read_only=True) as opened:
        assert [s.id for s in opened.snapshots()] == [1, 2]
