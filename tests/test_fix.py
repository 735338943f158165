"""Corrected bundles from a tiny district: every rule op, exact files, manifest and change log."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rosterlab.bundle import newline_chars, open_bundle, write_csv
from rosterlab.checks import run_checks
from rosterlab.cli import main
from rosterlab.errors import ConfigError, FixError
from rosterlab.fix import RuleSet, Verdict, bundle_verdict, fix_snapshot, parse_rules
from rosterlab.fix.hold import HoldPrediction
from rosterlab.spec import finding
from rosterlab.store import Store, ingest_bundle
from rosterlab.store.pushes import PushedFile, PushRecord, record_push
from tests.tiny import Night, folder_files, tiny_night, write_night

NIGHT_1 = datetime(2026, 9, 1, 2, 0)
NIGHT_2 = datetime(2026, 9, 2, 2, 0)
CHANGES_HEADER = "entity,key,field,change,old,new,rule,reason\n"

BROKEN_ENROLLMENT_RULES = b"""district = "maple"

[[rules]]
op = "drop"
entity = "enrollments"
code = "enrollment-unknown-section"
reason = "SEC-9 is not in sections.csv: Clever rejects the whole upload"

[[rules]]
op = "map"
entity = "students"
field = "Grade"
values = { K = "Kindergarten" }
reason = "Clever's grade vocabulary spells it Kindergarten"
"""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ingest(store: Store, folder: Path, when: datetime) -> int:
    """Ingest a night and check it, as ``rosterlab ingest`` does."""
    with open_bundle(folder) as bundle:
        snapshot = ingest_bundle(store, bundle, district="maple", taken_at=when).snapshot.id
    run_checks(store, snapshot)
    return snapshot


def rules_of(text: str) -> RuleSet:
    return parse_rules(text.encode(), name="maple.rules.toml")


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "store.duckdb") as opened:
        yield opened


def broken_enrollment_night() -> Night:
    """Night 2: an enrollment in SEC-9, which sections.csv lacks; S-002's grade sent as 'K'."""
    night = tiny_night()
    night["students.csv"][3][5] = "K"
    night["enrollments.csv"].append(["SCH-1", "SEC-9", "S-001"])
    return night


@pytest.fixture
def broken(store: Store, tmp_path: Path) -> int:
    """maple night 1 clean, night 2 with a broken enrollment (fix runs the checks on it)."""
    ingest(store, write_night(tmp_path / "n1", tiny_night()), NIGHT_1)
    return ingest(store, write_night(tmp_path / "n2", broken_enrollment_night()), NIGHT_2)


@dataclass(frozen=True)
class Maple:
    """The ``broken`` district in a store shared by the tests that only read it."""

    store: Store
    night_2: int
    folder: Path


@pytest.fixture(scope="module")
def maple(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Maple]:
    folder = tmp_path_factory.mktemp("maple")
    with Store.open(folder / "store.duckdb") as store:
        ingest(store, write_night(folder / "n1", tiny_night()), NIGHT_1)
        night_2 = ingest(store, write_night(folder / "n2", broken_enrollment_night()), NIGHT_2)
        yield Maple(store, night_2, folder)


