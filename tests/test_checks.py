"""Row, cell and cross-file checks on tiny hand-made nights, each named after its incident.

Every assertion is exact: (code, entity, key, field, value, row, cause) of the check findings.
The tiny district is in tests/tiny.py; a test copies the clean night and applies its incident.
"""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rosterlab import spec
from rosterlab.bundle import open_bundle
from rosterlab.checks import CHECKS, CheckResult, run_checks
from rosterlab.spec import Finding
from rosterlab.spec.findings import RETIRED_CODES
from rosterlab.store import Store, ingest_bundle
from tests.tiny import Night, tiny_night, write_night

ROOT = Path(__file__).resolve().parent.parent
CHECK_GROUPS = ("row", "cross-file", "history")


def ingest(store: Store, tmp_path: Path, *nights: Night, sync_type: str = "sftp") -> list[int]:
    """Ingest ``nights`` as district tiny (2026-09-01, -02, ...); their snapshot ids."""
    ids = []
    for number, night in enumerate(nights, start=1):
        when = datetime(2026, 9, number, 2, 0, tzinfo=UTC)
        folder = write_night(tmp_path / f"night{number}", night, when=when)
        with open_bundle(folder) as bundle:
            result = ingest_bundle(
                store, bundle, district="tiny", taken_at=when, sync_type=sync_type
            )
        ids.append(result.snapshot.id)
    return ids


def check(tmp_path: Path, *nights: Night, sync_type: str = "sftp") -> CheckResult:
    """Ingest ``nights`` (2026-09-01, -02, ...) into a fresh store; check the last one."""
    with Store.open(tmp_path / "store.duckdb") as store:
        return run_checks(store, ingest(store, tmp_path, *nights, sync_type=sync_type)[-1])


def found(result: CheckResult) -> list[tuple[object, ...]]:
    """The check findings (not the reader's file and header ones) as comparable tuples."""
    return [
        (f.code, f.entity, f.key, f.field, f.value, f.row, f.cause)
        for f in result.findings
        if spec.CATALOGUE[f.code].group in CHECK_GROUPS
    ]


def one(result: CheckResult, code: str) -> Finding:
    (match,) = [f for f in result.findings if f.code == code]
    return match


def add_column(rows: list[list[str]], name: str, values: list[str]) -> None:
    """Append a column to a file's rows (header first)."""
    rows[0].append(name)
    for row, value in zip(rows[1:], values, strict=True):
        row.append(value)


# An Excel round trip is one root cause per file it damaged.
EXCEL_STUDENTS = "excel-round-trip/students.csv"
EXCEL_ENROLLMENTS = "excel-round-trip/enrollments.csv"


# --- the clean night -------------------------------------------------------------------------


def test_the_clean_tiny_night_has_no_check_findings(tmp_path):
    result = check(tmp_path, tiny_night())

    assert found(result) == []
    assert [f.code for f in result.findings] == ["extension-column"]
    assert result.groups == ()


# --- row and cell ----------------------------------------------------------------------------


def test_required_values_left_blank(tmp_path):
    night = tiny_night()
    night["students.csv"][3][3] = ""  # S-002 Last_name
    night["schools.csv"][2][2] = ""  # SCH-2 School_number (required, v2.1.1)
    night["students.csv"][4][4] = "   "  # S-003 First_name: only spaces is blank

    result = check(tmp_path, night)

    assert found(result) == [
        ("missing-value", "schools", "SCH-2", "School_number", None, 2, None),
        ("missing-value", "students", "S-002", "Last_name", None, 3, None),
        ("missing-value", "students", "S-003", "First_name", "   ", 4, None),
    ]
    blanks = [f for f in result.findings if f.code == "missing-value"]
    assert [f.severity for f in blanks] == ["error", "error", "error"]
    assert blanks[1].message == (
        "students S-002: Last_name is blank but required; Clever skips this row."
    )


