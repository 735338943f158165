"""The diff explorer: what changed between two nights, entity by entity, down to one record.

A thin shell over :func:`rosterlab.diff.diff_snapshots` (counts, per-field counts, hold, re-keys)
and :func:`rosterlab.diff.record_timeline`. The change table is served a page at a time: the
browser never holds more than one page of rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets
import polars as pl

from rosterlab import spec
from rosterlab.diff import DiffResult, EntityDiff, HoldReason, diff_snapshots, record_timeline
from rosterlab.report.diff import (
    BACKWARD,
    TIMELINE_WORDS,
    from_not_processed_sentence,
    night_text,
    not_processed_sentence,
    served_sentence,
)
from rosterlab.report.html import esc, html_table
from rosterlab.report.snapshots import night_outcome_text
from rosterlab.store.outcomes import API_ORIGIN
from rosterlab.ui.base import PAGE_SIZE, Pager, Panel, html_box, wrap
from rosterlab.ui.picker import SnapshotPicker
from rosterlab.ui.session import NightRef, Workbench

ALL_FIELDS = "(all fields)"
CHANGE_KINDS = ("all", "added", "removed", "changed")
RECORDS_OFFERED = 100  # keys in the record picker at once (the search narrows them)
TIMELINE_COLUMNS = ("night", "date", "change", "field", "old", "new", "Clever")


def hold_text(reason: HoldReason) -> str:
    kind = "expected (term rollover) " if reason.expected else ""
    return (
        f"{reason.entity} {kind}{reason.kind} {reason.count:,}/{reason.total:,} "
        f"({reason.ratio:.1%} > {reason.threshold:.0%})"
    )


def changed_records(item: EntityDiff) -> int:
    """Records added, removed or changed (the number on an entity's tab: ``students · 2
    records``, beside the pager's field changes)."""
    return item.added + item.removed + item.changed


def _field_order(entity: str) -> dict[str, int]:
    return {name: i for i, name in enumerate(spec.ENTITIES[entity].columns)}


class DiffExplorer(Panel):
    """Entity tabs with per-field change counts, a paginated change table, a record's timeline."""

    def __init__(
        self,
        bench: Workbench,
        nights: Sequence[NightRef] | None = None,
        *,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.bench = bench
        self.picker = SnapshotPicker(bench, nights)
        self.summary = html_box()
        self.tabs = widgets.Tab()
        self.kind = widgets.ToggleButtons(options=CHANGE_KINDS, value="all", description="show")
        self.field = widgets.Dropdown(description="field", options=[ALL_FIELDS])
        self.table = html_box()
        # a row per changed field (a tab counts records): say so beside the count
        self.pager = Pager(self.show_page, page_size, rows="field changes")
        self.search = widgets.Text(
            description="find key",
            placeholder="part of a key, e.g. S-1001",
            continuous_update=False,
        )
        self.record = widgets.Dropdown(description="record", options=[("(pick a record)", "")])
        self.timeline = html_box()
        self.result: DiffResult | None = None
        self._changes = pl.DataFrame()
        self._rows = pl.DataFrame()
        self._busy = False
        self.picker.on_change(self.load)
        self.tabs.observe(lambda _: self.select_entity(), "selected_index")
        self.kind.observe(lambda _: self.filter_rows(), "value")
        self.field.observe(lambda _: self.filter_rows(), "value")
        self.search.observe(lambda _: self.find_records(), "value")
        self.record.observe(lambda _: self.show_timeline(), "value")
        super().__init__(
            [
                self.picker,
                self.summary,
                self.tabs,
                widgets.HBox([self.kind, self.field]),
                self.table,
                self.pager,
                widgets.HBox([self.search, self.record]),
                self.timeline,
            ]
        )
        self.add_class("rl-diff-explorer")
        self.table.add_class("rl-change-table")
        self.load()

    # --- state -----------------------------------------------------------------------------
    @property
    def entity(self) -> str:
        """The entity of the selected tab."""
        assert self.result is not None
        return self.result.entities[self.tabs.selected_index or 0].entity

    @property
    def page(self) -> pl.DataFrame:
        """The rows of the change table sent to the browser (one page)."""
        return self._rows.slice(self.pager.offset, self.pager.page_size)

    # --- handlers --------------------------------------------------------------------------
    def load(self) -> None:
        """Diff the picked nights and show the first entity that changed (none when ``diff``
        would refuse the pair: the summary says why, in its words)."""
        if self.picker.refused is not None:
            self._refuse(self.picker.refused)
            return
        old, new = self.picker.pair
        self.result = diff_snapshots(
            self.bench.store,
            self.picker.district,
            old.id,
            new.id,
            thresholds=self.picker.thresholds,
            details=True,
        )
        self._changes = self.result.changes if self.result.changes is not None else pl.DataFrame()
        self.summary.value = wrap(self._summary_html())
        entities = self.result.entities
        self._busy = True
        try:
            self.tabs.children = [html_box(self._entity_html(item)) for item in entities]
            self.tabs.titles = [
                f"{item.entity} · {spec.plural(changed_records(item), 'record')}"
                for item in entities
            ]
            changed = [i for i, item in enumerate(entities) if changed_records(item)]
            self.tabs.selected_index = changed[0] if changed else 0
        finally:
            self._busy = False
        self.select_entity()

    def _refuse(self, why: str) -> None:
        self.result = None
        self._changes = self._rows = pl.DataFrame()
        self.summary.value = wrap(f'<div class="hold">{esc(f"no diff: {why}")}</div>')
        self._busy = True
        try:
            self.tabs.children = []
            self.field.options = [ALL_FIELDS]
            self.record.options = [("(pick a record)", "")]
        finally:
            self._busy = False
        self.table.value = wrap("")
        self.timeline.value = wrap("")
        self.pager.reset(0)

    def select_entity(self) -> None:
        if self._busy or self.result is None:
            return
        fields = self._changes.filter(pl.col("entity") == self.entity)["field"].unique().to_list()
        order = _field_order(self.entity)
        fields.sort(key=lambda name: (order.get(name, len(order)), name))
        self._busy = True
        try:
            self.kind.value = "all"
            self.field.options = [ALL_FIELDS, *fields]
            self.field.value = ALL_FIELDS
        finally:
            self._busy = False
        self.filter_rows()

    def filter_rows(self) -> None:
        if self._busy or self.result is None:
            return
        rows = self._changes.filter(pl.col("entity") == self.entity)
        if self.kind.value != "all":
            rows = rows.filter(pl.col("change") == self.kind.value)
        if self.field.value != ALL_FIELDS:
            rows = rows.filter(pl.col("field") == self.field.value)
        self._rows = rows
        self.pager.reset(rows.height)
        self.show_page()
        self.find_records()

    def show_page(self) -> None:
        page = self.page
        self.table.value = wrap(
            html_table(
                ("key", "change", "field", "old", "new"),
                page.select("key", "change", "field", "old", "new").rows(),
                empty=f"no {self.entity} changes",
            )
        )

    def find_records(self) -> None:
        """Offer the records of the whole change set (every page, the kind and field shown)
        whose key contains the search text (any case); the first RECORDS_OFFERED of them."""
        text = self.search.value.strip().lower()
        keys = self._rows["key"].unique(maintain_order=True) if self._rows.height else None
        if keys is not None and text:
            keys = keys.filter(keys.str.to_lowercase().str.contains(text, literal=True))
        found = keys.len() if keys is not None else 0
        offered = keys.head(RECORDS_OFFERED).to_list() if keys is not None else []
        label = "(pick a record)" if found else "(no record matches)"
        if found > RECORDS_OFFERED:
            label = f"({found:,} records, first {RECORDS_OFFERED}: narrow the search)"
        self._busy = True
        try:
            self.record.options = [(label, ""), *((k, k) for k in offered)]
            self.record.value = ""
        finally:
            self._busy = False
        self.show_timeline()

    def show_timeline(self) -> None:
        if self._busy:
            return
        key = self.record.value
        if not key:
            self.timeline.value = wrap("")
            return
        timeline = record_timeline(self.bench.store, self.picker.district, self.entity, key)
        rows = [
            (
                e.seq,
                f"{e.taken_at:%Y-%m-%d}",
                TIMELINE_WORDS[e.change],
                e.field,
                e.old,
                e.new,
                night_outcome_text(e.outcome, e.outcome_reason) if e.outcome else None,
            )
            for e in timeline.events
        ]
        self.timeline.value = wrap(
            f"<h4>Timeline of {esc(self.entity)} {esc(key)}</h4>"
            + html_table(TIMELINE_COLUMNS, rows, numeric=("night",))
        )

    # --- rendering -------------------------------------------------------------------------
    def _summary_html(self) -> str:
        assert self.result is not None
        result = self.result
        parts = [
            f"<b>{esc(result.district)}</b>: {esc(night_text(result.from_snapshot))} → "
            f"{esc(night_text(result.to_snapshot))}"
        ]
        if result.hold_reasons:
            parts += [
                f'<div class="{"expected" if r.expected else "hold"}">Clever hold predicted: '
                f"{esc(hold_text(r))}</div>"
                for r in result.hold_reasons
            ]
        else:
            css = "hold" if result.not_processed else "muted"
            parts.append(f'<div class="{css}">{esc(self._no_hold())}</div>')
        if (unserved := from_not_processed_sentence(result)) is not None:
            parts.append(f'<div class="hold">{esc(unserved)}</div>')
        parts += [
            f"<div>re-keyed {esc(r.entity)}: {esc(r.old_key)} → {esc(r.new_key)} "
            f"(matched on {esc(', '.join(r.matched_on))})</div>"
            for r in result.rekeys
        ]
        parts += [
            f"<div>term rollover: {esc(r.term or '')} ended {esc(r.term_end)} — "
            f"{len(r.sections):,} sections, {r.enrollments:,} enrollments</div>"
            for r in result.rollovers
        ]
        return "".join(parts)

    def _no_hold(self) -> str:
        """Why no hold, as `diff` says it: a night Clever does not process (nothing is
        deleted), a pull of what it serves, a backward pair, or none predicted."""
        assert self.result is not None
        result = self.result
        if result.not_processed:
            return not_processed_sentence(result)
        if result.to_snapshot.origin == API_ORIGIN:
            return served_sentence(result)
        return f"hold: {BACKWARD}" if result.backward else "no hold predicted"

    @staticmethod
    def _entity_html(item: EntityDiff) -> str:
        counts = html_table(
            ("added", "removed", "changed", "unchanged"),
            [(item.added, item.removed, item.changed, item.unchanged)],
            numeric=("added", "removed", "changed", "unchanged"),
        )
        fields = html_table(
            ("field", "records changed"),
            item.fields,
            numeric=("records changed",),
            empty="no field changed on a kept record",
        )
        return counts + fields

    def __repr__(self) -> str:
        if self.result is None:
            why = f"no diff: {self.picker.refused}" if self.picker.refused else "nothing loaded"
            return f"DiffExplorer: {self.picker.district}, {why}"
        result = self.result
        lines = [
            f"DiffExplorer: {result.district}, {night_text(result.from_snapshot)} → "
            f"{night_text(result.to_snapshot)}",
            "  hold predicted: " + "; ".join(hold_text(r) for r in result.hold_reasons)
            if result.hold_reasons
            else f"  {self._no_hold()}",
        ]
        if (unserved := from_not_processed_sentence(result)) is not None:
            lines.append(f"  {unserved}")
        lines += [
            f"  re-keyed {r.entity}: {r.old_key} → {r.new_key} (matched on "
            f"{', '.join(r.matched_on)})"
            for r in result.rekeys
        ]
        for item in result.entities:
            fields = ", ".join(f"{name} {count}" for name, count in item.fields)
            lines.append(
                f"  {item.entity}: {item.added:,} added, {item.removed:,} removed, "
                f"{item.changed:,} changed, {item.unchanged:,} unchanged"
                + (f" (fields: {fields})" if fields else "")
            )
        lines.append(
            f"  showing {self.entity}, {self.kind.value} changes, "
            f"{'all fields' if self.field.value == ALL_FIELDS else self.field.value}: "
            f"{self.pager.describe()}"
        )
        return "\n".join(lines)
