"""Advice that knows history: a change back to what a district sent before a mistake is a
restoration (info, nothing to undo), and the findings one mistake explains share its cause."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rosterlab.checks import CheckSettings, run_checks
from rosterlab.checks.run import root_causes
from rosterlab.spec import finding
from rosterlab.store import Store
from tests.cli_run import run
from tests.test_checks import add_column, ingest, one
from tests.tiny import tiny_night, write_night

SETTINGS = CheckSettings(shift_min_values=3)


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "store.duckdb") as opened:
        yield opened


def check_all(store: Store, ids: list[int]):
    return [run_checks(store, i, settings=SETTINGS) for i in ids]


def test_a_teacher_id_put_back_is_restored_not_rekeyed(store, tmp_path):
    rekeyed = tiny_night()
    rekeyed["teachers.csv"][3][1] = "T-9003"  # incident: T-3 re-numbered T-9003 by mistake
    rekeyed["sections.csv"][1][3] = "T-9003"
    ids = ingest(store, tmp_path, tiny_night(), rekeyed, tiny_night())  # night 3: fixed
    night_2, night_3 = check_all(store, ids)[1:]

    assert one(night_2, "id-rekeyed").hint == (
        "Keep IDs stable: restore T-3/SCH-1 unless the change is intended."
    )
    restored = one(night_3, "id-restored")
    assert "id-rekeyed" not in night_3.summary()["by_code"]
    assert (restored.severity, restored.entity, restored.key, restored.value) == (
        "info",
        "teachers",
        "T-3/SCH-1",
        "T-9003/SCH-1",
    )
    assert restored.message == (
        "teachers T-9003/SCH-1 is back as T-3/SCH-1, the ID it had before night 2."
    )
    assert (
        restored.hint == "Nothing to undo: this restores an earlier ID. Keep T-3/SCH-1 from now on."
    )


def test_dates_put_back_in_their_earlier_format_are_restored(store, tmp_path):
    us = ["03/04/2015", "03/04/2015", "12/01/2010", ""]
    iso = ["2015-03-04", "2015-03-04", "2010-12-01", ""]
    nights = [tiny_night(), tiny_night(), tiny_night()]
    for night, dates in zip(nights, (us, iso, us), strict=True):
        add_column(night["students.csv"], "DOB", dates)
    results = check_all(store, ingest(store, tmp_path, *nights))

    assert one(results[1], "format-shift").hint.startswith("Restore the previous format")
    restored = one(results[2], "format-restored")
    assert "format-shift" not in results[2].summary()["by_code"]
    assert (restored.severity, restored.field, restored.value) == ("info", "DOB", "99/99/9999")
    assert restored.message == (
        "students.csv DOB is back to its earlier format 99/99/9999 (it was 9999-99-99 for a while)."
    )


def test_a_school_number_used_as_id_is_one_root_cause_for_its_rekeys():
    found = [
        finding(
            "school-id-is-number",
            entity="students",
            key="S-1",
            value="101",
            cause="schools/101",
            school_id="SCH-1",
            field="School_id",
        ),
        finding(
            "id-rekeyed",
            entity="teachers",
            key="T-1/101",
            value="T-1/SCH-1",
            old_key="T-1/SCH-1",
            matched_on="Teacher_email",
        ),
        finding(
            "id-rekeyed",
            entity="teachers",
            key="T-9/SCH-1",
            value="T-2/SCH-1",
            old_key="T-2/SCH-1",
            matched_on="Teacher_email",
        ),
    ]
    assert [f.cause for f in root_causes(found)] == ["schools/101", "schools/101", None]


def test_an_excel_round_trip_is_one_root_cause_for_its_damage_and_format_shifts():
    found = [
        finding(
            "excel-damage",
            entity="students",
            key="S-1",
            field="DOB",
            value="3/4/15",
            detail="a date rewritten as M/D/YY",
        ),
        finding(
            "format-shift",
            entity="students",
            field="DOB",
            value="9/9/99",
            file="students.csv",
            before="99/99/9999",
            after="9/9/99",
        ),
        finding(
            "format-shift",
            entity="students",
            field="Grade",
            value="99",
            file="students.csv",
            before="9",
            after="99",
        ),
    ]
    assert [f.cause for f in root_causes(found)] == [
        "excel-round-trip/students.csv",
        "excel-round-trip/students.csv",
        None,
    ]


def test_district_toml_thresholds_reach_check_and_diff(tmp_path, capsys):
    """A district folder's district.toml is kept at ingest and read by every later command;
    rosterlab.toml's [districts.X] wins over it."""
    folder = tmp_path / "maple"
    folder.mkdir()
    (folder / "district.toml").write_text('name = "Maple"\nhold_deletion_threshold = 0.05\n')
    fewer = tiny_night()
    del fewer["teachers.csv"][3]  # 1 of 3 teachers deleted
    del fewer["sections.csv"][1]
    write_night(folder / "2026-09-01", tiny_night())
    write_night(folder / "2026-09-02", fewer)
    store = str(tmp_path / "s.duckdb")
    assert run(capsys, "--store", store, "ingest", str(folder))[0] == 0

    code, out, _ = run(capsys, "--store", store, "check", "--district", "maple", "--recheck")
    assert code == 0
    assert "33% of teachers would be deleted (threshold 5%)" in out
    code, out, _ = run(capsys, "--store", store, "diff", "--district", "maple", "--format", "json")
    assert json.loads(out)["hold"]["reasons"][0]["threshold"] == 0.05

    config = tmp_path / "rosterlab.toml"
    config.write_text("[districts.maple]\nhold_deletion_threshold = 0.5\n")
    code, out, _ = run(
        capsys, "--store", store, "--config", str(config), "diff", "--district", "maple"
    )
    assert out.splitlines()[-1] == "hold: not predicted"
