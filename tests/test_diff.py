"""The snapshot diff on tiny districts named after their incident: exact counts and changes."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from rosterlab.bundle import open_bundle
from rosterlab.diff import (
    NATURAL_KEYS,
    DiffResult,
    HoldReason,
    HoldThresholds,
    Rekey,
    TermRollover,
    diff_snapshots,
    history_findings,
    record_timeline,
)
from rosterlab.errors import SnapshotNotFoundError
from rosterlab.spec import ENTITIES
from rosterlab.store import Store, ingest_bundle
from rosterlab.store.schema import duplicate_versions_sql
from tests.tiny import Night, tiny_night, write_night

FIRST = datetime(2026, 9, 1, 2, 0)


def ingest_history(tmp_path: Path, *nights: Night, district: str = "maple") -> Path:
    """Ingest nights 1..n (one day apart) into a fresh store; return its path."""
    path = tmp_path / "store.duckdb"
    with Store.open(path) as store:
        for k, night in enumerate(nights):
            when = FIRST + timedelta(days=k)
            folder = write_night(tmp_path / f"{district}-{k + 1}", night)
            with open_bundle(folder) as bundle:
                ingest_bundle(store, bundle, district=district, taken_at=when)
    return path


def diff(path: Path, frm: str | int = "previous", to: str | int = "latest", **kw) -> DiffResult:
    with Store.open(path, read_only=True) as store:
        return diff_snapshots(store, "maple", frm, to, **kw)


def counts(result: DiffResult) -> dict[str, tuple[int, int, int, int]]:
    return {e.entity: (e.added, e.removed, e.changed, e.unchanged) for e in result.entities}


def changes(result: DiffResult) -> list[tuple]:
    assert result.changes is not None
    return [tuple(row) for row in result.changes.iter_rows()]


QUIET = {
    "schools": (0, 0, 0, 2),
    "students": (0, 0, 0, 3),
    "contacts": (0, 0, 0, 3),
    "teachers": (0, 0, 0, 3),
    "sections": (0, 0, 0, 2),
    "enrollments": (0, 0, 0, 3),
    "staff": (0, 0, 0, 0),
}


def test_a_changed_grade_is_one_changed_field(tmp_path):
    night = tiny_night()
    night["students.csv"][3][5] = "11"  # incident: S-002 moves from grade 10 to 11
    result = diff(ingest_history(tmp_path, tiny_night(), night), details=True)

    assert counts(result) == {**QUIET, "students": (0, 0, 1, 2)}
    assert result.entity("students").fields == (("Grade", 1),)
    assert changes(result) == [("students", "S-002", "changed", "Grade", "10", "11")]
    assert result.hold_reasons == () and result.rekeys == () and result.rollovers == ()
    assert history_findings(result, "sftp") == []


def test_an_added_student_lists_every_filled_field(tmp_path):
    night = tiny_night()
    night["students.csv"].append(
        ["SCH-1", "S-004", "00999", "Ng", "Di", "4", "", "", "", "", "green"]
    )  # incident: a new student arrives, no contact
    result = diff(ingest_history(tmp_path, tiny_night(), night), details=True)

    assert counts(result) == {**QUIET, "students": (1, 0, 0, 3)}
    assert changes(result) == [
        ("students", "S-004", "added", "School_id", None, "SCH-1"),
        ("students", "S-004", "added", "Student_id", None, "S-004"),
        ("students", "S-004", "added", "Student_number", None, "00999"),
        ("students", "S-004", "added", "Last_name", None, "Ng"),
        ("students", "S-004", "added", "First_name", None, "Di"),
        ("students", "S-004", "added", "Grade", None, "4"),
        ("students", "S-004", "added", "ext.house", None, "green"),
    ]


def test_a_removed_student_takes_its_contact_along(tmp_path):
    night = tiny_night()
    del night["students.csv"][4]  # incident: S-003 (and contact C-3) left the district
    result = diff(ingest_history(tmp_path, tiny_night(), night), details=True)

    assert counts(result) == {**QUIET, "students": (0, 1, 0, 2), "contacts": (0, 1, 0, 2)}
    assert changes(result) == [
        ("students", "S-003", "removed", "School_id", "SCH-2", None),
        ("students", "S-003", "removed", "Student_id", "S-003", None),
        ("students", "S-003", "removed", "Student_number", "00789", None),
        ("students", "S-003", "removed", "Last_name", "Okafor", None),
        ("students", "S-003", "removed", "First_name", "Cy", None),
        ("students", "S-003", "removed", "Grade", "11", None),
        ("contacts", "S-003/sis_id:C-3", "removed", "Student_id", "S-003", None),
        ("contacts", "S-003/sis_id:C-3", "removed", "Contact_type", "Primary", None),
        ("contacts", "S-003/sis_id:C-3", "removed", "Contact_name", "Ngozi Okafor", None),
        ("contacts", "S-003/sis_id:C-3", "removed", "Contact_sis_id", "C-3", None),
    ]


def test_quoted_empty_and_missing_values_are_the_same_null(tmp_path):
    first = write_night(tmp_path / "n1", tiny_night())
    second = write_night(tmp_path / "n2", tiny_night())
    students = second / "students.csv"
    # incident: the exporter now quotes empty cells ("") — S-003 has no zip, S-002 no contact
    text = students.read_text().replace("11,,Primary", '11,"",Primary')
    students.write_text(text.replace("02135,,,,blue", '02135,"","","",blue'))
    assert students.read_text().count('""') == 4
    path = tmp_path / "store.duckdb"
    with Store.open(path) as store:
        for k, folder in enumerate((first, second)):
            with open_bundle(folder) as bundle:
                ingest_bundle(store, bundle, district="maple", taken_at=FIRST + timedelta(k))

    assert counts(diff(path)) == QUIET


def test_an_extension_value_change_is_a_field_change(tmp_path):
    night = tiny_night()
    night["students.csv"][3][10] = "green"  # incident: S-002 changes house (ext.house)
    result = diff(ingest_history(tmp_path, tiny_night(), night), details=True)

    assert counts(result) == {**QUIET, "students": (0, 0, 1, 2)}
    assert result.entity("students").fields == (("ext.house", 1),)
    assert changes(result) == [("students", "S-002", "changed", "ext.house", "blue", "green")]


def test_a_new_empty_extension_column_changes_no_record(tmp_path):
    night = tiny_night()
    for row in night["schools.csv"]:
        row.append("ext.region" if row[0] == "School_id" else "")  # incident: empty new column
    path = ingest_history(tmp_path, tiny_night(), night)
    with Store.open(path, read_only=True) as store:
        versions = store.rows("SELECT count(*) FROM schools WHERE district = 'maple'")[0][0]

    assert versions == 4  # the row hashes changed (a column was added) ...
    assert counts(diff(path)) == QUIET  # ... but no value did


def test_duplicate_key_versions_are_reported_and_one_version_stands(tmp_path):
    night = tiny_night()
    night["teachers.csv"].append(["SCH-1", "T-1", "Park", "Jo", "jo.park@new.example"])
    path = ingest_history(tmp_path, tiny_night(), night, tiny_night())  # incident on night 2
    with Store.open(path, read_only=True) as store:
        lowest = store.rows(
            "SELECT Teacher_email FROM teachers WHERE key = 'T-1/SCH-1' ORDER BY row_hash LIMIT 1"
        )[0][0]
    appears, vanishes = diff(path, 1, 2, details=True), diff(path, 2, 3, details=True)

    # The key never reads as added or removed: one version stands for it (the lowest row_hash).
    for result, moved in ((appears, (1, 2)), (vanishes, (2, 1))):
        teachers = result.entity("teachers")
        assert [(d.key, d.versions_from, d.versions_to) for d in teachers.duplicates] == [
            ("T-1/SCH-1", *moved)
        ]
        assert (teachers.added, teachers.removed) == (0, 0)
    if lowest == "jo.park@maple.example":  # the original stands: no change either way
        assert counts(appears)["teachers"] == counts(vanishes)["teachers"] == (0, 0, 0, 3)
    else:
        assert changes(appears) == [
            ("teachers", "T-1/SCH-1", "changed", "Teacher_email", "jo.park@maple.example", lowest)
        ]
        assert counts(vanishes)["teachers"] == (0, 0, 1, 2)


def test_duplicate_versions_are_recorded_each_night_and_the_backfill_agrees(tmp_path):
    doubled = tiny_night()
    doubled["teachers.csv"].append(["SCH-1", "T-1", "Park", "Jo", "jo.park@new.example"])
    still_doubled = tiny_night()  # night 3: the duplicate stays; only a school is renamed
    still_doubled["teachers.csv"] = doubled["teachers.csv"]
    still_doubled["schools.csv"][1][1] = "Maple Elementary School"
    path = ingest_history(tmp_path, tiny_night(), doubled, still_doubled, tiny_night())
    with Store.open(path) as store:
        recorded = store.rows(
            "SELECT s.seq, d.entity, d.key, v.Teacher_email FROM duplicate_versions d "
            "JOIN snapshots s ON s.id = d.snapshot_id "
            "JOIN teachers v ON v.key = d.key AND v.row_hash = d.row_hash ORDER BY ALL"
        )
        backfill = store.rows(
            " UNION ".join(duplicate_versions_sql(e) for e in ENTITIES.values()) + " ORDER BY ALL"
        )
        ids = {s.seq: s.id for s in store.snapshots("maple")}
        recorded_rows = store.rows(
            "SELECT snapshot_id, entity, key, row_hash FROM duplicate_versions ORDER BY ALL"
        )

    assert recorded == [
        (seq, "teachers", "T-1/SCH-1", email)
        for seq in (2, 3)
        for email in ("jo.park@maple.example", "jo.park@new.example")
    ]
    assert backfill == recorded_rows
    assert sorted({row[0] for row in recorded_rows}) == [ids[2], ids[3]]


def test_a_teacher_rekeyed_with_the_same_email_is_a_rekey(tmp_path):
    night = tiny_night()
    night["teachers.csv"][1][1] = "T-9001"  # incident: an SIS migration re-numbers T-1
    night["sections.csv"][1][2] = "T-9001"
    result = diff(ingest_history(tmp_path, tiny_night(), night))

    assert counts(result) == {**QUIET, "teachers": (1, 1, 0, 2), "sections": (0, 0, 1, 1)}
    assert result.rekeys == (Rekey("teachers", "T-1/SCH-1", "T-9001/SCH-1", ("Teacher_email",)),)
    assert result.hold_reasons == (
        HoldReason("teachers", "deletion", 1, 3, 1 / 3, 0.10, expected=False),
    )
    assert [f.message for f in history_findings(result, "sftp")] == [
        "33% of teachers would be deleted (threshold 10%); Clever will hold the sync.",
        "teachers T-1/SCH-1 came back as T-9001/SCH-1 (matched on Teacher_email); apps lose "
        "its history.",
    ]


def test_a_teacher_at_two_schools_rekeys_per_school(tmp_path):
    before, night = tiny_night(), tiny_night()
    for listed in (before, night):  # T-2 listed at SCH-1 too
        listed["teachers.csv"].append(["SCH-1", "T-2", "Nowak", "Ola", "ola.nowak@maple.example"])
    for row in night["teachers.csv"]:
        if row[1] == "T-2":
            row[1] = "T-9002"  # incident: T-2 (at SCH-1 and SCH-2) re-numbered
    result = diff(ingest_history(tmp_path, before, night))

    assert result.rekeys == (
        Rekey("teachers", "T-2/SCH-1", "T-9002/SCH-1", ("School_id", "Teacher_email")),
        Rekey("teachers", "T-2/SCH-2", "T-9002/SCH-2", ("School_id", "Teacher_email")),
    )


def test_a_truncated_export_predicts_a_deletion_hold(tmp_path):
    night = tiny_night()
    del night["students.csv"][3:]  # incident: the export stopped after S-001
    result = diff(ingest_history(tmp_path, tiny_night(), night))

    assert counts(result) == {**QUIET, "students": (0, 2, 0, 1), "contacts": (0, 1, 0, 2)}
    assert result.hold_predicted
    assert result.hold_reasons == (
        HoldReason("students", "deletion", 2, 3, 2 / 3, 0.10, expected=False),
        HoldReason("contacts", "deletion", 1, 3, 1 / 3, 0.10, expected=False),
    )
    found = history_findings(result, "sftp")
    assert [(f.code, f.entity, f.value, f.severity) for f in found] == [
        ("hold-mass-deletion", "students", "2", "warning"),
        ("hold-mass-deletion", "contacts", "1", "warning"),
    ]
    assert found[0].message == (
        "67% of students would be deleted (threshold 10%); Clever will hold the sync."
    )


@pytest.mark.parametrize(
    ("sync_type", "hint"),
    [
        (
            "sftp",
            "Check the export is complete; if the deletions are real, approve the hold in Clever.",
        ),
        (
            "clever-managed",
            "Check the SIS still holds these students: Clever's own sync reads it, so ask Clever "
            "Support to check the sync if it does; if the deletions are real, approve the hold in "
            "Clever.",
        ),
        (
            "sis-managed",
            "Ask your SIS vendor whether their nightly export is complete; if the deletions are "
            "real, approve the hold in Clever.",
        ),
    ],
)
def test_a_deletion_hold_hint_is_worded_for_the_sync_type(tmp_path, sync_type, hint):
    """Only an SFTP district builds the export itself; Clever's sync or the SIS vendor builds
    the others' files."""
    night = tiny_night()
    del night["students.csv"][3:]
    result = diff(ingest_history(tmp_path, tiny_night(), night))

    assert history_findings(result, sync_type)[0].hint == hint


