"""Fleet mode runs every district's night on Dask, and gets what a serial run gets.

A synthetic fleet of twelve tiny districts, each named for its night-2 incident (an added
student, a hold, a missing file, no upload, a zip, a zip bomb, ...), is run for night 1 serially
(the template), then night 2 on real Dask processes: an embedded LocalCluster, a cluster of
``dask scheduler`` + ``dask worker`` processes, and one whose worker is SIGKILLed mid-ingest.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import dask
import polars as pl
import pytest

pytest.register_assert_rewrite("tests.sftp_servers")

from distributed import Client  # noqa: E402

from rosterlab.cli.fleet_commands import FAIL_ON as SPELT  # noqa: E402
from rosterlab.config import DistrictSettings, Settings, load_settings  # noqa: E402
from rosterlab.errors import ConfigError  # noqa: E402
from rosterlab.fleet import TABLES, Fleet, FleetRun, load_fleet, results_path, run_fleet, run_serial  # noqa: E402
from rosterlab.fleet.model import FAIL_ON  # noqa: E402
from rosterlab.store import Store  # noqa: E402
from rosterlab.store.doctor import check_store, open_for_check  # noqa: E402
from rosterlab.store.fleet_results import fleet_status  # noqa: E402
from tests.api_standin import TOKEN, TOKEN_ENV, standin  # noqa: E402
from tests.cli_run import run  # noqa: E402
from tests.corpus.cases import declare_size, patched_zip  # noqa: E402
from tests.corpus.faults import big_night  # noqa: E402
from tests.sftp_servers import KeyPair, Sshd, current_user  # noqa: E402
from tests.tiny import Night, csv_text, ingest_nights, tiny_night, write_night  # noqa: E402

pytest_plugins = ["tests.sftp_servers"]

NIGHT_1, NIGHT_2 = date(2026, 9, 1), date(2026, 9, 2)
ROSTERLAB = [sys.executable, "-m", "rosterlab"]
DASK = str(Path(sys.executable).with_name("dask"))
WORKER = ("--nthreads", "1", "--nworkers", "1")
REPO = Path(__file__).resolve().parent.parent
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
        "limit of 8,589,934,592 (bundle_max_bytes in [limits]): put the night's files in a folder "
        f"{drops}/d11-zip-bomb/upload-2026-09-02 in place of the zip (unzipped, if the district "
        "meant it, or sent again by the district), then run `rosterlab fleet run --night "
        "2026-09-02` again"
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


def test_the_same_upload_again_keeps_what_decided_its_outcome(tmp_path: Path) -> None:
    """d-resent: night 2 misses enrollments.csv (not processed), night 3 is the same files sent
    again: Clever does not process it either, for the same reason, and the morning overview
    says which file is missing, not only that nothing changed."""
    drops = tmp_path / "drops"
    write_night(drops / "d-resent" / NIGHT_1.isoformat(), tiny_night())
    night = tiny_night()
    _no_enrollments_file(night)
    for when in (NIGHT_2, date(2026, 9, 3)):
        write_night(drops / "d-resent" / when.isoformat(), night)
    config = tmp_path / "rosterlab.toml"
    config.write_text(
        '[fleet]\nroot = "fleet"\n[fleet.districts.d-resent]\nsource = "drop"\n'
        'folder = "drops/d-resent"\n'
    )
    fleet = load_fleet(load_settings(config=str(config)))
    for when in (NIGHT_1, NIGHT_2):
        run_serial(fleet, when)

    resent = run_serial(fleet, date(2026, 9, 3)).districts[0]

    assert (resent.outcome, resent.snapshot_id, resent.reason) == (
        "not-processed",
        2,
        "missing-file: enrollments.csv; unchanged: the same files as 2026-09-02 (snapshot 2)",
    )
    assert [(c.district, c.why) for c in fleet_status(fleet.root, None, 7).call_first] == [
        (
            "d-resent",
            "not processed (1 error): missing-file: enrollments.csv; unchanged: the same files "
            "as 2026-09-02 (snapshot 2)",
        )
    ]


def test_a_night_that_arrives_late_says_how_to_rebuild_the_store_with_fleet_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """d-late: nights 1 and 3 ran; night 2's bundle lands in the drop folder afterwards. The
    fleet cannot put it before night 3: its failure names the ingest --rebuild that can (there
    is no fleet run --rebuild), and after it the night runs."""
    drops = tmp_path / "drops" / "d-late"
    night_3 = date(2026, 9, 3)
    write_night(drops / NIGHT_1.isoformat(), tiny_night())
    renamed = tiny_night()
    _renamed_student(renamed)
    write_night(drops / night_3.isoformat(), renamed)
    config = tmp_path / "rosterlab.toml"
    config.write_text(
        f'[fleet]\nroot = "fleet"\n[fleet.districts.d-late]\nsource = "drop"\nfolder = "{drops}"\n'
    )
    fleet = load_fleet(load_settings(config=str(config)))
    for when in (NIGHT_1, NIGHT_2, night_3):
        run_serial(fleet, when)
    night = tiny_night()
    _added_student(night)
    write_night(drops / NIGHT_2.isoformat(), night)

    late = run_serial(fleet, NIGHT_2).districts[0]

    store = fleet.store_path("d-late")
    rebuild = f"rosterlab --store {store} ingest {drops} --district d-late --rebuild"
    assert (late.outcome, late.reason) == (
        "failed",
        f"{drops}/2026-09-02 is older than district d-late's newest night (2026-09-03): "
        f"rebuild its store in time order with `{rebuild}`, then run the night again",
    )
    code, _, err = run(capsys, *rebuild.split()[1:], "--format", "json")
    assert code == 0, err
    again = run_serial(fleet, NIGHT_2).districts[0]
    assert (again.outcome, again.snapshot_id, again.reason) == ("processed", 3, "")
    with Store.open(store, read_only=True) as opened:
        assert [s.taken_at.date() for s in opened.snapshots("d-late")] == [
            NIGHT_1,
            NIGHT_2,
            night_3,
        ]


def _started(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(argv, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)


def test_a_scheduler_and_two_workers_started_as_dask_processes_run_the_fleet(
    template: Path, serial_night_2: tuple[Path, FleetRun], tmp_path: Path
) -> None:
    """The cluster path: `dask scheduler` and two `dask worker` processes on 127.0.0.1, then
    `rosterlab fleet run --scheduler`; the hostile districts fail alone, exit 0."""
    base = copy_of(template, tmp_path / "fleet")
    address_file = tmp_path / "scheduler.json"
    common = ["--host", "127.0.0.1", "--no-dashboard"]
    processes = [
        _started(
            [DASK, "scheduler", "--port", "0", "--scheduler-file", str(address_file), *common],
            tmp_path / "scheduler.log",
        )
    ]
    try:
        while not address_file.exists():
            assert processes[0].poll() is None, (tmp_path / "scheduler.log").read_text()
            time.sleep(0.1)
        time.sleep(0.2)  # the file is written whole, but give it a moment to be closed
        for n in (1, 2):
            processes.append(
                _started(
                    [DASK, "worker", "--scheduler-file", str(address_file), *WORKER, *common],
                    tmp_path / f"worker{n}.log",
                )
            )
        with Client(scheduler_file=str(address_file), timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
            address = client.scheduler.address
        assert address.startswith("tcp://127.0.0.1:")
        arguments = ["--night", "2026-09-02", "--scheduler", address, "--format", "json"]

        done = subprocess.run(
            [*ROSTERLAB, "--config", str(base / "rosterlab.toml"), "fleet", "run", *arguments],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            timeout=120,
        )
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            process.wait(timeout=30)

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["workers"] == 2
    assert report["dashboard"] is None  # the scheduler runs with --no-dashboard
    assert report["failed"] == ["d11-zip-bomb", "d12-two-bundles"]
    assert {d["district"]: d["outcome"] for d in report["districts"]} == INCIDENTS
    serial_root, _ = serial_night_2
    mine, theirs = results(base / "fleet"), results(serial_root)
    for table in TABLES:
        assert mine[table].equals(theirs[table]), table


def _holder(path: Path) -> int | None:
    """The process (not this one) with ``path`` open, from /proc."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(path) for fd in fds):
                return int(pid)
        except OSError:
            continue
    return None


