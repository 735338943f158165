"""SQL text helpers: the one place identifiers are quoted. Values are always bound, never pasted."""

from __future__ import annotations


def quote_ident(name: str) -> str:
    """Quote any string as a DuckDB identifier (``ext.x"; DROP TABLE`` stays a name)."""
    if "\x00" in name:
        raise ValueError("identifiers cannot contain NUL")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """Quote a string literal, for the few places DuckDB cannot bind (COPY ... TO 'path')."""
    if "\x00" in text:
        raise ValueError("literals cannot contain NUL")
    return "'" + text.replace("'", "''") + "'"


def spreadsheet_safe(expression: str) -> str:
    """SQL making a text value safe to open in a spreadsheet (OWASP "CSV injection").

    A value starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to
    Excel, LibreOffice and Google Sheets (``=HYPERLINK(...)``, ``=cmd|' /C calc'!A0``): it gets a
    leading single quote, which the spreadsheet shows as text. Only for CSV files people open
    (``changes.csv``); Clever bundles are written exactly.
    """
    starts = "^[=+@\\-\t\r]"
    return (
        f"CASE WHEN regexp_matches({expression}, {quote_literal(starts)}) "
        f"THEN concat(chr(39), {expression}) ELSE {expression} END"
    )
