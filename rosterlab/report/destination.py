"""Where a report file goes, checked before the (slow) notebook run: kept apart from
``html_report`` so that the check costs no notebook imports."""

from __future__ import annotations

from pathlib import Path

from rosterlab.errors import ReportError, cannot_write


def report_destination(out: Path) -> Path:
    """Where ``--out`` will be written (absolute), checked before any work: a regular file (or
    a new name) in an existing folder that takes a new file. A folder, a pipe, a device or a
    missing folder (a typo: nothing is created) is refused."""
    if out.exists() and not out.is_dir() and not out.is_file():
        raise ReportError(
            f"--out {out} is not a regular file (a pipe or a device): give a file name such as "
            "report.html"
        )
    out = out.expanduser().resolve()
    if out.is_dir():
        raise ReportError(f"--out {out} is a folder: give a file name such as report.html")
    if not out.parent.exists():
        raise ReportError(
            f"--out {out}: the folder {out.parent} does not exist: create it first or give "
            "another --out"
        )
    partial = out.with_name(out.name + ".part")
    try:
        partial.touch()
        partial.unlink()
    except OSError as exc:
        raise ReportError(f"{cannot_write(out, exc)}: give another --out") from exc
    return out
