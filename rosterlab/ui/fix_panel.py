"""The fix-and-push panel: rules preview, corrected-vs-original changes, dry run, confirmed push.

A thin shell over :func:`rosterlab.fix.fix_snapshot` (the corrected bundle, re-checked, with its
``changes.csv``), :func:`rosterlab.transport.push_bundle` (dry run and push) and the store's push
log. Nothing is uploaded until a dry run has shown the plan and the confirmation box is ticked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import ipywidgets as widgets
import polars as pl

from rosterlab.errors import PushRefusedError, RosterlabError
from rosterlab.fix import FixResult, Verdict, bundle_verdict, fix_snapshot, load_rules
from rosterlab.fix.delivery import log_push
from rosterlab.report import fix as render
from rosterlab.report.html import esc, html_table
from rosterlab.spec import plural
from rosterlab.transport import PushPlan, PushResult, load_target, plan_push, push_bundle
from rosterlab.ui.base import PAGE_SIZE, Pager, Panel, html_box, wrap
from rosterlab.ui.picker import night_text
from rosterlab.ui.reports import Static
from rosterlab.ui.session import NightRef, Workbench, scratch_dir

CHANGES_FILE = "changes.csv"
RULE_COLUMNS = ("rule", "line", "op", "entity", "field", "what", "reason")


@dataclass(frozen=True)
class PushPreview:
    """A dry run: the plan and the bundle's verdict (nothing uploaded, nothing recorded)."""

    plan: PushPlan
    verdict: Verdict

    @property
    def refused(self) -> bool:
        return self.verdict.error_count > 0

    def __repr__(self) -> str:
        return (
            "PushPreview: "
            + render.plan_text(self.plan, self.verdict)
            + ("\n  dry run: nothing was uploaded or recorded")
        )

    def _repr_html_(self) -> str:
        return wrap(f"<pre>{esc(repr(self))}</pre>")


