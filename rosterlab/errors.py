"""Exceptions: the tool could not do its job (bad *data* is a finding, never an exception).

Every error carries a one-line message that says what happened and what to do next, and the
exit code the CLI returns for it. The CLI is the one place that turns them into exit codes.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path

# The CLI's exit codes (README "Exit codes"): done; findings at or above --fail-on; the command
# could not do its job; interrupted (Ctrl-C; SIGTERM and SIGHUP exit 128 + their number).
EXIT_OK, EXIT_FINDINGS, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


class RosterlabError(Exception):
    """Base of every error a user can cause; the message is one actionable line."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(RosterlabError):
    """rosterlab.toml or an option is wrong."""


class BundleError(RosterlabError):
    """A bundle cannot be read at all (not a folder or zip, unsafe zip, too large).

    ``problem``: what is wrong with a zip whose files could be passed as a folder instead
    (the message adds ``ingest``'s advice; fleet mode adds its own, about the drop folder).
    """

    def __init__(self, message: str, *, problem: str | None = None) -> None:
        super().__init__(message)
        self.problem = problem


class StoreError(RosterlabError):
    """The history store cannot be opened or written."""


class StoreBusyError(StoreError):
    """Another process holds the store for writing."""


class StoreDamagedError(StoreError):
    """The store file is truncated or corrupt (restore it, or rebuild it from the nights)."""


class SnapshotNotFoundError(StoreError):
    """A snapshot reference does not name a snapshot in the store."""


class OutOfOrderError(StoreError):
    """A night older than the district's newest snapshot was offered for ingest."""


class TakenAtError(RosterlabError):
    """A snapshot's time is impossible (more than a day ahead of now)."""


class DiskFullError(RosterlabError):
    """A write failed because its disk, a quota or a file-size limit is full."""

    def __init__(self, path: str, reason: str, afterwards: str) -> None:
        super().__init__(
            f"disk full while writing {path} ({reason}): free space on that disk (or raise the "
            f"quota or file-size limit), then re-run; {afterwards}"
        )
        self.path = path
        self.reason = reason

    def after(self, afterwards: str) -> DiskFullError:
        """The same failure, saying what the caller left behind."""
        return DiskFullError(self.path, self.reason, afterwards)


_DISK_FULL_ERRNOS = {
    errno.ENOSPC: "no space left",
    errno.EFBIG: "file too large",
    errno.EDQUOT: "quota exceeded",
}
_DISK_FULL_TEXTS = {
    "no space left on device": "no space left",
    "file too large": "file too large",
    "disk quota exceeded": "quota exceeded",
}
_WRITING = re.compile(r'write file \\?"(.+?)\\?"')  # DuckDB quotes it, JSON-escaped or not


def disk_full(exc: BaseException, writing: str, afterwards: str) -> DiskFullError | None:
    """A DiskFullError when ``exc`` (an OSError or a DuckDB IO error) is a full disk, else None.

    ``writing`` names what was being written (the file the error names wins); ``afterwards``
    says what the failure left behind, e.g. "the store keeps what it held before".
    """
    if isinstance(exc, DiskFullError):
        return exc.after(afterwards)
    if isinstance(exc, RosterlabError):
        return None
    if isinstance(exc, OSError):
        reason = _DISK_FULL_ERRNOS.get(exc.errno or 0)
        name = exc.filename if isinstance(exc.filename, str) else None
    else:
        text = str(exc).lower()
        reason = next((why for word, why in _DISK_FULL_TEXTS.items() if word in text), None)
        found = _WRITING.search(str(exc))
        name = found.group(1) if found else None
    if reason is None:
        return None
    return DiskFullError(name or writing, reason, afterwards)


def cannot_write(path: Path, exc: OSError) -> str:
    """Why ``path`` could not be created or written, for an error line.

    A file where a folder of the path should be is named as such (``out/sub`` under a file
    ``out``); anything else (read-only, under /proc, permission) gives the system's reason.
    """
    for parent in (path, *path.parents):
        if parent.exists() or parent.is_symlink():
            if parent != path and not parent.is_dir():
                return f"{parent} is a file, not a folder"
            break
    where = path
    if isinstance(exc.filename, str) and Path(exc.filename).is_relative_to(path):
        where = Path(exc.filename)  # the file inside it that failed
    return f"cannot write {where} ({exc.strerror or type(exc).__name__})"


class ExportError(RosterlabError):
    """A snapshot cannot be exported (raw files pruned, destination not empty)."""


class TransportError(RosterlabError):
    """An SFTP target could not be reached, trusted, read or written."""


class HostUnreachableError(TransportError):
    """No SSH connection could be opened (refused, timed out, no route)."""


class HostKeyUnknownError(TransportError):
    """The server's host key is not pinned in the target's known_hosts file."""


class HostKeyChangedError(TransportError):
    """The server presented a key different from the pinned one (possible man-in-the-middle)."""


class AuthenticationError(TransportError):
    """The server refused the target's credentials."""


class RemotePermissionError(TransportError):
    """The server denied an operation on the remote folder."""


class RemoteDiskFullError(TransportError):
    """The server ran out of space (or quota) while storing a file."""


class ConnectionLostError(TransportError):
    """The connection dropped or stalled mid-transfer (retried before it is raised)."""


class PosixRenameUnsupportedError(TransportError):
    """The server lacks posix-rename, so a bundle cannot be swapped in atomically."""


class ApiError(RosterlabError):
    """Clever's Data API (or the stand-in) could not be read: refused, unreachable, malformed."""


class RulesError(RosterlabError):
    """A corrections rules file is invalid (names the rule and its line)."""


class FixError(RosterlabError):
    """A corrected bundle cannot be built or written (output folder in use, snapshot unusable)."""


class PushRefusedError(RosterlabError):
    """A bundle still has error findings: Clever would not process it, or skip or mislink
    records."""


class ReportError(RosterlabError):
    """A notebook report could not be run or written (a cell failed, the notebook is missing)."""


class LabError(RosterlabError):
    """JupyterLab could not be started (port in use, notebooks folder missing)."""


class LedgerError(RosterlabError):
    """A customization-ledger entry is invalid or does not exist."""
