"""rosterlab fleet status: the morning overview computed from a fleet's Parquet results.

The results are written here as ``rosterlab fleet run`` writes them (the contract: hive
partitions night=/district=, exact column names and types), for seven districts over three
nights whose incidents are named after what they test.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from rosterlab.store.fleet_results import fleet_status
from tests.cli_run import run

NIGHTS = ("2026-09-01", "2026-09-02", "2026-09-03")
HOSTILE_REASON = (
    "drops/d005/2026-09-03.zip holds an unsafe entry '../<img src=x onerror=\"alert(1)\">.csv' "
    "(absolute, '..' or a link): re-create the zip with plain relative names"
)
OUTCOMES = (
    "outcome VARCHAR, reason VARCHAR, snapshot_id BIGINT, skipped_rows BIGINT, errors BIGINT, "
    "warnings BIGINT, infos BIGINT, bundle_sha256 VARCHAR, seconds DOUBLE, attempts INTEGER"
)
HOLDS = "entity VARCHAR, kind VARCHAR, count BIGINT, base BIGINT, ratio DOUBLE, threshold DOUBLE"


def _tonight(district: str) -> tuple[str, str | None, int | None, int | None]:
    """(outcome, reason, skipped rows, errors) of each named district on the last night."""
    return {
        "held": ("held", "hold: students deletion", 0, 0),
        "not-processed": ("not-processed", "missing-file: students.csv", 0, 2),
        "hostile": ("failed", HOSTILE_REASON, None, None),
        "skipped": ("processed", None, 1, 1),
        "quiet": ("no-upload", "no bundle for 2026-09-03 in drops/quiet", None, None),
    }.get(district, ("processed", None, 0, 0))


def write_results(root: Path) -> Path:
    """The Parquet results of three nights of seven districts, as the contract lays them out."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE outcomes (night DATE, district VARCHAR, {OUTCOMES})")
    con.execute(f"CREATE TABLE holds (night DATE, district VARCHAR, {HOLDS})")
    districts = ("clean", "held", "not-processed", "climbing", "hostile", "skipped", "quiet")
    for k, night in enumerate(NIGHTS):
        for d in districts:
            outcome, reason, skipped, errors = (
                _tonight(d) if night == NIGHTS[-1] else ("processed", None, 0, 0)
            )
            if d == "climbing":
                errors = 3 * k  # 0, 3, 6
            if reason == HOSTILE_REASON:  # the engine names the zip by its full path
                reason = f"{root.resolve()}/{reason}"
            con.execute(
                "INSERT INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?, 0, 2, 'sha', 0.25, 1)",
                [night, d, outcome, reason, None if errors is None else k + 1, skipped, errors],
            )
    con.execute(
        "INSERT INTO holds VALUES (?, 'held', 'students', 'deletion', 66, 133, 66 / 133, 0.1),"
        " (?, 'held', 'enrollments', 'deletion', 536, 1064, 536 / 1064, 0.1)",
        [NIGHTS[-1], NIGHTS[-1]],
    )
    for table in ("outcomes", "holds"):
        folder = root / "fleet" / "results" / table
        folder.parent.mkdir(parents=True, exist_ok=True)
        con.execute(
            f"COPY (SELECT * FROM {table} ORDER BY ALL) TO '{folder}' "
            "(FORMAT parquet, PARTITION_BY (night, district))"
        )
    con.close()
    config = root / "rosterlab.toml"
    config.write_text('[fleet]\nroot = "fleet"\n', encoding="utf-8")
    return config


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    return write_results(tmp_path)


def test_the_status_grid_holds_trends_and_who_to_call_first(fleet: Path) -> None:
    status = fleet_status(fleet.parent / "fleet", paths_from=fleet.parent)
    assert status.night == date(2026, 9, 3)
    assert status.nights == tuple(date.fromisoformat(n) for n in NIGHTS)
    assert status.districts == (
        "clean", "climbing", "held", "hostile", "not-processed", "quiet", "skipped",
    )  # fmt: skip
    processed = ("processed", "processed")
    assert status.grid == (
        (*processed, "processed"),
        (*processed, "processed"),
        (*processed, "held"),
        (*processed, "failed"),
        (*processed, "not-processed"),
        (*processed, "no-upload"),
        (*processed, "processed"),
    )
    assert dict(status.tonight) == {
        "processed": 3, "held": 1, "not-processed": 1, "failed": 1, "no-upload": 1,
    }  # fmt: skip
    assert [(h.district, h.entity, h.count, h.base) for h in status.holds] == [
        ("held", "enrollments", 536, 1064),
        ("held", "students", 66, 133),
    ]
    trends = {t.district: (t.errors, t.climbing) for t in status.trends}
    assert trends["climbing"] == ((0, 3, 6), True)
    assert trends["skipped"] == ((0, 0, 1), False)  # one rise is not a climb
    assert trends["hostile"] == ((0, 0, None), False)  # a failed night has no count
    assert trends["quiet"] == ((0, 0, None), False)
    assert [(c.rank, c.district, c.tier, c.why) for c in status.call_first] == [
        (1, "not-processed", "not-processed",
         "not processed (2 errors): missing-file: students.csv"),
        (2, "hostile", "failed", f"failed: {HOSTILE_REASON}"),
        (3, "held", "held",
         "held: enrollments deletion 536 of 1,064 (50.4% > 10%); "
         "students deletion 66 of 133 (49.6% > 10%)"),
        (4, "climbing", "errors-climbing", "errors climbing: 0 → 3 → 6"),
        (5, "skipped", "rows-skipped", "1 row skipped tonight"),
        (6, "quiet", "no-upload", "no upload tonight"),
    ]  # fmt: skip


