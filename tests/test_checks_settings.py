"""Per-district thresholds of the field-customization checks, from rosterlab.toml or district.toml.

Each test has a borderline night that the default thresholds let pass and a district's own
threshold turns into a finding; the findings are asserted exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rosterlab.checks import CheckSettings, run_checks
from rosterlab.config import DistrictSettings, Limits, district_settings, load_settings
from rosterlab.errors import ConfigError
from rosterlab.store import Store
from tests.cli_run import run
from tests.test_checks import add_column, found, one
from tests.test_checks_fields import ingest
from tests.tiny import tiny_night, write_night


def history_findings(out: str) -> list[tuple[str, str, str | None]]:
    """(code, field, message) of the column-* and format-shift findings of check JSON."""
    return [
        (f["code"], f["field"], f["message"])
        for f in json.loads(out)["findings"]
        if f["code"].startswith("column-") or f["code"] == "format-shift"
    ]


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store.duckdb"


def test_default_check_settings_are_the_default_district_settings():
    assert CheckSettings.of(DistrictSettings("maple")) == CheckSettings()


def test_the_readme_settings_example_shows_the_defaults(tmp_path: Path):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    example = readme.split("## Settings")[1].split("```toml\n")[1].split("```")[0]
    config = tmp_path / "rosterlab.toml"
    config.write_text(example)
    settings = load_settings(config=str(config))
    assert settings.districts["maple"] == DistrictSettings("maple", name="Maple Grove USD")
    assert settings.limits == Limits()


def test_a_district_that_calls_a_third_of_teacher_emails_gone_emptied(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """maple night 2: one of three teachers has no email (fill 100% → 67%). The default calls
    a fall to half or less emptied; maple's column_emptied_ratio 0.7 calls this one too."""
    history = tmp_path / "maple"
    write_night(history / "2026-09-01", tiny_night())
    night = tiny_night()
    night["teachers.csv"][1][4] = ""
    write_night(history / "2026-09-02", night)
    store = str(tmp_path / "s.duckdb")
    assert run(capsys, "--store", store, "ingest", str(history))[0] == 0
    check = ("--store", store, "check", "--district", "maple", "--format", "json")

    code, out, err = run(capsys, *check)
    assert (code, err, history_findings(out)) == (0, "", [])

    config = tmp_path / "rosterlab.toml"
    config.write_text("[districts.maple]\ncolumn_emptied_ratio = 0.7\n")
    code, out, err = run(capsys, "--config", str(config), *check)  # new settings: recomputed
    assert (code, err) == (0, "")
    assert history_findings(out) == [
        (
            "column-emptied",
            "Teacher_email",
            "teachers.csv Teacher_email fill rate fell from 100% to 67%.",
        )
    ]
    with Store.open(store, read_only=True) as opened:  # a plain check reads, never writes
        assert [f.code for f in opened.findings(2, "check")] == []
    assert run(capsys, "--config", str(config), *check, "--recheck")[0] == 0  # kept
    with Store.open(store, read_only=True) as opened:
        assert [f.code for f in opened.findings(2, "check")] == ["column-emptied"]


def test_a_district_toml_that_calls_three_changed_dates_a_format_shift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """cedar: three birth dates switch from MM/DD/YYYY to ISO. Five filled values are the
    default minimum for a format-shift; cedar's district.toml asks for three."""
    before, after = tiny_night(), tiny_night()
    add_column(before["students.csv"], "DOB", ["03/04/2015", "03/04/2015", "12/01/2010", ""])
    add_column(after["students.csv"], "DOB", ["2015-03-04", "2015-03-04", "2010-12-01", ""])
    expected = [
        (
            "format-shift",
            "DOB",
            "students.csv DOB changed format from 99/99/9999 to 9999-99-99.",
        )
    ]
    for name, toml, shifts in [
        ("oak", "", []),
        ("cedar", "format_shift_min_values = 3\n", expected),
    ]:
        history = tmp_path / name
        write_night(history / "2026-09-01", before)
        write_night(history / "2026-09-02", after)
        (history / "district.toml").write_text(f'name = "{name}"\n{toml}')
        store = str(tmp_path / f"{name}.duckdb")
        assert run(capsys, "--store", store, "ingest", str(history))[0] == 0
        with Store.open(store, read_only=True) as opened:  # the checks ingest ran and kept
            kept = [(f.code, f.field, f.message) for f in opened.findings(2, "check")]
        assert [f for f in kept if f[0] == "format-shift"] == shifts


