"""The CLI contract: exact text and JSON output, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_run import run
from tests.tiny import tiny_night, write_night


@pytest.fixture
def district(tmp_path: Path) -> Path:
    """maple: night 1 clean; night 2 S-002 moves to grade 11 and sections.csv is missing."""
    folder = tmp_path / "maple"
    write_night(folder / "2026-09-01", tiny_night())
    night = tiny_night()
    night["students.csv"][3][5] = "11"
    del night["sections.csv"]  # incident: sections.csv not uploaded
    write_night(folder / "2026-09-02", night)
    (folder / "district.toml").write_text('name = "Maple Grove USD"\nsync_type = "sftp"\n')
    return folder


def test_ingest_a_district_folder_night_by_night(capsys, tmp_path, district):
    store = str(tmp_path / "s.duckdb")
    code, out, err = run(capsys, "--store", store, "ingest", str(district))

    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "maple 2026-09-01 02:00 → snapshot 1 (night 1, new)",
        "  rows: schools 2 · students 3 · contacts 3 · teachers 3 · sections 2 · enrollments 3"
        " · staff 0 · admins 0",
        "  Clever: processed",
        "  findings: 0 errors, 0 warnings, 1 info",
        "    info    extension-column ×1: students.csv sends the custom field ext.house.",
        "maple 2026-09-02 02:00 → snapshot 2 (night 2, new)",
        "  rows: schools 2 · students 3 · contacts 3 · teachers 3 · sections 0 · enrollments 3"
        " · staff 0 · admins 0",
        "  Clever: not-processed (missing-file: sections.csv)",
        "  findings: 1 error, 0 warnings, 1 info",
        "    error   missing-file ×1: sections.csv is missing from the bundle; Clever will not "
        "process this upload.",
        "    info    extension-column ×1: students.csv sends the custom field ext.house.",
    ]


def test_ingest_json_matches_the_contract_and_is_idempotent(capsys, tmp_path, district):
    store = str(tmp_path / "s.duckdb")
    night = str(district / "2026-09-01")
    args = [
        "--store",
        store,
        "ingest",
        night,
        "--district",
        "maple",
        "--taken-at",
        "2026-09-01T02:00:00",
        "--format",
        "json",
    ]
    first = json.loads(run(capsys, *args)[1])
    again = json.loads(run(capsys, *args)[1])

    assert first == {
        "outcome": "processed",
        "reason": "",
        "skipped": [],
        "may_skip": [],
        "carried": [],
        "not_served": [],
        "snapshot": {
            "id": 1,
            "district": "maple",
            "seq": 1,
            "taken_at": "2026-09-01T02:00:00",
            "bundle_sha256": first["snapshot"]["bundle_sha256"],
            "new": True,
            "taken_at_from": "given",
        },
        "findings_summary": {"error": 0, "warning": 0, "info": 1},
        "records_summary": {"error": 0, "warning": 0, "info": 1},
    }
    assert len(first["snapshot"]["bundle_sha256"]) == 64
    assert again["snapshot"] == {**first["snapshot"], "new": False}


def test_fail_on_sets_exit_code_one(capsys, tmp_path, district):
    store = str(tmp_path / "s.duckdb")
    assert run(capsys, "--store", store, "ingest", str(district), "--fail-on", "error")[0] == 1
    store2 = str(tmp_path / "s2.duckdb")
    night = str(district / "2026-09-01")
    args = ["--store", store2, "ingest", night, "--district", "maple", "--fail-on", "warning"]
    assert run(capsys, *args)[0] == 0


@pytest.mark.parametrize("form", ["text", "json"])
def test_snapshots_of_a_district_the_store_lacks_name_the_ones_it_holds(
    capsys, tmp_path, district, form
):
    """`snapshots --district mapel` (a typo) said 'no snapshots yet: ingest a bundle', as if the
    store were empty; then it said the error on stdout with exit 0 (JSON: `[]`), where every
    other command exits 2 for a district the store lacks (docs/cli.md: 2 = could not do its job,
    one line on stderr)."""
    store = str(tmp_path / "s.duckdb")
    run(capsys, "--store", store, "ingest", str(district))
    args = ["--store", store, "snapshots", "--district", "mapel", "--format", form]
    assert run(capsys, *args) == (
        2,
        "",
        "rosterlab: district mapel has no snapshots (the store holds maple): check --district, "
        "or ingest its nights with rosterlab ingest\n",
    )


def test_snapshots_json(capsys, tmp_path, district):
    store = str(tmp_path / "s.duckdb")
    run(capsys, "--store", store, "ingest", str(district))
    code, out, _ = run(
        capsys, "--store", store, "snapshots", "--district", "maple", "--format", "json"
    )
    listed = json.loads(out)
    assert code == 0
    assert [(s["id"], s["seq"], s["taken_at"], s["origin"], s["sync_type"]) for s in listed] == [
        (1, 1, "2026-09-01T02:00:00", "upload", "sftp"),
        (2, 2, "2026-09-02T02:00:00", "upload", "sftp"),
    ]
    assert listed[1]["rows"] == {
        "schools": 2,
        "students": 3,
        "contacts": 3,
        "teachers": 3,
        "sections": 0,
        "enrollments": 3,
        "staff": 0,
        "admins": 0,
    }


def test_export_previous_is_byte_identical(capsys, tmp_path, district):
    store = str(tmp_path / "s.duckdb")
    run(capsys, "--store", store, "ingest", str(district))
    out_dir = tmp_path / "out"
    code, out, _ = run(
        capsys, "--store", store, "export", "previous", str(out_dir), "--district", "maple"
    )
    assert code == 0
    assert out == f"snapshot 1 (maple night 1): 5 files as received written to {out_dir}\n"
    for name in ("schools.csv", "students.csv", "enrollments.csv"):
        assert (out_dir / name).read_bytes() == (district / "2026-09-01" / name).read_bytes()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["ingest", "missing-folder", "--district", "maple"],
            "rosterlab: bundle {cwd}/missing-folder does not exist: "
            "pass a bundle folder or a .zip of one\n",
        ),
        (
            ["snapshots"],
            "rosterlab: no store at {store}: ingest a bundle first (rosterlab ingest)\n",
        ),
        (
            ["export", "latest", "x"],
            "rosterlab: no store at {store}: ingest a bundle first (rosterlab ingest)\n",
        ),
    ],
)
def test_errors_are_one_line_with_exit_code_two(capsys, tmp_path, argv, message):
    store = str(tmp_path / "none.duckdb")
    code, out, err = run(capsys, "--store", store, *argv)
    assert (code, out, err) == (2, "", message.format(store=store, cwd=Path.cwd()))
    assert not Path(store).exists()


def test_older_night_error_names_the_rebuild_option(capsys, tmp_path, district):
    store = str(tmp_path / "s.duckdb")
    run(
        capsys,
        "--store",
        store,
        "ingest",
        str(district / "2026-09-02"),
        "--district",
        "maple",
        "--taken-at",
        "2026-09-02T02:00:00",
    )
    code, _, err = run(
        capsys,
        "--store",
        store,
        "ingest",
        str(district / "2026-09-01"),
        "--district",
        "maple",
        "--taken-at",
        "2026-09-01T02:00:00",
    )
    assert code == 2
    assert err.endswith("re-run with --rebuild to replay the district's history in time order\n")
    code, out, _ = run(
        capsys,
        "--store",
        store,
        "ingest",
        str(district / "2026-09-01"),
        "--district",
        "maple",
        "--taken-at",
        "2026-09-01T02:00:00",
        "--rebuild",
        "--format",
        "json",
    )
    assert code == 0
    assert json.loads(out)["snapshot"]["seq"] == 1


def test_help_has_an_example(capsys):
    code, out, _ = run(capsys, "ingest", "--help")
    assert code == 0
    assert "example:\n  rosterlab ingest data/samples/maple/2026-09-03 --district maple" in out


def test_python_dash_m_runs_the_cli(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "rosterlab", "--store", str(tmp_path / "x.duckdb"), "snapshots"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("rosterlab: no store at")
