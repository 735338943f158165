"""Staging: where each received column lands, and a stored night parsed again by position."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from rosterlab.bundle import open_bundle
from rosterlab.store import ColumnMap, Store, ingest_bundle, positional, stage_snapshot
from rosterlab.store.store import STAGING_CATALOG
from tests.tiny import tiny_night, write_night

NIGHT_1 = datetime(2026, 9, 1, 2, 0)
NIGHT_2 = datetime(2026, 9, 2, 2, 0)


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "store.duckdb") as opened:
        yield opened


def test_column_map_finds_spec_columns_in_any_case_and_keeps_the_rest_as_extra():
    # incident: an upper-cased spec column, its repeat, an ext column and an unknown one
    header = ["SCHOOL_ID", "Teacher_id", "ext.room", "School_id", "Nickname"]
    columns = ColumnMap.of("teachers.csv", header)

    assert columns.spec_positions == {"School_id": 0, "Teacher_id": 1}
    assert columns.extra_positions == {"ext.room": 2, "Nickname": 4}
    assert columns.value("School_id") == "c0"  # the first of the repeated column counts
    assert columns.value("Teacher_email") == "NULL::VARCHAR"
    assert columns.received("ext.room") == "c2"
    assert columns.received("Teacher_id") == "c1"
    assert columns.received("ext.missing") == "NULL::VARCHAR"
    assert columns.received_positions() == {
        "School_id": 0,
        "Teacher_id": 1,
        "ext.room": 2,
        "Nickname": 4,
    }
    assert columns.extra_values() == ["c2", "c4"]
    assert positional(7) == "c7"


def test_staged_file_lists_every_received_column_even_a_repeated_one(store, tmp_path):
    night = tiny_night()
    night["enrollments.csv"] = [
        ["School_id", "Section_id", "Student_id", "school_id"],  # incident: a repeated column
        ["SCH-1", "SEC-1", "S-001", "SCH-9"],
    ]
    with open_bundle(write_night(tmp_path / "n1", night)) as bundle:
        ingest_bundle(store, bundle, district="maple", taken_at=NIGHT_1)

    enrollments = stage_snapshot(store, 1)["enrollments.csv"]

    assert enrollments.received_columns() == ["c0", "c1", "c2", "c3"]
    columns = ", ".join(enrollments.received_columns())
    assert store.rows(f"SELECT _row, {columns} FROM {enrollments.view}") == [
        (1, "SCH-1", "SEC-1", "S-001", "SCH-9")
    ]


def test_received_files_say_what_each_file_was_as_received(store, tmp_path):
    night = tiny_night()
    folder = write_night(tmp_path / "n1", night)
    (folder / "teachers.csv").rename(folder / "teachers-old.csv")  # incident: a stray name
    (folder / "schools.csv").write_bytes(b"\xef\xbb\xbf" + (folder / "schools.csv").read_bytes())
    with open_bundle(folder) as bundle:
        ingest_bundle(store, bundle, district="maple", taken_at=NIGHT_1)

    files = {f.name: f for f in store.received_files(1)}

    assert list(files) == [
        "enrollments.csv",
        "schools.csv",
        "sections.csv",
        "students.csv",
        "teachers-old.csv",
    ]
    schools = files["schools.csv"]
    assert (schools.spec_name, schools.entity, schools.rows) == ("schools.csv", "schools", 2)
    assert (schools.encoding, schools.bom, schools.newline) == ("utf-8-sig", True, "LF")
    assert schools.header == (
        "School_id",
        "School_name",
        "School_number",
        "Low_grade",
        "High_grade",
    )
    assert schools.bytes == (folder / "schools.csv").stat().st_size
    assert files["enrollments.csv"].mtime == datetime(2026, 9, 1, 2, 0)  # as written
    stray = files["teachers-old.csv"]
    assert (stray.spec_name, stray.entity, stray.rows) == (None, None, None)


def test_received_rows_show_rows_as_sent_of_an_older_night(store, tmp_path):
    night = tiny_night()
    night["enrollments.csv"][0].append("school_id")  # incident: a repeated column
    for row in night["enrollments.csv"][1:]:
        row.append("SCH-9")
    with open_bundle(write_night(tmp_path / "n1", night)) as bundle:
        ingest_bundle(store, bundle, district="maple", taken_at=NIGHT_1)
    with open_bundle(write_night(tmp_path / "n2", tiny_night())) as bundle:
        ingest_bundle(store, bundle, district="maple", taken_at=datetime(2026, 9, 2, 2, 0))

    found = store.received_rows(1, {"enrollments.csv": [3, 1, 3], "staff.csv": [1]})

    assert len(found) == 1  # night 1 sent no staff.csv
    (enrollments,) = found
    assert enrollments.name == "enrollments.csv"
    assert enrollments.header == ("School_id", "Section_id", "Student_id", "school_id")
    assert enrollments.rows == (
        (1, "SCH-1", "SEC-1", "S-001", "SCH-9"),
        (3, "SCH-2", "SEC-2", "S-003", "SCH-9"),
    )


def ingest_text(store: Store, tmp_path: Path, name: str, text: bytes, when: datetime) -> Path:
    """Ingest tiny_night with ``name`` replaced by ``text`` as its exact bytes."""
    folder = write_night(tmp_path / f"{when:%Y-%m-%d}", tiny_night())
    (folder / name).write_bytes(text)
    with open_bundle(folder) as bundle:
        ingest_bundle(store, bundle, district="maple", taken_at=when)
    return folder


# incident: a blank line (row 2), a row with a fourth value (row 3, rejected by the parser) and
# a row ending in an empty fourth field (row 4, accepted by the parser but malformed all the same)
DAMAGED_ENROLLMENTS = (
    b"School_id,Section_id,Student_id\n"
    b"SCH-1,SEC-1,S-001\n"
    b"\n"
    b"SCH-2,SEC-2,S-002,X\n"
    b"SCH-2,SEC-2,S-003,\n"
    b"SCH-1,SEC-1,S-004\n"
)
KEPT_ENROLLMENTS = [(1, "SCH-1", "SEC-1", "S-001"), (5, "SCH-1", "SEC-1", "S-004")]


def staged_enrollments(store: Store) -> list[tuple[object, ...]]:
    return store.rows("SELECT _row, c0, c1, c2 FROM staged_enrollments ORDER BY _row")


def test_ingest_records_how_each_file_was_staged(store, tmp_path):
    ingest_text(store, tmp_path, "enrollments.csv", DAMAGED_ENROLLMENTS, NIGHT_1)

    assert staged_enrollments(store) == KEPT_ENROLLMENTS
    assert store.rows(
        "SELECT name, as_received, skipped, dropped FROM file_staging ORDER BY name"
    ) == [
        ("enrollments.csv", True, [2, 3], [4]),
        ("schools.csv", True, [], []),
        ("sections.csv", True, [], []),
        ("students.csv", True, [], []),
        ("teachers.csv", True, [], []),
    ]


def test_an_older_night_is_restaged_from_the_record_like_it_was_at_ingest(store, tmp_path):
    ingest_text(store, tmp_path, "enrollments.csv", DAMAGED_ENROLLMENTS, NIGHT_1)
    ingest_text(store, tmp_path, "teachers.csv", b"School_id,Teacher_id\nSCH-1,T-1\n", NIGHT_2)

    assert stage_snapshot(store, 1)["enrollments.csv"].header == (
        "School_id",
        "Section_id",
        "Student_id",
    )
    assert staged_enrollments(store) == KEPT_ENROLLMENTS
    assert store.rows("SELECT _row, c1 FROM staged_teachers ORDER BY _row") == [
        (1, "T-1"),
        (2, "T-2"),
        (3, "T-3"),
    ]

    # The same night without the record (ingested before it existed) is sniffed again: the same.
    stage_snapshot(store, 2)
    store.execute("DELETE FROM file_staging WHERE snapshot_id = 1")
    stage_snapshot(store, 1)
    assert staged_enrollments(store) == KEPT_ENROLLMENTS


def test_a_file_the_ingest_transcoded_is_sniffed_again(store, tmp_path):
    # incident: Windows-1252 with a BOM-less CRLF mix, "Zoë" as one byte
    teachers = (
        b"School_id,Teacher_id,Last_name,First_name\r\n"
        b"SCH-1,T-1,Park,Zo\xeb\n"
        b"SCH-2,T-2,Nowak,Ola\r\n"
    )
    ingest_text(store, tmp_path, "teachers.csv", teachers, NIGHT_1)
    ingest_text(store, tmp_path, "schools.csv", tiny_school_rows(), NIGHT_2)
    assert store.rows(
        "SELECT as_received FROM file_staging WHERE snapshot_id = 1 AND name = 'teachers.csv'"
    ) == [(False,)]

    stage_snapshot(store, 1)

    assert store.rows("SELECT _row, c1, c3 FROM staged_teachers ORDER BY _row") == [
        (1, "T-1", "Zoë"),
        (2, "T-2", "Ola"),
    ]
    assert staged_enrollments(store) == [
        (1, "SCH-1", "SEC-1", "S-001"),
        (2, "SCH-2", "SEC-2", "S-002"),
        (3, "SCH-2", "SEC-2", "S-003"),
    ]


def tiny_school_rows() -> bytes:
    return b"School_id,School_name,School_number\nSCH-1,Maple Elementary,101\n"


def staged_ids(store: Store) -> list[tuple[object, ...]]:
    return store.rows("SELECT _row, c1 FROM staged_students ORDER BY _row")


def test_a_plain_ingest_stages_where_every_connection_of_the_store_reads_it(store, tmp_path):
    night = tiny_night()
    with open_bundle(write_night(tmp_path / "n1", night)) as bundle:
        ingest_bundle(store, bundle, district="maple", taken_at=NIGHT_1)

    expected = [(i, row[1]) for i, row in enumerate(night["students.csv"][1:], start=1)]
    lane = store.lane()  # another connection of the store's database, as a check lane uses
    try:
        assert (store.staged_in, staged_ids(store), staged_ids(lane)) == (
            STAGING_CATALOG,
            expected,
            expected,
        )
    finally:
        lane.close()


def test_an_ingest_inside_a_transaction_stages_temp_views_found_before_the_shared_ones(
    store, tmp_path
):
    with open_bundle(write_night(tmp_path / "n1", tiny_night())) as bundle:
        ingest_bundle(store, bundle, district="maple", taken_at=NIGHT_1)
    shared = staged_ids(store)
    night = tiny_night()
    del night["students.csv"][1]  # tonight's students.csv lacks its first row
    with store.trial(), open_bundle(write_night(tmp_path / "n2", night)) as bundle:
        ingest_bundle(store, bundle, district="maple", taken_at=NIGHT_2)
        # one DuckDB transaction writes one attached database: the trial's staging is TEMP
        assert store.staged_in is None
        assert staged_ids(store) == [
            (i, row[1]) for i, row in enumerate(night["students.csv"][1:], 1)
        ]
    lane = store.lane()
    try:
        assert staged_ids(lane) == shared  # the other connections never saw the TEMP views
    finally:
        lane.close()
    stage_snapshot(store, 1)  # staged again outside: shared, the TEMP views dropped
    assert (store.staged_in, staged_ids(store)) == (STAGING_CATALOG, shared)
