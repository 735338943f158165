"""Generated docs stay in step with the code they describe."""

from __future__ import annotations

from pathlib import Path

from rosterlab.cli.docs import render_reference

ROOT = Path(__file__).resolve().parent.parent


def test_docs_cli_md_is_generated_from_the_parser():
    committed = (ROOT / "docs" / "cli.md").read_text()
    assert committed == render_reference(), "run `make docs` to regenerate docs/cli.md"


def test_every_command_is_documented_with_an_example():
    reference = render_reference()
    for command in ("ingest", "snapshots", "export"):
        section = reference.split(f"## rosterlab {command}\n", 1)[1].split("\n## ", 1)[0]
        assert "example:\n  rosterlab " in section, command
