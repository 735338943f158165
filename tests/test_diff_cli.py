"""``rosterlab diff`` and ``rosterlab timeline``: exact text and JSON, HTML safety, redaction."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from tests.cli_run import run
from tests.test_diff import ingest_history
from tests.tiny import tiny_night


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """maple, night 2: S-002 to grade 11; T-1 re-numbered T-9001; a new student whose last name
    is markup and whose contact has no sis id."""
    night = tiny_night()
    night["students.csv"][3][5] = "11"
    night["teachers.csv"][1][1] = "T-9001"
    night["sections.csv"][1][2] = "T-9001"
    night["students.csv"].append(
        ["SCH-1", "S-004", "00999", "<b>Ng</b>", "Di", "4", "", "Parent", "Al Ng", "", "green"]
    )
    return str(ingest_history(tmp_path_factory.mktemp("maple"), tiny_night(), night))


SUMMARY = [
    "maple: snapshot 1 (night 1, 2026-09-01 02:00) → snapshot 2 (night 2, 2026-09-02 02:00)",
    "entity       added  removed  changed  unchanged",
    "schools          0        0        0          2",
    "students         1        0        1          2",
    "contacts         1        0        0          3",
    "teachers         1        1        0          2",
    "sections         0        0        1          1",
    "enrollments      0        0        0          3",
    "staff            0        0        0          0",
    "changed fields:",
    "  students.Grade  1",
    "  sections.Teacher_id  1",
    "re-keyed:",
    "  teachers T-1/SCH-1 → T-9001/SCH-1 (matched on Teacher_email)",
    "hold: predicted",
    "  teachers: 33% deleted (1 of 3; threshold 10%)",
]


def test_diff_text(capsys, store):
    code, out, err = run(capsys, "--store", store, "diff", "--district", "maple")
    assert (code, err) == (0, "")
    assert out.splitlines() == SUMMARY


def test_diff_text_with_details_and_redaction(capsys, store):
    code, out, _ = run(capsys, "--store", store, "diff", "--district", "maple", "--details")
    assert code == 0
    assert out.splitlines()[len(SUMMARY) :] == [
        "changes:",
        "  students S-002 changed: Grade '10' → '11'",
        "  students S-004 added: School_id='SCH-1', Student_id='S-004', Student_number='00999', "
        "Last_name='<b>Ng</b>', First_name='Di', Grade='4', ext.house='green'",
        "  contacts S-004/partial:Al Ng|Parent|| added: Student_id='S-004', "
        "Contact_type='Parent', Contact_name='Al Ng'",
        "  teachers T-1/SCH-1 removed: School_id='SCH-1', Teacher_id='T-1', Last_name='Park', "
        "First_name='Jo', Teacher_email='jo.park@maple.example'",
        "  teachers T-9001/SCH-1 added: School_id='SCH-1', Teacher_id='T-9001', "
        "Last_name='Park', First_name='Jo', Teacher_email='jo.park@maple.example'",
        "  sections SEC-1 changed: Teacher_id 'T-1' → 'T-9001'",
    ]
    code, out, _ = run(
        capsys, "--store", store, "diff", "--district", "maple", "--details", "--redact"
    )
    assert out.splitlines()[len(SUMMARY) + 2 : len(SUMMARY) + 4] == [
        "  students S-004 added: School_id='SCH-1', Student_id='S-004', Student_number='00999', "
        "Last_name='•••', First_name='•••', Grade='4', ext.house='•••'",
        "  contacts S-004/partial:••• added: Student_id='S-004', Contact_type='Parent', "
        "Contact_name='•••'",
    ]


def test_diff_json_matches_the_contract(capsys, store):
    code, out, _ = run(
        capsys, "--store", store, "diff", "--district", "maple", "--format", "json", "--details"
    )
    payload = json.loads(out)
    quiet = {"added": 0, "removed": 0, "changed": 0, "fields": {}, "duplicates": []}

    assert code == 0
    assert {k: v for k, v in payload.items() if k not in ("entities", "changes")} == {
        "district": "maple",
        "from": 1,
        "to": 2,
        "from_seq": 1,
        "to_seq": 2,
        "from_taken_at": "2026-09-01T02:00:00",
        "to_taken_at": "2026-09-02T02:00:00",
        "outcome": {"to": "processed", "reason": "", "from": "processed", "from_reason": ""},
        "rekeys": [
            {
                "entity": "teachers",
                "old_key": "T-1/SCH-1",
                "new_key": "T-9001/SCH-1",
                "matched_on": ["Teacher_email"],
            }
        ],
        "hold": {
            "predicted": True,
            "reasons": [
                {
                    "entity": "teachers",
                    "kind": "deletion",
                    "ratio": 0.3333,
                    "threshold": 0.1,
                    "count": 1,
                    "total": 3,
                    "expected": False,
                }
            ],
        },
        "term_rollovers": [],
    }
    assert payload["entities"] == {
        "schools": {**quiet, "unchanged": 2},
        "students": {**quiet, "added": 1, "changed": 1, "unchanged": 2, "fields": {"Grade": 1}},
        "contacts": {**quiet, "added": 1, "unchanged": 3},
        "teachers": {**quiet, "added": 1, "removed": 1, "unchanged": 2},
        "sections": {**quiet, "changed": 1, "unchanged": 1, "fields": {"Teacher_id": 1}},
        "enrollments": {**quiet, "unchanged": 3},
        "staff": {**quiet, "unchanged": 0},
    }
    assert payload["changes"][0] == {
        "entity": "students",
        "key": "S-002",
        "change": "changed",
        "field": "Grade",
        "old": "10",
        "new": "11",
    }
    assert payload["changes"][-1] == {
        "entity": "sections",
        "key": "SEC-1",
        "change": "changed",
        "field": "Teacher_id",
        "old": "T-1",
        "new": "T-9001",
    }
    assert len(payload["changes"]) == 1 + 7 + 3 + 5 + 5 + 1


def test_diff_json_has_changes_only_with_details(capsys, store):
    _, out, _ = run(capsys, "--store", store, "diff", "--district", "maple", "--format", "json")
    assert "changes" not in json.loads(out)


class _Page(HTMLParser):
    """Collects tags, attributes and text of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data):
        self.text.append(data)


