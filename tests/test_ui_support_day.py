"""Issue #13's widgets, headless: nights named by date or number, findings filters and CSV,
the diff explorer's record search over the whole change set. Real DuckDB stores, no mocks."""

from __future__ import annotations

import base64
import csv
import io
import re
from pathlib import Path

import pytest

from rosterlab.checks import finding_groups, run_checks
from rosterlab.errors import SnapshotNotFoundError
from rosterlab.report.html_report import findings_fragment
from rosterlab.store import Store
from rosterlab.ui import (
    DiffExplorer,
    FindingsBrowser,
    FixPanel,
    SnapshotPicker,
    open_workbench,
)
from rosterlab.ui.base import wrap
from tests.tiny import Night, ingest_nights, tiny_night


@pytest.fixture(autouse=True)
def in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)


def graded(grade: str) -> Night:
    """S-002 in ``grade`` (one change a night)."""
    night = tiny_night()
    night["students.csv"][3][5] = grade
    return night


def test_the_picker_takes_nights_by_number_and_date(tmp_path):
    bench = open_workbench(
        ingest_nights(tmp_path, graded("10"), graded("11"), graded("12")), district="tiny"
    )
    picker = SnapshotPicker(bench, nights=("n1", "2026-09-03"))
    assert (picker.from_box.value, picker.to_box.value) == (1, 3)
    with pytest.raises(SnapshotNotFoundError, match="tiny has no night on 2026-09-09; tiny's"):
        SnapshotPicker(bench, nights=("n1", "2026-09-09"))


def orphans_and_formula_night() -> Night:
    """Enrollments in SEC-9 (not in sections.csv) and S-003's grade a spreadsheet formula."""
    night = tiny_night()
    night["enrollments.csv"] += [["SCH-1", "SEC-9", "S-001"], ["SCH-2", "SEC-9", "S-002"]]
    night["students.csv"][4][5] = "=1+2"
    return night


def downloaded(link: str) -> list[list[str]]:
    """The CSV rows a Download CSV link saves."""
    payload = re.search(r'href="data:text/csv;charset=utf-8;base64,([^"]+)"', link)
    assert payload is not None
    text = base64.b64decode(payload.group(1)).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline="")))


def test_findings_browser_filters_by_entity_and_cause_and_downloads_what_it_shows(tmp_path):
    bench = open_workbench(ingest_nights(tmp_path, orphans_and_formula_night()), district="tiny")
    browser = FindingsBrowser(bench)
    assert browser.entity.options == ("(all entities)", "enrollments", "students")
    assert browser.cause.options == ("(all causes)", "sections/SEC-9")
    assert 'download="tiny-night-1-findings.csv"' in browser.download.value
    assert "Download CSV (4 findings)" in browser.download.value

    browser.entity.value = "students"
    assert [label for label, _ in browser.groups.options] == [
        "warning invalid-value — 1 finding",
        "info extension-column — 1 finding",
    ]
    rows = downloaded(browser.download.value)
    assert [(r[0], r[1], r[3], r[5], r[6]) for r in rows[1:]] == [
        ("students.csv", "", "", "ext.house", "extension-column"),
        ("students.csv", "5", "S-003", "'=1+2", "invalid-value"),
    ]

    browser.entity.value = "(all entities)"
    browser.cause.value = "sections/SEC-9"
    assert [(f.key, f.row) for f in browser.page] == [("SEC-9/S-001", 4), ("SEC-9/S-002", 5)]
    assert [r[1] for r in downloaded(browser.download.value)[1:]] == ["5", "6"]
    assert repr(browser).splitlines()[-2:] == [
        "  showing sections/SEC-9 — breaks 2 records: enrollment-unknown-section "
        "[severity all, (all codes), (all entities), sections/SEC-9]: rows 1–2 of 2",
        "  what to do: Every record listed points at SEC-9, which sections.csv lacks: add SEC-9 "
        "to sections.csv (an export that ran before the others?) or correct the references; one "
        "change fixes them all.",
    ]


def test_the_report_lists_every_finding_collapsed_by_group_with_a_csv(tmp_path):
    night = tiny_night()
    night["enrollments.csv"] += [["SCH-1", "SEC-9", f"S-{n:03}"] for n in range(100, 160)]
    path = ingest_nights(tmp_path, night)
    with Store.open(path) as store:
        result = run_checks(store, 1)
    page, text = findings_fragment(result)
    assert page.count("<details><summary>") == len(finding_groups(result))
    unknown = [f for f in result.findings if f.code == "enrollment-unknown-section"]
    assert len(unknown) == 60
    assert all(f"<td>SEC-9/{f.key.split('/')[1]}</td>" in page for f in unknown)
    assert "more findings" not in page
    assert len(downloaded(page)) == 1 + len(result.findings)
    assert "    … and 57 more (in the HTML and CSV)" in text.splitlines()


def test_the_diff_explorers_record_picker_searches_the_whole_change_set(tmp_path):
    """Night 2 regrades all three students: the table pages one change at a time."""
    bench = open_workbench(
        ingest_nights(tmp_path, tiny_night(), regraded(tiny_night())), district="tiny"
    )
    explorer = DiffExplorer(bench, page_size=1)
    assert explorer.entity == "students"
    assert explorer.page["key"].to_list() == ["S-001"]
    assert [k for _, k in explorer.record.options] == ["", "S-001", "S-002", "S-003"]
    explorer.search.value = "s-003"
    assert explorer.record.options == (("(pick a record)", ""), ("S-003", "S-003"))
    explorer.record.value = "S-003"
    assert "Timeline of students S-003" in explorer.timeline.value
    explorer.search.value = "T-"
    assert explorer.record.options == (("(no record matches)", ""),)
    assert explorer.timeline.value == wrap("")


def regraded(night: Night) -> Night:
    for row in night["students.csv"][1:]:
        row[5] = str(int(row[5]) + 1)
    return night


def test_the_fix_panel_says_why_it_built_nothing(tmp_path):
    """A set rule that would change a teacher valid tonight is refused: the panel's text says so."""
    night = tiny_night()
    bench = open_workbench(ingest_nights(tmp_path, night), district="tiny")
    rules = tmp_path / "tiny.rules.toml"
    rules.write_text(
        '[[rules]]\nop = "set"\nentity = "sections"\nfield = "Teacher_id"\nkey = "SEC-1"\n'
        'value = "T-2"\nreason = "a workaround from another night"\n'
    )
    panel = FixPanel(bench, rules, out=tmp_path / "fixed")
    assert panel.result is None and not (tmp_path / "fixed").exists()
    assert repr(panel).splitlines()[-2] == (
        "  error: tiny.rules.toml: rule 1 (set, line 1) changes 1 value(s) valid tonight: "
        "sections SEC-1 Teacher_id: T-1 → T-2 — it may undo the district's own fix: add "
        'when = "<finding code>" to the rule so it applies only while the problem is there, or '
        "re-run fix with --force; nothing was written"
    )
