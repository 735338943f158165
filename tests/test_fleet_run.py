"""Fleet mode runs every district's night on Dask, and gets what a serial run gets.

A synthetic fleet of twelve tiny districts, each named for its night-2 incident (an added
student, a hold, a missing file, no upload, a zip, a zip bomb, ...), is run for night 1 serially
(the template), then night 2 on real Dask processes: an embedded LocalCluster, a cluster of
``dask scheduler`` + ``dask worker`` processes, and one whose worker is SIGKILLed mid-ingest.
"""

from __future__ import annotations

import shutil
import sys
import zipfile
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from rosterlab.config import load_settings
from rosterlab.fleet import TABLES, Fleet, FleetRun, load_fleet, results_path, run_fleet, run_serial
from rosterlab.store import Store
from tests.corpus.cases import declare_size, patched_zip
from tests.tiny import Night, csv_text, tiny_night, write_night

NIGHT_1, NIGHT_2 = date(2026, 9, 1), date(2026, 9, 2)
ROSTERLAB = [sys.executable, "-m", "rosterlab"]
DASK = str(Path(sys.executable).with_name("dask"))
VOLATILE = ("seconds", "attempts")


def _added_student(night: Night) -> None:
    night["students.csv"].append(
        ["SCH-1", "S-004", "00999", "Roe", "Di", "4", "", "", "", "", "green"]
    )


def _renamed_student(night: Night) -> None:
    night["students.csv"][3][4] = "Bob"


def _student_left(night: Night) -> None:
    night["students.csv"] = [r for r in night["students.csv"] if r[1] != "S-003"]
    night["enrollments.csv"] = [r for r in night["enrollments.csv"] if r[2] != "S-003"]


def _no_enrollments_file(night: Night) -> None:
    del night["enrollments.csv"]


def _student_without_id(night: Night) -> None:
    night["students.csv"].append(["SCH-1", "", "00998", "Poe", "Ed", "4", "", "", "", "", ""])


# district → (what happens on night 2, the night-2 outcome); night 1 is the clean tiny night.
INCIDENTS = {
    "d01-added": "processed",
    "d02-renamed": "processed",
    "d03-held": "held",
    "d04-missing-file": "not-processed",
    "d05-no-upload": "no-upload",
    "d06-skipped-row": "processed",
    "d07-zip": "processed",
    "d08-first-night": "processed",
    "d09-same-files": "processed",
    "d10-loose-threshold": "processed",
    "d11-zip-bomb": "failed",
    "d12-two-bundles": "failed",
}
DISTRICTS = sorted(INCIDENTS)


def _zip_night(path: Path, night: Night) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, rows in night.items():
            archive.writestr(zipfile.ZipInfo(name, (2026, 9, 2, 2, 0, 0)), csv_text(rows))


def write_drops(drops: Path) -> None:
    """Every district's drop folder: night 1 (clean) and night 2 (its incident)."""
    for district in DISTRICTS:
        folder = drops / district
        folder.mkdir(parents=True)
        if district != "d08-first-night":
            write_night(folder / NIGHT_1.isoformat(), tiny_night())
        night = tiny_night()
        night2 = folder / NIGHT_2.isoformat()
        match district:
            case "d01-added":
                _added_student(night)
            case "d02-renamed":
                _renamed_student(night)
            case "d03-held" | "d10-loose-threshold":
                _student_left(night)
            case "d04-missing-file":
                _no_enrollments_file(night)
            case "d05-no-upload":
                continue
            case "d06-skipped-row":
                _student_without_id(night)
            case "d07-zip":
                _added_student(night)
                _zip_night(folder / f"{NIGHT_2.isoformat()}.zip", night)
                continue
            case "d11-zip-bomb":
                members = {f"students{n}.csv": b"0" * 1000 for n in range(5)}
                built = patched_zip(members, declare_size(2**32 - 16))(folder / "build")
                built.path.rename(folder / f"upload-{NIGHT_2.isoformat()}.zip")
                shutil.rmtree(folder / "build")
                continue
            case "d12-two-bundles":
                _zip_night(folder / f"{NIGHT_2.isoformat()}.zip", night)
        write_night(night2, night)