def test_broken_enrollment_is_dropped_with_exact_files_manifest_and_change_log(maple, tmp_path):
    out = tmp_path / "maple-fixed"
    rules = parse_rules(BROKEN_ENROLLMENT_RULES, name="maple.rules.toml", district="maple")
    result = fix_snapshot(maple.store, maple.night_2, rules, out)

    assert result.ok
    assert sorted(p.name for p in out.iterdir()) == [
        "changes.csv",
        "enrollments.csv",
        "manifest.json",
        "schools.csv",
        "sections.csv",
        "students.csv",
        "teachers.csv",
    ]
    files = folder_files(out)
    assert files["enrollments.csv"] == (
        b"School_id,Section_id,Student_id\nSCH-1,SEC-1,S-001\nSCH-2,SEC-2,S-002\n"
        b"SCH-2,SEC-2,S-003\n"
    )
    assert (
        files["students.csv"].splitlines()[3]
        == b"SCH-2,S-002,00456,Diaz,Bo,Kindergarten,02135,,,,blue"
    )
    clean = tiny_night()
    for name in ("schools.csv", "teachers.csv", "sections.csv"):  # untouched: same bytes
        assert files[name] == (maple.folder / "n1" / name).read_bytes(), name
    assert clean["schools.csv"][0] == files["schools.csv"].decode().splitlines()[0].split(",")
    assert files["changes.csv"].decode() == (
        CHANGES_HEADER
        + "enrollments,SEC-9/S-001,,dropped,,,1:drop,SEC-9 is not in sections.csv: Clever "
        "rejects the whole upload\n"
        "students,S-002,Grade,changed,K,Kindergarten,2:map,Clever's grade vocabulary spells it "
        "Kindergarten\n"
    )
    source = maple.store.snapshot(maple.night_2)
    rows = {
        "schools.csv": 2,
        "students.csv": 4,
        "teachers.csv": 3,
        "sections.csv": 2,
        "enrollments.csv": 3,
    }
    assert json.loads(files["manifest.json"]) == {
        "manifest_version": 1,
        "district": "maple",
        "source_snapshot": {
            "id": maple.night_2,
            "night": 2,
            "taken_at": "2026-09-02T02:00:00",
            "origin": "upload",
            "bundle_sha256": source.bundle_sha256,
        },
        "rules": {
            "file": "maple.rules.toml",
            "sha256": sha256(BROKEN_ENROLLMENT_RULES),
            "applied": [
                {
                    "rule": 1,
                    "line": 3,
                    "op": "drop",
                    "changes": 1,
                    "notes": [],
                    "reason": "SEC-9 is not in sections.csv: Clever rejects the whole upload",
                },
                {
                    "rule": 2,
                    "line": 9,
                    "op": "map",
                    "changes": 1,
                    "notes": [],
                    "reason": "Clever's grade vocabulary spells it Kindergarten",
                },
            ],
        },
        "files": [
            {
                "name": name,
                "sha256": sha256(files[name]),
                "bytes": len(files[name]),
                "rows": count,
                "newline": "LF",
            }
            for name, count in rows.items()
        ],
        "entities": {
            "schools": 2,
            "students": 3,
            "contacts": 3,
            "teachers": 3,
            "sections": 2,
            "enrollments": 3,
            "staff": 0,
            "admins": 0,
        },
        "changes": {"file": "changes.csv", "rows": 2, "unparseable_rows": 0, "header_rows": 0},
        "findings": {
            "before": {
                "error": 1,
                "warning": 1,
                "info": 1,
                "by_code": {
                    "enrollment-unknown-section": 1,
                    "extension-column": 1,
                    "invalid-value": 1,
                },
            },
            "after": {"error": 0, "warning": 0, "info": 1, "by_code": {"extension-column": 1}},
        },
        "remaining_errors": [],
        "hold": {
            "predicted": False,
            "method": "diff",
            "baseline": {"kind": "snapshot", "snapshot": 1, "night": 1},
            "reasons": [],
            "note": None,
        },
        "notes": [],
    }
    assert files["manifest.json"].decode() == json.dumps(result.manifest(), indent=2) + "\n"


def changes_of(out: Path) -> list[str]:
    text = (out / "changes.csv").read_text()
    assert text.startswith(CHANGES_HEADER)
    return text[len(CHANGES_HEADER) :].splitlines()


def test_set_by_key_and_by_condition_and_fill_a_column_that_was_not_sent(maple, tmp_path):
    rules = rules_of(
        '[[rules]]\nop = "set"\nentity = "students"\nfield = "Student_zip"\nkey = "S-003"\n'
        'value = "02136"\nreason = "zip from the front office"\n'
        '[[rules]]\nop = "set"\nentity = "schools"\nfield = "High_grade"\n'
        'where = { School_id = "SCH-1", Low_grade = "Kindergarten" }\nvalue = "6"\n'
        'reason = "Maple Elementary runs to grade 6"\n'
        '[[rules]]\nop = "fill"\nentity = "teachers"\nfield = "Title"\nvalue = "Teacher"\n'
        'reason = "new hires have no title yet"\n'
        '[[rules]]\nop = "set"\nentity = "students"\nfield = "Grade"\nkeys = ["S-404"]\n'
        'value = "4"\nreason = "a student who left"\n'
    )
    out = tmp_path / "out"
    # forced: rule 2 changes SCH-1's High_grade, a value valid tonight
    result = fix_snapshot(maple.store, maple.night_2, rules, out, force=True)

    assert changes_of(out) == [
        "students,S-003,Student_zip,changed,,02136,1:set,zip from the front office",
        "schools,SCH-1,High_grade,changed,5,6,2:set,Maple Elementary runs to grade 6",
        "teachers,T-1/SCH-1,Title,changed,,Teacher,3:fill,new hires have no title yet",
        "teachers,T-2/SCH-2,Title,changed,,Teacher,3:fill,new hires have no title yet",
        "teachers,T-3/SCH-1,Title,changed,,Teacher,3:fill,new hires have no title yet",
    ]
    assert (out / "teachers.csv").read_text().splitlines() == [
        "School_id,Teacher_id,Last_name,First_name,Teacher_email,Title",
        "SCH-1,T-1,Park,Jo,jo.park@maple.example,Teacher",
        "SCH-2,T-2,Nowak,Ola,ola.nowak@maple.example,Teacher",
        "SCH-1,T-3,Kowalski,Ewa,ewa.kowalski@maple.example,Teacher",
    ]
    assert (out / "schools.csv").read_text().splitlines()[1] == (
        "SCH-1,Maple Elementary,101,Kindergarten,6"
    )
    assert [(o.changes, o.notes) for o in result.outcomes] == [
        (1, ()),
        (1, ()),
        (3, ("Title added to teachers.csv (it was not sent)",)),
        (0, ("no students record has key S-404",)),
    ]


