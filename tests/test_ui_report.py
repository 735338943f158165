"""The report machinery: parameter injection, the self-contained page, charts, redaction, and the
``report`` / ``lab`` commands' failures. The real run of ``rosterlab report`` opened in chromium
with networking disabled is in tests/test_browser.py.
"""

from __future__ import annotations

import base64
import html
import itertools
import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import polars as pl
import pytest

from rosterlab import spec, ui
from rosterlab.bundle import open_bundle
from rosterlab.checks import field_matrix, run_checks
from rosterlab.cli import main
from rosterlab.config import DistrictSettings
from rosterlab.diff import diff_snapshots
from rosterlab.errors import ReportError
from rosterlab.report import charts
from rosterlab.report.diff import diff_dict, diff_fragment, diff_text
from rosterlab.report.html_report import (
    findings_fragment,
    flags_fragment,
    inject_parameters,
    notebook_html,
    write_report,
)
from rosterlab.store import Store, ingest_bundle
from rosterlab.store.district_settings import record_district_settings
from rosterlab.ui import open_workbench
from tests.tiny import Night, tiny_night, write_night

SAMPLES = Path(__file__).parent.parent / "data" / "samples"

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def store_of(tmp_path: Path, *nights: Night) -> Path:
    path = tmp_path / "tiny.duckdb"
    with Store.open(path) as store:
        for number, night in enumerate(nights, start=1):
            when = datetime(2026, 9, number, 2, 0, tzinfo=UTC)
            with open_bundle(write_night(tmp_path / f"n{number}", night, when=when)) as bundle:
                ingest_bundle(store, bundle, district="tiny", taken_at=when)
    return path


def notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Report\n\nFor **you**."),
        nbformat.v4.new_code_cell('district = "x"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("secret_code()"),
    ]
    return nb


# --- parameters ---------------------------------------------------------------------------


def test_parameters_are_injected_right_after_the_parameters_cell():
    injected = inject_parameters(notebook(), {"district": "maple", "nights": (3, 4)})
    assert [c.source for c in injected.cells[1:4]] == [
        'district = "x"',
        "# Parameters injected by rosterlab\ndistrict = 'maple'\nnights = (3, 4)",
        "secret_code()",
    ]
    assert injected.cells[2].metadata.tags == ["injected-parameters"]
    nbformat.validate(injected)
    assert len(notebook().cells) == 3  # the original is untouched


def test_injection_needs_a_parameters_cell_and_plain_values():
    nb = notebook()
    nb.cells[1].metadata.tags = []
    with pytest.raises(ReportError, match="no cell tagged 'parameters'"):
        inject_parameters(nb, {"district": "maple"})
    with pytest.raises(ReportError, match="parameter store has unsupported type PosixPath"):
        inject_parameters(notebook(), {"store": Path("x")})  # type: ignore[dict-item]
    with pytest.raises(ReportError, match="'a b' is not a Python identifier"):
        inject_parameters(notebook(), {"a b": 1})


# --- the page -----------------------------------------------------------------------------


def test_the_page_has_no_code_escapes_text_and_inlines_images():
    nb = notebook()
    png = PNG_MAGIC + b"fake"
    nb.cells[2].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="<b>printed</b>"),
        nbformat.v4.new_output("stream", name="stderr", text="a warning"),
        nbformat.v4.new_output(
            "display_data",
            data={"image/png": base64.b64encode(png).decode(), "text/plain": 'Chart: "x" <y>'},
        ),
        nbformat.v4.new_output(
            "execute_result", data={"text/plain": "<script>alert(1)</script>"}, execution_count=1
        ),
        nbformat.v4.new_output(
            "display_data",
            data={"text/html": "<table><tr><td>1</td></tr></table>", "text/plain": "T"},
        ),
    ]
    page = notebook_html(nb, title="R <1>", footer="made & sent")
    assert "secret_code" not in page and 'district = "x"' not in page
    assert "<title>R &lt;1&gt;</title>" in page
    assert '<h1 id="Report">Report' in page and "<strong>you</strong>" in page
    assert "<pre>&lt;b&gt;printed&lt;/b&gt;</pre>" in page
    assert "a warning" not in page
    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    assert f'<img alt="Chart: &quot;x&quot; &lt;y&gt;" src="{uri}">' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script" not in page
    assert "<table><tr><td>1</td></tr></table>" in page
    assert "<footer>made &amp; sent</footer>" in page
    assert "http" not in page  # nothing to fetch


