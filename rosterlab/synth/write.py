"""Write a night as Clever would receive it: one CSV per file, then its byte-level incidents.

Files are UTF-8 without BOM, RFC 4180 minimal quoting, exact spec header names, an empty cell for
null, the district's newline, and a modification time equal to the night's ``taken_at`` (so
ingest's default taken_at — the newest mtime — is right).
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

from rosterlab.synth.district import Night

DISTRICT_TOML = "district.toml"


def write_night(night: Night, dest_dir: str | Path, *, newline: str | None = None) -> list[Path]:
    """Write ``night`` into ``dest_dir`` (created if needed); return the written paths, sorted.

    ``newline`` overrides the district's line ending (``"\\n"`` or ``"\\r\\n"``).
    """
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    paths = {name: dest / name for name in night.frames}
    for name, frame in night.frames.items():
        frame.write_csv(
            paths[name],
            quote_style="necessary",
            line_terminator=newline or night.newline,
            null_value="",
        )
    for edit in night.edits:
        path = paths[edit.file]
        if edit.transform is not None:
            path.write_bytes(edit.transform(path.read_bytes()))
        if edit.rename is not None:
            renamed = dest / edit.rename
            path.rename(renamed)
            paths[edit.file] = renamed
    stamp = night.taken_at.timestamp()
    for path in paths.values():
        os.utime(path, (stamp, stamp))
    return sorted(paths.values())


def write_district_toml(
    dest_dir: str | Path,
    name: str,
    sync_type: str,
    thresholds: dict[str, float] | None = None,
    comment: str = "",
) -> Path:
    """Write ``district.toml`` (``name``, ``sync_type``, optional hold thresholds), after
    ``comment`` as TOML comment lines (wrapped at 100 columns)."""
    lines = [f"# {line}" for line in textwrap.wrap(comment, 98)]
    lines += [f"name = {toml_string(name)}", f"sync_type = {toml_string(sync_type)}"]
    lines += [f"{k} = {v}" for k, v in sorted((thresholds or {}).items())]
    path = Path(dest_dir) / DISTRICT_TOML
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def toml_string(value: str) -> str:
    """``value`` as a TOML basic string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