def test_references_left_blank(tmp_path):
    # A reference column's blanks are found from its NULLs and its distinct values, not by
    # testing every row: a value of only spaces is blank there too.
    night = tiny_night()
    night["enrollments.csv"][2][1] = ""  # S-002's enrollment names no section
    night["enrollments.csv"][3][2] = "  "  # SEC-2's second enrollment: a student of spaces
    night["sections.csv"][1][2] = " "  # SEC-1's teacher: only a space

    result = check(tmp_path, night)

    assert [f for f in found(result) if f[0] == "missing-value"] == [
        ("missing-value", "sections", "SEC-1", "Teacher_id", " ", 1, None),
        ("missing-value", "enrollments", "/S-002", "Section_id", None, 2, None),
        ("missing-value", "enrollments", "SEC-2/  ", "Student_id", "  ", 3, None),
    ]


def test_a_reference_of_only_spaces_is_blank_not_an_unknown_record(tmp_path):
    """Incident: a Student_id or Teacher_id of only spaces got missing-value AND
    enrollment-unknown-student / section-unknown-teacher ("student '  ' is not in
    students.csv"), one problem twice, with a root-cause group "points at   ". A blank
    reference names no record: missing-value when it is required, nothing when optional."""
    night = tiny_night()
    night["enrollments.csv"][3][2] = "  "  # S-003's enrollment: a Student_id of spaces
    night["sections.csv"][2][2] = "   "  # SEC-2's Teacher_id: only spaces
    night["sections.csv"][1][3] = " "  # SEC-1's optional Teacher_2_id: only a space
    night["teachers.csv"][1][0] = " "  # T-1's School_id: only a space

    result = check(tmp_path, night)

    assert found(result) == [
        ("missing-value", "teachers", "T-1/ ", "School_id", " ", 1, None),
        ("missing-value", "sections", "SEC-2", "Teacher_id", "   ", 2, None),
        ("missing-value", "enrollments", "SEC-2/  ", "Student_id", "  ", 3, None),
        ("student-without-enrollments", "students", "S-003", None, "S-003", 4, "students/S-003"),
        ("teacher-without-sections", "teachers", "T-2/SCH-2", None, "T-2", 2, "teachers/T-2/SCH-2"),
        ("teacher-without-sections", "teachers", "T-3/SCH-1", None, "T-3", 3, "teachers/T-3/SCH-1"),
    ]


def test_students_file_saved_by_excel(tmp_path):
    night = tiny_night()
    students = night["students.csv"]
    add_column(students, "DOB", ["03/04/2015", "03/04/2015", "3/4/15", "11/30/2014"])
    students[3][2] = "4.56E+02"  # S-002 Student_number in scientific notation
    students[4][6] = "2135"  # S-003 Student_zip lost its leading zero

    result = check(tmp_path, night)

    assert found(result) == [
        ("excel-damage", "students", "S-002", "DOB", "3/4/15", 3, EXCEL_STUDENTS),
        ("excel-damage", "students", "S-002", "Student_number", "4.56E+02", 3, EXCEL_STUDENTS),
        ("excel-damage", "students", "S-003", "Student_zip", "2135", 4, EXCEL_STUDENTS),
    ]
    messages = [f.message for f in result.findings if f.code == "excel-damage"]
    assert messages == [
        "students S-002: DOB '3/4/15' looks rewritten by a spreadsheet "
        "(a date rewritten as M/D/YY).",
        "students S-002: Student_number '4.56E+02' looks rewritten by a spreadsheet "
        "(scientific notation).",
        "students S-003: Student_zip '2135' looks rewritten by a spreadsheet "
        "(the zip lost its leading zero).",
    ]


def test_term_dates_not_in_mm_dd_yyyy_or_impossible(tmp_path):
    night = tiny_night()
    add_column(night["sections.csv"], "Term_start", ["2026-08-24", "08/24/2026"])
    add_column(night["sections.csv"], "Term_end", ["01/22/2027", "02/30/2027"])

    result = check(tmp_path, night)

    assert found(result) == [
        ("invalid-date", "sections", "SEC-1", "Term_start", "2026-08-24", 1, None),
        ("invalid-date", "sections", "SEC-2", "Term_end", "02/30/2027", 2, None),
    ]