def test_diff_html_is_one_safe_file(capsys, store, tmp_path):
    page = tmp_path / "diff.html"
    code, out, _ = run(
        capsys,
        *("--store", store, "diff", "--district", "maple", "--format", "html"),
        *("--details", "--out", str(page)),
    )
    parsed = _Page()
    parsed.feed(page.read_text())

    assert (code, out) == (0, f"diff of snapshots 1 → 2 written to {page}\n")
    assert "b" not in parsed.tags  # the markup in a last name stays text
    assert "<b>Ng</b>" in parsed.text
    assert not {"script", "link", "img", "iframe"} & set(parsed.tags)
    assert [a for a in parsed.attrs if a[0] in ("src", "href")] == []
    assert "http" not in page.read_text()


def test_diff_html_redacted_holds_no_pii(capsys, store):
    _, out, _ = run(
        capsys,
        *("--store", store, "diff", "--district", "maple", "--format", "html"),
        *("--details", "--redact"),
    )
    for secret in ("Ng", "Al Ng", "jo.park@maple.example", "Park", "green"):
        assert f">{secret}<" not in out
    assert "(PII redacted)" in out


def test_every_timeline_change_has_its_words_for_every_renderer():
    """The text timeline printed internal names (not-served, first-seen); the renderers now
    share one wording (the JSON keeps the codes)."""
    from typing import get_args

    from rosterlab.diff.model import TimelineChange
    from rosterlab.report.diff import TIMELINE_WORDS

    assert set(TIMELINE_WORDS) == set(get_args(TimelineChange))
    assert all("-" not in words for words in TIMELINE_WORDS.values())


