"""The workbench's charts for a district (rendered by :mod:`rosterlab.report.charts`)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import polars as pl

from rosterlab.diff import DiffResult, HoldThresholds, diff_snapshots
from rosterlab.report import charts
from rosterlab.store.outcomes import NOT_PROCESSED, live_before, outcome_of
from rosterlab.ui.session import NightRef, Workbench


def consecutive_diffs(
    bench: Workbench, nights: Sequence[NightRef] | None = None
) -> list[DiffResult]:
    """The diff of every night after the first of ``nights`` (None: all) against the state
    Clever served when it arrived (its last processed upload; a pull's: the previous pull). A
    night with none, such as a district's first pull after its uploads, has nothing to compare
    with and no diff."""
    span = bench.span(nights)
    thresholds = HoldThresholds.of(bench.settings)
    return [
        diff_snapshots(bench.store, bench.district, live.id, new.id, thresholds=thresholds)
        for _, new in pairwise(span)
        if (live := live_before(bench.store, new)) is not None
    ]


def record_counts(bench: Workbench, nights: Sequence[NightRef] | None = None) -> charts.Chart:
    """Records per night per entity; a night Clever did not process stands off the line."""
    span = bench.span(nights)
    seqs = [s.seq for s in span]
    skipped = [s.seq for s in span if outcome_of(bench.store, s.id).outcome == NOT_PROCESSED]
    counts = charts.counts_per_night(bench.store, bench.district)
    return charts.record_counts_chart(
        counts.filter(pl.col("seq").is_in(seqs)), bench.district, skipped
    )


def churn(bench: Workbench, nights: Sequence[NightRef] | None = None) -> charts.Chart:
    """Added / removed / changed per night, predicted holds marked."""
    return charts.churn_chart(consecutive_diffs(bench, nights), bench.district)
