"""Fleet mode's stories of one district's incident, each on a tiny drop folder named for it.

d-binary: students.csv arrives as a spreadsheet saved under its name (a binary file Clever
cannot read as a whole): not processed, no hold, no deletion anywhere. d-cp1252: a readable
students.csv saved as Windows-1252 (a few letters garbled): processed, the encoding an error
whose consequence Clever does not state. d-held-resent: night 2 drops two of three students (a
hold), night 3 sends the same files again: still the held upload, with the same predicted holds.
d-badzip / d-manyfiles: tonight's zip is no zip at all / holds more files than [limits] allows:
the operator is told what to put in the drop folder, not ingest's "pass the folder". d-gone:
removed from rosterlab.toml after night 1, its results stay: the headline counts the fleet's
districts and names the one no longer configured.
"""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from rosterlab.config import load_settings
from rosterlab.diff import diff_snapshots
from rosterlab.fleet import Fleet, load_fleet, results_path, run_serial
from rosterlab.report.fleet import headline_text, status_dict
from rosterlab.store import Store
from rosterlab.store.fleet_results import fleet_status
from rosterlab.store.outcomes import outcome_of
from tests.tiny import csv_text, tiny_night, write_night

NIGHT_1, NIGHT_2, NIGHT_3 = date(2026, 9, 1), date(2026, 9, 2), date(2026, 9, 3)
XLSX = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb5U0#\xf4\x00\x00\x00L\x02"


def fleet_of(tmp_path: Path, district: str, extra: str = "") -> Fleet:
    config = tmp_path / "rosterlab.toml"
    config.write_text(
        f'[fleet]\nroot = "fleet"\n[fleet.districts.{district}]\nsource = "drop"\n'
        f'folder = "drops/{district}"\n{extra}'
    )
    return load_fleet(load_settings(config=str(config)))


def test_a_binary_students_file_is_not_processed_and_predicts_no_deletion(tmp_path: Path) -> None:
    drops = tmp_path / "drops" / "d-binary"
    write_night(drops / NIGHT_1.isoformat(), tiny_night())
    tonight = write_night(drops / NIGHT_2.isoformat(), tiny_night())
    (tonight / "students.csv").write_bytes(XLSX)
    fleet = fleet_of(tmp_path, "d-binary")
    run_serial(fleet, NIGHT_1)

    night = run_serial(fleet, NIGHT_2).districts[0]

    assert (night.outcome, night.reason) == ("not-processed", "unreadable-file: students.csv")
    status = fleet_status(fleet.root, None, 7)
    assert status.holds == ()
    assert [(c.district, c.tier, c.why) for c in status.call_first] == [
        ("d-binary", "not-processed", "not processed (1 error): unreadable-file: students.csv")
    ]
    with Store.open(fleet.store_path("d-binary"), read_only=True) as store:
        outcome = outcome_of(store, 2)
        diff = diff_snapshots(store, "d-binary", "live", 2)
    assert (outcome.outcome, outcome.reason) == ("not-processed", "unreadable-file: students.csv")
    assert (diff.from_snapshot.id, diff.not_processed, diff.hold_reasons) == (
        1,
        "unreadable-file: students.csv",
        (),
    )
    # The fleet's diff counts are what Clever applies: nothing (they counted 3 students removed).
    counts = pl.read_parquet(results_path(fleet.root, "diff_counts"), hive_partitioning=True)
    tonight = counts.filter(pl.col("night") == NIGHT_2).sort("entity")
    assert tonight.select("entity", "added", "removed", "changed", "unchanged").rows() == [
        ("contacts", 0, 0, 0, 3),
        ("enrollments", 0, 0, 0, 3),
        ("schools", 0, 0, 0, 2),
        ("sections", 0, 0, 0, 2),
        ("staff", 0, 0, 0, 0),
        ("students", 0, 0, 0, 3),
        ("teachers", 0, 0, 0, 3),
    ]