def test_district_thresholds_decide_the_hold(tmp_path):
    night = tiny_night()
    del night["students.csv"][3:]
    path = ingest_history(tmp_path, tiny_night(), night)

    lenient = diff(path, thresholds=HoldThresholds(deletion=0.7, update=0.75))
    assert lenient.hold_reasons == ()


def with_terms(night: Night) -> Night:
    """Sections carry a term: SEC-1 is a summer section that ended 08/28/2026."""
    sections = night["sections.csv"]
    sections[0] += ["Term_name", "Term_end"]
    sections[1] += ["Summer Bridge", "08/28/2026"]
    sections[2] += ["Fall", "01/22/2027"]
    return night


def test_term_rollover_is_the_expected_kind_of_hold(tmp_path):
    night = with_terms(tiny_night())
    del night["sections.csv"][1]  # incident: the ended summer section leaves ...
    del night["enrollments.csv"][1]  # ... with its enrollment
    result = diff(ingest_history(tmp_path, with_terms(tiny_night()), night))

    assert counts(result) == {
        **QUIET,
        "sections": (0, 1, 0, 1),
        "enrollments": (0, 1, 0, 2),
    }
    assert result.rollovers == (TermRollover("Summer Bridge", "08/28/2026", ("SEC-1",), 1),)
    assert [(h.entity, h.expected) for h in result.hold_reasons] == [
        ("sections", True),
        ("enrollments", True),
    ]
    found = history_findings(result, "sftp")
    assert [(f.code, f.entity, f.value, f.cause) for f in found] == [
        ("hold-mass-deletion", "sections", "1", "term-rollover"),
        ("hold-mass-deletion", "enrollments", "1", "term-rollover"),
        ("term-rollover", "sections", "Summer Bridge", "term-rollover"),
    ]
    assert found[2].message == (
        "1 removed sections belong to term 'Summer Bridge', which ended; an expected hold."
    )