# More districts than twice the workers' threads: Dask queues them at the scheduler.
BIG_FLEET = ("big", "small-1", "small-2", "small-3", "small-4")


def big_fleet(base: Path) -> Fleet:
    """Five districts after night 1; night 2 grows "big" by 40,000 students (seconds of
    ingest) and adds a student to the small ones."""
    drops = base / "drops"
    for district in BIG_FLEET:
        write_night(drops / district / NIGHT_1.isoformat(), tiny_night())
        if district != "big":
            night = tiny_night()
            _added_student(night)
            write_night(drops / district / NIGHT_2.isoformat(), night)
    big_night(drops / "big" / NIGHT_2.isoformat(), 40_000)
    config = base / "rosterlab.toml"
    config.write_text(
        '[fleet]\nroot = "fleet"\n'
        + "".join(
            f'[fleet.districts.{d}]\nsource = "drop"\nfolder = "drops/{d}"\n' for d in BIG_FLEET
        )
    )
    fleet = load_fleet(load_settings(config=str(config)))
    run_serial(fleet, NIGHT_1)
    return fleet


def run_killing_big(fleet: Fleet) -> FleetRun:
    """Night 2 on a LocalCluster of two workers; the worker ingesting "big" is SIGKILLed once,
    half a second after it opened big's store (well inside its ingest)."""
    store = fleet.store_path("big").resolve()
    finished: list[FleetRun] = []
    runner = threading.Thread(target=lambda: finished.append(run_fleet(fleet, NIGHT_2, workers=2)))
    runner.start()
    deadline = time.monotonic() + 60
    while (worker := _holder(store)) is None and runner.is_alive():
        assert time.monotonic() < deadline, "no worker opened the big district's store"
        time.sleep(0.02)
    assert worker is not None
    time.sleep(0.5)
    os.kill(worker, signal.SIGKILL)
    runner.join(timeout=120)
    (run,) = finished
    return run


