"""What Clever does with each upload (processed, held, not processed) and the live state that
diff, holds, timelines and charts compare with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_run import run
from tests.tiny import Night, tiny_night, write_night


def ingest_nights(tmp_path: Path, capsys, *nights: Night) -> str:
    """Ingest nights 1..n of district maple (one day apart) through the CLI, checks included."""
    store = str(tmp_path / "store.duckdb")
    for k, night in enumerate(nights, start=1):
        folder = write_night(tmp_path / f"night-{k}", night)
        code, _, err = run(
            capsys,
            *("--store", store, "ingest", str(folder), "--district", "maple"),
            *("--taken-at", f"2026-09-0{k}T02:00:00"),
        )
        assert (code, err) == (0, "")
    return store


def snapshots_json(capsys, store: str) -> list[dict]:
    code, out, _ = run(capsys, "--store", store, "snapshots", "--format", "json")
    assert code == 0
    return json.loads(out)


@pytest.fixture
def missing_students(tmp_path, capsys) -> str:
    """Night 2 sends no students.csv (the export job failed); night 3 is whole again, with
    S-002 moved to grade 11."""
    night_2 = tiny_night()
    del night_2["students.csv"]
    night_3 = tiny_night()
    night_3["students.csv"][3][5] = "11"
    return ingest_nights(tmp_path, capsys, tiny_night(), night_2, night_3)


def test_a_missing_required_file_is_not_processed_and_says_why(missing_students, capsys):
    listed = snapshots_json(capsys, missing_students)
    assert [(s["seq"], s["outcome"], s["reason"]) for s in listed] == [
        (1, "processed", ""),
        (2, "not-processed", "missing-file: students.csv"),
        (3, "processed", ""),
    ]
    code, out, _ = run(capsys, "--store", missing_students, "snapshots")
    assert code == 0
    assert [line.split()[6] for line in out.splitlines()[1:]] == [
        "processed",
        "not-processed",
        "processed",
    ]


def test_diff_compares_tonight_with_the_last_processed_upload(missing_students, capsys):
    code, out, _ = run(
        capsys, "--store", missing_students, "diff", "--district", "maple", "--format", "json"
    )
    payload = json.loads(out)
    assert code == 0
    assert (payload["from"], payload["to"]) == (1, 3)
    assert payload["entities"]["students"] | {"fields": None, "duplicates": None} == {
        "added": 0,
        "removed": 0,
        "changed": 1,
        "unchanged": 2,
        "fields": None,
        "duplicates": None,
    }
    assert payload["hold"] == {"predicted": False, "reasons": []}


def test_from_previous_keeps_the_night_before(missing_students, capsys):
    code, out, _ = run(
        capsys,
        *("--store", missing_students, "diff", "--district", "maple"),
        *("--from", "previous", "--format", "json"),
    )
    payload = json.loads(out)
    assert (code, payload["from"], payload["to"]) == (0, 2, 3)
    assert payload["entities"]["students"]["added"] == 3


def test_a_diff_from_a_night_clever_did_not_process_says_so(missing_students, capsys):
    """Incident: `diff --from previous` out of night 2 (no students.csv) listed 3 students
    added with no word that Clever never served night 2 — the workbench's explorer said it,
    the CLI's text, JSON and the report's HTML did not. They say which night Clever served."""
    diff = ("--store", missing_students, "diff", "--district", "maple", "--from", "previous")
    said = (
        "from night 2 (2026-09-02): Clever did not process it (missing-file: students.csv), so "
        "its records never reached the apps; it served night 1's state: compare with night 1"
    )

    code, out, _ = run(capsys, *diff)
    assert (code, out.splitlines()[:2]) == (
        0,
        [
            "maple: snapshot 2 (night 2, 2026-09-02 02:00) → snapshot 3 (night 3, "
            "2026-09-03 02:00)",
            said,
        ],
    )
    code, out, _ = run(capsys, *diff, "--format", "json")
    assert json.loads(out)["outcome"] == {
        "to": "processed",
        "reason": "",
        "from": "not-processed",
        "from_reason": "missing-file: students.csv",
        "live": 1,
    }
    code, out, _ = run(capsys, *diff, "--format", "html")
    escaped = said.replace("night 1's", "night 1&#x27;s")
    assert f'<p class="hold">{escaped}</p>' in out
    code, out, _ = run(capsys, *diff[:-2], "--format", "json")  # from live: night 1
    assert json.loads(out)["outcome"] == {
        "to": "processed",
        "reason": "",
        "from": "processed",
        "from_reason": "",
    }
    code, out, _ = run(capsys, *diff[:-2])
    assert said not in out


def test_a_not_processed_night_is_no_mass_deletion_in_the_diff(missing_students, capsys):
    code, out, _ = run(
        capsys,
        *("--store", missing_students, "diff", "--district", "maple", "--to", "2"),
    )
    assert code == 0
    assert out.splitlines()[-1] == (
        "Clever does not process snapshot 2 (missing-file: students.csv): it keeps serving the "
        "last upload it processed, so nothing is deleted and no hold"
    )
    code, out, _ = run(
        capsys,
        *("--store", missing_students, "check", "--district", "maple", "--snapshot", "2"),
        *("--format", "json"),
    )
    codes = {f["code"] for f in json.loads(out)["findings"]}
    assert "missing-file" in codes
    assert not {c for c in codes if c.startswith("hold-")}


def test_a_not_processed_night_is_passed_over_in_a_timeline(missing_students, capsys):
    code, out, _ = run(
        capsys,
        *("--store", missing_students, "timeline", "--district", "maple"),
        *("--entity", "students", "--key", "S-002"),
    )
    assert code == 0
    assert out.splitlines()[1:] == [
        "  night 1 (snapshot 1, 2026-09-01 02:00)  first seen",
        "  night 3 (snapshot 3, 2026-09-03 02:00)  Grade: '10' → '11'",
    ]


def test_a_timeline_says_a_removal_on_a_held_night_was_held(tmp_path, capsys):
    """Night 2 deletes 2 of 3 teachers: Clever holds it, so T-2 is still in the apps until the
    district approves the hold; the timeline says so on that night's entry (text and JSON)."""
    night_2 = tiny_night()
    del night_2["teachers.csv"][2:]
    store = ingest_nights(tmp_path, capsys, tiny_night(), night_2, tiny_night())
    asked = ("--store", store, "timeline", "--district", "maple", "--entity", "teachers")
    code, out, _ = run(capsys, *asked, "--key", "T-2")
    assert code == 0
    assert out.splitlines()[1:] == [
        "  night 1 (snapshot 1, 2026-09-01 02:00)  first seen",
        "  night 2 (snapshot 2, 2026-09-02 02:00)  removed — Clever: held (hold: teachers "
        "deletion): sync held until the district approves it (Clever's published thresholds)",
        "  night 3 (snapshot 3, 2026-09-03 02:00)  reappeared",
    ]
    code, out, _ = run(capsys, *asked, "--key", "T-2", "--format", "json")
    assert code == 0
    assert [
        (e["seq"], e["change"], e.get("outcome"), e.get("outcome_reason"))
        for e in json.loads(out)["events"]
    ] == [
        (1, "first-seen", None, None),
        (2, "removed", "held", "hold: teachers deletion"),
        (3, "reappeared", None, None),
    ]


