"""The field-customization matrix: every received column × night, and what changed about it.

A thin shell over :func:`rosterlab.checks.field_matrix`: a cell shows whether the column was
present, its fill rate, value pattern or distinct count; flagged cells (column dropped, added,
emptied, format shift, ...) are marked and listed with their hints.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets

from rosterlab import spec
from rosterlab.checks import CheckSettings, FieldMatrix, FieldRow, field_matrix
from rosterlab.report.charts import Chart, fill_rate_heatmap
from rosterlab.report.html import esc, html_table
from rosterlab.report.html_report import flag_column
from rosterlab.ui.base import Panel, html_box, wrap
from rosterlab.ui.session import NightRef, Workbench

ALL_FILES = "(all files)"
SHOW = ("fill rate", "present", "pattern", "distinct")

CELL_STYLE = """<style>
.rl td.absent { background: #eaeef2; color: #8c959f; text-align: center; }
.rl td.flag { outline: 2px solid #cf222e; outline-offset: -2px; }
.rl td.low { background: #fff8c5; }
</style>"""


def matrix_for(bench: Workbench, nights: Sequence[NightRef] | None = None) -> FieldMatrix:
    """The district's field matrix, narrowed to ``nights`` (None: all)."""
    matrix = field_matrix(bench.store, bench.district, CheckSettings.of(bench.settings))
    if nights is None:
        return matrix
    span = {s.id for s in bench.span(nights)}
    keep = [i for i, s in enumerate(matrix.snapshots) if s.id in span]
    ids = {matrix.snapshots[i].id for i in keep}
    rows = tuple(
        FieldRow(
            r.file,
            r.entity,
            r.field,
            r.in_spec,
            r.required,
            r.extension,
            tuple(r.present[i] for i in keep),
            tuple(r.fill_rate[i] for i in keep),
            tuple(r.distinct[i] for i in keep),
            tuple(r.distinct_estimated[i] for i in keep),
            tuple(r.pattern[i] for i in keep),
        )
        for r in matrix.fields
        if any(r.present[i] for i in keep)
    )
    return FieldMatrix(
        matrix.district,
        tuple(matrix.snapshots[i] for i in keep),
        rows,
        tuple(flag for flag in matrix.flags if flag[0] in ids),
    )


def fill_rates(bench: Workbench, nights: Sequence[NightRef] | None = None) -> Chart:
    """The fill-rate heatmap of the district's fields."""
    return fill_rate_heatmap(matrix_for(bench, nights))


NOTABLE_FILL_CHANGE = 0.1  # ordinary churn moves fill rates by a few points; this is more


def _changing(row: FieldRow) -> bool:
    """Absent on some night, a fill rate that moved notably, or a value pattern that changed."""
    rates = [r or 0.0 for r, p in zip(row.fill_rate, row.present, strict=True) if p]
    moved = bool(rates) and max(rates) - min(rates) >= NOTABLE_FILL_CHANGE
    return not all(row.present) or moved or len(set(row.pattern) - {None}) > 1


class FieldMatrixView(Panel):
    """Field × night grid (present / fill rate / pattern / distinct) with the flags listed."""

    def __init__(self, bench: Workbench, nights: Sequence[NightRef] | None = None) -> None:
        self.bench = bench
        self.matrix = matrix_for(bench, nights)
        files = list(dict.fromkeys(r.file for r in self.matrix.fields))
        self.file = widgets.Dropdown(description="file", options=[ALL_FILES, *files])
        self.show = widgets.ToggleButtons(options=SHOW, value="fill rate")
        self.changing = widgets.Checkbox(description="only fields that change", value=False)
        self.grid = html_box()
        self.grid.add_class("rl-field-grid")
        self.grid.layout = widgets.Layout(max_height="520px", overflow="auto")
        self.flags = html_box()
        for control in (self.file, self.show, self.changing):
            control.observe(lambda _: self.render(), "value")
        super().__init__(
            [widgets.HBox([self.file, self.changing]), self.show, self.grid, self.flags]
        )
        self.add_class("rl-field-matrix")
        self.flags.value = wrap(self._flags_html())
        self.render()

    @property
    def rows(self) -> list[FieldRow]:
        """The fields the grid shows under the current filters."""
        return [
            r
            for r in self.matrix.fields
            if self.file.value in (ALL_FILES, r.file) and (not self.changing.value or _changing(r))
        ]

    def render(self) -> None:
        self.grid.value = wrap(CELL_STYLE + self._grid_html())

    def _cell(self, row: FieldRow, night: int) -> tuple[str, str]:
        """(css class, text) of one cell."""
        if not row.present[night]:
            return "absent", "—"
        show = self.show.value
        rate = row.fill_rate[night]
        if show == "present":
            return "", "✓"
        if show == "pattern":
            return "", row.pattern[night] or ""
        if show == "distinct":
            count = row.distinct[night]
            about = "≈" if row.distinct_estimated[night] else ""  # an estimate says so
            return "num", "" if count is None else f"{about}{count:,}"
        text = "" if rate is None else f"{rate:.0%}"
        return ("num low" if rate is not None and rate < 0.5 else "num"), text

    def _grid_html(self) -> str:
        snapshots = self.matrix.snapshots
        flagged: dict[tuple[str, str, int], list[str]] = {}
        column = {s.id: j for j, s in enumerate(snapshots)}
        for snapshot_id, f in self.matrix.flags:
            if f.severity != "info":
                flagged.setdefault(
                    (f.entity or "", flag_column(f), column[snapshot_id]), []
                ).append(f.code)
        head = "".join(f'<th class="num">{s.seq}</th>' for s in snapshots)
        nights = f'<th colspan="{len(snapshots)}">night</th>' if snapshots else ""
        body = []
        for row in self.rows:
            cells = []
            for j in range(len(snapshots)):
                css, text = self._cell(row, j)
                codes = flagged.get((row.entity, row.field, j))
                if codes:
                    css += " flag"
                title = f' title="{esc(", ".join(codes))}"' if codes else ""
                cells.append(f'<td class="{css.strip()}"{title}>{esc(text)}</td>')
            kind = "spec" if row.in_spec else ("extension" if row.extension else "unknown")
            body.append(
                f"<tr><td>{esc(row.file)}</td><td>{esc(row.field)}</td>"
                f"<td>{kind}{' · required' if row.required else ''}</td>{''.join(cells)}</tr>"
            )
        if not body:
            return '<p class="muted">no fields to show</p>'
        return (
            '<table><thead><tr><th rowspan="2">file</th><th rowspan="2">field</th>'
            f'<th rowspan="2">kind</th>{nights}</tr><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
        )

    def _flags_html(self) -> str:
        """The flags, most severe first, then night by night: a custom field sent every night
        (info) comes after the column dropped or reshaped."""
        seq = {s.id: s.seq for s in self.matrix.snapshots}
        flags = sorted(
            self.matrix.flags, key=lambda flag: (spec.SEVERITY_RANK[flag[1].severity], seq[flag[0]])
        )
        return "<h4>Field flags</h4>" + html_table(
            ("night", "severity", "code", "entity", "field", "value", "message", "hint"),
            [
                (seq[sid], f.severity, f.code, f.entity, flag_column(f), f.value, f.message, f.hint)
                for sid, f in flags
            ],
            numeric=("night",),
            empty="no field flags",
        )

    def __repr__(self) -> str:
        matrix = self.matrix
        nights = [s.seq for s in matrix.snapshots]
        lines = [
            f"FieldMatrixView: {matrix.district}, {len(matrix.fields)} fields × "
            f"{len(nights)} nights ({nights[0]}–{nights[-1]})"
            if nights
            else f"FieldMatrixView: {matrix.district}, no nights"
        ]
        for r in matrix.fields:
            if _changing(r):
                cells = " ".join(
                    "—" if not p else ("?" if rate is None else f"{rate:.0%}")
                    for p, rate in zip(r.present, r.fill_rate, strict=True)
                )
                lines.append(f"  changes: {r.file} {r.field}: {cells}")
        seq = {s.id: s.seq for s in matrix.snapshots}
        lines += [
            f"  night {seq[sid]}: {f.severity} {f.code} {f.entity} {flag_column(f)}"
            for sid, f in matrix.flags
            if f.severity != "info"
        ]
        files = "all files" if self.file.value == ALL_FILES else self.file.value
        lines.append(
            f"  showing {self.show.value} of {len(self.rows)} fields "
            f"({files}{', only changing' if self.changing.value else ''})"
        )
        return "\n".join(lines)
