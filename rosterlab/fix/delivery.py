"""Record a push of a corrected bundle in the store, pushed or failed, for CLI and widgets alike."""

from __future__ import annotations

from datetime import UTC, datetime

from rosterlab.fix.recheck import Verdict
from rosterlab.store import Store
from rosterlab.store.pushes import PushedFile, PushRecord, record_push
from rosterlab.transport import PushPlan, PushResult


def log_push(
    store: Store,
    plan: PushPlan,
    verdict: Verdict,
    *,
    forced: bool,
    started: datetime,
    result: PushResult | None = None,
    error: str | None = None,
) -> PushRecord:
    """Log a push: ``result`` when it went through, else the one-line ``error``.

    ``forced`` is recorded only when it mattered (the bundle still had error findings).
    """
    return record_push(
        store,
        PushRecord(
            target=plan.target,
            host=plan.host,
            port=plan.port,
            remote_dir=plan.remote_dir,
            bundle_dir=str(plan.bundle_dir.resolve()),
            bundle_sha256=plan.bundle_sha256,
            started_at=result.started_at if result else started,
            finished_at=result.finished_at if result else datetime.now(UTC),
            outcome="pushed" if result else "failed",
            files=tuple(PushedFile(f.name, f.size, f.sha256) for f in plan.files),
            district=verdict.district,
            error=error,
            attempts=result.attempts if result else None,
            forced=forced and verdict.error_count > 0,
            entity_rows=verdict.entity_rows,
            stale_remote=tuple(result.stale_remote) if result else (),
        ),
    )