def test_a_mass_deletion_is_held_and_rows_clever_skips_are_counted(tmp_path, capsys):
    night_2 = tiny_night()
    del night_2["teachers.csv"][2:]  # T-2 and T-3 gone: 2 of 3 teachers deleted
    night_3 = tiny_night()
    night_3["sections.csv"][2][2] = ""  # SEC-2 without its required Teacher_id: skipped
    store = ingest_nights(tmp_path, capsys, tiny_night(), night_2, night_3)

    listed = snapshots_json(capsys, store)
    assert [(s["outcome"], s["reason"], s["skipped"]) for s in listed] == [
        ("processed", "", []),
        ("held", "hold: teachers deletion", []),
        ("processed", "", [{"file": "sections.csv", "code": "missing-value", "rows": 1}]),
    ]
    assert (listed[2]["carried"], listed[2]["not_served"]) == (
        [{"file": "enrollments.csv", "code": "missing-value", "rows": 2, "by": "sections"}],
        [
            {"entity": "enrollments", "code": "missing-value", "records": 2, "by": "sections",
             "confirmed": False},
            {"entity": "sections", "code": "missing-value", "records": 1, "by": None,
             "confirmed": True},
        ],
    )  # fmt: skip
    code, out, _ = run(capsys, "--store", store, "snapshots")
    assert code == 0
    assert "  upload  processed, 1 row skipped, 2 rows carried  " in out.splitlines()[3]


