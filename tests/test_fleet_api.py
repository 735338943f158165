"""A fleet's ``api`` districts go by events night after night, and say how each night was pulled.

Issue 14: the fleet pulled every auto-sync district in full every night, although the events
pull exists for exactly that. oak is served by the stand-in (a real ``rosterlab api serve``
process on 127.0.0.1) from a store of the district as Clever has it; the fleet runs four nights,
one of them on a real Dask LocalCluster: night 1 a full pull (no earlier pull), night 2 by events
(a student arrives), night 3 unchanged (nothing served changed: no new night), night 4 a full
pull forced by ``events = false`` (a student renamed).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from rosterlab import ui
from rosterlab.bundle import open_bundle
from rosterlab.config import load_settings
from rosterlab.errors import ConfigError
from rosterlab.fleet import Fleet, load_fleet, results_path, run_fleet, run_serial
from rosterlab.fleet.model import ApiNight
from rosterlab.fleet.render import fleet_run_dict, fleet_run_text
from rosterlab.report.fleet import status_dict, status_html, status_text
from rosterlab.store import Store, ingest_bundle
from rosterlab.store.fleet_results import ApiPullNight, fleet_status
from tests.api_standin import TOKEN, TOKEN_ENV, free_port, standin
from tests.tiny import Night, tiny_night, write_night

NIGHTS = [date(2026, 9, n) for n in range(1, 5)]
SERVED = "pulled from the Data API"
FULL_PAGES = 9  # districts, schools, terms, courses, sections, 4 user roles: a page each
FIRST = "no earlier pull of [api.standin] v3.1 to apply events to"


def _arrived(night: Night) -> Night:
    night["students.csv"].append(
        ["SCH-1", "S-004", "00999", "Roe", "Di", "4", "", "", "", "", "green"]
    )
    return night


def _renamed(night: Night) -> Night:
    night["students.csv"][3][4] = "Bob"
    return night


def _serve(served: Path, night: Night, number: int) -> None:
    """The district as Clever has it on night ``number`` (the stand-in serves the newest)."""
    when = datetime(2026, 9, number, 2, 0, tzinfo=UTC)
    folder = write_night(served.parent / f"served-{number}", night, when=when)
    with Store.open(served) as store, open_bundle(folder) as bundle:
        ingest_bundle(store, bundle, district="tiny", taken_at=when)


def _configure(base: Path, port: int, oak: str = "") -> Fleet:
    config = base / "rosterlab.toml"
    config.write_text(
        f'[api.standin]\nbase_url = "http://127.0.0.1:{port}"\nversion = "3.1"\n'
        f'token_env = "{TOKEN_ENV}"\n\n[fleet]\nroot = "fleet"\n\n'
        f'[fleet.districts.oak]\nsource = "api"\ntarget = "standin"\n'
        f'sync_type = "clever-managed"\n{oak}'
    )
    return load_fleet(load_settings(config=str(config)))


def _outcomes(fleet: Fleet) -> list[tuple[object, ...]]:
    frame = pl.read_parquet(results_path(fleet.root, "outcomes"), hive_partitioning=True)
    columns = ["night", "outcome", "reason", "snapshot_id", "unchanged", "pulled_by",
               "pages_fetched", "events_applied_to", "events_not_applied"]  # fmt: skip
    return frame.sort("night").select(columns).rows()


def test_an_api_district_goes_by_events_and_says_how_each_night_was_pulled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    served, port = tmp_path / "clever" / "tiny.duckdb", free_port()
    served.parent.mkdir()
    fleet = _configure(tmp_path, port)
    assert fleet.districts[0].full_pulls is None  # by events unless told otherwise

    _serve(served, tiny_night(), 1)
    with standin(served, "tiny", port=port):
        night_1 = run_serial(fleet, NIGHTS[0])
    _serve(served, _arrived(tiny_night()), 2)
    with standin(served, "tiny", port=port):
        night_2 = run_fleet(fleet, NIGHTS[1], workers=1)  # a real Dask worker process
        night_3 = run_serial(fleet, NIGHTS[2])  # nothing served changed since night 2
        again = run_serial(fleet, NIGHTS[2])  # the night run again: done, nothing pulled
    fleet = _configure(tmp_path, port, "events = false\n")
    _serve(served, _renamed(_arrived(tiny_night())), 3)
    with standin(served, "tiny", port=port):
        night_4 = run_serial(fleet, NIGHTS[3])

    with Store.open(fleet.store_path("oak"), read_only=True) as store:
        pulled_on = {s.id: s.taken_at.date().isoformat() for s in store.snapshots("oak")}
    assert list(pulled_on) == [1, 2, 3]  # night 3 recorded no snapshot
    unchanged = f"{SERVED}; unchanged: the served data is snapshot 2's (pulled {pulled_on[2]})"
    forced = "[fleet.districts.oak] events = false in rosterlab.toml"
    assert _outcomes(fleet) == [
        (NIGHTS[0], "served", SERVED, 1, False, "full", FULL_PAGES, None, FIRST),
        (NIGHTS[1], "served", SERVED, 2, False, "events", 1, 1, None),
        (NIGHTS[2], "served", unchanged, 2, True, "events", 1, 2, None),
        (NIGHTS[3], "served", SERVED, 3, False, "full", FULL_PAGES, None, forced),
    ]
    assert [run.districts[0].api for run in (night_1, night_2, night_3, again, night_4)] == [
        ApiNight("full", FULL_PAGES, None, FIRST),
        ApiNight("events", 1, 1, None),
        ApiNight("events", 1, 2, None),
        ApiNight("events", 1, 2, None),  # as recorded
        ApiNight("full", FULL_PAGES, None, forced),
    ]
    assert (night_3.districts[0].unchanged, again.districts[0].already_done) == (True, True)
    diffs = pl.read_parquet(results_path(fleet.root, "diff_counts"), hive_partitioning=True)
    students = diffs.filter(pl.col("entity") == "students").sort("night")
    # the unchanged night is no new night: nothing to compare, no diff written
    assert students.select("night", "added", "changed", "compared_with").rows() == [
        (NIGHTS[1], 1, 0, pulled_on[1]),
        (NIGHTS[3], 0, 1, pulled_on[2]),
    ]

    results = str(fleet.root / "results")
    assert fleet_run_text(night_3, results).splitlines() == [
        "night 2026-09-03: 1 districts serially (no Dask): served 1",
        "pulled from the Data API (1):",
        "  oak: unchanged, the served data is snapshot 2's (by events: 1 event page applied "
        "to snapshot 2)",
        f"results: {results}",
    ]
    assert fleet_run_text(night_2, results).splitlines()[1:3] == [
        "pulled from the Data API (1):",
        "  oak: snapshot 2 by events: 1 event page applied to snapshot 1",
    ]
    assert fleet_run_text(night_1, results).splitlines()[2] == (
        f"  oak: snapshot 1 by a full pull of {FULL_PAGES} pages; events not applied: {FIRST}"
    )
    assert fleet_run_text(night_4, results).splitlines()[2] == (
        f"  oak: snapshot 3 by a full pull of {FULL_PAGES} pages; events not applied: {forced}"
    )
    (district,) = fleet_run_dict(night_3, results)["districts"]
    assert {k: district[k] for k in ("snapshot_id", "unchanged", "api")} == {
        "snapshot_id": 2,
        "unchanged": True,
        "api": {
            "pulled_by": "events",
            "pages_fetched": 1,
            "events_applied_to": 2,
            "events_not_applied": None,
        },
    }

    status = fleet_status(fleet.root, NIGHTS[2], 3)
    assert status.api_pulls == (ApiPullNight("oak", 2, True, "events", 1, 2, None),)
    assert repr(ui.api_pulls(status)).splitlines() == [
        "pulled from the Data API tonight:",
        "  oak  unchanged, the served data is snapshot 2's (by events: 1 event page applied to "
        "snapshot 2)",
    ]
    assert status_dict(status)["api_pulls"] == [
        {
            "district": "oak",
            "snapshot_id": 2,
            "unchanged": True,
            "pulled_by": "events",
            "pages_fetched": 1,
            "events_applied_to": 2,
            "events_not_applied": None,
        }
    ]
    assert (
        "pulled from the Data API tonight:\n"
        "  oak  unchanged, the served data is snapshot 2's (by events: 1 event page applied to "
        "snapshot 2)\n\n"
    ) in status_text(status)
    assert (
        "<h2>Pulled from the Data API tonight</h2>\n<table><thead><tr><th>district</th>"
        "<th>pulled</th></tr></thead><tbody><tr><td>oak</td><td>snapshot 3 by a full pull of "
        f"{FULL_PAGES} pages; events not applied: [fleet.districts.oak] events = false in "
        "rosterlab.toml</td></tr></tbody></table>"
    ) in status_html(fleet_status(fleet.root, NIGHTS[3], 3))
    assert json.dumps(status_dict(fleet_status(fleet.root, NIGHTS[0], 1))["api_pulls"]) == (
        json.dumps(
            [
                {
                    "district": "oak",
                    "snapshot_id": 1,
                    "unchanged": False,
                    "pulled_by": "full",
                    "pages_fetched": FULL_PAGES,
                    "events_applied_to": None,
                    "events_not_applied": FIRST,
                }
            ]
        )
    )


def test_a_night_whose_pull_outlived_its_worker_is_that_nights_not_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Incident: a worker died after its pull committed snapshot 2 but before the night's
    results were written; the night runs again and its pull matches snapshot 2. It is the
    night's own snapshot (recorded since the night's first attempt began), not an unchanged
    night — the diff against night 1 is written. Judged by the night's date instead (as a drop
    folder's), a snapshot pulled on another date than the night's name read as unchanged."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    served, port = tmp_path / "clever" / "tiny.duckdb", free_port()
    served.parent.mkdir()
    fleet = _configure(tmp_path, port)
    _serve(served, tiny_night(), 1)
    with standin(served, "tiny", port=port):
        run_serial(fleet, NIGHTS[0])
    _serve(served, _arrived(tiny_night()), 2)
    attempts = fleet.root / "stores" / f"oak.{NIGHTS[1].isoformat()}.attempts"
    with standin(served, "tiny", port=port):
        first = run_serial(fleet, NIGHTS[1])
        # what the killed attempt left: the snapshot, the attempt's start, no results
        begun = datetime(2026, 1, 1)
        attempts.write_text(f"1 {begun.isoformat()}")
        for table in ("outcomes", "diff_counts"):
            (results_path(fleet.root, table) / f"night={NIGHTS[1]}" / "district=oak" /
             "part-0.parquet").unlink()  # fmt: skip
        rerun = run_serial(fleet, NIGHTS[1])

    assert (first.districts[0].snapshot_id, first.districts[0].unchanged) == (2, False)
    run = rerun.districts[0]
    assert (run.snapshot_id, run.unchanged, run.reason, run.attempts) == (2, False, SERVED, 2)
    diffs = pl.read_parquet(results_path(fleet.root, "diff_counts"), hive_partitioning=True)
    assert diffs.filter(pl.col("entity") == "students").select("night", "added").rows() == [
        (NIGHTS[1], 1)
    ]
    assert not attempts.exists()


@pytest.mark.parametrize(
    ("fleet_key", "oak_key", "full_pulls"),
    [
        ("", "", None),
        ("events = false\n", "", "[fleet] events = false in rosterlab.toml"),
        ("events = false\n", "events = true\n", None),
        ("", "events = false\n", "[fleet.districts.oak] events = false in rosterlab.toml"),
    ],
)
def test_events_false_forces_full_pulls_fleet_wide_or_per_district(
    tmp_path: Path, fleet_key: str, oak_key: str, full_pulls: str | None
) -> None:
    config = tmp_path / "rosterlab.toml"
    config.write_text(
        '[api.standin]\nbase_url = "http://127.0.0.1:1"\n\n'
        f'[fleet]\nroot = "fleet"\n{fleet_key}\n'
        f'[fleet.districts.oak]\nsource = "api"\ntarget = "standin"\n{oak_key}\n'
        '[fleet.districts.maple]\nsource = "drop"\nfolder = "drops/maple"\n'
    )
    fleet = load_fleet(load_settings(config=str(config)))
    assert [(d.district, d.full_pulls) for d in fleet.districts] == [
        ("maple", None),
        ("oak", full_pulls),
    ]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[fleet]\nevents = "no"\n', "[fleet]: events 'no' must be true or false"),
        (
            '[fleet.districts.oak]\nsource = "api"\ntarget = "standin"\nevents = 0\n',
            "[fleet.districts.oak]: events 0 must be true or false",
        ),
        (
            '[fleet.districts.maple]\nsource = "drop"\nfolder = "drops"\nevents = false\n',
            '[fleet.districts.maple]: events has no meaning with source = "drop": drop it',
        ),
    ],
)
def test_a_wrong_events_setting_is_a_one_line_error(
    tmp_path: Path, table: str, message: str
) -> None:
    config = tmp_path / "rosterlab.toml"
    config.write_text(f'[api.standin]\nbase_url = "http://127.0.0.1:1"\n\n{table}')
    with pytest.raises(ConfigError) as raised:
        load_settings(config=str(config))
    assert raised.value.message == f"{config} {message}"
