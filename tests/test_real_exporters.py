"""Bundles written the way real district exporters write them, read the way Clever reads them.

Each generator reproduces one public exporter's conventions; each night has its exact findings:
the true problems, and no warning or error on any value Clever's SFTP Instructions v2.1.1 allow.
The rule tests below read like the spec (../shared/spec/clever-sftp.md): one case per rule.
"""

from __future__ import annotations

import codecs
import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rosterlab.bundle import open_bundle
from rosterlab.checks import run_checks
from rosterlab.checks.run import root_causes
from rosterlab.fix import fix_snapshot, parse_rules
from rosterlab.report.html_report import findings_fragment
from rosterlab.spec import Finding, finding
from rosterlab.store import Store, export_snapshot, ingest_bundle
from tests.cli_run import run

Rows = list[dict[str, str]]
District = dict[str, Rows]
TAKEN_AT = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)


def district() -> District:
    """A small district whose every value is one v2.1.1 allows (ranges, F/R/N, STL, …)."""
    return {
        "schools.csv": [
            {"School_id": "SCH-1", "School_name": "Maple Elementary", "School_number": "101",
             "Low_grade": "PreKindergarten", "High_grade": "5", "School_state": "MA",
             "School_zip": "02134", "School_phone": "6175550100"},
            {"School_id": "SCH-2", "School_name": "Maple High", "School_number": "102",
             "Low_grade": "9", "High_grade": "9-13", "School_state": "MA",
             "School_zip": "021351234", "School_phone": "16175550101"},
        ],
        "students.csv": [
            {"School_id": "SCH-1", "Student_id": "S-1", "Student_number": "1001",
             "Last_name": "Lee", "First_name": "Ada", "Grade": "Kindergarten",
             "DOB": "03/14/2020", "Frl_status": "F", "IEP_status": "N", "Home_language": "Spanish",
             "Contact_type": "Parent/Guardian", "Contact_relationship": "parent",
             "Contact_name": "Pat Lee", "Contact_phone": "6175550102", "Contact_sis_id": "C-1"},
            {"School_id": "SCH-1", "Student_id": "S-1", "Student_number": "1001",
             "Last_name": "Lee", "First_name": "Ada", "Grade": "Kindergarten",
             "DOB": "03/14/2020", "Frl_status": "F", "IEP_status": "N", "Home_language": "Spanish",
             "Contact_type": "emergency", "Contact_relationship": "Grandparent",
             "Contact_name": "Sam Lee", "Contact_phone": "", "Contact_sis_id": "C-2"},
            {"School_id": "SCH-2", "Student_id": "S-2", "Student_number": "1002",
             "Last_name": "Diaz", "First_name": "Bo", "Grade": "10", "DOB": "11/02/2010",
             "Frl_status": "R", "IEP_status": "Y", "Home_language": "english",
             "Contact_type": "", "Contact_relationship": "", "Contact_name": "",
             "Contact_phone": "", "Contact_sis_id": ""},
            {"School_id": "SCH-2", "Student_id": "S-3", "Student_number": "1003",
             "Last_name": "Okafor", "First_name": "Cy", "Grade": "12", "DOB": "01/30/2009",
             "Frl_status": "N", "IEP_status": "N", "Home_language": "",
             "Contact_type": "", "Contact_relationship": "", "Contact_name": "",
             "Contact_phone": "", "Contact_sis_id": ""},
        ],
        "teachers.csv": [
            {"School_id": "SCH-1", "Teacher_id": "T-1", "Teacher_number": "501",
             "Last_name": "Park", "First_name": "Jo", "Teacher_email": "jo.park@maple.example"},
            {"School_id": "SCH-2", "Teacher_id": "T-2", "Teacher_number": "502",
             "Last_name": "Nowak", "First_name": "Ola", "Teacher_email": "ola@maple.example"},
        ],
        "sections.csv": [
            {"School_id": "SCH-1", "Section_id": "SEC-1", "Teacher_id": "T-1",
             "Course_name": "Reading", "Grade": "Kindergarten-2", "Subject": "Math",
             "Term_start": "08/31/2026", "Term_end": "06/18/2027"},
            {"School_id": "SCH-2", "Section_id": "SEC-2", "Teacher_id": "T-2",
             "Course_name": "Algebra", "Grade": "9-12", "Subject": "math",
             "Term_start": "08/31/2026", "Term_end": "06/18/2027"},
        ],
        "enrollments.csv": [
            {"School_id": "SCH-1", "Section_id": "SEC-1", "Student_id": "S-1"},
            {"School_id": "SCH-2", "Section_id": "SEC-2", "Student_id": "S-2"},
            {"School_id": "SCH-2", "Section_id": "SEC-2", "Student_id": "S-3"},
        ],
        "staff.csv": [
            {"School_id": "SCH-1", "Staff_id": "A-1", "Staff_email": "kim@maple.example",
             "First_name": "Kim", "Last_name": "Ito", "Role": "STL"},
            {"School_id": "SCH-2", "Staff_id": "A-1", "Staff_email": "kim@maple.example",
             "First_name": "Kim", "Last_name": "Ito", "Role": "STL"},
            {"School_id": "DEFAULT_DISTRICT_OFFICE", "Staff_id": "A-2",
             "Staff_email": "lu@maple.example", "First_name": "Lu", "Last_name": "Chen",
             "Role": "SchoolTechLead"},
        ],
    }  # fmt: skip


# --- the exporters ---------------------------------------------------------------------------


def _minimal(value: str) -> str:
    return (
        f'"{value.replace(chr(34), 2 * chr(34))}"' if any(c in value for c in ',"\r\n') else value
    )


def sqlplus_spool(rows: Rows) -> bytes:
    """Oracle SQL*Plus spool of a PowerSchool query (``SPOOL``, ``SET HEADING OFF``, ``TRIMSPOOL
    ON``, ``TO_CHAR(dob, 'MM/dd/yyyy')``, as ldesimon/illuminate_kipp_workspace
    kipp_nj/enrollment.sql): Oracle upper-cases unquoted column aliases, so the header arrives as
    ``SCHOOL_ID,STUDENT_ID,…``; values joined with ``||','||``, run on Windows (CRLF)."""
    header = ",".join(name.upper() for name in rows[0])
    lines = [header, *(",".join(_minimal(v) for v in row.values()) for row in rows)]
    return "".join(line + "\r\n" for line in lines).encode("ascii")


def powershell51_export_csv(rows: Rows) -> bytes:
    """Windows PowerShell 5.1 ``Export-Csv -NoTypeInformation`` (rcmcdonald91/FACTS-To-CSV-Sync
    FactstoCleverCSV.ps1, scottorgan/kitchen modules/clever.psm1): every field and header quoted,
    CRLF, and 5.1's default encoding ASCII (Microsoft's about_Character_Encoding)."""
    lines = [",".join(f'"{v}"' for v in row) for row in [list(rows[0]), *map(dict.values, rows)]]
    return "".join(line + "\r\n" for line in lines).encode("ascii", errors="replace")


def powershell7_export_csv(rows: Rows) -> bytes:
    """PowerShell 7 ``Export-Csv`` on Windows: every field quoted (UseQuotes Always), no #TYPE
    line (PowerShell/PowerShell#5131 made -NoTypeInformation the default), UTF-8 without BOM."""
    lines = [",".join(f'"{v}"' for v in row) for row in [list(rows[0]), *map(dict.values, rows)]]
    return "".join(line + "\r\n" for line in lines).encode()


def python_windows_csv(rows: Rows) -> bytes:
    """Python ``csv.writer`` on Windows (``open(path, "w", newline="")``): the excel dialect's
    CRLF, minimal quoting, and the locale's default encoding, cp1252."""
    lines = [",".join(map(_minimal, row)) for row in [list(rows[0]), *map(dict.values, rows)]]
    return "".join(line + "\r\n" for line in lines).encode("cp1252")


def write_bundle(
    folder: Path,
    night: District,
    exporter: Callable[[Rows], bytes],
    names: dict[str, str] | None = None,
) -> Path:
    """Write ``night`` with ``exporter`` into ``folder`` (``names``: files under other names)."""
    folder.mkdir(parents=True)
    for name, rows in night.items():
        (folder / (names or {}).get(name, name)).write_bytes(exporter(rows))
    return folder


@contextmanager
def ingest_and_check(tmp_path: Path, folder: Path) -> Iterator[tuple[list[Finding], Store]]:
    """Ingest ``folder`` into a fresh store and check it: its findings, and the open store."""
    with Store.open(tmp_path / "store.duckdb") as store:
        with open_bundle(folder) as bundle:
            result = ingest_bundle(
                store, bundle, district="real", taken_at=TAKEN_AT, sync_type="sftp"
            )
        yield list(run_checks(store, result.snapshot.id).findings), store


def summary(findings: list[Finding]) -> list[tuple[str, str | None, str | None, str | None]]:
    """The warnings and errors, as (code, entity, field, value)."""
    return [(f.code, f.entity, f.field, f.value) for f in findings if f.severity != "info"]