def test_diff_json_says_the_outcome_snapshots_lists(tmp_path, capsys):
    """Incident: a cron script read `diff --format json`'s outcome.to as "processed" on a night
    `snapshots` lists as held (two of three teachers gone on night 2): the diff spelled the
    outcome itself and knew only processed, not-processed and served. It is the stored one,
    whatever --from the diff compares with."""
    night_2 = tiny_night()
    del night_2["teachers.csv"][2:]  # T-2 and T-3 gone: 2 of 3 teachers deleted
    store = ingest_nights(tmp_path, capsys, tiny_night(), night_2)
    diff = ("--store", store, "diff", "--district", "maple", "--format", "json")

    assert [(s["outcome"], s["reason"]) for s in snapshots_json(capsys, store)] == [
        ("processed", ""),
        ("held", "hold: teachers deletion"),
    ]
    held = {"to": "held", "reason": "hold: teachers deletion"}
    for frm, from_outcome in (
        ("live", {"from": "processed", "from_reason": ""}),
        ("previous", {"from": "processed", "from_reason": ""}),
        ("n2", {"from": "held", "from_reason": "hold: teachers deletion"}),
    ):
        code, out, _ = run(capsys, *diff, "--from", frm)
        assert (code, json.loads(out)["outcome"]) == (0, held | from_outcome)
    code, out, _ = run(capsys, *diff, "--from", "n2", "--to", "n1")
    assert (code, json.loads(out)["outcome"]) == (
        0,
        {"to": "processed", "reason": "", "from": "held", "from_reason": "hold: teachers deletion"},
    )


def test_a_change_only_in_a_column_clever_ignores_predicts_no_update_hold(tmp_path, capsys):
    night_1, night_2 = tiny_night(), tiny_night()
    for night, value in ((night_1, "a"), (night_2, "b")):  # incident: a scratch column changed
        night["teachers.csv"][0].append("Notes")
        for row in night["teachers.csv"][1:]:
            row.append(value)
    store = ingest_nights(tmp_path, capsys, night_1, night_2)
    code, out, _ = run(capsys, "--store", store, "diff", "--district", "maple", "--format", "json")
    payload = json.loads(out)
    assert (code, payload["entities"]["teachers"]["changed"]) == (0, 3)
    assert payload["hold"] == {"predicted": False, "reasons": []}


def test_a_name_reencoded_from_nfc_to_nfd_is_named_as_such(tmp_path, capsys):
    night_1, night_2 = tiny_night(), tiny_night()
    night_1["students.csv"][1][4] = night_1["students.csv"][2][4] = "Ren\u00e9e"
    night_2["students.csv"][1][4] = night_2["students.csv"][2][4] = "Rene\u0301e"
    store = ingest_nights(tmp_path, capsys, night_1, night_2)
    code, out, _ = run(capsys, "--store", store, "diff", "--district", "maple", "--details")
    assert code == 0
    assert (
        "  students S-001 changed: First_name 'Ren\u00e9e' → 'Rene\u0301e' "
        "(Unicode normalisation only: NFC → NFD)"
    ) in out.splitlines()


def test_rows_whose_fate_clever_does_not_state_are_named_apart_as_may_be_skipped(tmp_path, capsys):
    """S-004 sits at a school schools.csv lacks and one enrollment names a section sections.csv
    lacks: Clever does not say what it does with a broken link, so the outcome skips no row for
    them but names them as rows that may be skipped; a blank required value is skipped as ever."""
    night = tiny_night()
    night["students.csv"].append(["SCH-9", "S-004", "00999", "Ray", "Al", "4", "", "", "", "", ""])
    night["enrollments.csv"].append(["SCH-1", "SEC-9", "S-001"])
    night["sections.csv"][2][2] = ""  # SEC-2 without its required Teacher_id: skipped
    store = ingest_nights(tmp_path, capsys, night)

    (listed,) = snapshots_json(capsys, store)
    assert (listed["outcome"], listed["skipped"], listed["may_skip"]) == (
        "processed",
        [{"file": "sections.csv", "code": "missing-value", "rows": 1}],
        [
            {"file": "enrollments.csv", "code": "enrollment-unknown-section", "rows": 1},
            {"file": "students.csv", "code": "unknown-school", "rows": 1},
        ],
    )
    code, out, _ = run(capsys, "--store", store, "snapshots")
    assert code == 0
    assert "processed, 1 row skipped, 2 rows may be skipped (unconfirmed), 2 rows carried  " in out
    night_2 = write_night(tmp_path / "again", night)
    code, out, _ = run(capsys, "--store", store, "ingest", str(night_2), "--district", "maple")
    assert code == 0
    assert out.splitlines()[2:7] == [
        "  Clever: processed, 1 row skipped, 2 rows may be skipped (unconfirmed), 2 rows carried "
        "with skipped records",
        "    sections.csv: 1 row skipped (missing-value)",
        "    enrollments.csv: 1 row may be skipped (enrollment-unknown-section: consequence "
        "unconfirmed)",
        "    students.csv: 1 row may be skipped (unknown-school: consequence unconfirmed)",
        "    enrollments.csv: 2 rows may be skipped with the skipped sections they name "
        "(missing-value: consequence unconfirmed)",
    ]


XLSX = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb5U0#\xf4\x00\x00\x00L\x02"
STAFF = [
    ["School_id", "Staff_id", "Staff_email", "First_name", "Last_name"],
    ["SCH-1", "ST-1", "al.bo@maple.example", "Al", "Bo"],
    ["SCH-2", "ST-2", "cy.di@maple.example", "Cy", "Di"],
]


def ingest_folders(tmp_path: Path, capsys, *folders: Path, sync_type: str = "sftp") -> str:
    """Ingest bundle folders as nights 1..n of district maple through the CLI, checks included."""
    store = str(tmp_path / "store.duckdb")
    for k, folder in enumerate(folders, start=1):
        code, _, err = run(
            capsys,
            *("--store", store, "ingest", str(folder), "--district", "maple"),
            *("--taken-at", f"2026-09-0{k}T02:00:00", "--sync-type", sync_type),
        )
        assert (code, err) == (0, "")
    return store


def with_spreadsheets(tmp_path: Path, name: str, *files: str) -> Path:
    """A night with two staff whose ``files`` arrive as a spreadsheet saved under their names."""
    night = tiny_night()
    night["staff.csv"] = STAFF
    folder = write_night(tmp_path / name, night)
    for file in files:
        (folder / file).write_bytes(XLSX)
    return folder