def test_report_is_written_atomically_and_never_over_a_folder(tmp_path):
    (tmp_path / "out").mkdir()  # a missing folder is refused (tests/test_lab_and_report_edges)
    written = write_report("<p>x</p>", tmp_path / "out" / "r.html")
    assert written == tmp_path / "out" / "r.html"
    assert written.read_text() == "<p>x</p>"
    assert sorted(p.name for p in written.parent.iterdir()) == ["r.html"]
    with pytest.raises(ReportError, match=r"is a folder: give a file name such as report\.html"):
        write_report("<p>x</p>", tmp_path / "out")


# --- charts -------------------------------------------------------------------------------


def truncated_night() -> Night:
    """Night 2: the export stopped after the first student: a mass deletion Clever holds."""
    night = tiny_night()
    night["students.csv"] = night["students.csv"][:3]
    night["enrollments.csv"] = night["enrollments.csv"][:2]
    return night


def test_charts_summarise_what_they_draw_and_are_reproducible(tmp_path):
    path = store_of(tmp_path, tiny_night(), truncated_night())
    with Store.open(path) as store:
        counts = charts.counts_per_night(store, "tiny")
        assert counts.filter(pl.col("entity") == "students")["rows"].to_list() == [3, 1]
        chart = charts.record_counts_chart(counts, "tiny")
        churn = charts.churn_chart([diff_snapshots(store, "tiny", 1, 2)], "tiny")
        again = charts.churn_chart([diff_snapshots(store, "tiny", 1, 2)], "tiny")
    assert repr(chart) == (
        "Chart: records per night, tiny, nights 1–2: schools 2→2, students 3→1, contacts 3→2, "
        "teachers 3→3, sections 2→2, enrollments 3→1"
    )
    assert repr(churn) == (
        "Chart: churn per night, tiny, nights 2–2; holds predicted: night 2 (students deletion, "
        "contacts deletion, enrollments deletion)"
    )
    assert churn.png == again.png and churn.png.startswith(PNG_MAGIC)
    bundle = chart._repr_mimebundle_()
    assert base64.b64decode(bundle["image/png"]) == chart.png
    assert bundle["text/plain"] == repr(chart)


def test_a_night_clever_did_not_process_is_no_drop_in_the_charts(tmp_path):
    """Night 2 lacks students.csv: Clever does not process it and keeps serving night 1. The
    records chart keeps it off the line (no plunge to 0 students) and the churn chart labels
    its empty column; the churn legend sits above the panels, over no bar or hold mark."""
    night = tiny_night()
    del night["students.csv"]
    renamed = tiny_night()
    renamed["students.csv"][3][3] = "Diaz-Ruiz"  # S-002, on night 3
    bench = open_workbench(store_of(tmp_path, tiny_night(), night, renamed), district="tiny")
    assert ui.record_counts(bench).summary.endswith(
        "; not processed by Clever: night 2 (off the line: Clever kept serving the night before)"
    )
    counts = charts.counts_per_night(bench.store, "tiny")
    figure, _ = charts.record_counts_figure(counts, "tiny", [2])
    students = figure.axes[1]
    assert students.get_title(loc="left") == "students"
    line, apart = students.lines
    assert (list(line.get_xdata()), list(line.get_ydata())) == ([1, 3], [3, 3])
    assert (list(apart.get_xdata()), list(apart.get_ydata())) == ([2], [0])

    results = ui.consecutive_diffs(bench)
    assert [r.not_processed for r in results] == ["missing-file: students.csv", None]
    churn = charts.churn_figure(results, "tiny")
    assert [ax.get_legend() for ax in churn.axes] == [None] * len(churn.axes)
    assert [t.get_text() for t in churn.legends[0].get_texts()] == ["added", "removed", "changed"]
    for ax in churn.axes:
        assert [t.get_text() for t in ax.texts] == ["not processed"]