def test_values_outside_their_vocabulary_get_the_canonical_spelling(tmp_path):
    night = tiny_night()
    night["students.csv"][3][5] = "K"  # S-002 Grade
    night["students.csv"][4][5] = "09"  # S-003 Grade
    night["schools.csv"][1][3] = "kindergarten"  # SCH-1 Low_grade, wrong case
    add_column(night["sections.csv"], "Subject", ["Math", "Algebra"])  # case-insensitive
    add_column(night["students.csv"], "Graduation_year", ["2034", "2034", "27", "2027"])

    result = check(tmp_path, night)

    assert found(result) == [
        ("invalid-value", "schools", "SCH-1", "Low_grade", "kindergarten", 1, None),
        ("invalid-value", "students", "S-002", "Grade", "K", 3, None),
        ("invalid-value", "students", "S-002", "Graduation_year", "27", 3, None),
        ("invalid-value", "students", "S-003", "Grade", "09", 4, None),
        ("invalid-value", "sections", "SEC-2", "Subject", "Algebra", 2, None),
    ]
    assert [f.hint for f in result.findings if f.code == "invalid-value"] == [
        "Use Kindergarten.",
        "Use Kindergarten.",
        "Use a four-digit year (YYYY).",
        "Use 9.",
        "Use one of english/language arts, math, science, social studies, language, "
        "homeroom/advisory, interventions/online learning, technology and engineering, "
        "PE and health, arts and music, other.",
    ]


def test_emails_and_phones_that_cannot_be_real(tmp_path):
    night = tiny_night()
    night["teachers.csv"][1][4] = "jo.park at maple.example"
    add_column(
        night["students.csv"], "Contact_phone", ["(617) 555-0100", "555-1234", "", "16175550101"]
    )

    result = check(tmp_path, night)

    assert found(result) == [
        ("invalid-phone", "contacts", "S-001/sis_id:C-1", "Contact_phone", "(617) 555-0100", 1,
         None),
        ("invalid-phone", "contacts", "S-001/name+phone:Sam Lee|555-1234", "Contact_phone",
         "555-1234", 2, None),
        ("invalid-email", "teachers", "T-1/SCH-1", "Teacher_email", "jo.park at maple.example",
         1, None),
    ]  # fmt: skip


def test_ids_padded_with_spaces(tmp_path):
    night = tiny_night()
    night["students.csv"][3][2] = " 00456"  # S-002 Student_number

    result = check(tmp_path, night)

    assert found(result) == [
        ("padded-id", "students", "S-002", "Student_number", " 00456", 3, None)
    ]


def test_a_students_contact_rows_disagree_on_the_students_grade(tmp_path):
    night = tiny_night()
    night["students.csv"][2][5] = "4"  # S-001's second (contact) row says grade 4, the first 3

    result = check(tmp_path, night)

    assert found(result) == [
        ("duplicate-id", "students", "S-001", "Student_id", "S-001", 2, "students/S-001")
    ]


def test_a_bad_grade_on_a_students_second_contact_row_only_is_found_there(tmp_path):
    # The cells pass counts a student's own columns over the student's versions: the second
    # row's values are a version of their own, on the night they were sent and no other.
    bad = tiny_night()
    bad["students.csv"][2][5] = "K"  # S-001's second (contact) row; its first says 3
    expected = [
        ("invalid-value", "students", "S-001", "Grade", "K", 2, None),
        ("duplicate-id", "students", "S-001", "Student_id", "S-001", 2, "students/S-001"),
    ]
    with Store.open(tmp_path / "store.duckdb") as store:
        first, second, third = ingest(store, tmp_path, bad, bad, tiny_night())

        assert found(run_checks(store, second)) == expected
        assert found(run_checks(store, first)) == expected  # an older night, its versions closed
        assert found(run_checks(store, third)) == []


def test_a_student_number_shared_by_two_students_only_on_a_second_contact_row(tmp_path):
    night = tiny_night()
    night["students.csv"][2][2] = "00456"  # S-001's second row says S-002's number; its first 00123

    result = check(tmp_path, night)

    assert found(result) == [
        ("duplicate-id", "students", "S-001", "Student_id", "S-001", 2, "students/S-001"),
        ("duplicate-unique-value", "students", "S-002", "Student_number", "00456", 3,
         "students/00456"),
    ]  # fmt: skip
    assert one(result, "duplicate-unique-value").message.count("S-001") == 1