class FixPanel(Panel):
    """Build a corrected bundle of one night, show what changed, dry-run and push it."""

    def __init__(
        self,
        bench: Workbench,
        rules: str | Path,
        *,
        snapshot: NightRef = "latest",
        target: str | None = None,
        out: str | Path | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.bench = bench
        self.rules = load_rules(rules, district=bench.district)
        self.source = bench.snapshot(snapshot)
        self.target_name = target
        self._out = Path(out) if out is not None else None
        self.result: FixResult | None = None
        self.error: str | None = None  # the last step's error (shown in the status box)
        self.preview: PushPreview | None = None
        self.pushed: PushResult | None = None
        self._changes = pl.DataFrame()
        self.rules_box = html_box(self._rules_html())
        self.build_button = widgets.Button(
            description="rebuild corrected bundle", layout={"width": "auto"}
        )
        self.summary = html_box()
        self.changes_table = html_box()
        self.changes_table.add_class("rl-fix-changes")
        self.pager = Pager(self.show_page, page_size)
        self.dry_run_button = widgets.Button(
            description="dry run", disabled=target is None, tooltip="plan the upload; touch nothing"
        )
        self.plan_box = html_box()
        self.confirm = widgets.Checkbox(
            value=False,
            disabled=True,
            description="run a dry run first",
            layout={"width": "auto"},
        )
        self.force = widgets.Checkbox(
            value=False,
            description="push even with error findings (Clever may skip or mislink records)",
            layout={"width": "auto"},
        )
        self.push_button = widgets.Button(description="push", button_style="danger", disabled=True)
        self.status = html_box()
        self.build_button.on_click(lambda _: self.build())
        self.dry_run_button.on_click(lambda _: self.dry_run())
        self.push_button.on_click(lambda _: self.push())
        self.confirm.observe(lambda _: self._arm(), "value")
        super().__init__(
            [
                self.rules_box,
                self.build_button,
                self.summary,
                self.changes_table,
                self.pager,
                self.dry_run_button,
                self.plan_box,
                self.force,
                self.confirm,
                self.push_button,
                self.status,
            ]
        )
        self.add_class("rl-fix-panel")
        self.build()

    # --- steps -----------------------------------------------------------------------------
    def build(self) -> FixResult | None:
        """Write the corrected bundle: into ``out`` if given, else a fresh scratch folder (kept
        while the kernel runs: push it from there, or pass ``out`` to keep it)."""
        out = self._out or scratch_dir("fixed") / f"{self.bench.district}-night{self.source.seq}"
        try:  # writable while it runs: the hold is predicted by a trial ingest, rolled back
            with self.bench.writing() as store:
                self.result = fix_snapshot(
                    store, self.source.id, self.rules, out, settings=self.bench.settings
                )
        except RosterlabError as exc:
            self._say(exc.message, error=True)
            return None
        self.error = None
        self.preview = None
        self._arm()
        self.summary.value = wrap(f"<pre>{esc(render.fix_text(self.result))}</pre>")
        self._changes = pl.read_csv(self.result.out_dir / CHANGES_FILE, infer_schema=False)
        self.pager.reset(self._changes.height)
        self.show_page()
        return self.result

    def show_page(self) -> None:
        page = self._changes.slice(self.pager.offset, self.pager.page_size)
        self.changes_table.value = wrap(
            "<h4>Corrected vs. original (changes.csv)</h4>"
            + html_table(page.columns, page.rows(), empty="no changes")
        )

    def dry_run(self) -> PushPreview | Static:
        """Plan the upload to the target and check the bundle; nothing is uploaded. When it
        cannot (no bundle, a target rosterlab.toml lacks), why: in the panel and, called from a
        cell, as that cell's output (the panel may be far above it)."""
        if self.result is None or self.target_name is None:
            return self._no_dry_run("build a corrected bundle and give a target first")
        try:
            target = load_target(self.bench.config, self.target_name)
            verdict = bundle_verdict(self.result.out_dir, district=self.bench.district)
            plan = push_bundle(target, self.result.out_dir, dry_run=True).plan
        except RosterlabError as exc:
            return self._no_dry_run(exc.message)
        self.preview = PushPreview(plan, verdict)
        self.plan_box.value = self.preview._repr_html_()
        self.confirm.description = (
            f"upload {len(plan.files)} files ({plan.total_bytes:,} bytes) to {plan.target} "
            f"({plan.host}:{plan.port}{plan.remote_dir})"
        )
        self.confirm.value = False
        self.confirm.disabled = False
        self._arm()
        return self.preview

    def push(self) -> PushResult | None:
        """Upload the corrected bundle: only after a dry run, with the box ticked."""
        preview = self.preview
        if self.result is None or preview is None or not self.confirm.value:
            self._say("run a dry run and tick the confirmation first: nothing was pushed", True)
            return None
        if preview.refused and not self.force.value:
            self._say(
                str(
                    PushRefusedError(
                        f"the bundle has {plural(preview.verdict.error_count, 'error finding')}"
                        ", so Clever would not process it, or skip or mislink "
                        "records: add rules, rebuild, "
                        "or tick 'push even with error findings'"
                    )
                ),
                error=True,
            )
            return None
        target = load_target(self.bench.config, preview.plan.target)
        plan = plan_push(target, self.result.out_dir)
        started = datetime.now(UTC)
        self.confirm.value = False
        try:
            result = push_bundle(target, self.result.out_dir)
        except RosterlabError as exc:
            with self.bench.writing() as store:
                log_push(
                    store,
                    plan,
                    preview.verdict,
                    forced=self.force.value,
                    started=started,
                    error=exc.message,
                )
            self._say(f"push failed (recorded): {exc.message}", error=True)
            return None
        with self.bench.writing() as store:
            record = log_push(
                store,
                plan,
                preview.verdict,
                forced=self.force.value,
                started=started,
                result=result,
            )
        self.pushed = result
        self._say(render.push_text(result, preview.verdict, record))
        return result

    # --- helpers ---------------------------------------------------------------------------

    def _arm(self) -> None:
        """The push button works only after a dry run, with the confirmation ticked."""
        self.push_button.disabled = self.preview is None or not self.confirm.value

    def _no_dry_run(self, why: str) -> Static:
        self._say(why, error=True)
        return Static(self.status.value, f"no dry run: {why}")

    def _say(self, text: str, error: bool = False) -> None:
        self.error = text if error else None
        css = ' class="sev-error"' if error else ""
        self.status.value = wrap(f"<pre{css}>{esc(text)}</pre>")

    def _rules_html(self) -> str:
        return f"<h4>Rules: {esc(self.rules.name)}</h4>" + html_table(
            RULE_COLUMNS,
            [(r.number, r.line, r.op, *r.subject, r.summary, r.reason) for r in self.rules.rules],
            numeric=("rule", "line"),
            empty="no rules",
        )

    def __repr__(self) -> str:
        lines = [
            f"FixPanel: {self.bench.district} {night_text(self.source)} with {self.rules.name} "
            f"({len(self.rules.rules)} rules)"
        ]
        lines += [
            f"  rule {r.number} {r.op} {r.subject[0] or ''} {r.summary}".rstrip() + f" — {r.reason}"
            for r in self.rules.rules
        ]
        if self.result is not None:
            lines += ["  " + line for line in render.fix_text(self.result).splitlines()]
        if self.error is not None:
            lines.append(f"  error: {self.error}")
        state = "pushed" if self.pushed else "dry run done" if self.preview else "no dry run yet"
        lines.append(f"  target: {self.target_name or 'none'} ({state})")
        return "\n".join(lines)