# --- redaction ----------------------------------------------------------------------------


def odd_gender_night() -> Night:
    """A Gender outside the vocabulary (PII) and a Grade outside it (not PII)."""
    night = tiny_night()
    night["students.csv"][0] += ["Gender"]
    for row, gender in zip(night["students.csv"][1:], ["Q", "Q", "F", "M"], strict=True):
        row.append(gender)
    night["students.csv"][4][5] = "13th"
    return night


def test_redaction_masks_personal_values_in_findings_and_messages(tmp_path):
    path = store_of(tmp_path, odd_gender_night())
    with Store.open(path) as store:
        result = run_checks(store, 1)
    gender = [f for f in result.findings if f.field == "Gender"]
    assert [(f.key, f.value, f.rows) for f in gender] == [("S-001", "Q", 2)]  # one record
    plain_page, plain_text = findings_fragment(result)
    masked_page, masked_text = findings_fragment(result, redact=True)
    assert "<td>Q</td>" in plain_page and "<td>Q</td>" not in masked_page
    assert "'Q'" in plain_text and "'Q'" not in masked_text and "'•••'" in masked_text
    assert "<td>13th</td>" in masked_page  # Grade is not personal data


def test_report_gives_each_root_cause_its_one_hint(tmp_path):
    """Two enrollments in a section sections.csv lacks: one cause, one hint for both."""
    night = tiny_night()
    night["enrollments.csv"] += [["SCH-1", "SEC-9", "S-001"], ["SCH-2", "SEC-9", "S-002"]]
    path = store_of(tmp_path, night)
    with Store.open(path) as store:
        result = run_checks(store, 1)
    page, text = findings_fragment(result)
    hint = (
        "Every record listed points at SEC-9, which sections.csv lacks: add SEC-9 to "
        "sections.csv (an export that ran before the others?) or correct the references; one "
        "change fixes them all."
    )
    assert "<th>what to do</th>" in page
    assert f"<td>{html.escape(hint)}</td>" in page
    # the orphan enrollments' own hint is not listed again beside it (a cause's one hint: a
    # re-key's own 'restore T-1005/SCH-002' contradicted its cause's 'do not restore one by one')
    what_to_do = page.split("<h3>What to do</h3>")[1]
    assert "drop its enrollments" not in what_to_do
    assert "<td>extension-column</td>" in what_to_do  # no cause: its own hint stays
    assert text.splitlines()[1:3] == [
        "  cause sections/SEC-9 breaks 2 records (enrollment-unknown-section)",
        f"    what to do: {hint}",
    ]


def test_counts_read_as_english_one_and_many(tmp_path):
    """'1 flag', '1 field absent', '2 records' — as the CLI words counts, not 'flag(s)'."""
    dropped = tiny_night()
    position = dropped["students.csv"][0].index("Student_zip")
    dropped["students.csv"] = [
        [v for i, v in enumerate(row) if i != position] for row in dropped["students.csv"]
    ]
    with Store.open(store_of(tmp_path, tiny_night(), dropped)) as store:
        matrix = field_matrix(store, "tiny")
    _, text = flags_fragment(matrix)
    assert text.splitlines() == [
        "Field flags: tiny, 1 flag",
        "  night 2: column-dropped students Student_zip",
    ]
    assert charts.fill_rate_heatmap(matrix).summary.endswith(
        "; 1 field absent on some night; 1 flagged cell"
    )


# --- command failures ---------------------------------------------------------------------


def test_report_without_a_store_or_district_exits_two_with_one_line(tmp_path, capsys):
    missing = tmp_path / "none.duckdb"
    code = main(["--store", str(missing), "report", "--district", "tiny", "--out", "r.html"])
    assert code == 2
    assert capsys.readouterr().err == (
        f"rosterlab: no store at {missing}: ingest a bundle first (rosterlab ingest)\n"
    )
    path = store_of(tmp_path, tiny_night())
    code = main(["--store", str(path), "report", "--district", "oak", "--out", "r.html"])
    assert code == 2
    assert capsys.readouterr().err == (
        "rosterlab: district oak has no snapshots (the store holds tiny): check --district, or "
        "ingest its nights with rosterlab ingest\n"
    )