# --- each exporter's night --------------------------------------------------------------------


@pytest.mark.parametrize(
    "exporter", [sqlplus_spool, powershell51_export_csv, powershell7_export_csv]
)
def test_a_clean_district_from_each_exporter_has_no_warning(tmp_path, exporter):
    with ingest_and_check(tmp_path, write_bundle(tmp_path / "b", district(), exporter)) as (
        findings,
        store,
    ):
        assert summary(findings) == []
        students = store.entity_frame(1, "students")
        assert sorted(students["Student_id"]) == ["S-1", "S-2", "S-3"]
        assert sorted(students["DOB"]) == ["01/30/2009", "03/14/2020", "11/02/2010"]
        assert store.entity_frame(1, "enrollments").height == 3
        assert store.entity_frame(1, "contacts").height == 2


def test_oracle_upper_case_headers_are_checked_like_canonical_ones(tmp_path):
    night = district()
    night["students.csv"][2]["DOB"] = "2010-11-02"  # TO_CHAR forgotten: ISO date
    night["enrollments.csv"].append(
        {"School_id": "SCH-2", "Section_id": "SEC-9", "Student_id": "S-3"}
    )
    with ingest_and_check(tmp_path, write_bundle(tmp_path / "b", night, sqlplus_spool)) as run:
        findings, _ = run

    assert summary(findings) == [
        ("invalid-date", "students", "DOB", "2010-11-02"),
        ("enrollment-unknown-section", "enrollments", "Section_id", "SEC-9"),
    ]


def test_python_on_windows_writes_cp1252_which_is_flagged_not_rejected(tmp_path):
    night = district()
    night["students.csv"][3]["First_name"] = "Zoë"
    with ingest_and_check(tmp_path, write_bundle(tmp_path / "b", night, python_windows_csv)) as (
        findings,
        store,
    ):
        assert summary(findings) == [("encoding-not-utf8", "students", None, "cp1252")]
        assert "may show its accented letters garbled" in findings[0].message
        names = store.entity_frame(1, "students").sort("Student_id")["First_name"].to_list()
        assert names == ["Ada", "Bo", "Zoë"]


def test_hand_rolled_capitalised_names_and_sis_headers(tmp_path):
    """Philip-Greyson/D118-CleverStudents students.py: writes ``Students.csv`` with every field
    quoted, PowerSchool's headers ``Dob``, ``Student_Street``, ``Ell_Status``, an ``Active``
    column, DOB as ``yyyy-mm-dd`` and Frl F/R/N. The files are read, stored and checked."""
    night = district()
    for row in night["students.csv"]:
        row["Dob"] = row.pop("DOB").replace("03/14/2020", "2020-03-14")
        row["Active"] = "0"
    names = {"students.csv": "Students.csv", "teachers.csv": "Teachers.csv"}
    folder = write_bundle(tmp_path / "b", night, powershell7_export_csv, names)
    with ingest_and_check(tmp_path, folder) as (findings, store):
        assert summary(findings) == [
            ("file-name-case", "students", None, "Students.csv"),
            ("unknown-column", "students", None, "Active"),
            ("file-name-case", "teachers", None, "Teachers.csv"),
            ("invalid-date", "students", "DOB", "2020-03-14"),  # two students: one finding
        ]
        assert store.entity_frame(1, "students").height == 3
        exported = tmp_path / "export"
        export_snapshot(store, 1, exported)
        assert (exported / "Students.csv").read_bytes() == (folder / "Students.csv").read_bytes()


# --- one case per rule: values v2.1.1 allows raise no warning ---------------------------------

ALLOWED = [
    ("frl-codes-f-r-n", "students.csv", 3, "Frl_status", "R"),
    ("school-grade-range", "schools.csv", 0, "High_grade", "3-5"),
    ("section-grade-range", "sections.csv", 0, "Grade", "9-13"),
    ("contact-type-any-case", "students.csv", 0, "Contact_type", "PRIMARY"),
    ("contact-relationship-any-case", "students.csv", 0, "Contact_relationship", "aunt/uncle"),
    ("home-language-listed", "students.csv", 2, "Home_language", "Somali"),
    ("role-school-tech-lead", "staff.csv", 0, "Role", "School Tech Lead"),
    ("role-stl-any-case", "staff.csv", 0, "Role", "stl"),
    ("district-office", "staff.csv", 0, "School_id", "DEFAULT_DISTRICT_OFFICE"),
    ("phone-eleven-digits", "schools.csv", 0, "School_phone", "16175550100"),
    ("zip-nine-characters", "schools.csv", 0, "School_zip", "021341234"),
    ("state-two-letters", "schools.csv", 0, "School_state", "TX"),
    ("grade-ungraded", "students.csv", 2, "Grade", "Ungraded"),
    ("subject-any-case", "sections.csv", 0, "Subject", "ARTS AND MUSIC"),
    # v2.1.1's email format is x@y.z, nothing of case: an SIS that keeps addresses in capitals
    ("email-upper-case", "teachers.csv", 0, "Teacher_email", "JO.PARK@MAPLE.EXAMPLE"),
    # LibreOffice "Quote all text cells", PowerShell: a quoted empty value is blank
    ("optional-blank", "schools.csv", 0, "School_phone", ""),
]


@pytest.mark.parametrize(
    ("file", "row", "column", "value"), [a[1:] for a in ALLOWED], ids=[a[0] for a in ALLOWED]
)
def test_a_value_v2_1_1_allows_raises_nothing(tmp_path, file, row, column, value):
    night = district()
    night[file][row][column] = value
    with ingest_and_check(
        tmp_path, write_bundle(tmp_path / "b", night, powershell7_export_csv)
    ) as run:
        findings, _ = run
    assert summary(findings) == []


# --- one case per rule: what v2.1.1 does not allow is found, with its fix ---------------------

# The hint of an invalid date: the value rewritten, and where to format it.
DATE_QUERY = (
    "in the export's query, format the date with CONVERT(varchar, date, 101) (SQL Server) or "
    "TO_CHAR(date, 'MM/DD/YYYY') (Oracle)."
)

