"""rosterlab.synth: deterministic districts, churn, named incidents, writing, the samples."""

from __future__ import annotations

import csv
import io
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from rosterlab import spec
from rosterlab.synth import (
    INCIDENTS,
    District,
    IncidentContext,
    Night,
    generate_district,
    write_night,
)
from rosterlab.synth.__main__ import main
from rosterlab.synth.samples import write_samples

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
STUDENTS, TEACHERS, SECTIONS, ENROLLMENTS, STAFF = (
    spec.ENTITIES[e].file for e in ("students", "teachers", "sections", "enrollments", "staff")
)
# The generator sends every student column but Password (districts omit columns they don't use).
CONTACT_COLUMNS = [f.name for f in spec.ENTITIES["contacts"].fields if f.name != "Student_id"]
STUDENT_COLUMNS = [f.name for f in spec.ENTITIES["students"].fields if f.name != "Password"]


def tiny(name: str, **kw: Any) -> District:
    """A 40-student district (3 schools, 30 sections) named after what it tests."""
    return generate_district(name, students=40, seed=5, class_size=28, **kw)


def incident_night(name: str, k: int = 2) -> tuple[District, Night]:
    district = tiny(name, incidents={k: [name]})
    return district, district.night(k)


def column(night: Night, file: str, name: str) -> list[str | None]:
    return night.frames[file].get_column(name).to_list()


def read_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


# --- determinism and sizes -------------------------------------------------------------------


def test_same_seed_writes_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    for run in ("a", "b"):
        district = generate_district("twins", students=60, seed=1, churn=0.05)
        for night in (1, 2, 3):
            write_night(district.night(night), tmp_path / run / str(night))
    other = generate_district("twins", students=60, seed=2, churn=0.05)
    write_night(other.night(1), tmp_path / "c" / "1")
    written = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.csv"))
    assert len(written) == 18
    for path in written:
        assert (tmp_path / "a" / path).read_bytes() == (tmp_path / "b" / path).read_bytes()
    assert (tmp_path / "a/1" / STUDENTS).read_bytes() != (tmp_path / "c/1" / STUDENTS).read_bytes()


def test_row_counts_of_a_small_configuration() -> None:
    night = generate_district("sizes", students=60, seed=1, class_size=28).night(1)
    rows = {name: frame.height for name, frame in night.frames.items()}
    # 3 schools × 10 sections; 3 teachers a school (T-1008 also teaches at a second school); 8
    # enrollments a student; 2 staff a school + 2 district staff listed at every school;
    # students.csv has a row per contact (30 students with 0–1 contacts, 25 with 2, 5 with 3).
    assert rows == {
        "schools.csv": 3,
        STUDENTS: 95,
        TEACHERS: 9,
        SECTIONS: 30,
        ENROLLMENTS: 480,
        STAFF: 12,
    }
    assert night.frames[STUDENTS].get_column("Student_id").n_unique() == 60


def test_default_class_size_is_benchmark_scale() -> None:
    night = generate_district("scale", students=6000, seed=1).night(1)
    assert night.frames["schools.csv"].height == 10
    assert night.frames[SECTIONS].height == 370  # 10 schools × ceil(600 × 8 / 133): ~60 per 1,000
    assert night.frames[ENROLLMENTS].height == 48_000


def test_contact_rows_repeat_identical_student_columns() -> None:
    night = generate_district("siblings", students=60, seed=1, class_size=28).night(1)
    students = night.frames[STUDENTS]
    per_student = students.select(STUDENT_COLUMNS).unique()
    assert per_student.height == 60  # every row of a student carries the same student values
    counts = students.group_by("Student_id").agg(
        pl.len().alias("rows"), pl.col("Contact_name").is_not_null().sum().alias("contacts")
    )
    assert sorted(set(counts.get_column("contacts").to_list())) == [0, 1, 2, 3]
    sis = students.filter(pl.col("Contact_name").is_not_null()).get_column("Contact_sis_id")
    assert 0 < sis.null_count() < sis.len()  # some contacts have a Contact_sis_id, some not


