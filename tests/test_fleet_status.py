"""rosterlab fleet status: the morning overview, computed from a real fleet run's Parquet results.

The fleet is ``rosterlab.synth``'s sample fleet scaled down: twelve tiny districts, three nights,
tonight's incidents on fixed districts — d002 held (a truncated export), d003 not processed
(students.csv arrives as students.csv.txt), d004 errors climbing (2 more orphan enrollments each
night), d005 a hostile zip (an entry escaping the folder, named with HTML), d006 a row skipped,
d007 no upload. Nights 1 and 2 run serially; tonight runs serially in one copy of the fleet and
on a 2-worker Dask LocalCluster in another, and both give the same status.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from rosterlab import ui
from rosterlab.config import load_settings
from rosterlab.fleet import load_fleet, run_fleet, run_serial
from rosterlab.store.fleet_results import FleetStatus, _why, fleet_status
from rosterlab.synth.fleet import plan_fleet, write_fleet
from tests.cli_run import run

NIGHTS = (date(2026, 9, 1), date(2026, 9, 2), date(2026, 9, 3))
HOSTILE_REASON = (
    "drops/d005/2026-09-03.zip holds an unsafe entry '../<img src=x onerror=\"alert(1)\">.csv' "
    "(absolute, '..' or a link): re-create the zip with plain relative names"
)
P = "processed"


@pytest.fixture(scope="module")
def fleets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(serial, dask): the same sample fleet run serially, and tonight on Dask in a copy."""
    serial = tmp_path_factory.mktemp("serial")
    config = write_fleet(plan_fleet(12, 3, max_students=300), serial)
    fleet = load_fleet(load_settings(config=str(config)))
    for night in NIGHTS[:2]:
        run_serial(fleet, night)
    dask = tmp_path_factory.mktemp("dask")
    shutil.copytree(serial, dask, dirs_exist_ok=True)
    run_serial(fleet, NIGHTS[2])
    on_dask = run_fleet(
        load_fleet(load_settings(config=str(dask / "rosterlab.toml"))), NIGHTS[2], workers=2
    )
    assert [d.outcome for d in on_dask.districts].count("failed") == 1
    return config, dask / "rosterlab.toml"


def _status(config: Path, night: date | None = None, nights: int = 7) -> FleetStatus:
    return fleet_status(config.parent / "fleet", night, nights, paths_from=config.parent)


def test_the_grid_holds_trends_and_who_to_call_first(fleets: tuple[Path, Path]) -> None:
    status = _status(fleets[0])
    assert (status.night, status.nights) == (NIGHTS[2], NIGHTS)
    assert status.districts == tuple(f"d{i:03d}" for i in range(1, 13))
    tonight = {"d002": "held", "d003": "not-processed", "d005": "failed", "d007": "no-upload"}
    assert status.grid == tuple((P, P, tonight.get(d, P)) for d in status.districts)
    assert dict(status.tonight) == {
        "processed": 8, "held": 1, "not-processed": 1, "failed": 1, "no-upload": 1,
    }  # fmt: skip
    assert [(h.district, h.entity, h.kind, h.count, h.base) for h in status.holds] == [
        ("d002", "contacts", "deletion", 105, 199),
        ("d002", "enrollments", "deletion", 528, 1064),
        ("d002", "students", "deletion", 66, 133),
    ]
    trends = {t.district: (t.errors, t.climbing) for t in status.trends}
    assert trends["d004"] == ((0, 2, 4), True)
    assert trends["d006"] == ((0, 0, 1), False)  # one rise is not a climb
    assert trends["d005"] == ((0, 0, None), False)  # a failed night has no count
    assert trends["d007"] == ((0, 0, None), False)
    assert trends["d001"] == ((0, 0, 0), False)
    assert [(c.rank, c.district, c.tier, c.why) for c in status.call_first] == [
        (1, "d003", "not-processed", "not processed (2 errors): missing-file: students.csv"),
        (2, "d005", "failed", f"failed: {HOSTILE_REASON}"),
        (3, "d002", "held",
         "held: contacts deletion 105 of 199 (52.8% > 10%); enrollments deletion 528 of 1,064 "
         "(49.6% > 10%); students deletion 66 of 133 (49.6% > 10%)"),
        (4, "d004", "errors-climbing", "errors climbing: 0 → 2 → 4"),
        (5, "d006", "rows-skipped", "1 row skipped tonight, 30 rows carried with skipped records"),
        (6, "d007", "no-upload", "no upload tonight"),
    ]  # fmt: skip


