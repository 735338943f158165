"""Generated docs stay in step with the code they describe."""

from __future__ import annotations

from pathlib import Path

from rosterlab.cli.commands import build_parser
from rosterlab.cli.docs import commands, render_reference

ROOT = Path(__file__).resolve().parent.parent


def test_docs_cli_md_is_generated_from_the_parser():
    committed = (ROOT / "docs" / "cli.md").read_text()
    assert committed == render_reference(), "run `make docs` to regenerate docs/cli.md"


def test_every_command_and_sub_command_is_documented_with_an_example():
    """Every command a user can type has a section in docs/cli.md whose help ends with an example
    (``rosterlab ledger add`` included); the bare group commands list their sub-commands."""
    listed = commands(build_parser())
    names = [name for name, _ in listed]
    assert names[:6] == [
        "rosterlab",
        "rosterlab ingest",
        "rosterlab snapshots",
        "rosterlab snapshots forget",
        "rosterlab snapshots redate",
        "rosterlab export",
    ]
    assert {"rosterlab ledger add", "rosterlab ledger list", "rosterlab ledger remove"} <= set(
        names
    )
    reference = render_reference()
    groups = {name for name in names if any(other.startswith(name + " ") for other in names)}
    for name, help_text in listed:
        assert f"\n## {name}\n" in reference, name
        if name not in groups:
            assert "example:\n  rosterlab " in help_text, f"{name} --help has no example"
