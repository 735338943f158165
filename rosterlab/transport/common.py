"""What push and pull share: content digests and the progress callback type."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path

_CHUNK = 1 << 20

Progress = Callable[[str, int, int], None]
"""``progress(file_name, bytes_done, bytes_total)``, called as each file transfers."""


def file_sha256(path: Path) -> str:
    """sha256 of a local file, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def bundle_sha256(files: Iterable[tuple[str, str]]) -> str:
    """sha256 over the sorted ``name\\0sha256\\n`` lines of a bundle's files."""
    lines = "".join(f"{name}\0{sha}\n" for name, sha in sorted(files))
    return hashlib.sha256(lines.encode()).hexdigest()