def test_report_from_previous_is_the_night_before_to(tmp_path, capsys):
    """`report --to n1` ran the notebook on (the district's second newest night, night 1) and
    failed inside it ('district_report.ipynb failed: … swap them'); --from previous is the night
    before --to, and a pair in the wrong order is refused before the notebook runs."""
    nights = [tiny_night() for _ in range(3)]
    for grade, night in zip(("10", "11", "12"), nights, strict=True):
        night["students.csv"][3][5] = grade  # S-002 a grade up every night
    path = store_of(tmp_path, *nights)
    out = tmp_path / "r.html"
    args = ["--store", str(path), "report", "--district", "tiny", "--out", str(out)]
    assert main([*args, "--to", "n1"]) == 2
    assert capsys.readouterr().err == (
        "rosterlab: snapshot 1 is tiny's first night, so there is no 'previous' night before it: "
        "give a later night to compare with it\n"
    )
    assert main([*args, "--from", "n3", "--to", "n2"]) == 2
    swapped = "rosterlab: --from night 3 comes after --to night 2: swap them\n"
    assert capsys.readouterr().err == swapped
    assert not out.exists()


def test_report_compares_with_the_state_clever_served_not_a_night_it_did_not_process(
    tmp_path, capsys
):
    """`report --district cedar --to n8` compared night 8 with night 7, which Clever did not
    process (students.csv missing): 200 students and 269 contacts 'added'. Like diff, the
    report compares with the state Clever served: night 6 there, night 1 here."""
    missing_students = tiny_night()
    del missing_students["students.csv"]
    graded = tiny_night()
    graded["students.csv"][3][5] = "11"  # S-002 to grade 11
    path = store_of(tmp_path, tiny_night(), missing_students, graded)
    out = tmp_path / "r.html"
    args = ["--store", str(path), "report", "--district", "tiny", "--out", str(out)]
    assert main(args) == 0
    page = out.read_text()
    assert "tiny (tiny): night 1 (2026-09-01) → night 3 (2026-09-03)" in page
    assert "snapshot 1 (night 1, 2026-09-01 02:00) → snapshot 3 (night 3, 2026-09-03 02:00)" in page
    # the records chart keeps night 2 off its line, and says so in its alt text
    assert "not processed by Clever: night 2 (off the line" in page
    # the time the report was made, with its zone (a district reads it in another)
    assert re.search(
        r"<footer>Generated by rosterlab \S+ on [-\d]{10} \d\d:\d\d UTC</footer>", page
    )
    assert main([*args, "--from", "previous"]) == 0  # asked for: the night before
    assert "snapshot 2 (night 2, 2026-09-02 02:00) → snapshot 3" in out.read_text()


def test_lab_refuses_a_missing_notebooks_folder(tmp_path, capsys):
    code = main(
        ["--store", str(tmp_path / "s.duckdb"), "lab", "--notebooks", str(tmp_path / "nope")]
    )
    assert code == 2
    assert capsys.readouterr().err == (
        f"rosterlab: --notebooks {tmp_path / 'nope'} is not a folder: give the notebooks folder\n"
    )


def contact_by_name_and_email_night() -> Night:
    """S-002 gets a contact known only by name and email, whose phone is not a phone number."""
    night = tiny_night()
    night["students.csv"][0] += ["Contact_email", "Contact_phone"]
    for row in night["students.csv"][1:]:
        row += ["", ""]
    night["students.csv"][3][7:13] = [
        "Primary",
        "Bartholomew Oyelaran",
        "",
        "blue",
        "b.oyelaran@mail.example.org",
        "call-me-maybe",
    ]
    return night


