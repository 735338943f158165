"""The DuckDB history store: the only room that imports duckdb.

The ingest, staging and export names load on first use (PEP 562), and with them the CSV
machinery they need (numpy, polars, the raw codec): a reader such as ``rosterlab diff`` starts
without it.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from rosterlab.store.files import published_path
from rosterlab.store.sql import quote_ident
from rosterlab.store.store import (
    DATED_BY,
    ORIGINS,
    Beside,
    IngestResult,
    Origin,
    Progress,
    ReceivedFile,
    ReceivedRows,
    SnapshotInfo,
    Store,
    interrupt_queries,
    naive_utc,
)

if TYPE_CHECKING:
    from rosterlab.store.export import export_snapshot
    from rosterlab.store.ingest import (
        forget_snapshot,
        ingest_bundle,
        ingest_bundles,
        redate_snapshot,
        resolve_taken_at,
    )
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

_ON_FIRST_USE = {
    "export_snapshot": "export",
    "forget_snapshot": "ingest",
    "ingest_bundle": "ingest",
    "ingest_bundles": "ingest",
    "redate_snapshot": "ingest",
    "resolve_taken_at": "ingest",
    "ColumnMap": "staging",
    "StagedFile": "staging",
    "contact_identity_sql": "staging",
    "entity_filter": "staging",
    "key_sql": "staging",
    "positional": "staging",
    "stage_snapshot": "staging",
    "staging_table": "staging",
}


def __getattr__(name: str) -> Any:
    """An ingest, staging or export name, imported the first time it is asked for."""
    if name not in _ON_FIRST_USE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_ON_FIRST_USE[name]}"), name)
    globals()[name] = value
    return value


__all__ = [
    "DATED_BY",
    "ORIGINS",
    "Beside",
    "ColumnMap",
    "IngestResult",
    "Origin",
    "Progress",
    "ReceivedFile",
    "ReceivedRows",
    "SnapshotInfo",
    "StagedFile",
    "Store",
    "contact_identity_sql",
    "entity_filter",
    "export_snapshot",
    "forget_snapshot",
    "ingest_bundle",
    "ingest_bundles",
    "interrupt_queries",
    "key_sql",
    "naive_utc",
    "positional",
    "published_path",
    "quote_ident",
    "redate_snapshot",
    "resolve_taken_at",
    "stage_snapshot",
    "staging_table",
]