def test_a_set_key_is_the_key_check_shows_or_a_part_naming_one_record(maple, tmp_path):
    rules = rules_of(
        '[[rules]]\nop = "set"\nentity = "teachers"\nfield = "Title"\n'
        'keys = ["T-2", "T-3/SCH-1", "SCH-1", "T-9"]\nvalue = "Coach"\nreason = "titles"\n'
    )
    out = tmp_path / "out"
    result = fix_snapshot(maple.store, maple.night_2, rules, out, force=True)

    assert changes_of(out) == [
        "teachers,T-2/SCH-2,Title,changed,,Coach,1:set,titles",
        "teachers,T-3/SCH-1,Title,changed,,Coach,1:set,titles",
    ]
    assert [(o.changes, o.notes) for o in result.outcomes] == [
        (
            2,
            (
                "SCH-1 is part of several teachers keys: T-1/SCH-1, T-3/SCH-1; give one as key",
                "no teachers record has key T-9",
                "Title added to teachers.csv (it was not sent)",
            ),
        )
    ]


def test_a_student_on_several_rows_changes_once_in_the_log(maple, tmp_path):
    rules = rules_of(
        '[[rules]]\nop = "set"\nentity = "students"\nfield = "Grade"\nkey = "S-001"\n'
        'value = "4"\nreason = "promoted mid-year"\n'
    )
    out = tmp_path / "out"
    fix_snapshot(maple.store, maple.night_2, rules, out, force=True)  # grade 3 is valid
    assert changes_of(out) == ["students,S-001,Grade,changed,3,4,1:set,promoted mid-year"]
    students = (out / "students.csv").read_text().splitlines()
    assert [line.split(",")[5] for line in students[1:3]] == ["4", "4"]  # both contact rows


def test_rename_a_misspelled_column(store, tmp_path):
    night = tiny_night()
    night["students.csv"][0][2] = "Student_numbr"  # incident: the SIS export misspells it
    snapshot = ingest(store, write_night(tmp_path / "n1", night), NIGHT_1)
    rules = rules_of(
        '[[rules]]\nop = "rename-column"\nfile = "students.csv"\nfrom = "Student_numbr"\n'
        'to = "Student_number"\nreason = "the export misspells it"\n'
        '[[rules]]\nop = "rename-column"\nfile = "students.csv"\nfrom = "Iep_status"\n'
        'to = "IEP_status"\nreason = "fixed upstream already"\n'
    )
    out = tmp_path / "out"
    result = fix_snapshot(store, snapshot, rules, out)

    assert (out / "students.csv").read_text().splitlines()[0] == (
        "School_id,Student_id,Student_number,Last_name,First_name,Grade,Student_zip,"
        "Contact_type,Contact_name,Contact_sis_id,ext.house"
    )
    assert changes_of(out) == [
        "students,,Student_number,renamed,Student_numbr,Student_number,1:rename-column,"
        "the export misspells it"
    ]
    assert result.before["by_code"] == {"extension-column": 1, "misspelled-column": 1}
    assert result.after["by_code"] == {"extension-column": 1}
    assert result.outcomes[1].notes == (
        "students.csv has no column 'Iep_status': nothing to rename",
    )