def test_a_section_listed_twice(tmp_path):
    night = tiny_night()
    night["sections.csv"].append(["SCH-2", "SEC-2", "T-2", "", "Algebra", "5"])

    result = check(tmp_path, night)

    assert found(result) == [
        ("duplicate-id", "sections", "SEC-2", "Section_id", "SEC-2", 3, "sections/SEC-2")
    ]


def test_a_contact_without_type(tmp_path):
    night = tiny_night()
    night["students.csv"][3][8] = "Ana Diaz"  # S-002 gets a contact name but no Contact_type

    result = check(tmp_path, night)

    assert found(result) == [
        ("incomplete-contact", "students", "S-002", "Contact_type", None, 3, None)
    ]


def test_a_contact_without_type_is_found_again_on_its_night_after_the_district_fixed_it(tmp_path):
    # The rows are read for a blank contact column only when a contact version of the night
    # has one: night 1's versions are closed once night 2 fixes the type.
    bad = tiny_night()
    bad["students.csv"][3][8] = "Ana Diaz"  # S-002 gets a contact name but no Contact_type
    fixed = tiny_night()
    fixed["students.csv"][3][7:9] = ["Primary", "Ana Diaz"]
    expected = [("incomplete-contact", "students", "S-002", "Contact_type", None, 3, None)]
    with Store.open(tmp_path / "store.duckdb") as store:
        first, second = ingest(store, tmp_path, bad, fixed)

        assert "incomplete-contact" not in {f[0] for f in found(run_checks(store, second))}
        assert found(run_checks(store, first, refresh=True)) == expected


def test_six_contacts_for_one_student(tmp_path):
    night = tiny_night()
    s3 = night["students.csv"][4]
    for n in range(5):
        night["students.csv"].append([*s3[:7], "Emergency", f"Kin {n}", f"C-3{n}", ""])

    result = check(tmp_path, night)

    assert found(result) == [("too-many-contacts", "students", "S-003", None, "6", 9, None)]
    assert one(result, "too-many-contacts").message == (
        "student S-003 has 6 contacts; many apps show at most 5."
    )
    assert one(result, "too-many-contacts").severity == "info"  # v2.1.1 states no limit


def test_six_rows_of_one_student_with_five_contacts_are_not_too_many(tmp_path):
    """S-003's six students.csv rows hold five contacts and one row with none: five contacts."""
    night = tiny_night()
    s3 = night["students.csv"][4]
    for n in range(4):
        night["students.csv"].append([*s3[:7], "Emergency", f"Kin {n}", f"C-3{n}", ""])
    night["students.csv"].append([*s3[:7], "", "", "", ""])

    result = check(tmp_path, night)

    assert found(result) == []


# --- cross-file ------------------------------------------------------------------------------


def test_enrollments_in_a_section_missing_from_sections_csv_group_under_that_section(tmp_path):
    night = tiny_night()
    night["enrollments.csv"] += [["SCH-1", "SEC-9", "S-001"], ["SCH-2", "SEC-9", "S-002"]]

    result = check(tmp_path, night)

    assert found(result) == [
        ("enrollment-unknown-section", "enrollments", "SEC-9/S-001", "Section_id", "SEC-9", 4,
         "sections/SEC-9"),
        ("enrollment-unknown-section", "enrollments", "SEC-9/S-002", "Section_id", "SEC-9", 5,
         "sections/SEC-9"),
    ]  # fmt: skip
    assert [g.to_dict() for g in result.groups] == [
        {
            "cause": "sections/SEC-9",
            "codes": ["enrollment-unknown-section"],
            "count": 2,
            "findings": 2,
            "severity": "error",
            "kind": "missing-record",
            "hint": "Every record listed points at SEC-9, which sections.csv lacks: add SEC-9 to "
            "sections.csv (an export that ran before the others?) or correct the references; "
            "one change fixes them all.",
        }
    ]


def test_enrollment_of_a_student_missing_from_students_csv(tmp_path):
    night = tiny_night()
    night["enrollments.csv"].append(["SCH-2", "SEC-2", "S-404"])

    result = check(tmp_path, night)

    assert found(result) == [
        ("enrollment-unknown-student", "enrollments", "SEC-2/S-404", "Student_id", "S-404", 4,
         "students/S-404")
    ]  # fmt: skip


