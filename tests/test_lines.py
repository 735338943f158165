"""Findings name the line an editor shows, after quoted values that hold line breaks.

PowerShell's Export-Csv quotes every field and keeps a value's line breaks (an address typed
on two lines): a students.csv with CRLF rows may hold a CRLF or a bare LF inside a quoted
value. Each such break pushes every later row one line down.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rosterlab.bundle import open_bundle
from rosterlab.checks import run_checks
from rosterlab.report.html_report import findings_fragment
from rosterlab.spec.lines import LineBreaks
from rosterlab.store import Store, ingest_bundle
from tests.cli_run import run
from tests.tiny import CLEAN_NIGHT, csv_text, write_night

HEADER = [*CLEAN_NIGHT["students.csv"][0], "Student_street"]


def quoted_row(values: list[str]) -> str:
    """One record as Export-Csv writes it: every field quoted, CRLF after it."""
    return ",".join('"' + v.replace('"', '""') + '"' for v in values) + "\r\n"


def student(number: int, street: str, zip_code: str = "02134") -> list[str]:
    return ["SCH-1", f"S-{number:03}", "", "Lee", "Ada", "3", zip_code, "", "", "", "", street]


def ingest_students(tmp_path: Path, students: str | bytes) -> Path:
    """A store holding one night of district ``tiny`` whose students.csv is ``students``."""
    when = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
    night = {name: rows for name, rows in CLEAN_NIGHT.items() if name != "students.csv"}
    night["enrollments.csv"] = [night["enrollments.csv"][0]]
    folder = write_night(tmp_path / "night1", night, when=when)
    (folder / "students.csv").write_bytes(
        students if isinstance(students, bytes) else students.encode()
    )
    path = tmp_path / "tiny.duckdb"
    with Store.open(path) as store, open_bundle(folder) as bundle:
        ingest_bundle(store, bundle, district="tiny", taken_at=when)
    return path


# Lines: 1 header, 2-3 S-001 (CRLF inside), 4-6 S-002 (LF, then CRLF inside), 7 blank,
# 8 S-003, 9 S-004 with a zip a spreadsheet cut: an editor shows it on line 9 (data row 5).
TWO_LINE_ADDRESSES = (
    quoted_row(HEADER)
    + quoted_row(student(1, "1 Oak Rd\r\nUnit 2"))
    + quoted_row(student(2, "12 Elm St\nApt 4\r\nBack door"))
    + "\r\n"
    + quoted_row(student(3, "3 Ash Ln"))
    + quoted_row(student(4, "4 Fir Ct", zip_code="2134"))
)


def found_lines(csv_out: str) -> list[tuple[str, str]]:
    return [
        (r["line"], r["key"])
        for r in csv.DictReader(io.StringIO(csv_out))
        if r["code"] in ("excel-damage", "blank-row")
    ]


def test_a_bad_zip_after_two_multi_line_addresses_is_on_the_line_an_editor_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    store = str(ingest_students(tmp_path, TWO_LINE_ADDRESSES))
    _, out, _ = run(capsys, "--store", store, "check", "--district", "tiny", "--format", "csv")
    assert found_lines(out) == [("7", ""), ("9", "S-004")]
    _, out, _ = run(capsys, "--store", store, "check", "--district", "tiny")
    assert "students.csv line 9 S-004: " in out
    _, out, _ = run(capsys, "--store", store, "check", "--district", "tiny", "--details")
    assert "students.csv line 9 S-004: " in out
    _, out, _ = run(capsys, "--store", store, "check", "--district", "tiny", "--format", "json")
    placed = [(f["code"], f["key"], f["row"], f["line"]) for f in json.loads(out)["findings"]]
    assert [p for p in placed if p[0] in ("excel-damage", "blank-row")] == [
        ("blank-row", None, 3, 7),
        ("excel-damage", "S-004", 5, 9),
    ]


def test_the_html_report_places_the_row_on_the_same_line(tmp_path: Path):
    path = ingest_students(tmp_path, TWO_LINE_ADDRESSES)
    with Store.open(path, read_only=True) as store:
        breaks = store.line_breaks(1)
        assert breaks == {"students.csv": LineBreaks((1, 2), (1, 3))}
        page, text = findings_fragment(run_checks(store, 1), breaks=breaks)
    assert "    warning excel-damage S-004 line 9: " in text
    assert '<td class="num">9</td>' in page


def test_an_lf_file_with_a_note_on_three_lines_moves_later_rows_down_two(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    rows = [HEADER, student(1, "1 Oak Rd\nUnit 2\nrear"), student(2, "2 Elm", "2134")]
    store = str(ingest_students(tmp_path, csv_text(rows, "\n")))
    _, out, _ = run(capsys, "--store", store, "check", "--district", "tiny", "--format", "csv")
    assert found_lines(out) == [("5", "S-002")]


def test_a_store_staged_before_line_breaks_were_kept_says_row_plus_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = ingest_students(tmp_path, TWO_LINE_ADDRESSES)
    with Store.open(path) as store:
        store.execute("UPDATE file_staging SET break_rows = NULL, break_lines = NULL")
    _, out, _ = run(capsys, "--store", str(path), "check", "--district", "tiny", "--format", "csv")
    assert found_lines(out) == [("4", ""), ("6", "S-004")]


def test_a_file_without_multi_line_values_keeps_no_line_breaks(tmp_path: Path):
    plain = quoted_row(HEADER) + quoted_row(student(1, "1 Oak Rd", "2134"))
    path = ingest_students(tmp_path, plain)
    with Store.open(path, read_only=True) as store:
        assert store.rows("SELECT name, break_rows, break_lines FROM file_staging ORDER BY name")[
            3
        ] == ("students.csv", [], [])
        assert store.line_breaks(1) == {}


def test_line_breaks_add_the_breaks_of_the_rows_before():
    breaks = LineBreaks.of([(4, 1), (1, 2)])
    assert [breaks.line(row) for row in (0, 1, 2, 4, 5, 9)] == [1, 2, 5, 7, 9, 13]
    assert LineBreaks().line(5) == 6
    # and back: line 1 is the header, lines 2-4 row 1, 5 row 2, 6 row 3, 7-8 row 4, 9 row 5
    assert [breaks.row_at(line) for line in (1, 2, 4, 5, 6, 7, 8, 9, 10, 11)] == [
        0, 1, 1, 2, 3, 4, 4, 5, 6, 7,
    ]  # fmt: skip


def test_a_windows_1252_byte_after_a_two_line_address_names_its_line_and_its_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """A UTF-8 file (Zoë) with one Windows-1252 byte (René): the byte check runs before the
    parse and counts physical lines (S-002 is on line 4), the finding's row is data row 2."""
    students = (
        quoted_row(HEADER) + quoted_row(student(1, "1 Oak Rd\r\nUnit 2")).replace("Ada", "Zoë")
    ).encode() + quoted_row(student(2, "2 Elm")).replace("Lee", "Ren\xe9").encode("cp1252")
    store = str(ingest_students(tmp_path, students))
    _, out, _ = run(capsys, "--store", store, "check", "--district", "tiny", "--format", "json")
    found = [f for f in json.loads(out)["findings"] if f["code"] == "invalid-utf8-bytes"]
    assert [(f["row"], f["field"]) for f in found] == [(2, "Last_name")]
    assert "students.csv line 4, column Last_name" in found[0]["message"]
    _, out, _ = run(capsys, "--store", store, "check", "--district", "tiny", "--format", "csv")
    rows = [r for r in csv.DictReader(io.StringIO(out)) if r["code"] == "invalid-utf8-bytes"]
    assert [(r["line"], r["key"]) for r in rows] == [("4", "")]


