"""Raw received files, kept content-addressed and compressed so exports are byte-identical.

A district sends nearly the same files every night, so a spec file is kept as a full zstd frame
(a *keyframe*) once and, on later nights, as a zstd "patch-from" *delta* against the district's
current keyframe of that file: with ~1 % nightly churn a delta costs about 0.45 % of a full frame
per night since its keyframe. Deltas form a star, never a chain, so any file is rebuilt from at
most one keyframe plus one delta. A new keyframe starts when a delta would outweigh
``REKEY_RATIO`` of a full frame.

Every blob is decoded and checked against the file's sha256 before it is stored, and again
whenever its file is read, so a wrong blob is never committed or returned silently. Memory stays
near twice the file's size: the keyframe's content (the delta's prefix) plus either the new file,
memory-mapped, or the decoder's window; compressed and decoded data is streamed in chunks.
"""

from __future__ import annotations

import hashlib
import mmap
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyzstd
from pyzstd import CParameter, DParameter

from rosterlab.bundle.digest import file_sha256
from rosterlab.errors import StoreError

FULL = "zstd"
DELTA = "zstd-delta"
LEVEL = 3
REKEY_RATIO = 0.25  # a delta above this share of a full frame's size starts a new keyframe
CHUNK = 4 << 20
PART = 4 << 20  # a stored blob's part (rosterlab/store/schema.py, RAW_PARTS)
_MAX_WINDOW_LOG = 31  # zstd's limit on 64-bit: a delta reaches back over at most 2 GiB


@dataclass(frozen=True)
class Blob:
    """A raw file as stored: its codec, the compressed bytes, and a delta's keyframe."""

    codec: str
    data: bytes
    base_sha256: str | None = None


@dataclass(frozen=True)
class Keyframe:
    """A keyframe's content loaded as a zstd prefix, to encode or decode deltas against it."""

    sha256: str
    size: int
    packed_size: int
    prefix: pyzstd.ZstdDict


def load_keyframe(sha256: str, size: int, data: bytes) -> Keyframe:
    """Decode a stored keyframe into a delta prefix.

    Its sha256 is not recomputed (zstd's frame checksum guards the decoding): a delta is
    verified end to end against the new file anyway, and reading the keyframe's own file checks it.
    """
    content = _decode(sha256, size, data, None, check_sha256=False)
    # ZstdDict copies the content; the decoded buffer is freed on return.
    return Keyframe(sha256, size, len(data), pyzstd.ZstdDict(content, is_raw=True))


def pack(name: str, path: Path, sha256: str, size: int, keyframe: Keyframe | None) -> Blob:
    """Compress a received file: a delta against ``keyframe`` when small enough, else a keyframe.

    The result is decoded and compared with ``sha256`` before it is returned.
    """
    if keyframe is not None and size and keyframe.size:
        blob = Blob(DELTA, _encode_delta(name, path, size, keyframe), keyframe.sha256)
        full_estimate = keyframe.packed_size * size / keyframe.size
        if len(blob.data) <= REKEY_RATIO * full_estimate:
            _verify(name, path, sha256, size, blob, keyframe)
            return blob
    blob = Blob(FULL, _encode_full(path))
    _verify(name, path, sha256, size, blob, None)
    return blob


def unpack(sha256: str, size: int, blob: Blob, keyframe: Keyframe | None) -> bytes:
    """The bytes of a stored file, checked against its sha256 (StoreError when they differ)."""
    _known_codec(sha256, blob)
    return bytes(_decode(sha256, size, blob.data, keyframe))


def unpack_to(
    stream: BinaryIO, sha256: str, size: int, blob: Blob, keyframe: Keyframe | None
) -> None:
    """Write a stored file to ``stream`` as it is decoded; its sha256 is checked at the end."""
    _known_codec(sha256, blob)
    for chunk in _checked_chunks(sha256, size, blob.data, keyframe):
        stream.write(chunk)


def _known_codec(sha256: str, blob: Blob) -> None:
    if blob.codec not in (FULL, DELTA):
        raise StoreError(
            f"raw file {sha256[:12]} has unknown codec {blob.codec!r}: upgrade rosterlab"
        )