def test_a_section_removed_before_its_term_ends_is_no_rollover(tmp_path):
    night = with_terms(tiny_night())
    del night["sections.csv"][2]  # incident: the Fall section vanishes mid-term
    result = diff(ingest_history(tmp_path, with_terms(tiny_night()), night))

    assert result.rollovers == ()
    assert [(h.entity, h.expected) for h in result.hold_reasons] == [("sections", False)]


def apply(state: dict[tuple[str, str], dict[str, str]], result: DiffResult) -> dict:
    """Apply a diff's row-level changes to {(entity, key): {field: value}}."""
    state = {k: dict(v) for k, v in state.items()}
    assert result.changes is not None
    for entity, key, change, field, _old, new in result.changes.iter_rows():
        if change == "removed":
            state.pop((entity, key), None)
        elif new is None:
            state[(entity, key)].pop(field, None)
        else:
            state.setdefault((entity, key), {})[field] = new
    return state


def empty_night() -> Night:
    """Every file with its header only: diffing from it lists a whole snapshot as added."""
    return {name: rows[:1] for name, rows in tiny_night().items()}


def test_a_non_consecutive_diff_equals_the_composition(tmp_path):
    second, third = tiny_night(), tiny_night()
    second["students.csv"][3][5] = "11"  # night 2: S-002 to grade 11, S-003 leaves
    del second["students.csv"][4]
    third["students.csv"][3][5] = "10"  # night 3: S-002 back to grade 10, S-003 is back
    third["students.csv"][1][3] = "Li"  # ... and S-001's two rows now say Li
    third["students.csv"][2][3] = "Li"
    path = ingest_history(tmp_path, empty_night(), tiny_night(), second, third)
    first = apply({}, diff(path, 1, 2, details=True))
    direct = diff(path, 2, 4, details=True)
    composed = apply(apply(first, diff(path, 2, 3, details=True)), diff(path, 3, 4, details=True))

    assert counts(direct) == {**QUIET, "students": (0, 0, 1, 2)}
    assert changes(direct) == [("students", "S-001", "changed", "Last_name", "Lee", "Li")]
    assert apply(first, direct) == composed == apply({}, diff(path, 1, 4, details=True))
    assert changes(diff(path, 4, 2, details=True)) == [
        ("students", "S-001", "changed", "Last_name", "Li", "Lee")
    ]