def test_a_district_that_calls_a_quarter_of_student_numbers_reshaped_a_format_shift(
    store_path: Path, tmp_path: Path
):
    """Night 1 sends half the Student_numbers without leading zeros (999 and 99999 tie);
    night 2 pads S-002's (99999 now three in four): a quarter of the values changed shape. The
    default needs half; a district with format_shift_share 0.25 flags it."""
    before, after = tiny_night(), tiny_night()
    before["students.csv"][3][2], before["students.csv"][4][2] = "456", "789"
    after["students.csv"][4][2] = "789"
    with Store.open(store_path) as store:
        ids = ingest(store, tmp_path, before, after)
        four = DistrictSettings("tiny", format_shift_min_values=4)
        assert found(run_checks(store, ids[-1], settings=CheckSettings.of(four))) == []
        quarter = DistrictSettings("tiny", format_shift_min_values=4, format_shift_share=0.25)
        result = run_checks(store, ids[-1], settings=CheckSettings.of(quarter))
    assert result.cached is False
    assert found(result) == [
        ("format-shift", "students", None, "Student_number", "99999", None, None),
    ]
    assert one(result, "format-shift").message == (
        "students.csv Student_number changed format from 999 to 99999."
    )


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("column_emptied_ratio = 1.5", "column_emptied_ratio must be a number between 0 and 1"),
        ("column_emptied_min_fill = -0.1", "column_emptied_min_fill must be a number between 0"),
        ('format_shift_share = "half"', "format_shift_share must be a number between 0 and 1"),
        ("format_shift_share = true", "format_shift_share must be a number between 0 and 1"),
        ("format_shift_min_values = 0", "format_shift_min_values must be a whole number of at"),
        ("format_shift_min_values = 2.5", "format_shift_min_values must be a whole number of at"),
    ],
)
def test_a_wrong_threshold_in_rosterlab_toml_names_the_file_and_key(
    tmp_path: Path, setting: str, message: str
):
    config = tmp_path / "rosterlab.toml"
    config.write_text(f"[districts.maple]\n{setting}\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(config=str(config))
    assert raised.value.message.startswith(f"{config} [districts.maple]: {message}")


def test_an_unknown_key_in_districts_lists_the_allowed_keys_as_words(tmp_path: Path):
    config = tmp_path / "rosterlab.toml"
    config.write_text("[districts.maple]\nhold = 0.2\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(config=str(config))
    assert raised.value.message == (
        f"{config} [districts.maple]: unknown key(s) hold; allowed: column_emptied_min_fill, "
        "column_emptied_ratio, format_shift_min_values, format_shift_share, "
        "hold_deletion_threshold, hold_update_threshold, name, sync_type"
    )


def test_a_wrong_threshold_in_district_toml_names_the_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    history = tmp_path / "maple"
    write_night(history / "2026-09-01", tiny_night())
    (history / "district.toml").write_text("format_shift_min_values = 0\n")
    code, out, err = run(capsys, "--store", str(tmp_path / "s.duckdb"), "ingest", str(history))
    assert (code, out, err) == (
        2,
        "",
        f"rosterlab: {history / 'district.toml'}: format_shift_min_values must be a whole "
        "number of at least 1\n",
    )


def test_a_district_that_is_not_a_table_is_a_config_error():
    with pytest.raises(ConfigError) as raised:
        district_settings("maple", 3, "rosterlab.toml [districts.maple]")  # type: ignore[arg-type]
    assert raised.value.message == (
        "rosterlab.toml [districts.maple] must be a table of settings, not int"
    )


def test_a_night_with_the_district_toml_already_kept_writes_no_settings(tmp_path: Path):
    """Every ingest of a district folder keeps its district.toml with the district; a night with
    the same district.toml as the one kept rewrote it all the same (an UPDATE each night)."""
    from rosterlab.store.district_settings import record_district_settings, settings_for_district

    with Store.open(tmp_path / "store.duckdb") as store:
        ingest(store, tmp_path, tiny_night())
        strict = DistrictSettings(district="tiny", hold_deletion_threshold=0.05)
        assert record_district_settings(store, strict) is True  # the first kept
        assert record_district_settings(store, strict) is False  # the same again: no write
        loose = DistrictSettings(district="tiny", hold_deletion_threshold=0.2)
        assert record_district_settings(store, loose) is True
        (tmp_path / "rosterlab.toml").write_text("")  # no [districts.tiny]: the kept one counts
        bare = load_settings(config=str(tmp_path / "rosterlab.toml"))
        assert settings_for_district(store, bare, "tiny").hold_deletion_threshold == 0.2
