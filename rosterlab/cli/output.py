"""The only module that prints: results to stdout, progress and errors to stderr."""

from __future__ import annotations

import json
import sys
import time
import traceback as tb
from typing import Any

from rosterlab.report.text import json_safe, shown


def _write(text: str) -> None:
    sys.stdout.write(text.rstrip("\n") + "\n")
    sys.stdout.flush()


def emit(text: str) -> None:
    """Rendered text; any control character a value brought along is shown escaped."""
    _write(shown(text, keep="\n"))


def emit_csv(text: str) -> None:
    """CSV text as written (CRLF rows, quoted line breaks and tabs kept); other control
    characters are shown escaped."""
    sys.stdout.write(shown(text, keep="\r\n\t"))
    sys.stdout.flush()


def emit_json(payload: Any) -> None:
    _write(json_safe(json.dumps(payload, indent=2, ensure_ascii=False, default=str)))


def error(message: str) -> None:
    sys.stderr.write(f"rosterlab: {shown(message)}\n")
    sys.stderr.flush()


def traceback(exc: BaseException) -> None:
    """The traceback of ``exc`` with its chained causes (``--debug``)."""
    sys.stderr.write("".join(tb.format_exception(exc)))
    sys.stderr.flush()


def note(message: str) -> None:
    """A line on stderr that is not an error (``waiting for the store, held by ...``)."""
    sys.stderr.write(f"rosterlab: {shown(message)}\n")
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
