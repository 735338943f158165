"""Issue #13's widgets, headless: nights named by date or number, findings filters and CSV,
the diff explorer's record search over the whole change set. Real DuckDB stores, no mocks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from rosterlab.bundle import open_bundle
from rosterlab.errors import SnapshotNotFoundError
from rosterlab.store import Store, ingest_bundle
from rosterlab.ui import SnapshotPicker, open_workbench
from tests.tiny import Night, tiny_night, write_night


@pytest.fixture(autouse=True)
def in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)


def ingest_nights(tmp_path: Path, *nights: Night) -> Path:
    """A store holding ``nights`` of district ``tiny``, taken 2026-09-01, -02, ... at 02:00."""
    path = tmp_path / "tiny.duckdb"
    with Store.open(path) as store:
        for number, night in enumerate(nights, start=1):
            when = datetime(2026, 9, number, 2, 0, tzinfo=UTC)
            folder = write_night(tmp_path / f"night{number}", night, when=when)
            with open_bundle(folder) as bundle:
                ingest_bundle(store, bundle, district="tiny", taken_at=when)
    return path


def graded(grade: str) -> Night:
    """S-002 in ``grade`` (one change a night)."""
    night = tiny_night()
    night["students.csv"][3][5] = grade
    return night


def test_the_picker_takes_nights_by_number_and_date(tmp_path):
    bench = open_workbench(
        ingest_nights(tmp_path, graded("10"), graded("11"), graded("12")), district="tiny"
    )
    picker = SnapshotPicker(bench, nights=("n1", "2026-09-03"))
    assert (picker.from_box.value, picker.to_box.value) == (1, 3)
    with pytest.raises(SnapshotNotFoundError, match="tiny has no night on 2026-09-09; tiny's"):
        SnapshotPicker(bench, nights=("n1", "2026-09-09"))
