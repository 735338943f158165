"""Run the CLI in-process, as a user would see it: exit code, stdout, stderr."""

from __future__ import annotations

import pytest

from rosterlab.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