def test_rekey_changes_the_id_everywhere_it_is_referenced(maple, tmp_path):
    rules = rules_of(
        '[[rules]]\nop = "rekey"\nentity = "teachers"\nfrom = "T-2"\nto = "T-0002"\n'
        'reason = "HR re-issued Ola Nowak\'s ID"\n'
        '[[rules]]\nop = "rekey"\nentity = "students"\nfrom = "S-003"\nto = "S-0003"\n'
        'reason = "IDs are four digits"\n'
        '[[rules]]\nop = "rekey"\nentity = "sections"\nfrom = "SEC-404"\nto = "SEC-4"\n'
        'reason = "gone already"\n'
    )
    out = tmp_path / "out"
    result = fix_snapshot(maple.store, maple.night_2, rules, out)

    reason = "HR re-issued Ola Nowak's ID"
    assert changes_of(out) == [
        f"teachers,T-2/SCH-2,Teacher_id,changed,T-2,T-0002,1:rekey,{reason}",
        f"sections,SEC-2,Teacher_id,changed,T-2,T-0002,1:rekey,{reason}",
        "students,S-003,Student_id,changed,S-003,S-0003,2:rekey,IDs are four digits",
        "enrollments,SEC-2/S-003,Student_id,changed,S-003,S-0003,2:rekey,IDs are four digits",
    ]
    assert (out / "sections.csv").read_text().splitlines()[1:] == [
        "SCH-1,SEC-1,T-1,T-3,Reading,1",
        "SCH-2,SEC-2,T-0002,,Algebra,2",
    ]
    assert (out / "enrollments.csv").read_text().splitlines()[3] == "SCH-2,SEC-2,S-0003"
    assert result.outcomes[2].notes == ("no sections record or reference has ID SEC-404",)


def test_drop_by_finding_row_or_key_and_a_dropped_contact_keeps_its_student(store, tmp_path):
    night = tiny_night()
    night["students.csv"][4][8] = ""  # incident: S-003's contact has no name
    night["teachers.csv"].append(["SCH-1", "T-2", "Nowak", "Ola", "ola.nowak@maple.example"])
    night["teachers.csv"].append(["SCH-1", "T-1", "Parker", "Joe", "joe@maple.example"])  # reused
    snapshot = ingest(store, write_night(tmp_path / "n1", night), NIGHT_1)
    # A finding recorded by hand during a review (no row: matched by key).
    store.record_findings(
        snapshot, "review", [finding("duplicate-id", entity="teachers", key="T-2/SCH-1")]
    )
    rules = rules_of(
        '[[rules]]\nop = "drop"\nentity = "contacts"\ncode = "incomplete-contact"\n'
        'reason = "a contact without a name cannot be invited"\n'
        '[[rules]]\nop = "drop"\nentity = "teachers"\ncode = "duplicate-id"\n'
        'reason = "Clever keeps the first; T-1 was reused for a new hire"\n'
        '[[rules]]\nop = "drop"\nentity = "sections"\ncode = "section-unknown-teacher"\n'
        'reason = "none tonight"\n'
    )
    out = tmp_path / "out"
    result = fix_snapshot(store, snapshot, rules, out)

    assert result.before["by_code"]["incomplete-contact"] == 1
    reused = "Clever keeps the first; T-1 was reused for a new hire"
    assert changes_of(out) == [
        "contacts,S-003/sis_id:C-3,,dropped,,,1:drop,a contact without a name cannot be invited",
        f"teachers,T-2/SCH-1,,dropped,,,2:drop,{reused}",
        f"teachers,T-1/SCH-1,,dropped,,,2:drop,{reused}",
    ]
    assert (out / "students.csv").read_text().splitlines()[
        4
    ] == "SCH-2,S-003,00789,Okafor,Cy,11,,,,,"
    assert (out / "teachers.csv").read_text().splitlines()[1:] == [
        "SCH-1,T-1,Park,Jo,jo.park@maple.example",
        "SCH-2,T-2,Nowak,Ola,ola.nowak@maple.example",
        "SCH-1,T-3,Kowalski,Ewa,ewa.kowalski@maple.example",
    ]
    assert result.outcomes[2].notes == (
        f"no sections record carries section-unknown-teacher in snapshot {snapshot}",
    )
    assert (result.entity_rows["students"], result.entity_rows["contacts"]) == (3, 2)
    assert result.ok