def test_a_binary_staff_file_is_taken_as_not_sent_and_the_rest_processed(tmp_path: Path) -> None:
    """d-binary-staff: staff.csv (optional) arrives as a spreadsheet saved under its name: the
    rest of the upload is processed as if staff.csv were not sent (ours), so its two staff are
    a deletion hold — not the whole night not processed."""
    drops = tmp_path / "drops" / "d-binary-staff"
    night = tiny_night()
    night["staff.csv"] = [
        ["School_id", "Staff_id", "Staff_email", "First_name", "Last_name"],
        ["SCH-1", "ST-1", "al.bo@maple.example", "Al", "Bo"],
        ["SCH-2", "ST-2", "cy.di@maple.example", "Cy", "Di"],
    ]
    write_night(drops / NIGHT_1.isoformat(), night)
    tonight = write_night(drops / NIGHT_2.isoformat(), night)
    (tonight / "staff.csv").write_bytes(XLSX)
    fleet = fleet_of(tmp_path, "d-binary-staff")
    run_serial(fleet, NIGHT_1)

    result = run_serial(fleet, NIGHT_2).districts[0]

    assert (result.outcome, result.reason) == ("held", "hold: staff deletion")
    status = fleet_status(fleet.root, None, 7)
    assert [(h.district, h.entity, h.kind, h.count, h.base) for h in status.holds] == [
        ("d-binary-staff", "staff", "deletion", 2, 2)
    ]
    counts = pl.read_parquet(results_path(fleet.root, "diff_counts"), hive_partitioning=True)
    staff = counts.filter((pl.col("night") == NIGHT_2) & (pl.col("entity") == "staff"))
    assert staff.select("added", "removed", "changed", "unchanged").rows() == [(0, 2, 0, 0)]
    with Store.open(fleet.store_path("d-binary-staff"), read_only=True) as store:
        outcome = outcome_of(store, 2)
        diff = diff_snapshots(store, "d-binary-staff", "live", 2)
    assert (outcome.outcome, outcome.reason) == ("held", "hold: staff deletion")
    assert (diff.from_snapshot.id, diff.not_processed, diff.entity("staff").removed) == (1, None, 2)
    assert [(h.entity, h.kind, h.count) for h in diff.hold_reasons] == [("staff", "deletion", 2)]


def test_a_readable_file_in_windows_1252_is_processed_with_its_encoding_flagged(
    tmp_path: Path,
) -> None:
    drops = tmp_path / "drops" / "d-cp1252"
    write_night(drops / NIGHT_1.isoformat(), tiny_night())
    night = tiny_night()
    night["students.csv"][3][3] = "Díaz"
    tonight = write_night(drops / NIGHT_2.isoformat(), night)
    (tonight / "students.csv").write_bytes(csv_text(night["students.csv"]).encode("cp1252"))
    fleet = fleet_of(tmp_path, "d-cp1252")
    run_serial(fleet, NIGHT_1)

    result = run_serial(fleet, NIGHT_2).districts[0]

    assert (result.outcome, result.reason) == ("processed", "")
    status = fleet_status(fleet.root, None, 7)
    assert (status.holds, status.call_first) == ((), ())
    with Store.open(fleet.store_path("d-cp1252"), read_only=True) as store:
        findings = [(f.code, f.value) for f in store.findings(2)]
    assert findings == [("encoding-not-utf8", "cp1252"), ("extension-column", "ext.house")]