def test_an_earlier_night_shows_the_nights_up_to_it_and_nobody_to_call(fleet: Path) -> None:
    status = fleet_status(fleet.parent / "fleet", date(2026, 9, 2), nights=1)
    assert status.nights == (date(2026, 9, 2),)
    assert set(status.grid) == {("processed",)}
    assert status.call_first == () and status.holds == ()


def test_fleet_status_text(fleet: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--config", str(fleet), "fleet", "status")
    assert (code, err) == (0, "")
    assert out == (
        "fleet status for 2026-09-03: 7 districts "
        "(3 processed · 1 held · 1 not-processed · 1 failed · 1 no-upload)\n"
        "\n"
        "call first:\n"
        "   1. not-processed  not-processed    not processed (2 errors): missing-file: "
        "students.csv\n"
        f"   2. hostile        failed           failed: {HOSTILE_REASON}\n"
        "   3. held           held             held: enrollments deletion 536 of 1,064 "
        "(50.4% > 10%); students deletion 66 of 133 (49.6% > 10%)\n"
        "   4. climbing       errors-climbing  errors climbing: 0 → 3 → 6\n"
        "   5. skipped        rows-skipped     1 row skipped tonight\n"
        "   6. quiet          no-upload        no upload tonight\n"
        "\n"
        "predicted holds tonight:\n"
        "  held  enrollments deletion: 536 of 1,064 (50.4%, threshold 10%)\n"
        "  held  students deletion: 66 of 133 (49.6%, threshold 10%)\n"
        "\n"
        "outcomes, 2026-09-01 to 2026-09-03:\n"
        "  district       09-01          09-02          09-03\n"
        "  held           processed      processed      held\n"
        "  hostile        processed      processed      failed\n"
        "  not-processed  processed      processed      not-processed\n"
        "  quiet          processed      processed      no-upload\n"
        "  3 districts processed every night shown\n"
        "\n"
        "errors per night (districts with any):\n"
        "  district       09-01  09-02  09-03\n"
        "  climbing           0      3      6  climbing\n"
        "  not-processed      0      0      2\n"
        "  skipped            0      0      1\n"
    )


def test_fleet_status_json(fleet: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--config", str(fleet), "fleet", "status", "--format", "json")
    payload = json.loads(out)
    assert code == 0
    assert list(payload) == [
        "root", "night", "nights", "districts", "tonight", "call_first", "holds", "grid", "trends",
    ]  # fmt: skip
    assert payload["root"] == str(fleet.parent / "fleet")
    assert (payload["night"], payload["nights"], payload["districts"]) == (
        "2026-09-03",
        list(NIGHTS),
        7,
    )
    assert payload["call_first"][1] == {
        "rank": 2, "district": "hostile", "tier": "failed", "why": f"failed: {HOSTILE_REASON}",
    }  # fmt: skip
    assert payload["holds"][1] == {
        "district": "held", "entity": "students", "kind": "deletion", "count": 66, "base": 133,
        "ratio": 66 / 133, "threshold": 0.1,
    }  # fmt: skip
    assert payload["grid"][5] == {
        "district": "quiet",
        "outcomes": ["processed", "processed", "no-upload"],
    }
    assert payload["trends"][1] == {"district": "climbing", "errors": [0, 3, 6], "climbing": True}
    assert payload["trends"][3] == {
        "district": "hostile",
        "errors": [0, 0, None],
        "climbing": False,
    }


def test_fleet_status_html_escapes_what_a_district_sent(
    fleet: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--config", str(fleet), "fleet", "status", "--format", "html")
    assert code == 0
    assert "<img" not in out and 'onerror="' not in out
    assert (
        "failed: drops/d005/2026-09-03.zip holds an unsafe entry "
        "&#x27;../&lt;img src=x onerror=&quot;alert(1)&quot;&gt;.csv&#x27;"
    ) in out
    assert '<td class="not-processed">not-processed</td>' in out
    assert out.startswith("<!DOCTYPE html>") and "<script" not in out


def test_status_refuses_a_night_without_results_and_a_fleet_without_any(
    fleet: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--config", str(fleet), "fleet", "status", "--night", "2026-09-09")
    assert (code, out) == (2, "")
    assert err == (
        "rosterlab: no fleet results for night 2026-09-09; nights with results (latest 3): "
        "2026-09-01, 2026-09-02, 2026-09-03. Run `rosterlab fleet run --night 2026-09-09` first\n"
    )
    empty = tmp_path / "empty" / "rosterlab.toml"
    empty.parent.mkdir()
    empty.write_text('[fleet]\nroot = "nowhere"\n', encoding="utf-8")
    code, _, err = run(capsys, "--config", str(empty), "fleet", "status")
    assert code == 2
    assert err == (
        f"rosterlab: no fleet results under {empty.parent / 'nowhere' / 'results'}: run "
        "`rosterlab fleet run` first\n"
    )
    bare = tmp_path / "bare.toml"
    bare.write_text("", encoding="utf-8")
    code, _, err = run(capsys, "--config", str(bare), "fleet", "status")
    assert code == 2 and err.startswith("rosterlab: no [fleet] table in rosterlab.toml")
