"""Findings count records: a value problem repeated over a column is one finding, its rows kept.

Tiny districts (tests/tiny.py) whose incidents are named; every count and key is exact.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from rosterlab.checks import run_checks
from rosterlab.checks.details import expanded, rows_of
from rosterlab.store import Store
from rosterlab.store.outcomes import outcome_of
from tests.cli_run import run
from tests.test_checks import add_column, check, ingest, one
from tests.tiny import ingest_nights, tiny_night, write_night


def every_race_says_caucasian():
    """Every student's Race says Caucasian (S-001 has two contact rows): not Clever's word."""
    night = tiny_night()
    add_column(night["students.csv"], "Race", ["Caucasian"] * 4)
    return night


def one_student_with_three_contacts_has_a_bad_grade():
    """S-001 (three contact rows) is in grade '03'; Clever's grades are 1..13, K, ..."""
    night = tiny_night()
    rows = night["students.csv"]
    third = [*rows[2][:7], "Other", "Jo Lee", "C-9", "red"]
    rows.insert(3, third)
    for row in rows[1:4]:
        row[5] = "03"
    return night


def test_every_students_race_says_caucasian_is_one_finding_for_three_records(tmp_path):
    result = check(tmp_path, every_race_says_caucasian())

    f = one(result, "invalid-value")
    assert (f.entity, f.key, f.field, f.value, f.row, f.cause) == (
        "students",
        None,
        "Race",
        "Caucasian",
        1,
        None,
    )
    assert (f.count, f.rows, f.sample_keys) == (3, 4, ("S-001", "S-002", "S-003"))
    assert f.message == (
        "3 students (S-001, S-002, S-003): Race 'Caucasian' is not a recognised value."
    )
    assert f.hint == "Use one of A, B, I, M, P, W."
    assert result.summary()["by_code"]["invalid-value"] == 1


def _reread_columns(tmp_path: Path, night: dict[str, list[list[str]]]) -> list[str]:
    """The students.csv columns the cells check reads row by row after its one pass."""
    from rosterlab.checks.model import CheckSettings
    from rosterlab.checks.rows import _cell_queries
    from rosterlab.checks.run import _context

    with Store.open(tmp_path / "store.duckdb") as store:
        (snapshot_id,) = ingest(store, tmp_path, night)
        with store.beside() as beside:
            ctx = _context(store, store.snapshot(snapshot_id), None, CheckSettings(), beside)
            try:
                queries = _cell_queries(ctx, ctx.staged["students.csv"])
            finally:
                ctx.drop_tables()
    return [params[1] for _, params in queries]  # each query binds its entity, then its field


def test_the_cells_check_rereads_only_the_column_with_a_finding(tmp_path):
    # One pass over the file counts every column's findings; only Race is read again (School_id,
    # a reference, is checked on its distinct values).
    assert _reread_columns(tmp_path / "clean", tiny_night()) == ["School_id"]
    assert _reread_columns(tmp_path / "race", every_race_says_caucasian()) == ["School_id", "Race"]


def test_one_student_with_three_contacts_and_a_bad_grade_is_one_record(tmp_path):
    result = check(tmp_path, one_student_with_three_contacts_has_a_bad_grade())

    f = one(result, "invalid-value")
    assert (f.key, f.field, f.value, f.row, f.count, f.rows, f.sample_keys) == (
        "S-001",
        "Grade",
        "03",
        1,
        1,
        3,
        (),
    )
    assert f.message == "students S-001: Grade '03' is not a recognised value."


def test_sample_keys_are_the_first_five_records_in_file_order(tmp_path):
    night = tiny_night()
    rows = night["students.csv"]
    for n in range(9, 3, -1):  # S-009 .. S-004, appended in descending order
        rows.append(["SCH-2", f"S-00{n}", f"0099{n}", "Doe", "Al", "10", "", "", "", "", ""])
    add_column(rows, "Race", ["Caucasian"] * (len(rows) - 1))

    f = one(check(tmp_path, night), "invalid-value")

    assert (f.count, f.rows) == (9, 10)
    assert f.sample_keys == ("S-001", "S-002", "S-003", "S-009", "S-008")
    assert f.message.startswith("9 students (S-001, S-002, S-003, S-009, S-008 …): Race")


