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
from rosterlab.config import Limits
from rosterlab.errors import TransportError
from rosterlab.spec import FILES
from rosterlab.transport.common import TransferProgress
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
    """Writes the download locally while hashing it; local failures are told apart from remote.

    More than ``cap`` bytes (a server sending more than it announced) stop the download.
    """

    def __init__(self, fh: BinaryIO, path: Path, cap: int, refusal: str) -> None:
        self._fh = fh
        self._path = path
        self._cap = cap
        self._refusal = refusal
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        if self.size + len(data) > self._cap:
            raise TransportError(self._refusal)
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
    s: Session,
    name: str,
    remote_mtime: int,
    local: Path,
    progress: TransferProgress | None,
    cap: int,
    refusal: str,
) -> PulledFile:
    remote = posixpath.join(s.target.remote_dir, name)

    def callback(done: int, total: int) -> None:
        if progress is not None:
            progress(name, done, total)

    with local.open("wb") as fh, s.guard(f"downloading {name}", remote):
        writer = _HashingWriter(fh, local, cap, refusal)
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


def _wanted(s: Session, limits: Limits) -> list[tuple[str, int, int]]:
    """(name, mtime, size) of the remote spec files and look-alikes, checked before any download.

    A link is followed on the server when it leads to a regular file inside the drop folder;
    any other link, a folder or device under a spec name, a name that cannot be a file name, or
    sizes over the limits refuse the whole pull: a partial bundle would record deletions.
    """
    t = s.target
    wanted = []
    for entry in s.listdir():
        name = entry.filename
        if spec_name_of(name) is None:
            continue
        if name in (".", "..") or "/" in name or "\0" in name:
            raise TransportError(
                f"{t.address} lists a file named {name!r} in {t.remote_dir}, which cannot be a "
                "file name: nothing was pulled; ask the provider to check the server"
            )
        attrs = entry
        remote = posixpath.join(t.remote_dir, name)
        if stat.S_ISLNK(entry.st_mode or 0):
            with s.guard(f"following the link {name}", remote):
                real = s.client.normalize(remote)
                root = s.client.normalize(t.remote_dir)
                attrs = s.client.stat(remote)
            if not real.startswith(root.rstrip("/") + "/") or not stat.S_ISREG(attrs.st_mode or 0):
                raise TransportError(
                    f"{name} on {t.address} is a link to {real}, which is not a file in "
                    f"{t.remote_dir}: nothing was pulled; replace the link by the file"
                )
        if not stat.S_ISREG(attrs.st_mode or 0):
            raise TransportError(
                f"{name} on {t.address} is not a regular file (a folder or a device): nothing "
                "was pulled; the district must upload it as a file"
            )
        size = int(attrs.st_size or 0)
        if size > limits.pull_max_file_bytes:
            raise TransportError(
                f"{name} on {t.address} is {size:,} bytes, over the limit of "
                f"{limits.pull_max_file_bytes:,} (pull_max_file_bytes in [limits]): nothing was "
                "pulled"
            )
        wanted.append((name, int(attrs.st_mtime or 0), size))
    total = sum(size for _, _, size in wanted)
    if total > limits.pull_max_bytes:
        raise TransportError(
            f"the files on {t.address} add up to {total:,} bytes, over the limit of "
            f"{limits.pull_max_bytes:,} (pull_max_bytes in [limits]): nothing was pulled"
        )
    return sorted(wanted)


def pull_bundle(
    target: Target,
    dest_dir: Path,
    *,
    progress: TransferProgress | None = None,
    limits: Limits | None = None,
) -> PullResult:
    """Download the target's spec files and look-alikes into an empty ``dest_dir``.

    Remote modification times become the local ones. On failure nothing pulled is left behind.
    A file or bundle over ``limits`` (also one growing while it is downloaded) is refused.
    """
    limits = limits or Limits()
    dest = Path(dest_dir)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise TransportError(f"{dest} is not an empty folder: pull into a new or empty folder")
    started = datetime.now(UTC)
    created_dir = False
    written: list[Path] = []
    try:
        with Session(target) as s:
            wanted = _wanted(s, limits)
            created_dir = not dest.exists()
            dest.mkdir(parents=True, exist_ok=True)
            files = []
            budget = limits.pull_max_bytes
            for name, mtime, _ in wanted:
                written.append(dest / name)
                cap = min(limits.pull_max_file_bytes, budget)
                refusal = (
                    f"{name} on {target.address} grew past {cap:,} bytes while it was downloaded "
                    "(pull_max_file_bytes / pull_max_bytes in [limits]): nothing was pulled"
                )
                files.append(_download(s, name, mtime, dest / name, progress, cap, refusal))
                budget -= files[-1].size
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
