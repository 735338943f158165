"""Export a snapshot: the received files byte for byte, or canonical files from the tables."""

from __future__ import annotations

import os
import shutil
from datetime import UTC
from pathlib import Path, PurePosixPath

from rosterlab import spec
from rosterlab.errors import ExportError, cannot_write, disk_full
from rosterlab.store.sql import quote_ident
from rosterlab.store.staging import positional
from rosterlab.store.store import SnapshotInfo, Store
from rosterlab.store.write import copy_csv


def _prepare(dest: Path) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ExportError(f"{dest} exists and is not an empty folder: choose a new folder")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"{cannot_write(dest, exc)}: choose another folder") from exc


def _safe_target(dest: Path, name: str) -> Path:
    parts = PurePosixPath(name).parts
    if not parts or PurePosixPath(name).is_absolute() or ".." in parts:
        raise ExportError(f"refusing to export unsafe file name {name!r}")
    return dest.joinpath(*parts)


def export_snapshot(
    store: Store, snapshot_id: int, dest: str | Path, *, canonical: bool = False
) -> list[Path]:
    """Write a snapshot's files into ``dest`` (new or empty); return the written paths.

    Default: every file exactly as received (sha256-identical), with its received mtime.
    ``canonical``: the spec files regenerated from the history tables under their spec names
    (UTF-8, no BOM, LF, minimal quoting, rows ordered by key, received column order, spec
    columns spelled as the spec spells them). A failure (a full disk, a
    corrupt raw file) removes what was written, so ``dest`` is left empty for the re-run.
    """
    dest = Path(dest)
    snapshot = store.snapshot(snapshot_id)
    _prepare(dest)
    written: list[Path] = []
    try:
        if canonical:
            _export_canonical(store, snapshot, dest, written)
        else:
            _export_received(store, snapshot, dest, written)
    except BaseException as exc:
        _empty(dest)
        full = disk_full(exc, str(written[-1] if written else dest), "nothing was exported")
        if full is not None:
            raise full from exc
        if isinstance(exc, OSError):
            raise ExportError(
                f"{cannot_write(dest, exc)}: choose another folder; nothing was exported"
            ) from exc
        raise
    return written


def _export_received(store: Store, snapshot: SnapshotInfo, dest: Path, written: list[Path]) -> None:
    for name, sha256, mtime in store.rows(
        "SELECT name, sha256, mtime FROM snapshot_files WHERE snapshot_id = ? ORDER BY name",
        [snapshot.id],
    ):
        target = _safe_target(dest, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        written.append(target)
        with target.open("wb") as stream:
            store.copy_raw(sha256, stream)
        if mtime is not None:
            stamp = mtime.replace(tzinfo=UTC).timestamp()
            os.utime(target, (stamp, stamp))


def _empty(dest: Path) -> None:
    """Remove what a failed export wrote: ``dest`` was empty when it began."""
    for path in dest.iterdir():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def _export_canonical(
    store: Store, snapshot: SnapshotInfo, dest: Path, written: list[Path]
) -> None:
    files = store.rows(
        "SELECT spec_name, header FROM snapshot_files WHERE snapshot_id = ? AND rows IS NOT NULL "
        "ORDER BY spec_name",
        [snapshot.id],
    )
    for spec_name, header in files:
        target = dest / spec_name
        select, params, columns = canonical_select(store, snapshot, spec_name, list(header))
        written.append(target)
        copy_csv(store, select, params, target, header=columns, newline="\n")


def canonical_select(
    store: Store, snapshot: SnapshotInfo, spec_name: str, header: list[str]
) -> tuple[str, list[object], list[str]]:
    """SQL, bound values and header of a file's rows from the tables, in received column order.

    Output columns are positional (``c0``, ``c1``...) and the header is written apart, so any
    received name works, even one holding a NUL byte (which no SQL identifier can).
    """
    entity = spec.ENTITIES[spec.entity_of_file(spec_name)]
    columns: list[str] = []
    for name in header:  # spec columns in their spec spelling (SCHOOL_ID → School_id)
        name = spec.spec_column(spec_name, name) or name
        if name not in columns:
            columns.append(name)
    embedded = spec.entity_within(spec_name)  # contacts, in students.csv's rows
    at = [snapshot.district, snapshot.seq, snapshot.seq]
    params: list[object] = []
    select = []
    for index, name in enumerate(columns):
        if name in entity.columns:
            value = f"e.{quote_ident(name)}"
        elif embedded is not None and name in embedded.columns:
            value = f"c.{quote_ident(name)}"
        else:
            value = "e.extra[?]"
            params.append(name)
        select.append(f"{value} AS {positional(index)}")
    from_sql = f"({store.entity_sql(entity.name)}) e"
    params_from: list[object] = list(at)
    order = "e.key, e.row_hash"
    if embedded is not None and embedded.within is not None:
        owner = quote_ident(embedded.within)
        from_sql += f" LEFT JOIN ({store.entity_sql(embedded.name)}) c ON c.{owner} = e.{owner}"
        params_from += at
        order += ", c.key"
    sql = f"SELECT {', '.join(select)} FROM {from_sql} ORDER BY {order}"
    return sql, params + params_from, columns
