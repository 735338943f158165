"""The rows a skip carries with it: the upload's outcome counts them, and they are exactly the
records the stand-in (a real ``rosterlab api serve`` process) does not serve.

Tiny districts named for their incidents show the counts; then every sample night is served as
is, pulled and reconciled, and reconcile's ``served-skipped`` records must be the outcome's
``not_served`` records, entity by entity and reason by reason.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from rosterlab import spec
from rosterlab.cli import main
from rosterlab.store.carried import FOLLOWED
from tests.api_standin import TOKEN, TOKEN_ENV, standin
from tests.cli_run import run
from tests.test_api import configure
from tests.test_outcomes import ingest_nights
from tests.tiny import Night, tiny_night, write_night

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "samples"


def outcome_of_night(capsys: Any, store: Path, night: int = -1) -> dict[str, Any]:
    code, out, _ = run(capsys, "--store", store, "snapshots", "--format", "json")
    assert code == 0
    return dict(json.loads(out)[night])


def enrollments(section: str, students: list[str], school: str = "SCH-1") -> list[list[str]]:
    return [[school, section, student] for student in students]


def test_a_section_with_a_blank_teacher_carries_its_25_enrollments(tmp_path, capsys):
    night = tiny_night()
    students = night["students.csv"]
    for i in range(24):  # 24 more students of SEC-1's school, each enrolled in SEC-1 like S-001
        row = list(students[3])
        row[0], row[1] = "SCH-1", f"S-1{i:02}"
        students.append(row)
    night["enrollments.csv"] += enrollments("SEC-1", [f"S-1{i:02}" for i in range(24)])
    night["sections.csv"][1][2] = ""  # SEC-1 without its required Teacher_id: skipped
    store = ingest_nights(tmp_path, capsys, night)

    outcome = outcome_of_night(capsys, store)
    assert (outcome["skipped"], outcome["may_skip"], outcome["carried"]) == (
        [{"file": "sections.csv", "code": "missing-value", "rows": 1}],
        [],
        [{"file": "enrollments.csv", "code": "missing-value", "rows": 25, "by": "sections"}],
    )
    assert outcome["not_served"] == [
        {"entity": "enrollments", "code": "missing-value", "records": 25, "by": "sections",
         "confirmed": False},
        {"entity": "sections", "code": "missing-value", "records": 1, "by": None,
         "confirmed": True},
    ]  # fmt: skip
    code, out, _ = run(capsys, "--store", store, "snapshots")
    assert (code, "processed, 1 row skipped, 25 rows carried  " in out) == (
        0,
        True,
    )


def test_a_student_skipped_carries_its_contact_and_enrollment_but_no_rows_of_its_own_file(
    tmp_path, capsys
):
    """S-003 has a blank Last_name (skipped on Clever's word): its one students.csv row holds
    its contact C-3 too, so the contact is a record carried with it but no extra row; its
    enrollment in SEC-2 is a carried row of enrollments.csv."""
    night = tiny_night()
    night["students.csv"][4][3] = ""
    store = ingest_nights(tmp_path, capsys, night)
    outcome = outcome_of_night(capsys, store)
    assert (outcome["skipped"], outcome["may_skip"], outcome["carried"]) == (
        [{"file": "students.csv", "code": "missing-value", "rows": 1}],
        [],
        [{"file": "enrollments.csv", "code": "missing-value", "rows": 1, "by": "students"}],
    )
    assert outcome["not_served"] == [
        {"entity": "contacts", "code": "missing-value", "records": 1, "by": "students",
         "confirmed": False},
        {"entity": "enrollments", "code": "missing-value", "records": 1, "by": "students",
         "confirmed": False},
        {"entity": "students", "code": "missing-value", "records": 1, "by": None,
         "confirmed": True},
    ]  # fmt: skip


def test_a_school_without_a_name_carries_everything_at_it(tmp_path, capsys):
    """SCH-1 has a blank School_name (skipped on Clever's word): its student S-001 (two rows,
    two contacts), teachers T-1 and T-3 and section SEC-1 go with it, and so does SEC-1's one
    enrollment — named after S-001, the first reference Clever does not serve."""
    night = tiny_night()
    night["schools.csv"][1][1] = ""
    store = ingest_nights(tmp_path, capsys, night)
    outcome = outcome_of_night(capsys, store)
    assert (outcome["skipped"], outcome["may_skip"]) == (
        [{"file": "schools.csv", "code": "missing-value", "rows": 1}],
        [],
    )
    carried = [(c["file"], c["rows"], c["by"]) for c in outcome["carried"]]
    assert carried == [
        ("enrollments.csv", 1, "students"),
        ("sections.csv", 1, "schools"),
        ("students.csv", 2, "schools"),
        ("teachers.csv", 2, "schools"),
    ]
    assert {c["code"] for c in outcome["carried"]} == {"missing-value"}
    records = [(n["entity"], n["records"], n["by"], n["confirmed"]) for n in outcome["not_served"]]
    assert records == [
        ("contacts", 2, "students", False),
        ("enrollments", 1, "students", False),
        ("schools", 1, None, True),
        ("sections", 1, "schools", False),
        ("students", 1, "schools", False),
        ("teachers", 2, "schools", False),
    ]
    night_2 = write_night(tmp_path / "again", night)
    code, out, _ = run(capsys, "--store", store, "ingest", str(night_2), "--district", "maple")
    assert code == 0
    assert out.splitlines()[2:8] == [
        "  Clever: processed, 1 row skipped, 6 rows carried with skipped records",
        "    schools.csv: 1 row skipped (missing-value)",
        "    enrollments.csv: 1 row may be skipped with the skipped students they name "
        "(missing-value: consequence unconfirmed)",
        "    sections.csv: 1 row may be skipped with the skipped schools they name "
        "(missing-value: consequence unconfirmed)",
        "    students.csv: 2 rows may be skipped with the skipped schools they name "
        "(missing-value: consequence unconfirmed)",
        "    teachers.csv: 2 rows may be skipped with the skipped schools they name "
        "(missing-value: consequence unconfirmed)",
    ]


def test_a_contact_listed_twice_for_its_student_is_not_served_though_no_finding_skips_it(
    tmp_path, capsys, monkeypatch
):
    """S-003's contact C-3 comes twice with different types: one key, two versions. Clever's
    consequence is not stated and no check flags it, but the stand-in (like every repeated key)
    serves neither, and reconcile says so: the outcome's not_served names it."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    night = tiny_night()
    again = list(night["students.csv"][4])
    again[7] = "Emergency"
    night["students.csv"].append(again)
    store = ingest_nights(tmp_path, capsys, night)
    outcome = outcome_of_night(capsys, store)
    assert (outcome["skipped"], outcome["may_skip"], outcome["carried"]) == ([], [], [])
    assert outcome["not_served"] == [
        {"entity": "contacts", "code": "duplicate-id", "records": 1, "by": None,
         "confirmed": False},
    ]  # fmt: skip
    served = served_skipped_live(tmp_path, capsys, Path(store), "maple", outcome["id"])
    assert served == Counter({("contacts", "duplicate-id"): 1}) == _outcome_skipped(outcome)


def test_an_enrollments_own_school_number_skips_nothing_its_student_carries_it(
    tmp_path, capsys, monkeypatch
):
    """S-001 and its enrollment in SEC-1 send SCH-1's School_number 101 as School_id; so does
    S-002's enrollment in SEC-2, though S-002 and SEC-2 are right. Clever serves an enrollment
    with its section's school (docs/api.md): the enrollment's own School_id skips nothing. The
    check said each enrollment's School_id was a school number and no more, while the outcome
    and reconcile counted S-001's enrollment as carried with S-001 and S-002's as served: the
    finding now says what Clever does with the enrollment, as the outcome and reconcile do."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    night = tiny_night()
    for row in night["students.csv"][1:3]:  # S-001 and its two contact rows
        row[0] = "101"
    night["enrollments.csv"][1][0] = "101"  # SEC-1/S-001
    night["enrollments.csv"][2][0] = "102"  # SEC-2/S-002: only its own School_id is wrong
    store = ingest_nights(tmp_path, capsys, night)

    code, out, _ = run(capsys, "--store", store, "check", "--district", "maple", "--format=json")
    assert code == 0
    assert [
        (f["entity"], f["key"], f["message"])
        for f in json.loads(out)["findings"]
        if f["code"] == "school-id-is-number"
    ] == [
        ("students", "S-001", "students S-001: School_id '101' is the School_number of school "
         "SCH-1."),
        ("enrollments", "SEC-1/S-001", "enrollments SEC-1/S-001: School_id '101' is the "
         "School_number of school SCH-1; Clever serves an enrollment with its section's school, "
         "not this School_id: the row is served if its student and section are."),
        ("enrollments", "SEC-2/S-002", "enrollments SEC-2/S-002: School_id '102' is the "
         "School_number of school SCH-2; Clever serves an enrollment with its section's school, "
         "not this School_id: the row is served if its student and section are."),
    ]  # fmt: skip
    outcome = outcome_of_night(capsys, store)
    assert (outcome["skipped"], outcome["may_skip"], outcome["carried"]) == (
        [],
        [{"file": "students.csv", "code": "school-id-is-number", "rows": 2}],
        [{"file": "enrollments.csv", "code": "school-id-is-number", "rows": 1, "by": "students"}],
    )
    served = served_skipped_live(tmp_path, capsys, Path(store), "maple", outcome["id"])
    assert served == _outcome_skipped(outcome) == Counter(
        {("students", "school-id-is-number"): 1, ("contacts", "carried"): 2,
         ("enrollments", "carried"): 1}
    )  # fmt: skip


def night_of_incidents() -> Night:
    """Every way a record goes unserved, in one night (tiny_night plus):

    - SCH-3 has a blank School_name: skipped; its student S-004, teacher T-4 and section
      SEC-4 go with it;
    - S-003's Last_name is a tab (white-space-only): skipped with its contact C-3 and its
      enrollment in SEC-2;
    - S-005's School_id is 101, SCH-1's School_number (school-id-is-number), and it is
      enrolled in SEC-2;
    - SEC-5 has no Teacher_id: skipped with S-006's enrollment in it;
    - S-004's enrollment in SEC-4: its student and its section are both skipped, the
      student's cause names it;
    - S-006 is enrolled in SEC-9 (no such section) and S-999 (no such student) in SEC-1;
    - S-002's enrollment names a section of only spaces (missing-value);
    - S-001's enrollment in SEC-1 comes twice, with two School_ids (duplicate-id, 2 rows).
    """
    night = tiny_night()
    night["schools.csv"].append(["SCH-3", "", "103", "6", "8"])
    night["students.csv"][4][3] = "\t"
    night["students.csv"] += [
        ["SCH-3", "S-004", "00901", "Ito", "Di", "7", "", "", "", "", ""],
        ["101", "S-005", "00902", "Moss", "Ed", "4", "", "", "", "", ""],
        ["SCH-1", "S-006", "00903", "Ruiz", "Fe", "4", "", "", "", "", ""],
    ]
    night["teachers.csv"].append(["SCH-3", "T-4", "Berg", "Gus", "gus.berg@maple.example"])
    night["sections.csv"] += [
        ["SCH-3", "SEC-4", "T-4", "", "Art", "3"],
        ["SCH-1", "SEC-5", "", "", "Music", "4"],
    ]
    night["enrollments.csv"] += [
        ["SCH-3", "SEC-4", "S-004"],
        ["SCH-2", "SEC-2", "S-005"],
        ["SCH-1", "SEC-5", "S-006"],
        ["SCH-1", "SEC-9", "S-006"],
        ["SCH-1", "SEC-1", "S-006"],
        ["SCH-1", "SEC-1", "S-999"],
        ["SCH-2", "   ", "S-002"],
        ["SCH-2", "SEC-1", "S-001"],
    ]
    return night


def test_every_way_a_record_goes_unserved_in_one_night(tmp_path, capsys, monkeypatch):
    """The outcome counts each unserved record once, under its first cause, and the stand-in
    serves none of them (reconcile finds exactly these skipped)."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    store = ingest_nights(tmp_path, capsys, night_of_incidents())
    outcome = outcome_of_night(capsys, store)
    assert [(n["entity"], n["code"], n["by"], n["records"]) for n in outcome["not_served"]] == [
        ("contacts", "white-space-only", "students", 1),
        ("enrollments", "duplicate-id", None, 1),
        ("enrollments", "enrollment-unknown-section", None, 1),
        ("enrollments", "enrollment-unknown-student", None, 1),
        ("enrollments", "missing-value", None, 1),
        ("enrollments", "missing-value", "sections", 1),
        ("enrollments", "missing-value", "students", 1),
        ("enrollments", "school-id-is-number", "students", 1),
        ("enrollments", "white-space-only", "students", 1),
        ("schools", "missing-value", None, 1),
        ("sections", "missing-value", None, 1),
        ("sections", "missing-value", "schools", 1),
        ("students", "school-id-is-number", None, 1),
        ("students", "white-space-only", None, 1),
        ("students", "missing-value", "schools", 1),
        ("teachers", "missing-value", "schools", 1),
    ]
    assert [(c["file"], c["code"], c["by"], c["rows"]) for c in outcome["carried"]] == [
        ("enrollments.csv", "missing-value", "sections", 1),
        ("enrollments.csv", "missing-value", "students", 1),
        ("enrollments.csv", "school-id-is-number", "students", 1),
        ("enrollments.csv", "white-space-only", "students", 1),
        ("sections.csv", "missing-value", "schools", 1),
        ("students.csv", "missing-value", "schools", 1),
        ("teachers.csv", "missing-value", "schools", 1),
    ]
    served = served_skipped_live(tmp_path, capsys, Path(store), "maple", outcome["id"])
    assert served == _outcome_skipped(outcome)


def test_the_carried_skips_follow_the_spec_references_clever_follows_students_cause_first():
    """An enrollment's School_id and a section's teacher slots are not followed (spec); an
    enrollment of a skipped student and a skipped section is carried by its student."""
    assert FOLLOWED == {
        "schools": (),
        "students": (("School_id", "schools"),),
        "contacts": (("Student_id", "students"),),
        "teachers": (("School_id", "schools"),),
        "staff": (("School_id", "schools"),),
        "sections": (("School_id", "schools"),),
        "enrollments": (("Student_id", "students"), ("Section_id", "sections")),
    }
    assert spec.followed_references("sections") == (("School_id", "schools"),)
    assert spec.followed_references("enrollments") == (
        ("Section_id", "sections"),
        ("Student_id", "students"),
    )


def test_every_followed_reference_is_a_required_value_so_a_null_one_is_blank():
    """The carried skips decide a row with a NULL reference by its blank test alone."""
    assert all(
        spec.ENTITIES[entity].field(field).required and spec.ENTITIES[entity].field(field).confirmed
        for entity, follows in FOLLOWED.items()
        for field, _ in follows
    )


def _sample_store(tmp_path: Path, district: str) -> Path:
    store = tmp_path / f"{district}.duckdb"
    assert main(["--store", str(store), "ingest", str(SAMPLES / district)]) == 0
    return store


def _served_skipped(result: dict[str, Any]) -> Counter[tuple[str, str]]:
    """Reconcile's served-skipped records by entity and cause (``carried`` when the finding
    names the reference to a record Clever skipped: field Student_id, value S-1)."""
    return Counter(
        (f["entity"], "carried" if f["field"] is not None else f["cause"])
        for f in result["findings"]
        if f["code"] == "served-skipped"
    )


def _outcome_skipped(outcome: dict[str, Any]) -> Counter[tuple[str, str]]:
    counted: Counter[tuple[str, str]] = Counter()
    for n in outcome["not_served"]:
        counted[(n["entity"], n["code"] if n["by"] is None else "carried")] += n["records"]
    return counted


def served_skipped_live(
    tmp_path: Path, capsys: Any, base: Path, district: str, snapshot_id: int
) -> Counter[tuple[str, str]]:
    """Serve a night of ``base`` as is through the stand-in, pull it into a copy of the store,
    reconcile the night with it: the records reconcile finds skipped (:func:`_served_skipped`)."""
    store = tmp_path / f"{district}-{snapshot_id}.duckdb"
    shutil.copyfile(base, store)
    with standin(base, district, "--snapshot", str(snapshot_id), "--as-is") as origin:
        config = configure(tmp_path, origin)
        pulled = ["--store", str(store), "--config", str(config), "api", "pull"]
        assert main([*pulled, "--target", "standin", "--district", district]) == 0
    capsys.readouterr()
    reconciled = ["--store", str(store), "reconcile", "--district", district]
    assert main([*reconciled, "--upload", str(snapshot_id), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert not result["truncated"]
    assert result["differences"].get("served-missing", 0) == 0
    return _served_skipped(result)


@pytest.mark.parametrize("district", ["cedar", "maple"])
def test_every_sample_night_served_live_skips_exactly_the_records_its_outcome_counts(
    tmp_path, capsys, monkeypatch, district
):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    base = _sample_store(tmp_path, district)
    capsys.readouterr()
    assert (
        main(["--store", str(base), "snapshots", "--district", district, "--format", "json"]) == 0
    )
    nights = json.loads(capsys.readouterr().out)
    compared = []
    for night in nights:
        if night["outcome"] == "not-processed":  # nothing of it is ever served: nothing skipped
            assert (night["skipped"], night["may_skip"], night["carried"]) == ([], [], [])
            assert night["not_served"] == []
            compared.append((night["seq"], night["outcome"]))
            continue
        served = served_skipped_live(tmp_path, capsys, base, district, night["id"])
        assert served == _outcome_skipped(night), night["seq"]
        compared.append((night["seq"], sum(_outcome_skipped(night).values())))
    assert (
        compared
        == {
            "cedar": [
                (1, 0),
                (2, 0),
                (3, 0),
                (4, 0),
                (5, 8),
                (6, 21),
                (7, "not-processed"),
                (8, 766),
            ],
            "maple": [(1, 0), (2, 0), (3, 3), (4, 0), (5, 0), (6, 0), (7, 0), (8, 0)],
        }[district]
    )