def test_a_dask_run_of_tonight_gives_the_same_status(fleets: tuple[Path, Path]) -> None:
    serial, dask = (_status(config) for config in fleets)
    assert replace(dask, root=serial.root) == serial


def test_an_earlier_night_shows_the_nights_up_to_it_and_nobody_to_call(
    fleets: tuple[Path, Path],
) -> None:
    status = _status(fleets[0], NIGHTS[1], nights=1)
    assert status.nights == (NIGHTS[1],)
    assert set(status.grid) == {(P,)}
    assert (status.call_first, status.holds) == ((), ())


def test_fleet_status_text(fleets: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--config", str(fleets[0]), "fleet", "status")
    assert (code, err) == (0, "")
    assert out == (
        "fleet status for 2026-09-03: 12 districts "
        "(8 processed · 1 held · 1 not-processed · 1 failed · 1 no-upload)\n"
        "\n"
        "call first:\n"
        "   1. d003  not-processed    not processed (2 errors): missing-file: students.csv\n"
        f"   2. d005  failed           failed: {HOSTILE_REASON}\n"
        "   3. d002  held             held: contacts deletion 105 of 199 (52.8% > 10%); "
        "enrollments deletion 528 of 1,064 (49.6% > 10%); students deletion 66 of 133 "
        "(49.6% > 10%)\n"
        "   4. d004  errors-climbing  errors climbing: 0 → 2 → 4\n"
        "   5. d006  rows-skipped     1 row skipped tonight, 30 rows carried with skipped records\n"
        "   6. d007  no-upload        no upload tonight\n"
        "\n"
        "predicted holds tonight:\n"
        "  d002  contacts deletion: 105 of 199 (52.8%, threshold 10%)\n"
        "  d002  enrollments deletion: 528 of 1,064 (49.6%, threshold 10%)\n"
        "  d002  students deletion: 66 of 133 (49.6%, threshold 10%)\n"
        "\n"
        "outcomes, 2026-09-01 to 2026-09-03:\n"
        "  district  09-01          09-02          09-03\n"
        "  d002      processed      processed      held\n"
        "  d003      processed      processed      not-processed\n"
        "  d005      processed      processed      failed\n"
        "  d007      processed      processed      no-upload\n"
        "  8 districts processed every night shown\n"
        "\n"
        "errors per night (districts with any):\n"
        "  district  09-01  09-02  09-03\n"
        "  d004          0      2      4  climbing\n"
        "  d003          0      0      2\n"
        "  d006          0      0      1\n"
    )


def test_fleet_status_json(fleets: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--config", str(fleets[0]), "fleet", "status", "--format", "json")
    payload = json.loads(out)
    assert code == 0
    assert list(payload) == [
        "root", "night", "nights", "districts", "tonight", "not_run", "unconfigured",
        "call_first", "holds", "grid", "trends", "api_pulls",
    ]  # fmt: skip
    assert payload["api_pulls"] == []  # no Data API district in this fleet
    assert payload["not_run"] == []
    assert payload["root"] == str(fleets[0].parent / "fleet")
    assert payload["night"] == "2026-09-03"
    assert payload["nights"] == ["2026-09-01", "2026-09-02", "2026-09-03"]
    assert payload["districts"] == 12
    assert payload["tonight"] == {
        "processed": 8, "held": 1, "not-processed": 1, "failed": 1, "no-upload": 1,
    }  # fmt: skip
    assert payload["call_first"][1] == {
        "rank": 2, "district": "d005", "tier": "failed", "why": f"failed: {HOSTILE_REASON}",
    }  # fmt: skip
    assert payload["holds"][2] == {
        "district": "d002", "entity": "students", "kind": "deletion", "count": 66, "base": 133,
        "ratio": 0.4962, "threshold": 0.1,  # 66 / 133 to 4 digits, as diff's JSON
    }  # fmt: skip
    assert payload["grid"][6] == {"district": "d007", "outcomes": [P, P, "no-upload"]}
    assert payload["trends"][3] == {"district": "d004", "errors": [0, 2, 4], "climbing": True}
    assert payload["trends"][4] == {"district": "d005", "errors": [0, 0, None], "climbing": False}


def test_a_run_stopped_part_way_names_the_districts_not_run_instead_of_calling_nobody(
    fleets: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Night 3 was stopped (Ctrl-C) after every district but d001 and d002 (both processed on
    nights 1 and 2) had run: the overview does not say every district was processed."""
    partial = tmp_path / "partial"
    shutil.copytree(fleets[0].parent, partial)
    for district in ("d001", "d002"):
        for table in (partial / "fleet" / "results").iterdir():
            shutil.rmtree(table / "night=2026-09-03" / f"district={district}", ignore_errors=True)
    config = str(partial / "rosterlab.toml")
    status = ui.fleet_status_of(config)
    assert status.not_run == ("d001", "d002")
    assert ui.call_first(status).text.splitlines()[0] == (
        "fleet status for 2026-09-03: 12 districts "
        "(7 processed · 1 not-processed · 1 failed · 1 no-upload · 2 not run)"
    )
    code, out, _ = run(capsys, "--config", config, "fleet", "status", "--format", "json")
    assert (code, json.loads(out)["not_run"]) == (0, ["d001", "d002"])
    night_2 = ui.call_first(ui.fleet_status_of(config, NIGHTS[1], nights=1))
    assert night_2.text.splitlines()[2:] == [
        "call first:",
        "  nobody: every district was processed tonight without skipped rows",
    ]
    # Tonight without d003 (not processed), d005 and d007 too: nobody with a result to call.
    for district in ("d003", "d004", "d005", "d006", "d007"):
        for table in (partial / "fleet" / "results").iterdir():
            shutil.rmtree(table / "night=2026-09-03" / f"district={district}", ignore_errors=True)
    shown = ui.call_first(ui.fleet_status_of(config))
    assert shown.text.splitlines()[2:] == [
        "call first:",
        "  nobody among the districts with a result tonight",
        "  not run tonight (7: the run was stopped or has not reached them): d001, d002, d003, "
        "d004, d005, d006, d007; `rosterlab fleet run --night 2026-09-03` runs them (a district "
        "done is not run again)",
    ]
    assert "Nobody among the districts with a result tonight." in shown.html


def test_fleet_status_html_escapes_what_a_district_sent(
    fleets: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--config", str(fleets[0]), "fleet", "status", "--format", "html")
    assert code == 0
    assert out.startswith("<!DOCTYPE html>")
    assert "<img" not in out and 'onerror="' not in out and "<script" not in out
    assert (
        "<td>failed: drops/d005/2026-09-03.zip holds an unsafe entry "
        "&#x27;../&lt;img src=x onerror=&quot;alert(1)&quot;&gt;.csv&#x27;"
    ) in out
    assert '<td class="not-processed">not-processed</td>' in out


def test_status_refuses_a_night_without_results_and_a_fleet_never_run(
    fleets: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(fleets[0])
    code, out, err = run(capsys, "--config", config, "fleet", "status", "--night", "2026-09-09")
    assert (code, out) == (2, "")
    assert err == (
        "rosterlab: no fleet results for night 2026-09-09; nights with results (latest 3): "
        "2026-09-01, 2026-09-02, 2026-09-03. Run `rosterlab fleet run --night 2026-09-09` first\n"
    )
    code, _, err = run(capsys, "--config", config, "fleet", "status", "--night", "09/03/2026")
    assert (code, err) == (
        2, "rosterlab: --night '09/03/2026' is not a date like 2026-09-03 (YYYY-MM-DD)\n",
    )  # fmt: skip
    never = tmp_path / "never.toml"
    never.write_text(
        '[fleet]\nroot = "fleet"\n[fleet.districts.d001]\nsource = "drop"\nfolder = "drops"\n',
        encoding="utf-8",
    )
    code, _, err = run(capsys, "--config", str(never), "fleet", "status")
    assert (code, err) == (
        2, f"rosterlab: no fleet results under {tmp_path / 'fleet' / 'results'}: run "
        "`rosterlab fleet run` first\n",
    )  # fmt: skip


def test_the_notebook_displays_show_each_section_as_text_and_escaped_html(
    fleets: tuple[Path, Path],
) -> None:
    status = ui.fleet_status_of(fleets[0])
    assert status == _status(fleets[0])
    shown = ui.call_first(status)
    assert repr(shown).splitlines()[:4] == [
        "fleet status for 2026-09-03: 12 districts "
        "(8 processed · 1 held · 1 not-processed · 1 failed · 1 no-upload)",
        "",
        "call first:",
        "   1. d003  not-processed    not processed (2 errors): missing-file: students.csv",
    ]
    assert "<img" not in shown._repr_html_() and "&lt;img src=x" in shown._repr_html_()
    assert repr(ui.predicted_holds(status)).splitlines()[0] == "predicted holds tonight:"
    assert repr(ui.outcome_grid(status)).splitlines()[-1] == (
        "  8 districts processed every night shown"
    )
    assert (
        repr(ui.error_trends(status)).splitlines()[2] == "  d004          0      2      4  climbing"
    )
    assert ui.outcome_grid(status)._repr_html_().count('<td class="processed">') == 32
    # no Data API district in this fleet: the view says so (status_text leaves it out)
    assert repr(ui.api_pulls(status)) == "pulled from the Data API tonight:\n  none"
    assert '<p class="muted">None.</p>' in ui.api_pulls(status)._repr_html_()


def test_rows_clever_may_skip_are_counted_apart_and_older_results_still_read(
    fleets: tuple[Path, Path], tmp_path: Path
) -> None:
    """d004's enrollments in a missing section are rows Clever may skip (its consequence is
    unconfirmed): the outcomes table counts them in may_skip_rows, never in skipped_rows, and
    the rows a skip carries with it in carried_rows; results written before those columns
    existed read as NULL."""
    import duckdb

    root = tmp_path / "fleet"
    shutil.copytree(fleets[0].parent / "fleet", root)
    part = root / "results" / "outcomes" / "night=2026-09-03" / "district=d006" / "part-0.parquet"
    rows = duckdb.sql(
        "SELECT district, skipped_rows, may_skip_rows, carried_rows FROM read_parquet($p, "
        "hive_partitioning = true) WHERE night = DATE '2026-09-03' AND (skipped_rows > 0 OR "
        "may_skip_rows > 0 OR carried_rows > 0) ORDER BY district",
        params={"p": str(root / "results" / "outcomes" / "*" / "*" / "*.parquet")},
    ).fetchall()
    # d004: 2 × (night − 1) orphans; d006: a section without its Teacher_id and its 30 enrollments
    assert rows == [("d004", 0, 4, 0), ("d006", 1, 0, 30)]
    older = duckdb.sql(
        f"SELECT * EXCLUDE (may_skip_rows, carried_rows) FROM read_parquet('{part}')"
    )
    older.write_parquet(str(part))
    status = fleet_status(root, date(2026, 9, 3), 3)
    assert [(c.district, c.why) for c in status.call_first if c.tier == "rows-skipped"] == [
        ("d006", "1 row skipped tonight")
    ]
    assert _why(4, P, "", 0, 1, 3, None, holds=[]) == (
        "rows-skipped", "1 row skipped tonight, 3 rows may be skipped (unconfirmed)",
    )  # fmt: skip


def test_the_call_first_line_names_the_rows_a_skip_carries_as_snapshots_does() -> None:
    """Incident: d006's section without its Teacher_id carries its 30 enrollments, which
    `snapshots` counts ("30 rows carried with skipped records") and the outcomes Parquet holds
    (carried_rows), but the call-first line said only "1 row skipped tonight"."""
    assert _why(4, P, "", 0, 1, 0, 30, holds=[]) == (
        "rows-skipped", "1 row skipped tonight, 30 rows carried with skipped records",
    )  # fmt: skip
    assert _why(4, P, "", 0, 1, 2, 1, holds=[]) == (
        "rows-skipped",
        "1 row skipped tonight, 2 rows may be skipped (unconfirmed), 1 row carried with skipped "
        "records",
    )