# A header cell typed on two lines (Alt+Enter in a spreadsheet cell), quoted by the exporter:
# DuckDB takes the file's line break style from its first break, the one inside that name.
@pytest.mark.parametrize(
    ("inside", "newline"),
    [("\n", "\n"), ("\r\n", "\n"), ("\n", "\r\n"), ("\r\n", "\r\n")],
    ids=["LF-in-LF", "CRLF-in-LF", "LF-in-CRLF", "CRLF-in-CRLF"],
)
def test_a_two_line_custom_field_name_keeps_every_row_and_moves_lines_down_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], inside: str, newline: str
):
    name = f"ext.house{inside}note"
    rows = [
        [*HEADER[:-1], name],
        *(student(n, "red") for n in (1, 2, 3)),
        student(4, "blue", zip_code="2134"),
    ]
    path = ingest_students(tmp_path, csv_text(rows, newline))
    with Store.open(path, read_only=True) as store:
        assert store.rows("SELECT rows FROM snapshot_files WHERE name = 'students.csv'") == [(4,)]
        assert store.line_breaks(1) == {"students.csv": LineBreaks((0,), (1,))}
    _, out, _ = run(capsys, "--store", str(path), "check", "--district", "tiny", "--format", "csv")
    assert found_lines(out) == [("6", "S-004")]  # lines 1-2 the header, 3-6 S-001..S-004
    _, out, _ = run(capsys, "--store", str(path), "check", "--district", "tiny", "--format", "json")
    findings = json.loads(out)["findings"]
    assert [
        (f["code"], f["value"])
        for f in findings
        if f["code"] in ("extension-column", "excel-damage", "malformed-row")
    ] == [("extension-column", "ext.house"), ("extension-column", name), ("excel-damage", "2134")]
    assert [f["row"] for f in findings if f["code"] == "excel-damage"] == [4]