PROBLEMS = [
    ("frl-long-form", "students.csv", 2, "Frl_status", "Free", "invalid-value", "Use F."),
    ("grade-other-is-not-an-input", "students.csv", 2, "Grade", "Other", "invalid-value", None),
    ("student-grade-no-range", "students.csv", 2, "Grade", "9-12", "invalid-value", None),
    ("home-language-off-list", "students.csv", 2, "Home_language", "Klingon", "invalid-value",
     None),
    ("role-other", "staff.csv", 2, "Role", "Principal", "invalid-value", None),
    ("district-office-spelled-with-spaces", "staff.csv", 2, "School_id",
     "Default District Office", "invalid-value", "Use DEFAULT_DISTRICT_OFFICE."),
    ("phone-with-punctuation", "schools.csv", 0, "School_phone", "(617) 555-0100",
     "invalid-phone", None),
    ("zip-with-hyphen", "schools.csv", 1, "School_zip", "02135-1234", "invalid-zip",
     "Write the ZIP as 5 or 9 characters, no hyphen or space (021351234)."),
    ("state-spelled-out", "schools.csv", 0, "School_state", "Mass.", "invalid-state", None),
    ("student-number-not-unique", "students.csv", 3, "Student_number", "1002",
     "duplicate-unique-value", None),
    ("teacher-number-not-unique", "teachers.csv", 1, "Teacher_number", "501",
     "duplicate-unique-value", None),
    ("staff-email-not-unique", "staff.csv", 2, "Staff_email", "kim@maple.example",
     "duplicate-unique-value", None),
    ("school-number-blank", "schools.csv", 1, "School_number", "", "missing-value", None),
    ("staff-email-only-spaces", "staff.csv", 2, "Staff_email", "   ", "missing-value", None),
    # an unformatted date column: Export-Csv writes .NET's en-US DateTime (FACTS-To-CSV-Sync
    # sql/students.sql formats it with CONVERT(varchar, st.Birthdate, 101) to avoid this), sqlcmd
    # its datetime, Python's isoformat() the ISO form; the hint gives the date rewritten
    ("dob-powershell-datetime", "students.csv", 2, "DOB", "11/2/2010 12:00:00 AM", "invalid-date",
     f"Write 11/02/2010 (MM/DD/YYYY): {DATE_QUERY}"),
    ("dob-sqlcmd-datetime", "students.csv", 2, "DOB", "2010-11-02 00:00:00.000", "invalid-date",
     f"Write 11/02/2010 (MM/DD/YYYY): {DATE_QUERY}"),
    ("dob-iso-datetime", "students.csv", 2, "DOB", "2010-11-02T00:00:00", "invalid-date",
     f"Write 11/02/2010 (MM/DD/YYYY): {DATE_QUERY}"),
    ("dob-impossible", "students.csv", 2, "DOB", "02/30/2010", "invalid-date",
     f"Write a valid date as MM/DD/YYYY: {DATE_QUERY}"),
    # FACTS-To-CSV-Sync sql/students.sql strips the zeros of its zero-padded GradeLevel;
    # K12-Analytics-Engineering/kae_dbt macros/convert_grade_level_to_id.sql reads 'k', 'tk',
    # 'pk' and Ed-Fi's descriptors ('Tenth grade', EdWire/dagster-edfi-api-to-bq-amt)
    ("grade-zero-padded", "students.csv", 2, "Grade", "09", "invalid-value", "Use 9."),
    ("grade-k", "students.csv", 2, "Grade", "K", "invalid-value", "Use Kindergarten."),
    ("grade-tk", "students.csv", 2, "Grade", "TK", "invalid-value",
     "Use TransitionalKindergarten."),
    ("grade-ed-fi-descriptor", "students.csv", 2, "Grade", "Tenth grade", "invalid-value",
     "Use 10."),
    # a bit column through an ODBC DataSet and Export-Csv: .NET's Boolean, True/False
    # (techblog.moppleit.dk predictable-csv-exports-in-powershell: "booleans switch to strings")
    ("iep-boolean", "students.csv", 2, "IEP_status", "True", "invalid-value", "Use Y."),
    # sqlcmd prints NULL (shadiakiki1986/sqlcmd-csv README.md)
    ("home-language-null", "students.csv", 2, "Home_language", "NULL", "null-marker", None),
    ("phone-with-dashes", "schools.csv", 0, "School_phone", "617-555-0100", "invalid-phone",
     None),
    # a CHAR column spooled by SQL*Plus keeps its padding (see sqlplus_colsep_spool)
    ("number-with-trailing-space", "schools.csv", 0, "School_number", "101 ", "padded-id",
     None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("file", "row", "column", "value", "code", "hint"),
    [p[1:] for p in PROBLEMS],
    ids=[p[0] for p in PROBLEMS],
)
def test_a_value_v2_1_1_does_not_allow_is_found(tmp_path, file, row, column, value, code, hint):
    night = district()
    night[file][row][column] = value
    with ingest_and_check(
        tmp_path, write_bundle(tmp_path / "b", night, powershell7_export_csv)
    ) as run:
        findings, _ = run
    (found,) = [f for f in findings if f.severity != "info"]
    assert (found.code, found.field, found.value) == (code, column, value or None)
    if hint is not None:
        assert found.hint == hint


def test_an_off_list_contact_relationship_is_only_advice_with_a_mapping(tmp_path):
    night = district()
    night["students.csv"][0]["Contact_relationship"] = "Father"  # v2.1.1's own example
    night["students.csv"][1]["Contact_type"] = "Guardian"  # FACTS-To-CSV-Sync students.sql
    with ingest_and_check(
        tmp_path, write_bundle(tmp_path / "b", night, powershell7_export_csv)
    ) as run:
        findings, _ = run
    advice = [
        (f.code, f.severity, f.field, f.value, f.hint) for f in findings if f.entity == "contacts"
    ]
    prefix = "Nothing Clever requires (v2.1.1 takes free text); the listed value would be"
    assert advice == [
        ("unlisted-contact-value", "info", "Contact_relationship", "Father", f"{prefix} Parent."),
        ("unlisted-contact-value", "info", "Contact_type", "Guardian",
         f"{prefix} Parent/Guardian."),
    ]  # fmt: skip


def test_the_corrected_bundle_writes_canonical_names_and_headers(tmp_path):
    """SQL*Plus upper-case headers in a hand-named Students.csv: ``fix`` (no rules) writes
    students.csv with the spec's header spelling; every row is carried."""
    folder = write_bundle(
        tmp_path / "b", district(), sqlplus_spool, {"students.csv": "Students.csv"}
    )
    with ingest_and_check(tmp_path, folder) as (_, store):
        result = fix_snapshot(store, 1, parse_rules(b"", name="none.toml"), tmp_path / "out")
    written = sorted(p.name for p in (tmp_path / "out").glob("*.csv"))
    assert written == [
        "changes.csv",
        "enrollments.csv",
        "schools.csv",
        "sections.csv",
        "staff.csv",
        "students.csv",
        "teachers.csv",
    ]
    header, *rows = (tmp_path / "out" / "students.csv").read_text().splitlines()
    assert header == ",".join(district()["students.csv"][0])
    assert len(rows) == 4
    assert result.notes == ()


def test_powershell_5_1_without_no_type_information_writes_a_type_line(tmp_path):
    """Export-Csv in Windows PowerShell 5.1 writes ``#TYPE <type name>`` first unless
    -NoTypeInformation is given (PowerShell/PowerShell#5131): Clever reads that as the header."""
    night = {name: rows for name, rows in district().items() if name == "schools.csv"}

    def typed(rows: Rows) -> bytes:
        return b"#TYPE System.Data.DataRow\r\n" + powershell51_export_csv(rows)

    folder = write_bundle(tmp_path / "b", night, typed)
    with ingest_and_check(tmp_path, folder) as (findings, store):
        schools = [(f.code, f.value, f.row) for f in findings if f.entity == "schools"]
        assert schools == [
            ("type-information-line", "#TYPE System.Data.DataRow", None),
            ("malformed-row", None, 1),
            ("malformed-row", None, 2),
            ("malformed-row", None, 3),
        ]
        (typed_line,) = [f for f in findings if f.code == "type-information-line"]
        assert typed_line.message == (
            "schools.csv starts with PowerShell's type line '#TYPE System.Data.DataRow'; Clever "
            "reads it as the header, so no column matches and every row of schools.csv is skipped."
        )
        assert store.entity_frame(1, "schools").height == 0


def test_capitalised_file_names_are_read_with_only_a_naming_warning(tmp_path):
    """Clever's help centre lists the files capitalised; districts upload them so in production
    (Philip-Greyson/D118-CleverStudents uploads Students.csv)."""
    names = {name: name.capitalize() for name in district()}
    folder = write_bundle(tmp_path / "b", district(), powershell7_export_csv, names)
    with ingest_and_check(tmp_path, folder) as (findings, store):
        assert summary(findings) == [
            ("file-name-case", "enrollments", None, "Enrollments.csv"),
            ("file-name-case", "schools", None, "Schools.csv"),
            ("file-name-case", "sections", None, "Sections.csv"),
            ("file-name-case", "staff", None, "Staff.csv"),
            ("file-name-case", "students", None, "Students.csv"),
            ("file-name-case", "teachers", None, "Teachers.csv"),
        ]
        heights = {e: store.entity_frame(1, e).height for e in ("students", "enrollments", "staff")}
        assert heights == {"students": 3, "enrollments": 3, "staff": 3}


def sqlplus_colsep_spool(rows: Rows) -> bytes:
    """Oracle SQL*Plus spool with ``SET COLSEP ','``, ``SET PAGESIZE 0``, ``SET TRIMSPOOL ON``
    and the header written by a ``PROMPT`` line: SQL*Plus prints each column left-justified
    within its width (flylib.com/books/en/2.525.1/section_b2_formatting_character_strings.html),
    COLSEP is "the text to be printed between selected columns" (SET System Variable Summary,
    scribd.com/document/82462007), a NULL prints as blanks, and TRIMSPOOL trims only the
    line's end (sqlsnippets.com/en/topic-11589.html). Every value is padded to its column's
    width: the last column's are trimmed with the line."""
    widths = {c: max(len(c), *(len(row[c]) for row in rows)) for c in rows[0]}
    lines = [
        ",".join(value.ljust(widths[c]) for c, value in row.items()).rstrip(" ") for row in rows
    ]
    header = ",".join(name.upper() for name in rows[0])
    return "".join(line + "\r\n" for line in [header, *lines]).encode("ascii")


def test_a_colsep_spool_s_blank_contact_columns_carry_no_contact(tmp_path):
    """students.csv spooled with SET COLSEP ',': S-2 and S-3 have no contact, so their contact
    columns arrive as spaces only — blank (v2.1.1: a value of only spaces is blank). They were
    found as `incomplete-contact` ("Contact_type blank while other contact columns are filled")
    on two students with nothing filled. The padded values are found as sent."""
    night = district()
    folder = write_bundle(tmp_path / "b", night, sqlplus_spool)
    (folder / "students.csv").write_bytes(sqlplus_colsep_spool(night["students.csv"]))
    s_3 = (folder / "students.csv").read_bytes().splitlines()[4]
    assert s_3 == (
        b"SCH-2    ,S-3       ,1003          ,Okafor   ,Cy        ,12          ,01/30/2009,"
        b"N         ,N         ,             ,               ,                    ,            ,"
        b"             ,"
    )
    with ingest_and_check(tmp_path, folder) as (findings, store):
        found = Counter((f.code, f.entity, f.field) for f in findings if f.severity != "info")
        snapshot = store.snapshots("real")[-1]
        contacts, values = store.entity_in(snapshot, "contacts")
        stored = store.rows(f"SELECT key FROM {contacts} ORDER BY key", values)
    assert [f for f in findings if f.code == "incomplete-contact"] == []
    # S-1 has two contacts; S-2's and S-3's contact columns (only spaces) are none
    assert [key for (key,) in stored] == ["S-1       /sis_id:C-1", "S-1       /sis_id:C-2"]
    assert found == {
        ("padded-id", "students", "School_id"): 3,
        ("padded-id", "students", "Student_id"): 3,
        ("padded-id", "students", "Student_number"): 3,
        ("invalid-value", "students", "Frl_status"): 3,
        ("invalid-value", "students", "IEP_status"): 2,
        ("invalid-value", "students", "Home_language"): 2,
        ("invalid-value", "students", "Grade"): 2,
        ("unknown-school", "students", "School_id"): 3,
        ("invalid-phone", "contacts", "Contact_phone"): 1,
        ("enrollment-unknown-student", "enrollments", "Student_id"): 3,
    }


def python_windows_csv_without_newline(rows: Rows) -> bytes:
    """Python ``csv.writer`` on Windows over ``open(path, "w")`` without ``newline=""``: the
    writer ends each row with CRLF and text mode turns its LF into CRLF again — CR CR LF
    (docs.python.org/3/library/csv.html, footnote on newline=''; the open-without-newline
    pattern of henrymwestfall/course-scheduler csv_creator.py)."""
    return python_windows_csv(rows).replace(b"\r\n", b"\r\r\n")


def test_python_without_newline_is_one_finding_per_file_not_one_per_line(tmp_path):
    """Each file said "has an empty line at row 1", "… at row 3", … (1,000 warnings a file,
    the limit): one finding names the cause. The rows are read as written."""
    folder = write_bundle(tmp_path / "b", district(), python_windows_csv_without_newline)
    assert (folder / "schools.csv").read_bytes().count(b"\r\r\n") == 3
    with ingest_and_check(tmp_path, folder) as (findings, store):
        assert summary(findings) == [
            ("doubled-carriage-return", entity, None, lines)
            for entity, lines in [("enrollments", "4"), ("schools", "3"), ("sections", "3"),
                                  ("staff", "4"), ("students", "5"), ("teachers", "3")]
        ]  # fmt: skip
        (schools,) = [f for f in findings if f.code == "doubled-carriage-return" and f.row is None
                      and f.entity == "schools"]  # fmt: skip
        assert schools.message == (
            "schools.csv ends every line with CR CR LF: a reader that splits lines on CR sees an "
            "empty line after each row (3 empty lines)."
        )
        assert store.entity_frame(1, "students").height == 3
        assert store.entity_frame(1, "enrollments").height == 3
        assert sorted(store.entity_frame(1, "staff")["Role"]) == ["STL", "STL", "SchoolTechLead"]


def test_trailing_commas_are_one_unnamed_column_finding(tmp_path):
    """A separator after the last value of every line: Excel saves every column of the sheet's
    used range, empty ones included, so a sheet whose columns right of the data were once
    edited gets ``,,,`` on each line (mrexcel.com/board/threads/
    vba-edit-hex-of-existing-csv-style-file.1140952), and a hand-rolled ``a||','||b||','``
    select (the concatenation of sqlplus_spool) one comma too many. The empty header names
    were "column  is not in the Clever format … rename it to ext. …" and, repeated, the error
    "has the column  more than once"."""

    def excel_with_empty_columns(rows: Rows) -> bytes:
        return python_windows_csv(rows).replace(b"\r\n", b",,,\r\n")

    night = district()
    folder = write_bundle(tmp_path / "b", {"schools.csv": night["schools.csv"]}, sqlplus_spool)
    (folder / "schools.csv").write_bytes(sqlplus_spool(night["schools.csv"]).replace(
        b"\r\n", b",\r\n"))  # fmt: skip
    (folder / "staff.csv").write_bytes(excel_with_empty_columns(night["staff.csv"]))
    with ingest_and_check(tmp_path, folder) as (findings, store):
        header = [(f.code, f.severity, f.entity, f.value) for f in findings if f.row is None
                  and f.code not in ("missing-file",)]  # fmt: skip
        assert header == [
            ("unnamed-column", "warning", "schools", "1"),
            ("unnamed-column", "warning", "staff", "3"),
        ]
        (staff,) = [f for f in findings if f.code == "unnamed-column" and f.entity == "staff"]
        assert staff.message == (
            "staff.csv has 3 column(s) without a name in its header (a comma at the end of each "
            "line?); Clever cannot match them to a field and ignores their values."
        )
        assert store.entity_frame(1, "schools")["School_phone"].to_list() == [
            "6175550100",
            "16175550101",
        ]


def test_a_colsep_spool_s_padded_header_names_show_their_spaces(tmp_path):
    """With SET HEADING ON (no PROMPT line) SQL*Plus pads the column names too: the misspelling
    finding named 'LOW_GRADE      ' without quotes, so the spaces that make it one could not
    be seen ("column LOW_GRADE       looks like a misspelling of Low_grade")."""
    rows = district()["schools.csv"]
    header = ",".join(c.upper().ljust(max(len(c), *(len(r[c]) for r in rows))) for c in rows[0])
    spooled = sqlplus_colsep_spool(rows).split(b"\r\n", 1)[1]
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "schools.csv").write_bytes(header.rstrip(" ").encode() + b"\r\n" + spooled)
    with ingest_and_check(tmp_path, folder) as (findings, _):
        named = [(f.field, f.message, f.hint) for f in findings if f.code == "misspelled-column"]
    assert named == [
        ("School_name", "schools.csv column 'SCHOOL_NAME     ' looks like a misspelling of "
         "School_name; Clever ignores it.", "Rename the column 'SCHOOL_NAME     ' to School_name."),
        ("Low_grade", "schools.csv column 'LOW_GRADE      ' looks like a misspelling of Low_grade; "
         "Clever ignores it.", "Rename the column 'LOW_GRADE      ' to Low_grade."),
    ]  # fmt: skip


