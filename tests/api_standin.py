"""The stand-in Data API as a test fixture: a real ``rosterlab api serve`` process on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

TOKEN = "district-app-token-for-tests"
TOKEN_ENV = "ROSTERLAB_STANDIN_TOKEN"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def standin(store: Path, district: str, *options: str, port: int = 0) -> Iterator[str]:
    """Serve ``district``'s latest snapshot of ``store``; yields the base URL (origin)."""
    env = {**os.environ, TOKEN_ENV: TOKEN, "PYTHONPATH": str(ROOT)}
    command: Sequence[str] = (
        sys.executable,
        "-m",
        "rosterlab",
        "--store",
        str(store),
        "api",
        "serve",
        "--district",
        district,
        "--port",
        str(port),
        *options,
    )
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"stand-in did not start: {process.stderr.read()}")  # type: ignore[union-attr]
        origin = line.split(" at ", 1)[1].split("/v3.0", 1)[0]
        yield origin
    finally:
        process.terminate()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
