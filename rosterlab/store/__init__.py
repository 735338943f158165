"""The DuckDB history store: the only room that imports duckdb."""

from rosterlab.store.export import export_snapshot
from rosterlab.store.files import published_path
from rosterlab.store.ingest import (
    forget_snapshot,
    ingest_bundle,
    redate_snapshot,
    resolve_taken_at,
)
from rosterlab.store.sql import quote_ident
from rosterlab.store.staging import (
    ColumnMap,
    StagedFile,
    contact_identity_sql,
    entity_filter,
    key_sql,
    positional,
    stage_snapshot,
    staging_table,
)
from rosterlab.store.store import (
    DATED_BY,
    ORIGINS,
    IngestResult,
    Origin,
    Progress,
    SnapshotInfo,
    Store,
    interrupt_queries,
)

__all__ = [
    "DATED_BY",
    "ORIGINS",
    "ColumnMap",
    "IngestResult",
    "Origin",
    "Progress",
    "SnapshotInfo",
    "StagedFile",
    "Store",
    "contact_identity_sql",
    "entity_filter",
    "export_snapshot",
    "forget_snapshot",
    "ingest_bundle",
    "interrupt_queries",
    "key_sql",
    "positional",
    "published_path",
    "quote_ident",
    "redate_snapshot",
    "resolve_taken_at",
    "stage_snapshot",
    "staging_table",
]
