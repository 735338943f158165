"""The identities of files and bundles: sha256 of a file, and of a bundle as its named files."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path


def file_sha256(path: Path) -> str:
    """sha256 of a file, streamed."""
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def bundle_sha256(files: Iterable[tuple[str, str]]) -> str:
    """sha256 over the sorted ``name\\0sha256\\n`` lines of a bundle's (name, sha256) files.

    The same files give the same identity whatever their order or where they came from (a
    folder, a zip, an SFTP drop): re-ingesting a bundle is recognised by it.
    """
    lines = "".join(f"{name}\0{sha}\n" for name, sha in sorted(files))
    return hashlib.sha256(lines.encode()).hexdigest()
