"""Whole checks side by side: the checks after cells run on a second connection of the store.

A check run's statements are many and small; one connection keeps ~1.5 of two cores busy. The
checks from duplicates to shared-ids, then tonight's field profile, read only the staged files,
the distinct-value tables and the store's committed tables, so they run on a lane of their own
(:meth:`Store.lane`, one worker thread) while the store's connection runs cells. That needs the
staging and the distinct-value tables in the store's staging catalog (a TEMP table is its own
connection's) and made before the run's transaction (which writes the store's database only).

The lane keeps its finding rows in a TEMP table of its own; the run takes them, with the lane's
findings and profile, where the checks' order reaches the first lane check: the batch numbers,
the findings and their order are the ones the checks give one after another.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

from rosterlab.checks.fields import FieldProfile, profile_snapshot
from rosterlab.checks.model import Check, CheckContext
from rosterlab.checks.rows import cell_values
from rosterlab.checks.sql import STORED_ROWS, rows_table
from rosterlab.spec import Finding
from rosterlab.store import Store

# The checks that run on the lane, in the checks' order (cells, first, stays on the store's).
LANE_CHECKS = ("duplicates", "contacts", "references", "enrollments", "orphans", "shared-ids")
_LANE_ROWS = "_lane_finding_rows"

Done = tuple[dict[str, list[Finding]], list[FieldProfile], list[str]]


class CheckLane:
    """The lane of one check run: :meth:`start` it before the run's transaction, ask
    :meth:`findings` for each lane check in order, :meth:`close` it however the run ends."""

    def __init__(self, lane: Store, future: Future[Done], pool: ThreadPoolExecutor) -> None:
        self._lane = lane
        self._future = future
        self._pool = pool
        self._taken: dict[str, list[Finding]] | None = None

    @classmethod
    def start(cls, ctx: CheckContext, checks: tuple[Check, ...]) -> CheckLane | None:
        """Start the lane checks of ``checks`` beside the run; None when they cannot run there
        (staging TEMP, a transaction open, one thread: the run does them in order itself)."""
        store = ctx.store
        if (
            ctx.beside is None
            or not ctx.beside.concurrent
            or store.in_transaction
            or store.staged_in is None
        ):
            return None
        cell_values(ctx)  # cells only reads them meanwhile: the lane makes the rest
        lane = store.lane()
        try:
            lane.execute(f"CREATE OR REPLACE TEMP TABLE {_LANE_ROWS} AS FROM {STORED_ROWS} LIMIT 0")
        except BaseException:
            lane.close()
            raise
        lane_ctx = replace(ctx, store=lane, batches=[], rows_into=_LANE_ROWS, unserved=None)
        pool = ThreadPoolExecutor(1, thread_name_prefix="rosterlab-checks")
        future = pool.submit(_run, lane_ctx, [c for c in checks if c.name in LANE_CHECKS])
        return cls(lane, future, pool)

    def findings(self, ctx: CheckContext, name: str) -> list[Finding]:
        """The lane check ``name``'s findings; at the first one asked, wait for the lane and take
        its rows into the run's table (numbered after the run's batches) and its profile."""
        if self._taken is None:
            found, profiles, batches = self._future.result()
            rows = self._lane.query(
                f"SELECT * REPLACE (batch + ? AS batch) FROM {_LANE_ROWS} ORDER BY rowid",
                [len(ctx.batches)],
            )
            ctx.store.append(rows_table(ctx.store, ctx.snapshot.id), rows)
            ctx.batches.extend(batches)
            ctx.profiled.extend(profiles)
            self._taken = found
        return self._taken[name]

    def close(self, *, interrupt: bool) -> None:
        """Wait for the lane (stopping its statement when ``interrupt``) and close it."""
        if interrupt:
            self._lane.interrupt()
            self._future.cancel()
        self._pool.shutdown(wait=True)
        self._lane.close()


def _run(ctx: CheckContext, checks: list[Check]) -> Done:
    found = {check.name: check.run(ctx) for check in checks}
    profiles = profile_snapshot(
        ctx.store, ctx.snapshot.id, ctx.staged, ctx.settings, ctx, keep=False
    )
    return found, profiles, ctx.batches