def test_the_same_snapshot_twice_is_no_change(tmp_path):
    path = ingest_history(tmp_path, tiny_night(), tiny_night())
    assert counts(diff(path, 1, 1)) == QUIET


def test_timeline_of_a_student_who_changes_leaves_and_returns(tmp_path):
    second, third = tiny_night(), tiny_night()
    second["students.csv"][3][5] = "11"
    del third["students.csv"][3]
    fourth = tiny_night()
    fourth["students.csv"][3][5] = "12"
    path = ingest_history(tmp_path, tiny_night(), second, third, fourth)
    with Store.open(path, read_only=True) as store:
        timeline = record_timeline(store, "maple", "students", "S-002")
        never = record_timeline(store, "maple", "students", "S-999")

    assert [(e.seq, e.change, e.field, e.old, e.new) for e in timeline.events] == [
        (1, "first-seen", None, None, None),
        (2, "changed", "Grade", "10", "11"),
        (3, "removed", None, None, None),
        (4, "reappeared", None, None, None),
        (4, "changed", "Grade", "11", "12"),
    ]
    assert timeline.events[1].taken_at == FIRST + timedelta(days=1)
    assert (never.snapshots, never.events) == (4, ())


def test_timeline_shows_a_duplicate_appearing(tmp_path):
    night = tiny_night()
    night["teachers.csv"].append(["SCH-1", "T-1", "Park", "Jo", "jo.park@new.example"])
    path = ingest_history(tmp_path, tiny_night(), night)
    with Store.open(path, read_only=True) as store:
        timeline = record_timeline(store, "maple", "teachers", "T-1/SCH-1")

    assert ("versions", "1", "2") in [(e.change, e.old, e.new) for e in timeline.events]


