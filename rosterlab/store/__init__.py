"""The DuckDB history store: the only room that imports duckdb."""

from rosterlab.store.export import export_snapshot
from rosterlab.store.files import published_path
from rosterlab.store.ingest import (
    ColumnMap,
    StagedFile,
    ingest_bundle,
    resolve_taken_at,
    stage_snapshot,
    staging_table,
)
from rosterlab.store.sql import quote_ident
from rosterlab.store.store import IngestResult, SnapshotInfo, Store, interrupt_queries

__all__ = [
    "ColumnMap",
    "IngestResult",
    "SnapshotInfo",
    "StagedFile",
    "Store",
    "export_snapshot",
    "ingest_bundle",
    "interrupt_queries",
    "published_path",
    "quote_ident",
    "resolve_taken_at",
    "stage_snapshot",
    "staging_table",
]
