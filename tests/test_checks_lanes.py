"""Whole checks side by side (``rosterlab.checks.lanes``): the checks after cells run on a second
connection of the store while cells runs on its own, and change nothing they find or keep.

A plain ingest stages its files before its transaction, into the store's staging catalog, which
every connection of the store sees; a check run then puts duplicates … shared-ids and tonight's
field profile on the lane. The oracle is the same run with the lane switched off: every finding,
every kept finding row (batch numbers included), the profile, the outcome and the check run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rosterlab.bundle import open_bundle
from rosterlab.checks import run_checks
from rosterlab.checks.lanes import CheckLane
from rosterlab.errors import StoreError
from rosterlab.store import Store, ingest_bundle
from rosterlab.synth import generate_district, write_night

# Night 2 of a small district, broken several ways at once: findings of cells, duplicates,
# references, orphans, shared ids, fields (a format shift) and history (a re-key).
INCIDENTS = [
    "rekeyed-teacher",
    "section-missing-teacher",
    "grade-format-shift",
    "shared-staff-id",
    "duplicate-ids",
    "orphan-enrollments",
    "excel-damage",
]


def checked(tmp_path: Path, name: str) -> tuple[dict[str, Any], list[str]]:
    """Ingest two nights (the second with every incident), check the second; what the store
    keeps of the check, and which lanes the run started."""
    district = generate_district(
        "synth", students=80, seed=5, class_size=25, incidents={2: INCIDENTS}
    )
    started: list[str] = []
    start = CheckLane.start.__func__  # type: ignore[attr-defined]

    def recording(cls: type[CheckLane], ctx: Any, checks: Any) -> CheckLane | None:
        lane = start(cls, ctx, checks)
        started.append("lane" if lane is not None else "in order")
        return lane

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(CheckLane, "start", classmethod(recording))
        with Store.open(tmp_path / f"{name}.duckdb", threads=2) as store:
            for k in (1, 2):
                tonight = district.night(k)
                write_night(tonight, tmp_path / name / tonight.folder)
                with open_bundle(tmp_path / name / tonight.folder) as bundle:
                    snapshot = ingest_bundle(
                        store, bundle, district="synth", taken_at=tonight.taken_at
                    ).snapshot.id
            result = run_checks(store, snapshot, refresh=True)
            kept = {
                "findings": [f.to_dict() for f in result.findings],
                "rows": store.rows(
                    "SELECT batch, file, code, entity, field, value, cause, info, records, "
                    'first_keys, list_sort("rows"), list_sort(keys) FROM finding_row_lists '
                    "WHERE snapshot_id = ? ORDER BY ALL",
                    [snapshot],
                ),
                "profiles": store.rows(
                    "FROM field_profiles WHERE snapshot_id = ? ORDER BY file, field", [snapshot]
                ),
                "outcome": store.rows("FROM snapshot_outcomes WHERE snapshot_id = ?", [snapshot]),
                # the fingerprint holds the ingest's time: the run's row is there, once
                "run": store.rows(
                    "SELECT count(*) FROM check_runs WHERE snapshot_id = ?", [snapshot]
                ),
            }
    return kept, started


def test_the_lane_changes_nothing_the_checks_find_or_keep(tmp_path: Path):
    with_lane, started = checked(tmp_path, "lane")
    assert started == ["lane"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(CheckLane, "start", classmethod(lambda cls, ctx, checks: None))
        in_order, _ = checked(tmp_path, "order")

    assert {f["code"] for f in with_lane["findings"]} == {
        "duplicate-id",
        "enrollment-unknown-section",
        "excel-damage",
        "extension-column",
        "format-shift",
        "hold-mass-deletion",
        "hold-mass-update",
        "id-rekeyed",
        "invalid-value",
        "section-unknown-teacher",
        "shared-staff-id",
    }
    assert with_lane["rows"] and with_lane["profiles"]
    assert len({row[0] for row in with_lane["rows"]}) > 3  # batches of cells and of the lane
    assert with_lane == in_order


def test_a_check_on_the_lane_out_of_memory_is_the_store_one_line_error(tmp_path: Path):
    district = generate_district("synth", students=40, seed=5, incidents={})
    tonight = district.night(1)
    write_night(tonight, tmp_path / tonight.folder)
    path = tmp_path / "store.duckdb"
    with Store.open(path, threads=2) as store:
        with open_bundle(tmp_path / tonight.folder) as bundle:
            ingested = ingest_bundle(store, bundle, district="synth", taken_at=tonight.taken_at)
        snapshot = ingested.snapshot.id
        kept = store.findings(snapshot)

        def too_big(ctx: Any) -> list[Any]:
            ctx.store.execute("SET memory_limit = '8MB'")
            ctx.store.rows("SELECT list(range::VARCHAR || 'abcdefghijkl') FROM range(20000000)")
            return []

        from rosterlab.checks import run as run_module

        checks = tuple(
            type(c)(c.name, c.codes, too_big) if c.name == "orphans" else c
            for c in run_module.CHECKS
        )
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(run_module, "CHECKS", checks)
            with pytest.raises(StoreError, match="ran out of memory"):
                run_checks(store, snapshot, refresh=True)
            store.execute("SET memory_limit = '2GB'")
        assert store.findings(snapshot) == kept  # the failed run kept nothing
        assert run_checks(store, snapshot, refresh=True).findings