def test_the_rows_are_kept_and_read_back_page_by_page(tmp_path):
    with Store.open(ingest_nights(tmp_path, every_race_says_caucasian())) as store:
        (snapshot,) = store.snapshots("tiny")
        result = run_checks(store, snapshot.id)
        f = one(result, "invalid-value")

        first = rows_of(store, result, f, offset=0, limit=3)
        rest = rows_of(store, result, f, offset=3, limit=3)
        kept = store.rows(
            'SELECT key, "row" FROM finding_rows WHERE snapshot_id = ? AND code = ? ORDER BY "row"',
            [snapshot.id, "invalid-value"],
        )
        everything = expanded(store, result, result.findings)

    assert [(r.key, r.row, r.count, r.message) for r in first + rest] == [
        ("S-001", 1, 1, "students S-001: Race 'Caucasian' is not a recognised value."),
        ("S-001", 2, 1, "students S-001: Race 'Caucasian' is not a recognised value."),
        ("S-002", 3, 1, "students S-002: Race 'Caucasian' is not a recognised value."),
        ("S-003", 4, 1, "students S-003: Race 'Caucasian' is not a recognised value."),
    ]
    assert kept == [("S-001", 1), ("S-001", 2), ("S-002", 3), ("S-003", 4)]
    assert [(r.code, r.key, r.row) for r in everything if r.code == "invalid-value"] == [
        ("invalid-value", "S-001", 1),
        ("invalid-value", "S-001", 2),
        ("invalid-value", "S-002", 3),
        ("invalid-value", "S-003", 4),
    ]


def test_a_reader_computing_the_checks_keeps_the_rows_for_its_connection(tmp_path):
    path = ingest_nights(tmp_path, every_race_says_caucasian())
    with Store.open(path) as store:
        store.execute("DELETE FROM check_runs")  # stale: a reader recomputes
    with Store.open(path, read_only=True) as reader:
        (snapshot,) = reader.snapshots("tiny")
        result = run_checks(reader, snapshot.id)
        rows = rows_of(reader, result, one(result, "invalid-value"), limit=10)

    assert result.details == f"_finding_rows_{snapshot.id}"
    assert [(r.key, r.row) for r in rows] == [
        ("S-001", 1),
        ("S-001", 2),
        ("S-002", 3),
        ("S-003", 4),
    ]


def test_a_required_value_blank_on_a_students_three_rows_skips_three_rows(tmp_path):
    night = one_student_with_three_contacts_has_a_bad_grade()
    for row in night["students.csv"][1:4]:
        row[5] = "3"
        row[3] = ""  # Last_name blank on S-001's three rows
    with Store.open(ingest_nights(tmp_path, night)) as store:
        (snapshot,) = store.snapshots("tiny")
        result = run_checks(store, snapshot.id)
        outcome = outcome_of(store, snapshot.id)

    f = one(result, "missing-value")
    assert (f.key, f.field, f.row, f.count, f.rows) == ("S-001", "Last_name", 1, 1, 3)
    assert [(s.file, s.code, s.rows) for s in outcome.skipped] == [
        ("students.csv", "missing-value", 3)
    ]


@pytest.fixture
def caucasian_store(tmp_path: Path, capsys) -> str:
    folder = tmp_path / "tiny"
    write_night(folder / "2026-09-01", every_race_says_caucasian())
    path = str(tmp_path / "s.duckdb")
    assert run(capsys, "--store", path, "ingest", str(folder), "--district", "tiny")[0] == 0
    return path