def test_powershell_5_1_s_default_ascii_writes_lost_letters_as_question_marks(tmp_path):
    """Export-Csv in Windows PowerShell 5.1 writes ASCII unless -Encoding is given
    (learn.microsoft.com about_Character_Encoding; the FACTS-To-CSV-Sync and kitchen modules
    above give none): 'Zoë' reaches Clever as 'Zo?', 'Núñez' as 'N??ez', and the file itself
    is valid ASCII, so nothing said so."""
    night = district()
    night["students.csv"][3]["First_name"] = "Zoë"
    night["students.csv"][2]["Last_name"] = "Núñez"
    folder = write_bundle(tmp_path / "b", night, powershell51_export_csv)
    with ingest_and_check(tmp_path, folder) as (findings, store):
        assert [(f.code, f.key, f.field, f.value, f.message) for f in findings
                if f.severity != "info"] == [
            ("letters-lost", "S-2", "Last_name", "N??ez",
             "students S-2: Last_name 'N??ez' has '?' where a letter belongs."),
            ("letters-lost", "S-3", "First_name", "Zo?",
             "students S-3: First_name 'Zo?' has '?' where a letter belongs."),
        ]  # fmt: skip
        names = store.entity_frame(1, "students").sort("Student_id")["First_name"].to_list()
        assert names == ["Ada", "Bo", "Zo?"]


# --- query tools' output conventions ----------------------------------------------------------


def sqlcmd_output(rows: Rows) -> bytes:
    """SQL Server ``sqlcmd -s"," -W -Q "SELECT …" -o students.csv``: the column names, a line of
    dashes under them, the rows with NULL printed as ``NULL``, then an empty line and the row
    count ``(N rows affected)`` unless the script says SET NOCOUNT ON — the output
    shadiakiki1986/sqlcmd-csv (README.md) exists to turn into valid CSV
    (stackoverflow.com/questions/425379). Run on Windows: CRLF."""
    names = list(rows[0])
    widths = {c: max(len(c), *(len(row[c]) for row in rows)) for c in names}
    values = [",".join(row[c] or "NULL" for c in names) for row in rows]
    lines = [",".join(names), ",".join("-" * widths[c] for c in names), *values, "",
             f"({len(rows)} rows affected)"]  # fmt: skip
    return "".join(line + "\r\n" for line in lines).encode("ascii")


