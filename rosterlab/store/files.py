"""The store file on disk: who holds it, the copy readers open, and damage.

DuckDB locks a database file per process: one writer *or* any number of readers, never both
(``Could not set lock on file``), so a notebook holding the store would make the nightly ingest
fail. Readers therefore never open the store file: after every write the writer publishes a copy
of the last committed state beside it (``STORE.published``: checkpoint, copy to a temporary file,
``os.replace``) and readers open that copy read-only. A reader keeps the state it opened (the
replaced file lives on while it is open) until it reopens; it never sees a half-written night,
and it never holds the store file, so the writer only ever waits for another writer (or
``rosterlab doctor``), with a bounded wait that names the holder.

The copy is made from a descriptor opened while DuckDB holds the file: DuckDB's lock is a POSIX
``fcntl`` lock, which the kernel drops when the process closes *any* descriptor of the file, so
``shutil.copyfile(store, ...)`` from the writer would let a second writer in.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from rosterlab.errors import StoreBusyError, StoreDamagedError, StoreError

Waiting = Callable[[str], None]
PUBLISHED_SUFFIX = ".published"
DEFAULT_WAIT = 300.0  # seconds a writer waits for another writer before giving up
_WAIT_NOTE_EVERY = 5.0  # seconds between two "waiting for the store" lines
_LOCK_PID = re.compile(r"PID (\d+)")
# DuckDB's words for a file that is not (or no longer) a whole database.
_DAMAGE = (
    "corrupt database file",
    "checksum",
    "could not read enough bytes",
    "not a valid duckdb database",
    "database has been invalidated",
    "internal error",
    "serialization error",
    "failed to load metadata",
    "block id",
)


def published_path(path: Path) -> Path:
    """The read-only copy of the last committed state that readers open."""
    return path.with_name(path.name + PUBLISHED_SUFFIX)


def holder(exc: BaseException) -> str:
    """``PID 123 (jupyter kernel)`` from DuckDB's lock error, as far as the system tells."""
    found = _LOCK_PID.search(str(exc))
    if not found:
        return "another process"
    pid = int(found.group(1))
    return f"PID {pid} ({what})" if (what := process_name(pid)) else f"PID {pid}"


def process_name(pid: int) -> str | None:
    """A human name for a process: ``jupyter kernel``, ``rosterlab ingest``, else its program."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    words = [a.decode(errors="replace") for a in argv if a]
    if not words:
        return None
    if any("ipykernel" in w for w in words):
        return "jupyter kernel"
    if any(w.endswith("rosterlab") or w == "rosterlab" for w in words):
        command = next((w for w in words[1:] if w.isalpha() and w != "rosterlab"), None)
        return f"rosterlab {command}" if command else "rosterlab"
    return Path(words[0]).name


def is_locked(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and "could not set lock" in str(exc).lower()


def damage(exc: BaseException) -> str | None:
    """DuckDB's first line when ``exc`` says the file is truncated or corrupt, else None."""
    if not isinstance(exc, duckdb.Error) or is_locked(exc):
        return None
    text = str(exc)
    if not any(word in text.lower() for word in _DAMAGE):
        return None
    return text.splitlines()[0].strip()


def damaged(path: Path, reason: str, *, in_copy: bool) -> StoreDamagedError:
    """The one line for a damaged store file, or (``in_copy``) the published copy of it."""
    copy = published_path(path)
    if in_copy:
        return StoreDamagedError(
            f"the copy readers open, {copy}, is damaged ({reason}): the next rosterlab ingest "
            f"publishes it again from the store; rosterlab doctor checks the store {path} itself"
        )
    restore = (
        f"restore it from a backup or from {copy} (the last published state)"
        if copy.is_file()
        else "restore it from a backup"
    )
    return StoreDamagedError(
        f"store {path} is damaged ({reason}): {restore}, or rebuild it by ingesting the "
        "district's kept nights again (rosterlab ingest DISTRICT_FOLDER into a new --store)"
    )