def test_redaction_masks_a_contact_identity_in_keys_messages_and_causes(tmp_path):
    """Incident: `report --redact` showed S-002/name+email:Bartholomew Oyelaran|b.oyelaran@…."""
    path = store_of(tmp_path, contact_by_name_and_email_night())
    with Store.open(path) as store:
        result = run_checks(store, 1)
    key = "S-002/name+email:Bartholomew Oyelaran|b.oyelaran@mail.example.org"
    assert [(f.code, f.key, f.field) for f in result.findings if f.entity == "contacts"] == [
        ("invalid-phone", key, "Contact_phone")
    ]
    page, text = findings_fragment(result, redact=True)
    personal = ("Bartholomew", "Oyelaran", "b.oyelaran", "call-me-maybe")
    assert [p for p in personal if p.lower() in (page + text).lower()] == []
    assert "<td>S-002/name+email:•••</td>" in page
    plain_page, _ = findings_fragment(result)
    assert f"<td>{key}</td>" in plain_page


def test_no_personal_value_of_the_samples_appears_in_a_redacted_report_or_diff(tmp_path):
    """Every PII value (spec flags; 5+ characters, no vocabulary) of maple's first three nights
    (clean, churn, broken references), in any case, in findings, field flags and diffs."""
    maple = tmp_path / "maple"
    for night in ("2026-09-01", "2026-09-02", "2026-09-03"):
        shutil.copytree(SAMPLES / "maple" / night, maple / night)
    path = tmp_path / "maple.duckdb"
    argv = ["--store", str(path), "ingest", str(maple), "--district", "maple", "--format", "json"]
    assert main(argv) == 0
    with Store.open(path) as store:
        nights = store.snapshots("maple")
        personal = set()
        for night in nights:
            for entity in spec.ENTITIES.values():
                frame = store.entity_frame(night.id, entity.name)
                for field in entity.fields:
                    if field.pii and not field.vocabulary and field.name in frame.columns:
                        personal |= {v.lower() for v in frame[field.name] if v and len(v) >= 5}
        shown = [
            text
            for night in nights
            for text in findings_fragment(
                run_checks(store, night.id), redact=True, lines_per_group=10**6
            )
        ]
        shown += flags_fragment(field_matrix(store, "maple"), redact=True)
        for old, new in itertools.pairwise(nights):
            diff = diff_snapshots(store, "maple", old.id, new.id, details=True)
            shown += [
                diff_text(diff, details=True, redact=True),
                diff_fragment(diff, details=True, redact=True),
                json.dumps(diff_dict(diff, details=True, redact=True), ensure_ascii=False),
            ]
    everything = html.unescape("\n".join(shown)).lower()
    assert len(personal) > 1000
    assert sorted(value for value in personal if value in everything) == []


def test_what_to_do_next_asks_for_root_causes_only_where_the_night_lists_them(tmp_path):
    """The latest night was not processed (students.csv missing): its findings list no root
    cause, yet 'What to do next' began 'Fix the root causes listed above'."""
    missing_students = tiny_night()
    del missing_students["students.csv"]
    path = store_of(tmp_path, tiny_night(), missing_students)
    out = tmp_path / "r.html"
    assert main(["--store", str(path), "report", "--district", "tiny", "--out", str(out)]) == 0
    page = " ".join(out.read_text().split())

    assert "Root causes (fix these first)" not in page
    assert "<td>missing-file</td>" in page
    assert "root causes listed above" not in page
    assert (
        "<li>Fix the problems listed above in your SIS or export: root causes first, where it "
        "lists any, biggest first; the hints say how.</li>"
    ) in page


