"""``rosterlab check``, ``fields`` and ``ledger``: the JSON contract, text, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rosterlab.checks import run_checks
from rosterlab.report.checks import check_text
from rosterlab.store import Store
from tests.cli_run import run
from tests.tiny import tiny_night, write_night

RULES = Path(__file__).parents[1] / "notebooks" / "maple.rules.toml"  # the sample district's


@pytest.fixture
def district(tmp_path: Path) -> Path:
    """maple: night 1 clean; night 2 two enrollments in SEC-9, a section sections.csv lacks,
    and teachers.csv no longer sends Teacher_email."""
    folder = tmp_path / "maple"
    write_night(folder / "2026-09-01", tiny_night())
    night = tiny_night()
    night["enrollments.csv"] += [["SCH-1", "SEC-9", "S-001"], ["SCH-2", "SEC-9", "S-002"]]
    night["teachers.csv"] = [row[:4] for row in night["teachers.csv"]]
    write_night(folder / "2026-09-02", night)
    (folder / "district.toml").write_text('name = "Maple Grove USD"\nsync_type = "sftp"\n')
    return folder


@pytest.fixture
def store(tmp_path: Path, district: Path, capsys) -> str:
    path = str(tmp_path / "s.duckdb")
    assert run(capsys, "--store", path, "ingest", str(district))[0] == 0
    return path


def test_ingest_reports_the_checks_of_each_new_night(capsys, tmp_path, district):
    path = str(tmp_path / "s.duckdb")
    code, out, err = run(capsys, "--store", path, "ingest", str(district), "--fail-on", "error")

    assert (code, err) == (1, "")
    assert out.splitlines()[7:] == [
        "  Clever: held (hold: teachers update), 2 rows may be skipped (unconfirmed)",
        "    enrollments.csv: 2 rows may be skipped (enrollment-unknown-section: consequence "
        "unconfirmed)",
        "  findings: 2 errors, 2 warnings, 1 info",
        "    error   enrollment-unknown-section ×2: enrollment SEC-9/S-001: section 'SEC-9' is "
        "not in sections.csv; what Clever does with the broken link is not stated.",
        "    warning column-dropped ×1: teachers.csv no longer sends Teacher_email.",
        "    warning hold-mass-update ×1: 100% of teachers would be updated (threshold 75%); "
        "Clever will hold the sync.",
        "    info    extension-column ×1: students.csv sends the custom field ext.house.",
    ]


def test_check_json_matches_the_contract(capsys, store):
    code, out, err = run(
        capsys, "--store", store, "check", "--district", "maple", "--format", "json"
    )

    assert (code, err) == (0, "")
    payload = json.loads(out)
    assert list(payload) == ["snapshot", "district", "seq", "summary", "findings", "groups"]
    assert (payload["snapshot"], payload["district"], payload["seq"]) == (2, "maple", 2)
    assert payload["summary"] == {
        "error": 2,
        "warning": 2,
        "info": 1,
        "by_code": {
            "enrollment-unknown-section": 2,
            "column-dropped": 1,
            "hold-mass-update": 1,
            "extension-column": 1,
        },
        "records": {
            "enrollment-unknown-section": 2,
            "column-dropped": 1,
            "hold-mass-update": 1,
            "extension-column": 1,
        },
    }
    assert payload["findings"][1] == {
        "code": "enrollment-unknown-section",
        "severity": "error",
        "entity": "enrollments",
        "key": "SEC-9/S-001",
        "field": "Section_id",
        "value": "SEC-9",
        "row": 4,
        "line": 5,
        "message": "enrollment SEC-9/S-001: section 'SEC-9' is not in sections.csv; what Clever "
        "does with the broken link is not stated.",
        "hint": "Add the section to sections.csv or drop its enrollments.",
        "cause": "sections/SEC-9",
        "count": 1,
        "rows": 1,
        "sample_keys": [],
    }
    assert [f["code"] for f in payload["findings"]] == [
        "extension-column",
        "enrollment-unknown-section",
        "enrollment-unknown-section",
        "column-dropped",
        "hold-mass-update",
    ]
    assert payload["groups"] == [
        {
            "cause": "sections/SEC-9",
            "codes": ["enrollment-unknown-section"],
            "count": 2,
            "findings": 2,
            "severity": "error",
            "kind": "missing-record",
            "hint": "Every record listed points at SEC-9, which sections.csv lacks: add SEC-9 to "
            "sections.csv (an export that ran before the others?) or correct the references; "
            "one change fixes them all.",
        }
    ]


def test_check_text_summarizes_causes_and_codes(capsys, store):
    code, out, err = run(capsys, "--store", store, "check", "--district", "maple")

    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "maple snapshot 2 (night 2, 2026-09-02 02:00): 2 errors, 2 warnings, 1 info",
        "",
        "fix first (root causes, most records broken first):",
        "  sections/SEC-9     2 records  enrollment-unknown-section",
        "      hint: Every record listed points at SEC-9, which sections.csv lacks: add SEC-9 to "
        "sections.csv (an export that ran before the others?) or correct the references; one "
        "change fixes them all.",
        "",
        "findings by code:",
        "  error   enrollment-unknown-section ×2",
        "      enrollments.csv line 5 SEC-9/S-001: enrollment SEC-9/S-001: section 'SEC-9' is not "
        "in sections.csv; what Clever does with the broken link is not stated.",
        "      enrollments.csv line 6 SEC-9/S-002: enrollment SEC-9/S-002: section 'SEC-9' is not "
        "in sections.csv; what Clever does with the broken link is not stated.",
        "      hint: fixed with its root cause sections/SEC-9 (above)",
        "  warning column-dropped ×1",
        "      teachers.csv no longer sends Teacher_email.",
        "      hint: Add Teacher_email back to the export that builds teachers.csv, or record "
        "the change in the customization ledger if it is on purpose.",
        "  warning hold-mass-update ×1",
        "      100% of teachers would be updated (threshold 75%); Clever will hold the sync.",
        "      hint: Check what changed in bulk; if intended, approve the hold in Clever.",
        "  info    extension-column ×1",
        "      students.csv sends the custom field ext.house.",
        "      hint: Custom fields reach only apps that ask for them; nothing to do if it is "
        "intended.",
    ]


def test_check_text_keeps_a_findings_own_hint_when_its_cause_is_not_listed(store):
    """Past the top causes, nothing above says the cause's hint: each finding keeps its own."""
    with Store.open(store) as opened:
        result = run_checks(opened, 2)
    text = check_text(result, top_causes=0).splitlines()
    assert "fix first (root causes, most records broken first):" in text
    assert "  … and 1 more cause" in text
    assert "      hint: Add the section to sections.csv or drop its enrollments." in text
    assert not any("fixed with its root cause" in line for line in text)


