"""Raw received files, kept content-addressed and compressed so exports are byte-identical.

zstd (level 3) compresses roster CSVs about 19× at several hundred MB/s, so keeping every
received file costs little time or disk; it runs in a thread beside DuckDB's parse.
"""

from __future__ import annotations

import zstandard

CODEC = "zstd"
LEVEL = 3


def compress(data: bytes) -> tuple[str, bytes]:
    return CODEC, zstandard.ZstdCompressor(level=LEVEL).compress(data)


def decompress(codec: str, data: bytes) -> bytes:
    if codec != CODEC:
        raise ValueError(f"unknown raw codec {codec}")
    return zstandard.ZstdDecompressor().decompress(data)