def night_2_outcomes(fleet: Fleet) -> list[tuple[object, ...]]:
    outcomes = pl.read_parquet(results_path(fleet.root, "outcomes"), hive_partitioning=True)
    night_2 = outcomes.filter(pl.col("night") == NIGHT_2).sort("district")
    return night_2.select("district", "outcome", "snapshot_id", "attempts").rows()


def big_store_nights(fleet: Fleet) -> list[tuple[int, date]]:
    """big's nights, after ``rosterlab doctor``'s checks found nothing wrong."""
    checked = open_for_check(fleet.store_path("big"))
    try:
        assert check_store(checked).problems == ()
        return [(s.seq, s.taken_at.date()) for s in checked.snapshots()]
    finally:
        checked.close()


def test_a_worker_killed_mid_ingest_has_its_district_retried_and_recorded_once(
    tmp_path: Path,
) -> None:
    fleet = big_fleet(tmp_path)

    run = run_killing_big(fleet)

    big = {d.district: d for d in run.districts}["big"]
    assert (big.outcome, big.snapshot_id, big.attempts) == ("processed", 2, 2)
    assert outcomes_of(run) == dict.fromkeys(BIG_FLEET, "processed")
    assert big_store_nights(fleet) == [(1, NIGHT_1), (2, NIGHT_2)]
    with Store.open(fleet.store_path("big"), read_only=True) as store:
        assert store.snapshot_rows(2)["students"] == 40_003
    assert night_2_outcomes(fleet) == [
        ("big", "processed", 2, 2),
        *[(f"small-{n}", "processed", 2, 1) for n in range(1, 5)],
    ]