def test_timeline_text_and_json(capsys, store):
    args = ["--store", store, "timeline", "--district", "maple", "--entity", "students"]
    code, out, _ = run(capsys, *args, "--key", "S-002")
    assert (code, out.splitlines()) == (
        0,
        [
            "maple students S-002 (2 snapshots)",
            "  night 1 (snapshot 1, 2026-09-01 02:00)  first seen",
            "  night 2 (snapshot 2, 2026-09-02 02:00)  Grade: '10' → '11'",
        ],
    )
    code, out, _ = run(capsys, *args, "--key", "S-004", "--format", "json")
    assert json.loads(out) == {
        "district": "maple",
        "entity": "students",
        "key": "S-004",
        "snapshots": 2,
        "events": [
            {
                "snapshot": 2,
                "seq": 2,
                "taken_at": "2026-09-02T02:00:00",
                "change": "first-seen",
                "field": None,
                "old": None,
                "new": None,
            }
        ],
    }
    _, out, _ = run(capsys, *args, "--key", "S-404")
    assert out == "maple students S-404: not in any of the district's 2 snapshots\n"


def test_diff_from_previous_is_the_night_before_to(capsys, tmp_path):
    """README: --from previous compares with the night before. On a three-night district,
    `diff --from previous --to n2` compared night 2 with itself (previous was the district's
    second newest night, whatever --to said) and `--to n1` diffed night 2 → night 1."""
    second, third = tiny_night(), tiny_night()
    second["students.csv"][3][5] = "11"  # night 2: S-002 to grade 11
    third["students.csv"][3][5] = "12"  # night 3: S-002 to grade 12
    store = str(ingest_history(tmp_path, tiny_night(), second, third))
    args = ("--store", store, "diff", "--district", "maple", "--from", "previous")

    code, out, _ = run(capsys, *args, "--to", "n2", "--details")
    assert code == 0
    assert out.splitlines()[0] == (
        "maple: snapshot 1 (night 1, 2026-09-01 02:00) → snapshot 2 (night 2, 2026-09-02 02:00)"
    )
    assert "  students S-002 changed: Grade '10' → '11'" in out.splitlines()
    assert run(capsys, *args, "--to", "n1") == (
        2,
        "",
        "rosterlab: snapshot 1 is maple's first night, so there is no 'previous' night before "
        "it: give a later night to compare with it\n",
    )


def test_a_backward_diff_predicts_no_hold(capsys, tmp_path):
    """Night 1 has one teacher, night 2 three. Forward, nothing is deleted; backward
    (`--from n2 --to n1`) two of three teachers go, which once read as a predicted hold — but
    Clever holds an upload against the state before it: a hold only makes sense forward."""
    first = tiny_night()
    del first["teachers.csv"][2:]  # T-2 and T-3 come on night 2
    store = str(ingest_history(tmp_path, first, tiny_night()))
    args = ("--store", store, "diff", "--district", "maple", "--from", "n2", "--to", "n1")

    code, out, _ = run(capsys, *args)
    assert code == 0
    assert "teachers         0        2        0          1" in out.splitlines()
    assert out.splitlines()[-1] == (
        "hold: not predicted for a backward diff (from a later night to an earlier one): Clever "
        "holds an upload against the state before it, so a hold only makes sense forward in time"
    )
    code, out, _ = run(capsys, *args, "--format", "json")
    assert json.loads(out)["hold"] == {"predicted": False, "reasons": [], "backward": True}
    code, out, _ = run(capsys, *args[:-4], "--from", "n1", "--to", "n2", "--format", "json")
    assert json.loads(out)["hold"] == {"predicted": False, "reasons": []}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["diff", "--district", "oak"],
            "rosterlab: district oak has no snapshots (the store holds maple): check "
            "--district, or ingest its nights with rosterlab ingest\n",
        ),
        (
            ["diff", "--district", "maple", "--from", "9"],
            "rosterlab: no snapshot 9 in {store}: list them with rosterlab snapshots\n",
        ),
    ],
)
def test_diff_errors_are_one_line(capsys, store, argv, message):
    code, out, err = run(capsys, "--store", store, *argv)
    assert (code, out, err) == (2, "", message.format(store=store))
