"""rosterlab.synth.fleet: a sample fleet's size spread, its named incidents, its files."""

from __future__ import annotations

import csv
import hashlib
import tomllib
import zipfile
from pathlib import Path

import pytest

from rosterlab.synth.__main__ import main
from rosterlab.synth.fleet import HOSTILE_ENTRY, district_sizes, plan_fleet


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_two_hundred_districts_are_mostly_a_few_thousand_students_and_three_are_cities() -> None:
    sizes = sorted(district_sizes(200, seed=0))
    assert sizes[100] == 2715  # the middle district
    assert sum(1 for s in sizes if 1000 <= s <= 10_000) == 151
    assert [s for s in sizes if s >= 100_000] == [150_160, 218_203, 221_402]
    assert sum(sizes) == 1_358_496


def test_max_students_scales_the_whole_spread_down() -> None:
    assert district_sizes(12, seed=0, max_students=300) == [
        30, 133, 300, 61, 30, 118, 30, 30, 30, 30, 30, 181,
    ]  # fmt: skip


def test_a_fleet_needs_its_incident_districts_and_two_nights() -> None:
    with pytest.raises(ValueError, match="at least 7 districts"):
        plan_fleet(6)
    with pytest.raises(ValueError, match="at least 2 nights"):
        plan_fleet(12, nights=1)


def test_the_sample_fleet_cli_writes_drops_and_a_fleet_toml_byte_identically(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["fleet", "--districts", "12", "--nights", "3", "--max-students", "300"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert main([*argv, "--out", str(tmp_path / "b")]) == 0
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    out = capsys.readouterr().out
    assert "d002      133 students" in out
    assert "wrote " in out and "12 districts, tonight 2026-09-03" in out

    root = tmp_path / "a"
    config = tomllib.loads((root / "rosterlab.toml").read_text(encoding="utf-8"))
    assert config["fleet"]["root"] == "fleet"
    districts = config["fleet"]["districts"]
    assert sorted(districts) == [f"d{i:03d}" for i in range(1, 13)]
    assert districts["d002"] == {
        "source": "drop",
        "folder": "drops/d002",
        "name": "Cedar Falls School District",
    }
    nights = {d: sorted(p.name for p in (root / "drops" / d).iterdir()) for d in districts}
    assert nights["d001"] == ["2026-09-01", "2026-09-02", "2026-09-03", "district.toml"]
    assert nights["d005"] == ["2026-09-01", "2026-09-02", "2026-09-03.zip", "district.toml"]
    assert nights["d007"] == ["2026-09-01", "2026-09-02", "district.toml"]
    with zipfile.ZipFile(root / "drops" / "d005" / "2026-09-03.zip") as archive:
        assert archive.namelist() == [HOSTILE_ENTRY]
    tonight = root / "drops" / "d003" / "2026-09-03"
    assert sorted(p.name for p in tonight.iterdir())[-2:] == ["students.csv.txt", "teachers.csv"]
    with (root / "drops" / "d002" / "2026-09-03" / "students.csv").open(encoding="utf-8") as f:
        held = {row["Student_id"] for row in csv.DictReader(f)}
    assert len(held) == 67  # the first half of 133 students
