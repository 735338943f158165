"""``report`` refuses a missing folder; ``rosterlab lab`` stops its JupyterLab server when it is
stopped by SIGTERM or SIGHUP (a real JupyterLab on 127.0.0.1, no mocks)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from rosterlab.cli import INTERRUPTED, main
from tests.cli_run import run
from tests.tiny import tiny_night, write_night

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "rosterlab-signal-test"


def test_report_refuses_a_missing_folder_and_creates_nothing(capsys, tmp_path):
    store = tmp_path / "s.duckdb"
    folder = write_night(tmp_path / "2026-09-01", tiny_night())
    assert main(["--store", str(store), "ingest", str(folder), "--district", "tiny"]) == 0
    out = tmp_path / "typo" / "r.html"
    capsys.readouterr()
    code, text, err = run(
        capsys, "--store", str(store), "report", "--district", "tiny", "--out", str(out)
    )
    assert (code, text) == (2, "")
    assert err == (
        f"rosterlab: --out {out}: the folder {out.parent} does not exist: create it first or "
        "give another --out\n"
    )
    assert not out.parent.exists()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answering(port: int) -> bool:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/status", headers={"Authorization": f"token {TOKEN}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP])
def test_lab_stops_its_server_when_it_is_stopped(tmp_path, number):
    home = tmp_path / "jupyter"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROSTERLAB_", "JUPYTER"))}
    env |= {
        "JUPYTER_TOKEN": TOKEN,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    port = free_port()
    lab = subprocess.Popen(
        [sys.executable, "-m", "rosterlab", "--store", str(tmp_path / "s.duckdb"), "lab",
         "--port", str(port), "--no-browser", "--notebooks", str(notebooks)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # only rosterlab gets the signal, as from `kill PID`
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not answering(port):
            assert lab.poll() is None, "rosterlab lab exited before JupyterLab answered"
            assert time.monotonic() < deadline, "JupyterLab did not answer within 60 s"
            time.sleep(0.2)
        os.kill(lab.pid, number)
        _, err = lab.communicate(timeout=30)
        assert lab.returncode == 128 + number
        assert err.decode().splitlines()[-1] == f"rosterlab: {INTERRUPTED}"
        assert not answering(port)
        with socket.socket() as sock:  # no orphaned server listens on the port any more
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT only
            sock.bind(("127.0.0.1", port))
            sock.listen()
    finally:
        if lab.poll() is None:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait()
