"""The findings browser: a night's findings grouped by root cause, filtered, down to file rows.

A thin shell over :func:`rosterlab.checks.run_checks` (findings and root-cause groups). The
drill-down shows the rows exactly as received (``staged_<file>`` views of the snapshot), one
page at a time. An aggregated finding (a value repeated over a column: one finding, many
records) drills into its own rows, read from the store a page at a time
(:func:`rosterlab.checks.details.rows_of`), never all at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets

from rosterlab import spec
from rosterlab.checks import (
    CheckResult,
    CheckSettings,
    FindingFilter,
    FindingGroup,
    finding_groups,
    run_checks,
)
from rosterlab.checks.details import rows_of
from rosterlab.report.findings_csv import (
    csv_download_link,
    finding_line,
    findings_csv,
    findings_filename,
    received_names,
)
from rosterlab.report.html import esc, html_table
from rosterlab.report.snapshots import summary_text
from rosterlab.spec import Finding
from rosterlab.spec.lines import LineBreaks
from rosterlab.ui.base import PAGE_SIZE, Pager, Panel, html_box, wrap
from rosterlab.ui.picker import NIGHT_BOX, night_options, night_text
from rosterlab.ui.session import NightRef, Workbench

ALL = "all"
ALL_CODES = "(all codes)"
ALL_ENTITIES = "(all entities)"
ALL_CAUSES = "(all causes)"
FINDING_COLUMNS = (
    "severity",
    "code",
    "entity",
    "key",
    "field",
    "value",
    "line",
    "records",
    "message",
)
NO_DRILL = "(choose an aggregated finding)"
NOT_DRILLED = -1  # the drill-down's "choose" option (a None value would show a blank box)
ROW_COLUMNS = ("key", "line", "value", "message")


def check(bench: Workbench, ref: NightRef = "latest") -> CheckResult:
    """Every finding of one night of the district (cached in a writable store)."""
    return run_checks(
        bench.store, bench.snapshot(ref).id, settings=CheckSettings.of(bench.settings)
    )


class FindingsBrowser(Panel):
    """Groups by root cause, severity and code filters, a finding page and its received rows."""

    def __init__(
        self, bench: Workbench, snapshot: NightRef = "latest", *, page_size: int = PAGE_SIZE
    ) -> None:
        self.bench = bench
        self.night = widgets.Dropdown(
            description="night",
            options=night_options(bench.store, bench.district),
            value=bench.snapshot(snapshot).id,
            layout=NIGHT_BOX,
        )
        self.severity = widgets.ToggleButtons(options=(ALL, *spec.SEVERITIES), value=ALL)
        self.code = widgets.Dropdown(description="code", options=[ALL_CODES], value=ALL_CODES)
        self.entity = widgets.Dropdown(
            description="entity", options=[ALL_ENTITIES], value=ALL_ENTITIES
        )
        self.cause = widgets.Dropdown(description="cause", options=[ALL_CAUSES], value=ALL_CAUSES)
        self.summary = html_box()
        self.download = html_box()
        self.groups = widgets.Select(
            description="group", options=[], rows=8, layout={"width": "95%"}
        )
        self.table = html_box()
        self.table.add_class("rl-findings-table")
        self.pager = Pager(self.show_page, page_size)
        self.rows = html_box()
        # Drill-down: the rows of one aggregated finding of the page, a page at a time.
        self.drill = widgets.Dropdown(
            description="rows of",
            options=[(NO_DRILL, NOT_DRILLED)],
            value=NOT_DRILLED,
            layout={"width": "95%"},
        )
        self.drill_table = html_box()
        self.drill_pager = Pager(self.show_drill_page, page_size)
        self.drilled: Finding | None = None
        self.drill.observe(lambda _: self._drill_chosen(), "value")
        self.result: CheckResult | None = None
        # The night's files' line breaks inside quoted values: rows are shown on an editor's lines.
        self._lines: dict[str, LineBreaks] = {}
        self._groups: list[FindingGroup] = []
        self._selected: list[Finding] = []
        self._busy = False
        self.night.observe(lambda _: self.load(), "value")
        self.severity.observe(lambda _: self.filter_groups(), "value")
        for box in (self.code, self.entity, self.cause):
            box.observe(lambda _: self.filter_groups(), "value")
        self.groups.observe(lambda _: self.select_group(), "value")
        super().__init__(
            [
                self.night,
                self.summary,
                widgets.HBox([self.severity, self.code]),
                widgets.HBox([self.entity, self.cause, self.download]),
                self.groups,
                self.table,
                self.pager,
                self.drill,
                self.drill_table,
                self.drill_pager,
                self.rows,
            ]
        )
        self.add_class("rl-findings-browser")
        self.load()

    # --- state -----------------------------------------------------------------------------
    @property
    def filter(self) -> FindingFilter:
        """The severity, code, entity and cause chosen (as ``check --severity ...`` takes them)."""
        chosen = (
            (self.severity.value, ALL),
            (self.code.value, ALL_CODES),
            (self.entity.value, ALL_ENTITIES),
            (self.cause.value, ALL_CAUSES),
        )
        severities, codes, entities, causes = (
            frozenset() if value == everything else frozenset([str(value)])
            for value, everything in chosen
        )
        return FindingFilter(codes, severities, entities, causes)

    def visible(self, f: Finding) -> bool:
        """Whether a finding passes the severity, code, entity and cause filters."""
        return self.filter.matches(f)

    @property
    def shown(self) -> list[Finding]:
        """Every finding passing the filters (what Download CSV saves)."""
        if self.result is None:
            return []
        wanted = self.filter
        return [f for f in self.result.findings if wanted.matches(f)]

    @property
    def group(self) -> FindingGroup | None:
        index = self.groups.value
        return self._groups[index] if index is not None else None

    @property
    def page(self) -> list[Finding]:
        return self._selected[self.pager.offset : self.pager.offset + self.pager.page_size]

    # --- handlers --------------------------------------------------------------------------
    def load(self) -> None:
        self.result = run_checks(
            self.bench.store, int(self.night.value), settings=CheckSettings.of(self.bench.settings)
        )
        self._lines = self.bench.store.line_breaks(self.result.snapshot.id)
        self._groups = finding_groups(self.result)
        codes = sorted({f.code for f in self.result.findings})
        counts = self.result.severity_counts()
        records = spec.severity_records(self.result.findings)
        self.summary.value = wrap(
            f"<b>{esc(self.bench.district)}</b> {esc(night_text(self.result.snapshot))}: "
            + " · ".join(
                f'<span class="sev-{s}">{esc(summary_text({s: counts[s]}, {s: records[s]}))}</span>'
                for s in spec.SEVERITIES
            )
        )
        self._busy = True
        try:
            self.severity.value = ALL
            self.code.options = [ALL_CODES, *codes]
            self.code.value = ALL_CODES
            self.entity.options = [
                ALL_ENTITIES,
                *sorted({f.entity for f in self.result.findings if f.entity}),
            ]
            self.entity.value = ALL_ENTITIES
            self.cause.options = [ALL_CAUSES, *(g.cause for g in self.result.groups)]
            self.cause.value = ALL_CAUSES
        finally:
            self._busy = False
        self.filter_groups()

    def filter_groups(self) -> None:
        if self._busy or self.result is None:
            return
        shown = [
            (group.label, i)
            for i, group in enumerate(self._groups)
            if any(group.holds(f) and self.visible(f) for f in self.result.findings)
        ]
        self._busy = True
        try:
            self.groups.options = shown
            self.groups.value = shown[0][1] if shown else None
        finally:
            self._busy = False
        self._offer_download()
        self.select_group()

    def _offer_download(self) -> None:
        if self.result is None:
            return
        snap = self.result.snapshot
        found = self.shown
        self.download.value = csv_download_link(
            findings_csv(
                found,
                received_names(self.bench.store, snap.id),
                self._lines,
            ),
            findings_filename(snap.district, snap.seq),
            f"Download CSV ({len(found):,} findings)",
        )

    def select_group(self) -> None:
        if self._busy or self.result is None:
            return
        group = self.group
        self._selected = (
            [f for f in self.result.findings if group.holds(f) and self.visible(f)]
            if group is not None
            else []
        )
        self.pager.reset(len(self._selected))
        self.show_page()

    def show_page(self) -> None:
        page = self.page
        self.table.value = wrap(
            html_table(
                FINDING_COLUMNS,
                [
                    (
                        f.severity,
                        f.code,
                        f.entity,
                        f.key if f.key else spec.samples_text(f.sample_keys, f.count),
                        f.field,
                        f.value,
                        finding_line(f, self._lines),
                        f.count,
                        f.message,
                    )
                    for f in page
                ],
                numeric=("line", "records"),
                empty="no findings",
            )
            + self._what_to_do(page)
        )
        aggregated = [(i, f) for i, f in enumerate(page) if f.aggregated]
        busy, self._busy = self._busy, True
        try:
            self.drill.options = [
                (NO_DRILL, NOT_DRILLED),
                *(
                    (f"{f.code} {f.field or ''} {f.value!r}: {f.rows:,} rows", i)
                    for i, f in aggregated
                ),
            ]
            self.drill.value = NOT_DRILLED
        finally:
            self._busy = busy
        # Nothing to drill into on this page: no empty "rows of" box and "no rows" pager.
        shown = None if aggregated else "none"
        self.drill.layout.display = self.drill_pager.layout.display = shown
        self._drill_chosen()

    def drill_into(self, finding: Finding) -> None:
        """Show the rows of an aggregated finding (one page at a time)."""
        self.drilled = finding if finding.aggregated else None
        self.drill_pager.reset(finding.rows if self.drilled else 0)
        self.show_drill_page()

    def _drill_chosen(self) -> None:
        if self._busy:
            return
        index = self.drill.value
        if index == NOT_DRILLED:
            self.drilled = None
            self.drill_pager.reset(0)
            self.drill_table.value = ""
            self.rows.value = wrap(self._received_rows(self.page))
            return
        self.drill_into(self.page[index])

    @property
    def drilled_rows(self) -> list[Finding]:
        """The current page of the drilled finding's rows (read from the store)."""
        if self.drilled is None or self.result is None:
            return []
        return rows_of(
            self.bench.store,
            self.result,
            self.drilled,
            offset=self.drill_pager.offset,
            limit=self.drill_pager.page_size,
        )

    def show_drill_page(self) -> None:
        rows = self.drilled_rows
        self.drill_table.value = (
            wrap(
                html_table(
                    ROW_COLUMNS,
                    [(f.key, finding_line(f, self._lines), f.value, f.message) for f in rows],
                    numeric=("line",),
                    empty="no rows",
                )
            )
            if self.drilled is not None
            else ""
        )
        self.rows.value = wrap(self._received_rows(rows if self.drilled else self.page))

    # --- rendering -------------------------------------------------------------------------
    def _what_to_do(self, page: Sequence[Finding]) -> str:
        """The root cause's one hint when a cause is shown, else the page's first hint."""
        group = self.group
        if group is not None and group.hint:
            return f"<p><b>What to do (the root cause):</b> {esc(group.hint)}</p>"
        return f"<p><b>What to do:</b> {esc(page[0].hint)}</p>" if page else ""

    def _received_rows(self, page: Sequence[Finding]) -> str:
        """The page's findings' rows as received, per file (header as sent), each on the line
        an editor shows it."""
        wanted: dict[str, set[int]] = {}
        for f in page:
            if f.row is not None and f.entity in spec.ENTITIES:
                wanted.setdefault(spec.ENTITIES[f.entity].file, set()).add(f.row)
        if not wanted or self.result is None:
            return ""
        parts = []
        for received in self.bench.store.received_rows(self.result.snapshot.id, wanted):
            breaks = self._lines.get(received.spec_name, LineBreaks())
            rows = [(breaks.line(row), *values) for row, *values in received.rows]
            parts.append(
                f"<h4>{esc(received.name)}: rows as received</h4>"
                + html_table(("line", *received.header), rows, numeric=("line",))
            )
        return "".join(parts)

    def __repr__(self) -> str:
        if self.result is None:
            return "FindingsBrowser: nothing loaded"
        lines = [
            f"FindingsBrowser: {self.bench.district}, {night_text(self.result.snapshot)}: "
            + summary_text(
                self.result.severity_counts(), spec.severity_records(self.result.findings)
            )
        ]
        lines += [f"  {label}" for label, _ in self.groups.options]
        group = self.group
        lines.append(
            f"  showing {group.label if group else 'nothing'} "
            f"[severity {self.severity.value}, {self.code.value}, {self.entity.value}, "
            f"{self.cause.value}]: {self.pager.describe()}"
        )
        if group is not None and group.hint:
            lines.append(f"  what to do: {group.hint}")
        if self.drilled is not None:
            f = self.drilled
            lines.append(
                f"  rows of {f.code} {f.field} {f.value!r} (×{f.count:,} records): "
                + self.drill_pager.describe()
            )
        return "\n".join(lines)
