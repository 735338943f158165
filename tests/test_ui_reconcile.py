"""The reconcile widget and ``ui.pull_api``, headless: a real stand-in process, real stores.

Incident: on night 2 the SIS wrote student S-003 under school SCH-9, which schools.csv lacks.
Clever skips the student, and with it their contact and enrollment; the widget must say so
with the upload's own finding as the reason.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rosterlab import ui
from rosterlab.bundle import open_bundle
from rosterlab.errors import SnapshotNotFoundError
from rosterlab.store import Store, ingest_bundle
from rosterlab.ui import ReconcileView, open_workbench, pull_api
from tests.api_standin import TOKEN, TOKEN_ENV, standin
from tests.tiny import Night, tiny_night, write_night

SERVED_SCOPE = (
    "districts 1 · schools 2 · terms 0 · courses 2 · sections 2 · users-student 2 · "
    "users-teacher 3 · users-staff 0 · users-contact 2"
)


def unknown_school_night() -> Night:
    night = tiny_night()
    night["students.csv"][4][0] = "SCH-9"  # S-003
    return night


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The samples are a tiny district in tmp_path; the sample-store cache too."""
    samples = tmp_path / "samples" / "tiny"
    write_night(samples / "2026-09-01", tiny_night())
    write_night(samples / "2026-09-02", unknown_school_night())
    (samples / "district.toml").write_text('name = "Tiny USD"\nsync_type = "sftp"\n')
    monkeypatch.setenv("ROSTERLAB_SAMPLES", str(tmp_path / "samples"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)


def test_pull_api_serves_a_sample_night_through_the_standin_and_the_view_explains_the_skips():
    bench = open_workbench(None, district="tiny")
    pulled = pull_api(bench, 2)
    assert repr(pulled) == (
        "tiny: pulled the local stand-in serving night 2 (Data API v3.1) into snapshot #3 "
        f"(origin api), 9 pages\n  served: {SERVED_SCOPE}"
    )
    assert [(s.id, s.origin) for s in bench.snapshots] == [(1, "upload"), (2, "upload"), (3, "api")]
    # checked as `rosterlab api pull` checks it: the check ran and its outcome was stored
    assert bench.store.rows("SELECT snapshot_id FROM check_runs WHERE snapshot_id = 3") == [(3,)]
    assert bench.store.rows("SELECT outcome FROM snapshot_outcomes WHERE snapshot_id = 3") == [
        ("served",)  # a pull is what Clever serves
    ]
    view = ReconcileView(bench, page_size=2)
    assert (view.upload.value, view.served.value) == (2, 3)
    assert repr(view).splitlines() == [
        "ReconcileView: tiny, upload night 2 (#2) vs served snapshot #3 (API v3.1): "
        "3 differences, 0 unexplained",
        # the records reconcile finds skipped are the row the outcome said may be skipped (S-003
        # and its contact) and the one row it carries (its enrollment)
        "  Clever: processed, 1 row may be skipped (unconfirmed), 1 row carried with skipped "
        "records; hold thresholds 10% deleted, 75% updated",
        "  entity        uploaded    served   matched identical",
        "  schools              2         2         2         2",
        "  students             3         2         2         2",
        "  contacts             3         2         2         2",
        "  teachers             3         3         3         3",
        "  sections             2         2         2         2",
        "  enrollments          3         2         2         2",
        "  staff                0         0         0         0",
        "  warning served-skipped ×3",
        "  showing (all differences): rows 1–2 of 3",
        "    served-skipped: students S-003 was uploaded but is not served: Clever skipped it "
        "(unknown-school: its consequence is unconfirmed, the upload's outcome says it may be "
        "skipped).",
        "    served-skipped: contacts S-003/sis_id:C-3 was uploaded but is not served: Clever "
        "skipped it with students S-003 (unknown-school: its consequence is unconfirmed, the "
        "upload's outcome says it may be skipped).",
    ]
    view.pager.next.click()
    assert repr(view).splitlines()[-2:] == [
        "  showing (all differences): rows 3–3 of 3",
        "    served-skipped: enrollments SEC-2/S-003 was uploaded but is not served: Clever "
        "skipped it with students S-003 (unknown-school: its consequence is unconfirmed, the "
        "upload's outcome says it may be skipped).",
    ]
    assert view.table.value.count("<tr>") == 2  # header + the one row of the last page
    # the sentence `rosterlab reconcile` prints: what Clever did with the upload, and why
    assert (
        "</p><p>Clever: processed, 1 row may be skipped (unconfirmed), 1 row carried with "
        "skipped records; hold thresholds 10% deleted, 75% updated</p>"
    ) in (view.summary.value)
    assert "<p><b>What to do:</b>" in view.table.value
    view.upload.value = 1  # the clean night: nothing in it explains why S-003 is not served
    assert repr(view).splitlines()[0] == (
        "ReconcileView: tiny, upload night 1 (#1) vs served snapshot #3 (API v3.1): "
        "3 differences, 1 unexplained"
    )
    assert view.code.options == ("(all differences)", "served-missing", "served-skipped")
    assert repr(view).splitlines()[10:12] == [
        "  error   served-missing ×1",
        "  warning served-skipped ×2",
    ]
    assert repr(pull_api(bench, 2)) == (
        "tiny: the local stand-in serving night 2 (Data API v3.1) serves what snapshot #3 "
        "holds: no new snapshot"
    )
    bench.close()


def test_the_view_filters_by_code_and_escapes_what_the_district_sent():
    bench = open_workbench(None, district="tiny")
    pull_api(bench, "latest")
    view = ReconcileView(bench, upload=2)
    view.code.value = "served-skipped"
    assert repr(view).splitlines()[-4] == "  showing served-skipped: rows 1–3 of 3"
    assert "<td>served-skipped</td><td>warning</td><td>3</td><td>3</td>" in (
        view.summary.value.replace('<td class="num">', "<td>")
    )
    bench.close()


def test_without_an_api_snapshot_the_view_says_to_pull_and_a_pull_names_an_upload():
    bench = open_workbench(None, district="tiny")
    with pytest.raises(SnapshotNotFoundError, match=r"run ui\.pull_api\(bench\) or rosterlab"):
        ReconcileView(bench)
    pull_api(bench, 1)
    refused = pull_api(bench, 3)  # the cell shows one line, no traceback
    assert repr(refused) == "no pull: snapshot 3 is an API pull: name an uploaded night of tiny"
    assert refused._repr_html_().endswith(
        '<pre class="sev-error">no pull: snapshot 3 is an API pull: name an uploaded night of '
        "tiny</pre></div>"
    )
    bench.close()


def test_a_real_store_pulls_from_its_api_target_and_never_from_the_sample_standin(
    tmp_path, monkeypatch
):
    path = tmp_path / "real.duckdb"
    with Store.open(path) as store:
        for day, night in ((1, tiny_night()), (2, unknown_school_night())):
            when = datetime(2026, 9, day, 2, 0, tzinfo=UTC)
            with open_bundle(write_night(tmp_path / f"n{day}", night, when=when)) as bundle:
                ingest_bundle(store, bundle, district="tiny", taken_at=when)
    with standin(path, "tiny") as origin:
        (tmp_path / "rosterlab.toml").write_text(
            f'[api.oak]\nbase_url = "{origin}"\nversion = "3.0"\ntoken_env = "{TOKEN_ENV}"\n'
        )
        bench = open_workbench(path, district="tiny")
        assert repr(pull_api(bench)) == (  # notebook 06 on a real store, no target=
            "no pull: the local stand-in serves the sample districts only: give target= an "
            "[api.NAME] of your rosterlab.toml, or run rosterlab api serve on a copy of the store"
        )
        assert repr(pull_api(bench, target="oak")) == (  # its token not in the env yet
            f"no pull: environment variable {TOKEN_ENV} (token_env of [api.oak]) is not set: "
            "export the district-app token in it before running"
        )
        monkeypatch.setenv(TOKEN_ENV, TOKEN)
        pulled = pull_api(bench, target="oak")
    assert repr(pulled) == (
        "tiny: pulled [api.oak] (Data API v3.0) into snapshot #3 (origin api), 9 pages\n"
        f"  served: {SERVED_SCOPE}"
    )
    assert repr(ReconcileView(bench)).splitlines()[0] == (
        "ReconcileView: tiny, upload night 2 (#2) vs served snapshot #3 (API v3.0): "
        "3 differences, 0 unexplained"
    )
    bench.close()


HELD = (
    "Clever: held (hold: enrollments deletion, students deletion); hold thresholds 10% deleted, "
    "75% updated"
)


def test_a_held_upload_is_said_held_with_the_thresholds_that_held_it(tmp_path):
    """Incident: on night 3 the export lost Bo Diaz (S-002), a third of the students; Clever
    holds the sync and keeps serving night 2, which the view must say before any difference;
    night 2's state explains every difference (S-002 still served; S-003, skipped on night 2,
    not served either): none is unexplained."""
    night = tiny_night()
    night["students.csv"] = [r for r in night["students.csv"] if r[1] != "S-002"]
    night["enrollments.csv"] = [r for r in night["enrollments.csv"] if r[2] != "S-002"]
    write_night(tmp_path / "samples" / "tiny" / "2026-09-03", night)
    bench = open_workbench(None, district="tiny")
    pull_api(bench, 3)
    view = ReconcileView(bench)
    assert repr(view).splitlines()[:2] == [
        "ReconcileView: tiny, upload night 3 (#3) vs served snapshot #4 (API v3.1): "
        "6 differences, 0 unexplained",
        f"  {HELD}",
    ]
    assert f"<p>{HELD}</p>" in view.summary.value
    listed = repr(view).splitlines()
    at = listed.index("  info    served-held ×5")
    assert listed[at : at + 5] == [
        "  info    served-held ×5",
        "  warning upload-held ×1",
        "  showing (all differences): rows 1–6 of 6",
        "    upload-held: upload snapshot 3 is held for enrollments deletion, students deletion: "
        "Clever serves it only once the district approves the hold, and snapshot 2's state until "
        "then: a difference that state explains is listed as served-held.",
        "    served-held: students as in snapshot 2 (the state Clever serves until the district "
        "approves the hold): records not served in that state either (unknown-school): 1.",
    ]
    bench.close()


def test_a_report_on_a_pull_reconciles_it_with_the_upload_instead_of_calling_skips_removed():
    """The district report's night is a pull (cedar after `make demo`): its title, its "what
    changed" and its findings say it is what Clever serves; the skipped student is a skip with
    its reason, not a removal, and the findings are not an upload Clever might not process."""
    bench = open_workbench(None, district="tiny")
    pull_api(bench, 2)
    served = bench.snapshot(3)
    day = f"{served.taken_at:%Y-%m-%d}"
    assert ui.title(bench, (2, 3)).text == (
        f"Tiny USD (tiny): night 2 (2026-09-02) → night 3 ({day}, what Clever serves)"
    )
    summary = ui.diff_summary(bench, (2, 3))
    assert summary.text.splitlines() == [
        f"Night 3 is what Clever serves (pulled from the Data API v3.1 on {day}), not an upload: "
        "compared with the upload of night 2 (2026-09-02), each difference with its reason.",
        "The upload of night 2 — Clever: processed, 1 row may be skipped (unconfirmed), 1 row "
        "carried with skipped records; hold thresholds 10% deleted, 75% updated.",
        "  entity        uploaded    served   matched identical",
        "  schools              2         2         2         2",
        "  students             3         2         2         2",
        "  contacts             3         2         2         2",
        "  teachers             3         3         3         3",
        "  sections             2         2         2         2",
        "  enrollments          3         2         2         2",
        "  staff                0         0         0         0",
        "  differences: 3 (0 unexplained)",
        "    warning served-skipped ×3: Uploaded, not served: Clever skipped it",
    ]
    assert "removed" not in summary.html
    assert "<td>served-skipped</td>" in summary.html
    findings = ui.night_findings(bench, 3)
    assert findings.text.splitlines()[0].endswith(
        " — in what Clever serves (pulled from the Data API)"
    )
    assert "Clever does not process the upload" not in findings.html
    # an upload's night still reads as an upload
    assert "Clever does not process the upload" in ui.night_findings(bench, 2).html


def test_the_diff_explorer_chooses_its_from_night_as_diff_does():
    """After the district's first pull the explorer compared the upload before it with the
    pull (every field the API never serves "changed"), a pair `diff` refuses by default; and
    moving "to" before "from" left a backward pair. The from-night is diff's: live. Its
    refusal said diff's CLI words ("give --from previous"): a widget user has no flags; it
    says which night to pick in the widget instead."""
    bench = open_workbench(None, district="tiny")
    pull_api(bench, "latest")  # snapshot 3, what Clever serves of night 2
    explorer = ui.DiffExplorer(bench)
    served = bench.snapshot(3)
    refusal = (
        f"no diff: night 3 ({served.taken_at:%Y-%m-%d}) is tiny's first pull from the Data API, "
        "and the state before a pull is the previous pull: pick the upload before it, night 2 "
        '(2026-09-02), in "from", or compare it with an upload in the reconcile view '
        "(ui.ReconcileView)"
    )
    assert repr(explorer) == f"DiffExplorer: tiny, {refusal}"
    assert explorer.summary.value.endswith(f'<div class="hold">{html.escape(refusal)}</div></div>')
    assert explorer.tabs.children == ()
    explorer.picker.from_box.value = 2  # picked by hand, as diff --from 2
    assert explorer.result is not None
    assert (explorer.result.from_snapshot.id, explorer.result.to_snapshot.id) == (2, 3)
    explorer.picker.to_box.value = 2  # to before from: from follows, as diff's default
    assert (explorer.result.from_snapshot.id, explorer.result.to_snapshot.id) == (1, 2)
    assert repr(explorer).splitlines()[1] == "  no hold predicted"
    bench.close()


def test_a_report_from_a_night_clever_did_not_process_to_a_pull_reconciles_what_it_served(
    tmp_path,
):
    """report --from n3 --to n4: night 3 lacks students.csv (Clever does not process it) and
    snapshot 4 is a pull. The report failed with reconcile's one line ('Clever never processed
    upload snapshot 3 …'); it says so and compares the pull with the upload Clever serves from."""
    samples = tmp_path / "samples" / "elm"
    write_night(samples / "2026-09-01", tiny_night())
    write_night(samples / "2026-09-02", unknown_school_night())
    missing = tiny_night()
    del missing["students.csv"]
    write_night(samples / "2026-09-03", missing)
    (samples / "district.toml").write_text('name = "Elm USD"\nsync_type = "sftp"\n')
    bench = open_workbench(None, district="elm")
    pull_api(bench, 2)  # snapshot 4: what Clever serves of night 2
    text = repr(ui.diff_summary(bench, (3, 4))).splitlines()
    assert text[0] == (
        "Clever did not process the upload of night 3 (2026-09-03) (missing-file: students.csv), "
        "so it never served it: it kept serving night 2 (2026-09-02)'s state, which what Clever "
        "serves is compared with."
    )
    assert text[1].startswith("Night 4 is what Clever serves (pulled from the Data API v3.1 on ")
    assert text[1].endswith(  # the pull's date is today's
        "), not an upload: compared with the upload of night 2 (2026-09-02), each difference "
        "with its reason."
    )
    bench.close()


def test_a_report_from_a_night_clever_did_not_process_to_a_later_pull_does_not_compare_them(
    tmp_path,
):
    """report --from n2 --to n4: night 2 lacks students.csv (Clever kept serving night 1),
    night 3 was processed, snapshot 4 is a pull of what Clever serves after it. The report
    compared the pull with night 3 — the last processed upload before the pull, later than
    the night named — so what Clever served at night 2 was never shown. The pull shows night
    3's state, not night 2's: the report says so and names the two comparisons that answer."""
    samples = tmp_path / "samples" / "elm"
    write_night(samples / "2026-09-01", tiny_night())
    missing = tiny_night()
    del missing["students.csv"]
    write_night(samples / "2026-09-02", missing)
    write_night(samples / "2026-09-03", unknown_school_night())
    (samples / "district.toml").write_text('name = "Elm USD"\nsync_type = "sftp"\n')
    bench = open_workbench(None, district="elm")
    pull_api(bench, 3)  # snapshot 4: what Clever serves of night 3
    pulled = f"{bench.snapshot(4).taken_at:%Y-%m-%d}"
    summary = ui.diff_summary(bench, (2, 4))
    assert repr(summary).splitlines() == [
        "Clever did not process the upload of night 2 (2026-09-02) (missing-file: students.csv), "
        "so it never served it, and it kept serving night 1 (2026-09-01)'s state. Night 4 "
        f"({pulled}, what Clever serves) comes after night 3 (2026-09-03), which Clever applied: "
        "it shows night 3 (2026-09-03)'s state, not what Clever served at night 2 (2026-09-02), "
        "so the two are not compared. Compare night 3 (2026-09-03) with it, or night 1 "
        "(2026-09-01) with night 2 (2026-09-02) for what Clever kept then."
    ]
    assert "served-skipped" not in summary.html
    bench.close()
