"""The DuckDB history store: the only room that imports duckdb."""

from rosterlab.store.export import export_snapshot
from rosterlab.store.ingest import ingest_bundle, staging_table
from rosterlab.store.sql import quote_ident
from rosterlab.store.store import IngestResult, SnapshotInfo, Store, severity_counts

__all__ = [
    "IngestResult",
    "SnapshotInfo",
    "Store",
    "export_snapshot",
    "ingest_bundle",
    "quote_ident",
    "severity_counts",
    "staging_table",
]