def test_sqlcmd_s_underline_null_and_row_count_are_named_with_their_switches(tmp_path):
    """The dashes line was a school '---------' found only through its cells (Low_grade
    '---------------' is not a recognised value, …), NULL as text passed unnoticed in Principal,
    and the row count was a malformed row whose hint spoke of quoting commas."""
    night = district()
    for row in night["schools.csv"]:
        row["Principal"] = ""
    folder = write_bundle(tmp_path / "b", night, powershell7_export_csv)
    (folder / "schools.csv").write_bytes(sqlcmd_output(night["schools.csv"]))
    assert (folder / "schools.csv").read_bytes().splitlines()[1] == (
        b"---------,----------------,-------------,---------------,----------,------------,"
        b"----------,------------,---------"
    )
    with ingest_and_check(tmp_path, folder) as (findings, store):
        found = [(f.code, f.field, f.value, f.row) for f in findings if f.entity == "schools"
                 and f.severity != "info"]  # fmt: skip
        by_code = {f.code: f for f in findings}
        stored = sorted(store.entity_frame(1, "schools")["School_id"])
    assert found == [
        ("blank-row", None, None, 4),
        ("query-tool-line", None, "(2 rows affected)", 5),
        # the underline, and what its dashes make of the school's other values
        ("invalid-value", "High_grade", "----------", 1),
        ("invalid-value", "Low_grade", "---------------", 1),
        ("underline-row", "School_id", "---------", 1),
        ("invalid-phone", "School_phone", "------------", 1),
        ("invalid-state", "School_state", "------------", 1),
        ("invalid-zip", "School_zip", "----------", 1),
        ("null-marker", "Principal", "NULL", 2),  # both schools: one finding for the value
    ]
    assert by_code["underline-row"].message == (
        "schools.csv has the dashes a query tool prints under the header as a row (School_id "
        "'---------'); Clever reads it as one more record."
    )
    assert by_code["underline-row"].hint == (
        "Leave the underline out: sqlcmd -h -1 (then write the header line yourself), SQL*Plus "
        "SET UNDERLINE OFF or SET PAGESIZE 0."
    )
    assert by_code["query-tool-line"].message == (
        "schools.csv row 5 is '(2 rows affected)', the row count sqlcmd prints after the rows, "
        "not a record."
    )
    assert by_code["query-tool-line"].hint == (
        "Leave it out in the export script (SET NOCOUNT ON) and export again."
    )
    assert by_code["null-marker"].message == (
        "2 schools (SCH-1, SCH-2): Principal is 'NULL', a database NULL written as text; Clever "
        "reads the text."
    )
    # Clever reads the underline as a school: rosterlab stores what Clever would read
    assert stored == ["---------", "SCH-1", "SCH-2"]


def sqlplus_paged_spool(rows: Rows, page: int) -> bytes:
    """Oracle SQL*Plus spool of a ``col||','||col`` select whose alias is the header line, with
    PAGESIZE left to paginate and FEEDBACK on: each page starts with the heading and a line of
    dashes under it, an empty line separates the pages (codeproject.com Articles/5164858
    "Prepare Oracle SQL for Spooling": without PAGESIZE 0 "the rows in the output would be
    split … between which there would be an empty line and header repeated on each page"), and
    the spool ends with "N rows selected." (SET FEEDBACK; SQL*Plus SET System Variable Summary,
    scribd.com/document/82462007)."""
    header = ",".join(rows[0])
    lines: list[str] = []
    for start in range(0, len(rows), page):
        lines += ["" if lines else None, header, "-" * len(header)]  # type: ignore[list-item]
        lines += [",".join(row.values()) for row in rows[start : start + page]]
    lines += ["", f"{len(rows)} rows selected."]
    return "".join(line + "\r\n" for line in lines if line is not None).encode("ascii")


def test_a_paged_sqlplus_spool_names_its_repeated_header_underlines_and_feedback(tmp_path):
    """Each page's heading was an enrollment 'Section_id/Student_id' found only as three broken
    links; the underlines and "3 rows selected." were malformed rows whose hint spoke of
    quoting commas. Each line is now named for what SQL*Plus printed, with its setting."""
    night = district()
    folder = write_bundle(tmp_path / "b", night, sqlplus_spool)
    (folder / "enrollments.csv").write_bytes(sqlplus_paged_spool(night["enrollments.csv"], 2))
    assert (folder / "enrollments.csv").read_bytes().split(b"\r\n")[4:7] == [
        b"",
        b"School_id,Section_id,Student_id",
        b"-------------------------------",
    ]
    with ingest_and_check(tmp_path, folder) as (findings, store):
        found = [(f.code, f.field, f.value, f.row) for f in findings if f.severity != "info"]
        header = next(f for f in findings if f.code == "repeated-header")
        feedback = next(f for f in findings if f.value == "3 rows selected.")
        keys = sorted(store.entity_frame(1, "enrollments")["key"])
    dashes = "-" * 31
    assert found == [
        ("blank-row", None, None, 4),
        ("blank-row", None, None, 8),
        ("query-tool-line", None, dashes, 1),
        ("query-tool-line", None, dashes, 6),
        ("query-tool-line", None, "3 rows selected.", 9),
        ("repeated-header", "Section_id", "Section_id", 5),
        # the second page's heading, read as an enrollment
        ("unknown-school", "School_id", "School_id", 5),
        ("enrollment-unknown-section", "Section_id", "Section_id", 5),
        ("enrollment-unknown-student", "Student_id", "Student_id", 5),
    ]
    assert header.message == (
        "enrollments.csv repeats its header line as a row (Section_id 'Section_id'); Clever "
        "reads it as one more record."
    )
    assert header.hint == (
        "Write the header once: SQL*Plus repeats it on every page unless SET PAGESIZE 0 (write "
        "the header with PROMPT); when joining exports, drop every part's header but the first."
    )
    assert (feedback.message, feedback.hint) == (
        "enrollments.csv row 9 is '3 rows selected.', the row count SQL*Plus prints after the "
        "rows, not a record.",
        "Leave it out in the export script (SET FEEDBACK OFF) and export again.",
    )
    assert keys == ["SEC-1/S-1", "SEC-2/S-2", "SEC-2/S-3", "Section_id/Student_id"]


def test_exports_joined_into_one_file_repeat_the_header_in_any_case(tmp_path):
    """One export per school joined into one file byte for byte (``copy /b sch1.csv+sch2.csv
    students.csv``), each part's header kept where a joiner must "read header; if (first
    input) output header" (perlmonks.org node_id=11101870): the second header is found
    whatever its case (Oracle's SCHOOL_ID,STUDENT_ID,… here)."""
    night = district()
    parts = [[r for r in night["students.csv"] if r["School_id"] == s] for s in ("SCH-1", "SCH-2")]
    folder = write_bundle(tmp_path / "b", night, sqlplus_spool)
    (folder / "students.csv").write_bytes(b"".join(sqlplus_spool(part) for part in parts))
    with ingest_and_check(tmp_path, folder) as (findings, _):
        header = [
            (f.code, f.field, f.value, f.row) for f in findings if f.code == "repeated-header"
        ]
    assert header == [("repeated-header", "Student_id", "STUDENT_ID", 3)]


# A query tool's line read as a record is one root cause per file: its findings (the column names
# or dashes read as values, the links they break, the record repeated) go with the line, under
# one hint naming the tool's setting.
HEADER_AGAIN = (
    "Every finding listed is {}'s header line again, which Clever reads as one more record: its "
    "column names are not values to correct. Write the header once: SQL*Plus repeats it on "
    "every page unless SET PAGESIZE 0 (write the header with PROMPT); when joining exports, drop "
    "every part's header but the first. sqlcmd prints the header and its underline again every "
    "-h rows: -h -1 leaves them out."
)
UNDERLINE = (
    "Every finding listed is the line of dashes a query tool printed under {}'s header, which "
    "Clever reads as one more record: its dashes are not values to correct. Leave the underline "
    "out: sqlcmd -h -1 (then write the header line yourself), SQL*Plus SET UNDERLINE OFF or SET "
    "PAGESIZE 0."
)


def ingested(tmp_path: Path, folder: Path) -> Path:
    """``folder`` ingested into a fresh store, closed for the CLI: the store's path."""
    path = tmp_path / "store.duckdb"
    with Store.open(path) as store, open_bundle(folder) as bundle:
        ingest_bundle(store, bundle, district="real", taken_at=TAKEN_AT, sync_type="sftp")
    return path


