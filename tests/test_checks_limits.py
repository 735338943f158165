"""Checks under a memory limit too small for them: one line, exit 2, nothing half-cached.

With one thread, ingesting the tiny night fits in 8 MB of DuckDB memory but checking it right
after needs more than 9 MB, so at 8 MB the ingest commits and the checks run out of memory inside
their transaction; a recheck in a fresh store connection needs 7 MB, so it is given 6 MB and its
checks run out of memory there (measured).
With two threads (the checks' second lane running beside) 8 MB fails the checks too (measured).
The aborted transaction is rolled back before anything else runs on the connection: the store
stays healthy and usable, the previous check results stay cached, and the error is the store's
one-line out-of-memory message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rosterlab.bundle import open_bundle
from rosterlab.checks import run_checks
from rosterlab.errors import StoreError
from rosterlab.store import Store, ingest_bundle
from tests.cli_run import run
from tests.test_limits import out_of_memory
from tests.tiny import tiny_night, write_night

LIMIT = "8MB"
RECHECK_LIMIT = "6MB"


@pytest.fixture
def night(tmp_path: Path) -> Path:
    """maple's clean tiny night (its only finding: the ext.house custom field)."""
    return write_night(tmp_path / "maple" / "2026-09-01", tiny_night())


@pytest.fixture
def limited(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An 8 MB budget, one thread (``monkeypatch.delenv`` lifts it)."""
    monkeypatch.setenv("ROSTERLAB_MEMORY_LIMIT", LIMIT)
    monkeypatch.setenv("ROSTERLAB_THREADS", "1")
    return monkeypatch


def cache(path: Path) -> tuple[list[tuple[object, ...]], list[str], int]:
    """What the store keeps of the checks: check_runs, check findings, profiled columns."""
    with Store.open(path, read_only=True) as store:
        return (
            store.rows("SELECT snapshot_id, fingerprint FROM check_runs ORDER BY 1"),
            [f.code for f in store.findings(1, "check")],
            store.rows("SELECT count(*) FROM field_profiles")[0][0],
        )


def test_ingest_whose_checks_run_out_of_memory_keeps_the_night_and_says_how_to_check_it(
    night: Path, tmp_path: Path, limited: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    store = tmp_path / "store.duckdb"
    code, out, err = run(capsys, "--store", str(store), "ingest", str(night), "--district", "maple")

    assert (code, out) == (2, "")
    assert err == (
        "rosterlab: maple night 1 was ingested as snapshot 1 but not checked: "
        f"{out_of_memory(store, LIMIT)}; then run rosterlab check --recheck --district maple\n"
    )
    limited.delenv("ROSTERLAB_MEMORY_LIMIT")
    assert cache(store) == ([], [], 0)
    code, out, err = run(capsys, "--store", str(store), "doctor")
    assert (code, err) == (0, "")
    assert out.startswith(f"store {store} is healthy: 1 snapshot of 1 district")
    code, out, err = run(capsys, "--store", str(store), "check", "--district", "maple")
    assert (code, err) == (0, "")
    assert out.startswith("maple snapshot 1 (night 1, 2026-09-01 02:00): 0 errors, 0 warnings")
    assert cache(store) == ([], [], 0)  # a plain check is a reader: computed, not kept
    code, out, err = run(capsys, "--store", str(store), "check", "--recheck", "--district", "maple")
    assert (code, err) == (0, "")
    assert out.startswith("maple snapshot 1 (night 1, 2026-09-01 02:00): 0 errors, 0 warnings")
    runs, codes, profiled = cache(store)
    assert ([snapshot for snapshot, _ in runs], codes, profiled) == ([1], [], 30)


def test_a_recheck_that_runs_out_of_memory_keeps_the_cached_checks(
    night: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    store = tmp_path / "store.duckdb"
    assert run(capsys, "--store", str(store), "ingest", str(night), "--district", "maple")[0] == 0
    kept = cache(store)
    assert kept[1:] == ([], 30)

    monkeypatch.setenv("ROSTERLAB_MEMORY_LIMIT", RECHECK_LIMIT)
    monkeypatch.setenv("ROSTERLAB_THREADS", "1")
    code, out, err = run(capsys, "--store", str(store), "check", "--district", "maple", "--recheck")

    assert (code, out, err) == (2, "", f"rosterlab: {out_of_memory(store, RECHECK_LIMIT)}\n")
    monkeypatch.delenv("ROSTERLAB_MEMORY_LIMIT")
    assert cache(store) == kept
    assert run(capsys, "--store", str(store), "doctor")[0] == 0


@pytest.mark.parametrize("threads", [1, 2])  # 2: the checks' second lane runs (Store.beside)
def test_the_connection_is_usable_after_checks_ran_out_of_memory(
    night: Path, tmp_path: Path, threads: int
):
    path = tmp_path / "store.duckdb"
    with Store.open(path, memory_limit=LIMIT, threads=threads) as store:
        with open_bundle(night) as bundle:
            snapshot = ingest_bundle(store, bundle, district="maple").snapshot.id
        with pytest.raises(StoreError) as raised:
            run_checks(store, snapshot)
        assert raised.value.message == out_of_memory(path, LIMIT)

        assert store.rows("SELECT count(*) FROM check_runs") == [(0,)]
        store.execute("SET memory_limit = '1GB'")
        result = run_checks(store, snapshot)
        assert (result.cached, [f.code for f in result.findings]) == (False, ["extension-column"])
        assert run_checks(store, snapshot).cached is True