def test_check_json_has_the_aggregated_record_and_details_adds_its_rows(capsys, caucasian_store):
    args = ("--store", caucasian_store, "check", "--district", "tiny", "--format", "json")
    code, out, _ = run(capsys, *args, "--code", "invalid-value")
    plain = json.loads(out)
    code_details, out_details, _ = run(capsys, *args, "--code", "invalid-value", "--details")
    detailed = json.loads(out_details)

    assert (code, code_details) == (0, 0)
    (record,) = plain["findings"]
    assert record["count"] == 3 and record["rows"] == 4
    assert record["sample_keys"] == ["S-001", "S-002", "S-003"]
    assert record["key"] is None and "details" not in record
    assert (record["row"], record["line"]) == (1, 2)  # its first row, on the editor's line 2
    assert plain["summary"]["by_code"] == {"invalid-value": 1}
    assert plain["summary"]["records"] == {"invalid-value": 3}
    (with_rows,) = detailed["findings"]
    assert [(r["key"], r["row"], r["line"], r["count"]) for r in with_rows["details"]] == [
        ("S-001", 1, 2, 1),
        ("S-001", 2, 3, 1),
        ("S-002", 3, 4, 1),
        ("S-003", 4, 5, 1),
    ]


def test_check_csv_exports_one_line_per_row(capsys, caucasian_store):
    code, out, _ = run(
        capsys,
        "--store",
        caucasian_store,
        "check",
        "--district",
        "tiny",
        "--format",
        "csv",
        "--code",
        "invalid-value",
    )

    lines = list(csv.DictReader(io.StringIO(out)))
    assert code == 0
    assert [(r["file"], r["line"], r["key"], r["value"], r["count"]) for r in lines] == [
        ("students.csv", "2", "S-001", "Caucasian", "1"),
        ("students.csv", "3", "S-001", "Caucasian", "1"),
        ("students.csv", "4", "S-002", "Caucasian", "1"),
        ("students.csv", "5", "S-003", "Caucasian", "1"),
    ]


def test_check_text_counts_records_and_details_lists_the_rows(capsys, caucasian_store):
    args = ("--store", caucasian_store, "check", "--district", "tiny", "--code", "invalid-value")
    _, plain, _ = run(capsys, *args)
    _, detailed, _ = run(capsys, *args, "--details")

    assert plain.splitlines()[2:5] == [
        "findings by code:",
        "  warning invalid-value ×1 (3 records)",
        "      students.csv from line 2: 3 students (S-001, S-002, S-003): Race 'Caucasian' is "
        "not a recognised value.",
    ]
    assert detailed.splitlines()[3:8] == [
        "  warning invalid-value ×1 (3 records)",
        "      students.csv line 2 S-001: students S-001: Race 'Caucasian' is not a recognised "
        "value.",
        "      students.csv line 3 S-001: students S-001: Race 'Caucasian' is not a recognised "
        "value.",
        "      students.csv line 4 S-002: students S-002: Race 'Caucasian' is not a recognised "
        "value.",
        "      students.csv line 5 S-003: students S-003: Race 'Caucasian' is not a recognised "
        "value.",
    ]


def test_a_map_rule_on_the_aggregated_finding_fixes_every_row(tmp_path, capsys, caucasian_store):
    rules = tmp_path / "rules.toml"
    rules.write_text(
        'district = "tiny"\n\n[[rules]]\nop = "map"\nentity = "students"\nfield = "Race"\n'
        'when = "invalid-value"\nvalues = { Caucasian = "W" }\nreason = "Clever spells it W"\n'
    )
    out = tmp_path / "fixed"

    code, _, err = run(
        capsys, "--store", caucasian_store, "fix", "--district", "tiny", "--rules", str(rules),
        "--out", str(out),
    )  # fmt: skip

    assert (code, err) == (0, "")
    students = list(csv.DictReader(io.StringIO((out / "students.csv").read_text())))
    assert [s["Race"] for s in students] == ["W", "W", "W", "W"]