def test_multi_school_teachers_and_co_teachers_exist() -> None:
    night = generate_district("coteach", students=60, seed=1, class_size=28).night(1)
    teachers = night.frames[TEACHERS]
    listed = teachers.filter(pl.col("Teacher_id") == "T-1008")
    assert listed.get_column("School_id").to_list() == ["SCH-003"]  # once, at the home school
    sections = night.frames[SECTIONS]
    taught = sections.filter(pl.col("Teacher_id") == "T-1008").get_column("School_id")
    assert sorted(set(taught)) == ["SCH-001", "SCH-003"]
    co = sections.filter(pl.col("Teacher_2_id").is_not_null())
    assert co.select("Section_id", "Teacher_id", "Teacher_2_id", "Teacher_3_id").rows() == [
        ("SEC-1004", "T-1008", "T-1001", None),
        ("SEC-1012", "T-1005", "T-1006", "T-1004"),
        ("SEC-1020", "T-1004", "T-1005", None),
        ("SEC-1028", "T-1008", "T-1009", None),
    ]


def test_school_number_differs_from_school_id() -> None:
    schools = generate_district("numbers", students=60, seed=1).night(1).frames["schools.csv"]
    assert schools.select("School_id", "School_number").rows() == [
        ("SCH-001", "00037"),
        ("SCH-002", "00054"),
        ("SCH-003", "00071"),
    ]


# --- writing ----------------------------------------------------------------------------------


def test_written_files_keep_leading_zeros_exact_headers_and_mtime(tmp_path: Path) -> None:
    night = generate_district("zeros", students=60, seed=1, class_size=28).night(1)
    paths = write_night(night, tmp_path)
    assert [p.name for p in paths] == sorted(night.frames)
    raw = (tmp_path / STUDENTS).read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and b"\r\n" not in raw and b'""' not in raw
    header, first = raw.decode().splitlines()[:2]
    assert header.split(",") == [*STUDENT_COLUMNS, *CONTACT_COLUMNS, "ext.homeroom"]
    assert first == (
        "SCH-001,S-100001,0000123,100000012345,Lee,,James,1,M,06/08/2020,2038,W,Y,Spanish,N,"
        "N,N,750 School Street,Cedar Falls,MA,01760,jlee100001@students.zeros.example.org,"
        "jlee100001,,,Parent,Primary,Lily Singh,5085558305,Cell,lily.singh0@mail.example.com,,"
        "Room 140"
    )
    for path in paths:
        names = read_rows(path)[0]
        spec_names = {f.name for f in spec.file_columns(path.name)}
        assert all(n in spec_names or n.startswith(spec.EXTENSION_PREFIX) for n in names)
        assert os.stat(path).st_mtime == datetime(2026, 9, 1, 2, tzinfo=UTC).timestamp()


def test_crlf_districts_write_crlf(tmp_path: Path) -> None:
    night = generate_district("windows", students=20, seed=1, newline="\r\n").night(1)
    write_night(night, tmp_path)
    raw = (tmp_path / ENROLLMENTS).read_bytes()
    assert raw.count(b"\r\n") == raw.count(b"\n") == night.frames[ENROLLMENTS].height + 1


# --- churn -----------------------------------------------------------------------------------


def test_churn_between_nights_is_small_and_exact() -> None:
    district = generate_district("churn", students=1000, seed=1)
    before = district.night(1).frames
    after = district.night(2).frames
    churn = district.churn_of(2)
    assert churn is not None
    assert churn.students_removed == ("S-100948", "S-100240", "S-100801")
    assert churn.students_added == ("S-101001", "S-101002", "S-101003")
    assert len(churn.students_changed) == 4 and churn.enrollments_moved == 2
    ids_before = set(before[STUDENTS].get_column("Student_id"))
    ids_after = set(after[STUDENTS].get_column("Student_id"))
    assert ids_before - ids_after == set(churn.students_removed)
    assert ids_after - ids_before == set(churn.students_added)
    old = before[STUDENTS].select(STUDENT_COLUMNS).unique()
    new = after[STUDENTS].select(STUDENT_COLUMNS).unique()
    changed = new.join(old, on=STUDENT_COLUMNS, how="anti", nulls_equal=True)
    edited = set(changed.get_column("Student_id"))
    assert edited == set(churn.students_changed) | set(churn.students_added)
    pairs = ["Section_id", "Student_id"]
    dropped = before[ENROLLMENTS].join(after[ENROLLMENTS], on=pairs, how="anti").height
    added = after[ENROLLMENTS].join(before[ENROLLMENTS], on=pairs, how="anti").height
    assert (dropped, added) == (3 * 8 + 2, 3 * 8 + 2)  # removed/added students + moves
    assert after[ENROLLMENTS].height == 8000


def test_night_k_is_the_same_in_order_or_on_its_own() -> None:
    walked = generate_district("walk", students=60, seed=3, churn=0.05)
    for k in (1, 2, 3):
        in_order = walked.night(k)
    alone = generate_district("walk", students=60, seed=3, churn=0.05).night(3)
    for name, frame in alone.frames.items():
        assert frame.equals(in_order.frames[name])


# --- incidents -------------------------------------------------------------------------------


def test_orphan_enrollments_point_at_a_missing_section() -> None:
    _, night = incident_night("orphan-enrollments")
    result = night.results[0]
    assert result.keys == ("SEC-1031/S-100002", "SEC-1031/S-100029", "SEC-1031/S-100032")
    assert result.related == ("SEC-1031",) and result.rows == (321, 322, 323)
    assert "SEC-1031" not in column(night, SECTIONS, "Section_id")
    tail = night.frames[ENROLLMENTS].tail(3)
    assert tail.get_column("Section_id").to_list() == ["SEC-1031"] * 3


def test_section_missing_teacher_is_hired_the_next_night() -> None:
    district, night = incident_night("section-missing-teacher")
    assert (night.results[0].keys, night.results[0].related) == (("SEC-1011",), ("T-1010",))
    sections = night.frames[SECTIONS].filter(pl.col("Section_id") == "SEC-1011")
    assert sections.get_column("Teacher_id").to_list() == ["T-1010"]
    assert "T-1010" not in column(night, TEACHERS, "Teacher_id")
    tomorrow = district.night(3)
    hire = tomorrow.frames[TEACHERS].filter(pl.col("Teacher_id") == "T-1010")
    assert hire.select("School_id", "First_name", "Last_name").rows() == [
        ("SCH-002", "Joshua", "Russell")
    ]


def test_dropped_and_added_columns() -> None:
    _, dropped = incident_night("dropped-column")
    assert "Student_email" not in dropped.frames[STUDENTS].columns
    _, added = incident_night("added-ext-column")
    routes = added.frames[STUDENTS].select("Student_id", "ext.bus_route").unique()
    assert routes.height == 40  # one route per student, repeated on contact rows
    assert routes.sort("Student_id").row(0) == ("S-100001", "Route 18")


def test_grade_format_shift_pads_grades_one_to_nine() -> None:
    _, night = incident_night("grade-format-shift")
    result = night.results[0]
    assert len(result.keys) == 29 and result.keys[:3] == ("S-100001", "S-100002", "S-100004")
    grades = set(column(night, STUDENTS, "Grade"))
    assert grades & {"1", "9"} == set() and {"01", "09", "10"} <= grades


def test_excel_damage_rewrites_ids_zips_and_dates(tmp_path: Path) -> None:
    _, night = incident_night("excel-damage")
    assert night.results[0].related == ("Student_number", "State_id", "DOB", "Student_zip")
    assert len(night.results[0].keys) == 40
    write_night(night, tmp_path)
    header, *rows = read_rows(tmp_path / STUDENTS)
    first = dict(zip(header, rows[0], strict=True))
    assert (first["Student_number"], first["State_id"], first["Student_zip"], first["DOB"]) == (
        "123",
        "1E+11",
        "1742",
        "6/2/16",
    )


def test_excel_shows_long_ids_with_six_significant_digits() -> None:
    ids = ["123456789012", "100000012345", "999999500000", "123450000000", "S-100001", "0042"]
    frames = {STUDENTS: pl.DataFrame({"Student_id": [f"S-{i}" for i in range(6)], "State_id": ids})}
    ctx = IncidentContext("excel", 1, datetime(2026, 9, 1, 2, tzinfo=UTC), 0)
    outcome = INCIDENTS["excel-damage"](frames, ctx)
    assert outcome.frames[STUDENTS].get_column("State_id").to_list() == [
        "1.23457E+11",
        "1E+11",
        "1E+12",
        "1.2345E+11",
        "S-100001",
        "42",
    ]
    assert outcome.result.keys == ("S-0", "S-1", "S-2", "S-3", "S-5")


def test_truncated_export_drops_half_the_students_and_their_enrollments() -> None:
    _, night = incident_night("truncated-export")
    gone = night.results[0].keys
    assert len(gone) == 20 and gone[0] == "S-100021" and gone[-1] == "S-100040"
    assert night.frames[STUDENTS].get_column("Student_id").n_unique() == 20
    assert not set(gone) & set(column(night, ENROLLMENTS, "Student_id"))
    assert night.frames[ENROLLMENTS].height == 160


def test_rekeyed_teacher_changes_id_everywhere_and_stays_rekeyed() -> None:
    district, night = incident_night("rekeyed-teacher")
    assert (night.results[0].keys, night.results[0].related) == (("T-1003",), ("T-91003",))
    for n in (night, district.night(3)):
        sections = n.frames[SECTIONS]
        slots = [t for s in spec.TEACHER_SLOTS if s in sections.columns for t in sections[s]]
        assert "T-1003" not in column(n, TEACHERS, "Teacher_id") and "T-1003" not in slots
        assert "T-91003" in slots
    email = night.frames[TEACHERS].filter(pl.col("Teacher_id") == "T-91003")["Teacher_email"]
    assert email.to_list() == ["daniel.johnson3@rekeyedteacher.example.org"]


def test_term_rollover_removes_ended_sections_for_good() -> None:
    district, night = incident_night("term-rollover", k=5)  # 2026-09-05: Summer Bridge ended 09/04
    result = night.results[0]
    assert result.keys == ("SEC-1001", "SEC-1008", "SEC-1015", "SEC-1022", "SEC-1029")
    assert result.related == ("Summer Bridge",)
    assert result.detail == "5 sections of Summer Bridge and 53 enrollments removed"
    for n in (night, district.night(6)):
        assert "Summer Bridge" not in column(n, SECTIONS, "Term_name")
        assert not set(result.keys) & set(column(n, ENROLLMENTS, "Section_id"))
    _, early = incident_night("term-rollover", k=2)  # 2026-09-02: nothing has ended yet
    assert early.results[0].keys == ()


def test_byte_level_incidents(tmp_path: Path) -> None:
    for name, file in (("utf16-file", TEACHERS), ("bom", STUDENTS), ("cp1252-file", STUDENTS)):
        _, night = incident_night(name)
        write_night(night, tmp_path / name)
        raw = (tmp_path / name / file).read_bytes()
        clean = night.frames[file].write_csv(quote_style="necessary").encode()
        if name == "utf16-file":
            assert raw == b"\xff\xfe" + clean.decode().encode("utf-16-le")
        elif name == "bom":
            assert raw == b"\xef\xbb\xbf" + clean
        else:
            assert raw == clean.decode().encode("cp1252") and raw != clean
    _, misnamed = incident_night("misnamed-file")
    names = [p.name for p in write_night(misnamed, tmp_path / "misnamed")]
    assert "students.csv.txt" in names and STUDENTS not in names


def test_unquoted_comma_makes_malformed_rows(tmp_path: Path) -> None:
    _, night = incident_night("unquoted-comma")
    result = night.results[0]
    assert (result.keys, result.related, result.rows) == (
        ("S-100024",),
        ("Foster, Jr.",),
        (36, 37, 38),
    )
    write_night(night, tmp_path)
    rows = read_rows(tmp_path / STUDENTS)
    widths = {i: len(row) for i, row in enumerate(rows[1:], start=1) if len(row) != len(rows[0])}
    assert widths == dict.fromkeys(result.rows, len(rows[0]) + 1)


def test_duplicate_ids_give_two_students_one_id() -> None:
    _, night = incident_night("duplicate-ids")
    result = night.results[0]
    assert (result.keys, result.related, result.rows) == (("S-100001",), ("S-100032",), (46,))
    shared = night.frames[STUDENTS].filter(pl.col("Student_id") == "S-100001")
    assert shared.select("First_name", "Last_name").unique().height == 2
    assert "S-100032" not in column(night, ENROLLMENTS, "Student_id")


def test_reference_incidents() -> None:
    _, staff = incident_night("shared-staff-id")
    people = staff.frames[STAFF].filter(pl.col("Staff_id") == "E-5008")
    assert people.select("School_id", "First_name", "Last_name").unique().height == 2
    _, blank = incident_night("blank-teacher-id")
    assert blank.results[0].keys == ("SEC-1001",)
    assert column(blank, SECTIONS, "Teacher_id")[0] is None
    _, number = incident_night("school-id-is-number")
    assert (number.results[0].keys, number.results[0].related) == (("SCH-003",), ("00071",))
    assert "00071" in column(number, ENROLLMENTS, "School_id")
    assert "SCH-003" not in column(number, STUDENTS, "School_id")
    _, header = incident_night("misspelled-header")
    assert "IEPstatus" in header.frames[STUDENTS].columns
    assert "IEP_status" not in header.frames[STUDENTS].columns


def test_every_incident_is_documented_and_tested() -> None:
    for incident in INCIDENTS.values():
        assert incident.summary and "Clever" in incident.clever
    source = Path(__file__).read_text(encoding="utf-8")
    assert [name for name in INCIDENTS if f'"{name}"' not in source] == []


def test_incidents_that_carry_must_come_first() -> None:
    district = tiny("order", incidents={2: ["bom", "rekeyed-teacher"]})
    district.night(2)  # the bom does not touch the frames: allowed
    wrong = tiny("order", incidents={2: ["orphan-enrollments", "rekeyed-teacher"]})
    with pytest.raises(ValueError, match="schedule rekeyed-teacher before"):
        wrong.night(2)
    with pytest.raises(ValueError, match="unknown incident"):
        tiny("typo", incidents={2: ["orphan-enrolments"]})


def test_incident_parameters_override_defaults() -> None:
    periodless = INCIDENTS["dropped-column"].with_params(file=SECTIONS, column="Period")
    night = tiny("periodless").night(2, [periodless])
    assert "Period" not in night.frames[SECTIONS].columns
    assert "Student_email" in night.frames[STUDENTS].columns
    assert (night.results[0].file, night.results[0].related) == (SECTIONS, ("Period",))


def test_extra_incidents_damage_one_night_only() -> None:
    district = tiny("extra")
    damaged = district.night(2, ["rekeyed-teacher"])
    assert damaged.results[0].keys == ("T-1003",)
    assert "T-1003" in column(district.night(3), TEACHERS, "Teacher_id")


# --- CLI and samples -------------------------------------------------------------------------


def test_cli_writes_one_folder_per_night(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--district", "birch", "--students", "30", "--nights", "2", "--seed", "4"]
    assert main([*argv, "--out", str(tmp_path), "--incident", "2:misnamed-file", "--crlf"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "2026-09-01",
        "2026-09-02",
        "district.toml",
    ]
    assert (tmp_path / "district.toml").read_text() == 'name = "birch"\nsync_type = "sftp"\n'
    assert (tmp_path / "2026-09-02" / "students.csv.txt").exists()
    assert b"\r\n" in (tmp_path / "2026-09-01" / SECTIONS).read_bytes()
    assert capsys.readouterr().out.count("\n") == 2
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--out", str(tmp_path), "--incident", "2:no-such-thing"])
    assert exit_info.value.code == 2


def test_committed_samples_equal_a_fresh_generation(tmp_path: Path) -> None:
    write_samples(tmp_path)
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(p.relative_to(SAMPLES) for p in SAMPLES.rglob("*") if p.is_file())
    assert fresh == committed
    different = [p for p in fresh if (tmp_path / p).read_bytes() != (SAMPLES / p).read_bytes()]
    assert different == [], "regenerate with: python -m rosterlab.synth samples"


def test_samples_tell_their_story() -> None:
    maple = SAMPLES / "maple"
    assert sorted(p.name for p in maple.iterdir() if p.is_dir()) == [
        f"2026-09-0{d}" for d in range(1, 9)
    ]
    assert (maple / "district.toml").read_text() == (
        'name = "Maple Grove Unified School District"\nsync_type = "sftp"\n'
    )
    night3 = read_rows(maple / "2026-09-03" / ENROLLMENTS)
    assert night3[-3:] == [
        ["SCH-002", "SEC-1070", "S-100077"],
        ["SCH-002", "SEC-1070", "S-100098"],
        ["SCH-002", "SEC-1070", "S-100113"],
    ]
    cedar = SAMPLES / "cedar"
    assert (cedar / "2026-09-04" / TEACHERS).read_bytes()[:2] == b"\xff\xfe"
    assert (cedar / "2026-09-02" / STUDENTS).read_bytes()[:3] == b"\xef\xbb\xbf"
    assert (cedar / "2026-09-07" / "students.csv.txt").exists()
    size = sum(p.stat().st_size for p in SAMPLES.rglob("*") if p.is_file())
    assert size < 3_000_000
