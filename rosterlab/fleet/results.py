"""Fleet results as data: Parquet, hive-partitioned by night and district.

``results/<table>/night=YYYY-MM-DD/district=<ID>/part-0.parquet``; ``night`` and ``district`` are
partition columns only, never stored in the files. Every (night, district) gets all five tables
(empty ones too, with their columns), rows sorted, so readers union them without surprises.
``outcomes`` is written last: its file is the mark of a finished district-night.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from rosterlab.errors import RosterlabError
from rosterlab.store.fleet_results import COLUMNS, RESULTS

OUTCOMES = "outcomes"
# Polars types of the contract's DuckDB types (rosterlab.store.fleet_results.COLUMNS).
_POLARS: dict[str, Any] = {
    "VARCHAR": pl.String,
    "BIGINT": pl.Int64,
    "INTEGER": pl.Int32,
    "DOUBLE": pl.Float64,
    "TIMESTAMP": pl.Datetime("us"),
    "BOOLEAN": pl.Boolean,
}
SCHEMAS: dict[str, dict[str, Any]] = {
    table: {name: _POLARS[kind] for name, kind in columns.items()}
    for table, columns in COLUMNS.items()
}
TABLES = tuple(SCHEMAS)  # outcomes last
PART = "part-0.parquet"

Rows = Sequence[Mapping[str, Any]]


def results_root(root: Path) -> Path:
    """The folder holding every results table."""
    return Path(root) / RESULTS


def results_path(root: Path, table: str) -> Path:
    """The folder of one results table (read it with hive partitioning)."""
    return results_root(root) / table


def partition(root: Path, table: str, night: date, district: str) -> Path:
    return results_path(root, table) / f"night={night.isoformat()}" / f"district={district}"


def frame(table: str, rows: Rows) -> pl.DataFrame:
    """Rows as the table's columns and types, sorted on every column (stable across runs)."""
    schema = SCHEMAS[table]
    data = pl.DataFrame([dict(row) for row in rows], schema=schema, orient="row")
    return data.sort(list(schema), nulls_last=True) if data.height > 1 else data


def write_night(root: Path, night: date, district: str, tables: Mapping[str, Rows]) -> None:
    """Write one district's night: every table (missing ones empty), ``outcomes`` last.

    Each file goes to a temporary name first and is renamed into place, so a reader (or a
    killed worker) never leaves half a file.
    """
    for table in TABLES:
        target = partition(root, table, night, district) / PART
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{PART}.{os.getpid()}.tmp")
            frame(table, tables.get(table, ())).write_parquet(temporary)
            os.replace(temporary, target)
        except OSError as exc:
            raise RosterlabError(
                f"cannot write fleet results {target} ({exc.strerror}): check the fleet root's "
                "space and permissions, then re-run the night"
            ) from exc


def read_outcome(root: Path, night: date, district: str) -> dict[str, Any] | None:
    """The night's ``outcomes`` row of a district, or None when it has none yet."""
    path = partition(root, OUTCOMES, night, district) / PART
    if not path.is_file():
        return None
    rows = pl.read_parquet(path).to_dicts()
    return rows[0] if rows else None
