"""Reconcile: the district's upload against what the stand-in API serves, every difference named.

Each test uploads the every-field district with its incident, lets the stand-in (a real process)
serve what Clever would, pulls it, and reconciles.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rosterlab import spec
from rosterlab.api.reconcile import (
    NEVER_SERVED,
    SKIPPING_REFERENCES,
    EntityCounts,
    ReconcileResult,
)
from rosterlab.bundle import open_bundle
from rosterlab.cli import main
from rosterlab.diff.engine import DiffEngine
from rosterlab.report.reconcile import reconcile_html
from rosterlab.spec import finding
from rosterlab.store import SnapshotInfo, Store, ingest_bundle
from tests.api_standin import TOKEN, TOKEN_ENV, standin
from tests.test_api import ADA, DISTRICT, EVERY_FIELD_NIGHT, STUDENT_HEADER, configure, pull
from tests.tiny import Night, tiny_night, write_night

NEVER_EXPOSED = "the Data API never exposes it"
STUDENTS = spec.ENTITIES["students"]
PASSWORDS = [
    ("field-not-served", "students", None, "Password", "1", NEVER_EXPOSED),
    ("field-not-served", "teachers", None, "Password", "1", NEVER_EXPOSED),
    ("field-not-served", "sections", None, "Course_description", "1", NEVER_EXPOSED),
    ("field-not-served", "staff", None, "Password", "2", NEVER_EXPOSED),
]


def student(student_id: str, school: str, last: str, **values: str) -> list[str]:
    """A student row like Ada's (no contact), with its own ids and the given values."""
    row = [*ADA, *[""] * 7]
    row[STUDENT_HEADER.index("Student_id")] = student_id
    row[STUDENT_HEADER.index("School_id")] = school
    row[STUDENT_HEADER.index("Last_name")] = last
    for column in ("Student_number", "State_id", "Student_email", "Username"):
        row[STUDENT_HEADER.index(column)] = f"{student_id}-{column}"
    for column, value in values.items():
        row[STUDENT_HEADER.index(column)] = value
    return row


def every_field_night() -> Night:
    return copy.deepcopy(EVERY_FIELD_NIGHT)


def ingest(store: Path, folder: Path, night: Night, when: datetime) -> None:
    with Store.open(store) as s, open_bundle(write_night(folder, night, when=when)) as b:
        ingest_bundle(s, b, district=DISTRICT, taken_at=when)


def pull_from(served_store: Path, into: Path, tmp_path: Path, *options: str) -> None:
    with standin(served_store, DISTRICT, *options) as origin:
        assert pull(into, configure(tmp_path, origin)) == 0


def reconciled(store: Path, capsys: Any) -> dict[str, Any]:
    capsys.readouterr()
    command = ["--store", str(store), "reconcile", "--district", DISTRICT, "--format", "json"]
    assert main(command) == 0
    return json.loads(capsys.readouterr().out)


def found(result: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (f["code"], f["entity"], f["key"], f["field"], f["value"], f["cause"])
        for f in result["findings"]
    ]


SEPT_1 = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
SEPT_2 = datetime(2026, 9, 2, 2, 0, tzinfo=UTC)


def test_the_references_whose_skipped_target_skips_a_row_are_spec_s_followed_ones_with_codes():
    """Admins are not served; a section's teachers and an enrollment's school are not followed."""
    assert SKIPPING_REFERENCES == {
        "students": (("School_id", "schools", "unknown-school"),),
        "contacts": (("Student_id", "students", "a contact of a student not in students.csv"),),
        "teachers": (("School_id", "schools", "unknown-school"),),
        "sections": (("School_id", "schools", "unknown-school"),),
        "enrollments": (
            ("Student_id", "students", "enrollment-unknown-student"),
            ("Section_id", "sections", "enrollment-unknown-section"),
        ),
        "staff": (("School_id", "schools", "unknown-school"),),
    }