def test_ledger_overrides_are_reapplied_with_their_reasons(store, broken, tmp_path):
    rules = rules_of('[[rules]]\nop = "ledger"\nreason = "a kept override"\n')
    empty = fix_snapshot(store, broken, rules, tmp_path / "a")
    assert empty.outcomes[0].notes == ("the ledger has no entries for maple",)

    # Entries as the checks room keeps them: S-003's grade is overridden on purpose.
    store.execute(
        "INSERT INTO ledger (district, entity, key, field, value, reason, created_at) VALUES "
        "('maple', 'students', 'S-003', 'Grade', '12', 'skipped a grade', now()), "
        "('maple', 'students', 'S-404', 'Grade', '1', 'left in June', now()), "
        "('cedar', 'students', 'S-003', 'Grade', '9', 'another district', now()), "
        "('maple', 'sections', 'SEC-2', 'Subject', 'math', 'the SIS leaves it blank', now()), "
        "('maple', 'students', 'S-002', 'Grade', 'K', 'reverted by the export', now())"
    )
    applied = fix_snapshot(store, broken, rules, tmp_path / "b")
    assert changes_of(tmp_path / "b") == [
        "students,S-003,Grade,changed,11,12,1:ledger,a kept override: skipped a grade",
        "sections,SEC-2,Subject,changed,,math,1:ledger,a kept override: the SIS leaves it blank",
    ]
    assert applied.outcomes[0].notes == ()
    assert (tmp_path / "b" / "sections.csv").read_text().splitlines()[0].endswith(",Subject")


def test_clever_form_quoting_newline_encoding_and_bom(store, tmp_path):
    folder = write_night(tmp_path / "n1", tiny_night())
    (folder / "schools.csv").write_bytes(  # incident: saved by Excel (BOM), CRLF, odd names
        "\ufeffSchool_id,School_name,School_number\r\n"
        'SCH-1,"Maple, Elementary",101\r\n'
        'SCH-2,"The ""Best"" High",102\r\n'
        "SCH-3,#1 Academy,103\r\n"
        'SCH-4,"Two\r\nLines", 104 \r\n'.encode()
    )
    (folder / "teachers.csv").write_bytes(  # incident: Windows-1252 from older tooling
        "School_id,Teacher_id,Last_name,First_name\r\nSCH-1,T-1,Muñoz,Zoë\r\n".encode("cp1252")
    )
    snapshot = ingest(store, folder, NIGHT_1)
    result = fix_snapshot(store, snapshot, rules_of(""), tmp_path / "out")

    assert (tmp_path / "out" / "schools.csv").read_bytes() == (
        b"School_id,School_name,School_number\r\n"
        b'SCH-1,"Maple, Elementary",101\r\n'
        b'SCH-2,"The ""Best"" High",102\r\n'
        b"SCH-3,#1 Academy,103\r\n"
        b'SCH-4,"Two\r\nLines", 104 \r\n'
    )
    assert (tmp_path / "out" / "teachers.csv").read_bytes() == (
        "School_id,Teacher_id,Last_name,First_name\r\nSCH-1,T-1,Muñoz,Zoë\r\n".encode()
    )
    assert [(f.name, f.newline) for f in result.files][:3] == [
        ("schools.csv", "CRLF"),
        ("students.csv", "LF"),
        ("teachers.csv", "CRLF"),
    ]
    fixed = set(result.before["by_code"]) - set(result.after["by_code"])
    assert fixed == {"bom-present", "encoding-not-utf8"}


def test_rows_the_parser_could_not_read_are_logged_as_dropped(store, tmp_path):
    night = tiny_night()
    night["enrollments.csv"].insert(2, ["SCH-2", "SEC-2", "S-002", "stray"])  # too many fields
    snapshot = ingest(store, write_night(tmp_path / "n1", night), NIGHT_1)
    (malformed,) = [f for f in store.findings(snapshot) if f.code == "malformed-row"]
    result = fix_snapshot(store, snapshot, rules_of(""), tmp_path / "out")

    assert changes_of(tmp_path / "out") == [
        f'enrollments,,,dropped,,,,"not parseable, so not in the corrected bundle: '
        f'{malformed.message}"'
    ]
    assert result.unparseable_rows == 1
    assert result.after["error"] == 0


def test_errors_that_remain_are_reported_not_hidden(store, tmp_path):
    snapshot = ingest(store, write_night(tmp_path / "n1", broken_enrollment_night()), NIGHT_1)
    result = fix_snapshot(store, snapshot, rules_of(""), tmp_path / "out")  # no rule for SEC-9

    assert not result.ok
    assert [(f.code, f.key, f.row) for f in result.remaining] == [
        ("enrollment-unknown-section", "SEC-9/S-001", 4)  # the row in the corrected file
    ]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())  # written anyway
    assert manifest["remaining_errors"] == [result.remaining[0].to_dict()]
    assert manifest["findings"]["after"]["error"] == 1


XLSX = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb5U0#\xf4\x00\x00\x00L\x02"