def connect_waiting(
    path: Path,
    *,
    read_only: bool,
    config: dict[str, Any],
    wait: float,
    on_wait: Waiting | None,
) -> tuple[duckdb.DuckDBPyConnection, float]:
    """Open the store file itself, waiting up to ``wait`` seconds while another process holds it;
    the connection and the seconds waited.

    ``on_wait`` hears ``waiting for the store, held by PID 123 (jupyter kernel) — 12 s`` now and
    then; past ``wait`` it is a StoreBusyError naming the holder.
    """
    started = time.monotonic()
    next_note = 1.0  # a wait shorter than a second goes unsaid
    pause = 0.02
    held = False  # whether it had to wait at all
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only, config=config)
            return con, (time.monotonic() - started) if held else 0.0
        except duckdb.IOException as exc:
            if not is_locked(exc):
                raise
            held = True
            waited = time.monotonic() - started
            if waited >= wait:
                raise StoreBusyError(
                    f"store {path} is in use by {holder(exc)} (waited {waited:.0f} s): wait for "
                    "it to finish and retry, or raise store_wait"
                ) from exc
            if on_wait is not None and waited >= next_note:
                next_note = waited + _WAIT_NOTE_EVERY
                on_wait(f"waiting for the store, held by {holder(exc)} — {waited:.0f} s")
            time.sleep(min(pause, max(wait - waited, 0.0)))
            pause = min(pause * 2, 0.25)


def attach_read_only(copy: Path, config: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    """A connection to the published copy, read-only, as the current catalog.

    ATTACH (from an in-memory database) rather than ``duckdb.connect(copy)``: DuckDB caches one
    database per path and process, so a second connect while an older one is open would return
    the replaced file's state instead of the current one.
    """
    # An in-memory database would spill to ./.tmp: a folder of its own instead, made only when
    # a query spills and removed by DuckDB at close.
    spill = Path(tempfile.gettempdir()) / f"rosterlab-read-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    con = duckdb.connect(":memory:", config={**config, "temp_directory": str(spill)})
    try:
        con.execute(f"ATTACH '{_literal(copy)}' AS store (READ_ONLY)")
        con.execute("USE store")
    except BaseException:
        con.close()
        raise
    return con


def _literal(path: Path) -> str:
    text = str(path)
    if "\x00" in text:
        raise StoreError(f"store path {text!r} holds a NUL character: give another --store")
    return text.replace("'", "''")


def stale(path: Path) -> bool:
    """True when the published copy is missing or older than the store file."""
    copy = published_path(path)
    try:
        copied = copy.stat()
    except FileNotFoundError:
        return True
    current = path.stat()
    return (copied.st_mtime_ns, copied.st_size) != (current.st_mtime_ns, current.st_size)


def publish(con: duckdb.DuckDBPyConnection, path: Path, descriptor: int) -> None:
    """Checkpoint, then copy the store file (read through ``descriptor``) over the published copy.

    The copy takes the store file's mtime, so :func:`stale` can tell whether it is current.
    Called by the writer with no transaction open; readers see the old copy or the new one.
    """
    con.execute("CHECKPOINT").fetchall()
    if not stale(path):
        return
    copy = published_path(path)
    for leftover in copy.parent.glob(f".{copy.name}.*.partial"):  # of a writer killed mid-copy
        pid = leftover.name.removeprefix(f".{copy.name}.").removesuffix(".partial")
        if pid.isdigit() and not _alive(int(pid)):
            leftover.unlink(missing_ok=True)
    partial = copy.with_name(f".{copy.name}.{os.getpid()}.partial")
    try:
        out = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            _copy(descriptor, out, os.fstat(descriptor).st_size)
            os.fsync(out)
        finally:
            os.close(out)
        current = os.fstat(descriptor)
        os.utime(partial, ns=(current.st_atime_ns, current.st_mtime_ns))
        os.replace(partial, copy)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _copy(source: int, target: int, size: int) -> None:
    """Copy ``size`` bytes from the start of ``source`` (in-kernel where the system can)."""
    done = 0
    try:
        while done < size:
            copied = os.copy_file_range(source, target, size - done, done)
            if copied == 0:
                break
            done += copied
        return
    except OSError as exc:
        if done or exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
    while done < size:
        chunk = os.pread(source, min(1 << 20, size - done), done)
        if not chunk:
            break
        os.write(target, chunk)
        done += len(chunk)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
