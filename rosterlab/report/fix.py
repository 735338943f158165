"""Render corrected bundles, push plans and results, and pulls (text and JSON-ready dicts)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rosterlab.fix import FixResult, HoldPrediction, Verdict
from rosterlab.report.snapshots import summary_text
from rosterlab.report.text import shown
from rosterlab.spec import Finding, plural
from rosterlab.store.pushes import PushRecord
from rosterlab.transport import PullResult, PushPlan, PushResult


def hold_text(hold: HoldPrediction) -> str:
    baseline = hold.baseline
    note = f" ({hold.note})" if hold.note else ""
    if baseline is None:
        return f"hold: not predicted{note}"
    if baseline["kind"] == "push":
        against = f"push {baseline['push']} to {baseline['target']} ({baseline['pushed_at']})"
    else:
        against = f"snapshot {baseline['snapshot']} (night {baseline['night']})"
    if not hold.predicted:
        return f"hold: not predicted against {against}, by {hold.method}{note}"
    reasons = ", ".join(
        f"{r.entity} {r.kind} {r.ratio:.0%} > {r.threshold:.0%}"
        + (" (term rollover: expected)" if r.expected else "")
        for r in hold.reasons
    )
    return f"hold: PREDICTED against {against}, by {hold.method}: {reasons}{note}"


def errors_by_code(findings: Sequence[Finding]) -> list[str]:
    """Per error code: count, first message and hint (why it remains, what to do)."""
    first: dict[str, Finding] = {}
    counts: dict[str, int] = {}
    for f in findings:
        first.setdefault(f.code, f)
        counts[f.code] = counts.get(f.code, 0) + 1
    lines = []
    for code in sorted(first):
        lines.append(f"error   {code} ×{counts[code]}: {shown(first[code].message)}")
        lines.append(f"        hint: {first[code].hint}")
    return lines


def fix_text(result: FixResult) -> str:
    source = result.source
    lines = [
        f"{result.district} snapshot {source.id} (night {source.seq}, "
        f"{source.taken_at:%Y-%m-%d %H:%M}) + {result.rules.name} → {result.out_dir}"
    ]
    for o in result.outcomes:
        lines.append(
            f"  rule {o.number} {o.op} (line {o.line}): {plural(o.changes, 'change')} — {o.reason}"
        )
        if o.when is not None:
            lines.append(f"      when: {o.when} (only the records carrying it)")
        lines += [f"      note: {note}" for note in o.notes]
        lines += [f"      changed a valid value (forced): {v}" for v in o.valid_changed_text()]
    if result.unparseable_rows:
        lines.append(
            f"  {plural(result.unparseable_rows, 'unparseable row')} left out (in changes.csv)"
        )
    if result.header_rows:
        lines.append(
            f"  {plural(result.header_rows, 'header row')} left out (the header line again, or "
            "its underline, read as a record; in changes.csv)"
        )
    lines.append("  files: " + " · ".join(f"{f.name} {f.rows:,}" for f in result.files))
    lines.append(f"  changes.csv: {plural(result.changes, 'row')}")
    lines.append(f"  findings before: {summary_text(result.before)}")
    lines.append(f"  findings after:  {summary_text(result.after)}")
    lines.append(f"  {hold_text(result.hold)}")
    lines += [f"  note: {note}" for note in result.notes]
    if result.remaining:
        lines.append(
            "  errors remain: Clever would not process this bundle, or skip or mislink records:"
        )
        lines += [f"    {line}" for line in errors_by_code(result.remaining)]
    return "\n".join(lines)


def fix_dict(result: FixResult) -> dict[str, Any]:
    return {"out": str(result.out_dir), "ok": result.ok, **result.manifest()}


def verdict_text(verdict: Verdict) -> str:
    where = "manifest.json" if verdict.source == "manifest" else "a check of its files"
    if not verdict.error_count:
        text = f"no error findings (from {where})"
    else:
        codes = ", ".join(f"{code} ×{n}" for code, n in verdict.errors.items())
        text = f"{plural(verdict.error_count, 'error finding')} (from {where}): {codes}"
    return text + (f"; {verdict.note}" if verdict.note else "")


def plan_text(plan: PushPlan, verdict: Verdict) -> str:
    lines = [
        f"push {plan.bundle_dir} → {plan.target} ({plan.host}:{plan.port}{plan.remote_dir}): "
        f"{plural(len(plan.files), 'file')}, {plan.total_bytes:,} bytes",
        f"  bundle sha256 {plan.bundle_sha256}",
    ]
    for f in plan.files:
        lines.append(f"  {f.name:<16} {f.size:>12,} bytes → {f.remote_path}")
    if plan.missing:
        lines.append(f"  missing required files: {', '.join(plan.missing)}")
    if plan.skipped:
        lines.append(f"  not uploaded: {', '.join(plan.skipped)}")
    lines.append(f"  check: {verdict_text(verdict)}")
    return "\n".join(lines)


def push_text(
    result: PushResult,
    verdict: Verdict,
    record: PushRecord | None,
    credentials: Sequence[str] = (),
) -> str:
    """A push, or a dry run: its plan, check, predicted hold (from manifest.json) and the
    credentials checked without connecting."""
    plan = result.plan
    if result.outcome == "dry-run":
        hold = (
            hold_text(verdict.hold) + " (from manifest.json)"
            if verdict.hold is not None
            else "hold: unknown (no manifest.json from rosterlab fix)"
        )
        lines = [plan_text(plan, verdict), f"  {hold}"]
        lines += [f"  credentials: {line}" for line in credentials]
        return "\n".join([*lines, "  dry run: nothing was uploaded or recorded"])
    lines = [
        f"pushed {plural(len(plan.files), 'file')} ({plan.total_bytes:,} bytes) to "
        f"{plan.target} ({plan.host}:{plan.port}{plan.remote_dir}) in "
        f"{plural(result.attempts, 'attempt')}",
        f"  bundle sha256 {plan.bundle_sha256}",
        f"  check: {verdict_text(verdict)}",
    ]
    if verdict.error_count:
        lines.append(
            "  pushed despite error findings (--force): Clever may not process this upload, or "
            "skip or mislink records"
        )
    if result.stale_remote:
        lines.append(
            f"  still on the remote from an earlier bundle: {', '.join(result.stale_remote)} "
            "(not deleted)"
        )
    if record is not None:
        lines.append(f"  recorded as push {record.id}")
    return "\n".join(lines)


def push_dict(
    result: PushResult,
    verdict: Verdict,
    record: PushRecord | None,
    credentials: Sequence[str] = (),
) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if result.outcome == "dry-run":
        extra = {
            "hold": verdict.hold.to_dict() if verdict.hold is not None else None,
            "credentials": list(credentials),
        }
    return {
        **result.to_dict(),
        **extra,
        "check": {
            "source": verdict.source,
            "errors": verdict.error_count,
            "by_code": dict(verdict.errors),
            "note": verdict.note,
        },
        "push_id": record.id if record is not None else None,
    }


def pull_text(pull: PullResult) -> str:
    size = sum(f.size for f in pull.files)
    return (
        f"pulled {plural(len(pull.files), 'file')} ({size:,} bytes) from {pull.target} "
        f"({pull.host}:{pull.port}{pull.remote_dir})"
    )


def pull_dict(pull: PullResult, ingest: Mapping[str, Any]) -> dict[str, Any]:
    pulled = pull.to_dict()
    del pulled["dest_dir"]  # a temporary folder, gone once ingested
    return {"pull": pulled, **ingest}