def _encode_full(path: Path) -> bytes:
    """A full frame, streamed from the file (:func:`_verify` then checks it decodes to the
    received bytes, which also catches a file changed since it was hashed)."""
    compressor = pyzstd.ZstdCompressor(
        {CParameter.compressionLevel: LEVEL, CParameter.checksumFlag: 1}
    )
    parts = []
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            parts.append(compressor.compress(chunk))
    parts.append(compressor.flush())
    return b"".join(parts)


def _encode_delta(name: str, path: Path, size: int, keyframe: Keyframe) -> bytes:
    """A patch-from frame: the file memory-mapped, the keyframe's content as its prefix."""
    window_log = min(_MAX_WINDOW_LOG, max(10, (keyframe.size + size).bit_length()))
    options: dict[int, int] = {
        CParameter.compressionLevel: LEVEL,
        CParameter.windowLog: window_log,
        CParameter.enableLongDistanceMatching: 1,
        CParameter.checksumFlag: 1,
    }
    with path.open("rb") as stream:
        if os.fstat(stream.fileno()).st_size != size:
            raise _changed(name)
        with mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as view:
            return pyzstd.compress(view, options, keyframe.prefix.as_prefix)


def _verify(
    name: str, path: Path, sha256: str, size: int, blob: Blob, keyframe: Keyframe | None
) -> None:
    """Decode a fresh blob; when it is not the file, say whether the file or the codec moved."""
    try:
        for _ in _checked_chunks(sha256, size, blob.data, keyframe):
            pass
    except StoreError as exc:
        if file_sha256(path) != sha256:
            raise _changed(name) from exc
        raise StoreError(
            f"{blob.codec} encoding of {name} did not decode to the received bytes; nothing was "
            "stored: report this rosterlab bug with the file"
        ) from exc


def _decode(
    sha256: str, size: int, data: bytes, keyframe: Keyframe | None, *, check_sha256: bool = True
) -> bytearray:
    """Decode into one buffer allocated up front (many chunks would fragment the heap)."""
    content = bytearray(size)
    at = 0
    for chunk in _checked_chunks(sha256, size, data, keyframe, check_sha256=check_sha256):
        content[at : at + len(chunk)] = chunk
        at += len(chunk)
    return content


def _checked_chunks(
    sha256: str, size: int, data: bytes, keyframe: Keyframe | None, *, check_sha256: bool = True
) -> Iterator[bytes]:
    """Decode a frame in chunks; raise StoreError unless it yields exactly the file's bytes."""
    digest = hashlib.sha256() if check_sha256 else None
    seen = 0
    try:
        decoder = pyzstd.ZstdDecompressor(
            keyframe.prefix.as_prefix if keyframe else None,
            {DParameter.windowLogMax: _MAX_WINDOW_LOG},
        )
        chunk = decoder.decompress(data, CHUNK)
        while True:
            seen += len(chunk)
            if seen > size:
                break
            if digest is not None:
                digest.update(chunk)
            yield chunk
            if decoder.eof or decoder.needs_input:
                break
            chunk = decoder.decompress(b"", CHUNK)
        complete = decoder.eof and not decoder.unused_data
    except pyzstd.ZstdError as exc:
        raise _corrupt(sha256, keyframe, "zstd cannot decode it") from exc
    if not complete or seen != size:
        raise _corrupt(sha256, keyframe, "truncated or overlong")
    if digest is not None and digest.hexdigest() != sha256:
        raise _corrupt(sha256, keyframe, "sha256 differs")


def _corrupt(sha256: str, keyframe: Keyframe | None, reason: str) -> StoreError:
    base = f" (a delta of keyframe {keyframe.sha256[:12]})" if keyframe else ""
    return StoreError(
        f"raw file {sha256[:12]}{base} is corrupt ({reason}): export it with --canonical instead"
    )


def _changed(name: str) -> StoreError:
    return StoreError(f"{name} changed while it was being ingested: ingest again")
