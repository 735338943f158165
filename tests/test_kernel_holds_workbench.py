"""A real Jupyter kernel holding a workbench never makes the nightly ``rosterlab ingest`` fail.

The kernel (ipykernel, started by jupyter_client) opens ``ui.open_workbench`` on the store and
keeps it; cron's ingest runs as its own process meanwhile and exits 0 without waiting; the
notebook keeps the night it opened until ``bench.refresh()`` shows the new one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import KernelManager, start_new_kernel

from rosterlab.bundle import open_bundle
from rosterlab.store import Store, ingest_bundle
from tests.tiny import tiny_night, write_night

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def kernel() -> Iterator[tuple[KernelManager, Any]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    manager, client = start_new_kernel(kernel_name="python3", env=env)
    try:
        yield manager, client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def run_cell(client: Any, code: str) -> str:
    """Run ``code`` in the kernel; the text/plain of its result (a failed cell fails the test)."""
    shown: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["header"]["msg_type"] == "execute_result":
            shown.append(msg["content"]["data"]["text/plain"])

    reply = client.execute_interactive(code, timeout=120, output_hook=hook)
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(shown)


def test_ingest_exits_0_while_a_kernel_holds_the_workbench(
    kernel: tuple[KernelManager, Any], tmp_path: Path
) -> None:
    _, client = kernel
    store = tmp_path / "store.duckdb"
    with open_bundle(write_night(tmp_path / "n1", tiny_night())) as bundle, Store.open(store) as s:
        ingest_bundle(s, bundle, district="maple", taken_at=datetime(2026, 9, 1, 2))
    night2 = tiny_night()
    night2["students.csv"][3][5] = "11"
    write_night(tmp_path / "n2", night2, when=datetime(2026, 9, 2, 2, tzinfo=UTC))

    assert (
        run_cell(
            client,
            "from rosterlab import ui\n"
            f"bench = ui.open_workbench({str(store)!r}, district='maple')\n"
            "len(bench.snapshots)",
        )
        == "1"
    )
    pid = run_cell(client, "import os; os.getpid()")

    night = ["ingest", str(tmp_path / "n2"), "--district", "maple"]
    ingest = subprocess.run(
        [sys.executable, "-m", "rosterlab", "--store", str(store), *night],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "ROSTERLAB_STORE_WAIT": "5"},
    )
    assert (ingest.returncode, ingest.stderr) == (0, "")
    assert ingest.stdout.startswith("maple 2026-09-02 02:00 → snapshot 2 (night 2, new)\n")

    assert run_cell(client, "len(bench.snapshots)") == "1"  # the state it opened
    assert run_cell(client, "bench.refresh()") == "'maple: 2 snapshots (+1 since the last look)'"
    assert run_cell(client, "[s.seq for s in bench.snapshots]") == "[1, 2]"
    assert run_cell(client, "bench.store.read_only") == "True"
    assert pid.isdigit() and int(pid) != os.getpid()  # a separate kernel process held it
