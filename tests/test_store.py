"""The history store: ingest, SCD2 history, reconstruction, export, ordering, atomicity."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rosterlab.bundle import open_bundle
from rosterlab.errors import ExportError, OutOfOrderError, SnapshotNotFoundError, StoreError
from rosterlab.store import ORIGINS, Store, export_snapshot, ingest_bundle, stage_snapshot
from tests.tiny import tiny_night, write_night

NIGHT_1 = datetime(2026, 9, 1, 2, 0)
NIGHT_2 = datetime(2026, 9, 2, 2, 0)
NIGHT_3 = datetime(2026, 9, 3, 2, 0)


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "store.duckdb") as opened:
        yield opened


def ingest_night(store: Store, folder: Path, taken_at: datetime, **kw):
    with open_bundle(folder) as bundle:
        return ingest_bundle(store, bundle, district="maple", taken_at=taken_at, **kw)


def sha256_tree(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_clean_night_becomes_snapshot_one_with_rows_per_entity(store, tmp_path):
    result = ingest_night(store, write_night(tmp_path / "n1", tiny_night()), NIGHT_1)

    assert result.new is True
    assert (result.snapshot.id, result.snapshot.seq, result.snapshot.district) == (1, 1, "maple")
    assert result.snapshot.taken_at == NIGHT_1
    assert result.snapshot.sync_type == "sftp"
    assert result.severity_counts() == {"error": 0, "warning": 0, "info": 1}
    assert [f.code for f in result.findings] == ["extension-column"]
    assert store.snapshot_rows(1) == {
        "schools": 2,
        "students": 3,
        "contacts": 3,
        "teachers": 3,
        "sections": 2,
        "enrollments": 3,
        "staff": 0,
        "admins": 0,
    }


def test_values_stay_text_and_blank_is_null(store, tmp_path):
    ingest_night(store, write_night(tmp_path / "n1", tiny_night()), NIGHT_1)

    students = store.entity_frame(1, "students")
    assert students["Student_number"].to_list() == ["00123", "00456", "00789"]
    assert students["Student_zip"].to_list() == ["02134", "02135", None]
    assert students["key"].to_list() == ["S-001", "S-002", "S-003"]
    assert [dict(m) if m else m for m in students["extra"].to_list()] == [
        {"ext.house": "red"},
        {"ext.house": "blue"},
        {"ext.house": None},
    ]


def test_contacts_are_keyed_by_student_and_identity(store, tmp_path):
    ingest_night(store, write_night(tmp_path / "n1", tiny_night()), NIGHT_1)

    contacts = store.entity_frame(1, "contacts")
    assert contacts["key"].to_list() == [
        "S-001/partial:Sam Lee|Emergency||",
        "S-001/sis_id:C-1",
        "S-003/sis_id:C-3",
    ]


def test_same_bundle_twice_is_a_no_op(store, tmp_path):
    folder = write_night(tmp_path / "n1", tiny_night())
    first = ingest_night(store, folder, NIGHT_1)
    again = ingest_night(store, folder, NIGHT_2)

    assert again.new is False
    assert again.snapshot == first.snapshot
    assert len(store.snapshots("maple")) == 1
    assert store.rows("SELECT count(*) FROM students")[0][0] == 3


def test_a_change_closes_one_version_and_opens_one(store, tmp_path):
    ingest_night(store, write_night(tmp_path / "n1", tiny_night()), NIGHT_1)
    night = tiny_night()
    night["students.csv"][3][5] = "11"  # incident: S-002 moves from grade 10 to 11
    second = ingest_night(store, write_night(tmp_path / "n2", night), NIGHT_2)

    assert second.snapshot.seq == 2
    versions = store.rows(
        'SELECT key, "Grade", valid_from, valid_to FROM students WHERE key = ? ORDER BY valid_from',
        ["S-002"],
    )
    assert versions == [("S-002", "10", 1, 1), ("S-002", "11", 2, None)]
    assert store.rows("SELECT count(*) FROM students")[0][0] == 4
    assert store.rows("SELECT count(*) FROM enrollments")[0][0] == 3
    assert store.entity_frame(1, "students")["Grade"].to_list() == ["3", "10", "11"]
    assert store.entity_frame(2, "students")["Grade"].to_list() == ["3", "11", "11"]


def test_a_removed_record_is_closed_and_a_returning_one_reopens(store, tmp_path):
    ingest_night(store, write_night(tmp_path / "n1", tiny_night()), NIGHT_1)
    night = tiny_night()
    del night["enrollments.csv"][3]  # incident: S-003 unenrolled from SEC-2
    ingest_night(store, write_night(tmp_path / "n2", night), NIGHT_2)
    ingest_night(store, write_night(tmp_path / "n3", tiny_night()), NIGHT_3)

    intervals = store.rows(
        "SELECT valid_from, valid_to FROM enrollments WHERE key = ? ORDER BY valid_from",
        ["SEC-2/S-003"],
    )
    assert intervals == [(1, 1), (3, None)]
    assert [store.snapshot_rows(i)["enrollments"] for i in (1, 2, 3)] == [3, 2, 3]


def test_missing_file_empties_its_entity_and_is_a_finding(store, tmp_path):
    ingest_night(store, write_night(tmp_path / "n1", tiny_night()), NIGHT_1)
    night = tiny_night()
    del night["sections.csv"]  # incident: sections.csv not uploaded
    result = ingest_night(store, write_night(tmp_path / "n2", night), NIGHT_2)

    assert ("missing-file", "sections.csv") in [(f.code, f.value) for f in result.findings]
    assert store.snapshot_rows(2)["sections"] == 0
    assert store.snapshot_rows(1)["sections"] == 2


def test_malformed_rows_are_findings_and_later_rows_keep_their_numbers(store, tmp_path):
    night = tiny_night()
    folder = write_night(tmp_path / "n1", night)
    # incident: an unquoted comma in a name splits S-002's row into too many fields
    text = (folder / "students.csv").read_text().replace("Diaz,Bo", "Diaz, Jr.,Bo")
    (folder / "students.csv").write_text(text)
    result = ingest_night(store, folder, NIGHT_1)

    malformed = [f for f in result.findings if f.code == "malformed-row"]
    assert [(f.entity, f.row, f.severity) for f in malformed] == [("students", 3, "error")]
    assert malformed[0].message.startswith("students.csv row 3 cannot be parsed: too many fields")
    staged = store.rows("SELECT _row, c1 FROM staged_students ORDER BY _row")
    assert staged == [(1, "S-001"), (2, "S-001"), (4, "S-003")]


def test_two_malformed_rows_in_a_row_keep_every_later_row_number(store, tmp_path):
    night = tiny_night()
    # incident: an unquoted comma splits both of S-001's rows (two skipped rows side by side)
    for row in night["students.csv"][1:3]:
        row[3] = "Lee, Jr."
    text = (write_night(tmp_path / "n1", night) / "students.csv").read_text()
    (tmp_path / "n1" / "students.csv").write_text(text.replace('"Lee, Jr."', "Lee, Jr."))
    result = ingest_night(store, tmp_path / "n1", NIGHT_1)

    malformed = [f.row for f in result.findings if f.code == "malformed-row"]
    assert malformed == [1, 2]
    for _ in range(3):  # the view numbers rows the same way every time it is read
        staged = store.rows("SELECT _row, c1 FROM staged_students ORDER BY _row")
        assert staged == [(3, "S-002"), (4, "S-003")]
    contacts = store.rows('SELECT key, "Contact_name" FROM contacts ORDER BY key')
    assert contacts == [("S-003/sis_id:C-3", "Ngozi Okafor")]


def test_hostile_extension_header_is_data_not_sql(store, tmp_path):
    night = tiny_night()
    night["schools.csv"][0].append('ext.x"; DROP TABLE snapshots; --')
    night["schools.csv"][1].append("1")
    night["schools.csv"][2].append("2")
    ingest_night(store, write_night(tmp_path / "n1", night), NIGHT_1)

    schools = store.entity_frame(1, "schools")
    assert [dict(m) for m in schools["extra"].to_list()] == [
        {'ext.x"; DROP TABLE snapshots; --': "1"},
        {'ext.x"; DROP TABLE snapshots; --': "2"},
    ]
    assert len(store.snapshots()) == 1


def test_older_night_is_refused_naming_the_rebuild_option(store, tmp_path):
    ingest_night(store, write_night(tmp_path / "n2", tiny_night()), NIGHT_2)
    night = tiny_night()
    night["schools.csv"][1][1] = "Maple Elementary School"
    with pytest.raises(OutOfOrderError) as raised:
        ingest_night(store, write_night(tmp_path / "n1", night), NIGHT_1)

    assert "re-run with --rebuild" in str(raised.value)
    assert len(store.snapshots("maple")) == 1


def test_rebuild_replays_history_in_time_order_keeping_ids(store, tmp_path):
    ingest_night(store, write_night(tmp_path / "n1", tiny_night()), NIGHT_1)
    night3 = tiny_night()
    night3["schools.csv"][1][1] = "Maple Elementary School"
    ingest_night(store, write_night(tmp_path / "n3", night3), NIGHT_3)
    night2 = tiny_night()
    night2["sections.csv"][2][5] = "3"  # incident: SEC-2 moved to period 3 on the middle night
    result = ingest_night(store, write_night(tmp_path / "n2", night2), NIGHT_2, rebuild=True)

    assert (result.snapshot.id, result.snapshot.seq) == (3, 2)
    assert [(s.id, s.seq) for s in store.snapshots("maple")] == [(1, 1), (3, 2), (2, 3)]
    assert store.entity_frame(3, "sections")["Period"].to_list() == ["1", "3"]
    assert store.entity_frame(2, "sections")["Period"].to_list() == ["1", "2"]
    assert store.entity_frame(2, "schools")["School_name"].to_list() == [
        "Maple Elementary School",
        "Maple High",
    ]


def test_export_is_byte_identical_to_the_upload(store, tmp_path):
    folder = write_night(tmp_path / "n1", tiny_night(), newline="\r\n")
    ingest_night(store, folder, NIGHT_1)
    out = tmp_path / "out"
    written = export_snapshot(store, 1, out)

    assert len(written) == 5
    assert sha256_tree(out) == sha256_tree(folder)


def test_canonical_export_regenerates_files_from_the_tables(store, tmp_path):
    ingest_night(store, write_night(tmp_path / "n1", tiny_night(), newline="\r\n"), NIGHT_1)
    out = tmp_path / "canon"
    export_snapshot(store, 1, out, canonical=True)

    assert (out / "enrollments.csv").read_bytes() == (
        b"School_id,Section_id,Student_id\n"
        b"SCH-1,SEC-1,S-001\nSCH-2,SEC-2,S-002\nSCH-2,SEC-2,S-003\n"
    )
    assert (out / "students.csv").read_text().splitlines() == [
        "School_id,Student_id,Student_number,Last_name,First_name,Grade,Student_zip,"
        "Contact_type,Contact_name,Contact_sis_id,ext.house",
        "SCH-1,S-001,00123,Lee,Ada,3,02134,Emergency,Sam Lee,,red",
        "SCH-1,S-001,00123,Lee,Ada,3,02134,Primary,Pat Lee,C-1,red",
        "SCH-2,S-002,00456,Diaz,Bo,10,02135,,,,blue",
        "SCH-2,S-003,00789,Okafor,Cy,11,,Primary,Ngozi Okafor,C-3,",
    ]


def test_export_refuses_a_folder_that_is_not_empty(store, tmp_path):
    ingest_night(store, write_night(tmp_path / "n1", tiny_night()), NIGHT_1)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="is not an empty folder"):
        export_snapshot(store, 1, out)
    assert (out / "keep.txt").read_text() == "mine"


def test_resolve_latest_previous_and_errors(store, tmp_path):
    ingest_night(store, write_night(tmp_path / "n1", tiny_night()), NIGHT_1)
    assert store.resolve("latest", "maple").id == 1
    with pytest.raises(SnapshotNotFoundError, match="has 1 snapshot"):
        store.resolve("previous", "maple")
    with pytest.raises(SnapshotNotFoundError, match="no snapshot 9"):
        store.resolve("9")


def test_read_only_open_of_a_missing_store_says_to_ingest(tmp_path):
    with pytest.raises(StoreError, match="ingest a bundle first"):
        Store.connect(tmp_path / "nope.duckdb", read_only=True)


def test_migrations_are_recorded_once(tmp_path):
    path = tmp_path / "store.duckdb"
    Store.connect(path).close()
    with Store.open(path) as store:
        assert store.rows("SELECT version, name FROM schema_migrations ORDER BY version") == [
            (1, "base tables"),
            (2, "entity SCD2 tables"),
            (3, "pushes"),
            (4, "checks: ledger, field profiles, check runs"),
            (5, "raw file deltas"),
            (6, "duplicate versions per snapshot"),
            (7, "api pulls, pages and Clever ids"),
            (8, "upload outcomes and the settings each snapshot was checked with"),
            (9, "findings count records: row-level finding lists"),
            (10, "how each parsed file was staged"),
            (11, "the served objects of each district's newest api pull"),
            (12, "line breaks inside quoted values per staged file"),
            (13, "the way each field profile's pattern sample was drawn"),
            (14, "whether a field profile's distinct count is an estimate"),
            (15, "the rows behind each finding kept as lists"),
            (16, "raw blobs over 4 MiB kept in parts"),
            (17, "Clever ids as intervals of a district's api pulls"),
            (18, "when each api pull's event cursor was last confirmed"),
        ]


def test_taken_at_defaults_to_newest_file_mtime(store, tmp_path):
    when = datetime(2026, 9, 5, 2, 30, tzinfo=UTC)
    folder = write_night(tmp_path / "n1", tiny_night(), when=when)
    with open_bundle(folder) as bundle:
        result = ingest_bundle(store, bundle, district="maple")
    assert result.snapshot.taken_at == datetime(2026, 9, 5, 2, 30)


def test_stage_snapshot_reparses_an_older_night_with_row_numbers(store, tmp_path):
    ingest_night(store, write_night(tmp_path / "n1", tiny_night()), NIGHT_1)
    night = tiny_night()
    night["enrollments.csv"].append(["SCH-1", "SEC-9", "S-001"])  # incident: unknown section
    ingest_night(store, write_night(tmp_path / "n2", night), NIGHT_2)
    assert store.staged_snapshot == 2

    staged = stage_snapshot(store, 1)
    assert store.staged_snapshot == 1
    enrollments = staged["enrollments.csv"]
    section = enrollments.columns.value("Section_id")
    assert store.rows(f"SELECT _row, {section} FROM {enrollments.view} ORDER BY _row") == [
        (1, "SEC-1"),
        (2, "SEC-2"),
        (3, "SEC-2"),
    ]
    assert stage_snapshot(store, 2)["enrollments.csv"].header == (
        "School_id",
        "Section_id",
        "Student_id",
    )
    assert store.rows("SELECT max(_row) FROM staged_enrollments") == [(4,)]


def test_staged_row_numbers_are_right_inside_the_ingest_transaction(store, tmp_path):
    with store.transaction():
        ingest_night(store, write_night(tmp_path / "n1", tiny_night()), NIGHT_1)
        inside = store.rows("SELECT _row FROM staged_enrollments ORDER BY _row")
    assert inside == [(1,), (2,), (3,)]
    assert store.rows("SELECT _row FROM staged_enrollments ORDER BY _row") == inside


def test_a_trial_keeps_nothing_it_wrote_whether_it_ends_or_fails(store, tmp_path):
    ingest_night(store, write_night(tmp_path / "n1", tiny_night()), NIGHT_1)
    before = store.rows("SELECT count(*) FROM students")

    fewer = tiny_night()
    del fewer["students.csv"][-1]
    with store.trial():
        ingest_night(store, write_night(tmp_path / "n2", fewer), NIGHT_2)
        assert [s.seq for s in store.snapshots("maple")] == [1, 2]
        store.execute("DELETE FROM students")
    assert [s.id for s in store.snapshots("maple")] == [1]
    assert store.rows("SELECT count(*) FROM students") == before

    with pytest.raises(ZeroDivisionError), store.trial():
        store.execute("DELETE FROM students")
        _ = 1 / 0
    assert store.rows("SELECT count(*) FROM students") == before

    with (
        store.transaction(),
        pytest.raises(RuntimeError, match="inside a transaction"),
        store.trial(),
    ):
        pass


def test_a_snapshot_origin_outside_the_vocabulary_is_refused(store, tmp_path):
    assert ORIGINS == ("upload", "pulled", "corrected", "api")
    with pytest.raises(StoreError, match="origin 'emailed' must be one of upload, pulled"):
        ingest_night(store, write_night(tmp_path / "n1", tiny_night()), NIGHT_1, origin="emailed")
    assert store.snapshots("maple") == []


def test_buffers_evicted_lowers_duckdbs_limit_for_the_block_and_keeps_its_tables(tmp_path):
    # Session 13, issue 14: a raw file's delta codec runs beside DuckDB's buffers evicted; the
    # limit comes back as it was (DuckDB's default when none was configured), temp tables whole.
    with Store.open(tmp_path / "store.duckdb") as store:
        (default,) = store.rows("SELECT current_setting('memory_limit')")[0]
        store.execute("CREATE TEMP TABLE kept AS SELECT range AS i FROM range(2000000)")
        with store.buffers_evicted():
            assert store.rows("SELECT current_setting('memory_limit')") == [("61.0 MiB",)]
        assert store.rows("SELECT current_setting('memory_limit')") == [(default,)]
        assert store.rows("SELECT count(*), sum(i) FROM kept") == [(2000000, 1999999000000)]
