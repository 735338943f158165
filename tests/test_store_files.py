"""Hostile store files: each is one line on stderr and exit 2 from the real CLI, in a process.

A DuckDB file that is not a rosterlab store is never written to; a store from a newer rosterlab is
neither read nor written; a truncated or corrupt store says so and what to do (``doctor``
included); a store path under a file, and DuckDB settings it cannot start with, say what is wrong
instead of "not a rosterlab store".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from rosterlab.bundle import open_bundle
from rosterlab.store import Store, ingest_bundle, published_path
from rosterlab.store.schema import migrations
from tests.tiny import tiny_night, write_night

BLOCK = 256 * 1024  # DuckDB's block size; the first 12 KiB of a file are its headers


def rosterlab(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "rosterlab", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def night(tmp_path: Path) -> Path:
    return write_night(tmp_path / "night", tiny_night())


@pytest.fixture
def store(tmp_path: Path, night: Path) -> Path:
    """A rosterlab store with one night of maple (and its published copy)."""
    path = tmp_path / "store.duckdb"
    with open_bundle(night) as bundle, Store.open(path) as opened:
        ingest_bundle(opened, bundle, district="maple", taken_at=datetime(2026, 9, 1, 2))
    return path


def tables(path: Path) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return [row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]


def test_a_plain_duckdb_file_is_neither_read_nor_written(tmp_path: Path, night: Path) -> None:
    plain = tmp_path / "some-plain.duckdb"
    with duckdb.connect(str(plain)) as con:
        con.execute("CREATE TABLE orders AS SELECT 1 AS id")
        con.execute("CREATE TABLE customers AS SELECT 'Ada' AS name")
    line = (
        f"rosterlab: {plain} is a DuckDB database but not a rosterlab store (it holds "
        "customers, orders): give another --store (a new file, or an existing rosterlab store)\n"
    )
    before = plain.read_bytes()
    for argv in (
        ["snapshots"],
        ["ingest", str(night), "--district", "maple"],
        ["check", "--district", "maple"],
        ["doctor"],
    ):
        assert rosterlab("--store", str(plain), *argv) == (2, "", line), argv
    assert plain.read_bytes() == before  # not a byte written, no tables added
    assert tables(plain) == ["customers", "orders"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["night", "some-plain.duckdb"]


def test_an_empty_duckdb_file_is_a_new_store(tmp_path: Path, night: Path) -> None:
    empty = tmp_path / "new.duckdb"
    duckdb.connect(str(empty)).close()
    assert rosterlab("--store", str(empty), "snapshots") == (
        2,
        "",
        f"rosterlab: {empty} is an empty DuckDB file, not a rosterlab store yet: ingest a bundle "
        "into it first (rosterlab ingest)\n",
    )
    code, _, err = rosterlab("--store", str(empty), "ingest", str(night), "--district", "maple")
    assert (code, err) == (0, "")
    assert "snapshots" in tables(empty)


def test_a_store_from_a_newer_rosterlab_is_refused_and_doctor_says_why(
    store: Path, night: Path
) -> None:
    with Store.open(store) as opened:
        opened.execute("INSERT INTO schema_migrations VALUES (99, 'from the future', now())")
    newest = max(version for version, _, _ in migrations())
    line = (
        f"rosterlab: store {store} was written by a newer rosterlab (schema version 99; this "
        f"rosterlab 0.1.0 knows up to {newest}): upgrade rosterlab to read or write it\n"
    )
    before = store.read_bytes()
    for argv in (["snapshots"], ["ingest", str(night), "--district", "maple"]):
        assert rosterlab("--store", str(store), *argv) == (2, "", line), argv
    assert store.read_bytes() == before
    code, out, err = rosterlab("--store", str(store), "doctor")
    assert (code, err) == (1, "")
    assert out.splitlines()[0] == (
        "problem: schema migration 99 is unknown to this rosterlab: the store was written by a "
        "newer version; upgrade rosterlab"
    )


def damaged_line(path: Path, reason: str, *, copy: bool) -> str:
    restore = (
        f"restore it from a backup or from {published_path(path)} (the last published state)"
        if copy
        else "restore it from a backup"
    )
    return (
        f"rosterlab: store {path} is damaged ({reason}): {restore}, or rebuild it by ingesting "
        "the district's kept nights again (rosterlab ingest DISTRICT_FOLDER into a new --store)\n"
    )


def corrupt_blocks(path: Path) -> None:
    """Scribble over every block after the headers (a failing disk)."""
    size = path.stat().st_size
    with path.open("r+b") as f:
        for start in range(12 * 1024, size, BLOCK):
            f.seek(start + 64)
            f.write(b"\xa5" * 512)


ALL_COMMANDS = (
    ["snapshots"],
    ["diff", "--district", "maple", "--from", "1", "--to", "1"],
    ["check", "--district", "maple"],
    ["fields", "--district", "maple"],
    ["export", "latest", "OUT", "--district", "maple"],
    ["ingest", "NIGHT", "--district", "maple", "--taken-at", "2026-09-02T02:00:00"],
    ["doctor"],
    ["doctor", "--quick"],
)


def test_a_truncated_store_with_its_published_copy_intact(
    store: Path, night: Path, tmp_path: Path
) -> None:
    """Readers keep reading the copy; writers and doctor say the store is damaged, and where
    the intact copy is."""
    with store.open("r+b") as f:
        f.truncate(store.stat().st_size // 2)
    assert rosterlab("--store", str(store), "snapshots")[::2] == (0, "")
    for argv in (["ingest", str(night), "--district", "maple"], ["doctor"]):
        code, out, err = rosterlab("--store", str(store), *argv)
        assert (code, out) == (2, ""), argv
        assert err.startswith(f"rosterlab: store {store} is damaged (IO Error: Could not read ")
        assert err.endswith(
            f": restore it from a backup or from {published_path(store)} (the last published "
            "state), or rebuild it by ingesting the district's kept nights again (rosterlab "
            "ingest DISTRICT_FOLDER into a new --store)\n"
        )
        assert err.count("\n") == 1
    shutil.copyfile(published_path(store), store)  # what the line says to do
    assert rosterlab("--store", str(store), "doctor")[::2] == (0, "")


@pytest.mark.parametrize("damage", ["truncated", "corrupt blocks"])
def test_a_damaged_store_and_copy_is_one_line_for_every_command(
    damage: str, store: Path, night: Path, tmp_path: Path
) -> None:
    for path in (store, published_path(store)):
        if damage == "truncated":
            with path.open("r+b") as f:
                f.truncate(path.stat().st_size // 2)
        else:
            corrupt_blocks(path)
    for argv in ALL_COMMANDS:
        argv = [
            str(tmp_path / "out") if a == "OUT" else str(night) if a == "NIGHT" else a for a in argv
        ]
        code, out, err = rosterlab("--store", str(store), *argv)
        assert (code, out, err.count("\n")) == (2, "", 1), (argv, err)
        if argv[0] in ("ingest", "doctor"):  # writers and doctor open the store file
            assert err.startswith(f"rosterlab: store {store} is damaged ("), (argv, err)
            assert err.endswith("(rosterlab ingest DISTRICT_FOLDER into a new --store)\n"), argv
        else:  # readers open the copy
            copy = published_path(store)
            assert err.startswith(f"rosterlab: the copy readers open, {copy}, is damaged ("), err
            assert err.endswith(
                "): the next rosterlab ingest publishes it again from the store; rosterlab "
                f"doctor checks the store {store} itself\n"
            ), (argv, err)


def test_a_missing_store_whose_copy_remains_is_not_recreated_over_it(
    store: Path, night: Path
) -> None:
    """A store file moved or deleted by mistake: a new empty store would be published over the
    readers' copy, the last full state. Ingest refuses; readers keep reading the copy."""
    store.unlink()
    copy = published_path(store)
    before = copy.read_bytes()
    assert rosterlab("--store", str(store), "ingest", str(night), "--district", "maple") == (
        2,
        "",
        f"rosterlab: store {store} is missing but the copy readers open, {copy}, is there: "
        f"restore the store from it (cp {copy} {store}) and retry, or remove the copy to start "
        "a new store\n",
    )
    assert (store.exists(), copy.read_bytes() == before) == (False, True)
    assert rosterlab("--store", str(store), "snapshots")[::2] == (0, "")
    shutil.copyfile(copy, store)
    code, _, err = rosterlab("--store", str(store), "ingest", str(night), "--district", "maple")
    assert (code, err) == (0, "")  # the same night again: a no-op on the restored store


