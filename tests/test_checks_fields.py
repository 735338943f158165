"""Field customizations over time, the field × night matrix, the ledger and the check cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from rosterlab import spec
from rosterlab.checks import (
    CheckSettings,
    add_override,
    field_matrix,
    fields,
    overrides,
    remove_override,
    run_checks,
    snapshot_profiles,
)
from rosterlab.checks.fields import (
    PROFILE_VERSION,
    SAMPLE_TABLE,
    field_changes,
    profile_snapshot,
    sample_column,
    stored_profiles,
)
from rosterlab.errors import LedgerError
from rosterlab.store import Store, stage_snapshot
from tests.test_checks import add_column, found, ingest, one
from tests.tiny import Night, tiny_night


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "store.duckdb") as opened:
        yield opened


def without_teacher_email() -> Night:
    night = tiny_night()
    night["teachers.csv"] = [row[:4] for row in night["teachers.csv"]]
    return night


@pytest.mark.parametrize(
    ("sync_type", "hint"),
    [
        (
            "sftp",
            "Add Teacher_email back to the export that builds teachers.csv, or record the "
            "change in the customization ledger if it is on purpose.",
        ),
        (
            "clever-managed",
            "Ask Clever Support to include Teacher_email in the sync again, or record the "
            "change in the customization ledger if it is on purpose.",
        ),
        (
            "sis-managed",
            "Ask your SIS vendor to include Teacher_email in the nightly export again, or "
            "record the change in the customization ledger if it is on purpose.",
        ),
    ],
)
def test_teacher_email_no_longer_sent_is_worded_for_the_sync_type(store, tmp_path, sync_type, hint):
    ids = ingest(store, tmp_path, tiny_night(), without_teacher_email(), sync_type=sync_type)
    result = run_checks(store, ids[-1])

    assert found(result) == [
        ("column-dropped", "teachers", None, "Teacher_email", None, None, None),
        ("hold-mass-update", "teachers", None, None, "3", None, None),
    ]
    dropped = one(result, "column-dropped")
    assert dropped.message == "teachers.csv no longer sends Teacher_email."
    assert dropped.hint == hint


def test_teacher_emails_stopped_arriving(store, tmp_path):
    night = tiny_night()
    for row in night["teachers.csv"][1:]:
        row[4] = ""
    ids = ingest(store, tmp_path, tiny_night(), night)
    result = run_checks(store, ids[-1])

    assert found(result) == [
        ("column-emptied", "teachers", None, "Teacher_email", None, None, None),
        ("hold-mass-update", "teachers", None, None, "3", None, None),
    ]
    assert one(result, "column-emptied").message == (
        "teachers.csv Teacher_email fill rate fell from 100% to 0%."
    )


def test_a_new_column_and_a_new_custom_field_arrive(store, tmp_path):
    night = tiny_night()
    add_column(night["teachers.csv"], "Title", ["Teacher", "Teacher", "Teacher"])
    add_column(night["sections.csv"], "ext.room", ["101", "102"])
    ids = ingest(store, tmp_path, tiny_night(), night)
    result = run_checks(store, ids[-1])

    assert found(result) == [
        ("column-added", "teachers", None, "Title", None, None, None),
        ("column-added", "sections", None, "ext.room", None, None, None),
        ("hold-mass-update", "teachers", None, None, "3", None, None),
        ("hold-mass-update", "sections", None, None, "2", None, None),
    ]
    assert [f.value for f in result.findings if f.code == "extension-column"] == [
        "ext.room",
        "ext.house",
    ]


def test_a_misspelled_header_is_not_also_reported_as_dropped_and_added(store, tmp_path):
    night = tiny_night()
    night["students.csv"][0][2] = "StudentNumber"  # the underscore lost: not Student_number
    ids = ingest(store, tmp_path, tiny_night(), night)
    result = run_checks(store, ids[-1])

    assert found(result) == [("hold-mass-update", "students", None, None, "3", None, None)]
    misspelled = one(result, "misspelled-column")
    assert (misspelled.field, misspelled.value) == ("Student_number", "StudentNumber")


def test_dates_that_switch_to_iso_format_shift(store, tmp_path):
    before, after = tiny_night(), tiny_night()
    add_column(before["students.csv"], "DOB", ["03/04/2015", "03/04/2015", "12/01/2010", ""])
    add_column(after["students.csv"], "DOB", ["2015-03-04", "2015-03-04", "2010-12-01", ""])
    ids = ingest(store, tmp_path, before, after)
    result = run_checks(store, ids[-1], settings=CheckSettings(shift_min_values=3))

    shift = one(result, "format-shift")
    assert (shift.entity, shift.field, shift.value) == ("students", "DOB", "9999-99-99")
    assert shift.message == "students.csv DOB changed format from 99/99/9999 to 9999-99-99."
    # S-001's two contact rows are one record: one finding, on its first row, of two rows
    assert [(f.key, f.row, f.rows) for f in result.findings if f.code == "invalid-date"] == [
        ("S-001", 1, 2),
        ("S-002", 3, 1),
    ]
    # With the default minimum of 5 filled values, three dates are too few to call a shift.
    assert "format-shift" not in run_checks(store, ids[-1]).summary()["by_code"]


def test_profile_of_a_night(store, tmp_path):
    (snapshot,) = ingest(store, tmp_path, tiny_night())
    profiles = {(p.file, p.field): p for p in snapshot_profiles(store, snapshot, CheckSettings())}

    grade = profiles[("students.csv", "Grade")]
    assert (grade.rows, grade.filled, grade.distinct, grade.patterns) == (
        4,
        4,
        3,
        (("9", 2), ("99", 2)),  # a tie: the shorter pattern first
    )
    zip_code = profiles[("students.csv", "Student_zip")]
    assert (zip_code.fill_rate, zip_code.pattern) == (0.75, "99999")
    house = profiles[("students.csv", "ext.house")]
    assert (house.entity, house.position, house.distinct, house.pattern) == (
        "students",
        10,
        2,
        "A",
    )


def test_a_file_larger_than_the_pattern_sample_has_exact_counts_and_sampled_patterns(
    store, tmp_path
):
    (snapshot,) = ingest(store, tmp_path, tiny_night())
    staged = stage_snapshot(store, snapshot)
    whole = {
        (p.file, p.field): p for p in profile_snapshot(store, snapshot, staged, CheckSettings())
    }
    sampled = {
        (p.file, p.field): p
        for p in profile_snapshot(store, snapshot, staged, CheckSettings(pattern_sample=2))
    }

    assert sampled.keys() == whole.keys()
    for place, profile in sampled.items():  # rows, fill and distinct values are never sampled
        assert (profile.rows, profile.filled, profile.distinct) == (
            whole[place].rows,
            whole[place].filled,
            whole[place].distinct,
        )
    grade = sampled[("students.csv", "Grade")]
    assert (whole[("students.csv", "Grade")].sampled, grade.sampled) == (4, 2)
    assert sum(n for _, n in grade.patterns) == 2
    assert {shape for shape, _ in grade.patterns} <= {"9", "99"}


@pytest.mark.parametrize(("estimated", "batch"), [(False, 64), (True, 64), (False, 3)])
def test_a_students_values_are_counted_over_tonights_versions_and_a_second_rows_value_counts(
    store, tmp_path, monkeypatch, estimated, batch
):
    """students.csv repeats a student over its contact rows: the student's columns' distinct
    values are counted over the student's versions present tonight, contact columns over rows
    (``batch``: columns per query; 3 gives batches with and without the student's columns)."""
    monkeypatch.setattr(fields, "PROFILE_BATCH", batch)
    first, second = tiny_night(), tiny_night()
    second["students.csv"][2][3] = "Li"  # only S-001's second contact row says Li
    second["students.csv"][3][3] = "Diaz-Ruiz"  # S-002 renamed: last night's Diaz is gone
    ids = ingest(store, tmp_path, first, second)
    if estimated:  # the HyperLogLog estimate (files over 100,000 rows), exact at this size
        monkeypatch.setattr(fields, "EXACT_DISTINCT_ROWS", 0)
    sampled = CheckSettings(pattern_sample=2)  # fewer than the rows: fill and distinct counted

    def profiled(snapshot):
        staged = stage_snapshot(store, snapshot)
        return {
            p.field: (p.rows, p.filled, p.distinct, p.distinct_estimated)
            for p in profile_snapshot(store, snapshot, staged, sampled)
            if p.file == "students.csv"
        }

    tonight = profiled(ids[1])
    assert tonight["Last_name"] == (4, 4, 4, estimated)  # Lee, Li, Diaz-Ruiz, Okafor
    assert tonight["Student_id"] == (4, 4, 3, estimated)
    assert tonight["Student_zip"] == (4, 3, 2, estimated)
    assert tonight["School_id"] == (4, 4, 2, estimated)
    assert tonight["Contact_name"] == (4, 3, 3, estimated)  # a contact column: over the rows
    assert tonight["ext.house"] == (4, 3, 2, estimated)
    assert profiled(ids[0])["Last_name"] == (4, 4, 3, estimated)  # Lee, Diaz, Okafor


# --- the pattern sample of a file larger than it ---------------------------------------------

SAMPLE = CheckSettings(pattern_sample=30)


def note(i: int) -> str:
    """A value whose pattern no other of the first 120 shares (``1-``: ``9-``, ``11--``…)."""
    return "1" * (i % 30 + 1) + "-" * (i // 30 + 1)


def big_night(dates: str = "us") -> Night:
    """120 students, one row each, enrolled in SEC-1: more rows than :data:`SAMPLE` counts.

    ``ext.note`` gives every row its own pattern, so two samples of other rows have different
    pattern mixes; ``dates`` ``iso`` sends DOB as YYYY-MM-DD instead of MM/DD/YYYY.
    """
    night = tiny_night()
    header = ["School_id", "Student_id", "Last_name", "First_name", "Grade", "DOB", "ext.note"]
    night["students.csv"] = [header]
    night["enrollments.csv"] = [night["enrollments.csv"][0]]
    for i in range(120):
        month, day = i % 12 + 1, i % 28 + 1
        dob = f"{month:02}/{day:02}/2014" if dates == "us" else f"2014-{month:02}-{day:02}"
        student = f"S-{i:03}"
        night["students.csv"].append(["SCH-1", student, "Lee", "Ada", "3", dob, note(i)])
        night["enrollments.csv"].append(["SCH-1", "SEC-1", student])
    return night


def reservoir_sample(store, staged, columns, rows, size):
    """How profile version 1 drew a pattern sample: DuckDB's seeded reservoir sample."""
    store.execute(
        f"CREATE OR REPLACE TEMP TABLE {SAMPLE_TABLE} AS SELECT {', '.join(columns)} "
        f"FROM {staged.view} USING SAMPLE reservoir({size} ROWS) REPEATABLE (42)"
    )


def profile_the_old_way(store, snapshot, monkeypatch):
    """Keep ``snapshot``'s profile as a store written before profile versions would hold it."""
    with monkeypatch.context() as patched:
        patched.setattr(fields, "_draw_sample", reservoir_sample)
        profile_snapshot(store, snapshot, stage_snapshot(store, snapshot), SAMPLE)
    store.execute("UPDATE field_profiles SET version = 1 WHERE snapshot_id = ?", [snapshot])
    return stored_profiles(store, snapshot)


def notes(profiles):
    (found,) = [p for p in profiles if p.field == "ext.note"]
    return found


def test_the_pattern_sample_depends_on_the_rows_not_their_order(store, tmp_path):
    night = big_night()
    turned = big_night()
    turned["students.csv"][1:] = turned["students.csv"][:0:-1]
    first, second = ingest(store, tmp_path, night, turned)

    profiles = profile_snapshot(store, first, stage_snapshot(store, first), SAMPLE)
    again = profile_snapshot(store, first, stage_snapshot(store, first), SAMPLE)
    reordered = profile_snapshot(store, second, stage_snapshot(store, second), SAMPLE)

    assert again == profiles
    assert [(p.file, p.field, p.sampled, p.patterns) for p in reordered] == [
        (p.file, p.field, p.sampled, p.patterns) for p in profiles
    ]
    note_profile = notes(profiles)
    assert (note_profile.rows, note_profile.sampled, len(note_profile.patterns)) == (120, 30, 30)
    assert note_profile.version == PROFILE_VERSION == 2
    # A record's own id orders the sample (an enrollment's student, not its section or school).
    assert [sample_column(name) for name in spec.FILES] == [
        "School_id",
        "Student_id",
        "Teacher_id",
        "Section_id",
        "Student_id",
        "Staff_id",
        "Staff_id",
    ]
    # The samples are drawn by DuckDB's hash(): an upgrade that changes it changes every sample
    # of version 2 (kept profiles would then compare with samples drawn another way).
    assert store.rows("SELECT hash('S-001')") == [(6556225007643331124,)]


def test_rows_without_an_id_are_sampled_by_their_values(store, tmp_path):
    """Every Student_id blank (a missing-value on every row): the filter on the id's hash keeps
    no row (a NULL hashes above the bound), so the whole file is ordered — the rows first by
    their values, whatever their order."""
    night = big_night()
    for row in night["students.csv"][1:]:
        row[1] = ""
    turned = big_night()
    turned["students.csv"][1:] = [[*row[:1], "", *row[2:]] for row in night["students.csv"][:0:-1]]
    ids = ingest(store, tmp_path, night, turned)

    first, second = (
        notes(profile_snapshot(store, snapshot, stage_snapshot(store, snapshot), SAMPLE))
        for snapshot in ids
    )

    assert first == second
    # The rows first by their values: DOB is the first column that differs, then ext.note.
    rows = sorted(night["students.csv"][1:], key=lambda row: (row[5], row[6]))[:30]
    expected = sorted(row[6].replace("1", "9") for row in rows)
    assert (first.sampled, sorted(shape for shape, _ in first.patterns)) == (30, expected)


def test_the_pattern_sample_leaves_out_malformed_rows(store, tmp_path):
    clean = big_night()
    # The malformed rows carry a key that would come first in the sample.
    (first_key, first), (_, other) = store.rows(
        "SELECT min_by(k, hash(k)), min(hash(k)) FROM (SELECT i >= 120 AS new, 'S-' || "
        "lpad(i::VARCHAR, 3, '0') AS k FROM range(5000) t(i)) GROUP BY new ORDER BY new DESC"
    )
    assert first < other
    broken = big_night()
    broken["students.csv"].insert(5, ["SCH-1", first_key, "Lee", "Ada", "3", "x", "a", "b"])
    broken["students.csv"].insert(9, ["SCH-1", first_key, "Lee", "Ada", "3", "y", "c", "", ""])
    ids = ingest(store, tmp_path, clean, broken)

    whole, malformed = (
        profile_snapshot(store, snapshot, stage_snapshot(store, snapshot), SAMPLE)
        for snapshot in ids
    )

    skipped, dropped = store.rows(
        "SELECT skipped, dropped FROM file_staging WHERE snapshot_id = ? AND name = ?",
        [ids[1], "students.csv"],
    )[0]
    assert (skipped, dropped) == ([5], [9])  # rejected by the parser / parsed but malformed
    assert malformed == whole


def test_a_night_profiled_the_old_way_compares_like_one_profiled_the_new_way(tmp_path, monkeypatch):
    """Night 1 kept by a store from before profile versions, night 2 checked now: the same
    findings as when both were profiled the new way, and night 1 is profiled again and kept."""
    before, after = big_night(), big_night("iso")
    with Store.open(tmp_path / "new.duckdb") as store:
        first, second = ingest(store, tmp_path / "new", before, after)
        alike = run_checks(store, second, settings=SAMPLE)
        new_way = stored_profiles(store, first)
    with Store.open(tmp_path / "old.duckdb") as store:
        first, second = ingest(store, tmp_path / "old", before, after)
        old_way = profile_the_old_way(store, first, monkeypatch)
        mixed = run_checks(store, second, settings=SAMPLE)
        tonight = stored_profiles(store, second)
        kept = stored_profiles(store, first)

    # The two samples differ: compared as they are, ext.note would seem to change format.
    assert notes(old_way).patterns != notes(new_way).patterns
    assert notes(old_way).version == 1
    naive = field_changes(old_way, tonight, (), sync_type="sftp", settings=SAMPLE)
    assert [(f.code, f.field) for f in naive] == [
        ("format-shift", "DOB"),
        ("format-shift", "ext.note"),
    ]
    # Night 1 is profiled again the new way, and the findings are a same-version pair's.
    assert kept == new_way
    assert found(mixed) == found(alike)
    assert [(f.code, f.field, f.value) for f in mixed.findings if f.code == "format-shift"] == [
        ("format-shift", "DOB", "9999-99-99")
    ]


def test_the_field_matrix_profiles_old_way_nights_again_beside_new_ones(tmp_path, monkeypatch):
    before, after = big_night(), big_night("iso")
    with Store.open(tmp_path / "new.duckdb") as store:
        ingest(store, tmp_path / "new", before, after)
        alike = field_matrix(store, "tiny", SAMPLE)
    with Store.open(tmp_path / "old.duckdb") as store:
        first, second = ingest(store, tmp_path / "old", before, after)
        profile_the_old_way(store, first, monkeypatch)
        profile_snapshot(store, second, stage_snapshot(store, second), SAMPLE)
        mixed = field_matrix(store, "tiny", SAMPLE)
        versions = store.rows("SELECT DISTINCT version FROM field_profiles")

    assert mixed.fields == alike.fields
    assert [(f.code, f.field) for _, f in mixed.flags] == [
        (f.code, f.field) for _, f in alike.flags
    ]
    assert [(f.code, f.field) for _, f in mixed.flags if f.code == "format-shift"] == [
        ("format-shift", "DOB")
    ]
    assert versions == [(2,)]


def test_the_field_matrix_of_a_district(store, tmp_path):
    ids = ingest(store, tmp_path, tiny_night(), without_teacher_email())
    matrix = field_matrix(store, "tiny")

    assert [s.id for s in matrix.snapshots] == ids
    rows = {(r.file, r.field): r for r in matrix.fields}
    email = rows[("teachers.csv", "Teacher_email")]
    assert (email.entity, email.in_spec, email.required, email.extension) == (
        "teachers",
        True,
        False,
        False,
    )
    assert (email.present, email.fill_rate, email.distinct) == (
        (True, False),
        (1.0, None),
        (3, None),
    )
    house = rows[("students.csv", "ext.house")]
    assert (house.in_spec, house.extension, house.fill_rate) == (False, True, (0.75, 0.75))
    assert [r.field for r in matrix.fields if r.file == "schools.csv"] == [
        "School_id",
        "School_name",
        "School_number",
        "Low_grade",
        "High_grade",
    ]
    assert [(snapshot, f.code, f.field or f.value) for snapshot, f in matrix.flags] == [
        (ids[0], "extension-column", "ext.house"),
        (ids[1], "extension-column", "ext.house"),
        (ids[1], "column-dropped", "Teacher_email"),
    ]


# --- the customization ledger ----------------------------------------------------------------


def test_an_upload_that_undoes_a_kept_preferred_name(store, tmp_path):
    (first,) = ingest(store, tmp_path, tiny_night())
    assert run_checks(store, first).cached is False
    assert run_checks(store, first).cached is True
    kept = add_override(
        store,
        "tiny",
        entity="students",
        key="S-002",
        field="First_name",
        value="Bobby",
        reason="preferred name",
    )

    result = run_checks(store, first)  # the ledger changed: the cache is stale

    assert result.cached is False
    assert found(result) == [
        ("override-reverted", "students", "S-002", "First_name", "Bo", 3, None),
    ]
    assert one(result, "override-reverted").message == (
        "students S-002: First_name is back to 'Bo', undoing the kept override 'Bobby'."
    )
    assert overrides(store, "tiny") == [kept]
    remove_override(store, "tiny", kept.id)
    assert found(run_checks(store, first)) == []


def test_an_upload_that_keeps_the_override_is_fine(store, tmp_path):
    night = tiny_night()
    night["students.csv"][3][4] = "Bobby"
    night["students.csv"][2][10] = "green"  # an ext.* override on S-001's second row only
    (first,) = ingest(store, tmp_path, night)
    add_override(
        store, "tiny", entity="students", key="S-002", field="First_name", value="Bobby", reason="x"
    )
    add_override(
        store, "tiny", entity="students", key="S-001", field="ext.house", value="red", reason="y"
    )

    assert found(run_checks(store, first)) == [
        ("duplicate-id", "students", "S-001", "Student_id", "S-001", 2, "students/S-001")
    ]


@pytest.mark.parametrize(
    ("entity", "field", "message"),
    [
        ("pupils", "First_name", "unknown entity 'pupils': use one of schools, students,"),
        ("students", "Nickname", "students has no field 'Nickname': use a spec column or an"),
        ("enrollments", "ext.x", "enrollments has no field 'ext.x': use a spec column or an"),
    ],
)
def test_ledger_entries_must_name_a_real_field(store, entity, field, message):
    with pytest.raises(LedgerError) as raised:
        add_override(store, "tiny", entity=entity, key="K", field=field, value="v", reason="r")
    assert raised.value.message.startswith(message)


def test_a_ledger_key_in_no_night_is_refused_naming_the_nearest(store, tmp_path):
    """A typo (S-02 for S-002) kept an override that no record of any night matches: the
    ledger refuses it, as it refuses an unknown field, and names the nearest keys."""
    ingest(store, tmp_path, tiny_night())
    with pytest.raises(LedgerError) as raised:
        add_override(
            store, "tiny", entity="students", key="S-02", field="First_name", value="B", reason="r"
        )
    assert raised.value.message == (
        "tiny has no students record 'S-02' in any night: nearest S-002, S-001, S-003 (give "
        "the record's key as its nights hold it)"
    )
    with pytest.raises(LedgerError) as raised:
        add_override(
            store, "oak", entity="students", key="S-002", field="Grade", value="3", reason="r"
        )
    assert raised.value.message == (
        "oak has no students record 'S-002' in any night: no night of oak holds students "
        "(ingest its nights first)"
    )
    assert overrides(store, "tiny") == overrides(store, "oak") == []


def test_removing_an_unknown_override_says_how_to_list_them(store):
    with pytest.raises(LedgerError) as raised:
        remove_override(store, "tiny", 42)
    assert raised.value.message == (
        "district tiny has no override 42: list them with rosterlab ledger list"
    )


# --- the cache -------------------------------------------------------------------------------


def test_findings_are_recorded_and_cached_per_snapshot(store, tmp_path):
    night = tiny_night()
    night["enrollments.csv"].append(["SCH-2", "SEC-2", "S-404"])
    (snapshot,) = ingest(store, tmp_path, night)

    first = run_checks(store, snapshot)
    again = run_checks(store, snapshot)
    refreshed = run_checks(store, snapshot, refresh=True)

    assert (first.cached, again.cached, refreshed.cached) == (False, True, False)
    assert first.findings == again.findings == refreshed.findings
    assert [f.code for f in store.findings(snapshot, "check")] == ["enrollment-unknown-student"]
    assert [f.code for f in store.findings(snapshot)] == [
        "extension-column",
        "enrollment-unknown-student",
    ]


def test_a_read_only_store_is_checked_without_caching(tmp_path):
    path = tmp_path / "store.duckdb"
    with Store.open(path) as store:
        (snapshot,) = ingest(store, tmp_path, tiny_night())
    with Store.open(path, read_only=True) as store:
        result = run_checks(store, snapshot)
        assert (result.cached, [f.code for f in result.findings]) == (False, ["extension-column"])
        assert store.rows("SELECT count(*) FROM check_runs") == [(0,)]


def test_a_distinct_count_that_is_an_estimate_says_so(tmp_path, monkeypatch):
    """Above EXACT_DISTINCT_ROWS rows a column's distinct count is a HyperLogLog estimate;
    `fields` JSON, the field matrix and the widget showed it as an exact number. 120 students
    against a 100-row limit here: the students' columns are estimates, unless the checks kept
    the column's distinct values (Student_id, School_id: exact for free); small files stay exact."""
    from rosterlab.report.checks import fields_dict
    from rosterlab.ui import FieldMatrixView, open_workbench

    monkeypatch.setattr(fields, "EXACT_DISTINCT_ROWS", 100)
    with Store.open(tmp_path / "store.duckdb") as store:
        (snapshot,) = ingest(store, tmp_path, big_night())
        run_checks(store, snapshot, settings=SAMPLE, refresh=True)
        kept = {(p.file, p.field): p.distinct_estimated for p in stored_profiles(store, snapshot)}
        matrix = field_matrix(store, "tiny", SAMPLE)
    assert {field for (file, field), estimated in kept.items() if estimated} == {
        "Last_name", "First_name", "Grade", "DOB", "ext.note"
    }  # fmt: skip
    assert not any(estimated for (file, _), estimated in kept.items() if file != "students.csv")
    shown = {r["field"]: r["distinct_estimated"] for r in fields_dict(matrix)["fields"]}
    assert (shown["DOB"], shown["Student_id"], shown["School_name"]) == ([True], [False], [False])
    dob = next(r for r in matrix.fields if r.field == "DOB")
    view = FieldMatrixView(open_workbench(tmp_path / "store.duckdb", district="tiny"))
    view.show.value = "distinct"
    assert view._cell(dob, 0) == ("num", f"≈{dob.distinct[0]:,}")