@pytest.mark.parametrize(
    ("snapshot", "fail_on", "expected"),
    [("latest", "error", 1), ("latest", "warning", 1), ("previous", "warning", 0),
     ("previous", "info", 1), ("1", None, 0)],
)  # fmt: skip
def test_fail_on_sets_the_exit_code(capsys, store, snapshot, fail_on, expected):
    argv = ["--store", store, "check", "--district", "maple", "--snapshot", snapshot]
    argv += ["--fail-on", fail_on] if fail_on else []
    assert run(capsys, *argv)[0] == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "--district", "oak"],
        ["check", "--district", "oak", "--snapshot", "n1"],
        ["fix", "--district", "oak", "--rules", str(RULES), "--out", "fixed"],
    ],
)
def test_an_unknown_district_is_one_line_naming_the_stores_and_exit_two(capsys, store, argv):
    """A support engineer's typo in --district: it said "district oak has no snapshots, so there
    is no 'latest': ingest more nights", as if the district were there and only short of
    nights."""
    assert run(capsys, "--store", store, *argv) == (
        2,
        "",
        "rosterlab: district oak has no snapshots (the store holds maple): check --district, or "
        "ingest its nights with rosterlab ingest\n",
    )


def test_fields_json_is_the_field_by_night_matrix(capsys, store):
    code, out, err = run(
        capsys, "--store", store, "fields", "--district", "maple", "--format", "json"
    )

    assert (code, err) == (0, "")
    payload = json.loads(out)
    assert (payload["district"], payload["snapshots"]) == ("maple", [1, 2])
    email = next(f for f in payload["fields"] if f["field"] == "Teacher_email")
    assert email == {
        "entity": "teachers",
        "file": "teachers.csv",
        "field": "Teacher_email",
        "in_spec": True,
        "required": False,
        "extension": False,
        "present": [True, False],
        "fill_rate": [1.0, None],
        "distinct": [3, None],
        "distinct_estimated": [False, None],  # exact: 3 rows, far under the estimate's 100,000
        "pattern": ["A.A@A.A", None],
    }
    assert [(f["snapshot"], f["code"]) for f in payload["flags"]] == [
        (1, "extension-column"),
        (2, "extension-column"),
        (2, "column-dropped"),
    ]


def test_fields_text_shows_fill_rates_per_night(capsys, store):
    code, out, err = run(capsys, "--store", store, "fields", "--district", "maple")

    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[:3] == [
        "maple: fill rate per column and night (· = column not sent)",
        "",
        "file             field           kind          #1    #2",
    ]
    assert "teachers.csv     Teacher_email   spec        100%     ·" in lines
    assert "students.csv     ext.house       ext          75%   75%" in lines
    assert lines[-1] == "  #2 warning column-dropped: teachers.csv no longer sends Teacher_email."


def test_ledger_add_list_remove(capsys, store):
    add = [
        "--store", store, "ledger", "add", "--district", "maple", "--entity", "students",
        "--key", "S-002", "--field", "First_name", "--value", "Bobby", "--reason",
        "preferred name",
    ]  # fmt: skip
    assert run(capsys, *add) == (
        0,
        "override 1 kept: students S-002 First_name = 'Bobby'\n",
        "",
    )
    code, out, _ = run(capsys, "--store", store, "ledger", "list", "--district", "maple")
    assert (code, out) == (0, "   1  students S-002 First_name = 'Bobby'  (preferred name)\n")

    code, out, _ = run(capsys, "--store", store, "check", "--district", "maple", "--format", "json")
    reverted = [f for f in json.loads(out)["findings"] if f["code"] == "override-reverted"]
    assert [(f["key"], f["value"], f["row"]) for f in reverted] == [("S-002", "Bo", 3)]

    assert run(capsys, "--store", store, "ledger", "remove", "1", "--district", "maple") == (
        0,
        "override 1 retired: students S-002 First_name\n",
        "",
    )
    assert run(capsys, "--store", store, "ledger", "remove", "1", "--district", "maple") == (
        2,
        "",
        "rosterlab: district maple has no override 1: list them with rosterlab ledger list\n",
    )
