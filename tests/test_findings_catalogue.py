"""The findings catalogue is the public contract: every required code exists, docs are generated."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from rosterlab import spec
from rosterlab.spec import CATALOGUE, finding
from rosterlab.spec.docs import render_catalogue
from rosterlab.spec.findings import as_served

ROOT = Path(__file__).resolve().parent.parent

# Every code ../shared/spec/findings.md says each version keeps, with its severity.
REQUIRED = {
    "missing-file": "error",
    "misnamed-file": "error",
    "unexpected-file": "info",
    "deprecated-file": "warning",
    "empty-file": "error",
    "encoding-not-utf8": "error",
    "bom-present": "warning",
    "malformed-row": "error",
    "blank-row": "warning",
    "missing-column": "error",
    "misspelled-column": "warning",
    "unknown-column": "warning",
    "duplicate-column": "error",
    "extension-column": "info",
    "missing-value": "error",
    "duplicate-id": "error",
    "invalid-value": "warning",
    "invalid-date": "warning",
    "invalid-email": "warning",
    "excel-damage": "warning",
    "padded-id": "warning",
    "too-many-contacts": "info",  # clever-sftp.md §3: "a 5-contact limit is ours: info"
    "incomplete-contact": "warning",
    "unknown-school": "error",
    "enrollment-unknown-student": "error",
    "enrollment-unknown-section": "error",
    "enrollment-school-mismatch": "warning",
    "duplicate-enrollment": "warning",
    "section-unknown-teacher": "error",
    "section-without-students": "warning",
    "student-without-enrollments": "info",
    "teacher-without-sections": "info",
    "school-id-is-number": "error",
    "shared-staff-id": "error",
    "hold-mass-deletion": "warning",
    "hold-mass-update": "warning",
    "term-rollover": "info",
    "id-rekeyed": "warning",
    "column-dropped": "warning",
    "column-added": "info",
    "column-emptied": "warning",
    "format-shift": "warning",
    "override-reverted": "warning",
}


def test_every_contract_code_is_in_the_catalogue_with_its_severity():
    assert {code: CATALOGUE[code].severity for code in REQUIRED} == REQUIRED


def test_codes_are_kebab_case():
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", code) for code in CATALOGUE)


def test_docs_findings_md_is_generated_from_the_catalogue():
    committed = (ROOT / "docs" / "findings.md").read_text()
    assert committed == render_catalogue(), "run `make docs` to regenerate docs/findings.md"


def test_hints_are_worded_for_the_sync_type():
    sftp = finding("column-dropped", field="Student_email", file="students.csv", sync_type="sftp")
    managed = finding(
        "column-dropped", field="Student_email", file="students.csv", sync_type="clever-managed"
    )
    vendor = finding(
        "column-dropped", field="Student_email", file="students.csv", sync_type="sis-managed"
    )
    assert sftp.hint.startswith("Add Student_email back to the export that builds students.csv")
    assert managed.hint.startswith("Ask Clever Support to include Student_email")
    assert vendor.hint.startswith("Ask your SIS vendor to include Student_email")
    assert sftp.message == "students.csv no longer sends Student_email."


def test_every_template_formats_without_leftover_fields():
    context = {
        "entity": "students",
        "key": "S-1",
        "field": "Grade",
        "value": "K",
        "row": 3,
        "cause": "sections/SEC-1",
        "file": "students.csv",
        "expected": "students.csv",
        "detail": "too many fields",
        "printed": "the row count sqlcmd prints after the rows",
        "switch": "SET NOCOUNT ON",
        "suggestion": "Kindergarten",
        "contacts": 6,
        "sections": 4,
        "school_id": "SCH-1",
        "ratio": 0.5,
        "threshold": 0.1,
        "old_key": "T-1",
        "matched_on": "Teacher_email",
        "restored_from": 5,
        "before": 0.9,
        "after": 0.1,
        "override": "X",
        "remedy": "apps never receive Password from Clever",
        "uploaded": "12",
        "served": "11",
        "old_id": "5f0c6a1e0000000000000001",
        "other": "S-2",
        "limit": 512,
        "line": 4,
        "column": "Last_name",
        "text": "é",
        "unconfirmed": ": its consequence is unconfirmed",
        "carried": " with students S-1",
        "origin": " of schools SCH-1",
        "holder": "schools SCH-1",
        "reason": "students deletion",
        "live": "snapshot 1's state",
        "compare": "reconcile --upload 1 compares what it serves",
        "what": "students Grade",
        "live_snapshot": "1",
    }
    for code in CATALOGUE:
        made = finding(code, **context)
        assert "{" not in made.message + made.hint, code
        # the wording on a reference Clever does not follow (an enrollment's School_id)
        unfollowed = finding(code, **{**context, "entity": "enrollments", "field": "School_id"})
        assert "{" not in unfollowed.message, code
        # the wording of one finding for several records (codes aggregated over a column)
        many = finding(code, **context, count=3, rows=4, sample_keys=("S-1", "S-2", "S-3"))
        assert "{" not in many.message + many.hint, code
        if CATALOGUE[code].many:
            assert "3" in many.message and "S-1, S-2, S-3" in many.message, code


def test_every_finding_type_says_what_clever_does():
    assert all(entry.clever for entry in CATALOGUE.values())
    assert CATALOGUE["missing-file"].clever == "upload not processed (v2.1.1)"
    assert CATALOGUE["missing-value"].clever == "row skipped (v2.1.1)"
    assert CATALOGUE["missing-column"].clever == "every row of the file skipped (v2.1.1)"
    unconfirmed = "consequence unconfirmed: Clever does not say"
    for code in ("encoding-not-utf8", "malformed-row", "section-unknown-teacher"):
        assert CATALOGUE[code].clever == unconfirmed, code
    # Unconfirmed too, but a row Clever cannot serve as sent: the outcome says it may be skipped.
    may_skip = unconfirmed + "; the rows may be skipped"
    for code in ("unknown-school", "school-id-is-number", "duplicate-id",
                 "enrollment-unknown-student", "enrollment-unknown-section"):  # fmt: skip
        assert CATALOGUE[code].clever == may_skip, code


def test_each_root_cause_kind_is_led_by_catalogued_codes_no_other_kind_claims():
    leading = [code for kind in spec.ROOT_CAUSES for code in kind.codes]
    assert sorted(set(leading)) == sorted(leading)
    assert [code for code in leading if code not in spec.CATALOGUE] == []
    kinds = [kind.kind for kind in spec.ROOT_CAUSES]
    assert sorted(set(kinds)) == sorted(kinds)


def test_a_group_is_of_the_first_kind_leading_one_of_its_codes():
    # School_number as School_id also leaves unknown schools and re-keys: one kind, its hint
    kind = spec.root_cause(["unknown-school", "id-rekeyed", "school-id-is-number"])
    assert kind is not None and kind.kind == "school-number-as-id"
    assert kind.hint_for("schools/00054").startswith(
        "One export mistake breaks every record listed: 00054 is a school's School_number"
    )
    assert spec.root_cause(["id-rekeyed"]) is None  # a re-key alone has no group hint
    repeated = spec.root_cause(["duplicate-id"])
    assert repeated is not None and repeated.hint_for("students/S-1") == (
        "S-1 is on more than one row of students.csv: keep one row per record in the export "
        "(Clever does not say which row it keeps)."
    )


def test_served_wordings_format_from_the_finding_alone_and_keep_its_record():
    """A pull's finding is re-worded from its own fields (``as_served``): no template field may
    be left over, and the code, place and counts stay as found."""
    served = [code for code, kind in CATALOGUE.items() if kind.served]
    assert served == ["missing-value", "section-without-students"]
    for code in served:
        assert CATALOGUE[code].served_hint and not CATALOGUE[code].many, code
        found = finding(code, entity="sections", key="SEC-1", field="Teacher_id", row=3)
        worded = as_served(found)
        assert "{" not in worded.message + worded.hint, code
        assert (worded.message, worded.hint) != (found.message, found.hint), code
        assert replace(worded, message=found.message, hint=found.hint) == found, code
    upload_only = finding("duplicate-id", entity="students", key="S-1")
    assert as_served(upload_only) is upload_only
