"""Corrections rules files: every op parses to an exact rule; every mistake names rule and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from rosterlab.errors import RulesError
from rosterlab.fix import load_rules, parse_rules
from rosterlab.fix.rules import (
    DropRule,
    FillRule,
    LedgerRule,
    MapRule,
    RekeyRule,
    RenameColumnRule,
    SetRule,
    rule_lines,
)

EVERY_OP = b"""# maple's corrections
district = "maple"

[[rules]]
op = "drop"
entity = "enrollments"
code = "enrollment-unknown-section"
reason = "SEC-9 was deleted in the SIS"

[[rules]]
op = "map"
entity = "students"
field = "Grade"
values = { K = "Kindergarten", "09" = "9" }
reason = "Clever spells grades its own way"

[[rules]]
op = "set"
entity = "students"
field = "Student_zip"
keys = ["S-001", "S-002"]
where = { School_id = "SCH-1", Student_zip = "" }
value = "02134"
reason = '''
    zip confirmed
    by the office'''

[[rules]]  # a trailing comment
op = "fill"
entity = "teachers"
field = "Title"
value = "Teacher"
reason = "Title is blank for new hires"

[[rules]]
op = "ledger"
reason = "keep the district's overrides"

[[rules]]
op = "rename-column"
file = "students.csv"
from = "Iep_status"
to = "IEP_status"
reason = "the SIS export misspells it"

