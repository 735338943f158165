"""Render a diff and a record timeline: text, JSON-ready dicts (the CLI contract) and HTML.

Redaction (``redact=True``) masks the values of spec fields flagged PII, and of every column that
is not in the spec (ext.* and unknown columns: their content is unknown, so they are treated as
sensitive), in changes; and the contact identity in contact keys when it is built from PII
columns (``S-1/name+email:…``; a ``sis_id`` identity is an ID and stays). Student, teacher and
other IDs are not PII in the spec and stay. Everything taken from a file is escaped in HTML.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from rosterlab import spec
from rosterlab.diff import DiffResult, Timeline
from rosterlab.diff.model import TimelineChange, TimelineEvent
from rosterlab.report.html import PAGE_STYLE, esc, html_table
from rosterlab.report.snapshots import night_outcome_text
from rosterlab.store import SnapshotInfo
from rosterlab.store.outcomes import API_ORIGIN, SERVED_REASON

MASK = "•••"
RATIO_DIGITS = 4
NULL_TEXT = "∅"
BACKWARD = (
    "not predicted for a backward diff (from a later night to an earlier one): Clever holds an "
    "upload against the state before it, so a hold only makes sense forward in time"
)


# --- redaction ---------------------------------------------------------------------------
def _identity_labels() -> dict[str, bool]:
    """Contact identity label → whether it is built from PII columns (as ingest labels them)."""
    contacts = spec.ENTITIES["contacts"]
    return {
        "+".join(c.removeprefix("Contact_") for c in combo): any(
            contacts.field(c).pii for c in combo
        )
        for combo in spec.CONTACT_IDENTITY
    }


_PII_IDENTITY = _identity_labels()


def sensitive(entity: str, field: str) -> bool:
    """True for a PII spec field, or any column the spec does not know."""
    kind = spec.ENTITIES[entity]
    return kind.field(field).pii if field in kind.columns else True


def mask_value(entity: str, field: str | None, value: str | None, redact: bool) -> str | None:
    if not redact or value is None or field is None or not sensitive(entity, field):
        return value
    return MASK


def mask_key(entity: str, key: str, redact: bool) -> str:
    """A contact key keeps its student and a sis_id identity; other identities are masked."""
    secrets = key_secrets(entity, key) if redact else []
    if not secrets:
        return key
    student, identity = key.split(spec.KEY_SEPARATOR, 1)
    return f"{student}{spec.KEY_SEPARATOR}{identity.split(':', 1)[0]}:{MASK}"


def key_secrets(entity: str | None, key: str | None) -> list[str]:
    """The personal data in a record key: a contact identity built from PII columns (whole, and
    each of its parts: ``Pat Lee|pat@example.org``, ``Pat Lee``, ``pat@example.org``)."""
    kind = spec.ENTITIES.get(entity or "")
    if kind is None or kind.within is None or key is None or spec.KEY_SEPARATOR not in key:
        return []
    identity = key.split(spec.KEY_SEPARATOR, 1)[1]
    label, _, text = identity.partition(":")
    if not _PII_IDENTITY.get(label, True):
        return []
    return [part for part in (text, *text.split("|")) if part]


def mask_cause(cause: str | None, redact: bool) -> str | None:
    """A root cause (``entity/key``) with its key masked as :func:`mask_key` masks it."""
    if not redact or cause is None or spec.KEY_SEPARATOR not in cause:
        return cause
    entity, key = cause.split(spec.KEY_SEPARATOR, 1)
    return f"{entity}{spec.KEY_SEPARATOR}{mask_key(entity, key, redact)}"


def scrub(text: str | None, secrets: Collection[str]) -> str | None:
    """``text`` with every secret (longest first, any case) replaced by the mask."""
    if text is None:
        return None
    for secret in sorted(secrets, key=len, reverse=True):
        text = re.sub(re.escape(secret), MASK, text, flags=re.IGNORECASE)
    return text


# --- JSON --------------------------------------------------------------------------------
def _iso(snapshot: SnapshotInfo) -> str:
    return snapshot.taken_at.isoformat(timespec="seconds")


def diff_dict(result: DiffResult, *, details: bool = False, redact: bool = False) -> dict[str, Any]:
    """The ``diff`` JSON of the CLI contract (plus seq, taken_at, duplicates, rollovers)."""
    payload: dict[str, Any] = {
        "district": result.district,
        "from": result.from_snapshot.id,
        "to": result.to_snapshot.id,
        "from_seq": result.from_snapshot.seq,
        "to_seq": result.to_snapshot.seq,
        "from_taken_at": _iso(result.from_snapshot),
        "to_taken_at": _iso(result.to_snapshot),
        "entities": {
            e.entity: {
                "added": e.added,
                "removed": e.removed,
                "changed": e.changed,
                "unchanged": e.unchanged,
                "fields": dict(e.fields),
                "duplicates": [
                    {
                        "key": mask_key(e.entity, d.key, redact),
                        "from": d.versions_from,
                        "to": d.versions_to,
                    }
                    for d in e.duplicates
                ],
            }
            for e in result.entities
        },
        "rekeys": [
            {
                "entity": r.entity,
                "old_key": mask_key(r.entity, r.old_key, redact),
                "new_key": mask_key(r.entity, r.new_key, redact),
                "matched_on": list(r.matched_on),
            }
            for r in result.rekeys
        ],
        "outcome": {
            "to": result.outcome,
            "reason": result.outcome_reason,
            "from": result.from_outcome,
            "from_reason": result.from_outcome_reason,
            **(
                {"live": result.served_before.id if result.served_before else None}
                if result.from_not_processed
                else {}
            ),
        },
        "hold": {
            "predicted": result.hold_predicted,
            "reasons": [
                {
                    "entity": h.entity,
                    "kind": h.kind,
                    "ratio": round(h.ratio, RATIO_DIGITS),
                    "threshold": h.threshold,
                    "count": h.count,
                    "total": h.total,
                    "expected": h.expected,
                }
                for h in result.hold_reasons
            ],
            **({"backward": True} if result.backward else {}),
        },
        "term_rollovers": [
            {
                "term": r.term,
                "term_end": r.term_end,
                "sections": list(r.sections),
                "enrollments": r.enrollments,
            }
            for r in result.rollovers
        ],
    }
    if details:
        payload["changes"] = [
            {
                "entity": c["entity"],
                "key": mask_key(c["entity"], c["key"], redact),
                "change": c["change"],
                "field": c["field"],
                "old": mask_value(c["entity"], c["field"], c["old"], redact),
                "new": mask_value(c["entity"], c["field"], c["new"], redact),
            }
            for c in _changes(result)
        ]
    return payload


def _changes(result: DiffResult) -> list[dict[str, Any]]:
    if result.changes is None:
        raise ValueError("this diff was computed without details: diff_snapshots(details=True)")
    return result.changes.to_dicts()


# --- text --------------------------------------------------------------------------------
def _night(snapshot: SnapshotInfo) -> str:
    return f"snapshot {snapshot.id} (night {snapshot.seq}, {snapshot.taken_at:%Y-%m-%d %H:%M})"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """Left-aligned first column, right-aligned numbers."""
    table = [list(header), *(list(r) for r in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    return [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in table
    ]


def _shown(value: str | None) -> str:
    return NULL_TEXT if value is None else repr(value)


def night_text(snap: SnapshotInfo) -> str:
    """``night 3 (2026-09-03)``."""
    return f"night {snap.seq} ({snap.taken_at:%Y-%m-%d})"


def from_not_processed_sentence(result: DiffResult) -> str | None:
    """A from-night Clever never processed is a state it never served: say which it did."""
    if result.from_not_processed is None:
        return None
    live = result.served_before
    served = (
        f"it served night {live.seq}'s state: compare with night {live.seq}"
        if live is not None
        else "it served none of the district's nights before it"
    )
    return (
        f"from {night_text(result.from_snapshot)}: Clever did not process it "
        f"({result.from_not_processed}), so its records never reached the apps; {served}"
    )


def not_processed_sentence(result: DiffResult) -> str:
    return (
        f"Clever does not process snapshot {result.to_snapshot.id} ({result.not_processed}): "
        "it keeps serving the last upload it processed, so nothing is deleted and no hold"
    )


def served_sentence(result: DiffResult, no_hold: str = "no hold") -> str:
    return (
        f"{no_hold}: snapshot {result.to_snapshot.id} is what Clever serves ({SERVED_REASON}), "
        "already applied"
    )


def diff_text(result: DiffResult, *, details: bool = False, redact: bool = False) -> str:
    """The human summary: counts, changed fields, re-keys, duplicates, rollovers, the hold."""
    lines = [f"{result.district}: {_night(result.from_snapshot)} → {_night(result.to_snapshot)}"]
    if (unserved := from_not_processed_sentence(result)) is not None:
        lines.append(unserved)
    lines += _table(
        ("entity", "added", "removed", "changed", "unchanged"),
        (
            (e.entity, f"{e.added:,}", f"{e.removed:,}", f"{e.changed:,}", f"{e.unchanged:,}")
            for e in result.entities
        ),
    )
    fields = [(f"{e.entity}.{f}", n) for e in result.entities for f, n in e.fields]
    if fields:
        lines.append("changed fields:")
        lines += [f"  {name}  {n:,}" for name, n in fields]
    if result.rekeys:
        lines.append("re-keyed:")
        lines += [
            f"  {r.entity} {mask_key(r.entity, r.old_key, redact)} → "
            f"{mask_key(r.entity, r.new_key, redact)} (matched on {', '.join(r.matched_on)})"
            for r in result.rekeys
        ]
    duplicates = [(e.entity, d) for e in result.entities for d in e.duplicates]
    if duplicates:
        lines.append(
            "IDs sent on more than one row (differing rows at from → to; Clever does not say "
            "which it keeps: this compares one, picked the same way every night):"
        )
        lines += [
            f"  {entity} {mask_key(entity, d.key, redact)}: {d.versions_from} → {d.versions_to}"
            for entity, d in duplicates
        ]
    for r in result.rollovers:
        lines.append(
            f"term rollover: {len(r.sections):,} sections of {r.term or '(no term name)'} "
            f"(ended {r.term_end}) and {r.enrollments:,} of their enrollments removed"
        )
    if result.not_processed:
        lines.append(not_processed_sentence(result))
    elif result.hold_predicted:
        lines.append("hold: predicted")
        lines += [
            f"  {h.entity}: {h.ratio:.0%} {'deleted' if h.kind == 'deletion' else 'updated'} "
            f"({h.count:,} of {h.total:,}; threshold {h.threshold:.0%})"
            + (" — expected: term rollover" if h.expected else "")
            for h in result.hold_reasons
        ]
    elif result.to_snapshot.origin == API_ORIGIN:
        lines.append(served_sentence(result))
    elif result.backward:
        lines.append(f"hold: {BACKWARD}")
    else:
        lines.append("hold: not predicted")
    if details:
        lines.append("changes:")
        lines += [f"  {line}" for line in _change_lines(_changes(result), redact)]
    return "\n".join(lines)


def normalisation(old: str | None, new: str | None) -> str:
    """`` (Unicode normalisation only: NFC → NFD)`` when two values differ in nothing else."""
    if old is None or new is None or old == new:
        return ""
    if unicodedata.normalize("NFC", old) != unicodedata.normalize("NFC", new):
        return ""
    forms = [
        next((f for f in ("NFC", "NFD") if unicodedata.is_normalized(f, v)), "mixed")
        for v in (old, new)
    ]
    return f" (Unicode normalisation only: {forms[0]} → {forms[1]})"


def _change_lines(changes: Sequence[Mapping[str, Any]], redact: bool) -> list[str]:
    """One line per record: ``students S-1 changed: Grade '9' → '10'``."""
    lines: list[str] = []
    current: tuple[str, str, str] | None = None
    parts: list[str] = []

    def flush() -> None:
        if current is not None:
            entity, key, change = current
            lines.append(f"{entity} {mask_key(entity, key, redact)} {change}: {', '.join(parts)}")

    for c in changes:
        record = (c["entity"], c["key"], c["change"])
        if record != current:
            flush()
            current, parts = record, []
        old = mask_value(c["entity"], c["field"], c["old"], redact)
        new = mask_value(c["entity"], c["field"], c["new"], redact)
        if c["change"] == "changed":
            parts.append(f"{c['field']} {_shown(old)} → {_shown(new)}{normalisation(old, new)}")
        else:
            parts.append(f"{c['field']}={_shown(new if c['change'] == 'added' else old)}")
    flush()
    return lines


# --- HTML --------------------------------------------------------------------------------
def diff_fragment(result: DiffResult, *, details: bool = False, redact: bool = False) -> str:
    """The diff as an HTML fragment (for notebooks and the full page)."""
    parts = [
        f"<p>{esc(_night(result.from_snapshot))} → {esc(_night(result.to_snapshot))}</p>",
        *(
            [f'<p class="hold">{esc(unserved)}</p>']
            if (unserved := from_not_processed_sentence(result)) is not None
            else []
        ),
        "<h2>Records</h2>",
        html_table(
            ("entity", "added", "removed", "changed", "unchanged"),
            (
                (e.entity, f"{e.added:,}", f"{e.removed:,}", f"{e.changed:,}", f"{e.unchanged:,}")
                for e in result.entities
            ),
            numeric=("added", "removed", "changed", "unchanged"),
        ),
        "<h2>Hold</h2>",
    ]
    if result.not_processed:
        parts.append(f'<p class="hold">{esc(not_processed_sentence(result))}</p>')
    elif result.hold_predicted:
        parts.append('<p class="hold">Clever will hold this sync.</p>')
        parts.append(
            html_table(
                ("entity", "kind", "share", "threshold", "records", "expected"),
                (
                    (
                        h.entity,
                        h.kind,
                        f"{h.ratio:.1%}",
                        f"{h.threshold:.0%}",
                        f"{h.count:,} of {h.total:,}",
                        "term rollover" if h.expected else "",
                    )
                    for h in result.hold_reasons
                ),
                numeric=("share", "threshold", "records"),
            )
        )
    elif result.to_snapshot.origin == API_ORIGIN:
        parts.append(f'<p class="muted">{esc(served_sentence(result, "No hold"))}.</p>')
    elif result.backward:
        parts.append(f'<p class="muted">Hold: {esc(BACKWARD)}.</p>')
    else:
        parts.append('<p class="muted">No hold predicted.</p>')
    fields = [(e.entity, f, f"{n:,}") for e in result.entities for f, n in e.fields]
    if fields:
        parts += [
            "<h2>Changed fields</h2>",
            html_table(("entity", "field", "records"), fields, numeric=("records",)),
        ]
    if result.rekeys:
        parts += [
            "<h2>Re-keyed records</h2>",
            html_table(
                ("entity", "old key", "new key", "matched on"),
                (
                    (
                        r.entity,
                        mask_key(r.entity, r.old_key, redact),
                        mask_key(r.entity, r.new_key, redact),
                        ", ".join(r.matched_on),
                    )
                    for r in result.rekeys
                ),
            ),
        ]
    if result.rollovers:
        parts += [
            "<h2>Term rollover</h2>",
            html_table(
                ("term", "ended", "sections", "enrollments"),
                (
                    (r.term or "", r.term_end, f"{len(r.sections):,}", f"{r.enrollments:,}")
                    for r in result.rollovers
                ),
                numeric=("sections", "enrollments"),
            ),
        ]
    duplicates = [
        (e.entity, mask_key(e.entity, d.key, redact), d.versions_from, d.versions_to)
        for e in result.entities
        for d in e.duplicates
    ]
    if duplicates:
        parts += [
            "<h2>IDs sent on more than one row</h2>",
            '<p class="muted">Each ID below came on several rows that differ. Clever does not '
            "say which one it keeps: this comparison uses one of them, picked the same way every "
            "night. Send each ID on one row.</p>",
            html_table(
                ("entity", "ID", "differing rows at from", "differing rows at to"),
                duplicates,
                numeric=("differing rows at from", "differing rows at to"),
            ),
        ]
    if details:
        parts += [
            "<h2>Changes</h2>",
            html_table(
                ("entity", "key", "change", "field", "old", "new"),
                (
                    (
                        c["entity"],
                        mask_key(c["entity"], c["key"], redact),
                        c["change"],
                        c["field"],
                        _text_or_blank(mask_value(c["entity"], c["field"], c["old"], redact)),
                        _text_or_blank(mask_value(c["entity"], c["field"], c["new"], redact)),
                    )
                    for c in _changes(result)
                ),
            ),
        ]
    return "\n".join(parts)


def _text_or_blank(value: str | None) -> str:
    return NULL_TEXT if value is None else value


def diff_html(result: DiffResult, *, details: bool = False, redact: bool = False) -> str:
    """One self-contained page: inline style, no scripts, no external resources."""
    title = f"rosterlab diff — {result.district}"
    note = " (PII redacted)" if redact else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{PAGE_STYLE}</style></head><body>"
        f"<h1>{esc(title)}{esc(note)}</h1>\n"
        + diff_fragment(result, details=details, redact=redact)
        + "\n</body></html>\n"
    )


# --- timeline ----------------------------------------------------------------------------
# A timeline's changes in words, for every renderer (the JSON keeps the codes; a ``changed``
# event is shown as its field's old → new value).
TIMELINE_WORDS: dict[TimelineChange, str] = {
    "first-seen": "first seen",
    "changed": "changed",
    "removed": "removed",
    "reappeared": "reappeared",
    "versions": "versions holding the key",
    "not-served": "not served by the Data API (the uploads hold it)",
    "served": "served by the Data API",
}


def timeline_dict(timeline: Timeline) -> dict[str, Any]:
    return {
        "district": timeline.district,
        "entity": timeline.entity,
        "key": timeline.key,
        "snapshots": timeline.snapshots,
        "events": [
            {
                "snapshot": e.snapshot_id,
                "seq": e.seq,
                "taken_at": e.taken_at.isoformat(timespec="seconds"),
                "change": e.change,
                "field": e.field,
                "old": e.old,
                "new": e.new,
                **(
                    {"outcome": e.outcome, "outcome_reason": e.outcome_reason}
                    if e.outcome is not None
                    else {}
                ),
            }
            for e in timeline.events
        ],
    }


def timeline_text(timeline: Timeline) -> str:
    head = f"{timeline.district} {timeline.entity} {timeline.key}"
    if not timeline.events:
        return f"{head}: not in any of the district's {timeline.snapshots} snapshots"
    lines = [f"{head} ({timeline.snapshots} snapshots)"]
    for e in timeline.events:
        when = f"night {e.seq} (snapshot {e.snapshot_id}, {e.taken_at:%Y-%m-%d %H:%M})"
        if e.change == "changed":
            what = f"{e.field}: {_shown(e.old)} → {_shown(e.new)}" + normalisation(e.old, e.new)
        elif e.change == "versions":
            what = f"{TIMELINE_WORDS[e.change]}: {e.old} → {e.new}"
        else:
            what = TIMELINE_WORDS[e.change]
        lines.append(f"  {when}  {what}" + timeline_outcome(e))
    return "\n".join(lines)


def timeline_outcome(event: TimelineEvent) -> str:
    """`` — Clever: held (…): …`` after an event of a night Clever did not simply apply."""
    if event.outcome is None:
        return ""
    return " — " + night_outcome_text(event.outcome, event.outcome_reason)
