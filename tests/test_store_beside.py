"""The store's second lane (``Store.beside``): queries of committed tables on a second connection.

A check runs a dozen small statements one after another, none of which keeps both cores busy;
the ones that read only the store's committed tables (the night's versions, the records Clever
does not serve) run on a second connection in a thread meanwhile. A second connection sees what
is committed only, so the lane is concurrent only when the store's own connection is outside a
transaction as it opens; inside one (a what-if trial), and with one thread, its queries run on
the store's connection when their rows are asked for. Its failures are the store's one-line
errors, and a failed block stops the lane before the error goes on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rosterlab.errors import StoreError
from rosterlab.store import Store
from tests.test_limits import out_of_memory

# A list of 20 million strings cannot spill: it needs far more than 8 MB.
TOO_BIG = "SELECT list(range::VARCHAR || 'abcdefghijkl') FROM range(20000000)"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """A store holding ``t``: the numbers 0..999, committed."""
    path = tmp_path / "store.duckdb"
    with Store.open(path) as store:
        store.execute("CREATE TABLE t AS SELECT range AS x FROM range(1000)")
    return path


def test_a_query_beside_runs_on_a_second_connection_which_sees_what_is_committed(path: Path):
    with Store.open(path, threads=2) as store, store.beside() as lane:
        assert lane.concurrent is True
        with store.transaction():
            store.execute("INSERT INTO t VALUES (5000)")
            beside = lane.rows("SELECT count(*), max(x) FROM t")()
            own = store.rows("SELECT count(*), max(x) FROM t")

    assert (beside, own) == ([(1000, 999)], [(1001, 5000)])


def test_opened_inside_a_transaction_the_lane_reads_its_uncommitted_rows(path: Path):
    with Store.open(path, threads=2) as store, store.transaction():
        store.execute("INSERT INTO t VALUES (5000)")
        with store.beside() as lane:
            assert lane.concurrent is False
            assert lane.rows("SELECT count(*), max(x) FROM t")() == [(1001, 5000)]


def test_one_thread_keeps_one_lane(path: Path):
    with Store.open(path, threads=1) as store, store.beside() as lane:
        assert lane.concurrent is False
        assert lane.rows("SELECT sum(x) FROM t")() == [(499500,)]


def test_a_reader_runs_beside_on_the_published_copy(path: Path):
    with Store.open(path) as store:
        store.execute("INSERT INTO t VALUES (5000)")  # published when the writer closes
    with Store.open(path, read_only=True, threads=2) as reader, reader.beside() as lane:
        assert (reader.reading_copy, lane.concurrent) == (True, True)
        assert lane.rows("SELECT count(*), max(x) FROM t")() == [(1001, 5000)]


def test_a_lane_query_out_of_memory_is_the_store_one_line_error_and_the_store_stays_usable(
    path: Path,
):
    with Store.open(path, memory_limit="8MB", threads=2) as store:
        with pytest.raises(StoreError) as raised, store.beside() as lane:
            assert lane.concurrent is True
            lane.rows(TOO_BIG)()

        assert raised.value.message == out_of_memory(path, "8MB")
        assert store.rows("SELECT count(*) FROM t") == [(1000,)]


def test_a_failed_lane_query_nobody_read_fails_the_block(path: Path):
    with Store.open(path, memory_limit="8MB", threads=2) as store:
        with pytest.raises(StoreError) as raised, store.beside() as lane:
            lane.rows(TOO_BIG)

        assert raised.value.message == out_of_memory(path, "8MB")


def test_a_failed_block_stops_the_lane_and_its_own_error_goes_on(path: Path):
    with Store.open(path, threads=2) as store:
        with pytest.raises(KeyError, match="the block's own"), store.beside() as lane:
            lane.rows("SELECT count(*) FROM range(100000000000)")  # minutes, unless stopped
            raise KeyError("the block's own")

        assert store._lanes == []
        assert store.rows("SELECT count(*) FROM t") == [(1000,)]
