"""SQL text helpers: the one place identifiers are quoted. Values are always bound, never pasted."""

from __future__ import annotations


def quote_ident(name: str) -> str:
    """Quote any string as a DuckDB identifier (``ext.x"; DROP TABLE`` stays a name)."""
    if "\x00" in name:
        raise ValueError("identifiers cannot contain NUL")
    return '"' + name.replace('"', '""') + '"'


def positional(index: int) -> str:
    """The staging column holding the ``index``-th (0-based) received column."""
    return f"c{index}"


def quote_literal(text: str) -> str:
    """Quote a string literal, for the few places DuckDB cannot bind (COPY ... TO 'path')."""
    if "\x00" in text:
        raise ValueError("literals cannot contain NUL")
    return "'" + text.replace("'", "''") + "'"
