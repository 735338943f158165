"""Push a bundle folder to an SFTP target: plan, upload to ``*.part``, verify, posix-rename.

Clever starts processing about five minutes after the last SFTP activity, so the final names
change only in one burst of renames once every file is uploaded and verified: every rename
request leaves in a single write, so a push killed mid-burst has sent all renames or none. The
server makes them in order until it stops, and it can stop early once the client is gone (seen
with OpenSSH's sftp-server under load): a push killed just after the burst can leave the first
files new and the rest old beside their new ``*.part`` — the next push completes it. A
failure before the burst leaves the remote's previous bundle untouched and removes our ``*.part``
files (a killed push leaves them; the next push overwrites or removes them).
"""

from __future__ import annotations

import hashlib
import posixpath
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from rosterlab.bundle.digest import bundle_sha256, file_sha256
from rosterlab.errors import (
    BundleError,
    ConfigError,
    ConnectionLostError,
    HostUnreachableError,
    PosixRenameUnsupportedError,
    RosterlabError,
    TransportError,
)
from rosterlab.spec import FILES
from rosterlab.transport.common import TransferProgress
from rosterlab.transport.session import POSIX_RENAME, Session
from rosterlab.transport.target import Target

PART_SUFFIX = ".part"
_TRANSIENT = (ConnectionLostError, HostUnreachableError)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class PlannedFile:
    """One spec file of the bundle and where it goes."""

    name: str
    size: int
    sha256: str
    local_path: Path
    remote_path: str

    @property
    def part_path(self) -> str:
        """The temporary remote name it is uploaded to before the rename."""
        return self.remote_path + PART_SUFFIX

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "size": self.size,
            "sha256": self.sha256,
            "local_path": str(self.local_path),
            "remote_path": self.remote_path,
        }


@dataclass(frozen=True)
class PushPlan:
    """What a push will do, computed without any connection."""

    target: str
    host: str
    port: int
    remote_dir: str
    bundle_dir: Path
    files: tuple[PlannedFile, ...]  # spec order
    skipped: tuple[str, ...]  # top-level entries that are not spec files (not uploaded)
    missing: tuple[str, ...]  # required spec files absent from the bundle
    bundle_sha256: str

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "host": self.host,
            "port": self.port,
            "remote_dir": self.remote_dir,
            "bundle_dir": str(self.bundle_dir),
            "files": [f.to_dict() for f in self.files],
            "skipped": list(self.skipped),
            "missing": list(self.missing),
            "bundle_sha256": self.bundle_sha256,
            "total_bytes": self.total_bytes,
        }


@dataclass(frozen=True)
class PushResult:
    """What a push did (``outcome`` is ``pushed`` or ``dry-run``); failures raise instead."""

    plan: PushPlan
    outcome: str
    started_at: datetime
    finished_at: datetime
    attempts: int  # connections tried (0 for a dry run)
    stale_remote: tuple[str, ...]  # spec files on the remote this bundle did not replace

    def to_dict(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "target": plan.target,
            "host": plan.host,
            "port": plan.port,
            "remote_dir": plan.remote_dir,
            "bundle_dir": str(plan.bundle_dir),
            "outcome": self.outcome,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "attempts": self.attempts,
            "bundle_sha256": plan.bundle_sha256,
            "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in plan.files],
            "skipped": list(plan.skipped),
            "missing": list(plan.missing),
            "stale_remote": list(self.stale_remote),
        }


def plan_push(target: Target, bundle_dir: Path) -> PushPlan:
    """The spec files at the top of ``bundle_dir`` with sizes, digests and remote paths."""
    if not bundle_dir.is_dir():
        raise BundleError(f"{bundle_dir} is not a folder: push takes a bundle folder")
    present = {p.name: p for p in bundle_dir.iterdir()}
    files = tuple(
        PlannedFile(
            name=name,
            size=present[name].stat().st_size,
            sha256=file_sha256(present[name]),
            local_path=present[name],
            remote_path=posixpath.join(target.remote_dir, name),
        )
        for name in FILES
        if name in present and present[name].is_file()
    )
    if not files:
        raise BundleError(f"{bundle_dir} holds no spec files ({', '.join(FILES)}): nothing to push")
    planned = {f.name for f in files}
    return PushPlan(
        target=target.name,
        host=target.host,
        port=target.port,
        remote_dir=target.remote_dir,
        bundle_dir=bundle_dir,
        files=files,
        skipped=tuple(sorted(set(present) - planned)),
        missing=tuple(n for n, spec in FILES.items() if spec.required and n not in planned),
        bundle_sha256=bundle_sha256((f.name, f.sha256) for f in files),
    )


class _HashingReader:
    """Reads the local file for paramiko while hashing it, so what was sent is what was planned."""

    def __init__(self, fh: BinaryIO, path: Path) -> None:
        self._fh = fh
        self._path = path
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        try:
            data = self._fh.read(n)
        except OSError as exc:
            raise BundleError(f"cannot read {self._path} ({exc.strerror}): re-run push") from exc
        self.digest.update(data)
        self.size += len(data)
        return data