def test_a_night_whose_staff_file_is_a_spreadsheet_is_refused_and_nothing_is_lost(store, tmp_path):
    """staff.csv arrives as a spreadsheet saved under its name: no rule can correct it, and a
    corrected bundle without it would delete every staff record — refused, nothing written."""
    night = tiny_night()
    night["staff.csv"] = [
        ["School_id", "Staff_id", "Staff_email", "First_name", "Last_name"],
        ["SCH-1", "ST-1", "al.bo@maple.example", "Al", "Bo"],
    ]
    folder = write_night(tmp_path / "n1", night)
    (folder / "staff.csv").write_bytes(XLSX)
    snapshot = ingest(store, folder, NIGHT_1)
    before = [(f.code, f.value) for f in store.findings(snapshot)]

    with pytest.raises(FixError) as err:
        fix_snapshot(store, snapshot, rules_of(""), tmp_path / "out")

    assert str(err.value) == (
        f"staff.csv of snapshot {snapshot} is not text (unreadable-file): no rule can correct it "
        "— export it again as CSV (in Excel: Save As, CSV UTF-8) and ingest the night again; no "
        "corrected bundle was written"
    )
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.*"))  # no partial folder either
    assert [(f.code, f.value) for f in store.findings(snapshot)] == before
    assert (folder / "staff.csv").read_bytes() == XLSX


def test_a_big_deletion_predicts_a_hold_against_the_last_push(store, broken, tmp_path):
    record_push(
        store,
        PushRecord(
            target="clever-maple",
            host="sftp.example.org",
            port=22,
            remote_dir="/",
            bundle_dir="/b",
            bundle_sha256="f" * 64,
            started_at=NIGHT_1,
            finished_at=NIGHT_1,
            outcome="pushed",
            files=(PushedFile("enrollments.csv", 10, "e" * 64),),
            district="maple",
            entity_rows={"enrollments": 40, "students": 3},
        ),
    )
    rules = parse_rules(BROKEN_ENROLLMENT_RULES, name="r.toml")
    hold = fix_snapshot(store, broken, rules, tmp_path / "out").hold

    assert (hold.predicted, hold.method) == (True, "row-counts")
    assert hold.baseline == {
        "kind": "push",
        "push": 1,
        "target": "clever-maple",
        "bundle_sha256": "f" * 64,
        "pushed_at": "2026-09-01T02:00:00",
    }
    assert hold.to_dict()["reasons"] == [
        {
            "entity": "enrollments",
            "kind": "deletion",
            "count": 37,
            "total": 40,
            "ratio": 0.925,
            "threshold": 0.1,
            "expected": False,
        }
    ]
    assert hold.note == (
        "the pushed files are not in the store, so deletions are estimated from rows per "
        "entity: deletions offset by additions are missed and updates are not measured"
    )


def test_a_hold_is_predicted_by_diff_against_the_previous_night(maple, tmp_path):
    rules = rules_of(
        '[[rules]]\nop = "set"\nentity = "students"\nfield = "Grade"\nvalue = "12"\n'
        'reason = "everyone graduates"\n'
        '[[rules]]\nop = "drop"\nentity = "enrollments"\ncode = "enrollment-unknown-section"\n'
        'reason = "SEC-9 is gone"\n'
    )
    before = maple.store.snapshots("maple")
    hold = fix_snapshot(maple.store, maple.night_2, rules, tmp_path / "out", force=True).hold

    assert (hold.predicted, hold.method) == (True, "diff")
    assert hold.baseline == {"kind": "snapshot", "snapshot": 1, "night": 1}
    assert hold.to_dict()["reasons"] == [
        {
            "entity": "students",
            "kind": "update",
            "count": 3,
            "total": 3,
            "ratio": 1.0,
            "threshold": 0.75,
            "expected": False,
        }
    ]
    assert maple.store.snapshots("maple") == before  # the trial ingest was rolled back