def test_a_co_teacher_missing_from_teachers_csv(tmp_path):
    night = tiny_night()
    night["sections.csv"][2][3] = "T-9"  # SEC-2 Teacher_2_id

    result = check(tmp_path, night)

    assert found(result) == [
        ("section-unknown-teacher", "sections", "SEC-2", "Teacher_2_id", "T-9", 2, "teachers/T-9")
    ]


def test_a_teacher_listed_once_who_co_teaches_at_another_school_raises_nothing(tmp_path):
    night = tiny_night()
    del night["teachers.csv"][3]  # T-3 leaves; T-2, listed at SCH-2, co-teaches SEC-1 at SCH-1
    night["sections.csv"][1][3] = "T-2"

    result = check(tmp_path, night)

    assert found(result) == []  # help centre: listed once, at a primary school


def test_a_teacher_listed_at_two_schools_in_teachers_csv(tmp_path):
    night = tiny_night()
    night["teachers.csv"].append(["SCH-1", "T-2", "Nowak", "Ola", "ola.nowak@maple.example"])

    result = check(tmp_path, night)

    assert found(result) == [
        ("teacher-several-schools", "teachers", "T-2/SCH-1", "Teacher_id", "T-2", 4,
         "teachers/T-2"),
    ]  # fmt: skip
    assert one(result, "teacher-several-schools").message == (
        "teacher T-2/SCH-1: Teacher_id 'T-2' is already listed at school SCH-2 on an earlier "
        "row; Clever processes only the first row."
    )


def test_a_teacher_at_a_school_missing_from_schools_csv(tmp_path):
    night = tiny_night()
    night["teachers.csv"].append(["SCH-3", "T-4", "Ito", "Ken", "ken.ito@maple.example"])

    result = check(tmp_path, night)

    assert found(result) == [
        ("unknown-school", "teachers", "T-4/SCH-3", "School_id", "SCH-3", 4, "schools/SCH-3"),
        ("teacher-without-sections", "teachers", "T-4/SCH-3", None, "T-4", 4,
         "teachers/T-4/SCH-3"),
    ]  # fmt: skip


def test_school_number_used_as_school_id(tmp_path):
    night = tiny_night()
    night["students.csv"][3][0] = "102"  # S-002 at Maple High by its School_number

    result = check(tmp_path, night)

    assert found(result) == [
        ("school-id-is-number", "students", "S-002", "School_id", "102", 3, "schools/102")
    ]
    assert one(result, "school-id-is-number").message == (
        "students S-002: School_id '102' is the School_number of school SCH-2."
    )


def test_an_enrollment_at_another_school_than_its_section(tmp_path):
    night = tiny_night()
    night["enrollments.csv"][2][0] = "SCH-1"  # SEC-2 is at SCH-2

    result = check(tmp_path, night)

    assert found(result) == [
        ("enrollment-school-mismatch", "enrollments", "SEC-2/S-002", "School_id", "SCH-1", 2,
         "sections/SEC-2")
    ]  # fmt: skip


def test_the_same_enrollment_twice(tmp_path):
    night = tiny_night()
    night["enrollments.csv"].append(["SCH-2", "SEC-2", "S-003"])

    result = check(tmp_path, night)

    assert found(result) == [
        ("duplicate-enrollment", "enrollments", "SEC-2/S-003", None, "SEC-2/S-003", 4,
         "enrollments/SEC-2/S-003")
    ]  # fmt: skip


def test_the_same_enrollment_twice_at_two_schools(tmp_path):
    night = tiny_night()
    night["enrollments.csv"].append(["SCH-1", "SEC-2", "S-003"])  # SEC-2 is at SCH-2

    result = check(tmp_path, night)

    assert found(result) == [
        ("enrollment-school-mismatch", "enrollments", "SEC-2/S-003", "School_id", "SCH-1", 4,
         "sections/SEC-2"),
        ("duplicate-enrollment", "enrollments", "SEC-2/S-003", None, "SEC-2/S-003", 4,
         "enrollments/SEC-2/S-003"),
    ]  # fmt: skip