def test_a_spreadsheet_saved_as_staff_csv_is_taken_as_not_sent_everywhere(tmp_path, capsys):
    """Night 2's staff.csv is a spreadsheet saved under its name. staff.csv is optional, so
    Clever processes the rest as if it were not sent (ours): its two staff count as deleted,
    a hold — the outcome, the snapshots list, check, the diff from the live state and the
    next night's live state all tell that one story (it was 'not processed' everywhere)."""
    store = ingest_folders(
        tmp_path,
        capsys,
        with_spreadsheets(tmp_path, "night-1"),
        with_spreadsheets(tmp_path, "night-2", "staff.csv"),
        with_spreadsheets(tmp_path, "night-3"),
    )

    listed = snapshots_json(capsys, store)
    assert [(s["seq"], s["outcome"], s["reason"]) for s in listed] == [
        (1, "processed", ""),
        (2, "held", "hold: staff deletion"),
        (3, "processed", ""),
    ]
    code, out, _ = run(
        capsys,
        *("--store", store, "check", "--district", "maple", "--snapshot", "2"),
        *("--format", "json"),
    )
    found = [(f["code"], f["entity"], f["value"]) for f in json.loads(out)["findings"]]
    assert (code, found) == (
        0,
        [
            ("unreadable-file", "staff", "staff.csv"),
            ("extension-column", "students", "ext.house"),
            ("hold-mass-deletion", "staff", "2"),
        ],
    )
    assert json.loads(out)["findings"][0]["message"] == (
        "staff.csv is not text (a spreadsheet or other binary file saved under its name): "
        "Clever cannot read a row of it. The file is optional, so the rest of the upload is "
        "processed as if it were not sent: its records count as deleted."
    )
    code, out, _ = run(
        capsys,
        *("--store", store, "diff", "--district", "maple", "--to", "2"),
        *("--format", "json"),
    )
    payload = json.loads(out)
    assert (code, payload["from"], payload["to"]) == (0, 1, 2)
    assert [(e, c["removed"], c["unchanged"]) for e, c in payload["entities"].items()][-1] == (
        "staff",
        2,
        0,
    )
    assert [(r["entity"], r["kind"], r["count"]) for r in payload["hold"]["reasons"]] == [
        ("staff", "deletion", 2)
    ]
    code, out, _ = run(
        capsys, *("--store", store, "diff", "--district", "maple", "--format", "json")
    )
    payload = json.loads(out)  # the held night, taken as approved, is night 3's live state
    assert (payload["from"], payload["to"], payload["entities"]["staff"]["added"]) == (2, 3, 2)


def test_only_a_required_file_clever_cannot_read_stops_the_upload(tmp_path, capsys):
    """students.csv and staff.csv both arrive as spreadsheets: the upload is not processed for
    students.csv alone (the reason named staff.csv too, as if it stopped the upload)."""
    store = ingest_folders(
        tmp_path, capsys, with_spreadsheets(tmp_path, "n", "students.csv", "staff.csv")
    )

    (listed,) = snapshots_json(capsys, store)
    assert (listed["outcome"], listed["reason"]) == (
        "not-processed",
        "unreadable-file: students.csv",
    )


@pytest.mark.parametrize(
    ("sync_type", "hint"),
    [
        (
            "sftp",
            "Upload all five required files together: schools, students, teachers, sections, "
            "enrollments.",
        ),
        (
            "clever-managed",
            "Export all five required files together: schools, students, teachers, sections, "
            "enrollments. Clever's own sync reads the SIS: if students.csv is missing there too, "
            "ask Clever Support to check the sync.",
        ),
        (
            "sis-managed",
            "Export all five required files together: schools, students, teachers, sections, "
            "enrollments. Your SIS vendor sends Clever the nightly files: if their export leaves "
            "out students.csv too, ask them to include it.",
        ),
    ],
)
def test_a_hand_export_missing_a_file_gets_a_hint_for_its_sync_type(
    tmp_path, capsys, sync_type, hint
):
    """A district's hand export leaves out students.csv: only an SFTP district uploads its
    files, so only its hint says 'upload'."""
    night = tiny_night()
    del night["students.csv"]
    store = ingest_folders(
        tmp_path, capsys, write_night(tmp_path / "n", night), sync_type=sync_type
    )

    code, out, _ = run(capsys, "--store", store, "check", "--district", "maple", "--format", "json")
    (missing,) = [f for f in json.loads(out)["findings"] if f["code"] == "missing-file"]
    assert (code, missing["hint"]) == (0, hint)