def test_the_findings_browser_drills_into_an_aggregated_finding_a_page_at_a_time(tmp_path):
    pytest.importorskip("ipywidgets")
    from rosterlab.ui import FindingsBrowser, open_workbench

    night = every_race_says_caucasian()
    bench = open_workbench(ingest_nights(tmp_path, night), district="tiny")
    browser = FindingsBrowser(bench, page_size=3)
    browser.code.value = "invalid-value"
    (aggregated,) = browser.page
    assert "<td>S-001, S-002, S-003</td>" in browser.table.value
    assert [label for label, _ in browser.drill.options] == [
        "(choose an aggregated finding)",
        "invalid-value Race 'Caucasian': 4 rows",
    ]
    # the box shows its "choose" option, not a blank (a None value selects nothing)
    assert browser.drill.label == "(choose an aggregated finding)"
    assert browser.drill.layout.display is None and browser.drill_pager.layout.display is None

    browser.drill.value = 0
    first = [(f.key, f.row) for f in browser.drilled_rows]
    assert '<td>S-002</td><td class="num">4</td>' in browser.drill_table.value  # data row 3
    assert "<h4>students.csv: rows as received</h4>" in browser.rows.value
    browser.drill_pager.next.click()
    second = [(f.key, f.row) for f in browser.drilled_rows]

    assert first == [("S-001", 1), ("S-001", 2), ("S-002", 3)]
    assert second == [("S-003", 4)]
    assert repr(browser).splitlines()[-1] == (
        "  rows of invalid-value Race 'Caucasian' (×3 records): rows 4–4 of 4"
    )
    assert browser.drilled is aggregated

    # a page with no aggregated finding shows no empty "rows of" box and "no rows" pager
    browser.code.value = "extension-column"
    assert not any(f.aggregated for f in browser.page)
    assert browser.drill.layout.display == "none" and browser.drill_pager.layout.display == "none"


def test_the_html_report_shows_the_aggregated_finding_with_its_count_and_samples(tmp_path):
    from rosterlab.report.html_report import findings_fragment

    with Store.open(ingest_nights(tmp_path, every_race_says_caucasian())) as store:
        (snapshot,) = store.snapshots("tiny")
        result = run_checks(store, snapshot.id)
    page, text = findings_fragment(result)
    _, masked = findings_fragment(result, redact=True)

    assert (
        "<td>warning</td><td>invalid-value</td><td>students</td><td>S-001, S-002, S-003</td>"
        '<td>Race</td><td>Caucasian</td><td class="num">2</td><td class="num">3</td>'
    ) in page
    assert (
        "    warning invalid-value from line 2: 3 students (S-001, S-002, S-003): Race "
        "'Caucasian' is not a recognised value."
    ) in text.splitlines()
    assert "'Caucasian'" not in masked  # Race is personal data


def test_every_summary_of_a_night_says_the_records_a_finding_covers(tmp_path, capsys):
    """Race says Caucasian for every student: one finding, three records. The ingest (text and
    JSON), ``check``, the sync history (notebook 01, the report) and the findings browser all
    say both, in the same words."""
    from rosterlab.ui import FindingsBrowser, open_workbench, sync_history

    night = write_night(tmp_path / "2026-09-01", every_race_says_caucasian())
    store = str(tmp_path / "s.duckdb")
    code, out, _ = run(capsys, "--store", store, "ingest", str(night), "--district", "tiny")
    assert code == 0
    assert "  findings: 0 errors, 1 warning (3 records), 1 info" in out.splitlines()
    code, out, _ = run(capsys, "--store", store, "ingest", str(night), "--district", "tiny",
                       "--format", "json")  # fmt: skip
    assert json.loads(out)["findings_summary"] == {"error": 0, "warning": 1, "info": 1}
    assert json.loads(out)["records_summary"] == {"error": 0, "warning": 3, "info": 1}
    code, out, _ = run(capsys, "--store", store, "check", "--district", "tiny")
    assert out.splitlines()[0] == (
        "tiny snapshot 1 (night 1, 2026-09-01 02:00): 0 errors, 1 warning (3 records), 1 info"
    )
    bench = open_workbench(Path(store), district="tiny")
    columns, body = sync_history(bench).table()
    assert [body[0][columns.index(s)] for s in ("error", "warning", "info")] == [
        0,
        "1 (3 records)",
        1,
    ]
    assert repr(FindingsBrowser(bench)).splitlines()[0] == (
        "FindingsBrowser: tiny, night 1 (2026-09-01): 0 errors, 1 warning (3 records), 1 info"
    )
    bench.close()