@pytest.mark.parametrize(
    ("sync_type", "source"),
    [
        ("sftp", "the roster files your district uploads to Clever over SFTP every night"),
        (
            "sis-managed",
            "the roster files your student information system uploads to Clever every night",
        ),
        (
            "clever-managed",  # cedar: Clever reads its SIS; its nights are exports for support
            "your student information system's roster, which Clever reads from it itself "
            "(Clever-managed auto sync: you upload nothing) — nightly exports of your SIS and, "
            "where pulled, what Clever's Data API serves",
        ),
    ],
)
def test_the_report_says_where_the_roster_comes_from_by_the_districts_sync_type(
    tmp_path, sync_type, source
):
    path = store_of(tmp_path, tiny_night())
    with Store.open(path) as store:
        record_district_settings(store, DistrictSettings(district="tiny", sync_type=sync_type))
    bench = open_workbench(path, district="tiny")
    assert repr(ui.intro(bench)) == (
        f"This report was prepared from {source}. It shows how your roster changed from night "
        "to night, whether Clever is likely to hold (pause) your sync, the problems in the "
        "latest night that Clever would not process, skip or misread — grouped by root cause, "
        "so that fixing one cause clears many records — and which fields you send."
    )
    bench.close()
    assert set(ui.reports.ROSTER_SOURCES) == set(spec.SYNC_TYPES)


def test_a_reports_history_charts_end_at_its_to_night(tmp_path):
    """report --to 2 of a district with three nights: night 3 is after the report, not in it."""
    moved, renamed = tiny_night(), tiny_night()
    moved["students.csv"][4][5] = "12"  # S-003 moves up a grade on night 2
    renamed["students.csv"][3][3] = "Diaz-Ruiz"  # S-002, on night 3
    path = store_of(tmp_path, tiny_night(), moved, renamed)
    bench = open_workbench(path, district="tiny")
    nights = ("previous", 2)
    assert bench.until(nights) == (1, 2)
    assert bench.until(None) == (1, 3)  # previous → latest: the whole history
    assert [s.seq for s in ui.sync_history(bench, bench.until(nights)).nights] == [1, 2]
    assert [r.to_snapshot.seq for r in ui.consecutive_diffs(bench, bench.until(nights))] == [2]
    assert [s.seq for s in ui.matrix_for(bench, bench.until(nights)).snapshots] == [1, 2]
    bench.close()


def test_a_duplicated_id_reads_in_plain_words_in_the_diff(tmp_path):
    """Night 2 sends teacher T-1 twice with two emails: the district reads what that means,
    not how rosterlab picks a row (it said 'the lowest row hash stands for it')."""
    night = tiny_night()
    night["teachers.csv"].append(["SCH-1", "T-1", "Park", "Jo", "jo.park@new.example"])
    with Store.open(store_of(tmp_path, tiny_night(), night), read_only=True) as store:
        result = diff_snapshots(store, "tiny", 1, 2)
    lines = diff_text(result).splitlines()
    at = lines.index(
        "IDs sent on more than one row (differing rows at from → to; Clever does not say which "
        "it keeps: this compares one, picked the same way every night):"
    )
    assert lines[at + 1] == "  teachers T-1/SCH-1: 1 → 2"
    page = diff_fragment(result)
    assert (
        '<h2>IDs sent on more than one row</h2>\n<p class="muted">Each ID below came on several '
        "rows that differ. Clever does not say which one it keeps: this comparison uses one of "
        "them, picked the same way every night. Send each ID on one row.</p>"
    ) in page
    assert '<th>ID</th><th class="num">differing rows at from</th>' in page
    assert "row hash" not in page and "row hash" not in "\n".join(lines)


@pytest.mark.parametrize(
    ("sync_type", "heading"),
    [
        ("sftp", "Your uploads, night by night"),
        ("sis-managed", "Your SIS's uploads, night by night"),
        ("clever-managed", "Your roster as Clever holds it, night by night"),  # cedar: no uploads
    ],
)
def test_the_reports_history_heading_names_the_nights_by_the_districts_sync_type(
    tmp_path, sync_type, heading
):
    path = store_of(tmp_path, tiny_night())
    with Store.open(path) as store:
        record_district_settings(store, DistrictSettings(district="tiny", sync_type=sync_type))
    bench = open_workbench(path, district="tiny")
    shown = ui.history_heading(bench)
    bench.close()
    assert (repr(shown), shown._repr_html_()) == (heading, f"<h2>{html.escape(heading)}</h2>")
    assert set(ui.reports.HISTORY_HEADINGS) == set(spec.SYNC_TYPES)
