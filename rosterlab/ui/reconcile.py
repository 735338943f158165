"""Reconcile in the workbench: what a district uploaded vs what Clever's Data API serves.

A thin shell over :func:`rosterlab.api.reconcile.reconcile`. :func:`pull_api` brings an API
snapshot into the workbench's store: from a real ``[api.NAME]`` target, or from the local
stand-in (``rosterlab api serve``, its own process on 127.0.0.1, a port the system picks and a
one-time token) serving one of the sample district's uploaded nights as Clever would.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import ipywidgets as widgets

import rosterlab
from rosterlab import spec
from rosterlab.api.reconcile import ReconcileResult, reconcile
from rosterlab.checks import check_ingested
from rosterlab.errors import ApiError, RosterlabError, SnapshotNotFoundError
from rosterlab.report.html import esc, html_table
from rosterlab.report.snapshots import outcome_sentence
from rosterlab.spec import Finding
from rosterlab.store import SnapshotInfo
from rosterlab.store.outcomes import API_ORIGIN
from rosterlab.ui.base import PAGE_SIZE, Pager, Panel, html_box, wrap
from rosterlab.ui.reports import Static
from rosterlab.ui.session import SAMPLES_ORIGIN, NightRef, Workbench, sample_store, scratch_dir

STANDIN_TOKEN_ENV = "ROSTERLAB_STANDIN_TOKEN"
STANDIN_VERSION = "3.1"
ALL_CODES = "(all differences)"
DETAIL_COLUMNS = ("severity", "code", "entity", "key", "field", "value", "message")


def uploaded_night(bench: Workbench, night: NightRef) -> SnapshotInfo:
    """An uploaded snapshot of the district (``latest``: the newest upload, not a pull)."""
    if night == "latest":
        uploads = [s for s in bench.snapshots if s.origin != API_ORIGIN]
        if not uploads:
            raise SnapshotNotFoundError(f"district {bench.district} has no uploaded snapshot")
        return uploads[-1]
    snap = bench.snapshot(night)
    if snap.origin == API_ORIGIN:
        raise SnapshotNotFoundError(
            f"snapshot {snap.id} is an API pull: name an uploaded night of {bench.district}"
        )
    return snap


@contextmanager
def standin(store: Path, district: str, snapshot_id: int, token: str) -> Iterator[str]:
    """``rosterlab api serve`` of one snapshot, as its own process; yields its origin URL."""
    package_root = str(Path(rosterlab.__file__).parent.parent)
    env = {**os.environ, STANDIN_TOKEN_ENV: token}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (package_root, env.get("PYTHONPATH"))))
    command = [sys.executable, "-m", "rosterlab", "--store", str(store), "api", "serve",
               "--district", district, "--snapshot", str(snapshot_id), "--port", "0"]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        line = process.stdout.readline()  # "serving ... at http://127.0.0.1:PORT/v3.0 and ..."
        if " at http://" not in line:
            process.kill()
            problem = process.stderr.read().strip().splitlines() or ["no output"]
            raise ApiError(f"the stand-in did not start: {problem[-1]}")
        yield line.split(" at ", 1)[1].split("/v3.0", 1)[0]
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def pull_api(bench: Workbench, night: NightRef = "latest", *, target: str | None = None) -> Static:
    """Pull the district's Data API into the workbench's store as its next snapshot (origin api),
    and check it as ``rosterlab api pull`` does.

    ``target``: an ``[api.NAME]`` of the settings (a real API; ``night`` is then ignored).
    ``None``: the local stand-in serving ``night`` of the sample district, as Clever would
    (the stand-in needs a store of its own: only the sample run has one to give it).
    A pull that cannot run says why in its output (one line, no traceback).
    """
    try:
        return _pull(bench, night, target)
    except RosterlabError as exc:
        text = f"no pull: {exc.message}"
        return Static(wrap(f'<pre class="sev-error">{esc(text)}</pre>'), text)


def _pull(bench: Workbench, night: NightRef, target: str | None) -> Static:
    from rosterlab.api import ApiTarget, api_token, load_api_target, pull_district

    if target is not None:
        api = load_api_target(bench.config, target)
        with bench.writing() as store:  # the workbench reads a published copy
            result = pull_district(store, api, api_token(api), district=bench.district)
            check_ingested(store, result.ingest, bench.settings)
        where = f"[api.{target}] (Data API v{api.version})"
    else:
        if bench.origin != SAMPLES_ORIGIN:
            raise ApiError(
                "the local stand-in serves the sample districts only: give target= an "
                "[api.NAME] of your rosterlab.toml, or run rosterlab api serve on a copy of "
                "the store"
            )
        upload = uploaded_night(bench, night)
        served_store = scratch_dir("standin") / f"{bench.district}.duckdb"
        sample_store(served_store, bench.district)
        token = secrets.token_urlsafe(24)
        with (
            standin(served_store, bench.district, upload.id, token) as origin,
            bench.writing() as store,
        ):
            api = ApiTarget("standin", origin, STANDIN_VERSION, None)
            result = pull_district(store, api, token, district=bench.district)
            check_ingested(store, result.ingest, bench.settings)
        where = f"the local stand-in serving night {upload.seq} (Data API v{STANDIN_VERSION})"
    snap = result.ingest.snapshot
    if not result.ingest.new:
        text = f"{bench.district}: {where} serves what snapshot #{snap.id} holds: no new snapshot"
    else:
        scope = " · ".join(f"{step} {count:,}" for step, count in result.pull.scope.items())
        text = (
            f"{bench.district}: pulled {where} into snapshot #{snap.id} (origin api), "
            f"{result.pull.pages} pages\n  served: {scope}"
        )
    return Static(wrap(f"<p>{esc(text)}</p>".replace("\n", "<br>")), text)


def served_label(snap: SnapshotInfo) -> str:
    return f"API pull #{snap.id}"


def upload_label(snap: SnapshotInfo) -> str:
    return f"night {snap.seq} · {snap.taken_at:%Y-%m-%d} (#{snap.id})"


class ReconcileView(Panel):
    """Upload and served pickers, records per entity, differences by code, a detail page."""

    def __init__(
        self,
        bench: Workbench,
        upload: NightRef | None = None,
        served: NightRef | None = None,
        *,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.bench = bench
        history = bench.snapshots
        pulls = [s for s in history if s.origin == API_ORIGIN]
        if not pulls:
            raise SnapshotNotFoundError(
                f"district {bench.district} has no API snapshot: run ui.pull_api(bench) or "
                "rosterlab api pull first"
            )
        served_snap = bench.snapshot(served) if served is not None else pulls[-1]
        self.served = widgets.Dropdown(
            description="served",
            options=[(served_label(s), s.id) for s in pulls],
            value=served_snap.id,
        )
        uploads = [s for s in history if s.origin != API_ORIGIN]
        self.upload = widgets.Dropdown(
            description="upload", options=[(upload_label(s), s.id) for s in uploads]
        )
        if upload is not None:
            self.upload.value = uploaded_night(bench, upload).id
        else:
            earlier = [s for s in uploads if s.seq < served_snap.seq]
            self.upload.value = (earlier or uploads)[-1].id
        self.code = widgets.Dropdown(description="code", options=[ALL_CODES], value=ALL_CODES)
        self.summary = html_box()
        self.table = html_box()
        self.pager = Pager(self.show_page, page_size)
        self.result: ReconcileResult | None = None
        self._selected: list[Finding] = []
        self._busy = False
        self.upload.observe(lambda _: self.load(), "value")
        self.served.observe(lambda _: self.load(), "value")
        self.code.observe(lambda _: self.select(), "value")
        super().__init__(
            [
                widgets.HBox([self.upload, self.served]),
                self.summary,
                self.code,
                self.table,
                self.pager,
            ]
        )
        self.add_class("rl-reconcile")
        self.load()

    @property
    def page(self) -> list[Finding]:
        return self._selected[self.pager.offset : self.pager.offset + self.pager.page_size]

    def load(self) -> None:
        self.result = reconcile(
            self.bench.store,
            self.bench.district,
            upload=int(self.upload.value),
            served=int(self.served.value),
        )
        self.summary.value = wrap(self._summary_html(self.result))
        self._busy = True
        try:
            self.code.options = [ALL_CODES, *(code for code, _ in self.result.totals)]
            self.code.value = ALL_CODES
        finally:
            self._busy = False
        self.select()

    def select(self) -> None:
        if self._busy or self.result is None:
            return
        wanted = self.code.value
        self._selected = [f for f in self.result.findings if wanted in (ALL_CODES, f.code)]
        self.pager.reset(len(self._selected))
        self.show_page()

    def show_page(self) -> None:
        page = self.page
        self.table.value = wrap(
            html_table(
                DETAIL_COLUMNS,
                [(f.severity, f.code, f.entity, f.key, f.field, f.value, f.message) for f in page],
                empty="no differences",
            )
            + (f"<p><b>What to do:</b> {esc(page[0].hint)}</p>" if page else "")
        )

    def _summary_html(self, result: ReconcileResult) -> str:
        up, served = result.upload, result.served
        entities = html_table(
            ("entity", "uploaded", "served", "matched", "identical"),
            [(e.entity, e.uploaded, e.served, e.matched, e.identical) for e in result.entities],
            numeric=("uploaded", "served", "matched", "identical"),
        )
        codes = html_table(
            ("code", "severity", "differences", "listed"),
            [
                (code, spec.CATALOGUE[code].severity, count, self._listed[code])
                for code, count in result.totals
            ],
            numeric=("differences", "listed"),
            empty="no differences: Clever serves exactly what was uploaded",
        )
        return (
            f"<p><b>{esc(result.district)}</b>: upload night {up.seq} (#{up.id}) vs served "
            f"snapshot #{served.id} (API v{esc(result.version)}) — "
            f"{self._total:,} differences, {result.unexplained:,} unexplained"
            + (" (details truncated; counts exact)" if result.truncated else "")
            + "</p>"
            + (
                f"<p>{esc(outcome_sentence(result.upload_outcome))}</p>"
                if result.upload_outcome
                else ""
            )
            + f"{entities}{codes}"
        )

    @property
    def _listed(self) -> Counter[str]:
        return Counter(f.code for f in self.result.findings) if self.result else Counter()

    @property
    def _total(self) -> int:
        return sum(count for _, count in self.result.totals) if self.result else 0

    def __repr__(self) -> str:
        result = self.result
        if result is None:
            return "ReconcileView: nothing loaded"
        up, served = result.upload, result.served
        lines = [
            f"ReconcileView: {result.district}, upload night {up.seq} (#{up.id}) vs served "
            f"snapshot #{served.id} (API v{result.version}): {self._total:,} differences, "
            f"{result.unexplained:,} unexplained",
            *([f"  {outcome_sentence(result.upload_outcome)}"] if result.upload_outcome else []),
            f"  {'entity':<12} {'uploaded':>9} {'served':>9} {'matched':>9} {'identical':>9}",
        ]
        lines += [
            f"  {e.entity:<12} {e.uploaded:>9,} {e.served:>9,} {e.matched:>9,} {e.identical:>9,}"
            for e in result.entities
        ]
        lines += [
            f"  {spec.CATALOGUE[code].severity:<7} {code} ×{count:,}"
            for code, count in result.totals
        ]
        lines.append(f"  showing {self.code.value}: {self.pager.describe()}")
        lines += [f"    {f.code}: {f.message}" for f in self.page]
        return "\n".join(lines)
