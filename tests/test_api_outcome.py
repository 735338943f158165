"""A snapshot pulled from the Data API is no upload: it is what Clever serves at the pull.

Nothing in it is skipped or held (Clever already applied it), so its outcome is ``served``; its
findings still describe served records (a section served without the teacher Clever skipped),
and the outcome counts them. Pulled through the real stand-in (a ``rosterlab api serve``
process) from tiny districts named for their incidents.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rosterlab.store import Store
from tests.api_standin import TOKEN, TOKEN_ENV, standin
from tests.cli_run import run
from tests.test_api import DISTRICT, configure
from tests.test_outcomes import ingest_nights
from tests.tiny import tiny_night, write_night


def api_pull(capsys: Any, store: Path | str, config: Path, *extra: str) -> tuple[int, str]:
    code, out, err = run(
        capsys,
        *("--store", str(store), "--config", str(config), "api", "pull", "--target", "standin"),
        *("--district", DISTRICT, *extra),
    )
    assert err == ""
    return code, out


def snapshots(capsys: Any, store: Path | str, *extra: str) -> str:
    code, out, _ = run(capsys, "--store", str(store), "snapshots", "--district", DISTRICT, *extra)
    assert code == 0
    return out


def test_a_section_whose_teacher_clever_skipped_is_served_not_skipped(
    tmp_path, capsys, monkeypatch
):
    """T-1 is uploaded without a last name: Clever skips the teacher and serves SEC-1 without
    it. The upload's outcome counts the skipped row; the pull of what Clever serves skips
    nothing — its finding (SEC-1's blank Teacher_id) describes a served record."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    night = tiny_night()
    night["teachers.csv"][1][2] = ""  # T-1 without its required Last_name
    store = ingest_nights(tmp_path, capsys, night)
    with standin(Path(store), DISTRICT) as origin:
        code, out = api_pull(capsys, store, configure(tmp_path, origin), "--format", "json")
    assert code == 0
    pulled = json.loads(out)
    assert {k: pulled[k] for k in ("outcome", "reason", "served_findings")} == {
        "outcome": "served",
        "reason": "pulled from the Data API",
        "served_findings": 1,
    }
    assert (pulled["skipped"], pulled["may_skip"], pulled["carried"], pulled["not_served"]) == (
        [], [], [], [],
    )  # fmt: skip
    assert pulled["findings_summary"] == {"error": 1, "warning": 0, "info": 1}

    listed = json.loads(snapshots(capsys, store, "--format", "json"))
    assert [(s["origin"], s["outcome"], s["skipped"]) for s in listed] == [
        ("upload", "processed", [{"file": "teachers.csv", "code": "missing-value", "rows": 1}]),
        ("api", "served", []),
    ]
    assert listed[1]["served_findings"] == 1
    assert "served_findings" not in listed[0]  # an upload's JSON is as it was
    table = snapshots(capsys, store).splitlines()
    column = table[0].index("outcome")
    assert [line[column:].split("  ")[0] for line in table[1:]] == [
        "processed, 1 row skipped",
        "served, 1 finding",
    ]

    code, out, _ = run(capsys, "--store", store, "check", "--district", DISTRICT)
    assert "missing-value" in out and "SEC-1" in out


def test_an_api_snapshot_never_shows_as_held_or_skipping(tmp_path, capsys, monkeypatch):
    """Two students of three leave between two pulls (67 % deleted, over the 10 % threshold):
    an upload would be held; the second pull is what Clever serves, so no hold is predicted
    and the text says so."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    gone = tiny_night()
    gone["students.csv"] = gone["students.csv"][:3]  # S-002 and S-003 removed
    gone["enrollments.csv"] = gone["enrollments.csv"][:2]
    uploads = Path(ingest_nights(tmp_path / "uploads", capsys, tiny_night(), gone))
    assert [s["outcome"] for s in json.loads(snapshots(capsys, uploads, "--format", "json"))] == [
        "processed",
        "held",
    ]
    pulls = tmp_path / "pulls.duckdb"
    for night in ("n1", "n2"):  # each upload served as it is, then pulled into another store
        with standin(uploads, DISTRICT, "--snapshot", night, "--as-is") as origin:
            code, out = api_pull(capsys, pulls, configure(tmp_path, origin))
        assert code == 0
        assert "held" not in out and "skipped" not in out
    lines = out.splitlines()
    told = next(i for i, line in enumerate(lines) if line.startswith("  Clever:"))
    assert lines[told : told + 3] == [
        "  Clever: served (pulled from the Data API), 1 finding describes served records",
        "    Clever already applied it and serves these records as they are (reconcile compares "
        "them with an upload)",
        "  findings: 0 errors, 1 warning, 1 info",
    ]

    assert [
        (s["outcome"], s["reason"], s["served_findings"], s["skipped"], s["may_skip"])
        for s in json.loads(snapshots(capsys, pulls, "--format", "json"))
    ] == [
        ("served", "pulled from the Data API", 0, [], []),
        ("served", "pulled from the Data API", 1, [], []),  # SEC-2 is served without students
    ]
    at_pulls = ("--store", str(pulls))
    code, out, _ = run(capsys, *at_pulls, "check", "--district", DISTRICT, "--format", "json")
    assert code == 0
    assert [f["code"] for f in json.loads(out)["findings"]] == [
        "extension-column",
        "section-without-students",
    ]  # no hold-mass-deletion
    code, out, _ = run(capsys, *at_pulls, "diff", "--district", DISTRICT)
    assert code == 0
    assert "students" in out and out.splitlines()[-1] == (
        "no hold: snapshot 2 is what Clever serves (pulled from the Data API), already applied"
    )
    code, out, _ = run(capsys, *at_pulls, "diff", "--district", DISTRICT, "--format", "json")
    diffed = json.loads(out)
    assert (diffed["outcome"], diffed["hold"]["predicted"]) == (
        {
            "to": "served",
            "reason": "pulled from the Data API",
            "from": "served",
            "from_reason": "pulled from the Data API",
        },
        False,
    )


def test_a_pull_words_its_blank_teacher_and_empty_section_as_served_not_skipped(
    tmp_path, capsys, monkeypatch
):
    """Incident: cedar's pull said "Teacher_id is blank but required; Clever skips this row" of
    sections Clever served. T-1 is uploaded without a last name, S-002 and S-003 without theirs:
    Clever skips them, and serves SEC-1 without its teacher and SEC-2 without students. On the
    upload the findings say the rows are skipped; on the pull, that the records are served so."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    night = tiny_night()
    night["teachers.csv"][1][2] = ""  # T-1 without its required Last_name
    night["students.csv"][3][3] = night["students.csv"][4][3] = ""  # S-002, S-003 too
    store = ingest_nights(tmp_path, capsys, night)
    with standin(Path(store), DISTRICT) as origin:
        code, _ = api_pull(capsys, store, configure(tmp_path, origin))
    assert code == 0

    def findings(snapshot: str) -> list[tuple[str, str | None, str, str]]:
        code, out, _ = run(
            capsys, "--store", store, "check", "--district", DISTRICT, "--snapshot", snapshot,
            "--format", "json",
        )  # fmt: skip
        assert code == 0
        return [
            (f["code"], f["key"], f["message"], f["hint"])
            for f in json.loads(out)["findings"]
            if f["code"] in ("missing-value", "section-without-students")
        ]

    skip_hint = "Fill Last_name for this record; a skipped row reads as a deletion of the record."
    assert findings("n1") == [
        ("missing-value", key, f"{entity} {key}: Last_name is blank but required; "
         "Clever skips this row.", skip_hint)
        for entity, key in (("students", "S-002"), ("students", "S-003"), ("teachers", "T-1/SCH-1"))
    ]  # fmt: skip
    served = [
        (
            "missing-value",
            "SEC-1",
            "sections SEC-1: Teacher_id is blank but required; Clever serves the record without "
            "it.",
            "Clever serves these records with Teacher_id blank. If Teacher_id names another "
            "record, Clever may have skipped that one (reconcile with the upload says why); else "
            "fill Teacher_id at the source.",
        ),
        (
            "section-without-students",
            "SEC-2",
            "section SEC-2 has no enrollments; Clever serves it without students.",
            "Clever serves the section with no students: check its enrollments at the source "
            "(reconcile with the upload shows any Clever did not serve).",
        ),
    ]
    assert findings("n2") == served
    code, out, _ = run(capsys, "--store", store, "check", "--district", DISTRICT)
    assert "Clever skips" not in out and "does not process" not in out


def test_the_report_of_a_district_whose_newest_night_is_its_first_pull(
    tmp_path, capsys, monkeypatch
):
    """Incident: after `make demo`, `rosterlab report --district cedar` failed ("snapshot 17 has
    no processed upload before it to compare with: give --from"): the churn chart diffed every
    night with the state Clever served before it, and a district's first pull has none (the
    state before a pull is the previous pull). That night has no churn; the report is written."""
    from rosterlab import ui

    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    renamed = tiny_night()
    renamed["students.csv"][3][3] = "Diaz-Ruiz"  # S-002 renamed on night 2
    store = ingest_nights(tmp_path, capsys, tiny_night(), renamed)
    with standin(Path(store), DISTRICT) as origin:
        code, _ = api_pull(capsys, store, configure(tmp_path, origin))
    assert code == 0
    bench = ui.open_workbench(store, district=DISTRICT)
    try:
        diffs = ui.consecutive_diffs(bench)
    finally:
        bench.close()
    assert [(d.from_snapshot.id, d.to_snapshot.id) for d in diffs] == [(1, 2)]  # no 2 → 3
    out = tmp_path / "report.html"
    code, printed, err = run(
        capsys, "--store", store, "report", "--district", DISTRICT, "--out", str(out)
    )
    assert (code, printed, err) == (0, f"report written to {out}\n", "")
    assert "served (pulled from the Data API)" in out.read_text()  # night 3 in the history
    # the diff of that night says why it has nothing to compare with, and what to do
    code, printed, err = run(capsys, "--store", store, "diff", "--district", DISTRICT)
    assert (code, printed, err) == (
        2,
        "",
        "rosterlab: snapshot 3 is maple's first pull from the Data API, and the state before a "
        "pull is the previous pull: give --from previous (the upload before it), or compare it "
        "with an upload by rosterlab reconcile\n",
    )


def test_a_pull_is_not_an_upload_to_fix(tmp_path, capsys, monkeypatch):
    """After `make demo`, `rosterlab fix --district cedar --rules …` corrected the Data API pull
    (latest): a bundle of what Clever serves, its blank Teacher_id worded 'Clever skips this
    row', for a district that uploads nothing. It names the upload to give instead."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    renamed = tiny_night()
    renamed["students.csv"][3][3] = "Diaz-Ruiz"
    store = ingest_nights(tmp_path, capsys, tiny_night(), renamed)
    with standin(Path(store), DISTRICT) as origin:
        assert api_pull(capsys, store, configure(tmp_path, origin))[0] == 0
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rules]]\nop = "drop"\nentity = "enrollments"\ncode = "enrollment-unknown-section"\n'
        'reason = "the section is gone"\n'
    )
    out = tmp_path / "fixed"
    fix = ("--store", store, "fix", "--district", DISTRICT, "--rules", str(rules))
    assert run(capsys, *fix, "--out", str(out)) == (
        2,
        "",
        "rosterlab: snapshot 3 is a pull from the Data API (what Clever serves), not an upload "
        "a corrected bundle could replace: give --snapshot an upload (maple's newest: n2)\n",
    )
    assert not out.exists()
    assert run(capsys, *fix, "--snapshot", "n2", "--out", str(out))[0] == 0


def test_the_field_matrix_compares_a_pull_with_pulls_as_the_checks_do(
    tmp_path, capsys, monkeypatch
):
    """Incident: after `make demo`, cedar's report ("The fields you send") flagged its pull with
    column-dropped Unweighted_gpa and Weighted_gpa and advised asking Clever Support to include
    them: the field matrix compared each night with the one before it, whatever its origin,
    while the checks compare a pull with the previous pull (the Data API never serves GPAs)."""
    from rosterlab.checks import field_matrix

    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with_gpa = tiny_night()
    for row in with_gpa["students.csv"]:
        row.insert(6, "Unweighted_gpa" if row[0] == "School_id" else "3.2")
    renamed = json.loads(json.dumps(with_gpa))
    renamed["students.csv"][3][3] = "Diaz-Ruiz"  # S-002 renamed on night 2
    store = ingest_nights(tmp_path, capsys, with_gpa, renamed)
    with standin(Path(store), DISTRICT) as origin:
        assert api_pull(capsys, store, configure(tmp_path, origin))[0] == 0
    with Store.open(store) as kept:
        matrix = field_matrix(kept, DISTRICT)
    gpa = next(r for r in matrix.fields if r.field == "Unweighted_gpa")
    assert gpa.present == (True, True, False)  # the pull does not serve it
    # its header's own flag only: no column-dropped against the upload before it
    assert [f.code for snapshot, f in matrix.flags if snapshot == 3] == ["extension-column"]
    code, out, err = run(
        capsys,
        "--store",
        store,
        "check",
        "--district",
        DISTRICT,
        "--snapshot",
        "3",
        "--format",
        "json",
    )
    assert (code, err) == (0, "")
    assert "column-dropped" not in out


def test_a_record_clever_skipped_is_not_served_by_a_pull_not_removed(tmp_path, capsys, monkeypatch):
    """T-1 is uploaded without a last name: Clever skips it, so the pull after the upload does
    not serve it. The district never removed T-1: the timeline says the pull did not serve it
    (a pull follows the previous pull, an upload the previous upload), and the next upload
    (T-1 whole again) is no re-appearance of the uploaded record but its fix, which the next
    pull serves."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    night = tiny_night()
    night["teachers.csv"][1][2] = ""  # T-1 without its required Last_name
    store = ingest_nights(tmp_path, capsys, night)
    with standin(Path(store), DISTRICT) as origin:
        code, _ = api_pull(capsys, store, configure(tmp_path, origin))
    assert code == 0
    time.sleep(1.1)  # the fix is uploaded after the pull, and pulled again after it
    later = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    code, _, err = run(
        capsys,
        *("--store", store, "ingest", str(write_night(tmp_path / "night-3", tiny_night()))),
        *("--district", DISTRICT, "--taken-at", later),
    )
    assert (code, err) == (0, "")
    time.sleep(1.1)
    with standin(Path(store), DISTRICT) as origin:
        code, _ = api_pull(capsys, store, configure(tmp_path, origin))
    assert code == 0

    code, out, err = run(
        capsys,
        *("--store", store, "timeline", "--district", DISTRICT),
        *("--entity", "teachers", "--key", "T-1", "--format", "json"),
    )
    assert (code, err) == (0, "")
    events = json.loads(out)["events"]
    assert [(e["seq"], e["change"], e["field"], e["old"], e["new"]) for e in events] == [
        (1, "first-seen", None, None, None),
        (2, "not-served", None, None, None),
        (3, "changed", "Last_name", None, "Park"),
        (4, "served", None, None, None),
    ]
    code, out, _ = run(
        capsys,
        *("--store", store, "timeline", "--district", DISTRICT),
        *("--entity", "teachers", "--key", "T-1"),
    )
    # in words, as the workbench's timeline table shows them (report.diff.TIMELINE_WORDS)
    assert [line.split(")  ")[1] for line in out.splitlines()[1:]] == [
        "first seen",
        "not served by the Data API (the uploads hold it)",
        "Last_name: ∅ → 'Park'",
        "served by the Data API",
    ]


def test_reconcile_against_a_night_clever_did_not_process_says_so(tmp_path, capsys, monkeypatch):
    """Night 2 sends no students.csv: Clever never processes it and keeps serving night 1. The
    pull after it is night 1's state, so reconciling night 2 with it would blame the served
    differences on rows Clever never read: reconcile says plainly what Clever served instead,
    and by default reconciles the pull with night 1, the upload Clever processed."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    night_2 = tiny_night()
    del night_2["students.csv"]
    night_2["teachers.csv"][1][3] = "Joanna"  # a change Clever never sees
    store = ingest_nights(tmp_path, capsys, tiny_night(), night_2)
    with standin(Path(store), DISTRICT) as origin:
        assert api_pull(capsys, store, configure(tmp_path, origin))[0] == 0

    code, out, err = run(
        capsys, "--store", store, "reconcile", "--district", DISTRICT, "--upload", "2"
    )
    assert (code, out) == (2, "")
    assert err == (
        "rosterlab: Clever never processed upload snapshot 2 (missing-file: students.csv) and kept "
        "serving snapshot 1's state: reconcile --upload 1 compares what it serves\n"
    )
    code, out, err = run(capsys, "--store", store, "reconcile", "--district", DISTRICT)
    assert (code, err) == (0, "")
    assert out.splitlines()[0].startswith(f"{DISTRICT}: upload snapshot 1 (")
    assert "no differences: Clever serves exactly what was uploaded" in out


def test_a_hand_exported_night_older_than_a_pull_is_put_before_it(tmp_path, capsys, monkeypatch):
    """cedar in `make demo`: its hand-exported nights, then a pull dated when it ran. The next
    hand export carries its own, earlier date: it was refused as older than "the newest
    snapshot" with no word that this is the pull, nor where --rebuild would put the night. The
    refusal names the pull; --rebuild puts the night before it, and the pull stays the state
    Clever serves after it."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    store = ingest_nights(tmp_path, capsys, tiny_night())
    with standin(Path(store), DISTRICT) as origin:
        assert api_pull(capsys, store, configure(tmp_path, origin))[0] == 0
    pulled_at = json.loads(snapshots(capsys, store, "--format", "json"))[1]["taken_at"]
    renamed = tiny_night()
    renamed["teachers.csv"][1][3] = "Joanna"
    night = str(write_night(tmp_path / "2026-09-02", renamed))
    ingest = ("--store", store, "ingest", night, "--district", DISTRICT)

    code, out, err = run(capsys, *ingest)
    assert (code, out) == (2, "")
    assert err == (
        f"rosterlab: {night} was taken at 2026-09-02 02:00, before district maple's Data API "
        f"pull, snapshot 2 (pulled {pulled_at[:16].replace('T', ' ')}): re-run with --rebuild to "
        "put the night in time order before the pull (what Clever served when it was pulled "
        "stays the served state after it)\n"
    )
    code, out, err = run(capsys, *ingest, "--rebuild")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "maple 2026-09-02 02:00 → snapshot 3 (night 2, new)"
    listed = json.loads(snapshots(capsys, store, "--format", "json"))
    assert [(s["id"], s["seq"], s["origin"], s["outcome"]) for s in listed] == [
        (1, 1, "upload", "processed"),
        (3, 2, "upload", "processed"),
        (2, 3, "api", "served"),
    ]
    code, out, _ = run(capsys, "--store", store, "reconcile", "--district", DISTRICT)
    assert code == 0
    assert out.splitlines()[0].startswith(f"{DISTRICT}: upload snapshot 3 (2026-09-02 02:00) vs ")


def test_reconcile_of_a_held_upload_says_clever_serves_it_only_once_approved(
    tmp_path, capsys, monkeypatch
):
    """Night 2 drops S-003 (a third of the students: held) and renames T-1: Clever serves it
    only once the district approves the hold, so the pull after it is night 1's state.
    Reconcile compared night 2 with it as if Clever had processed it (S-003 stale, T-1's name
    an unexplained difference); it now says first that the upload is held and which state
    Clever serves until the district approves, and that state reconciles with no difference.
    Each difference night 1's state explains is the hold's (served-held), none unexplained."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    held = tiny_night()
    del held["students.csv"][4]  # S-003
    del held["enrollments.csv"][3]
    held["teachers.csv"][1][3] = "Joanna"
    store = ingest_nights(tmp_path, capsys, tiny_night(), held)
    with standin(Path(store), DISTRICT) as origin:  # serves what Clever serves: night 1's state
        assert api_pull(capsys, store, configure(tmp_path, origin))[0] == 0

    reconcile = ("--store", store, "reconcile", "--district", DISTRICT)
    code, out, _ = run(capsys, *reconcile, "--format", "json")
    assert code == 0
    result = json.loads(out)
    assert (result["upload"]["id"], result["upload"]["outcome"]) == (2, "held")
    assert result["differences"] == {"served-held": 4, "upload-held": 1}
    assert result["unexplained"] == 0
    first = result["findings"][0]
    assert (first["code"], first["severity"], first["message"], first["hint"]) == (
        "upload-held",
        "warning",
        "upload snapshot 2 is held for contacts deletion, enrollments deletion, students "
        "deletion: Clever serves it only once the district approves the hold, and snapshot 1's "
        "state until then: a difference that state explains is listed as served-held.",
        "Approve or discard the hold in Clever's dashboard; while it is pending, reconcile "
        "--upload 1 compares what it serves.",
    )
    state = "as in snapshot 1 (the state Clever serves until the district approves the hold)"
    assert [(f["code"], f["message"]) for f in result["findings"][1:]] == [
        ("served-held", f"students {state}: records the held upload removes, still served: 1."),
        ("served-held", f"contacts {state}: records the held upload removes, still served: 1."),
        (
            "served-held",
            f"teachers First_name {state}: values the held upload changes, served unchanged: 1.",
        ),
        ("served-held", f"enrollments {state}: records the held upload removes, still served: 1."),
    ]
    assert result["findings"][1]["hint"] == (
        "Nothing to fix in these records: approve or discard the hold in Clever's dashboard; "
        "reconcile --upload 1 compares what Clever serves meanwhile."
    )
    code, out, _ = run(capsys, *reconcile, "--upload", "1")
    assert code == 0
    assert out.splitlines()[-1] == "  no differences: Clever serves exactly what was uploaded"


def test_reconcile_of_a_held_upload_leaves_unexplained_what_the_live_state_does_not_explain(
    tmp_path, capsys, monkeypatch
):
    """Night 2 renames T-1 Joanna (processed: the live state). Night 3 drops S-003 (held),
    adds S-004 and renames T-1 Jolene. The pull serves night 1 as it is — T-1 still Jo, which
    neither the held upload nor the live state has: that one difference stays unexplained;
    S-003 still served and S-004 not served are the hold's."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    renamed = tiny_night()
    renamed["teachers.csv"][1][3] = "Joanna"
    held = tiny_night()
    del held["students.csv"][4]  # S-003
    del held["enrollments.csv"][3]
    held["students.csv"].append(["SCH-1", "S-004", "00999", "Ng", "Di", "3", "", "", "", "", ""])
    held["teachers.csv"][1][3] = "Jolene"
    store = ingest_nights(tmp_path, capsys, tiny_night(), renamed, held)
    listed = json.loads(snapshots(capsys, store, "--format", "json"))
    assert [s["outcome"] for s in listed] == ["processed", "processed", "held"]
    with standin(Path(store), DISTRICT, "--snapshot", "1", "--as-is") as origin:
        assert api_pull(capsys, store, configure(tmp_path, origin))[0] == 0

    reconcile = ("--store", store, "reconcile", "--district", DISTRICT, "--format", "json")
    code, out, _ = run(capsys, *reconcile)
    assert code == 0
    result = json.loads(out)
    assert result["upload"]["id"] == 3
    assert result["differences"] == {"served-held": 4, "upload-held": 1, "value-differs": 1}
    assert result["unexplained"] == 1
    state = "as in snapshot 2 (the state Clever serves until the district approves the hold)"
    assert [(f["code"], f["key"], f["message"]) for f in result["findings"]][1:] == [
        ("served-held", None, f"students {state}: records the held upload adds, not served: 1."),
        (
            "served-held",
            None,
            f"students {state}: records the held upload removes, still served: 1.",
        ),
        (
            "served-held",
            None,
            f"contacts {state}: records the held upload removes, still served: 1.",
        ),
        (
            "value-differs",
            "T-1/SCH-1",
            "teachers T-1/SCH-1 First_name: uploaded 'Jolene', served 'Jo'.",
        ),
        (
            "served-held",
            None,
            f"enrollments {state}: records the held upload removes, still served: 1.",
        ),
    ]


def test_a_held_upload_s_changed_value_served_as_clever_normalises_the_live_one_is_the_hold_s(
    tmp_path, capsys, monkeypatch
):
    """Night 1 sends S-001's Frl_status as the long form Free, which Clever serves as F. Night
    2 (held: S-003 dropped) changes it to Reduced. Served: F — neither Reduced nor a
    normalisation of it, but Clever's form of night 1's Free: the hold's, not unexplained."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)

    def with_frl(frl: str) -> dict[str, list[list[str]]]:
        night = tiny_night()
        night["students.csv"][0].append("Frl_status")
        for row in night["students.csv"][1:]:
            row.append(frl if row[1] == "S-001" else "")
        return night

    held = with_frl("Reduced")
    del held["students.csv"][4]  # S-003
    del held["enrollments.csv"][3]
    store = ingest_nights(tmp_path, capsys, with_frl("Free"), held)
    with standin(Path(store), DISTRICT) as origin:  # night 1's state
        assert api_pull(capsys, store, configure(tmp_path, origin))[0] == 0

    code, out, _ = run(
        capsys, "--store", store, "reconcile", "--district", DISTRICT, "--format", "json"
    )
    assert code == 0
    result = json.loads(out)
    assert result["unexplained"] == 0
    frl = [f for f in result["findings"] if f["field"] == "Frl_status"]
    assert [(f["code"], f["value"], f["cause"]) for f in frl] == [
        ("served-held", "1", "values the held upload changes, served unchanged")
    ]