def test_a_sqlcmd_underline_is_one_root_cause_with_the_switch_in_text_json_and_report(
    tmp_path, capsys
):
    """The underline read as a school was five findings of its dashes (Low_grade
    '---------------' is not a recognised value, …), each with its own advice: one group now,
    whose hint is sqlcmd's switch; the NULL markers and the row count keep their own."""
    night = district()
    for row in night["schools.csv"]:
        row["Principal"] = ""
    folder = write_bundle(tmp_path / "b", night, powershell7_export_csv)
    (folder / "schools.csv").write_bytes(sqlcmd_output(night["schools.csv"]))
    store = str(ingested(tmp_path, folder))

    _, text, _ = run(capsys, "--store", store, "check", "--district", "real")
    _, out, _ = run(capsys, "--store", store, "check", "--district", "real", "--format", "json")
    with Store.open(Path(store)) as opened:
        result = run_checks(opened, 1)
    report = findings_fragment(result)[1].splitlines()

    hint = UNDERLINE.format("schools.csv")
    codes = ["invalid-value", "underline-row", "invalid-phone", "invalid-state", "invalid-zip"]
    assert json.loads(out)["groups"] == [
        {"cause": "query-tool/schools.csv", "codes": codes, "count": 1, "findings": 6,
         "severity": "warning", "kind": "query-tool-underline", "hint": hint},
    ]  # fmt: skip
    assert [(f.code, f.field, f.row, f.cause) for f in result.findings] == [
        ("blank-row", None, 4, None),
        ("query-tool-line", None, 5, None),
        ("invalid-value", "High_grade", 1, "query-tool/schools.csv"),
        ("invalid-value", "Low_grade", 1, "query-tool/schools.csv"),
        ("underline-row", "School_id", 1, "query-tool/schools.csv"),
        ("invalid-phone", "School_phone", 1, "query-tool/schools.csv"),
        ("invalid-state", "School_state", 1, "query-tool/schools.csv"),
        ("invalid-zip", "School_zip", 1, "query-tool/schools.csv"),
        ("null-marker", "Principal", 2, None),
    ]
    assert text.splitlines()[2:5] == [
        "fix first (root causes, most records broken first):",
        "  query-tool/schools.csv      1 record  " + ", ".join(codes),
        f"      hint: {hint}",
    ]
    fixed = "      hint: fixed with its root cause query-tool/schools.csv (above)"
    assert text.splitlines().count(fixed) == 5  # each of the line's codes: none of its own
    assert "      hint: Leave it out in the export script (SET NOCOUNT ON) and export again." in (
        text.splitlines()
    )
    assert report[1:3] == [
        "  cause query-tool/schools.csv breaks 1 record (" + ", ".join(codes) + ")",
        f"    what to do: {hint}",
    ]


def test_paged_sqlplus_spools_are_one_root_cause_a_file_and_real_problems_keep_theirs(tmp_path):
    """sections.csv and enrollments.csv spooled a record a page: each later page's heading was
    a section 'Section_id' (unknown school and teacher, then a duplicate ID) and an enrollment
    'Section_id/Student_id' (then a duplicate enrollment). Each file is one group now, with
    SET PAGESIZE 0; the district's own problems in the same files — SEC-3 that no one enrolls
    in, the enrollment of a student S-9 students.csv lacks — keep their own groups."""
    night = district()
    night["sections.csv"].append(dict(night["sections.csv"][1], Section_id="SEC-3"))
    night["enrollments.csv"].append({"School_id": "SCH-2", "Section_id": "SEC-2",
                                     "Student_id": "S-9"})  # fmt: skip
    folder = write_bundle(tmp_path / "b", night, sqlplus_spool)
    for name in ("sections.csv", "enrollments.csv"):
        (folder / name).write_bytes(sqlplus_paged_spool(night[name], 1))
    with ingest_and_check(tmp_path, folder) as (_, store):
        result = run_checks(store, 1)
    caused = [(f.code, f.entity, f.key, f.row, f.cause) for f in result.findings if f.cause]
    groups = [(g.cause, g.codes, g.count, g.findings, g.severity, g.kind) for g in result.groups]
    hints = [g.hint for g in result.groups]
    sections = "query-tool/sections.csv"
    enrollments = "query-tool/enrollments.csv"
    assert caused == [
        ("invalid-value", "sections", "Section_id", 4, sections),
        ("repeated-header", "sections", "Section_id", 4, sections),
        ("invalid-value", "sections", "Section_id", 4, sections),
        ("invalid-date", "sections", "Section_id", 4, sections),
        ("invalid-date", "sections", "Section_id", 4, sections),
        ("repeated-header", "enrollments", "Section_id/Student_id", 4, enrollments),
        # the third page's heading: the record again, not a row of its own
        ("duplicate-id", "sections", "Section_id", 8, sections),
        ("unknown-school", "sections", "Section_id", 4, sections),
        ("section-unknown-teacher", "sections", "Section_id", 4, sections),
        ("unknown-school", "enrollments", "Section_id/Student_id", 4, enrollments),
        # its section 'Section_id' is the other file's heading: no broken link there
        ("enrollment-unknown-student", "enrollments", "Section_id/Student_id", 4, enrollments),
        ("enrollment-unknown-student", "enrollments", "SEC-2/S-9", 14, "students/S-9"),
        ("duplicate-enrollment", "enrollments", "Section_id/Student_id", 8, enrollments),
        ("section-without-students", "sections", "SEC-3", 10, "sections/SEC-3"),
    ]
    assert groups == [
        (sections, ("invalid-value", "repeated-header", "invalid-date", "duplicate-id",
                    "unknown-school", "section-unknown-teacher"), 1, 8, "error",
         "query-tool-header"),
        (enrollments, ("repeated-header", "unknown-school", "enrollment-unknown-student",
                       "duplicate-enrollment"), 1, 4, "error", "query-tool-header"),
        ("students/S-9", ("enrollment-unknown-student",), 1, 1, "error", "missing-record"),
        ("sections/SEC-3", ("section-without-students",), 1, 1, "warning",
         "unreferenced-record"),
    ]  # fmt: skip
    assert hints[:2] == [HEADER_AGAIN.format(name) for name in ("sections.csv", "enrollments.csv")]


def test_a_paged_students_spool_s_heading_is_one_student_and_contact_not_a_real_bad_date(
    tmp_path,
):
    """students.csv holds a student and its contact on each line: the second page's heading is
    both (two records, one group); S-3's date of birth, wrong on a line of its own, is not."""
    night = district()
    night["students.csv"][3]["DOB"] = "13/01/2009"
    folder = write_bundle(tmp_path / "b", night, sqlplus_spool)
    (folder / "students.csv").write_bytes(sqlplus_paged_spool(night["students.csv"], 2))
    with ingest_and_check(tmp_path, folder) as (findings, store):
        groups = [(g.cause, g.count, g.findings, g.kind) for g in run_checks(store, 1).groups]
    assert [(f.code, f.entity, f.key, f.value, f.cause) for f in findings if f.cause] == [
        ("invalid-phone", "contacts", "Student_id/sis_id:Contact_sis_id", "Contact_phone",
         "query-tool/students.csv"),
        ("unlisted-contact-value", "contacts", "Student_id/sis_id:Contact_sis_id",
         "Contact_relationship", "query-tool/students.csv"),
        ("unlisted-contact-value", "contacts", "Student_id/sis_id:Contact_sis_id",
         "Contact_type", "query-tool/students.csv"),
        ("invalid-date", "students", "Student_id", "DOB", "query-tool/students.csv"),
        ("invalid-value", "students", "Student_id", "Frl_status", "query-tool/students.csv"),
        ("invalid-value", "students", "Student_id", "Grade", "query-tool/students.csv"),
        ("invalid-value", "students", "Student_id", "Home_language", "query-tool/students.csv"),
        ("invalid-value", "students", "Student_id", "IEP_status", "query-tool/students.csv"),
        ("repeated-header", "students", "Student_id", "Student_id", "query-tool/students.csv"),
        ("unknown-school", "students", "Student_id", "School_id", "query-tool/students.csv"),
        ("student-without-enrollments", "students", "Student_id", "Student_id",
         "query-tool/students.csv"),
    ]  # fmt: skip
    (bad_date,) = [f for f in findings if f.key == "S-3"]
    assert (bad_date.code, bad_date.row, bad_date.cause) == ("invalid-date", 8, None)
    assert groups == [("query-tool/students.csv", 2, 11, "query-tool-header")]


def sqlcmd_headed_every(rows: Rows, every: int) -> bytes:
    """``sqlcmd -h N`` (-h rows_per_header): the column names and their dashes again every N
    rows (a blank line before each repeat here; what lies between them does not matter to the
    group), then the row count, as :func:`sqlcmd_output`."""
    head = sqlcmd_output(rows).decode("ascii").split("\r\n")[:2]
    lines: list[str] = []
    for start in range(0, len(rows), every):
        lines += [*([""] if lines else []), *head]
        lines += [",".join(row[c] or "NULL" for c in row) for row in rows[start : start + every]]
    lines += ["", f"({len(rows)} rows affected)"]
    return "".join(line + "\r\n" for line in lines).encode("ascii")


def test_sqlcmd_headed_every_n_rows_is_one_group_of_header_and_underline_led_by_the_header(
    tmp_path,
):
    """sqlcmd -h 2 repeats the header and its underline: both read as a student with a contact
    (four records), one group whose hint leaves both out (-h -1, SET PAGESIZE 0) — not the
    underline's alone. The NULLs sqlcmd printed in the real rows keep their own finding."""
    night = district()
    folder = write_bundle(tmp_path / "b", night, powershell7_export_csv)
    (folder / "students.csv").write_bytes(sqlcmd_headed_every(night["students.csv"], 2))
    with ingest_and_check(tmp_path, folder) as (findings, store):
        (group,) = run_checks(store, 1).groups
    assert (group.cause, group.codes, group.count, group.findings, group.kind) == (
        "query-tool/students.csv",
        ("invalid-phone", "unlisted-contact-value", "invalid-date", "invalid-value",
         "underline-row", "repeated-header", "unknown-school", "student-without-enrollments"),
        4,
        22,
        "query-tool-header",
    )  # fmt: skip
    assert group.hint == HEADER_AGAIN.format("students.csv")
    assert sorted({(f.code, f.cause) for f in findings if f.cause != group.cause}) == [
        ("blank-row", None),
        ("null-marker", None),
        ("query-tool-line", None),
    ]
    assert sum(f.count for f in findings if f.code == "null-marker") == 12