def test_an_unknown_district_is_a_one_line_error(tmp_path):
    path = ingest_history(tmp_path, tiny_night())
    with Store.open(path, read_only=True) as store, pytest.raises(SnapshotNotFoundError) as err:
        diff_snapshots(store, "oak")
    assert str(err.value) == (
        "district oak has no snapshots (the store holds maple): check --district, or ingest its "
        "nights with rosterlab ingest"
    )


def test_natural_keys_name_spec_columns():
    for entity, rules in NATURAL_KEYS.items():
        for rule in rules:
            for column in (*rule.columns, *([rule.differs] if rule.differs else [])):
                assert column in ENTITIES[entity].columns, (entity, column)


def test_a_first_night_opens_one_version_per_distinct_row_and_records_its_duplicate_keys(
    tmp_path,
):
    """Night 1 holds an enrollment row twice, byte for byte (one version), and teacher T-1
    twice with two emails (two versions of one key: duplicate versions); night 2 is the same
    bundle again at a later time: nothing opens or closes."""
    night = tiny_night()
    night["enrollments.csv"].append(["SCH-1", "SEC-1", "S-001"])
    night["teachers.csv"].append(["SCH-1", "T-1", "Park", "Jo", "jo.park@new.example"])
    again = copy.deepcopy(night)
    again["schools.csv"][1][1] = "Maple Elementary School"  # another bundle, same rows else
    path = ingest_history(tmp_path, night, again)
    with Store.open(path, read_only=True) as store:
        ids = [s.id for s in store.snapshots("maple")]
        counted = store.rows(
            "SELECT snapshot_id, entity, rows, versions_added, versions_closed "
            "FROM snapshot_entities WHERE entity IN ('enrollments', 'teachers', 'schools') "
            "ORDER BY ALL"
        )
        enrollments = store.rows(
            "SELECT key, valid_from FROM enrollments WHERE district = 'maple' ORDER BY ALL"
        )
        duplicated = store.rows(
            "SELECT d.snapshot_id, d.entity, d.key, t.Teacher_email FROM duplicate_versions d "
            "JOIN teachers t ON t.key = d.key AND t.row_hash = d.row_hash ORDER BY ALL"
        )
    assert counted == [
        (ids[0], "enrollments", 3, 3, 0),
        (ids[0], "schools", 2, 2, 0),
        (ids[0], "teachers", 4, 4, 0),
        (ids[1], "enrollments", 3, 0, 0),
        (ids[1], "schools", 2, 1, 1),
        (ids[1], "teachers", 4, 0, 0),
    ]
    assert enrollments == [("SEC-1/S-001", 1), ("SEC-2/S-002", 1), ("SEC-2/S-003", 1)]
    assert duplicated == [
        (snapshot, "teachers", "T-1/SCH-1", email)
        for snapshot in ids
        for email in ("jo.park@maple.example", "jo.park@new.example")
    ]
