"""The HTML every rosterlab page and widget shares: one escape, one table, the stylesheets.

Everything taken from a file is hostile: every header, cell and value goes through :func:`esc`.
Pages (diff, reconcile, the district report) carry :data:`PAGE_STYLE` inline; widgets carry
:data:`WIDGET_STYLE`, scoped to ``.rl`` so JupyterLab's own look is untouched.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Iterable, Sequence
from typing import Any

PAGE_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', 'DejaVu Sans', sans-serif;
       color: #1f2328; max-width: 1100px; margin: 2em auto; padding: 0 1.5em; }
h1, h2, h3 { line-height: 1.2; margin-top: 1.6em; }
h1 { border-bottom: 2px solid #d0d7de; padding-bottom: .3em; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: 13px; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f6f8fa; padding: .6em .8em; overflow-x: auto; font-size: 12.5px; }
img { max-width: 100%; height: auto; }
.sev-error { color: #b42318; font-weight: 600; }
.sev-warning { color: #9a6700; font-weight: 600; }
.sev-info { color: #0550ae; }
.hold { color: #b42318; font-weight: 600; }
.muted { color: #656d76; }
a.anchor-link { display: none; }
footer { margin-top: 3em; color: #656d76; font-size: 12px; }
"""

WIDGET_STYLE = """<style>
.rl table { border-collapse: collapse; margin: 4px 0 8px; font-size: 12.5px; }
.rl th, .rl td { border: 1px solid #d0d7de; padding: 2px 7px; text-align: left;
                 vertical-align: top; }
.rl th { background: #f6f8fa; }
.rl td.num, .rl th.num { text-align: right; font-variant-numeric: tabular-nums; }
.rl .muted { color: #656d76; }
.rl .hold { color: #b42318; font-weight: 600; }
.rl .expected { color: #9a6700; font-weight: 600; }
.rl .sev-error { color: #b42318; font-weight: 600; }
.rl .sev-warning { color: #9a6700; font-weight: 600; }
.rl .sev-info { color: #0550ae; }
.rl pre { white-space: pre; word-break: normal; overflow-wrap: normal; overflow-x: auto; }
</style>"""

LABEL_COLUMNS = ("row", "night", "line", "rule")  # whole numbers that name, not count


def esc(value: Any) -> str:
    """Text (None as empty) made safe in HTML content and in quoted attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def cell_text(value: Any, label: bool = False) -> str:
    """A table cell's text: counts with thousands separators, fractions as percentages, None
    as empty; ``label`` numbers (a row number) stay plain."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value) if label else f"{value:,}"
    if isinstance(value, float):
        return f"{value:.1%}" if 0 <= value <= 1 else f"{value:,.2f}"
    return str(value)


def html_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    numeric: Collection[str] = (),
    css: str = "rl-table",
    empty: str = "nothing to show",
) -> str:
    """An HTML table of plain values, every header and cell escaped (file data is hostile)."""
    head = "".join(
        f'<th class="num">{esc(c)}</th>' if c in numeric else f"<th>{esc(c)}</th>" for c in columns
    )
    body = [
        "<tr>"
        + "".join(
            f'<td class="num">{esc(cell_text(v, c in LABEL_COLUMNS))}</td>'
            if c in numeric
            else f"<td>{esc(cell_text(v, c in LABEL_COLUMNS))}</td>"
            for c, v in zip(columns, row, strict=True)
        )
        + "</tr>"
        for row in rows
    ]
    if not body:
        return f'<p class="muted">{esc(empty)}</p>'
    return (
        f'<table class="{esc(css)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )
