"""Checks on synthetic districts: each named incident shows up as its documented findings.

The incidents' own results (``IncidentResult``: keys, related IDs, data rows) are the oracle, so
every assertion is exact. Districts here have no churn: night 2 differs from night 1 only by the
incident.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from rosterlab import spec
from rosterlab.bundle import open_bundle
from rosterlab.checks import CheckResult, run_checks
from rosterlab.cli import main
from rosterlab.store import Store, ingest_bundle
from rosterlab.synth import District, IncidentResult, Night, generate_district, write_night
from rosterlab.synth.samples import SAMPLES, write_samples
from tests.test_checks import found

ROOT = Path(__file__).resolve().parent.parent


def night_with(
    tmp_path: Path, incident: str, *, night: int = 2, churn: float = 0.0
) -> tuple[CheckResult, IncidentResult, District]:
    """Ingest nights 1..``night`` of a small district with ``incident`` on the last; check it."""
    district = generate_district(
        "synth", students=60, seed=3, churn=churn, class_size=28, incidents={night: [incident]}
    )
    with Store.open(tmp_path / "store.duckdb") as store:
        for k in range(1, night + 1):
            tonight = district.night(k)
            write_night(tonight, tmp_path / tonight.folder)
            with open_bundle(tmp_path / tonight.folder) as bundle:
                ingested = ingest_bundle(store, bundle, district="synth", taken_at=tonight.taken_at)
        (result,) = tonight.results
        return run_checks(store, ingested.snapshot.id), result, district


def of_code(result: CheckResult, *codes: str) -> list[tuple[object, ...]]:
    return [f for f in found(result) if f[0] in codes]


def as_records(rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Expected row-level findings (code, entity, key, field, value, row, cause) as the checks
    count them: one per record (its first row), and for a code the catalogue aggregates one per
    value of a column that several records share (no key, the first row)."""
    first: dict[tuple[Any, ...], Any] = {}
    for code, entity, key, field, value, row, cause in rows:
        record = (code, entity, key, field, value, cause)
        kept = first.get(record, row)
        first[record] = row if kept is None or row is None else min(row, kept)
    groups: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    for (code, entity, key, field, value, cause), row in first.items():
        group = (code, entity, field, value, cause)
        if not spec.CATALOGUE[code].many:
            group += (key,)
        groups.setdefault(group, []).append((code, entity, key, field, value, row, cause))
    out = []
    for records in groups.values():
        code, entity, key, field, value, row, cause = min(records, key=lambda r: r[5] or 0)
        out.append((code, entity, key if len(records) == 1 else None, field, value, row, cause))
    return sorted(out, key=lambda f: (f[5] or 0, f[3] or "", f[0]))


def test_a_clean_synthetic_history_has_no_errors_or_warnings(tmp_path):
    district = generate_district("clean", students=300, seed=11)
    with Store.open(tmp_path / "store.duckdb") as store:
        summaries = []
        for k in (1, 2, 3):
            night = district.night(k)
            write_night(night, tmp_path / night.folder)
            with open_bundle(tmp_path / night.folder) as bundle:
                snapshot = ingest_bundle(store, bundle, district="clean").snapshot
            summaries.append(run_checks(store, snapshot.id).summary())

    assert [(s["error"], s["warning"]) for s in summaries] == [(0, 0), (0, 0), (0, 0)]
    assert [s["by_code"] for s in summaries] == [{"extension-column": 2}] * 3


def test_orphan_enrollments_group_under_their_missing_section(tmp_path):
    result, incident, _ = night_with(tmp_path, "orphan-enrollments")
    (phantom,) = incident.related
    cause = f"sections/{phantom}"

    assert found(result) == [
        ("enrollment-unknown-section", "enrollments", key, "Section_id", phantom, row, cause)
        for key, row in zip(incident.keys, incident.rows, strict=True)
    ]
    assert [g.to_dict() for g in result.groups] == [
        {
            "cause": cause,
            "codes": ["enrollment-unknown-section"],
            "count": len(incident.keys),
            "findings": len(incident.keys),
            "severity": "error",
            "kind": "missing-record",
            "hint": f"Every record listed points at {phantom}, which sections.csv lacks: add "
            f"{phantom} to sections.csv (an export that ran before the others?) or correct the "
            "references; one change fixes them all.",
        }
    ]


def test_section_missing_teacher(tmp_path):
    result, incident, _ = night_with(tmp_path, "section-missing-teacher")
    (section,), (hire,), (row,) = incident.keys, incident.related, incident.rows

    assert found(result) == [
        (
            "section-unknown-teacher",
            "sections",
            section,
            "Teacher_id",
            hire,
            row,
            f"teachers/{hire}",
        )
    ]


def test_blank_teacher_id(tmp_path):
    result, incident, _ = night_with(tmp_path, "blank-teacher-id")
    (section,), (row,) = incident.keys, incident.rows

    assert found(result) == [("missing-value", "sections", section, "Teacher_id", None, row, None)]


def test_duplicate_ids(tmp_path):
    result, incident, _ = night_with(tmp_path, "duplicate-ids")
    (keeper,) = incident.keys

    assert found(result) == [
        ("duplicate-id", "students", keeper, "Student_id", keeper, row, f"students/{keeper}")
        for row in incident.rows
    ]


def test_shared_staff_id(tmp_path):
    result, incident, district = night_with(tmp_path, "shared-staff-id")
    (keeper,), (other,), (row,) = incident.keys, incident.related, incident.rows
    school = district.night(1).frames["staff.csv"].get_column("School_id")[row - 1]

    assert of_code(result, "shared-staff-id") == [
        ("shared-staff-id", "staff", f"{keeper}/{school}", "Staff_id", keeper, row,
         f"staff/{keeper}")
    ]  # fmt: skip
    # The diff sees the other staff member's old key vanish and the shared one appear.
    assert of_code(result, "id-rekeyed") == [
        ("id-rekeyed", "staff", f"{keeper}/{school}", None, f"{other}/{school}", None, None)
    ]


def _school_rows(night: Night, number: str) -> list[tuple[object, ...]]:
    """Every row outside schools.csv whose School_id is ``number``, as expected findings."""
    expected = []
    for file, frame in night.frames.items():
        entity = spec.ENTITIES[spec.entity_of_file(file)]
        if entity.name == "schools":
            continue
        rows = frame.with_row_index("_row", offset=1).filter(pl.col("School_id") == number)
        for record in rows.iter_rows(named=True):
            key = spec.KEY_SEPARATOR.join(record[k] for k in entity.key)
            expected.append(
                ("school-id-is-number", entity.name, key, "School_id", number, record["_row"],
                 f"schools/{number}")
            )  # fmt: skip
    return expected


def test_school_id_is_number(tmp_path):
    result, incident, district = night_with(tmp_path, "school-id-is-number")
    (number,) = incident.related
    expected = _school_rows(district.night(2), number)

    assert sorted(of_code(result, "school-id-is-number", "unknown-school")) == sorted(
        as_records(expected)
    )
    # the teachers and staff re-keyed by the school number share its cause: one root cause
    rekeyed = [f for f in result.findings if f.code == "id-rekeyed"]
    assert rekeyed and {f.cause for f in rekeyed} == {f"schools/{number}"}
    (group,) = result.groups
    assert (group.cause, group.codes, group.findings) == (
        f"schools/{number}",
        ("school-id-is-number", "id-rekeyed"),
        len(as_records(expected)) + len(rekeyed),
    )
    # one hint for the whole group, instead of "restore T-…" per re-key
    assert group.kind == "school-number-as-id"
    assert group.hint == (
        f"One export mistake breaks every record listed: {number} is a school's School_number, "
        "sent where its School_id belongs. Correct the export's School_id column and they are "
        "all right again, re-keys included; do not restore records one by one."
    )


def _changed_cells(before: pl.DataFrame, after: pl.DataFrame, columns: Sequence[str]):
    """(row, column, new value) of every cell that differs, in row then column order."""
    changed = []
    for column in columns:
        differs = before.get_column(column).ne_missing(after.get_column(column))
        for index in differs.arg_true():
            changed.append((int(index) + 1, column, after.get_column(column)[int(index)]))
    return sorted(changed)