def test_a_fix_after_a_night_clever_did_not_process_predicts_against_the_live_state(tmp_path):
    """Night 2 lost students.csv (not processed: Clever still serves night 1); night 3 drops
    S-003. Clever holds night 3 (a third of the students deleted, against night 1), and so it
    holds the corrected night 3: the fix compared it with night 2's 0 students and said no hold."""
    missing_students = tiny_night()
    del missing_students["students.csv"]
    leaver = tiny_night()
    del leaver["students.csv"][4]  # S-003
    del leaver["enrollments.csv"][3]
    with Store.open(tmp_path / "s.duckdb") as store:
        ingest(store, write_night(tmp_path / "n1", tiny_night()), NIGHT_1)
        ingest(store, write_night(tmp_path / "n2", missing_students), NIGHT_2)
        night_3 = ingest(store, write_night(tmp_path / "n3", leaver), datetime(2026, 9, 3, 2))
        rules = rules_of(
            '[[rules]]\nop = "map"\nentity = "students"\nfield = "Grade"\n'
            'values = { K = "Kindergarten" }\nreason = "Clever spells it Kindergarten"\n'
        )
        hold = fix_snapshot(store, night_3, rules, tmp_path / "out").hold

    assert (hold.predicted, hold.method) == (True, "diff")
    assert hold.baseline == {"kind": "snapshot", "snapshot": 1, "night": 1}
    reasons = hold.to_dict()["reasons"]
    assert [(r["entity"], r["kind"], r["count"], r["total"]) for r in reasons] == [
        ("students", "deletion", 1, 3),
        ("contacts", "deletion", 1, 3),  # Ngozi Okafor, S-003's contact
        ("enrollments", "deletion", 1, 3),
    ]


def test_output_is_atomic(maple, tmp_path):
    rules = parse_rules(BROKEN_ENROLLMENT_RULES, name="r.toml")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(FixError) as err:
        fix_snapshot(maple.store, maple.night_2, rules, busy)
    assert str(err.value) == f"{busy} exists and is not an empty folder: choose a new --out folder"

    def interrupt(message: str) -> None:
        if message == "re-checking the corrected bundle":  # files written, not yet in place
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fix_snapshot(maple.store, maple.night_2, rules, tmp_path / "out", progress=interrupt)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"]  # no out, no partial folder

    empty = tmp_path / "empty"
    empty.mkdir()
    fix_snapshot(maple.store, maple.night_2, rules, empty)  # an empty folder is fine
    assert (empty / "manifest.json").is_file()


def test_push_trusts_a_manifest_only_while_the_files_match_it(maple, tmp_path):
    out = tmp_path / "out"
    rules = parse_rules(BROKEN_ENROLLMENT_RULES, name="maple.rules.toml")
    fix_snapshot(maple.store, maple.night_2, rules, out)
    rows = {"schools": 2, "students": 3, "contacts": 3, "teachers": 3, "sections": 2,
            "enrollments": 3, "staff": 0, "admins": 0}  # fmt: skip
    kept_hold = HoldPrediction(False, "diff", {"kind": "snapshot", "snapshot": 1, "night": 1}, ())
    assert bundle_verdict(out) == Verdict("manifest", {}, "maple", rows, hold=kept_hold)

    with (out / "enrollments.csv").open("a") as fh:  # incident: edited by hand after fix
        fh.write("SCH-1,SEC-9,S-001\n")
    assert bundle_verdict(out, district="maple") == Verdict(
        "checked",
        {"enrollment-unknown-section": 1},
        "maple",
        {**rows, "enrollments": 4},
        "enrollments.csv changed since manifest.json was written: the bundle was checked",
    )


def test_push_refuses_a_district_other_than_the_manifests(maple, tmp_path):
    """`push fixed/ --district oak` of maple's corrected bundle: the dry run showed maple's
    verdict and hold, and the push was recorded as oak's."""
    out = tmp_path / "out"
    fix_snapshot(maple.store, maple.night_2, parse_rules(BROKEN_ENROLLMENT_RULES, name="r"), out)
    with pytest.raises(ConfigError) as err:
        bundle_verdict(out, district="oak")
    assert str(err.value) == (
        f"{out} is maple's corrected bundle (manifest.json), not oak's: push it without "
        "--district, or build oak's with rosterlab fix"
    )
    assert bundle_verdict(out, district="maple").district == "maple"