@dataclass
class _State:
    """Whether an attempt lost its connection during the rename burst (some may be done)."""

    renaming: bool = False


def _upload(s: Session, f: PlannedFile, progress: TransferProgress | None) -> None:
    def callback(done: int, total: int) -> None:
        if progress is not None:
            progress(f.name, done, total)

    try:
        fh = f.local_path.open("rb")
    except OSError as exc:
        raise BundleError(f"cannot read {f.local_path} ({exc.strerror}): re-run push") from exc
    with fh, s.guard(f"uploading {f.name}", f.part_path):
        reader = _HashingReader(fh, f.local_path)
        s.client.upload(reader, f.part_path, f.size, callback)
        stored = s.client.stat(f.part_path).st_size
    if reader.size != f.size or reader.digest.hexdigest() != f.sha256:
        raise BundleError(f"{f.local_path} changed while it was being pushed: re-run push")
    if stored != f.size:
        raise TransportError(
            f"{s.target.address} stored {stored} bytes of {f.name}, {f.size} were sent: re-run "
            "push, and ask the provider if it repeats"
        )


def _commit(s: Session, plan: PushPlan, state: _State) -> None:
    """The burst: rename every uploaded ``*.part`` over its final name, all requests at once."""
    total = len(plan.files)
    state.renaming = True
    with s.guard(f"renaming {total} uploaded files into place", plan.files[0].part_path):
        errors = s.client.rename_all([(f.part_path, f.remote_path) for f in plan.files])
    done = sum(error is None for error in errors)
    for f, error in zip(plan.files, errors, strict=True):
        if error is None:
            continue
        try:
            with s.guard(f"renaming {f.name}{PART_SUFFIX} to {f.name}", f.part_path):
                raise error
        except RosterlabError as exc:
            if done == 0:
                raise
            raise type(exc)(
                f"{exc.message}; {done} of {total} files were already replaced, so the remote "
                "holds a mix of old and new files: fix this, then re-run push"
            ) from exc
    state.renaming = False


def _push_once(
    target: Target, plan: PushPlan, progress: TransferProgress | None, state: _State
) -> tuple[str, ...]:
    """One connection: upload every file as ``*.part``, verify, then rename them all."""
    with Session(target) as s:
        if POSIX_RENAME not in s.client.extensions:
            raise PosixRenameUnsupportedError(
                f"{target.address} does not support posix-rename ({POSIX_RENAME}), so the "
                "bundle cannot be swapped in safely: nothing was uploaded; ask the provider to "
                "enable it or push to a server that has it"
            )
        listing = {a.filename for a in s.listdir()}
        planned = {f.name for f in plan.files}
        ours = [f.part_path for f in plan.files]
        leftovers = sorted(
            posixpath.join(target.remote_dir, n)
            for n in listing
            if n.endswith(PART_SUFFIX)
            and n.removesuffix(PART_SUFFIX) in FILES
            and n.removesuffix(PART_SUFFIX) not in planned
        )
        s.remove_quietly(leftovers)  # harmless to Clever, but tidy
        try:
            for f in plan.files:
                _upload(s, f, progress)
            _commit(s, plan, state)
        except BaseException:
            if s.alive:
                s.remove_quietly(ours)
            raise
    return tuple(sorted(n for n in listing if n in FILES and n not in planned))


def _cleanup(target: Target, plan: PushPlan) -> None:
    """Best effort, on a fresh connection: remove the ``*.part`` files a lost one left behind."""
    try:
        with Session(target) as s:
            s.remove_quietly([f.part_path for f in plan.files])
    except RosterlabError:
        pass


def push_bundle(
    target: Target,
    bundle_dir: Path,
    *,
    dry_run: bool = False,
    progress: TransferProgress | None = None,
    retries: int = 3,
    backoff: float = 1.0,
) -> PushResult:
    """Upload the bundle's spec files to ``target`` so the remote switches bundles in one burst.

    ``dry_run`` only plans (no connection). Lost connections are retried ``retries`` times,
    waiting ``backoff`` seconds, doubled after each attempt; each attempt redoes the whole upload.
    """
    if retries < 0 or backoff < 0:
        raise ConfigError("push: retries and backoff must not be negative")
    started = _now()
    plan = plan_push(target, Path(bundle_dir))
    if dry_run:
        return PushResult(plan, "dry-run", started, _now(), attempts=0, stale_remote=())
    state = _State()
    attempts = 0
    while True:
        attempts += 1
        try:
            stale = _push_once(target, plan, progress, state)
        except _TRANSIENT as exc:
            if attempts <= retries:
                time.sleep(backoff * 2 ** (attempts - 1))
                continue
            _cleanup(target, plan)
            outcome = (
                "the connection was lost during the renames, so the remote may hold a mix of old "
                "and new files: re-run push now"
                if state.renaming
                else "the remote still holds its previous files: re-run push once it is reachable"
            )
            raise type(exc)(
                f"{exc.message}; gave up after {attempts} attempt(s): {outcome}"
            ) from exc
        return PushResult(plan, "pushed", started, _now(), attempts=attempts, stale_remote=stale)