[[rules]]
op = "rekey"
entity = "teachers"
from = "T-9104"
to = "T-104"
reason = "HR re-issued the ID by mistake"
"""


def test_every_op_parses_into_an_exact_rule():
    rules = parse_rules(EVERY_OP, name="maple.rules.toml", district="maple")

    assert rules.name == "maple.rules.toml"
    assert rules.district == "maple"
    assert len(rules.sha256) == 64
    assert rules.rules == (
        DropRule(
            1,
            4,
            "SEC-9 was deleted in the SIS",
            entity="enrollments",
            code="enrollment-unknown-section",
        ),
        MapRule(
            2,
            10,
            "Clever spells grades its own way",
            entity="students",
            field="Grade",
            values=(("K", "Kindergarten"), ("09", "9")),
        ),
        SetRule(
            3,
            17,
            "zip confirmed by the office",
            entity="students",
            field="Student_zip",
            value="02134",
            keys=("S-001", "S-002"),
            where=(("School_id", "SCH-1"), ("Student_zip", None)),
        ),
        FillRule(
            4,
            28,
            "Title is blank for new hires",
            entity="teachers",
            field="Title",
            value="Teacher",
        ),
        LedgerRule(5, 35, "keep the district's overrides"),
        RenameColumnRule(
            6,
            39,
            "the SIS export misspells it",
            file="students.csv",
            old="Iep_status",
            new="IEP_status",
        ),
        RekeyRule(
            7,
            46,
            "HR re-issued the ID by mistake",
            entity="teachers",
            old="T-9104",
            new="T-104",
        ),
    )
    assert [r.op for r in rules.rules] == [
        "drop",
        "map",
        "set",
        "fill",
        "ledger",
        "rename-column",
        "rekey",
    ]
    assert [(r.subject, r.summary) for r in rules.rules] == [
        (("enrollments", None), "code=enrollment-unknown-section"),
        (("students", "Grade"), "values K→Kindergarten, 09→9"),
        (
            ("students", "Student_zip"),
            "value=02134; keys S-001, S-002; where School_id=SCH-1, Student_zip=None",
        ),
        (("teachers", "Title"), "value=Teacher"),
        ((None, None), ""),
        (("students.csv", None), "old=Iep_status; new=IEP_status"),
        (("teachers", None), "old=T-9104; new=T-104"),
    ]
    assert [r.label for r in rules.rules][:2] == ["1:drop", "2:map"]


def test_rule_lines_skip_headers_inside_multiline_strings():
    text = 'x = """\n[[rules]]\n"""\n[[rules]]\nop = "ledger"\n'
    assert rule_lines(text) == [4]


def test_load_rules_reads_a_file_and_names_it(tmp_path: Path):
    path = tmp_path / "maple.rules.toml"
    path.write_bytes(EVERY_OP)
    assert len(load_rules(path).rules) == 7
    with pytest.raises(RulesError) as err:
        load_rules(tmp_path / "nope.toml")
    assert str(err.value) == (
        f"cannot read rules file {tmp_path / 'nope.toml'} (No such file or directory): "
        "check --rules"
    )


def rule_error(body: str, prelude: str = "") -> str:
    """The error for a rules file whose third line starts the rule ``body``."""
    text = f"# rules\n{prelude}[[rules]]\n{body}"
    with pytest.raises(RulesError) as err:
        parse_rules(text.encode(), name="r.toml")
    return str(err.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            'op = "delete"\nreason = "x"\n',
            "r.toml line 2, rule 1: unknown op 'delete': use one of drop, map, set, fill, "
            "ledger, rename-column, rekey",
        ),
        (
            'op = "rekye"\nreason = "x"\n',
            "r.toml line 2, rule 1: unknown op 'rekye': did you mean 'rekey'?",
        ),
        (
            'op = "map"\nentity = "student"\nfield = "Grade"\nvalues = {K = "Kindergarten"}\n'
            'reason = "x"\n',
            "r.toml line 2, rule 1 (map): unknown entity 'student': did you mean 'students'?",
        ),
        (
            'op = "map"\nentity = "students"\nfield = "Grde"\nvalues = {K = "Kindergarten"}\n'
            'reason = "x"\n',
            "r.toml line 2, rule 1 (map): students has no field 'Grde': did you mean 'Grade'?",
        ),
        (
            'op = "set"\nentity = "enrollments"\nfield = "Zzz"\nvalue = "1"\nreason = "x"\n',
            "r.toml line 2, rule 1 (set): enrollments has no field 'Zzz': its fields are "
            "School_id, Section_id, Student_id",
        ),
        (
            'op = "set"\nentity = "students"\nfield = "Contact_name"\nvalue = "A"\nreason = "x"\n',
            "r.toml line 2, rule 1 (set): Contact_name belongs to contacts, not students: use "
            "entity = 'contacts'",
        ),
        (
            'op = "set"\nentity = "students"\nfield = "Grade"\nvalue = "5"\n'
            'where = { Grdae = "4" }\nreason = "x"\n',
            "r.toml line 2, rule 1 (set): students has no where field 'Grdae': did you mean "
            "'Grade'?",
        ),
        (
            'op = "set"\nentity = "enrollments"\nfield = "ext.room"\nvalue = "5"\nreason = "x"\n',
            "r.toml line 2, rule 1 (set): enrollments has no ext.* columns, so field "
            "'ext.room' cannot be used",
        ),
        (
            'op = "drop"\nentity = "enrollments"\ncode = "enrollment-unknown-sectoin"\n'
            'reason = "x"\n',
            "r.toml line 2, rule 1 (drop): unknown finding code 'enrollment-unknown-sectoin': "
            "did you mean 'enrollment-unknown-section'?",
        ),
        (
            'op = "drop"\nentity = "enrollments"\ncode = "zzz"\nreason = "x"\n',
            "r.toml line 2, rule 1 (drop): unknown finding code 'zzz': the codes are listed in "
            "docs/findings.md",
        ),
        (
            'op = "drop"\nentity = "enrollments"\ncode = "duplicate-id"\n',
            'r.toml line 2, rule 1 (drop): every rule needs a reason: add reason = "why this '
            'is right"',
        ),
        (
            'op = "drop"\nentity = "enrollments"\nreason = "x"\n',
            "r.toml line 2, rule 1 (drop): op drop needs code: add code = ...",
        ),
        (
            'op = "ledger"\nentity = "students"\nreason = "x"\n',
            "r.toml line 2, rule 1 (ledger): unknown key 'entity' for op ledger: allowed keys "
            "are op, reason, when",
        ),
        (
            'op = "rename-column"\nfile = "Students.csv"\nfrom = "a"\nto = "IEP_status"\n'
            'reason = "x"\n',
            "r.toml line 2, rule 1 (rename-column): unknown file 'Students.csv': did you mean "
            "'students.csv'?",
        ),
        (
            'op = "rename-column"\nfile = "enrollments.csv"\nfrom = "a"\nto = "Zzz"\n'
            'reason = "x"\n',
            "r.toml line 2, rule 1 (rename-column): enrollments.csv has no column 'Zzz' to "
            "rename to: its columns are School_id, Section_id, Student_id",
        ),
        (
            'op = "rekey"\nentity = "enrollments"\nfrom = "a"\nto = "b"\nreason = "x"\n',
            "r.toml line 2, rule 1 (rekey): enrollments has no ID of its own to re-key: re-key "
            "the record it refers to",
        ),
        (
            'op = "rekey"\nentity = "students"\nfrom = "S-1"\nto = "S-1"\nreason = "x"\n',
            "r.toml line 2, rule 1 (rekey): from and to must be two different, non-empty IDs",
        ),
        (
            'op = "fill"\nentity = "students"\nfield = "Grade"\nvalue = ""\nreason = "x"\n',
            'r.toml line 2, rule 1 (fill): fill writes blank fields, so value cannot be "": '
            "give a value",
        ),
        (
            'op = "set"\nentity = "students"\nfield = "Grade"\nvalue = "5"\nkey = "S-1"\n'
            'keys = ["S-2"]\nreason = "x"\n',
            "r.toml line 2, rule 1 (set): give key or keys, not both",
        ),
        (
            'op = "map"\nentity = "students"\nfield = "Grade"\nvalues = {K = 1}\nreason = "x"\n',
            "r.toml line 2, rule 1 (map): values: the value for 'K' must be a string",
        ),
    ],
)
def test_a_bad_rule_is_named_with_its_line(body: str, message: str):
    assert rule_error(body) == message


def test_the_line_is_that_of_the_failing_rule():
    good = '[[rules]]\nop = "ledger"\nreason = "keep overrides"\n\n'
    text = f'# rules\n{good}{good}[[rules]]\nop = "drop"\nentity = "x"\ncode = "a"\n'
    with pytest.raises(RulesError) as err:
        parse_rules((text + 'reason = "x"\n').encode(), name="r.toml")
    assert str(err.value) == (
        "r.toml line 10, rule 3 (drop): unknown entity 'x': use one of schools, students, "
        "contacts, teachers, sections, enrollments, staff, admins"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "rules = 3\n",
            "r.toml: write every rule as its own [[rules]] table (found 0 [[rules]] header(s))",
        ),
        (
            'rules = [{op = "ledger", reason = "x"}]\n',
            "r.toml: write every rule as its own [[rules]] table (found 0 [[rules]] header(s))",
        ),
        (
            "[[rules]\n",
            "r.toml is not valid TOML (Expected ']]' at the end of an array declaration "
            "(at line 1, column 8)): fix the file",
        ),
        (
            'distrct = "maple"\n',
            "r.toml: unknown top-level key(s) distrct: only district and "
            "[[rules]] tables belong there",
        ),
        (
            'district = "cedar"\n',
            "r.toml is written for district cedar, not maple: pick that district's rules file",
        ),
    ],
)
def test_a_bad_file_is_named(text: str, message: str):
    with pytest.raises(RulesError) as err:
        parse_rules(text.encode(), name="r.toml", district="maple")
    assert str(err.value) == message