def test_an_upload_served_as_is_differs_only_by_the_fields_the_api_never_exposes(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    store = tmp_path / "s.duckdb"
    ingest(store, tmp_path / "n1", every_field_night(), SEPT_1)
    pull_from(store, store, tmp_path)
    result = reconciled(store, capsys)
    assert found(result) == PASSWORDS
    assert (result["differences"], result["unexplained"]) == ({"field-not-served": 4}, 0)
    assert (result["upload"]["id"], result["served"]["id"]) == (1, 2)
    entities = result["entities"]
    assert [(e["entity"], e["uploaded"], e["served"], e["matched"]) for e in entities] == [
        ("schools", 2, 2, 2), ("students", 3, 3, 3), ("contacts", 3, 3, 3), ("teachers", 3, 3, 3),
        ("sections", 2, 2, 2), ("enrollments", 3, 3, 3), ("staff", 2, 2, 2),
    ]  # fmt: skip


def test_reconcile_says_what_clever_did_with_the_upload_and_with_which_thresholds(
    tmp_path, capsys, monkeypatch
):
    """One settings source: the district.toml kept at ingest (5 % deletions) decided the
    upload's outcome, and reconcile names it (text and JSON)."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    folder = tmp_path / DISTRICT
    folder.mkdir()
    (folder / "district.toml").write_text("hold_deletion_threshold = 0.05\n")
    write_night(folder / "2026-09-01", every_field_night(), when=SEPT_1)
    store = tmp_path / "s.duckdb"
    assert main(["--store", str(store), "ingest", str(folder), "--format", "json"]) == 0
    pull_from(store, store, tmp_path)
    result = reconciled(store, capsys)
    assert result["upload"]["outcome"] == "processed"
    assert result["upload"]["settings"]["hold_deletion_threshold"] == 0.05
    assert main(["--store", str(store), "reconcile", "--district", DISTRICT]) == 0
    assert capsys.readouterr().out.splitlines()[1] == (
        "  Clever: processed; hold thresholds 5% deleted, 75% updated"
    )


def test_rows_clever_skipped_are_explained_by_the_uploads_problem_and_normalised_values_named(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    night = every_field_night()
    night["students.csv"] += [
        student("S-004", "SCH-2", ""),  # blank Last_name: Clever skips the row
        student("S-005", "SCH-9", "Ray"),  # a school that does not exist
        student("S-007", "SCH-1", "Iso", DOB="2017-03-07"),  # not MM/DD/YYYY
    ]
    section = list(night["sections.csv"][1])
    section[1:4] = ["SEC-3", "T-9", ""]  # a teacher HR has not exported yet
    night["sections.csv"].append(section)
    night["enrollments.csv"].append(["SCH-2", "SEC-2", "S-004"])  # enrolls a skipped student
    for ada in night["students.csv"][1:3]:
        ada[STUDENT_HEADER.index("DOB")] = "3/7/2017"  # no leading zeros
        ada[STUDENT_HEADER.index("Frl_status")] = "Reduced"  # the long form reads back as R
        ada[STUDENT_HEADER.index("Race")] = "Z"  # outside the race codes
    store = tmp_path / "s.duckdb"
    ingest(store, tmp_path / "n1", night, SEPT_1)
    pull_from(store, store, tmp_path)
    result = reconciled(store, capsys)
    dates = "dates are served as M/D/YYYY and read back MM/DD/YYYY"
    assert found(result) == [
        ("served-skipped", "students", "S-004", None, None, "missing-value"),
        ("served-skipped", "students", "S-005", None, None, "unknown-school"),
        ("field-not-served", "students", None, "Password", "4", NEVER_EXPOSED),
        ("value-normalised", "students", None, "DOB", "1",
         "a date not written MM/DD/YYYY is not served"),
        ("value-normalised", "students", None, "DOB", "1", dates),
        ("value-normalised", "students", None, "Frl_status", "1",
         "frl long forms are read back as the F/R/N codes, an off-list Y as Other"),
        ("value-normalised", "students", None, "Race", "1",
         "a value outside Clever's vocabulary is not served"),
        PASSWORDS[1],
        ("field-not-served", "sections", None, "Course_description", "2", NEVER_EXPOSED),
        ("reference-not-served", "sections", None, "Teacher_id", "1", "section-unknown-teacher"),
        ("served-skipped", "enrollments", "SEC-2/S-004", "Student_id", "S-004", "missing-value"),
        PASSWORDS[3],
    ]  # fmt: skip
    assert result["unexplained"] == 0
    assert result["differences"] == {
        "field-not-served": 4, "reference-not-served": 1, "served-skipped": 3,
        "value-normalised": 4,
    }  # fmt: skip


def test_a_held_sync_shows_stale_records_missing_records_and_unexplained_values(
    tmp_path, capsys, monkeypatch
):
    """Clever still serves night 1 (the sync was held); the district uploaded night 2."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    store = tmp_path / "s.duckdb"
    ingest(store, tmp_path / "n1", every_field_night(), SEPT_1)
    night2 = every_field_night()
    night2["students.csv"] = [r for r in night2["students.csv"] if r[1] != "S-002"]
    night2["students.csv"].append(student("S-006", "SCH-1", "New"))
    night2["students.csv"][-2][STUDENT_HEADER.index("Grade")] = "12"  # Cy: 11 → 12
    night2["enrollments.csv"] = [r for r in night2["enrollments.csv"] if r[2] != "S-002"]
    ingest(store, tmp_path / "n2", night2, SEPT_2)
    pull_from(store, store, tmp_path, "--snapshot", "1")
    result = reconciled(store, capsys)
    assert (result["upload"]["id"], result["served"]["id"]) == (2, 3)
    assert (
        found(result)
        == [
            ("served-missing", "students", "S-006", None, None, None),
            ("served-stale", "students", "S-002", None, "1", None),
            ("field-not-served", "students", None, "Password", "2", NEVER_EXPOSED),  # S-006's too
            ("value-differs", "students", "S-003", "Grade", "11", None),
            *PASSWORDS[1:3],
            ("served-stale", "enrollments", "SEC-2/S-002", None, "1", None),
            PASSWORDS[3],
        ]
    )
    differs = next(f for f in result["findings"] if f["code"] == "value-differs")
    assert differs["message"] == "students S-003 Grade: uploaded '12', served '11'."
    assert result["unexplained"] == 2


def test_a_record_clever_serves_that_was_never_uploaded_is_listed_as_such(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    store = tmp_path / "s.duckdb"
    ingest(store, tmp_path / "n1", every_field_night(), SEPT_1)
    elsewhere = every_field_night()  # another source Clever merges in adds S-099
    elsewhere["students.csv"].append(student("S-099", "SCH-1", "Else"))
    other_store = tmp_path / "other.duckdb"
    ingest(other_store, tmp_path / "other", elsewhere, SEPT_1)
    pull_from(other_store, store, tmp_path)
    result = reconciled(store, capsys)
    assert found(result) == [
        ("served-not-uploaded", "students", "S-099", None, None, None),
        *PASSWORDS,
    ]
    assert result["unexplained"] == 1


def test_a_changed_sis_id_is_served_under_a_new_clever_id(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    store = tmp_path / "s.duckdb"
    ingest(store, tmp_path / "n1", every_field_night(), SEPT_1)
    pull_from(store, store, tmp_path)
    night2 = json.loads(json.dumps(every_field_night()).replace('"S-003"', '"S-003X"'))
    ingest(store, tmp_path / "n2", night2, datetime.now(UTC))
    pull_from(store, store, tmp_path)
    result = reconciled(store, capsys)
    with Store.open(store, read_only=True) as s:
        ids = dict(
            s.rows("SELECT sis_id, clever_id FROM api_ids WHERE sis_id IN ('S-003', 'S-003X')")
        )
    assert ids["S-003"] != ids["S-003X"]
    (rekeyed,) = [f for f in result["findings"] if f["code"] == "served-rekeyed"]
    assert rekeyed["message"] == (
        f"students S-003 is served as S-003X with a new Clever id {ids['S-003X']} "
        f"(was {ids['S-003']})."
    )
    assert (result["upload"]["id"], result["served"]["id"]) == (3, 4)


def test_the_html_page_escapes_every_value_from_the_district():
    def snap(id_: int, origin: str) -> SnapshotInfo:
        return SnapshotInfo(id_, DISTRICT, id_, SEPT_1, SEPT_1, "x", "0" * 64, origin, "sftp")

    hostile = '<script>alert("x")</script>'
    differs = finding(
        "value-differs",
        entity="students",
        key=hostile,
        field="Grade",
        value="11",
        uploaded=hostile,
        served="11",
    )
    result = ReconcileResult(
        district=DISTRICT,
        upload=snap(1, "upload"),
        served=snap(2, "api"),
        version="3.1",
        entities=(EntityCounts("students", 3, 3, 3, 2),),
        findings=(differs,),
        totals=(("value-differs", 1),),
        truncated=False,
    )
    page = reconcile_html(result)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "<p>1 differences, 1 unexplained</p>" in page
    assert "<td>value-differs</td><td>warning</td>" in page


def test_reconcile_without_an_api_snapshot_says_to_pull_first(tmp_path, capsys):
    store = tmp_path / "s.duckdb"
    ingest(store, tmp_path / "n1", every_field_night(), SEPT_1)
    command = ["--store", str(store), "reconcile", "--district", DISTRICT]
    assert main(command) == 2
    assert capsys.readouterr().err == (
        f"rosterlab: district {DISTRICT} has no API snapshot: run rosterlab api pull first\n"
    )
    assert main([*command, "--served", "1"]) == 2
    assert capsys.readouterr().err == (
        "rosterlab: snapshot 1 (origin upload) is not an API pull: give --served an API snapshot "
        "(rosterlab snapshots shows origins)\n"
    )
    # a typo in --district is named as such, not "has no API snapshot: run api pull first"
    assert main([*command[:-1], "oak"]) == 2
    assert capsys.readouterr().err == (
        f"rosterlab: district oak has no snapshots (the store holds {DISTRICT}): check "
        "--district, or ingest its nights with rosterlab ingest\n"
    )


def test_a_duplicated_id_is_skipped_by_clever_and_counted_once(tmp_path, capsys, monkeypatch):
    """Clever skips every row of a duplicated key; reconcile names it once, by its key."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    night = every_field_night()
    night["students.csv"] += [
        student("S-008", "SCH-1", "Twin"),
        student("S-008", "SCH-2", "Twain"),  # the SIS exported the id twice
    ]
    store = tmp_path / "s.duckdb"
    ingest(store, tmp_path / "n1", night, SEPT_1)
    pull_from(store, store, tmp_path)
    result = reconciled(store, capsys)
    assert (
        found(result)
        == [
            ("served-skipped", "students", "S-008", None, None, "duplicate-id"),
            (
                "field-not-served",
                "students",
                None,
                "Password",
                "2",
                NEVER_EXPOSED,
            ),  # Ada's, S-008's
            *PASSWORDS[1:],
        ]
    )
    students = next(e for e in result["entities"] if e["entity"] == "students")
    assert (students["uploaded"], students["served"], students["matched"]) == (4, 3, 3)


def test_a_column_outside_the_format_is_named_as_ignored_by_clever(tmp_path, capsys, monkeypatch):
    """students.csv carries a Nickname column (an SIS export's extra): Clever ignores it, so
    reconcile names it once beside the fields the API never exposes."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    night = every_field_night()
    rows = night["students.csv"]
    night["students.csv"] = [[*rows[0], "Nickname"], *([*row, "Nick"] for row in rows[1:])]
    store = tmp_path / "s.duckdb"
    ingest(store, tmp_path / "n1", night, SEPT_1)
    pull_from(store, store, tmp_path)
    result = reconciled(store, capsys)
    ignored = "not in the Clever format: Clever ignores the column"
    assert [f for f in found(result) if f[0:2] == ("field-not-served", "students")] == [
        ("field-not-served", "students", None, "Password", "1", NEVER_EXPOSED),
        ("field-not-served", "students", None, "Nickname", "3", ignored),
    ]
    assert (result["differences"], result["unexplained"]) == ({"field-not-served": 5}, 0)


def test_rows_the_outcome_says_may_be_skipped_are_the_rows_reconcile_finds_skipped(
    tmp_path, capsys, monkeypatch
):
    """A student at a school schools.csv lacks, one at a School_number: what Clever does is
    unconfirmed, so the upload's outcome skips no row but names them as may be skipped; the
    served side shows them skipped, and reconcile says so with the upload's findings — the two
    agree."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    night = every_field_night()
    night["students.csv"].append(student("S-005", "SCH-9", "Ray"))
    night["students.csv"].append(student("S-008", "101", "Num"))  # SCH-1's School_number
    store = tmp_path / "s.duckdb"
    folder = write_night(tmp_path / "2026-09-01", night, when=SEPT_1)
    assert main(["--store", str(store), "ingest", str(folder), "--district", DISTRICT]) == 0
    pull_from(store, store, tmp_path)
    result = reconciled(store, capsys)
    assert (result["upload"]["skipped"], result["upload"]["may_skip"]) == (
        [],
        [
            {"file": "students.csv", "code": "school-id-is-number", "rows": 1},
            {"file": "students.csv", "code": "unknown-school", "rows": 1},
        ],
    )
    skipped, number = [f for f in result["findings"] if f["code"] == "served-skipped"]
    assert (skipped["key"], skipped["cause"]) == ("S-005", "unknown-school")
    assert (number["key"], number["cause"]) == ("S-008", "school-id-is-number")
    assert skipped["message"] == (
        "students S-005 was uploaded but is not served: Clever skipped it (unknown-school: its "
        "consequence is unconfirmed, the upload's outcome says it may be skipped)."
    )
    assert main(["--store", str(store), "reconcile", "--district", DISTRICT]) == 0
    assert capsys.readouterr().out.splitlines()[1] == (
        "  Clever: processed, 2 rows may be skipped (unconfirmed); "
        "hold thresholds 10% deleted, 75% updated"
    )


def passwords_changed(tmp_path: Path) -> Path:
    """Clever still serves night 1; night 2 gave S-002 a new Password (Clever never serves it)
    and S-003 a new Password and Grade 12. Ada's Password is unchanged, but never served."""
    store = tmp_path / "s.duckdb"
    ingest(store, tmp_path / "n1", every_field_night(), SEPT_1)
    night2 = every_field_night()
    for row in night2["students.csv"]:
        if row[1] in ("S-002", "S-003"):
            row[STUDENT_HEADER.index("Password")] = f"new-{row[1]}"
        if row[1] == "S-003":
            row[STUDENT_HEADER.index("Grade")] = "12"
    ingest(store, tmp_path / "n2", night2, SEPT_2)
    pull_from(store, store, tmp_path, "--snapshot", "1")
    return store


def test_records_differing_only_in_columns_never_served_are_not_read_nor_reported(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    store = passwords_changed(tmp_path)
    result = reconciled(store, capsys)
    assert found(result) == [
        ("field-not-served", "students", None, "Password", "3", NEVER_EXPOSED),
        ("value-differs", "students", "S-003", "Grade", "11", None),
        *PASSWORDS[1:],
    ]
    students = next(e for e in result["entities"] if e["entity"] == "students")
    assert students == {
        "entity": "students", "uploaded": 3, "served": 3, "matched": 3, "identical": 0,
    }  # fmt: skip
    served = [c for c in STUDENTS.columns if c not in NEVER_SERVED["students"]]
    with Store.open(store, read_only=True) as s:
        upload, pulled = s.snapshot(2), s.snapshot(3)
        with DiffEngine(s, upload, pulled, details=False, removed_values=True) as diff:
            assert diff.compare(STUDENTS)
            assert s.rows("SELECT key FROM _rl_key_ends ORDER BY key") == [
                ("S-001",), ("S-002",), ("S-003",),
            ]  # fmt: skip
            assert diff.compare(STUDENTS, served)
            assert diff.alike == 2  # Ada and S-002: left out before any value is read
            assert s.rows("SELECT key FROM _rl_key_ends") == [("S-003",)]
            assert s.rows("SELECT key FROM _rl_left_only UNION SELECT key FROM _rl_values") == [
                ("S-003",)
            ]


def test_leaving_out_records_alike_in_the_served_columns_changes_no_answer(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    store = passwords_changed(tmp_path)
    shortcut = reconciled(store, capsys)
    monkeypatch.setattr(DiffEngine, "_alike", lambda *_: 0)  # every touched record read
    assert reconciled(store, capsys) == shortcut


def test_a_record_carried_with_a_skipped_one_names_that_record_and_the_finding_behind_it(
    tmp_path, capsys, monkeypatch
):
    """Incident: reconcile said of cedar's contacts and enrollments "Clever skipped it
    (Student_id S-100002 is not served)" — the reference, not the finding that explains it.
    SCH-2 is uploaded without its School_name: Clever skips it and, with it, its students,
    teacher and section; with the students, their contact and enrollments. Each carried record
    names the reference that carries it (field, value) and the upload's finding behind it
    (cause), on the record that has it (an enrollment of a student of the skipped school: the
    school's)."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    night = tiny_night()
    night["schools.csv"][2][1] = ""  # SCH-2 without its required School_name
    store = tmp_path / "s.duckdb"
    ingest(store, tmp_path / "n1", night, SEPT_1)
    pull_from(store, store, tmp_path)
    result = reconciled(store, capsys)
    skipped = [f for f in result["findings"] if f["code"] == "served-skipped"]
    assert [(f["entity"], f["key"], f["field"], f["value"], f["cause"]) for f in skipped] == [
        ("schools", "SCH-2", None, None, "missing-value"),
        ("students", "S-002", "School_id", "SCH-2", "missing-value"),
        ("students", "S-003", "School_id", "SCH-2", "missing-value"),
        ("contacts", "S-003/sis_id:C-3", "Student_id", "S-003", "missing-value"),
        ("teachers", "T-2/SCH-2", "School_id", "SCH-2", "missing-value"),
        ("sections", "SEC-2", "School_id", "SCH-2", "missing-value"),
        ("enrollments", "SEC-2/S-002", "Student_id", "S-002", "missing-value"),
        ("enrollments", "SEC-2/S-003", "Student_id", "S-003", "missing-value"),
    ]
    unconfirmed = ": its consequence is unconfirmed, the upload's outcome says it may be skipped"
    by_key = {f["key"]: (f["message"], f["hint"]) for f in skipped}
    assert by_key["SCH-2"] == (
        "schools SCH-2 was uploaded but is not served: Clever skipped it (missing-value).",
        "Fix the upload's missing-value finding for SCH-2; Clever serves it after the next sync.",
    )
    assert by_key["S-002"] == (
        "students S-002 was uploaded but is not served: Clever skipped it with schools SCH-2 "
        f"(missing-value{unconfirmed}).",
        "Fix the upload's missing-value finding for schools SCH-2; Clever serves it after the "
        "next sync.",
    )
    assert by_key["SEC-2/S-003"] == (
        "enrollments SEC-2/S-003 was uploaded but is not served: Clever skipped it with students "
        f"S-003 (missing-value of schools SCH-2{unconfirmed}).",
        "Fix the upload's missing-value finding for schools SCH-2; Clever serves it after the "
        "next sync.",
    )
    assert (result["differences"]["served-skipped"], result["unexplained"]) == (8, 0)


def test_a_name_of_only_a_tab_or_a_no_break_space_is_blank_to_the_checks_and_the_standin_alike(
    tmp_path, capsys, monkeypatch
):
    """Incident: the checks called blank only a value of spaces, the stand-in and the carried
    skips anything str.strip() removes. S-002's Last_name is a tab, S-003's a no-break space
    (Excel's CSV export writes U+00A0), T-1's three spaces. One rule now: all three are blank —
    spaces are missing-value (Clever's word), a tab or no-break space white-space-only (Clever
    does not say: the rows may be skipped); the outcome counts them, the stand-in does not serve
    them, and reconcile explains every record it does not serve (T-1's spaces were unexplained
    there too: reconcile took only an empty value as blank)."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    night = tiny_night()
    night["students.csv"][3][3] = "\t"  # S-002
    night["students.csv"][4][3] = "\u00a0"  # S-003 (and its contact row)
    night["teachers.csv"][1][2] = "   "  # T-1
    store = tmp_path / "s.duckdb"
    folder = write_night(tmp_path / "2026-09-01", night, when=SEPT_1)
    assert main(["--store", str(store), "ingest", str(folder), "--district", DISTRICT]) == 0
    capsys.readouterr()
    check = ["--store", str(store), "check", "--district", DISTRICT, "--format", "json"]
    assert main(check) == 0
    assert [
        (f["code"], f["severity"], f["key"], f["field"], f["value"])
        for f in json.loads(capsys.readouterr().out)["findings"]
        if f["code"] in ("missing-value", "white-space-only")
    ] == [
        ("white-space-only", "warning", "S-002", "Last_name", "\t"),
        ("white-space-only", "warning", "S-003", "Last_name", "\u00a0"),
        ("missing-value", "error", "T-1/SCH-1", "Last_name", "   "),
    ]
    listed = ["--store", str(store), "snapshots", "--district", DISTRICT, "--format", "json"]
    assert main(listed) == 0
    (upload,) = json.loads(capsys.readouterr().out)
    assert (upload["skipped"], upload["may_skip"], upload["carried"]) == (
        [{"file": "teachers.csv", "code": "missing-value", "rows": 1}],
        [{"file": "students.csv", "code": "white-space-only", "rows": 2}],
        [{"file": "enrollments.csv", "code": "white-space-only", "rows": 2, "by": "students"}],
    )

    pull_from(store, store, tmp_path)
    result = reconciled(store, capsys)
    served = {e["entity"]: e["served"] for e in result["entities"]}
    assert (served["students"], served["teachers"], served["enrollments"]) == (1, 2, 1)
    assert [
        (f["entity"], f["key"], f["cause"], f["value"])
        for f in result["findings"]
        if f["code"] == "served-skipped"
    ] == [
        ("students", "S-002", "white-space-only", None),
        ("students", "S-003", "white-space-only", None),
        ("contacts", "S-003/sis_id:C-3", "white-space-only", "S-003"),
        ("teachers", "T-1/SCH-1", "missing-value", None),
        ("enrollments", "SEC-2/S-002", "white-space-only", "S-002"),
        ("enrollments", "SEC-2/S-003", "white-space-only", "S-003"),
    ]
    assert (result["differences"]["served-skipped"], result["unexplained"]) == (6, 0)


@pytest.mark.parametrize("count", ["1", "4"])
def test_a_reconcile_count_of_one_reads_as_right_as_four(count):
    """ "1 references are served empty", "1 values are served normalised": the grouped findings'
    counts sit after a colon, as field-not-served's do, so one and many both read right."""
    empty = finding(
        "reference-not-served", entity="sections", field="Teacher_id", value=count,
        cause="section-unknown-teacher",
    )  # fmt: skip
    normalised = finding(
        "value-normalised", entity="students", field="DOB", value=count,
        cause="dates are served as M/D/YYYY and read back MM/DD/YYYY",
    )  # fmt: skip
    assert empty.message == (
        f"sections Teacher_id: references served empty: {count} (section-unknown-teacher)."
    )
    assert normalised.message == (
        f"students DOB: values served normalised: {count} (dates are served as M/D/YYYY and "
        "read back MM/DD/YYYY)."
    )
