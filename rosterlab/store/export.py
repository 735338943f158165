"""Export a snapshot: the received files byte for byte, or canonical files from the tables."""

from __future__ import annotations

import os
from datetime import UTC
from pathlib import Path, PurePosixPath

from rosterlab import spec
from rosterlab.errors import ExportError, StoreError
from rosterlab.store.sql import quote_ident, quote_literal
from rosterlab.store.store import SnapshotInfo, Store


def _prepare(dest: Path) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ExportError(f"{dest} exists and is not an empty folder: choose a new folder")
    dest.mkdir(parents=True, exist_ok=True)


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
    ``canonical``: the spec files regenerated from the history tables (UTF-8, no BOM, LF,
    minimal quoting, rows ordered by key, received column order).
    """
    dest = Path(dest)
    snapshot = store.snapshot(snapshot_id)
    _prepare(dest)
    if canonical:
        return _export_canonical(store, snapshot, dest)
    written = []
    for name, sha256, mtime in store.rows(
        "SELECT name, sha256, mtime FROM snapshot_files WHERE snapshot_id = ? ORDER BY name",
        [snapshot_id],
    ):
        target = _safe_target(dest, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with target.open("wb") as stream:
                store.copy_raw(sha256, stream)
        except StoreError:
            target.unlink()  # never leave a partial file that looks like the received one
            raise
        if mtime is not None:
            stamp = mtime.replace(tzinfo=UTC).timestamp()
            os.utime(target, (stamp, stamp))
        written.append(target)
    return written


def _export_canonical(store: Store, snapshot: SnapshotInfo, dest: Path) -> list[Path]:
    written = []
    files = store.rows(
        "SELECT spec_name, header FROM snapshot_files WHERE snapshot_id = ? AND rows IS NOT NULL "
        "ORDER BY spec_name",
        [snapshot.id],
    )
    for spec_name, header in files:
        target = dest / spec_name
        select, params = canonical_select(store, snapshot, spec_name, list(header))
        store.execute(
            f"COPY ({select}) TO {quote_literal(str(target))} "
            "(HEADER, DELIMITER ',', QUOTE '\"', ESCAPE '\"', NEW_LINE '\\n')",
            params,
        )
        written.append(target)
    return written


def canonical_select(
    store: Store, snapshot: SnapshotInfo, spec_name: str, header: list[str]
) -> tuple[str, list[object]]:
    """SQL (and bound values) producing a file's rows from the tables, in received column order."""
    entity = spec.ENTITIES[spec.entity_of_file(spec_name)]
    columns: list[str] = []
    for name in header:
        if name not in columns:
            columns.append(name)
    at = [snapshot.district, snapshot.seq, snapshot.seq]
    student_columns = set(entity.columns)
    params: list[object] = []
    select = []
    for name in columns:
        if name in student_columns:
            select.append(f"e.{quote_ident(name)} AS {quote_ident(name)}")
        elif spec_name == "students.csv" and name in spec.ENTITIES["contacts"].columns:
            select.append(f"c.{quote_ident(name)} AS {quote_ident(name)}")
        else:
            select.append(f"e.extra[?] AS {quote_ident(name)}")
            params.append(name)
    from_sql = f"({store.entity_sql(entity.name)}) e"
    params_from: list[object] = list(at)
    order = "e.key, e.row_hash"
    if spec_name == "students.csv":
        from_sql += (
            f" LEFT JOIN ({store.entity_sql('contacts')}) c "
            f"ON c.{quote_ident('Student_id')} = e.{quote_ident('Student_id')}"
        )
        params_from += at
        order += ", c.key"
    sql = f"SELECT {', '.join(select)} FROM {from_sql} ORDER BY {order}"
    return sql, params + params_from
