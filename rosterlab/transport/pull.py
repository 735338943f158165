"""Pull a target's current files (spec names and misnamed look-alikes) into a local folder."""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from rosterlab.bundle.digest import bundle_sha256
from rosterlab.errors import TransportError
from rosterlab.spec import FILES
from rosterlab.transport.common import Progress
from rosterlab.transport.session import Session
from rosterlab.transport.target import Target


def spec_name_of(name: str) -> str | None:
    """The spec file a remote name is or clearly means (``Students.csv`` → ``students.csv``)."""
    folded = name.casefold()
    for spec_name, spec in FILES.items():
        if folded == spec_name or folded.rsplit(".", 1)[0] == spec.stem:
            return spec_name
    return None


@dataclass(frozen=True)
class PulledFile:
    """One downloaded file; ``spec_name`` differs from ``name`` for a misnamed look-alike."""

    name: str
    spec_name: str
    size: int
    sha256: str
    mtime: datetime  # the remote modification time, also set on the local copy

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "spec_name": self.spec_name,
            "size": self.size,
            "sha256": self.sha256,
            "mtime": self.mtime.isoformat(),
        }


@dataclass(frozen=True)
class PullResult:
    """What a pull downloaded, and from where."""

    target: str
    host: str
    port: int
    remote_dir: str
    dest_dir: Path
    started_at: datetime
    finished_at: datetime
    files: tuple[PulledFile, ...]  # sorted by name
    bundle_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "host": self.host,
            "port": self.port,
            "remote_dir": self.remote_dir,
            "dest_dir": str(self.dest_dir),
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "files": [f.to_dict() for f in self.files],
            "bundle_sha256": self.bundle_sha256,
        }


class _HashingWriter:
    """Writes the download locally while hashing it; local failures are told apart from remote."""

    def __init__(self, fh: BinaryIO, path: Path) -> None:
        self._fh = fh
        self._path = path
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        try:
            self._fh.write(data)
        except OSError as exc:
            raise TransportError(
                f"cannot write {self._path} ({exc.strerror}): free local disk space or pull "
                "into another folder"
            ) from exc
        self.digest.update(data)
        self.size += len(data)
        return len(data)


def _download(
    s: Session, name: str, remote_mtime: int, local: Path, progress: Progress | None
) -> PulledFile:
    remote = posixpath.join(s.target.remote_dir, name)

    def callback(done: int, total: int) -> None:
        if progress is not None:
            progress(name, done, total)

    with local.open("wb") as fh, s.guard(f"downloading {name}", remote):
        writer = _HashingWriter(fh, local)
        s.client.getfo(remote, writer, callback=callback)
        expected = s.client.stat(remote).st_size
    if writer.size != expected:
        raise TransportError(
            f"{name} changed on {s.target.address} while it was downloaded ({writer.size} of "
            f"{expected} bytes): pull again"
        )
    os.utime(local, (remote_mtime, remote_mtime))
    return PulledFile(
        name=name,
        spec_name=spec_name_of(name) or name,
        size=writer.size,
        sha256=writer.digest.hexdigest(),
        mtime=datetime.fromtimestamp(remote_mtime, UTC),
    )


def pull_bundle(target: Target, dest_dir: Path, *, progress: Progress | None = None) -> PullResult:
    """Download the target's spec files and look-alikes into an empty ``dest_dir``.

    Remote modification times become the local ones. On failure nothing pulled is left behind.
    """
    dest = Path(dest_dir)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise TransportError(f"{dest} is not an empty folder: pull into a new or empty folder")
    started = datetime.now(UTC)
    created_dir = False
    written: list[Path] = []
    try:
        with Session(target) as s:
            wanted = sorted(
                (a.filename, int(a.st_mtime or 0))
                for a in s.listdir()
                if stat.S_ISREG(a.st_mode or 0) and spec_name_of(a.filename) is not None
            )
            created_dir = not dest.exists()
            dest.mkdir(parents=True, exist_ok=True)
            files = []
            for name, mtime in wanted:
                written.append(dest / name)
                files.append(_download(s, name, mtime, dest / name, progress))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        if created_dir:
            with contextlib.suppress(OSError):
                dest.rmdir()
        raise
    return PullResult(
        target=target.name,
        host=target.host,
        port=target.port,
        remote_dir=target.remote_dir,
        dest_dir=dest,
        started_at=started,
        finished_at=datetime.now(UTC),
        files=tuple(files),
        bundle_sha256=bundle_sha256((f.name, f.sha256) for f in files),
    )
