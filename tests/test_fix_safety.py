"""Fixes that cannot backfire: ``when = "<finding code>"`` and the refusal of a rule that
changes a value valid tonight (unless ``--force``), through the CLI against a real store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rosterlab.cli import main
from tests.cli_run import run
from tests.tiny import tiny_night, write_night

WORKAROUND = """district = "maple"

[[rules]]
op = "set"
entity = "sections"
field = "Teacher_id"
key = "SEC-1"
value = "T-1"
reason = "keep Jo Park until HR exports the new hire T-9"
"""


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """maple: night 1 SEC-1's teacher is T-9, whom teachers.csv lacks (section-unknown-teacher);
    night 2 HR exported T-9, so SEC-1's T-9 is valid."""
    path = tmp_path / "s.duckdb"
    first = tiny_night()
    first["sections.csv"][1][2] = "T-9"
    second = tiny_night()
    second["sections.csv"][1][2] = "T-9"
    second["teachers.csv"].append(["SCH-1", "T-9", "Ito", "Mei", "mei.ito@maple.example"])
    for day, night in ((1, first), (2, second)):
        folder = write_night(tmp_path / f"2026-09-0{day}", night)
        assert main(["--store", str(path), "ingest", str(folder), "--district", "maple"]) == 0
    return path


def fix(capsys, store: Path, rules: str, snapshot: str, out: Path, *extra: str):
    (store.parent / "maple.rules.toml").write_text(rules)
    capsys.readouterr()
    return run(
        capsys, "--store", str(store), "fix", "--district", "maple", "--snapshot", snapshot,
        "--rules", str(store.parent / "maple.rules.toml"), "--out", str(out), *extra,
    )  # fmt: skip


def test_a_rule_that_would_undo_tonights_valid_value_is_refused(capsys, store, tmp_path):
    out = tmp_path / "fixed"
    code, text, err = fix(capsys, store, WORKAROUND, "latest", out)
    assert (code, text) == (2, "")
    assert err == (
        "rosterlab: maple.rules.toml: rule 1 (set, line 3) changes 1 value(s) valid tonight: "
        "sections SEC-1 Teacher_id: T-9 → T-1 — it may undo the district's own fix: add "
        'when = "<finding code>" to the rule so it applies only while the problem is there, or '
        "re-run fix with --force; nothing was written\n"
    )
    assert not out.exists()


def test_forced_the_valid_values_changed_are_reported(capsys, store, tmp_path):
    out = tmp_path / "fixed"
    code, text, _ = fix(capsys, store, WORKAROUND, "latest", out, "--force")
    assert code == 0
    assert text.splitlines()[1:3] == [
        "  rule 1 set (line 3): 1 change — keep Jo Park until HR exports the new hire T-9",
        "      changed a valid value (forced): sections SEC-1 Teacher_id: T-9 → T-1",
    ]
    applied = json.loads((out / "manifest.json").read_text())["rules"]["applied"]
    assert applied[0]["valid_values_changed"] == [
        {"entity": "sections", "key": "SEC-1", "field": "Teacher_id", "old": "T-9", "new": "T-1"}
    ]


def test_a_rule_with_when_applies_only_while_its_finding_is_there(capsys, store, tmp_path):
    rules = WORKAROUND + 'when = "section-unknown-teacher"\n'
    code, text, err = fix(capsys, store, rules, "n1", tmp_path / "night1")
    assert (code, err) == (0, "")
    assert text.splitlines()[1:3] == [
        "  rule 1 set (line 3): 1 change — keep Jo Park until HR exports the new hire T-9",
        "      when: section-unknown-teacher (only the records carrying it)",
    ]
    assert "SEC-1,T-1," in (tmp_path / "night1" / "sections.csv").read_text()

    code, text, err = fix(capsys, store, rules, "n2", tmp_path / "night2")
    assert (code, err) == (0, "")
    assert text.splitlines()[1:4] == [
        "  rule 1 set (line 3): 0 changes — keep Jo Park until HR exports the new hire T-9",
        "      when: section-unknown-teacher (only the records carrying it)",
        "      note: when section-unknown-teacher: snapshot 2 has no such finding, so the rule "
        "did nothing",
    ]
    assert "SEC-1,T-9," in (tmp_path / "night2" / "sections.csv").read_text()


def test_when_must_name_a_finding_code(capsys, store, tmp_path):
    code, text, err = fix(
        capsys, store, WORKAROUND + 'when = "section-unknown-teachers"\n', "n1", tmp_path / "x"
    )
    assert (code, text) == (2, "")
    assert err == (
        "rosterlab: maple.rules.toml line 3, rule 1 (set): unknown finding code "
        "'section-unknown-teachers': did you mean 'section-unknown-teacher'?\n"
    )
