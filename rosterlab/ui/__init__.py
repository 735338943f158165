"""The workbench widgets: the only room that imports ipywidgets; thin shells over the library.

>>> bench = open_workbench(store=None, district="maple")   # None: ROSTERLAB_STORE or the samples
>>> DiffExplorer(bench, nights=("previous", "latest"))
>>> pull_api(bench, 3); ReconcileView(bench, upload=3)   # upload vs what Clever serves
>>> call_first(fleet_status_of("rosterlab.toml"))       # a fleet's morning overview
"""

from rosterlab.ui.charts import churn, consecutive_diffs, record_counts
from rosterlab.ui.diff_explorer import DiffExplorer
from rosterlab.ui.fields import FieldMatrixView, fill_rates, matrix_for
from rosterlab.ui.findings import FindingsBrowser, check
from rosterlab.ui.fix_panel import FixPanel, PushPreview
from rosterlab.ui.fleet import (
    api_pulls,
    call_first,
    error_trends,
    fleet_status_of,
    outcome_grid,
    predicted_holds,
)
from rosterlab.ui.history import SyncHistory, sync_history
from rosterlab.ui.picker import SnapshotPicker
from rosterlab.ui.reconcile import ReconcileView, pull_api
from rosterlab.ui.reports import (
    Static,
    diff_summary,
    field_flags,
    history_heading,
    intro,
    night_findings,
    title,
)
from rosterlab.ui.session import Workbench, build_sample_store, open_workbench, samples_dir

__all__ = [
    "DiffExplorer",
    "FieldMatrixView",
    "FindingsBrowser",
    "FixPanel",
    "PushPreview",
    "ReconcileView",
    "SnapshotPicker",
    "Static",
    "SyncHistory",
    "Workbench",
    "api_pulls",
    "build_sample_store",
    "call_first",
    "check",
    "churn",
    "consecutive_diffs",
    "diff_summary",
    "error_trends",
    "field_flags",
    "fill_rates",
    "fleet_status_of",
    "history_heading",
    "intro",
    "matrix_for",
    "night_findings",
    "open_workbench",
    "outcome_grid",
    "predicted_holds",
    "pull_api",
    "record_counts",
    "samples_dir",
    "sync_history",
    "title",
]
