"""SIGTERM and SIGHUP (a scheduler's timeout, a closed terminal) are cleaned up like Ctrl-C.

Incident: cron's timeout kills ``rosterlab ingest`` while it unpacks a district's zip. The
unpacked files are student PII: they must not stay in the temporary folder; the store stays as it
was; the exit code says what happened (128 + the signal).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tests.corpus.cases import tiny_files


def slow_zip(path: Path) -> Path:
    """The tiny night plus 24 MB that does not compress (unpacked and sniffed for a while)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in tiny_files().items():
            archive.writestr(name, data)
        archive.writestr("photos.csv", os.urandom(24 * 2**20))
    return path


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_during_a_zip_ingest_leaves_no_unpacked_file(
    tmp_path: Path, signum: int, code: int
) -> None:
    bundle = slow_zip(tmp_path / "night.zip")
    temp = tmp_path / "tmp"
    temp.mkdir()
    store = tmp_path / "store.duckdb"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rosterlab",
            "--store",
            str(store),
            "ingest",
            str(bundle),
            "--district",
            "maple",
            "--taken-at",
            "2026-09-01T02:00:00",
        ],
        env={**os.environ, "TMPDIR": str(temp)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while not list(temp.glob("rosterlab-bundle-*/bundle-*/raw/*/*")):
        assert child.poll() is None and time.monotonic() < deadline, "never unpacked"
        time.sleep(0.005)
    child.send_signal(signum)
    out, err = child.communicate(timeout=20)

    assert (child.returncode, out) == (code, "")
    assert err == "rosterlab: interrupted: nothing was half-written; re-run the command\n"
    assert list(temp.iterdir()) == []
    assert not store.exists()
