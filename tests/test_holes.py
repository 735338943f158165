"""Issue 18's holes beyond the corpus table: forcing a future time, and the [limits] table."""

from __future__ import annotations

import pytest

from rosterlab.store import Store
from tests.cli_run import run
from tests.corpus.cases import tiny_files, zipped
from tests.corpus.holes import future_mtime


def test_allow_future_ingests_a_night_from_a_clock_in_2099(tmp_path, capsys):
    built = future_mtime(tmp_path / "input")
    store = tmp_path / "store.duckdb"
    argv = ["--store", str(store), "ingest", str(built.path), "--district", "d"]
    code, _, err = run(capsys, *argv, "--allow-future", "--format", "json")
    assert (code, err) == (0, "")
    with Store.open(store, read_only=True) as opened:
        assert [str(s.taken_at) for s in opened.snapshots("d")] == ["2099-01-01 02:00:00"]


def test_limits_come_from_rosterlab_toml(tmp_path, capsys):
    """A district that never sends more than a few MB can set a far lower cap."""
    config = tmp_path / "rosterlab.toml"
    config.write_text('[limits]\nbundle_max_bytes = "100B"\nzip_max_ratio = 50\n')
    bundle = zipped(tiny_files())(tmp_path / "input").path
    size = sum(len(data) for data in tiny_files().values())
    store = tmp_path / "store.duckdb"
    argv = ["--config", str(config), "--store", str(store), "ingest", str(bundle)]
    code, out, err = run(capsys, *argv, "--district", "d", "--taken-at", "2026-09-01")
    assert (code, out) == (2, "")
    assert err == (
        f"rosterlab: {bundle} unpacks to {size:,} bytes, over the limit of 100 "
        "(bundle_max_bytes in [limits]): unzip it and pass the folder\n"
    )


@pytest.mark.parametrize(
    ("table", "line"),
    [
        ('limits = "x"', ": limits must be a table of settings ([limits])"),
        (
            "[limits]\nzip_max_ratio = 0",
            " [limits]: zip_max_ratio 0 must be a whole number of at least 1",
        ),
        (
            '[limits]\npull_max_bytes = "lots"',
            " [limits]: pull_max_bytes 'lots' must be a whole "
            "number of at least 1 (a size like '8GiB' is fine)",
        ),
        (
            "[limits]\nmax_rows = 5",
            " [limits]: unknown key(s) max_rows; allowed: bundle_max_bytes, max_columns, "
            "pull_max_bytes, pull_max_file_bytes, zip_max_files, zip_max_ratio",
        ),
    ],
)
def test_a_wrong_limit_is_one_line(tmp_path, capsys, table, line):
    config = tmp_path / "rosterlab.toml"
    config.write_text(table + "\n")
    code, out, err = run(
        capsys, "--config", str(config), "--store", str(tmp_path / "s"), "snapshots"
    )
    assert (code, out, err) == (2, "", f"rosterlab: {config}{line}\n")