def test_excel_damage(tmp_path):
    result, incident, district = night_with(tmp_path, "excel-damage")
    before = district.night(1).frames["students.csv"]
    after = district.night(2).frames["students.csv"]
    damaged = _changed_cells(before, after, ["State_id", "DOB", "Student_zip"])

    assert of_code(result, "excel-damage") == as_records([
        ("excel-damage", "students", after.get_column("Student_id")[row - 1], column, value, row,
         "excel-round-trip/students.csv")
        for row, column, value in damaged
    ])  # fmt: skip
    # Student_number lost its leading zeros: no single cell shows it, the column's shape does.
    assert [(f[3], f[4]) for f in of_code(result, "format-shift")] == [
        ("Student_number", "999"),
        ("State_id", "9.99999A+99"),
        ("DOB", "9/99/99"),
        ("Student_zip", "9999"),
    ]
    assert set(incident.related) == {"Student_number", "State_id", "DOB", "Student_zip"}
    (group,) = result.groups
    assert (group.cause, group.codes, group.kind) == (
        "excel-round-trip/students.csv",
        ("excel-damage", "format-shift"),
        "excel-round-trip",
    )
    assert group.hint == (
        "students.csv was opened and saved in a spreadsheet, which rewrote the values listed (and "
        "the formats that shifted with them). Export it again straight from the SIS, or format "
        "every column as Text before saving; do not correct values one by one."
    )


def test_grade_format_shift(tmp_path):
    result, incident, district = night_with(tmp_path, "grade-format-shift")
    before = district.night(1).frames["students.csv"]
    after = district.night(2).frames["students.csv"]
    padded = _changed_cells(before, after, ["Grade"])

    assert of_code(result, "invalid-value") == as_records([
        ("invalid-value", "students", after.get_column("Student_id")[row - 1], "Grade", value,
         row, None)
        for row, _, value in padded
    ])  # fmt: skip
    assert of_code(result, "format-shift") == [
        ("format-shift", "students", None, "Grade", "99", None, None)
    ]
    shift = next(f for f in result.findings if f.code == "format-shift")
    assert shift.message == "students.csv Grade changed format from 9 to 99."
    assert {f.hint for f in result.findings if f.code == "invalid-value"} == {
        f"Use {int(value)}." for _, _, value in padded
    }
    assert incident.related == ("Grade",)


def test_dropped_column(tmp_path):
    result, incident, _ = night_with(tmp_path, "dropped-column")

    assert found(result) == [
        ("column-dropped", "students", None, "Student_email", None, None, None),
        ("hold-mass-update", "students", None, None, "60", None, None),
    ]
    assert incident.related == ("Student_email",)


def test_added_ext_column(tmp_path):
    result, incident, _ = night_with(tmp_path, "added-ext-column")

    assert found(result) == [
        ("column-added", "students", None, incident.related[0], None, None, None),
        ("hold-mass-update", "students", None, None, "60", None, None),
    ]
    assert "ext.bus_route" in [f.value for f in result.findings if f.code == "extension-column"]


def test_misspelled_header_is_one_finding_not_a_dropped_and_an_added_column(tmp_path):
    result, _, _ = night_with(tmp_path, "misspelled-header")

    assert of_code(result, "column-dropped", "column-added") == []
    assert [(f.field, f.value) for f in result.findings if f.code == "misspelled-column"] == [
        ("IEP_status", "IEPstatus")
    ]


def test_rekeyed_teacher(tmp_path):
    result, incident, district = night_with(tmp_path, "rekeyed-teacher")
    (old,), (new,) = incident.keys, incident.related
    teachers = district.night(1).frames["teachers.csv"]
    schools = teachers.filter(pl.col("Teacher_id") == old).get_column("School_id").to_list()

    assert of_code(result, "id-rekeyed") == [
        ("id-rekeyed", "teachers", f"{new}/{school}", None, f"{old}/{school}", None, None)
        for school in schools
    ]