def test_a_spec_column_name_split_by_a_line_break_is_a_misspelling_and_no_row_is_lost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    rows = [
        [HEADER[0], "Student\r\n_id", *HEADER[2:]],
        *(student(n, "1 Oak Rd") for n in (1, 2, 3)),
    ]
    path = ingest_students(tmp_path, csv_text(rows, "\r\n"))
    with Store.open(path, read_only=True) as store:
        assert store.rows("SELECT rows FROM snapshot_files WHERE name = 'students.csv'") == [(3,)]
    _, out, _ = run(capsys, "--store", str(path), "check", "--district", "tiny", "--format", "json")
    header = [
        (f["code"], f["field"], f["value"])
        for f in json.loads(out)["findings"]
        if f["code"] in ("missing-column", "misspelled-column")
    ]
    assert header == [
        ("missing-column", "Student_id", None),
        ("misspelled-column", "Student_id", "Student\r\n_id"),
    ]


def test_the_findings_browser_shows_rows_on_the_lines_an_editor_shows(tmp_path: Path):
    """Lines: 1 header, 2-3 S-001 (a two-line address), 4 S-002 and 5 S-003, both with a zip
    a spreadsheet cut: one aggregated finding, drilled into its two rows."""
    from rosterlab.ui import FindingsBrowser, open_workbench

    students = (
        quoted_row(HEADER)
        + quoted_row(student(1, "1 Oak Rd\r\nUnit 2"))
        + quoted_row(student(2, "2 Elm St", zip_code="2134"))
        + quoted_row(student(3, "3 Ash Ln", zip_code="2134"))
    )
    browser = FindingsBrowser(open_workbench(ingest_students(tmp_path, students), district="tiny"))
    browser.code.value = "excel-damage"
    assert [(f.row, f.count) for f in browser.page] == [(2, 2)]
    assert '<th class="num">line</th>' in browser.table.value
    assert '<td>2134</td><td class="num">4</td>' in browser.table.value
    browser.drill.value = 0
    assert re.findall(
        r'<td>(S-00\d)</td><td class="num">(\d+)</td>', browser.drill_table.value
    ) == [
        ("S-002", "4"),
        ("S-003", "5"),
    ]
    received = browser.rows.value
    assert "<h4>students.csv: rows as received</h4>" in received
    assert re.findall(
        r'<tr><td class="num">(\d+)</td><td>SCH-1</td><td>(S-00\d)</td>', received
    ) == [
        ("4", "S-002"),
        ("5", "S-003"),
    ]