def test_sample_keys_past_a_record_whose_rows_fill_the_first_keys_read_back(tmp_path):
    """S-001 has 68 contact rows before S-002: the first 64 rows' keys name one record, so the
    other sample keys are read from the kept rows."""
    night = tiny_night()
    rows = night["students.csv"]
    for n in range(66):
        rows.insert(2, [*rows[1][:7], "Other", f"Kin {n}", f"C-K{n}", "red"])
    for n in range(4, 7):
        rows.append(["SCH-2", f"S-00{n}", f"0099{n}", "Doe", "Al", "10", "", "", "", "", ""])
    add_column(rows, "Race", ["Caucasian"] * (len(rows) - 1))

    f = one(check(tmp_path, night), "invalid-value")

    assert (f.row, f.count, f.rows) == (1, 6, 73)
    assert f.sample_keys == ("S-001", "S-002", "S-003", "S-004", "S-005")


def _store_before_the_row_lists(path: Path) -> None:
    """Make ``path`` a store as migration 14 left it: the finding rows in one table, a row
    each (what the checks kept before), and migration 15 not applied."""
    with Store.open(path) as store:
        for sql in (
            "CREATE TABLE kept_rows AS SELECT * FROM finding_rows",
            "DROP VIEW finding_places",
            "DROP VIEW finding_rows",
            "DROP TABLE finding_row_lists",
            "ALTER TABLE kept_rows RENAME TO finding_rows",
            'CREATE VIEW finding_places AS SELECT snapshot_id, code, entity, key, field, "row" '
            'FROM findings UNION ALL SELECT snapshot_id, code, entity, key, field, "row" '
            "FROM finding_rows",
            "DELETE FROM schema_migrations WHERE version = 15",
        ):
            store.execute(sql)


def test_a_migrated_stores_details_are_a_fresh_ones(tmp_path, capsys):
    """Rows kept one per row before migration 15 read back as the lists a check keeps now:
    details, pages, CSV and fix rules' places alike."""
    night = one_student_with_three_contacts_has_a_bad_grade()
    add_column(night["students.csv"], "Race", ["Caucasian", "W", "Caucasian", "Caucasian", "W"])
    night["enrollments.csv"].append(["SCH-2", "SEC-2", "S-003"])  # a duplicate enrollment
    path = ingest_nights(tmp_path, night)
    csv_args = ("--store", str(path), "check", "--district", "tiny", "--format", "csv")

    def read_back() -> tuple[object, ...]:
        with Store.open(path) as store:
            (snapshot,) = store.snapshots("tiny")
            result = run_checks(store, snapshot.id)
            (race,) = [f for f in result.findings if f.field == "Race"]
            places = store.rows(
                'SELECT code, entity, key, field, "row" FROM finding_places '
                "WHERE snapshot_id = ? ORDER BY ALL",
                [snapshot.id],
            )
            every_row = expanded(store, result, result.findings)
            return (
                result.cached,
                [(r.code, r.key, r.row, r.message) for r in every_row],
                [(r.key, r.row) for r in rows_of(store, result, race, offset=1, limit=2)],
                places,
                run(capsys, *csv_args)[1],
            )

    fresh = read_back()
    _store_before_the_row_lists(path)
    with Store.open(path) as store:
        assert store.rows("SELECT count(*) FROM finding_rows")[0][0] == 8  # a row each
    migrated = read_back()

    assert migrated[1:] == fresh[1:]
    assert migrated[0] is True  # read from the kept findings and rows, not recomputed
    assert migrated[2] == [("S-001", 3), ("S-002", 4)]