def write_config(base: Path, drops: Path, extra: str = "") -> Path:
    lines = ['[fleet]\nroot = "fleet"\n']
    for district in DISTRICTS:
        lines.append(
            f'[fleet.districts.{district}]\nsource = "drop"\nfolder = "{drops / district}"\n'
        )
        if district == "d10-loose-threshold":
            lines.append("hold_deletion_threshold = 0.5\n")
    config = base / "rosterlab.toml"
    config.write_text("\n".join(lines) + extra)
    return config


def fleet_at(base: Path) -> Fleet:
    return load_fleet(load_settings(config=str(base / "rosterlab.toml")))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fleet folder whose stores hold night 1 (run serially)."""
    base = tmp_path_factory.mktemp("fleet")
    drops = base.parent / f"{base.name}-drops"
    write_drops(drops)
    write_config(base, drops)
    first = run_serial(fleet_at(base), NIGHT_1)
    assert {d.district: d.outcome for d in first.districts} == {
        d: "no-upload" if d == "d08-first-night" else "processed" for d in DISTRICTS
    }
    return base


def copy_of(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest)
    return dest


def results(root: Path) -> dict[str, pl.DataFrame]:
    """Every results table, partition columns included, sorted, volatile columns dropped."""
    tables = {}
    for table in TABLES:
        frame = pl.read_parquet(results_path(root, table), hive_partitioning=True)
        frame = frame.drop([c for c in VOLATILE if c in frame.columns])
        tables[table] = frame.sort(frame.columns, nulls_last=True)
    return tables


@pytest.fixture(scope="module")
def serial_night_2(
    template: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, FleetRun]:
    """Night 2 run serially (no Dask): the baseline, and its fleet root."""
    fleet = fleet_at(copy_of(template, tmp_path_factory.mktemp("serial") / "fleet"))
    return fleet.root, run_serial(fleet, NIGHT_2)


def outcomes_of(run: FleetRun) -> dict[str, str]:
    return {d.district: d.outcome for d in run.districts}


def test_a_local_cluster_of_two_workers_gets_the_serial_results(
    template: Path, serial_night_2: tuple[Path, FleetRun], tmp_path: Path
) -> None:
    serial_root, serial = serial_night_2
    fleet = fleet_at(copy_of(template, tmp_path / "fleet"))
    seen: list[tuple[int, int, str]] = []
    run = run_fleet(
        fleet,
        NIGHT_2,
        workers=2,
        progress=lambda done, total, d: seen.append((done, total, d.district)),
    )

    assert run.workers == 2
    assert outcomes_of(run) == INCIDENTS == outcomes_of(serial)
    assert [(done, total) for done, total, _ in seen] == [(n, 12) for n in range(1, 13)]
    assert sorted(district for _, _, district in seen) == DISTRICTS
    mine, theirs = results(fleet.root), results(serial_root)
    for table in TABLES:
        assert mine[table].equals(theirs[table]), table


def test_each_district_night_is_recorded_as_its_incident_says(
    serial_night_2: tuple[Path, FleetRun],
) -> None:
    root, run = serial_night_2
    tables = results(root)
    night_2 = pl.col("night") == NIGHT_2
    outcomes = {row["district"]: row for row in tables["outcomes"].filter(night_2).to_dicts()}
    assert sorted(outcomes) == DISTRICTS
    summary = {
        d: (r["outcome"], r["snapshot_id"], r["skipped_rows"], r["errors"], r["warnings"])
        for d, r in outcomes.items()
    }
    assert summary == {
        "d01-added": ("processed", 2, 0, 0, 0),
        "d02-renamed": ("processed", 2, 0, 0, 0),
        "d03-held": ("held", 2, 0, 0, 3),
        "d04-missing-file": ("not-processed", 2, 0, 1, 0),
        "d05-no-upload": ("no-upload", None, 0, 0, 0),
        "d06-skipped-row": ("processed", 2, 1, 1, 0),
        "d07-zip": ("processed", 2, 0, 0, 0),
        "d08-first-night": ("processed", 1, 0, 0, 0),
        "d09-same-files": ("processed", 1, 0, 0, 0),
        "d10-loose-threshold": ("processed", 2, 0, 0, 0),
        "d11-zip-bomb": ("failed", None, 0, 0, 0),
        "d12-two-bundles": ("failed", None, 0, 0, 0),
    }
    drops = fleet_at(root.parent).districts[0].folder.parent
    assert outcomes["d03-held"]["reason"] == (
        "hold: contacts deletion, enrollments deletion, students deletion"
    )
    assert outcomes["d04-missing-file"]["reason"] == "missing-file: enrollments.csv"
    assert (
        outcomes["d05-no-upload"]["reason"] == f"no bundle for 2026-09-02 in {drops}/d05-no-upload"
    )
    assert outcomes["d09-same-files"]["reason"] == (
        "unchanged: the same files as 2026-09-01 (snapshot 1)"
    )
    assert outcomes["d11-zip-bomb"]["reason"] == (
        f"{drops}/d11-zip-bomb/upload-2026-09-02.zip unpacks to 21,474,836,400 bytes, over the "
        "limit of 8,589,934,592 (bundle_max_bytes in [limits]): unzip it and pass the folder"
    )
    assert outcomes["d12-two-bundles"]["reason"] == (
        f"{drops}/d12-two-bundles holds more than one bundle for 2026-09-02 (2026-09-02, "
        "2026-09-02.zip): keep the one to ingest"
    )
    holds = tables["holds"].filter(night_2).drop("night").rows()
    assert holds == [
        ("contacts", "deletion", 1, 3, 1 / 3, 0.1, "d03-held"),
        ("enrollments", "deletion", 1, 3, 1 / 3, 0.1, "d03-held"),
        ("students", "deletion", 1, 3, 1 / 3, 0.1, "d03-held"),
    ]
    students = tables["diff_counts"].filter(night_2 & (pl.col("entity") == "students"))
    assert students.drop("night", "entity").rows() == [
        (0, 0, 0, 3, "2026-09-01", "d04-missing-file"),
        (0, 0, 1, 2, "2026-09-01", "d02-renamed"),
        (0, 1, 0, 2, "2026-09-01", "d03-held"),
        (0, 1, 0, 2, "2026-09-01", "d10-loose-threshold"),
        (1, 0, 0, 3, "2026-09-01", "d01-added"),
        (1, 0, 0, 3, "2026-09-01", "d06-skipped-row"),
        (1, 0, 0, 3, "2026-09-01", "d07-zip"),
    ]
    skipped = tables["findings_by_code"].filter(night_2 & (pl.col("code") == "missing-value"))
    assert skipped.drop("night").rows() == [
        ("missing-value", "error", "students.csv", 1, "d06-skipped-row")
    ]
    # Every district-night has all five tables, so readers can union them.
    for table in TABLES:
        partitions = sorted(
            p.parent.name for p in results_path(root, table).glob("night=2026-09-02/*/*.parquet")
        )
        assert partitions == [f"district={d}" for d in DISTRICTS], table
    assert {d.district: d.attempts for d in run.districts} == dict.fromkeys(DISTRICTS, 1)


def test_re_running_a_night_is_a_no_op_for_the_districts_already_done(
    template: Path, tmp_path: Path
) -> None:
    fleet = fleet_at(copy_of(template, tmp_path / "fleet"))
    run_serial(fleet, NIGHT_2)
    before = {p: p.read_bytes() for p in fleet.root.rglob("*") if p.is_file()}

    again = run_serial(fleet, NIGHT_2)

    done = {d.district for d in again.districts if d.already_done}
    assert done == set(DISTRICTS) - {"d05-no-upload", "d11-zip-bomb", "d12-two-bundles"}
    assert outcomes_of(again) == INCIDENTS
    after = {p: p.read_bytes() for p in fleet.root.rglob("*") if p.is_file()}
    changed = sorted(
        str(p.relative_to(fleet.root))
        for p in before.keys() | after.keys()
        if before.get(p) != after.get(p)
    )
    # Only the districts with nothing recorded ran again (their outcome's seconds differ).
    assert changed == [
        f"results/outcomes/night=2026-09-02/district={d}/part-0.parquet"
        for d in ("d05-no-upload", "d11-zip-bomb", "d12-two-bundles")
    ]
    for district in DISTRICTS:
        with Store.open(fleet.store_path(district), read_only=True) as store:
            nights = [s.taken_at.date() for s in store.snapshots()]
            assert len(nights) == len(set(nights)), district