def test_a_district_whose_worker_keeps_dying_fails_alone_and_the_next_run_takes_it_up(
    tmp_path: Path,
) -> None:
    """With no second chance (allowed-failures 0) the killed task is given up: big is failed,
    the others are processed; the next run of the night ingests big once."""
    fleet = big_fleet(tmp_path)

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        run = run_killing_big(fleet)

    failed = run.failures
    assert [(d.district, d.snapshot_id, d.attempts) for d in failed] == [("big", None, 1)]
    assert failed[0].reason == (
        "its worker died on every try (killed, or out of memory): see the workers' logs, then "
        "re-run the night"
    )
    assert night_2_outcomes(fleet)[1:] == [(f"small-{n}", "processed", 2, 1) for n in range(1, 5)]
    assert big_store_nights(fleet) in ([(1, NIGHT_1)], [(1, NIGHT_1), (2, NIGHT_2)])

    again = run_serial(fleet, NIGHT_2)

    assert outcomes_of(again) == dict.fromkeys(BIG_FLEET, "processed")
    assert [d.district for d in again.districts if d.already_done] == list(BIG_FLEET[1:])
    assert night_2_outcomes(fleet)[0] == ("big", "processed", 2, 1)  # tries of this run
    assert big_store_nights(fleet) == [(1, NIGHT_1), (2, NIGHT_2)]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "[fleet]\nroot = 3\n",
            '{config} [fleet]: root 3 must be a folder path, e.g. "fleet"',
        ),
        (
            '[fleet]\nwhere = "x"\n',
            "{config} [fleet]: unknown key(s) where; allowed: districts, events, root",
        ),
        (
            '[fleet.districts.maple]\nsource = "ftp"\n',
            "{config} [fleet.districts.maple]: source 'ftp' must be one of drop, pull, api",
        ),
        (
            '[fleet.districts.maple]\nsource = "drop"\n',
            '{config} [fleet.districts.maple]: source = "drop" needs folder = "drops/maple" '
            "(text), got None",
        ),
        (
            '[fleet.districts.maple]\nsource = "pull"\ntarget = "clever"\n',
            "{config} [fleet.districts.maple]: target 'clever' is not configured: add "
            "[targets.clever]",
        ),
        (
            '[fleet.districts.maple]\nsource = "api"\ntarget = "x"\nfolder = "y"\n',
            '{config} [fleet.districts.maple]: folder has no meaning with source = "api": drop it',
        ),
        (
            '[fleet.districts."a/b"]\nsource = "drop"\nfolder = "x"\n',
            "{config} [fleet.districts.a/b]: the id must be letters, digits, '.', '_' or '-' (it "
            "names the district's store file): rename the table",
        ),
        (
            '[fleet.districts.maple]\nsource = "drop"\nfolder = "x"\nhold = 2\n',
            "{config} [fleet.districts.maple]: unknown key(s) hold; allowed: column_emptied_"
            "min_fill, column_emptied_ratio, events, folder, format_shift_min_values, "
            "format_shift_share, hold_deletion_threshold, hold_update_threshold, name, "
            "source, sync_type, target",
        ),
        (  # a misspelt source: the key is named, not "source None"
            '[fleet.districts.maple]\nsourse = "drop"\nfolder = "x"\n',
            "{config} [fleet.districts.maple]: unknown key(s) sourse; allowed: column_emptied_"
            "min_fill, column_emptied_ratio, events, folder, format_shift_min_values, "
            "format_shift_share, hold_deletion_threshold, hold_update_threshold, name, "
            "source, sync_type, target",
        ),
        (
            '[fleet.districts.maple]\nfolder = "x"\n',
            '{config} [fleet.districts.maple]: source is missing: add source = "drop" (one of '
            "drop, pull, api)",
        ),
        (  # a copied table whose folder was not changed: both stores would get maple's nights
            '[fleet.districts.maple]\nsource = "drop"\nfolder = "drops/maple"\n'
            '[fleet.districts.oak]\nsource = "drop"\nfolder = "drops/../drops/maple/"\n',
            "{config} [fleet.districts.oak]: folder {config.parent}/drops/../drops/maple is "
            "maple's too: give each district its own folder, or drop the table naming it twice",
        ),
        (
            '[targets.drop]\nhost = "h"\nusername = "u"\nknown_hosts = "k"\nremote_dir = "/"\n'
            '[fleet.districts.maple]\nsource = "pull"\ntarget = "drop"\n'
            '[fleet.districts.oak]\nsource = "pull"\ntarget = "drop"\n',
            "{config} [fleet.districts.oak]: target 'drop' is maple's too: give each district "
            "its own target, or drop the table naming it twice",
        ),
        (
            '[fleet.districts.Maple]\nsource = "drop"\nfolder = "a"\n'
            '[fleet.districts.maple]\nsource = "drop"\nfolder = "b"\n',
            "{config} [fleet.districts.maple]: the id differs from Maple only in case (one store "
            "file on macOS and Windows): rename one of them",
        ),
        (
            '[fleet.districts.maple]\nsource = "drop"\nfolder = "x"\nhold_deletion_threshold = 2\n',
            "{config} [fleet.districts.maple]: hold_deletion_threshold must be a number between "
            "0 and 1",
        ),
    ],
)
def test_a_bad_fleet_table_is_one_line_naming_the_key(
    tmp_path: Path, toml: str, message: str
) -> None:
    config = tmp_path / "rosterlab.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError) as raised:
        load_settings(config=str(config))
    assert raised.value.message == message.format(config=config)


