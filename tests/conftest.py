"""What every test shares: a clean environment (no ROSTERLAB_* from the developer's shell)."""

from __future__ import annotations

import os

import pytest

# Knobs the slow fault tests read at import time; they tune the tests, not rosterlab.
TEST_KNOBS = {"ROSTERLAB_KILL_POINTS", "ROSTERLAB_KILL_LOG"}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts from the defaults: a store or config set in the shell must not leak in."""
    for name in list(os.environ):
        if name.startswith("ROSTERLAB_") and name not in TEST_KNOBS:
            monkeypatch.delenv(name)
