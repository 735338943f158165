"""The CLI answers at once: parsing a command line imports no engine.

Timing lives in benchmarks/bench_cli.py; this test keeps the reason it is fast: ``--help`` and
argument errors never import duckdb, polars, numpy, pyarrow, paramiko, httpx or ipywidgets.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.tiny import ingest_nights, tiny_night, write_night

HEAVY = ("duckdb", "polars", "numpy", "pyarrow", "paramiko", "httpx", "ipywidgets", "nbformat")
# What a reader of the history needs of those: the ingest's CSV machinery stays unloaded.
READER = ("duckdb",)

PROBE = """
import json, sys
from rosterlab.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
print(json.dumps({{"code": code, "heavy": sorted({{m.split(".")[0] for m in heavy}})}}))
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["ingest", "--help"],
        ["diff", "--help"],
        ["check", "--help"],
        ["push", "--help"],
        ["api", "pull", "--help"],
        ["api", "serve", "--help"],
        ["reconcile", "--help"],
        ["fleet", "run", "--help"],
        ["diff", "--no-such-option"],
    ],
)
def test_parsing_a_command_line_imports_no_engine(argv: list[str]) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=set(HEAVY)), *argv],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(probe.stdout.strip().splitlines()[-1])
    assert result == {"code": 0 if "--help" in argv else 2, "heavy": []}


def test_a_command_that_runs_imports_its_engine(tmp_path) -> None:
    """The probe can see a heavy import: ``ingest`` loads duckdb."""
    night = write_night(tmp_path / "2026-09-01", tiny_night())
    argv = ["--store", str(tmp_path / "s.duckdb"), "ingest", str(night), "--district", "tiny"]
    probe = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=set(HEAVY)), *argv],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(probe.stdout.strip().splitlines()[-1])
    assert result["code"] == 0
    assert {"duckdb", "polars"} <= set(result["heavy"])


@pytest.mark.parametrize("output", ["text", "json"])
def test_a_diff_imports_duckdb_and_nothing_the_ingest_needs(tmp_path, output) -> None:
    """``rosterlab diff`` answers at once: no polars, numpy, pyarrow or zstd codec load."""
    second = tiny_night()
    second["students.csv"].pop()
    store = ingest_nights(tmp_path, tiny_night(), second)
    argv = ["--store", str(store), "diff", "--district", "tiny", "--format", output]
    probe = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy={*HEAVY, "pyzstd"}), *argv],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(probe.stdout.strip().splitlines()[-1])
    assert result == {"code": 0, "heavy": list(READER)}
    assert "removed" in probe.stdout


# The heavy packages a command loaded, and the modules of rosterlab.api it imported.
PROBE_API = """
import json, sys
from rosterlab.cli import main
code = main(sys.argv[2:])
heavy = set(m.split(".")[0] for m in sys.modules) & set(sys.argv[1].split(","))
api = sorted(m for m in sys.modules if m.startswith("rosterlab.api."))
print(json.dumps(dict(code=code, heavy=sorted(heavy), api=api)))
"""
RECONCILED = {
    "text": "no differences",
    "json": '"unexplained": 0',
    "html": "<h1>rosterlab reconcile",
}


@pytest.mark.parametrize("output", ["text", "json", "html"])
def test_a_reconcile_imports_duckdb_and_not_the_api_client_or_the_ingest(
    tmp_path, monkeypatch, output
) -> None:
    """``rosterlab reconcile`` reads two stored snapshots: no httpx, no stand-in server, no
    puller, and none of the ingest's polars, numpy or zstd codec."""
    from rosterlab.cli import main
    from tests.api_standin import TOKEN, TOKEN_ENV, standin

    store = ingest_nights(tmp_path, tiny_night())
    config = tmp_path / "rosterlab.toml"
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with standin(store, "tiny") as origin:
        config.write_text(
            f'[api.standin]\nbase_url = "{origin}"\nversion = "3.1"\ntoken_env = "{TOKEN_ENV}"\n'
        )
        pulled = ["--store", str(store), "--config", str(config), "api", "pull",
                  "--target", "standin", "--district", "tiny"]  # fmt: skip
        assert main(pulled) == 0
    heavy = ",".join(sorted({*HEAVY, "pyzstd", "http"}))
    argv = ["--store", str(store), "reconcile", "--district", "tiny", "--format", output]
    probe = subprocess.run(
        [sys.executable, "-c", PROBE_API, heavy, *argv], capture_output=True, text=True, check=True
    )
    result = json.loads(probe.stdout.strip().splitlines()[-1])
    assert result == {
        "code": 0,
        "heavy": list(READER),
        "api": ["rosterlab.api.reconcile", "rosterlab.api.schemas"],
    }
    assert RECONCILED[output] in probe.stdout