def test_fleet_run_without_a_fleet_or_with_a_bad_night_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "rosterlab.toml"
    config.write_text('store = "x.duckdb"\n')
    assert run(capsys, "--config", str(config), "fleet", "run", "--serial") == (
        2,
        "",
        f"rosterlab: {config} has no [fleet] table: add [fleet] with a root and "
        "[fleet.districts.ID] tables (see the README's Fleet mode)\n",
    )
    config.write_text('[fleet]\nroot = "f"\n')
    assert run(capsys, "--config", str(config), "fleet", "run")[2] == (
        f"rosterlab: {config} [fleet] has no districts: add [fleet.districts.ID] tables\n"
    )
    assert run(capsys, "--config", str(config), "fleet", "run", "--night", "2026-9-1") == (
        2,
        "",
        "rosterlab: --night '2026-9-1' is not a date like 2026-09-03 (YYYY-MM-DD)\n",
    )


def test_fleet_run_lists_the_failed_districts_exits_0_and_a_re_run_is_a_no_op(
    template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = copy_of(template, tmp_path / "fleet")
    drops = fleet_at(base).districts[0].folder
    assert drops is not None
    code, out, err = run(
        capsys,
        "--config",
        str(base / "rosterlab.toml"),
        "fleet",
        "run",
        "--serial",
        "--night",
        "2026-09-02",
        "--progress",
    )
    assert code == 0, err
    assert out == (
        "night 2026-09-02: 12 districts serially (no Dask): failed 2, held 1, no-upload 1, "
        "not-processed 1, processed 7\n"
        "failed (2; the other districts ran):\n"
        f"  d11-zip-bomb: {drops.parent}/d11-zip-bomb/upload-2026-09-02.zip unpacks to "
        "21,474,836,400 bytes, over the limit of 8,589,934,592 (bundle_max_bytes in [limits]): "
        f"put the night's files in a folder {drops.parent}/d11-zip-bomb/upload-2026-09-02 in "
        "place of the zip (unzipped, if the district meant it, or sent again by the district), "
        "then run `rosterlab fleet run --night 2026-09-02` again\n"
        f"  d12-two-bundles: {drops.parent}/d12-two-bundles holds more than one bundle for "
        "2026-09-02 (2026-09-02, 2026-09-02.zip): keep the one to ingest\n"
        f"results: {base / 'fleet' / 'results'}\n"
    )
    bars = [line.split("] ", 1)[1] for line in err.splitlines()]
    assert bars[0] == "[##----------------------]  1/12 districts  d01-added: processed"
    assert bars[-1] == "[########################] 12/12 districts  d12-two-bundles: failed"
    assert len(bars) == 12
    fleet = fleet_at(base)
    before = {p: p.read_bytes() for p in fleet.root.rglob("*") if p.is_file()}

    code, out, _ = run(
        capsys,
        "--config",
        str(base / "rosterlab.toml"),
        "fleet",
        "run",
        "--serial",
        "--night",
        "2026-09-02",
        "--format",
        "json",
    )

    assert code == 0
    again = json.loads(out)
    done = {d["district"] for d in again["districts"] if d["already_done"]}
    assert done == set(DISTRICTS) - {"d05-no-upload", "d11-zip-bomb", "d12-two-bundles"}
    assert {d["district"]: d["outcome"] for d in again["districts"]} == INCIDENTS
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


def test_fail_on_makes_a_cron_run_exit_1_when_a_district_reaches_the_outcome(
    template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Night 1: every district processed (d08-first-night no upload); night 2: d03-held held,
    d04-missing-file not processed, d11/d12 failed. --fail-on gates on that outcome or worse."""
    config = str(copy_of(template, tmp_path / "fleet") / "rosterlab.toml")

    def exit_code(night: str, fail_on: str) -> int:
        code, _, err = run(
            capsys, "--config", config, "fleet", "run", "--serial", "--night", night,
            "--fail-on", fail_on, "--format", "json",
        )  # fmt: skip
        assert code in (0, 1), err
        return code

    assert exit_code("2026-09-01", "held") == 0
    assert exit_code("2026-09-02", "held") == 1
    fleet = fleet_at(tmp_path / "fleet")
    night_2 = run_serial(fleet, NIGHT_2)  # the same night again: failures run again
    assert [d.district for d in night_2.failing("failed")] == ["d11-zip-bomb", "d12-two-bundles"]
    assert [d.district for d in night_2.failing("not-processed")] == [
        "d04-missing-file",
        "d11-zip-bomb",
        "d12-two-bundles",
    ]
    assert [d.district for d in night_2.failing("held")] == [
        "d03-held",
        "d04-missing-file",
        "d11-zip-bomb",
        "d12-two-bundles",
    ]
    assert night_2.failing(None) == ()
    assert SPELT == FAIL_ON


def test_pull_and_api_districts_fetch_their_night_first(
    tmp_path: Path, sshd: Sshd, client_key: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pine's night is pulled over SFTP (real OpenSSH), oak's from the Data API stand-in."""
    remote = write_night(
        tmp_path / "remote", tiny_night(), when=datetime(2026, 9, 2, 2, 0, tzinfo=UTC)
    )
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {sshd.host_public_line}\n")
    served = ingest_nights(tmp_path / "served", tiny_night())  # district "tiny", as Clever has it
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with standin(served, "tiny") as origin:
        config = tmp_path / "rosterlab.toml"
        config.write_text(
            f'[targets.pine-drop]\nhost = "127.0.0.1"\nport = {sshd.port}\n'
            f'username = "{current_user()}"\nkey_file = "{client_key.private}"\n'
            f'remote_dir = "{remote}"\nknown_hosts = "{known_hosts}"\n\n'
            f'[api.standin]\nbase_url = "{origin}"\nversion = "3.1"\ntoken_env = "{TOKEN_ENV}"\n\n'
            '[fleet.districts.pine]\nsource = "pull"\ntarget = "pine-drop"\n\n'
            '[fleet.districts.oak]\nsource = "api"\ntarget = "standin"\n'
            'sync_type = "clever-managed"\n'
        )
        fleet = load_fleet(load_settings(config=str(config)))
        run = run_serial(fleet, NIGHT_2)

    assert [(d.district, d.outcome, d.snapshot_id, d.reason) for d in run.districts] == [
        ("oak", "served", 1, "pulled from the Data API"),  # a pull: what Clever serves
        ("pine", "processed", 1, ""),
    ]
    snapshots = pl.read_parquet(results_path(fleet.root, "snapshots"), hive_partitioning=True)
    assert snapshots.sort("district").select("district", "origin", "taken_at", "files").rows()[
        1
    ] == ("pine", "pulled", datetime(2026, 9, 2, 2, 0), 5)
    assert snapshots.sort("district").row(0, named=True)["origin"] == "api"


def test_a_fleet_district_keeps_its_district_settings_and_overrides_them(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "rosterlab.toml"
    config.parent.mkdir()
    config.write_text(
        '[districts.maple]\nname = "Maple USD"\nhold_deletion_threshold = 0.2\n\n'
        '[fleet]\nroot = "../fleet-root"\n\n'
        '[fleet.districts.maple]\nsource = "drop"\nfolder = "drops/maple"\n'
        "hold_deletion_threshold = 0.3\n\n"
        '[fleet.districts.birch]\nsource = "drop"\nfolder = "/srv/drops/birch"\n'
    )
    fleet = load_fleet(load_settings(config=str(config)))

    assert fleet.root == config.parent / "../fleet-root"
    assert fleet.store_path("maple") == config.parent / "../fleet-root/stores/maple.duckdb"
    assert [(d.district, d.folder) for d in fleet.districts] == [
        ("birch", Path("/srv/drops/birch")),
        ("maple", config.parent / "drops/maple"),
    ]
    maple = fleet.districts[1].settings
    assert (maple.name, maple.hold_deletion_threshold) == ("Maple USD", 0.3)
    assert fleet.districts[0].settings == DistrictSettings("birch")
    assert fleet.of_district(fleet.districts[0]).districts == (fleet.districts[0],)


def test_the_night_queues_the_biggest_districts_first(tmp_path: Path) -> None:
    """A big district queued last keeps one worker busy while the other idles: biggest first,
    by the size of each district's store; districts without a store keep the fleet's order."""
    from rosterlab.fleet.cluster import biggest_first

    write_config(tmp_path, tmp_path / "drops")
    fleet = fleet_at(tmp_path)
    sizes = {DISTRICTS[3]: 300, DISTRICTS[1]: 100, DISTRICTS[5]: 200}
    for district, size in sizes.items():
        fleet.store_path(district).parent.mkdir(parents=True, exist_ok=True)
        fleet.store_path(district).write_bytes(b"x" * size)
    rest = [d for d in DISTRICTS if d not in sizes]
    assert [d.district for d in biggest_first(fleet)] == [
        DISTRICTS[3],
        DISTRICTS[5],
        DISTRICTS[1],
        *rest,
    ]


def test_a_drop_folders_district_toml_counts_unless_rosterlab_toml_configures_the_district(
    tmp_path: Path,
) -> None:
    """The one precedence of every command: rosterlab.toml's settings for the district, else
    its folder's district.toml (kept with the district, as ``rosterlab ingest FOLDER`` keeps
    it), else the defaults. Night 2 deletes one student of three (33 %): each folder's
    district.toml allows deleting half."""
    from rosterlab.store.district_settings import settings_for_district

    drops = tmp_path / "drops"
    for district in ("own-toml", "overruled", "named-in-fleet", "no-toml"):
        folder = drops / district
        write_night(folder / NIGHT_1.isoformat(), tiny_night())
        night = tiny_night()
        _student_left(night)
        write_night(folder / NIGHT_2.isoformat(), night)
        if district != "no-toml":
            (folder / "district.toml").write_text(
                'name = "Own Name"\nsync_type = "sftp"\nhold_deletion_threshold = 0.5\n'
            )
    config = tmp_path / "rosterlab.toml"
    config.write_text(
        "[districts.overruled]\nhold_deletion_threshold = 0.2\n\n"
        '[fleet]\nroot = "fleet"\n\n'
        + "".join(
            f'[fleet.districts.{d}]\nsource = "drop"\nfolder = "drops/{d}"\n'
            + ('name = "Fleet Name"\n' if d == "named-in-fleet" else "")
            + "\n"
            for d in ("own-toml", "overruled", "named-in-fleet", "no-toml")
        )
    )
    fleet = load_fleet(load_settings(config=str(config)))
    run_serial(fleet, NIGHT_1)

    run = run_serial(fleet, NIGHT_2)

    assert outcomes_of(run) == {
        "own-toml": "processed",  # its district.toml: 33 % ≤ 50 %
        "overruled": "held",  # [districts.overruled]: 33 % > 20 %
        "named-in-fleet": "held",  # its fleet table has settings: the defaults' 10 % then
        "no-toml": "held",  # the defaults
    }
    holds = pl.read_parquet(results_path(fleet.root, "holds"), hive_partitioning=True)
    students = holds.filter(pl.col("entity") == "students")
    assert sorted(students.select("district", "entity", "threshold").rows()) == [
        ("named-in-fleet", "students", 0.1),
        ("no-toml", "students", 0.1),
        ("overruled", "students", 0.2),
    ]
    bare = Settings(store=tmp_path / "unused.duckdb", config_path=None)  # no [districts]
    for district, threshold in (("own-toml", 0.5), ("overruled", 0.5), ("no-toml", 0.1)):
        with Store.open(fleet.store_path(district), read_only=True) as store:
            kept = settings_for_district(store, bare, district)
        assert kept.hold_deletion_threshold == threshold, district


def _worker_settings() -> tuple[object, ...]:
    """What an embedded worker process runs with (called in the workers by client.run)."""
    return (
        os.environ.get("MALLOC_TRIM_THRESHOLD_"),
        dask.config.get("distributed.admin.tick.interval"),
        dask.config.get("distributed.worker.memory.monitor-interval"),
        dask.config.get("distributed.worker.profile.enabled"),
        dask.config.get("distributed.admin.system-monitor.interval"),
        dask.config.get("distributed.admin.system-monitor.disk"),
    )


def test_the_embedded_workers_run_with_rosterlabs_settings_not_dasks() -> None:
    """glibc's adaptive mmap threshold stays on, the event loops tick every 500 ms, and what
    only the dashboard reads is off (bokeh, which serves it, is not installed here)."""
    from rosterlab.fleet.cluster import embedded_client, local_settings

    assert not _has_module("bokeh")
    with embedded_client(2, local_settings()) as client:
        seen = set(client.run(_worker_settings).values())
    assert seen == {(None, "500ms", "500ms", False, "5s", False)}
    # Dask's own defaults, for the record of what changed
    assert dask.config.get("distributed.admin.tick.interval") == "20ms"


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