# A header row — the header line again, or its underline, read as a record — is not a record:
# the corrected bundle leaves it out, like a row the parser could not read, and says so.
REPEATED = (
    "not a record, so not in the corrected bundle: {} row {} is its header line again "
    "(repeated-header)"
)
UNDERLINE_ROW = (
    "not a record, so not in the corrected bundle: {} row {} is the dashes a query "
    "tool prints under its header (underline-row)"
)
UNPARSED = "not parseable, so not in the corrected bundle: {} row {} is '{}', {}, not a record."


def headed_district(tmp_path: Path) -> Path:
    """students.csv from ``sqlcmd -h 2`` (its header and underline again every two rows, NULLs,
    the row count) and enrollments.csv a SQL*Plus spool of two-row pages (its heading again,
    underlines that do not parse, "4 rows selected."). Two genuine rows look like the lines:
    student S-4 is named Last_name First_name, and an enrollment names student 'Student_id'
    (which only the heading made a student)."""
    night = district()
    night["students.csv"].append(
        dict(
            night["students.csv"][3],
            Student_id="S-4",
            Student_number="1004",
            Last_name="Last_name",
            First_name="First_name",
        )
    )
    night["enrollments.csv"].append({"School_id": "SCH-1", "Section_id": "SEC-1",
                                     "Student_id": "Student_id"})  # fmt: skip
    folder = write_bundle(tmp_path / "b", night, powershell7_export_csv)
    (folder / "students.csv").write_bytes(sqlcmd_headed_every(night["students.csv"], 2))
    (folder / "enrollments.csv").write_bytes(sqlplus_paged_spool(night["enrollments.csv"], 2))
    return folder


def test_the_corrected_bundle_leaves_out_each_header_row_and_logs_it_with_its_records(tmp_path):
    """Every header row read as a record — each of the record 'Student_id''s two rows, not only
    the first its finding shows, and each underline — leaves the corrected bundle with the
    contact on its line; the change log names file, row and why, in file and row order with the
    rows the parser could not read. S-4 and the enrollment of 'Student_id' are kept: that
    enrollment's broken link, hidden by the heading, now remains as an error."""
    folder = headed_district(tmp_path)
    with ingest_and_check(tmp_path, folder) as (findings, store):
        (heading,) = [f for f in findings if f.code == "repeated-header" and f.entity == "students"]
        result = fix_snapshot(store, 1, parse_rules(b"", name="none.toml"), tmp_path / "out")
    out = tmp_path / "out"
    assert (heading.row, heading.rows) == (5, 2)  # its second row, 10, is in finding_rows only
    assert (out / "students.csv").read_bytes().decode().split("\r\n") == [
        "School_id,Student_id,Student_number,Last_name,First_name,Grade,DOB,Frl_status,"
        "IEP_status,Home_language,Contact_type,Contact_relationship,Contact_name,Contact_phone,"
        "Contact_sis_id",
        "SCH-1,S-1,1001,Lee,Ada,Kindergarten,03/14/2020,F,N,Spanish,Parent/Guardian,parent,"
        "Pat Lee,6175550102,C-1",
        "SCH-1,S-1,1001,Lee,Ada,Kindergarten,03/14/2020,F,N,Spanish,emergency,Grandparent,"
        "Sam Lee,NULL,C-2",
        "SCH-2,S-2,1002,Diaz,Bo,10,11/02/2010,R,Y,english,NULL,NULL,NULL,NULL,NULL",
        "SCH-2,S-3,1003,Okafor,Cy,12,01/30/2009,N,N,NULL,NULL,NULL,NULL,NULL,NULL",
        "SCH-2,S-4,1004,Last_name,First_name,12,01/30/2009,N,N,NULL,NULL,NULL,NULL,NULL,NULL",
        "",
    ]  # the NULLs sqlcmd printed are the district's to fix (null-marker), not header rows
    assert (out / "enrollments.csv").read_bytes().decode().split("\r\n") == [
        "School_id,Section_id,Student_id",
        "SCH-1,SEC-1,S-1",
        "SCH-2,SEC-2,S-2",
        "SCH-2,SEC-2,S-3",
        "SCH-1,SEC-1,Student_id",
        "",
    ]

    def dropped(entity: str, key: str, reason: str) -> str:
        return f'{entity},{key},,dropped,,,,"{reason}"'

    def header_row(row: int) -> list[str]:  # the student, and the contact on its line
        reason = REPEATED.format("students.csv", row)
        return [dropped("students", "Student_id", reason),
                dropped("contacts", "Student_id/sis_id:Contact_sis_id", reason)]  # fmt: skip

    def underline_row(row: int) -> list[str]:  # changes.csv keeps a leading '-' from formulas
        reason = UNDERLINE_ROW.format("students.csv", row)
        return [dropped("students", "'----------", reason),
                dropped("contacts", "'----------/sis_id:--------------", reason)]  # fmt: skip

    dashes = ("-" * 31, "the dashes a query tool prints under the column names")
    sqlcmd_count = ("(5 rows affected)", "the row count sqlcmd prints after the rows")
    sqlplus_count = ("4 rows selected.", "the row count SQL*Plus prints after the rows")
    assert (out / "changes.csv").read_text().splitlines() == [
        "entity,key,field,change,old,new,rule,reason",
        *underline_row(1), *header_row(5), *underline_row(6), *header_row(10), *underline_row(11),
        dropped("students", "", UNPARSED.format("students.csv", 14, *sqlcmd_count)),
        dropped("enrollments", "", UNPARSED.format("enrollments.csv", 1, *dashes)),
        dropped("enrollments", "Section_id/Student_id", REPEATED.format("enrollments.csv", 5)),
        dropped("enrollments", "", UNPARSED.format("enrollments.csv", 6, *dashes)),
        dropped("enrollments", "", UNPARSED.format("enrollments.csv", 10, *sqlplus_count)),
    ]  # fmt: skip
    assert (result.header_rows, result.unparseable_rows, result.changes) == (6, 4, 15)
    assert result.manifest()["changes"] == {
        "file": "changes.csv", "rows": 15, "unparseable_rows": 4, "header_rows": 6,
    }  # fmt: skip
    assert [(f.code, f.key, f.row) for f in result.remaining] == [
        ("enrollment-unknown-student", "SEC-1/Student_id", 4)
    ]
    # C-1, C-2 and the three lines whose contact columns sqlcmd filled with NULL
    assert (result.entity_rows["students"], result.entity_rows["contacts"]) == (4, 5)
    assert not {"repeated-header", "underline-row", "query-tool-line"} & set(
        result.after["by_code"]
    )


def test_a_corrected_bundle_without_its_header_rows_re_ingests_and_fix_says_how_many(
    tmp_path, capsys
):
    """``fix`` counts the header rows it left out beside the unparseable ones; the corrected
    bundle, ingested as a district of its own, is its records only: no header row, no line a
    query tool printed, and 'Student_id' no longer a student."""
    store = str(ingested(tmp_path, headed_district(tmp_path)))
    rules = tmp_path / "none.toml"
    rules.write_text("")
    out = tmp_path / "out"
    _, text, _ = run(capsys, "--store", store, "fix", "--district", "real", "--rules",
                     str(rules), "--out", str(out))  # fmt: skip
    assert text.splitlines()[1:3] == [
        "  4 unparseable rows left out (in changes.csv)",
        "  6 header rows left out (the header line again, or its underline, read as a record; in "
        "changes.csv)",
    ]
    _, text, _ = run(capsys, "--store", store, "fix", "--district", "real", "--rules",
                     str(rules), "--out", str(tmp_path / "again"), "--format", "json")  # fmt: skip
    assert json.loads(text)["changes"]["header_rows"] == 6
    (tmp_path / "fresh").mkdir()
    with ingest_and_check(tmp_path / "fresh", out) as (found, fresh):
        students = sorted(set(fresh.entity_frame(1, "students")["Student_id"]))
    assert students == ["S-1", "S-2", "S-3", "S-4"]
    assert [(f.code, f.key, f.field) for f in found if f.severity != "info"] == [
        # the NULLs sqlcmd printed, one finding a column (the district's to fix)
        *(("null-marker", None, field) for field in ("Contact_phone", "Contact_name",
          "Contact_relationship", "Contact_sis_id", "Contact_type", "Home_language")),
        ("enrollment-unknown-student", "SEC-1/Student_id", "Student_id"),
    ]  # fmt: skip


