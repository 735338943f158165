"""CLI plumbing: options every command shares are declared once, exit codes are named."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from rosterlab.cli.commands import build_parser

CLI = Path(__file__).resolve().parents[1] / "rosterlab" / "cli"


def _parsers(parser: argparse.ArgumentParser, path: str = "rosterlab"):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_district_is_declared_by_one_helper_and_always_explained():
    declared = {p.name: len(re.findall(r'"--district"', p.read_text())) for p in CLI.glob("*.py")}
    assert {name: n for name, n in declared.items() if n} == {"common.py": 1}
    unexplained = [
        path
        for path, parser in _parsers(build_parser())
        for action in parser._actions
        if "--district" in action.option_strings and not action.help
    ]
    assert unexplained == []


def test_command_handlers_return_named_exit_codes():
    """``return 0`` / ``return 1 if … else 0`` say EXIT_OK / EXIT_FINDINGS (rosterlab.errors)."""
    bare = re.compile(r"return \d+(?: if .*)?$|else \d+$", re.MULTILINE)
    found = {p.name: bare.findall(p.read_text()) for p in CLI.glob("*.py")}
    assert {name: lines for name, lines in found.items() if lines} == {}
