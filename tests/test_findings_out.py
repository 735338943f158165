"""Findings a support engineer can hand over: ``check --format csv`` (file, editor line,
spreadsheet-safe values), ``--code/--severity/--entity/--cause`` filters, every distinct hint."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from rosterlab.cli import main
from rosterlab.report.findings_csv import CSV_COLUMNS, spreadsheet_safe
from rosterlab.store import Store
from rosterlab.store.sql import spreadsheet_safe_sql
from tests.cli_run import run
from tests.tiny import tiny_night, write_night

FORMULA = '=HYPERLINK("http://evil.example","click")'
GRADES_HINT = (
    "Use one of InfantToddler, Preschool, PreKindergarten, TransitionalKindergarten, "
    "Kindergarten, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, PostGraduate, Ungraded."
)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """maple, one night: enrollments in SEC-9 (not in sections.csv);
    S-003's grade is a spreadsheet formula; S-002's Gender is Q (another hint than Grade's)."""
    night = tiny_night()
    night["enrollments.csv"] += [["SCH-1", "SEC-9", "S-001"], ["SCH-2", "SEC-9", "S-002"]]
    night["students.csv"][4][5] = FORMULA
    night["students.csv"][0].append("Gender")
    for number, row in enumerate(night["students.csv"][1:], start=1):
        row.append("Q" if number == 3 else "F")
    path = tmp_path / "s.duckdb"
    folder = write_night(tmp_path / "maple-2026-09-01", night)
    assert main(["--store", str(path), "ingest", str(folder), "--district", "maple"]) == 0
    return path


def check(capsys, store: Path, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    return run(capsys, "--store", str(store), "check", "--district", "maple", *argv)


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("\r\nx", "'\r\nx"),
        ("S-001", "S-001"),
        ("a=b", "a=b"),
        ("'=1", "'=1"),
        ("Renée", "Renée"),
        ("", ""),
    ],
)
def test_a_cell_a_spreadsheet_would_run_is_quoted(tmp_path, value: str, safe: str) -> None:
    """The Python rule (findings.csv) and its SQL form (changes.csv) quote the same cells."""
    assert spreadsheet_safe(value) == safe
    with Store.open(tmp_path / "s.duckdb") as store:
        in_sql = store.rows(f"SELECT {spreadsheet_safe_sql('v')} FROM (SELECT ? AS v)", [value])
    assert in_sql == [(safe,)]


def test_the_sql_form_keeps_a_missing_value_missing(tmp_path) -> None:
    with Store.open(tmp_path / "s.duckdb") as store:
        assert store.rows(f"SELECT {spreadsheet_safe_sql('v')} FROM (SELECT NULL AS v)") == [
            (None,)
        ]


def test_check_csv_names_the_file_and_the_editor_line(capsys, store):
    code, out, err = check(capsys, store, "--format", "csv")
    assert (code, err) == (0, "")
    assert out.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(out, newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS
    by_code = {}
    for row in rows[1:]:
        by_code.setdefault(row[6], []).append(dict(zip(CSV_COLUMNS, row, strict=True)))
    assert sorted(by_code) == ["enrollment-unknown-section", "extension-column", "invalid-value"]
    first = by_code["enrollment-unknown-section"][0]
    assert first == {
        "file": "enrollments.csv",
        "line": "5",  # header line 1, three clean rows, then SEC-9/S-001
        "entity": "enrollments",
        "key": "SEC-9/S-001",
        "field": "Section_id",
        "value": "SEC-9",
        "code": "enrollment-unknown-section",
        "severity": "error",
        "message": "enrollment SEC-9/S-001: section 'SEC-9' is not in sections.csv; what Clever "
        "does with the broken link is not stated.",
        "hint": "Add the section to sections.csv or drop its enrollments.",
        "cause": "sections/SEC-9",
        "count": "1",
    }
    formula = [f for f in by_code["invalid-value"] if f["field"] == "Grade"]
    assert [(f["file"], f["line"], f["key"], f["value"]) for f in formula] == [
        ("students.csv", "5", "S-003", "'" + FORMULA)
    ]
    assert formula[0]["message"] == f"students S-003: Grade '{FORMULA}' is not a recognised value."


def test_check_filters_by_code_severity_entity_and_cause(capsys, store):
    code, out, _ = check(capsys, store, "--severity", "error", "--entity", "enrollments")
    assert code == 0
    assert out.splitlines()[0] == (
        "maple snapshot 1 (night 1, 2026-09-01 02:00): 2 errors, 0 warnings, 0 info "
        "(only severity error; entity enrollments)"
    )
    code, out, _ = check(
        capsys, store, "--code", "invalid-value,extension-column", "--format", "csv"
    )
    codes = [row[6] for row in csv.reader(io.StringIO(out, newline=""))][1:]
    assert sorted(codes) == ["extension-column", "invalid-value", "invalid-value"]
    code, out, _ = check(capsys, store, "--cause", "sections/SEC-9", "--format", "csv")
    keys = [row[3] for row in csv.reader(io.StringIO(out, newline=""))][1:]
    assert keys == ["SEC-9/S-001", "SEC-9/S-002"]
    code, out, _ = check(capsys, store, "--cause", "sections/SEC-1")
    assert out.splitlines() == [
        "maple snapshot 1 (night 1, 2026-09-01 02:00): 0 errors, 0 warnings, 0 info "
        "(only cause sections/SEC-1)",
        "no findings",
    ]


def test_an_unknown_filter_value_is_one_line(capsys, store):
    code, out, err = check(capsys, store, "--entity", "pupils")
    assert (code, out) == (2, "")
    assert err == (
        "rosterlab: unknown entity pupils: use one of admins, contacts, enrollments, schools, "
        "sections, staff, students, teachers\n"
    )


def test_text_keeps_every_distinct_hint_of_a_code(capsys, store):
    _, out, _ = check(capsys, store, "--code", "invalid-value")
    lines = out.splitlines()
    assert lines[lines.index("  warning invalid-value ×2") :] == [
        "  warning invalid-value ×2",
        "      students.csv line 4 S-002: students S-002: Gender 'Q' is not a recognised value.",
        f"      students.csv line 5 S-003: students S-003: Grade '{FORMULA}' is not a recognised "
        "value.",
        "      hint (×1): Use one of M, F, X.",
        f"      hint (×1): {GRADES_HINT}",
    ]
