"""SQL text helpers: the one place identifiers are quoted. Values are always bound, never pasted."""

from __future__ import annotations

from rosterlab import spec


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


def spreadsheet_safe_sql(expression: str) -> str:
    """SQL making a text value safe to open in a spreadsheet: a value starting with one of
    :data:`~rosterlab.spec.FORMULA_STARTS` gets a leading single quote, as
    :func:`rosterlab.report.findings_csv.spreadsheet_safe` does in Python. Only for CSV files
    people open (``changes.csv``); Clever bundles are written exactly.
    """
    formula = " OR ".join(
        f"starts_with({expression}, {quote_literal(c)})" for c in spec.FORMULA_STARTS
    )
    return f"CASE WHEN {formula} THEN concat(chr(39), {expression}) ELSE {expression} END"


# The smallest non-ASCII white space: every white-space value starts below "!" or at/above it.
_FIRST_NON_ASCII_SPACE = min(c for c in spec.WHITE_SPACE if c > "~")
_WHITE_SPACE_CLASS = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in spec.WHITE_SPACE) + "]*"


def spaces_blank_sql(expression: str) -> str:
    """SQL: the value is NULL or only spaces (SFTP spec: "a value of only spaces is blank") —
    missing-value; a value of other white space only is blank too (white-space-only)."""
    return f"({expression} IS NULL OR (prefix({expression}, ' ') AND trim({expression}, ' ') = ''))"


def white_space_blank_sql(expression: str) -> str:
    """SQL: the value is NULL or only :data:`~rosterlab.spec.WHITE_SPACE` — blank to the
    checks, the stand-in (its ``rl_blank``) and the carried skips that mirror it.

    The pattern runs only on values that may start with white space: empty, or a first byte
    below ``!`` (every ASCII white space) or at or above U+0085's (every other one is
    non-ASCII). Text compares byte by byte, so a value starting with a letter or a digit is
    ruled out by two comparisons (``left(v, 1)`` cost three times as much over 2.4 M rows).
    """
    return (
        f"({expression} IS NULL OR (({expression} < '!' OR {expression} >= "
        f"{quote_literal(_FIRST_NON_ASCII_SPACE)}) AND regexp_full_match({expression}, "
        f"{quote_literal(_WHITE_SPACE_CLASS)})))"
    )


# A confirmed required value's blank and its finding, the first that matches: only spaces is
# the spec's blank (missing-value); other white space only — a tab, a no-break space — is blank
# to rosterlab too (white-space-only: Clever does not say).
BLANK_CODES = ((spaces_blank_sql, "missing-value"), (white_space_blank_sql, "white-space-only"))
