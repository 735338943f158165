"""Generate docs/cli.md from the parser, so every command's reference is its real --help.

``python -m rosterlab.cli.docs > docs/cli.md`` (``make docs``); a test fails when they drift.
"""

from __future__ import annotations

import argparse
import os

from rosterlab.cli.commands import build_parser

INTRO = """# rosterlab command reference

Generated from the CLI's own `--help` by `make docs`; do not edit by hand. The JSON shapes are a
public contract (see the project's CLI contract); exit codes: `0` done, `1` findings at or above
`--fail-on`, `2` the command could not do its job (one line on stderr says what to do), `130`
interrupted (Ctrl-C; nothing half-written). An unexpected error (a bug) is one line too, exit `2`;
`--debug` or `ROSTERLAB_DEBUG=1` prints its traceback, causes included.
"""


def commands(parser: argparse.ArgumentParser, prefix: str = "rosterlab") -> list[tuple[str, str]]:
    """(``rosterlab ledger add``, its --help) for every command and sub-command, in order."""
    found = [(prefix, parser.format_help().rstrip())]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += commands(sub, f"{prefix} {name}")
    return found


def render_reference() -> str:
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps help to the terminal: make it stable
    try:
        sections = [INTRO.rstrip("\n")]
        for name, help_text in commands(build_parser()):
            sections += ["", f"## {name}", "", "```", help_text, "```"]
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
    return "\n".join(sections) + "\n"


if __name__ == "__main__":
    print(render_reference(), end="")
