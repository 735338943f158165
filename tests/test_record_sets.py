"""Record sets: a change set as CSV (``diff --entity --change --format csv``) and the timeline
of a record named by part of its key, through the CLI against a real store."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from rosterlab.cli import main
from tests.cli_run import run
from tests.tiny import tiny_night, write_night


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """maple: night 2 is truncated after S-001 (S-002 and S-003 missing), whose grade is 4 and
    last name -Lee (a spreadsheet would read it as a formula)."""
    path = tmp_path / "s.duckdb"
    second = tiny_night()
    second["students.csv"] = second["students.csv"][:3]  # incident: truncated export
    second["students.csv"][1][5] = second["students.csv"][2][5] = "4"
    second["students.csv"][1][3] = second["students.csv"][2][3] = "-Lee"  # a "formula"
    for day, night in ((1, tiny_night()), (2, second)):
        folder = write_night(tmp_path / f"2026-09-0{day}", night)
        assert main(["--store", str(path), "ingest", str(folder), "--district", "maple"]) == 0
    return path


def cli(capsys, store: Path, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    return run(capsys, "--store", str(store), *argv)


def test_the_students_a_truncated_night_dropped_as_one_csv(capsys, store):
    code, out, err = cli(
        capsys, store, "diff", "--district", "maple", "--entity", "students", "--change",
        "removed", "--format", "csv",
    )  # fmt: skip
    assert (code, err) == (0, "")
    rows = list(csv.reader(io.StringIO(out, newline="")))
    assert rows == [
        ["entity", "key", "change", "changed_fields", "School_id", "Student_id",
         "Student_number", "First_name", "Last_name", "Grade", "Student_zip", "ext.house"],
        ["students", "S-002", "removed", "", "SCH-2", "S-002", "00456", "Bo", "Diaz", "10",
         "02135", "blue"],
        ["students", "S-003", "removed", "", "SCH-2", "S-003", "00789", "Cy", "Okafor", "11",
         "", ""],
    ]  # fmt: skip


def test_changed_records_name_what_changed_and_stay_spreadsheet_safe(capsys, store, tmp_path):
    target = tmp_path / "changed.csv"
    code, out, _ = cli(
        capsys, store, "diff", "--district", "maple", "--from", "n1", "--to", "2026-09-02",
        "--entity", "students", "--change", "changed", "--format", "csv", "--out", str(target),
    )  # fmt: skip
    assert (code, out) == (0, f"diff of snapshots 1 → 2 written to {target}\n")
    rows = list(csv.reader(io.StringIO(target.read_text(), newline="")))
    assert rows == [
        ["entity", "key", "change", "changed_fields", "Last_name", "Grade"],
        ["students", "S-001", "changed", "Last_name: Lee → -Lee; Grade: 3 → 4", "'-Lee", "4"],
    ]


def test_a_filter_value_that_is_not_a_change_kind_is_one_line(capsys, store):
    code, out, err = cli(capsys, store, "diff", "--district", "maple", "--change", "deleted")
    assert (code, out) == (2, "")
    assert err == "rosterlab: unknown change deleted: use one of added, removed, changed\n"


def test_a_part_of_a_key_names_its_record_when_it_is_the_only_one(capsys, store):
    code, out, err = cli(
        capsys, store, "timeline", "--district", "maple", "--entity", "enrollments", "--key",
        "S-003",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "maple enrollments SEC-2/S-003 (2 snapshots)"
    code, out, err = cli(
        capsys, store, "timeline", "--district", "maple", "--entity", "enrollments", "--key",
        "SEC-2",
    )  # fmt: skip
    assert (code, out) == (2, "")
    assert err == (
        "rosterlab: SEC-2 is part of several enrollments keys of maple: SEC-2/S-002, "
        "SEC-2/S-003; give one with --key\n"
    )