def test_fix_command_says_what_it_did_and_exits_1_while_errors_remain(capsys, tmp_path):
    store = str(tmp_path / "store.duckdb")
    write_night(tmp_path / "n1", tiny_night())
    night = broken_enrollment_night()
    del night["sections.csv"]  # incident: sections.csv not uploaded either
    write_night(tmp_path / "n2", night, when=datetime(2026, 9, 2, 2, tzinfo=UTC))
    for folder in ("n1", "n2"):
        assert (
            main(["--store", store, "ingest", str(tmp_path / folder), "--district", "maple"]) == 0
        )
    (tmp_path / "rules.toml").write_bytes(BROKEN_ENROLLMENT_RULES)
    capsys.readouterr()
    out = tmp_path / "out"
    fix = ["--store", store, "fix", "--district", "maple", "--rules", str(tmp_path / "rules.toml")]

    code = main([*fix, "--out", str(out)])
    text, err = capsys.readouterr()
    assert code == 1
    assert text.splitlines() == [
        f"maple snapshot 2 (night 2, 2026-09-02 02:00) + rules.toml → {out}",
        "  rule 1 drop (line 3): 0 changes — SEC-9 is not in sections.csv: Clever rejects the "
        "whole upload",
        "      note: no enrollments record carries enrollment-unknown-section in snapshot 2",
        "  rule 2 map (line 9): 1 change — Clever's grade vocabulary spells it Kindergarten",
        "  files: schools.csv 2 · students.csv 4 · teachers.csv 3 · enrollments.csv 4",
        "  changes.csv: 1 row",
        "  findings before: 1 error, 1 warning, 1 info",
        "  findings after:  1 error, 0 warnings, 1 info",
        # sections.csv missing: Clever would not process the bundle, so nothing is deleted
        "  hold: not predicted against snapshot 1 (night 1), by diff",
        "  errors remain: Clever would not process this bundle, or skip or mislink records:",
        "    error   missing-file ×1: sections.csv is missing from the bundle; Clever will not "
        "process this upload.",
        "            hint: Upload all five required files together: schools, students, teachers, "
        "sections, enrollments.",
    ]
    assert err == (
        f"rosterlab: the corrected bundle in {out} still has 1 error finding(s) (listed above): "
        "add rules for them and run fix again\n"
    )

    # Re-running the same fix into its finished folder changes nothing (a retry is safe) ...
    assert main([*fix, "--out", str(out)]) == 1
    assert capsys.readouterr() == (text, err)
    (out / "notes.txt").write_text("mine")  # ... but a folder holding anything else is kept
    assert main([*fix, "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"rosterlab: {out} holds another corrected bundle: choose a new --out folder or remove it\n"
    )
    assert (out / "notes.txt").read_text() == "mine"
    (tmp_path / "rules.toml").write_text('[[rules]]\nop = "drop"\nreason = "x"\n')
    assert main([*fix, "--out", str(tmp_path / "other")]) == 2
    assert capsys.readouterr().err == (
        "rosterlab: rules.toml line 1, rule 1 (drop): op drop needs entity: add entity = ...\n"
    )
    assert not (tmp_path / "other").exists()


def test_the_bundle_writer_quotes_minimally_with_the_chosen_newline(tmp_path):
    path = tmp_path / "schools.csv"
    write_csv(
        path,
        ["School_id", "School_name", "ext.note"],
        [["SCH-1", "Maple, Elementary", None], ["SCH-2", 'The "Best"\nHigh', "#1 Zoë"]],
        newline_chars("CRLF"),
    )
    assert path.read_bytes() == (
        b"School_id,School_name,ext.note\r\n"
        b'SCH-1,"Maple, Elementary",\r\n'
        b'SCH-2,"The ""Best""\nHigh",#1 Zo\xc3\xab\r\n'
    )
    assert (newline_chars("LF"), newline_chars("mixed"), newline_chars(None, "CRLF")) == (
        "\n",
        "\n",
        "\r\n",
    )


def test_changes_csv_neutralises_formulas_and_the_bundle_keeps_them_exact(maple, tmp_path):
    """Incident: a value and a reason a spreadsheet would run (OWASP CSV injection)."""
    rules = rules_of(
        '[[rules]]\nop = "set"\nentity = "students"\nfield = "Student_zip"\nkey = "S-003"\n'
        'value = "=HYPERLINK(\\"http://evil.example\\",\\"open\\")"\n'
        'reason = "@SUM(A1:A9)"\n'
        '[[rules]]\nop = "set"\nentity = "students"\nfield = "Grade"\nkey = "S-001"\n'
        'value = "-2+3"\nreason = "+1 from the office"\n'
    )
    out = tmp_path / "out"
    fix_snapshot(maple.store, maple.night_2, rules, out, force=True)  # the values are valid

    assert changes_of(out) == [
        "students,S-003,Student_zip,changed,,"
        '"\'=HYPERLINK(""http://evil.example"",""open"")",1:set,\'@SUM(A1:A9)',
        "students,S-001,Grade,changed,3,'-2+3,2:set,'+1 from the office",
    ]
    students = (out / "students.csv").read_text().splitlines()
    assert [line for line in students if "S-003" in line] == [
        'SCH-2,S-003,00789,Okafor,Cy,11,"=HYPERLINK(""http://evil.example"",""open"")",'
        "Primary,Ngozi Okafor,C-3,"
    ]
    assert [line.split(",")[5] for line in students if "S-001" in line] == ["-2+3", "-2+3"]