def test_a_rule_for_the_header_rows_finds_none_left_and_says_why(tmp_path):
    """A district's rules written before: ``drop`` of the heading's record and a ``set`` while
    the underline is there. The header rows are gone before any rule, so each changes nothing
    and says so, instead of a silent 0."""
    rules = parse_rules(
        b'[[rules]]\nop = "drop"\nentity = "students"\ncode = "repeated-header"\n'
        b'reason = "SQL*Plus pages"\n\n'
        b'[[rules]]\nop = "set"\nentity = "students"\nfield = "Grade"\nvalue = "12"\n'
        b'when = "underline-row"\nreason = "sqlcmd underline"\n',
        name="real.rules.toml",
    )
    with ingest_and_check(tmp_path, headed_district(tmp_path)) as (_, store):
        result = fix_snapshot(store, 1, rules, tmp_path / "out")
    assert [(o.op, o.changes, o.notes) for o in result.outcomes] == [
        ("drop", 0, ("the rows carrying repeated-header are header rows, left out of the "
                     "corrected bundle before any rule: none is left for this rule",)),
        ("set", 0, ("the rows carrying underline-row are header rows, left out of the "
                    "corrected bundle before any rule: none is left for this rule",)),
    ]  # fmt: skip
    assert (result.header_rows, result.changes) == (6, 15)


def test_a_query_tool_line_s_cause_reaches_only_the_records_the_line_made():
    """Two headings read as students (students.csv rows 4 and 9, in two cases: parts of two
    tools joined) and the contact on row 4. A finding joins their group when it is of those
    records — on their line, of their key, naming one as its cause — or, counting several
    records, when every one is theirs. A record whose key is another column's name (student
    'Grade'), the same key in another file (teacher 'Student_id', on its row 4) or a finding with
    no row (a predicted hold) is the district's own, and keeps its cause."""
    found = [
        finding("repeated-header", entity="students", key="Student_id", field="Student_id",
                value="Student_id", row=4, file="students.csv"),
        finding("repeated-header", entity="students", key="STUDENT_ID", field="Student_id",
                value="STUDENT_ID", row=9, file="students.csv"),
        finding("incomplete-contact", entity="contacts",
                key="Student_id/sis_id:Contact_sis_id", field="Contact_name", row=4),
        finding("enrollment-unknown-student", entity="enrollments", key="SEC-1/STUDENT_ID",
                field="Student_id", value="STUDENT_ID", row=2, cause="students/STUDENT_ID"),
        # the same column name in both headings: two records, both the lines'
        finding("invalid-date", entity="students", field="DOB", value="DOB", row=4, count=2,
                sample_keys=("Student_id", "STUDENT_ID")),
        finding("incomplete-contact", entity="contacts", field="Contact_name", row=4, count=2,
                rows=2, sample_keys=("Student_id/sis_id:Contact_sis_id", "S-1/sis_id:C-1")),
        finding("invalid-value", entity="students", field="Grade", value="Grade", row=4,
                count=2, sample_keys=("Student_id", "Grade")),
        finding("invalid-date", entity="students", key="Grade", field="DOB", value="1/1/09",
                row=6),
        finding("invalid-email", entity="teachers", key="Student_id", field="Teacher_email",
                value="x", row=4),
        finding("enrollment-unknown-student", entity="enrollments", key="SEC-1/S-9",
                field="Student_id", value="S-9", row=3, cause="students/S-9"),
        finding("hold-mass-deletion", entity="students", value="3", ratio=0.5, threshold=0.2,
                total=6),
    ]  # fmt: skip
    assert [f.cause for f in root_causes(found)] == [
        "query-tool/students.csv",
        "query-tool/students.csv",
        "query-tool/students.csv",
        "query-tool/students.csv",
        "query-tool/students.csv",
        None,  # a contact of the line's and C-1 of S-1's: not only the line's
        None,  # Grade 'Grade' of the heading and of student 'Grade'
        None,
        None,
        "students/S-9",
        None,
    ]


def mysql_into_outfile(rows: Rows) -> bytes:
    """MySQL ``SELECT … INTO OUTFILE … FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"'
    ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'`` (boyter/boyter.org
    content/posts/2011-02-14-mysql-export-csv.md), the header a ``SELECT 'School_id', …
    UNION ALL`` before the rows: every string quoted, and NULL — an empty value here, as a
    LEFT JOIN to contacts leaves a student without one — written ``\\N`` unquoted ("NULL is
    represented by the \\N sequence", MySQL Reference Manual, null-values.html)."""

    def cell(value: str) -> str:
        return '"' + value.replace('"', '\\"') + '"' if value else "\\N"

    lines = [",".join(map(cell, row)) for row in [list(rows[0]), *map(dict.values, rows)]]
    return "".join(line + "\n" for line in lines).encode()


def test_mysql_s_null_sequence_is_found_where_clever_reads_it_as_text(tmp_path):
    """\\N passed unnoticed in every free-text contact column: Clever would read a contact
    named '\\N' (sis_id '\\N') for each student without one. Each column is one finding."""
    folder = write_bundle(tmp_path / "b", district(), mysql_into_outfile)
    assert (folder / "students.csv").read_bytes().splitlines()[4] == (
        b'"SCH-2","S-3","1003","Okafor","Cy","12","01/30/2009","N","N",\\N,\\N,\\N,\\N,\\N,\\N'
    )
    with ingest_and_check(tmp_path, folder) as (findings, store):
        found = [(f.code, f.entity, f.field, f.value, f.count) for f in findings
                 if f.severity != "info"]  # fmt: skip
        (language,) = [f for f in findings if f.field == "Home_language"]
        snapshot = store.snapshots("real")[-1]
        contacts, values = store.entity_in(snapshot, "contacts")
        stored = store.rows(f"SELECT key FROM {contacts} ORDER BY key", values)
    assert found == [
        ("null-marker", "contacts", "Contact_phone", "\\N", 3),
        ("null-marker", "contacts", "Contact_name", "\\N", 2),
        ("null-marker", "contacts", "Contact_relationship", "\\N", 2),
        ("null-marker", "contacts", "Contact_sis_id", "\\N", 2),
        ("null-marker", "contacts", "Contact_type", "\\N", 2),
        ("null-marker", "students", "Home_language", "\\N", 1),
    ]
    assert language.message == (
        "students S-3: Home_language is '\\N', a database NULL written as text; Clever reads "
        "the text."
    )
    assert language.hint == (
        "Write NULL as an empty value: wrap the column in COALESCE(…, '') in the export's query "
        "(MySQL's INTO OUTFILE writes \\N, or NULL with ESCAPED BY ''; sqlcmd prints NULL)."
    )
    # what Clever would read: a contact '\N' for S-2 and S-3
    assert [key for (key,) in stored] == [
        "S-1/sis_id:C-1", "S-1/sis_id:C-2", "S-2/sis_id:\\N", "S-3/sis_id:\\N"
    ]  # fmt: skip


def excel_csv_utf8(rows: Rows) -> bytes:
    """Excel's "CSV UTF-8 (Comma delimited)" save: UTF-8 with a byte-order mark, CRLF, quotes
    only where a value needs them (donatstudios.com/CSV-An-Encoding-Nightmare, from a company
    importing SIS exports: Excel "will only reliably load a UTF-8 CSV if a UTF-8 BOM is in
    place", so districts keep it)."""
    lines = [",".join(map(_minimal, row)) for row in [list(rows[0]), *map(dict.values, rows)]]
    return codecs.BOM_UTF8 + "".join(line + "\r\n" for line in lines).encode()


def test_excel_csv_utf8_is_read_whole_with_one_byte_order_mark_warning_a_file(tmp_path):
    """The mark is not read into the first header (School_id matches, every row is kept) and
    the letters arrive as written; the only finding is the mark itself, once a file (ours:
    v2.1.1 asks for UTF-8 and does not say whether its reader skips a mark)."""
    night = district()
    night["students.csv"][3]["First_name"] = "Zoë"
    with ingest_and_check(tmp_path, write_bundle(tmp_path / "b", night, excel_csv_utf8)) as (
        findings,
        store,
    ):
        assert summary(findings) == [
            ("bom-present", entity, None, None)
            for entity in ("enrollments", "schools", "sections", "staff", "students", "teachers")
        ]
        names = store.entity_frame(1, "students").sort("Student_id")["First_name"].to_list()
        schools = store.entity_frame(1, "schools")["School_id"].to_list()
    assert names == ["Ada", "Bo", "Zoë"]
    assert sorted(schools) == ["SCH-1", "SCH-2"]


def test_genders_spelled_out_get_their_letter_and_v2_1_1_s_letters_pass(tmp_path):
    """An SIS's gender description exported instead of its code (Male, Female): the hint names
    the letter v2.1.1 takes (M, F, X), where it said "Use one of M, F, X."; X raises nothing."""
    night = district()
    for row, gender in zip(night["students.csv"], ("Female", "Female", "Male", "X"), strict=True):
        row["Gender"] = gender
    with ingest_and_check(
        tmp_path, write_bundle(tmp_path / "b", night, powershell7_export_csv)
    ) as run:
        findings, _ = run
    assert [(f.code, f.key, f.value, f.hint) for f in findings if f.severity != "info"] == [
        ("invalid-value", "S-1", "Female", "Use F."),
        ("invalid-value", "S-2", "Male", "Use M."),
    ]