def test_padded_and_scientific_ids_in_a_reference_column(tmp_path):
    night = tiny_night()
    night["enrollments.csv"][3][2] = "S-003 "
    night["enrollments.csv"].append(["SCH-2", "SEC-2", "1.2E+05"])

    result = check(tmp_path, night)

    assert found(result) == [
        ("padded-id", "enrollments", "SEC-2/S-003 ", "Student_id", "S-003 ", 3, None),
        ("excel-damage", "enrollments", "SEC-2/1.2E+05", "Student_id", "1.2E+05", 4,
         EXCEL_ENROLLMENTS),
        ("enrollment-unknown-student", "enrollments", "SEC-2/S-003 ", "Student_id", "S-003 ", 3,
         "students/S-003 "),
        ("enrollment-unknown-student", "enrollments", "SEC-2/1.2E+05", "Student_id", "1.2E+05",
         4, "students/1.2E+05"),
        ("student-without-enrollments", "students", "S-003", None, "S-003", 4, "students/S-003"),
    ]  # fmt: skip


def test_a_new_section_student_and_teacher_nobody_connects(tmp_path):
    night = tiny_night()
    night["sections.csv"].append(["SCH-2", "SEC-3", "T-2", "", "Chemistry", "3"])
    night["students.csv"].append(["SCH-2", "S-004", "00999", "Ng", "Di", "9", "", "", "", "", ""])
    night["teachers.csv"].append(["SCH-2", "T-5", "Roy", "Eli", "eli.roy@maple.example"])

    result = check(tmp_path, night)

    assert found(result) == [
        ("section-without-students", "sections", "SEC-3", None, "SEC-3", 3, "sections/SEC-3"),
        ("student-without-enrollments", "students", "S-004", None, "S-004", 5,
         "students/S-004"),
        ("teacher-without-sections", "teachers", "T-5/SCH-2", None, "T-5", 4,
         "teachers/T-5/SCH-2"),
    ]  # fmt: skip


def test_one_teacher_id_used_by_two_people(tmp_path):
    night = tiny_night()
    night["teachers.csv"].append(["SCH-1", "T-2", "Smith", "Ann", "ann.smith@maple.example"])

    result = check(tmp_path, night)

    assert found(result) == [
        ("teacher-several-schools", "teachers", "T-2/SCH-1", "Teacher_id", "T-2", 4,
         "teachers/T-2"),
        ("shared-staff-id", "teachers", "T-2/SCH-1", "Teacher_id", "T-2", 4, "teachers/T-2"),
    ]  # fmt: skip


# --- the catalogue and the checks agree ------------------------------------------------------


def _codes_in_source(room: str) -> set[str]:
    """Catalogue codes written as string literals anywhere in a package room."""
    codes = set()
    for path in (ROOT / "rosterlab" / room).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                codes |= {c for c in re.findall(r"[a-z0-9-]+", node.value) if c in spec.CATALOGUE}
    return codes


def test_every_declared_code_is_in_the_catalogue():
    declared = [code for c in CHECKS for code in c.codes]
    assert len(declared) == len(set(declared))
    assert set(declared) <= set(spec.CATALOGUE)


def test_every_catalogue_code_is_emitted_by_a_check_or_the_reader_store_or_diff():
    declared = {code for c in CHECKS for code in c.codes}
    file_and_header = {c for c, kind in spec.CATALOGUE.items() if kind.group in ("file", "header")}
    upstream = _codes_in_source("bundle") | _codes_in_source("store")
    reconcile = {c for c, kind in spec.CATALOGUE.items() if kind.group == "reconcile"}

    assert file_and_header <= upstream
    assert reconcile <= _codes_in_source("api")
    assert declared | upstream | reconcile == set(spec.CATALOGUE) - RETIRED_CODES
    assert not RETIRED_CODES & (declared | upstream | reconcile)
    assert {"term-rollover", "id-rekeyed"} <= _codes_in_source("diff")


@pytest.mark.parametrize("check_", CHECKS, ids=[c.name for c in CHECKS])
def test_checks_have_a_docstring_saying_what_they_find(check_):
    assert (check_.run.__doc__ or "").strip()