def test_a_store_whose_parent_is_a_file(tmp_path: Path, night: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a folder")
    path = tmp_path / "notes.txt" / "sub" / "store.duckdb"
    line = (
        f"rosterlab: cannot use store {path}: {tmp_path / 'notes.txt'} is a file, not a folder: "
        "give another --store\n"
    )
    for argv in (["snapshots"], ["ingest", str(night), "--district", "maple"], ["doctor"]):
        expected = line
        if argv == ["doctor"]:
            expected = f"rosterlab: no store at {path}: check --store or ROSTERLAB_STORE\n"
        assert rosterlab("--store", str(path), *argv) == (2, "", expected), argv


@pytest.mark.parametrize(
    ("setting", "value", "shown"),
    [
        ("threads", "99999999999", "memory_limit default and threads 99999999999"),
        ("memory_limit", '"0B"', "memory_limit 0B and threads default"),
    ],
)
def test_duckdb_settings_it_cannot_start_with_are_named(
    setting: str, value: str, shown: str, store: Path, tmp_path: Path
) -> None:
    config = tmp_path / "rosterlab.toml"
    config.write_text(f"{setting} = {value}\n")
    for argv in (["snapshots"], ["doctor"], ["ingest", str(tmp_path / "night"), "--district", "m"]):
        assert rosterlab("--config", str(config), "--store", str(store), *argv) == (
            2,
            "",
            f"rosterlab: DuckDB could not start with {shown} (out of memory before opening "
            f"{store}): give memory_limit a size like '2GB' and threads a number no larger than "
            "the cores (rosterlab.toml, ROSTERLAB_MEMORY_LIMIT, ROSTERLAB_THREADS)\n",
        ), argv
