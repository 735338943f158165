"""Run every check over one snapshot, cache the findings in the store, group them by cause.

The checks' findings are recorded as the snapshot's ``check`` stage and marked current in
``check_runs`` with a fingerprint of everything they depend on (the checks' version, the
snapshot and its predecessor as ingested, the district's ledger, the settings). A later run with
the same fingerprint reads them back instead of recomputing; a rebuilt history, a ledger edit or
new settings recompute. The result adds the ingest findings (file, header, malformed rows).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace

from rosterlab import spec
from rosterlab.checks.crossfile import (
    check_enrollments,
    check_orphans,
    check_references,
    check_shared_ids,
)
from rosterlab.checks.fields import HISTORY_CODES, check_fields, snapshot_profiles
from rosterlab.checks.lanes import LANE_CHECKS, CheckLane
from rosterlab.checks.ledger import check_ledger, ledger_fingerprint
from rosterlab.checks.model import (
    Check,
    CheckContext,
    CheckResult,
    CheckSettings,
    group_by_cause,
    worded_for,
)
from rosterlab.checks.rows import check_cells, check_contacts, check_duplicates
from rosterlab.checks.sql import STORED_ROWS, create_rows_table, rows_table
from rosterlab.diff import diff_snapshots, history_findings
from rosterlab.spec import Finding, finding
from rosterlab.store import Beside, SnapshotInfo, Store, quote_ident, stage_snapshot
from rosterlab.store.outcomes import (
    UnservedLater,
    live_before,
    record_outcome,
    snapshot_outcome,
)

CHECKS_VERSION = "13"
STAGE = "check"


def check_history(ctx: CheckContext) -> list[Finding]:
    """Predicted holds, term rollovers and re-keyed IDs against the previous snapshot.

    A required file that is missing tonight means Clever does not process the upload
    (``missing-file``, v2.1.1): nothing is deleted or updated, so no hold is predicted.
    """
    if ctx.previous is None:
        return []
    result = diff_snapshots(
        ctx.store,
        ctx.snapshot.district,
        ctx.previous.id,
        ctx.snapshot.id,
        thresholds=ctx.settings.hold,
    )
    ctx.history.append(result)
    rejected = {
        entity
        for entity in spec.ENTITIES.values()
        if spec.FILES[entity.file].required and ctx.staged_of(entity.name) is None
    }
    return [
        _restored(ctx, f) if f.code == "id-rekeyed" else f
        for f in history_findings(result, ctx.snapshot.sync_type)
        if not (rejected and f.code.startswith("hold-mass-"))
    ]


def _restored(ctx: CheckContext, rekeyed: Finding) -> Finding:
    """A re-key back to an ID the record had before the live state is ``id-restored`` (info).

    The new key held a version that ended before the live state: the district corrected a
    mistake (a shared staff ID, a wrong re-number), which is nothing to undo.
    """
    assert ctx.previous is not None and rekeyed.entity and rekeyed.key
    last = ctx.store.rows(
        f"SELECT max(valid_to) FROM {quote_ident(rekeyed.entity)} "
        "WHERE district = ? AND key = ? AND valid_to < ?",
        [ctx.snapshot.district, rekeyed.key, ctx.previous.seq],
    )[0][0]
    if last is None:
        return rekeyed
    return finding(
        "id-restored",
        entity=rekeyed.entity,
        key=rekeyed.key,
        value=rekeyed.value,
        sync_type=ctx.snapshot.sync_type,
        old_key=rekeyed.value,
        restored_from=last + 1,
    )


CHECKS: tuple[Check, ...] = (
    Check(
        "cells",
        (
            "missing-value",
            "white-space-only",
            "missing-value-unconfirmed",
            "padded-id",
            "excel-damage",
            "letters-lost",
            "invalid-date",
            "invalid-email",
            "invalid-phone",
            "invalid-zip",
            "invalid-state",
            "invalid-value",
            "unlisted-contact-value",
            "null-marker",
            "repeated-header",
            "underline-row",
        ),
        check_cells,
    ),
    Check(
        "duplicates",
        ("duplicate-id", "duplicate-unique-value", "teacher-several-schools"),
        check_duplicates,
    ),
    Check("contacts", ("incomplete-contact", "too-many-contacts"), check_contacts),
    Check(
        "references",
        (
            "unknown-school",
            "school-id-is-number",
            "enrollment-unknown-student",
            "enrollment-unknown-section",
            "section-unknown-teacher",
        ),
        check_references,
    ),
    Check("enrollments", ("enrollment-school-mismatch", "duplicate-enrollment"), check_enrollments),
    Check(
        "orphans",
        ("section-without-students", "student-without-enrollments", "teacher-without-sections"),
        check_orphans,
    ),
    Check("shared-ids", ("shared-staff-id",), check_shared_ids),
    Check("fields", HISTORY_CODES, check_fields),
    Check("ledger", ("override-reverted",), check_ledger),
    Check(
        "history",
        ("hold-mass-deletion", "hold-mass-update", "term-rollover", "id-rekeyed", "id-restored"),
        check_history,
    ),
)


def previous_snapshot(store: Store, snapshot: SnapshotInfo) -> SnapshotInfo | None:
    """The state Clever serves when ``snapshot`` arrives (None for the district's first night).

    History compares tonight with the last upload Clever processed: a night it did not process
    (a required file missing) or holds is not the live state. Like is compared with like: an API
    pull follows the previous pull, an upload the previous upload.
    """
    return live_before(store, snapshot)


def _fingerprint(
    store: Store, snapshot: SnapshotInfo, previous: SnapshotInfo | None, settings: CheckSettings
) -> str:
    parts = [
        CHECKS_VERSION,
        f"{snapshot.id}@{snapshot.ingested_at.isoformat()}",
        f"{previous.id}@{previous.ingested_at.isoformat()}" if previous else "-",
        ledger_fingerprint(store, snapshot.district),
        repr(settings),
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _context(
    store: Store,
    snapshot: SnapshotInfo,
    previous: SnapshotInfo | None,
    settings: CheckSettings,
    beside: Beside,
) -> CheckContext:
    """Profile the previous snapshot if needed, then stage this one.

    Both may parse raw files into temporary tables, so this runs outside any transaction: rows
    a transaction inserts carry provisional row ids, and ``_row`` (the file's row number) is
    derived from the row id.
    """
    # Kept in the context too: a read-only store (a reader's check) cannot keep it. A profile
    # whose sample an older version drew is profiled again, so tonight compares like with like.
    profiles = (
        snapshot_profiles(store, previous.id, settings, current=True)
        if previous is not None
        else None
    )
    staged = stage_snapshot(store, snapshot.id)
    in_order = {name: staged[name] for name in spec.FILES if name in staged}
    return CheckContext(
        store,
        snapshot,
        previous,
        in_order,
        settings,
        previous_profiles=profiles,
        beside=beside,
        unserved=None if store.read_only else UnservedLater(store, snapshot, beside),
    )


def _compute(ctx: CheckContext, lane: CheckLane | None = None) -> list[Finding]:
    """Every check in order (those of the ``lane`` taken from it); once the findings so far say
    the upload outcome will count the records Clever does not serve, their query starts beside
    the checks left."""
    create_rows_table(ctx)
    found: list[Finding] = []
    for check in CHECKS:
        if lane is not None and check.name in LANE_CHECKS:
            found += lane.findings(ctx, check.name)
        else:
            found += check.run(ctx)
        if ctx.unserved is not None:
            ctx.unserved.start_if_needed(found)
    return worded_for(ctx.snapshot, root_causes(found))


EXCEL_CAUSE = "excel-round-trip/{file}"
QUERY_TOOL_CAUSE = "query-tool/{file}"
# A query tool's line read as a record (checks.rows: seen on the record's ID).
QUERY_TOOL_CODES = frozenset({"repeated-header", "underline-row"})


def root_causes(found: Sequence[Finding]) -> list[Finding]:
    """Give the findings one mistake explains that mistake's cause, so they group as one.

    - School_number used as School_id (``school-id-is-number``, cause ``schools/<number>``):
      the re-keys whose new key differs from the old only by that number are its doing.
    - An Excel round trip (``excel-damage``): the damaged file's findings share the cause
      ``excel-round-trip/<file>``, and so does a format shift of a damaged column.
    - A query tool's line read as a record (``repeated-header``, ``underline-row``): the
      findings of the record it made share the cause ``query-tool/<file>`` — those on its row
      (the file's other records there: a student's contact), those of its key (a duplicate
      key) or naming it as their cause, and an aggregated one whose every record is such a
      line's. A finding of any other record keeps its cause, wherever it is in the file.
    """
    numbers = {f.value: f.cause for f in found if f.code == "school-id-is-number" and f.value}
    damaged = {
        (f.entity or "", f.field): EXCEL_CAUSE.format(file=spec.ENTITIES[f.entity].file)
        for f in found
        if f.code == "excel-damage" and f.entity
    }

    def line(f: Finding) -> tuple[str, int | None]:
        """The finding's line: its entity's file and its (first) row."""
        return (spec.ENTITIES[f.entity].file if f.entity else "", f.row)

    # The lines a query tool printed that parse as records, and the records (entity, key)
    # found on them: the line's own, and the file's other records there (a student's contact).
    printed_lines = {
        line(f): QUERY_TOOL_CAUSE.format(file=line(f)[0])
        for f in found
        if f.code in QUERY_TOOL_CODES and f.entity and f.row is not None
    }
    printed: dict[tuple[str | None, str | None], str] = {
        (f.entity, f.key): printed_lines[line(f)]
        for f in (found if printed_lines else ())
        if f.key and line(f) in printed_lines
    }

    def query_tool(f: Finding) -> str | None:
        """The cause ``query-tool/<file>`` of a finding of a record a query tool's line made."""
        if not printed:
            return None
        if f.key is None and f.count > 1:  # aggregated over a column: all its records listed?
            causes = {printed.get((f.entity, key)) for key in f.sample_keys}
            return causes.pop() if f.count <= len(f.sample_keys) and len(causes) == 1 else None
        named, _, key = (f.cause or "").partition(spec.KEY_SEPARATOR)
        return (
            printed_lines.get(line(f))
            or printed.get((f.entity, f.key))
            or printed.get((named, key))
        )

    def explained(f: Finding) -> Finding:
        cause = query_tool(f)
        if cause is not None:
            return replace(f, cause=cause)
        if f.code == "id-rekeyed" and f.key and f.value:
            new_parts = set(f.key.split(spec.KEY_SEPARATOR))
            changed = new_parts - set(f.value.split(spec.KEY_SEPARATOR))
            causes = {numbers.get(part) for part in changed}
            if len(causes) == 1 and None not in causes:
                return replace(f, cause=causes.pop())
        place = (f.entity or "", f.field)
        if f.code in ("excel-damage", "format-shift") and place in damaged:
            return replace(f, cause=damaged[place])
        return f

    return [explained(f) for f in found]


def checked_fingerprint(store: Store, snapshot_id: int) -> str | None:
    """The fingerprint the snapshot's kept checks ran with; None when they never ran."""
    kept = store.rows("SELECT fingerprint FROM check_runs WHERE snapshot_id = ?", [snapshot_id])
    return kept[0][0] if kept else None


def run_checks(
    store: Store,
    snapshot_id: int,
    *,
    settings: CheckSettings | None = None,
    refresh: bool = False,
) -> CheckResult:
    """Check one snapshot (cached per snapshot; ``refresh`` recomputes) and group by cause.

    On a writable store the findings are recorded as the snapshot's ``check`` stage, so
    ``store.findings(snapshot_id)`` returns ingest and check findings together, and the rows
    behind them as the snapshot's ``finding_row_lists`` (on a read-only store they stay in a
    temporary table of the connection: the result's ``details``).
    """
    settings = settings or CheckSettings()
    snapshot = store.snapshot(snapshot_id)
    previous = previous_snapshot(store, snapshot)
    fingerprint = _fingerprint(store, snapshot, previous, settings)
    cached = not refresh and checked_fingerprint(store, snapshot_id) == fingerprint
    details = STORED_ROWS
    history = None
    if cached:
        found = store.findings(snapshot_id, STAGE)
    else:
        # The store's second lane runs the checks' queries of committed tables (the night's
        # versions) beside their statements over the staged files: both cores stay busy.
        with store.beside() as beside:
            ctx = _context(store, snapshot, previous, settings, beside)
            # The temporary tables are dropped after the transaction ends: a failed statement
            # (out of memory) aborts it, and only its rollback makes the connection usable again.
            lane = None
            try:
                # The checks after cells run on a lane of their own beside it (checks.lanes).
                lane = CheckLane.start(ctx, CHECKS)
                if store.read_only:
                    found = _compute(ctx, lane)
                    details = rows_table(store, snapshot_id)
                else:
                    with store.transaction():
                        found = _compute(ctx, lane)
                        store.record_findings(snapshot_id, STAGE, found)
                        everything = (*store.findings(snapshot_id, "ingest"), *found)
                        record_outcome(
                            store,
                            snapshot_outcome(
                                store,
                                snapshot_id,
                                everything,
                                settings.district_values(),
                                unserved=ctx.unserved,
                            ),
                        )
                        store.execute(
                            "INSERT OR REPLACE INTO check_runs VALUES (?, ?, now()::TIMESTAMP)",
                            [snapshot_id, fingerprint],
                        )
            except BaseException:
                if lane is not None:
                    lane.close(interrupt=True)
                    lane = None
                raise
            finally:
                if lane is not None:
                    lane.close(interrupt=False)
                ctx.drop_tables()
        history = ctx.history[-1] if ctx.history else None
    findings = (*store.findings(snapshot_id, "ingest"), *found)
    return CheckResult(snapshot, findings, group_by_cause(findings), cached, details, history)