def test_a_held_upload_sent_again_is_still_the_held_upload_with_its_holds(tmp_path: Path) -> None:
    drops = tmp_path / "drops" / "d-held-resent"
    write_night(drops / NIGHT_1.isoformat(), tiny_night())
    truncated = tiny_night()
    del truncated["students.csv"][2:]  # only S-001's first contact row is left
    for when in (NIGHT_2, NIGHT_3):
        write_night(drops / when.isoformat(), truncated)
    fleet = fleet_of(tmp_path, "d-held-resent")
    for when in (NIGHT_1, NIGHT_2):
        run_serial(fleet, when)

    resent = run_serial(fleet, NIGHT_3).districts[0]

    assert (resent.outcome, resent.snapshot_id, resent.reason) == (
        "held",
        2,
        "hold: contacts deletion, students deletion; unchanged: the same files as 2026-09-02 "
        "(snapshot 2), held that night: Clever applies them once the district approves the hold",
    )
    for night in (NIGHT_2, NIGHT_3):
        status = fleet_status(fleet.root, night, 7)
        assert [(h.district, h.entity, h.kind, h.count, h.base) for h in status.holds] == [
            ("d-held-resent", "contacts", "deletion", 2, 3),
            ("d-held-resent", "students", "deletion", 2, 3),
        ]
    assert [(c.district, c.tier, c.why) for c in status.call_first] == [
        (
            "d-held-resent",
            "held",
            "held: contacts deletion 2 of 3 (66.7% > 10%); students deletion 2 of 3 "
            "(66.7% > 10%); unchanged: the same files as 2026-09-02 (snapshot 2), held that "
            "night: Clever applies them once the district approves the hold",
        )
    ]


def _no_zip(path: Path) -> None:
    path.write_bytes(b"<html>502 Bad Gateway</html>")  # what a failed download saved


def _six_files(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, rows in tiny_night().items():
            archive.writestr(name, csv_text(rows))
        archive.writestr("staff.csv", "Staff_id,Staff_email\n")


@pytest.mark.parametrize(
    ("district", "write", "problem"),
    [
        ("d-badzip", _no_zip, "is neither a folder nor a readable zip (File is not a zip file)"),
        ("d-manyfiles", _six_files, "holds 6 files, over the limit of 5"),
    ],
)
def test_a_zip_fleet_mode_cannot_read_says_what_to_put_in_the_drop_folder(
    tmp_path: Path, district: str, write: object, problem: str
) -> None:
    drops = tmp_path / "drops" / district
    write_night(drops / NIGHT_1.isoformat(), tiny_night())
    zipped = drops / f"upload-{NIGHT_2.isoformat()}.zip"
    assert callable(write)
    write(zipped)
    fleet = fleet_of(tmp_path, district, "[limits]\nzip_max_files = 5\n")
    run_serial(fleet, NIGHT_1)

    night = run_serial(fleet, NIGHT_2).districts[0]

    assert (night.outcome, night.reason) == (
        "failed",
        f"{zipped} {problem}: put the night's files in a folder {drops}/upload-2026-09-02 in "
        "place of the zip (unzipped, if the district meant it, or sent again by the district), "
        "then run `rosterlab fleet run --night 2026-09-02` again",
    )


def test_the_headline_counts_the_configured_districts_and_names_a_removed_one(
    tmp_path: Path,
) -> None:
    for district in ("d-gone", "d-stay"):
        write_night(tmp_path / "drops" / district / NIGHT_1.isoformat(), tiny_night())
    write_night(tmp_path / "drops" / "d-stay" / NIGHT_2.isoformat(), tiny_night())
    both = '[fleet.districts.d-gone]\nsource = "drop"\nfolder = "drops/d-gone"\n'
    run_serial(fleet_of(tmp_path, "d-stay", both), NIGHT_1)
    fleet = fleet_of(tmp_path, "d-stay")  # d-gone left the fleet
    run_serial(fleet, NIGHT_2)

    status = fleet_status(fleet.root, None, 7, fleet=["d-stay"])

    assert (status.districts, status.unconfigured, status.configured) == (
        ("d-gone", "d-stay"),
        ("d-gone",),
        1,
    )
    assert headline_text(status) == (
        "fleet status for 2026-09-02: 1 district (1 processed); results shown also of 1 "
        "district no longer in the fleet's config: d-gone"
    )
    assert (status_dict(status)["districts"], status_dict(status)["unconfigured"]) == (
        1,
        ["d-gone"],
    )
