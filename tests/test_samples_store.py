"""The committed sample districts round-trip through the store byte for byte."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from rosterlab.bundle.history import read_history_folder
from rosterlab.cli import main
from rosterlab.config import load_settings
from rosterlab.store import Store, export_snapshot
from rosterlab.store.district_settings import settings_for_district
from tests.cli_run import run

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"


def digest_tree(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("samples") / "samples.duckdb"
    for district in ("maple", "cedar"):
        assert main(["--store", str(store), "ingest", str(SAMPLES / district)]) == 0
    return store


@pytest.mark.parametrize("district", ["maple", "cedar"])
def test_every_sample_night_exports_byte_identical(sample_store, tmp_path, district):
    history = read_history_folder(SAMPLES / district)
    assert history is not None
    with Store.open(sample_store, read_only=True) as store:
        snapshots = store.snapshots(district)
        assert [s.taken_at for s in snapshots] == [n.taken_at for n in history.nights]
        for snapshot, night in zip(snapshots, history.nights, strict=True):
            out = tmp_path / f"{district}-{snapshot.seq}"
            export_snapshot(store, snapshot.id, out)
            assert digest_tree(out) == digest_tree(night.path), night.path.name


def test_sample_districts_keep_their_sync_types(sample_store):
    with Store.open(sample_store, read_only=True) as store:
        assert {s.district: s.sync_type for s in store.snapshots()} == {
            "maple": "sftp",
            "cedar": "clever-managed",
        }
        assert len(store.snapshots("maple")) == 8
        assert len(store.snapshots("cedar")) == 8


def test_reingesting_the_samples_changes_nothing(sample_store, capsys):
    with Store.open(sample_store, read_only=True) as store:
        before = store.rows("SELECT count(*) FROM enrollments")
    assert (
        main(["--store", str(sample_store), "ingest", str(SAMPLES / "maple"), "--format", "json"])
        == 0
    )
    assert '"new": true' not in capsys.readouterr().out
    with Store.open(sample_store, read_only=True) as store:
        assert store.rows("SELECT count(*) FROM enrollments") == before
        assert len(store.snapshots()) == 16


def test_doctor_finds_the_sample_store_healthy(sample_store, capsys):
    code, out, err = run(capsys, "--store", str(sample_store), "doctor")
    assert (code, err) == (0, "")
    assert "is healthy: 16 snapshots of 2 districts" in out


@pytest.mark.parametrize("district", ["maple", "cedar"])
def test_doctor_is_clean_after_ingesting_one_sample_district(tmp_path, capsys, district):
    store = str(tmp_path / "one.duckdb")
    assert run(capsys, "--store", store, "ingest", str(SAMPLES / district))[0] == 0
    code, out, _ = run(capsys, "--store", store, "doctor")
    assert code == 0, out
    assert "is healthy: 8 snapshots of 1 district," in out


def test_what_clever_does_with_each_sample_night(sample_store, capsys):
    code, out, _ = run(capsys, "--store", str(sample_store), "snapshots", "--format", "json")
    assert code == 0
    outcomes = {(s["district"], s["seq"]): (s["outcome"], s["reason"]) for s in json.loads(out)}
    assert outcomes == {
        ("maple", 1): ("processed", ""),
        ("maple", 2): ("processed", ""),
        ("maple", 3): ("processed", ""),
        ("maple", 4): ("processed", ""),
        ("maple", 5): ("held", "hold: students update"),
        ("maple", 6): ("held", "hold: students update"),
        ("maple", 7): ("held", "hold: enrollments deletion, sections deletion, students update"),
        ("maple", 8): ("held", "hold: contacts deletion, enrollments deletion, students deletion"),
        ("cedar", 1): ("processed", ""),
        ("cedar", 2): ("processed", ""),
        ("cedar", 3): ("held", "hold: students update"),
        ("cedar", 4): ("processed", ""),
        ("cedar", 5): ("processed", ""),
        ("cedar", 6): ("held", "hold: staff deletion"),
        ("cedar", 7): ("not-processed", "missing-file: students.csv"),
        ("cedar", 8): ("held", "hold: staff deletion, teachers deletion"),
    }


def test_cedar_night_8_is_compared_with_night_6_at_cedars_threshold(sample_store, capsys):
    store = str(sample_store)
    code, out, _ = run(capsys, "--store", store, "diff", "--district", "cedar", "--format", "json")
    payload = json.loads(out)
    assert (code, payload["from_seq"], payload["to_seq"]) == (0, 6, 8)
    assert payload["entities"]["students"]["removed"] == 2
    assert {r["threshold"] for r in payload["hold"]["reasons"]} == {0.05}
    code, out, _ = run(capsys, "--store", store, "check", "--district", "cedar")
    assert "33% of teachers would be deleted (threshold 5%)" in out
    with Store.open(sample_store, read_only=True) as opened:
        assert settings_for_district(opened, load_settings(), "cedar").hold_deletion_threshold == (
            0.05
        )
