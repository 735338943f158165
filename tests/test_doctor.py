"""``rosterlab doctor``: a healthy store passes; each kind of damage is one line saying what to do.

Each damage is done to a real store with plain SQL, the way a crash, a bad restore or a hand edit
would leave it; doctor must name it exactly (exit 1), or say it cannot open the store (exit 2).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from rosterlab.bundle import open_bundle
from rosterlab.store import Store, ingest_bundle
from tests.cli_run import run
from tests.corpus.faults import big_night, program, start_ingest, wait_for
from tests.tiny import tiny_night, write_night

RESTORE = "restore the store from a backup, or re-create it by ingesting the district's nights"


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """maple, two nights: on night 2 S-002 moves to grade 11."""
    path = tmp_path / "store.duckdb"
    night2 = tiny_night()
    night2["students.csv"][3][5] = "11"
    with Store.open(path) as store:
        for day, night in ((1, tiny_night()), (2, night2)):
            with open_bundle(write_night(tmp_path / f"n{day}", night)) as bundle:
                ingest_bundle(store, bundle, district="maple", taken_at=datetime(2026, 9, day, 2))
    return path


def damage(path: Path, *statements: str) -> None:
    with Store.open(path) as store:
        for sql in statements:
            store.execute(sql)


def test_a_healthy_store(capsys: pytest.CaptureFixture[str], store_path: Path) -> None:
    code, out, err = run(capsys, "--store", str(store_path), "doctor")
    assert (code, err) == (0, "")
    assert out == (
        f"store {store_path} is healthy: 2 snapshots of 1 district, 17 versions, "
        "6 raw files (6 decoded)\n"
    )
    code, out, _ = run(capsys, "--store", str(store_path), "doctor", "--quick", "--format", "json")
    assert code == 0
    assert json.loads(out) == {
        "store": str(store_path),
        "quick": True,
        "districts": 1,
        "snapshots": 2,
        "versions": 17,
        "raw_files": 6,
        "raw_files_decoded": 0,
        "problems": [],
        "notes": [],
        "healthy": True,
    }


@pytest.mark.parametrize(
    ("statements", "problems"),
    [
        (
            ["DELETE FROM schema_migrations WHERE version = 2"],
            [
                "schema migration 2 (entity SCD2 tables) is not applied: run any rosterlab "
                "ingest once (re-ingesting the latest night changes nothing) to apply it"
            ],
        ),
        (
            ["DELETE FROM snapshot_files WHERE snapshot_id = 2 AND name = 'teachers.csv'"],
            [
                "snapshot 2 (maple night 2): its snapshot_files (4 files) do not add up to the "
                f"bundle it recorded; {RESTORE}"
            ],
        ),
        (
            ["DELETE FROM snapshot_entities WHERE snapshot_id = 1 AND entity = 'teachers'"],
            [f"snapshot 1 (maple night 1) has no snapshot_entities row for teachers; {RESTORE}"],
        ),
        (
            ["UPDATE snapshot_entities SET rows = 4 WHERE snapshot_id = 2 AND entity = 'students'"],
            [
                "snapshot 2 (maple night 2): students history gives rows/opened/closed 3/1/1 but "
                f"snapshot_entities records 4/1/1; {RESTORE}"
            ],
        ),
        (
            ["UPDATE snapshots SET seq = 3 WHERE id = 2"],
            [
                f"snapshot 2 (maple night 3) should be night 2: the district's nights are not "
                f"numbered 1, 2, 3...; {RESTORE}",
                "snapshot 2 (maple night 3): students history gives rows/opened/closed 3/0/0 but "
                f"snapshot_entities records 3/1/1; {RESTORE}",
            ],
        ),
        (
            ["UPDATE students SET valid_to = 0 WHERE key = 'S-001'"],
            [
                "students 'S-001' of district maple has interval [1, 0] outside its nights (1..2) "
                f"or reversed; {RESTORE}",
                "snapshot 1 (maple night 1): students history gives rows/opened/closed 2/3/1 but "
                f"snapshot_entities records 3/3/0; {RESTORE}",
                "snapshot 2 (maple night 2): students history gives rows/opened/closed 2/1/1 but "
                f"snapshot_entities records 3/1/1; {RESTORE}",
            ],
        ),
        (
            ["INSERT INTO schools SELECT * FROM schools WHERE key = 'SCH-1'"],
            [
                "schools 'SCH-1' of district maple: the same version is present twice from night 1 "
                f"(ingest would mis-close it); {RESTORE}",
                "snapshot 1 (maple night 1): schools history gives rows/opened/closed 3/3/0 but "
                f"snapshot_entities records 2/2/0; {RESTORE}",
                "snapshot 2 (maple night 2): schools history gives rows/opened/closed 3/0/0 but "
                f"snapshot_entities records 2/0/0; {RESTORE}",
            ],
        ),
        (
            [
                "DELETE FROM raw_files WHERE sha256 IN (SELECT sha256 FROM snapshot_files "
                "WHERE snapshot_id = 2 AND name = 'students.csv')"
            ],
            [
                "raw file {students2} (students.csv of snapshot 2) is missing: export and push of "
                f"that night will fail; {RESTORE}"
            ],
        ),
        (
            [
                "INSERT INTO findings SELECT 9, stage, code, severity, entity, key, field, value, "
                '"row", message, hint, cause, "count", "rows", sample_keys FROM findings '
                "WHERE snapshot_id = 1"
            ],
            [f"findings has 1 rows of snapshot 9, which does not exist; {RESTORE}"],
        ),
        (
            ["INSERT INTO duplicate_versions VALUES (2, 'students', 'S-002', 42)"],
            [
                "snapshot 2 (maple night 2): duplicate_versions records 1 students versions "
                f"sharing a key but the history holds 0; {RESTORE}"
            ],
        ),
    ],
    ids=[
        "migration-missing",
        "snapshot-file-missing",
        "snapshot-entity-missing",
        "row-count-wrong",
        "seq-gap",
        "interval-reversed",
        "version-open-twice",
        "raw-file-missing",
        "orphan-findings",
        "duplicate-version-not-held",
    ],
)
def test_each_damage_is_one_line_saying_what_to_do(
    capsys: pytest.CaptureFixture[str],
    store_path: Path,
    statements: list[str],
    problems: list[str],
) -> None:
    with Store.open(store_path, read_only=True) as store:
        students2 = store.rows(
            "SELECT sha256 FROM snapshot_files WHERE snapshot_id = 2 AND name = 'students.csv'"
        )[0][0][:12]
    damage(store_path, *statements)
    code, out, err = run(capsys, "--store", str(store_path), "doctor")
    assert (code, err) == (1, "")
    lines = out.splitlines()
    assert lines[:-1] == [f"problem: {p.format(students2=students2)}" for p in problems]
    noun = "problem" if len(problems) == 1 else "problems"
    assert lines[-1].startswith(f"store {store_path}: {len(problems)} {noun} in 2 snapshots of")


def test_a_corrupt_raw_file_is_found_by_the_full_check_only(
    capsys: pytest.CaptureFixture[str], store_path: Path
) -> None:
    with Store.open(store_path) as store:
        sha256 = store.rows(
            "SELECT sha256 FROM snapshot_files WHERE snapshot_id = 1 AND name = 'schools.csv'"
        )[0][0]
        store.execute("UPDATE raw_files SET data = 'not zstd'::BLOB WHERE sha256 = ?", [sha256])

    assert run(capsys, "--store", str(store_path), "doctor", "--quick")[0] == 0
    code, out, _ = run(capsys, "--store", str(store_path), "doctor", "--format", "json")
    problems = json.loads(out)["problems"]
    assert code == 1
    assert [(p["check"], p["message"].split(" cannot be read (")[0]) for p in problems] == [
        ("raw-files", f"raw file {sha256[:12]}")
    ]
    assert problems[0]["message"].endswith(f"export of the nights holding it is lost; {RESTORE}")


def test_a_store_doctor_cannot_open_is_exit_two(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    store_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = tmp_path / "none.duckdb"
    assert run(capsys, "--store", str(missing), "doctor") == (
        2,
        "",
        f"rosterlab: no store at {missing}: check --store or ROSTERLAB_STORE\n",
    )
    garbage = tmp_path / "notes.duckdb"
    garbage.write_text("call the SIS vendor\n")
    assert run(capsys, "--store", str(garbage), "doctor") == (
        2,
        "",
        f"rosterlab: {garbage} is not a rosterlab store (not a DuckDB file): "
        "give another --store\n",
    )

    writer = start_ingest(
        store_path, big_night(tmp_path / "n3", 100), "2026-09-03T02:00", pause_at="merging"
    )
    wait_for(writer, "paused")
    monkeypatch.setenv("ROSTERLAB_STORE_WAIT", "1.5")  # doctor reads the store file: it waits
    holder = f"PID {writer.pid} ({program(writer.pid)})"
    assert run(capsys, "--store", str(store_path), "doctor") == (
        2,
        "",
        f"rosterlab: waiting for the store, held by {holder} — 1 s\n"
        f"rosterlab: store {store_path} is in use by {holder} (waited 2 s): wait for it to "
        "finish and retry, or raise store_wait\n",
    )
    assert writer.stdin is not None
    writer.stdin.close()
    assert writer.wait() == 0
    assert run(capsys, "--store", str(store_path), "doctor")[0] == 0
