"""Write query results as Clever CSV files, set-based: DuckDB ``COPY`` behind an exact header.

DuckDB's CSV writer already quotes minimally (comma, quote, line break); ``COMMENT ''`` stops it
from also quoting values that start with ``#``. The header line comes from
:func:`rosterlab.bundle.csv_line`, so received names (even duplicates) are kept exactly.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from rosterlab.bundle import csv_line
from rosterlab.store.sql import quote_literal
from rosterlab.store.store import Store


def copy_csv(
    store: Store,
    select_sql: str,
    params: Sequence[object],
    path: Path,
    *,
    header: Sequence[str],
    newline: str,
) -> int:
    """Write ``header`` then the rows of ``select_sql`` to ``path``; return the row count.

    UTF-8 without BOM, RFC 4180 minimal quoting, NULL as an empty field, ``newline`` after every
    record, rows in the query's order.
    """
    body = path.with_name(path.name + ".rows")
    try:
        copied = store.rows(
            f"COPY ({select_sql}) TO {quote_literal(str(body))} (FORMAT csv, HEADER false, "
            f"DELIMITER ',', QUOTE '\"', ESCAPE '\"', "
            f"NEW_LINE {quote_literal(_escaped(newline))}, COMMENT '')",
            list(params),
        )
        with path.open("wb") as out, body.open("rb") as rows:
            out.write(csv_line(header, newline).encode("utf-8"))
            shutil.copyfileobj(rows, out, 1 << 20)
    finally:
        body.unlink(missing_ok=True)
    return int(copied[0][0])


def _escaped(newline: str) -> str:
    """DuckDB's spelling of a newline option (``\\r\\n``)."""
    return newline.replace("\r", "\\r").replace("\n", "\\n")
