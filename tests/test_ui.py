"""The workbench widgets, headless: set values, fire handlers, assert state (no browser, no mocks).

Tiny districts name their incident; every store is a real DuckDB file. What the browser shows
is tested in tests/test_browser.py.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

pytest.register_assert_rewrite("tests.sftp_servers")

from rosterlab.config import Settings  # noqa: E402
from rosterlab.errors import SnapshotNotFoundError  # noqa: E402
from rosterlab.ui import (  # noqa: E402
    DiffExplorer,
    FieldMatrixView,
    FindingsBrowser,
    FixPanel,
    PushPreview,
    SnapshotPicker,
    Workbench,
    open_workbench,
    sync_history,
)
from tests.sftp_servers import current_user, known_hosts_line  # noqa: E402
from tests.test_outcomes import ingest_nights as checked_nights  # noqa: E402
from tests.tiny import Night, ingest_nights, tiny_night  # noqa: E402

pytest_plugins = ["tests.sftp_servers"]

HOSTILE = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Widgets read no store or config from the shell running the tests."""
    for name in ("ROSTERLAB_STORE", "ROSTERLAB_CONFIG", "ROSTERLAB_SAMPLES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def renamed_student_night() -> Night:
    """Night 2: S-002 renamed to a script tag (hostile file data) and S-004 enrolled."""
    night = tiny_night()
    night["students.csv"][3][3] = HOSTILE
    night["students.csv"].append(
        ["SCH-2", "S-004", "00999", "Ng", "Di", "10", "02136", "", "", "", "green"]
    )
    night["enrollments.csv"].append(["SCH-2", "SEC-2", "S-004"])
    return night


@pytest.fixture
def renamed(tmp_path: Path) -> Workbench:
    return open_workbench(
        ingest_nights(tmp_path, tiny_night(), renamed_student_night()), district="tiny"
    )


def tr_count(html: str) -> int:
    return html.count("<tr>")


# --- the workbench ------------------------------------------------------------------------


def test_workbench_on_a_store_names_its_district_nights_and_store(renamed, tmp_path):
    assert repr(renamed) == (
        "Workbench: district tiny (sftp)\n"
        "  2 snapshots: night 1 (2026-09-01) → night 2 (2026-09-02)\n"
        f"  store: {tmp_path / 'tiny.duckdb'}"
    )
    old, new = renamed.pair(("previous", "latest"))
    assert (old.seq, new.seq) == (1, 2)
    with pytest.raises(SnapshotNotFoundError, match="night 2 comes after night 1; swap them"):
        renamed.pair((2, 1))
    with pytest.raises(SnapshotNotFoundError) as first:  # previous: the night before night 1
        renamed.pair(("previous", 1))
    assert first.value.message == (
        "snapshot 1 is tiny's first night, so there is no 'previous' night before it: give a "
        "later night to compare with it"
    )


def test_workbench_refuses_a_district_the_store_does_not_have(renamed, tmp_path):
    renamed.close()
    with pytest.raises(SnapshotNotFoundError) as caught:
        open_workbench(tmp_path / "tiny.duckdb", district="oak")
    assert caught.value.message == (
        f"{tmp_path / 'tiny.duckdb'} has no snapshots of district 'oak' (districts: tiny): "
        "check the district parameter"
    )


def test_sample_workbench_numbers_snapshots_by_night():
    """The sample run ingests one district only, so snapshot ids are night numbers everywhere."""
    bench = open_workbench(None, district="cedar")
    assert [(s.id, s.seq) for s in bench.snapshots] == [(n, n) for n in range(1, 9)]
    assert repr(bench) == (
        "Workbench: district cedar — Cedar Falls Public Schools (clever-managed)\n"
        "  8 snapshots: night 1 (2026-09-01) → night 8 (2026-09-08)\n"
        "  store: the sample districts (data/samples)"
    )
    assert sorted(bench.config.targets) == ["clever-maple"]


# --- snapshot picker ----------------------------------------------------------------------


def test_picker_defaults_to_the_last_two_nights_and_notifies_changes(renamed):
    picker = SnapshotPicker(renamed)
    calls: list[tuple[int, int]] = []
    picker.on_change(lambda: calls.append(tuple(s.seq for s in picker.pair)))
    assert repr(picker) == (
        "SnapshotPicker: district tiny, night 1 (2026-09-01) → night 2 (2026-09-02) (2 snapshots)"
    )
    assert picker.from_box.options == (
        ("night 1 · 2026-09-01 (#1)", 1),
        ("night 2 · 2026-09-02 (#2)", 2),
    )
    picker.from_box.value = 2
    assert calls == [(2, 2)]


# --- diff explorer ------------------------------------------------------------------------


def test_diff_explorer_counts_tabs_pages_and_timeline(renamed):
    explorer = DiffExplorer(renamed, page_size=4)
    assert repr(explorer) == "\n".join(
        [
            "DiffExplorer: tiny, night 1 (2026-09-01) → night 2 (2026-09-02)",
            "  no hold predicted",
            "  schools: 0 added, 0 removed, 0 changed, 2 unchanged",
            "  students: 1 added, 0 removed, 1 changed, 2 unchanged (fields: Last_name 1)",
            "  contacts: 0 added, 0 removed, 0 changed, 3 unchanged",
            "  teachers: 0 added, 0 removed, 0 changed, 3 unchanged",
            "  sections: 0 added, 0 removed, 0 changed, 2 unchanged",
            "  enrollments: 1 added, 0 removed, 0 changed, 3 unchanged",
            "  staff: 0 added, 0 removed, 0 changed, 0 unchanged",
            "  showing students, all changes, all fields: field changes 1–4 of 9",
        ]
    )
    assert explorer.tabs.titles == (
        "schools · 0 records",
        "students · 2 records",
        "contacts · 0 records",
        "teachers · 0 records",
        "sections · 0 records",
        "enrollments · 1 record",
        "staff · 0 records",
    )
    # One page of rows is all the browser gets.
    assert tr_count(explorer.table.value) == 1 + 4
    assert explorer.pager.next.disabled is False and explorer.pager.previous.disabled is True
    explorer.pager.next.click()
    explorer.pager.next.click()
    assert explorer.pager.describe() == "field changes 9–9 of 9"  # the tab's 2 are records
    assert explorer.pager.next.disabled is True

    explorer.kind.value = "changed"
    assert explorer.page.rows() == [("students", "S-002", "changed", "Last_name", "Diaz", HOSTILE)]
    assert ESCAPED in explorer.table.value and HOSTILE not in explorer.table.value

    explorer.field.value = "Student_zip"
    assert explorer.pager.describe() == "no field changes"

    explorer.tabs.selected_index = 5  # enrollments
    assert explorer.entity == "enrollments"
    assert (explorer.kind.value, explorer.field.value) == ("all", "(all fields)")
    assert explorer.page["key"].to_list() == ["SEC-2/S-004"] * 3
    assert [label for label, _ in explorer.record.options] == ["(pick a record)", "SEC-2/S-004"]

    explorer.record.value = "SEC-2/S-004"
    assert "<h4>Timeline of enrollments SEC-2/S-004</h4>" in explorer.timeline.value
    assert "<td>first seen</td>" in explorer.timeline.value


def test_diff_explorer_reloads_when_the_picker_changes(renamed):
    explorer = DiffExplorer(renamed)
    explorer.picker.from_box.value = 2
    assert explorer.result is not None
    assert (explorer.result.from_snapshot.seq, explorer.result.to_snapshot.seq) == (2, 2)
    assert repr(explorer).splitlines()[-1] == (
        "  showing schools, all changes, all fields: no field changes"
    )


def test_diff_explorer_previous_is_the_night_before_the_night_it_is_paired_with(tmp_path):
    """("previous", 2) on a three-night district is night 1 → night 2, as `diff --from previous
    --to n2` and the notebooks' bench.pair read it, not the district's second newest night."""
    store = ingest_nights(tmp_path, tiny_night(), renamed_student_night(), tiny_night())
    explorer = DiffExplorer(open_workbench(store, district="tiny"), ("previous", 2))
    assert repr(explorer.picker) == (
        "SnapshotPicker: district tiny, night 1 (2026-09-01) → night 2 (2026-09-02) (3 snapshots)"
    )
    assert explorer.result is not None
    assert (explorer.result.from_snapshot.seq, explorer.result.to_snapshot.seq) == (1, 2)


def test_diff_explorer_says_clever_did_not_process_a_night_either_side(tmp_path):
    """Night 2 lacks students.csv. Into it, the explorer said "no hold predicted" beside 3
    students removed, as if processed; `diff` says Clever does not process it. Out of it, the
    from-night is a state Clever never served: it names the one it did."""
    missing = tiny_night()
    del missing["students.csv"]
    bench = open_workbench(
        ingest_nights(tmp_path, tiny_night(), missing, renamed_student_night()), district="tiny"
    )
    into = DiffExplorer(bench, (1, 2))
    assert repr(into).splitlines()[1] == (
        "  Clever does not process snapshot 2 (missing-file: students.csv): it keeps serving "
        "the last upload it processed, so nothing is deleted and no hold"
    )
    assert '<div class="hold">Clever does not process snapshot 2' in into.summary.value
    out_of = DiffExplorer(bench, (2, 3))
    assert repr(out_of).splitlines()[2] == (
        "  from night 2 (2026-09-02): Clever did not process it (missing-file: students.csv), "
        "so its records never reached the apps; it served night 1's state: compare with night 1"
    )
    assert repr(DiffExplorer(bench, (1, 3))).splitlines()[1] == "  no hold predicted"
    # and the night dropdowns say it before anyone picks the night
    labels = [
        "night 1 · 2026-09-01 (#1)",
        "night 2 · 2026-09-02 (#2) · not processed",
        "night 3 · 2026-09-03 (#3)",
    ]
    assert [label for label, _ in into.picker.to_box.options] == labels
    assert [label for label, _ in FindingsBrowser(bench, 2).night.options] == labels


def test_diff_explorer_timeline_says_a_removal_on_a_held_night_was_held(tmp_path, capsys):
    """Night 2 deletes 2 of 3 teachers: held, so T-2 is still in the apps; its timeline's
    night-2 row says what Clever did with that night, in the words `timeline` uses."""
    held = tiny_night()
    del held["teachers.csv"][2:]
    bench = open_workbench(checked_nights(tmp_path, capsys, tiny_night(), held), district="maple")
    explorer = DiffExplorer(bench, (1, 2))
    explorer.tabs.selected_index = 3
    explorer.record.value = "T-2/SCH-2"
    cells = re.findall(r"<td[^>]*>(.*?)</td>", explorer.timeline.value)
    assert [cells[i : i + 7] for i in range(0, len(cells), 7)] == [
        ["1", "2026-09-01", "first seen", "", "", "", ""],
        [
            "2",
            "2026-09-02",
            "removed",
            "",
            "",
            "",
            "Clever: held (hold: teachers deletion): sync held until the district approves it "
            "(Clever&#x27;s published thresholds)",
        ],
    ]


def test_diff_explorer_text_output_is_the_full_repr(renamed):
    explorer = DiffExplorer(renamed)
    bundle = explorer._repr_mimebundle_()
    assert bundle is not None
    assert bundle["text/plain"] == repr(explorer)
    assert len(bundle["text/plain"]) > 110  # ipywidgets would have cut it here
    assert "application/vnd.jupyter.widget-view+json" in bundle


# --- findings browser ---------------------------------------------------------------------


def orphan_night() -> Night:
    """Enrollments in SEC-9, a section missing from sections.csv, and a hostile grade."""
    night = tiny_night()
    night["enrollments.csv"] += [["SCH-1", "SEC-9", "S-001"], ["SCH-2", "SEC-9", "S-002"]]
    night["students.csv"][4][5] = HOSTILE
    return night


def test_findings_browser_groups_by_cause_filters_and_drills_down_to_rows(tmp_path):
    bench = open_workbench(ingest_nights(tmp_path, orphan_night()), district="tiny")
    browser = FindingsBrowser(bench, page_size=10)
    lines = repr(browser).splitlines()
    assert lines[0] == "FindingsBrowser: tiny, night 1 (2026-09-01): 2 errors, 1 warning, 1 info"
    assert lines[1] == "  sections/SEC-9 — breaks 2 records: enrollment-unknown-section"
    assert browser.page == [f for f in browser.result.findings if f.cause == "sections/SEC-9"]
    assert [f.row for f in browser.page] == [4, 5]
    # the root cause's one hint, not the first finding's
    hint = (
        "Every record listed points at SEC-9, which sections.csv lacks: add SEC-9 to "
        "sections.csv (an export that ran before the others?) or correct the references; one "
        "change fixes them all."
    )
    assert lines[-1] == f"  what to do: {hint}"
    assert f"<p><b>What to do (the root cause):</b> {hint}</p>" in browser.table.value
    rows = browser.rows.value
    assert "<h4>enrollments.csv: rows as received</h4>" in rows
    assert "<td>SEC-9</td><td>S-001</td>" in rows and "<td>SEC-9</td><td>S-002</td>" in rows

    browser.severity.value = "warning"
    assert [label for label, _ in browser.groups.options] == ["warning invalid-value — 1 finding"]
    assert [f.code for f in browser.page] == ["invalid-value"]
    assert "<p><b>What to do:</b>" in browser.table.value  # no cause: the finding's own hint
    assert ESCAPED in browser.table.value and HOSTILE not in browser.table.value
    assert ESCAPED in browser.rows.value and HOSTILE not in browser.rows.value

    browser.severity.value = "all"
    browser.code.value = "extension-column"
    assert [f.code for f in browser.page] == ["extension-column"]


# --- field matrix -------------------------------------------------------------------------


def dropped_zip_night() -> Night:
    """Night 2: Student_zip is no longer exported, and a hostile extension column appears."""
    night = tiny_night()
    rows = night["students.csv"]
    position = rows[0].index("Student_zip")
    night["students.csv"] = [
        [v for i, v in enumerate(row) if i != position] + [value]
        for row, value in zip(rows, ["ext.<b>x</b>", "1", "1", "1", "1"], strict=True)
    ]
    return night


def test_field_matrix_marks_absent_and_flagged_cells_and_escapes_names(tmp_path):
    bench = open_workbench(
        ingest_nights(tmp_path, tiny_night(), dropped_zip_night()), district="tiny"
    )
    view = FieldMatrixView(bench)
    text = repr(view)
    assert "  changes: students.csv Student_zip: 75% —" in text
    assert "  night 2: warning column-dropped students Student_zip" in text
    grid = view.grid.value
    assert re.search(r'<td class="absent flag" title="column-dropped">—</td>', grid)
    assert "ext.&lt;b&gt;x&lt;/b&gt;" in grid and "<b>x</b>" not in grid

    # the night numbers are labelled nights; the flags start with the one that matters
    assert '<th rowspan="2">kind</th><th colspan="2">night</th></tr><tr><th class="num">1' in grid
    rows = re.findall(
        r"<tr><td class=\"num\">(\d)</td><td>(\w+)</td><td>([\w-]+)</td>", view.flags.value
    )
    assert rows[0] == ("2", "warning", "column-dropped")
    assert {severity for _, severity, _ in rows[1:]} == {"info"}

    view.changing.value = True
    assert [r.field for r in view.rows] == ["Student_zip", "ext.<b>x</b>"]
    view.show.value = "pattern"
    assert repr(view).splitlines()[-1] == "  showing pattern of 2 fields (all files, only changing)"


# --- fix and push -------------------------------------------------------------------------

RULES = """\
[[rules]]
op = "set"
entity = "sections"
field = "Teacher_id"
key = "SEC-2"
value = "T-2"
reason = "keep last night's teacher until HR exports T-404"
"""


def new_hire_night() -> Night:
    """SEC-2 is given to T-404, a new hire not in teachers.csv yet: Clever rejects the upload."""
    night = tiny_night()
    night["sections.csv"][2][2] = "T-404"
    return night


def test_fix_panel_builds_dry_runs_and_pushes_only_after_confirmation(tmp_path, sshd, client_key):
    store = ingest_nights(tmp_path, new_hire_night())
    rules = tmp_path / "tiny.rules.toml"
    rules.write_text(RULES)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(known_hosts_line(sshd.port, sshd.host_public_line))
    remote = tmp_path / "remote"
    remote.mkdir()
    opened = open_workbench(store, district="tiny")
    settings = Settings(
        store=store,
        config_path=None,
        targets={
            "drop": {
                "host": "127.0.0.1",
                "port": sshd.port,
                "username": current_user(),
                "key_file": str(client_key.private),
                "known_hosts": str(known_hosts),
                "remote_dir": str(remote),
            }
        },
    )
    bench = Workbench(opened.store, "tiny", opened.settings, opened.origin, settings)
    panel = FixPanel(bench, rules, target="drop", out=tmp_path / "fixed")
    assert panel.result is not None and panel.result.ok
    assert (panel.result.before["error"], panel.result.after["error"]) == (1, 0)
    assert panel._changes.rows() == [
        (
            "sections",
            "SEC-2",
            "Teacher_id",
            "changed",
            "T-404",
            "T-2",
            "1:set",
            "keep last night's teacher until HR exports T-404",
        ),
    ]
    assert "T-404" in panel.changes_table.value
    assert panel.push_button.disabled

    assert panel.push() is None  # no dry run yet
    assert "nothing was pushed" in panel.status.value
    assert list(remote.iterdir()) == []

    preview = panel.dry_run()
    assert isinstance(preview, PushPreview) and not preview.refused
    assert [f.name for f in preview.plan.files] == [
        "schools.csv",
        "students.csv",
        "teachers.csv",
        "sections.csv",
        "enrollments.csv",
    ]
    assert list(remote.iterdir()) == []  # a dry run touches nothing
    assert panel.push_button.disabled and not panel.confirm.disabled
    panel.confirm.value = True
    assert not panel.push_button.disabled
    pushed = panel.push()
    assert pushed is not None and pushed.outcome == "pushed"
    assert sorted(p.name for p in remote.iterdir()) == sorted(f.name for f in preview.plan.files)
    assert (remote / "sections.csv").read_bytes() == (tmp_path / "fixed/sections.csv").read_bytes()
    assert panel.confirm.value is False and panel.push_button.disabled  # one confirm, one push
    assert bench.store.rows("SELECT target, outcome FROM pushes") == [("drop", "pushed")]
    assert repr(panel).splitlines()[-1] == "  target: drop (pushed)"


def test_fix_panel_refuses_a_bundle_with_errors_unless_forced(tmp_path):
    """No rules for the new hire: the corrected bundle still has the error, so no push."""
    store = ingest_nights(tmp_path, new_hire_night())
    rules = tmp_path / "empty.rules.toml"
    rules.write_text("")
    opened = open_workbench(store, district="tiny")
    settings = Settings(
        store=store,
        config_path=None,
        targets={"drop": {"host": "127.0.0.1", "username": "u", "known_hosts": "kh"}},
    )
    bench = Workbench(opened.store, "tiny", opened.settings, opened.origin, settings)
    panel = FixPanel(bench, rules, target="drop")
    assert panel.result is not None and not panel.result.ok
    preview = panel.dry_run()
    assert isinstance(preview, PushPreview) and preview.refused
    panel.confirm.value = True
    assert panel.push() is None
    assert "1 error finding, so Clever would not process it, or skip or mislink" in (
        panel.status.value
    )
    assert bench.store.rows("SELECT count(*) FROM pushes") == [(0,)]


def test_a_dry_run_that_cannot_run_says_why_in_its_own_cell(tmp_path):
    """05_fix_and_push on a store whose rosterlab.toml lacks the target: the dry-run cell showed
    nothing (the reason sat in the panel, cells above); it now shows the reason itself."""
    store = ingest_nights(tmp_path, new_hire_night())
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    panel = FixPanel(open_workbench(store, district="tiny"), rules, target="clever-tiny")
    said = panel.dry_run()
    why = (
        "unknown target 'clever-tiny' (configured: none): add [targets.clever-tiny] to "
        "rosterlab.toml"
    )
    assert repr(said) == f"no dry run: {why}"
    assert f'<pre class="sev-error">{html.escape(why)}</pre>' in said._repr_html_()
    assert panel.error == why and panel.preview is None


# --- history ------------------------------------------------------------------------------


def test_sync_history_lists_rows_findings_and_file_notes(renamed):
    history = sync_history(renamed)
    assert repr(history).splitlines()[0] == "SyncHistory: tiny, 2 nights"
    columns, body = history.table()
    assert columns[:7] == ["night", "date", "origin", "Clever", "schools", "students", "contacts"]
    assert [row[:6] for row in body] == [
        [1, "2026-09-01", "upload", "processed", 2, 3],
        [2, "2026-09-02", "upload", "processed", 2, 4],
    ]
    assert ESCAPED not in history._repr_html_()  # names are not part of the history
