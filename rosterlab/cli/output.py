"""The only module that prints: results to stdout, progress and errors to stderr."""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def emit(text: str) -> None:
    sys.stdout.write(text.rstrip("\n") + "\n")
    sys.stdout.flush()


def emit_json(payload: Any) -> None:
    emit(json.dumps(payload, indent=2, ensure_ascii=False, default=str))


def error(message: str) -> None:
    sys.stderr.write(f"rosterlab: {message}\n")
    sys.stderr.flush()


class Progress:
    """Progress lines on stderr with elapsed seconds, so a long ingest never sits silent."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        if self.enabled:
            elapsed = time.monotonic() - self.started
            sys.stderr.write(f"[{elapsed:7.1f}s] {message}\n")
            sys.stderr.flush()


def progress_wanted(flag: bool | None) -> bool:
    return bool(flag) if flag is not None else sys.stderr.isatty()
