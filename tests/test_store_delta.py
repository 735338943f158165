"""The SCD2 delta of an events pull (store/delta.py): only the touched owners' rows are merged,
and where that would not be exact the entity is merged in full, saying so.

The owners' rows before and after are given here as tables, as ``map_owners`` leaves them
(``_row``, ``c0..cN``, an empty value NULL); the events pulls themselves are proven in
tests/test_api_events.py.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rosterlab.bundle import open_bundle
from rosterlab.store import Store, ingest_bundle
from rosterlab.store.delta import OwnedFile, OwnerDelta
from tests.tiny import CLEAN_NIGHT, Night, write_night

NIGHT_1 = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
NIGHT_2 = datetime(2026, 9, 2, 2, 0, tzinfo=UTC)


def owned(store: Store, table: str, header: list[str], rows: list[list[str]]) -> OwnedFile:
    """A table of owners' rows as map_owners writes it."""
    columns = ", ".join(["NULL::BIGINT AS _row"] + [f"NULL::VARCHAR AS c{i}" for i in
                                                     range(len(header))])  # fmt: skip
    store.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {columns} LIMIT 0")
    for number, row in enumerate(rows, start=1):
        marks = ", ".join(["?"] * (len(header) + 1))
        store.execute(f"INSERT INTO {table} VALUES ({marks})", [number, *(v or None for v in row)])
    return OwnedFile(table, tuple(header))


def ingested(
    tmp_path: Path, name: str, second: Night, touched: dict[str, tuple[list[int], list[int]]]
) -> tuple[dict[str, Any], list[str]]:
    """Night 1 then ``second``, the latter with the delta of the owners whose rows are
    ``touched`` (file → row numbers before, row numbers after; nothing: merged in full); the
    history the store then holds and what the ingest said."""
    said: list[str] = []
    with Store.open(tmp_path / f"{name}.duckdb") as store:
        _ingest(store, tmp_path / name, second, touched, said)
        return history(store), said


def _ingest(
    store: Store,
    folder: Path,
    second: Night,
    touched: dict[str, tuple[list[int], list[int]]],
    said: list[str],
) -> None:
    first = CLEAN_NIGHT
    with open_bundle(write_night(folder / "n1", first, when=NIGHT_1)) as bundle:
        base = ingest_bundle(store, bundle, district="tiny", taken_at=NIGHT_1).snapshot.id
    delta = None
    if touched:
        before, after = {}, {}
        for file_name in first:
            rows_before, rows_after = touched.get(file_name, ([], []))
            header = first[file_name][0]
            before[file_name] = owned(store, f"b_{Path(file_name).stem}", header,
                                      [first[file_name][n] for n in rows_before])  # fmt: skip
            after[file_name] = owned(store, f"a_{Path(file_name).stem}", second[file_name][0],
                                     [second[file_name][n] for n in rows_after])  # fmt: skip
        delta = OwnerDelta(base, before, after)
    with open_bundle(write_night(folder / "n2", second, when=NIGHT_2)) as bundle:
        ingest_bundle(store, bundle, district="tiny", taken_at=NIGHT_2, progress=said.append,
                      delta=delta)  # fmt: skip


def history(store: Store) -> dict[str, Any]:
    return {
        "entities": store.rows(
            "SELECT s.seq, e.entity, e.rows, e.versions_added, e.versions_closed "
            "FROM snapshot_entities e JOIN snapshots s ON s.id = e.snapshot_id ORDER BY ALL"
        ),
        "students": store.rows(
            'SELECT key, "First_name", valid_from, valid_to FROM students ORDER BY ALL'
        ),
        "contacts": store.rows(
            'SELECT key, "Contact_name", valid_from, valid_to FROM contacts ORDER BY ALL'
        ),
    }


def test_a_changed_student_merges_from_its_rows_alone(tmp_path):
    """S-002 changes grade: one version closed, one opened, nothing else merged in full."""
    second = copy.deepcopy(CLEAN_NIGHT)
    second["students.csv"][3][5] = "11"
    by_delta, said = ingested(tmp_path, "delta", second, {"students.csv": ([3], [3])})
    by_full, _ = ingested(tmp_path, "full", second, {})
    assert by_delta == by_full
    assert [e for e in by_delta["entities"] if e[0] == 2 and e[3]] == [(2, "students", 3, 1, 1)]
    assert [line for line in said if "merged in full" in line] == []


def test_a_key_another_record_holds_is_merged_in_full_saying_so(tmp_path):
    """S-001's two rows stand for two records holding one key: the first changes name, the
    second keeps Ada. Closing Ada's version (the delta's before minus after) would lose the
    row the second record still sends; the students are merged in full, the contacts (keys
    of their own) from the delta."""
    second = copy.deepcopy(CLEAN_NIGHT)
    second["students.csv"][1][4] = "Adah"
    by_delta, said = ingested(tmp_path, "delta", second, {"students.csv": ([1], [1])})
    by_full, _ = ingested(tmp_path, "full", second, {})
    assert by_delta == by_full
    assert ("S-001", "Ada", 1, None) in by_delta["students"]
    assert ("S-001", "Adah", 2, None) in by_delta["students"]
    assert [line for line in said if "merged in full" in line] == [
        "students: merged in full (a key the events touched is also held by another record)"
    ]


def test_a_new_ext_column_merges_the_file_in_full_saying_so(tmp_path):
    """ext.locker appears on S-003: every students.csv row's hash changes with the header."""
    second = copy.deepcopy(CLEAN_NIGHT)
    second["students.csv"][0].append("ext.locker")
    for row in second["students.csv"][1:]:
        row.append("12" if row[1] == "S-003" else "")
    by_delta, said = ingested(tmp_path, "delta", second, {"students.csv": ([4], [4])})
    by_full, _ = ingested(tmp_path, "full", second, {})
    assert by_delta == by_full
    assert [line for line in said if "merged in full" in line] == [
        "students: merged in full (students.csv's columns changed)",
        "contacts: merged in full (students.csv's columns changed)",
    ]