def test_term_rollover(tmp_path):
    result, incident, _ = night_with(tmp_path, "term-rollover", night=5)
    (term,) = incident.related

    assert of_code(result, "term-rollover") == [
        ("term-rollover", "sections", None, None, term, None, "term-rollover")
    ]
    assert [(g.cause, g.kind) for g in result.groups] == [("term-rollover", "term-rollover")]
    assert result.groups[0].hint == (
        "A term that ended explains these holds: once the new term's sections and enrollments "
        "are in the export, approve the hold in Clever; nothing to undo."
    )


def test_truncated_export(tmp_path):
    result, incident, _ = night_with(tmp_path, "truncated-export")

    assert [(f[0], f[1]) for f in found(result)] == [
        ("hold-mass-deletion", "students"),
        ("hold-mass-deletion", "contacts"),
        ("hold-mass-deletion", "enrollments"),
    ]
    students = next(f for f in result.findings if f.code == "hold-mass-deletion")
    assert students.value == str(len(incident.keys))


# --- the committed sample districts ----------------------------------------------------------


def _documented(result: IncidentResult, first_time: bool) -> list[tuple[object, ...]]:
    """The findings (code, entity, key, field, value, row, cause) a sample README documents."""
    name, keys, related, rows = result.incident, result.keys, result.related, result.rows
    if name == "section-missing-teacher":
        return [("section-unknown-teacher", "sections", keys[0], "Teacher_id", related[0],
                 rows[0], f"teachers/{related[0]}")]  # fmt: skip
    if name == "orphan-enrollments":
        return [("enrollment-unknown-section", "enrollments", k, "Section_id", related[0], r,
                 f"sections/{related[0]}") for k, r in zip(keys, rows, strict=True)]  # fmt: skip
    if name == "dropped-column":
        return [("column-dropped", "students", None, related[0], None, None, None)] * first_time
    if name == "added-ext-column":
        return [("column-added", "students", None, related[0], None, None, None)] * first_time
    if name == "duplicate-ids":
        return [("duplicate-id", "students", keys[0], "Student_id", keys[0], r,
                 f"students/{keys[0]}") for r in rows]  # fmt: skip
    if name == "blank-teacher-id":
        return [("missing-value", "sections", keys[0], "Teacher_id", None, rows[0], None)]
    if name == "term-rollover":
        return [("term-rollover", "sections", None, None, related[0], None, "term-rollover")]
    return []


def _sample_root(tmp_path: Path) -> Path:
    committed = ROOT / "data" / "samples"
    if (committed / "README.md").exists():
        return committed
    write_samples(tmp_path / "samples")
    return tmp_path / "samples"


@pytest.mark.slow
def test_the_sample_districts_show_their_documented_incidents(tmp_path, capsys):
    root = _sample_root(tmp_path)
    store = tmp_path / "samples.duckdb"
    for sample in SAMPLES:
        assert main(["--store", str(store), "ingest", str(root / sample.district)]) in (0, 1)
    capsys.readouterr()
    with Store.open(store) as opened:
        for sample in SAMPLES:
            district = sample.make()
            seen: set[str] = set()
            for snapshot in opened.snapshots(sample.district):
                night = district.night(snapshot.seq)
                assert snapshot.taken_at.date() == date.fromisoformat(night.folder)
                result = run_checks(opened, snapshot.id)
                codes = {f.code for f in result.findings}
                expected = []
                for incident in night.results:
                    expected += _documented(incident, incident.incident not in seen)
                    seen.add(incident.incident)
                    if incident.incident == "grade-format-shift":
                        assert "format-shift" in codes and "invalid-value" in codes
                    if incident.incident == "excel-damage":
                        assert "excel-damage" in codes
                    if incident.incident == "truncated-export":
                        assert "hold-mass-deletion" in codes
                    if incident.incident == "rekeyed-teacher":
                        assert "id-rekeyed" in codes
                    if incident.incident == "shared-staff-id":
                        assert "shared-staff-id" in codes
                    if incident.incident == "school-id-is-number":
                        assert "school-id-is-number" in codes and "unknown-school" not in codes
                actual = found(result)
                missing = [e for e in as_records(expected) if e not in actual]
                assert missing == [], (sample.district, night.number)
