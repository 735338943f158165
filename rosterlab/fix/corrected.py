"""Build a corrected bundle: a snapshot with rules applied, in Clever form, re-checked.

The output folder holds the spec files (lower-case spec names, the received header with renames
applied, UTF-8 without BOM, the district's newline, RFC 4180 quoting, rows in received order),
``changes.csv`` (one row per changed record and field, with the rule and its reason) and
``manifest.json`` (source snapshot, rules hash, per-file sha256 and rows, findings before and
after, predicted hold). It is written into a temporary folder beside the destination and renamed
into place, so a failure never leaves a partial bundle.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rosterlab.config import DistrictSettings
from rosterlab.errors import FixError
from rosterlab.fix.apply import CHANGES_HEADER, Workbench
from rosterlab.fix.hold import HoldPrediction
from rosterlab.fix.recheck import (
    CHANGES,
    MANIFEST,
    check_folder,
    check_snapshot,
    file_sha256,
    findings_summary,
    trial_hold,
)
from rosterlab.fix.rules import RuleSet
from rosterlab.spec import Finding
from rosterlab.store import SnapshotInfo, Store
from rosterlab.store.write import copy_csv

MANIFEST_VERSION = 1
REMAINING_LISTED = 100  # error findings spelled out in the manifest (all are counted)
_STYLES = {"\r\n": "CRLF", "\n": "LF"}

Progress = Callable[[str], None]


@dataclass(frozen=True)
class WrittenFile:
    """A spec file of the corrected bundle."""

    name: str
    sha256: str
    bytes: int
    rows: int
    newline: str  # CRLF | LF

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "rows": self.rows,
            "newline": self.newline,
        }


@dataclass(frozen=True)
class RuleOutcome:
    """What one rule did: rows of changes.csv it produced, and notes (e.g. nothing matched)."""

    number: int
    line: int
    op: str
    reason: str
    changes: int
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.number,
            "line": self.line,
            "op": self.op,
            "reason": self.reason,
            "changes": self.changes,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class FixResult:
    """A corrected bundle as written, and what the re-check found.

    ``before``: every finding recorded for the source snapshot (ingest and checks, history
    included). ``after``: the corrected bundle checked on its own (ingest and checks, no history:
    ``hold`` compares it with what Clever last received instead).
    """

    district: str
    source: SnapshotInfo
    rules: RuleSet
    out_dir: Path
    files: tuple[WrittenFile, ...]
    outcomes: tuple[RuleOutcome, ...]
    unparseable_rows: int  # source rows the parser could not read (dropped; in changes.csv)
    changes: int  # rows of changes.csv
    before: dict[str, Any]
    after: dict[str, Any]
    remaining: tuple[Finding, ...]  # error findings of the corrected bundle
    entity_rows: dict[str, int]
    hold: HoldPrediction
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when the corrected bundle has no error findings (Clever would process it)."""
        return not self.remaining

    def manifest(self) -> dict[str, Any]:
        """The content of ``manifest.json`` (deterministic: same inputs, same bytes)."""
        source = self.source
        return {
            "manifest_version": MANIFEST_VERSION,
            "district": self.district,
            "source_snapshot": {
                "id": source.id,
                "night": source.seq,
                "taken_at": source.taken_at.isoformat(timespec="seconds"),
                "origin": source.origin,
                "bundle_sha256": source.bundle_sha256,
            },
            "rules": {
                "file": self.rules.name,
                "sha256": self.rules.sha256,
                "applied": [o.to_dict() for o in self.outcomes],
            },
            "files": [f.to_dict() for f in self.files],
            "entities": dict(self.entity_rows),
            "changes": {
                "file": CHANGES,
                "rows": self.changes,
                "unparseable_rows": self.unparseable_rows,
            },
            "findings": {
                "before": self.before,
                "after": self.after,
            },
            "remaining_errors": [f.to_dict() for f in self.remaining[:REMAINING_LISTED]],
            "hold": self.hold.to_dict(),
            "notes": list(self.notes),
        }


def fix_snapshot(
    store: Store,
    snapshot_id: int,
    rules: RuleSet,
    out_dir: str | Path,
    *,
    settings: DistrictSettings | None = None,
    progress: Progress | None = None,
) -> FixResult:
    """Apply ``rules`` to a snapshot and write the corrected bundle to ``out_dir`` (new or empty).

    The rules were validated when loaded; what depends on the data (a column that is not there,
    a key nothing has) becomes a note on the rule instead of an error.
    """
    say = progress or (lambda _message: None)
    out = Path(out_dir)
    _check_destination(out)
    source = store.snapshot(snapshot_id)
    if rules.district and rules.district != source.district:
        raise FixError(
            f"{rules.name} is written for district {rules.district}, but snapshot {source.id} is "
            f"{source.district}'s: pick that district's rules file"
        )
    settings = settings or DistrictSettings(district=source.district)
    check_snapshot(store, source.id, settings)  # drop rules act on its check findings
    before = findings_summary(store.findings(source.id))
    work = Workbench(store, source)
    try:
        outcomes_notes = []
        for rule in rules.rules:
            say(f"rule {rule.number} ({rule.op})")
            outcomes_notes.append((rule, tuple(work.apply(rule))))
        per_rule = work.changes_per_rule()
        outcomes = tuple(
            RuleOutcome(
                rule.number, rule.line, rule.op, rule.reason, per_rule.get(rule.number, 0), notes
            )
            for rule, notes in outcomes_notes
        )
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
        try:
            files = _write_files(store, work, tmp, say)
            say("re-checking the corrected bundle")
            checked = check_folder(
                tmp, district=source.district, sync_type=source.sync_type, settings=settings
            )
            hold = trial_hold(store, tmp, source, settings)
            result = FixResult(
                district=source.district,
                source=source,
                rules=rules,
                out_dir=out,
                files=files,
                outcomes=outcomes,
                unparseable_rows=per_rule.get(0, 0),
                changes=sum(per_rule.values()),
                before=before,
                after=findings_summary(checked.findings),
                remaining=checked.errors(),
                entity_rows=checked.entity_rows,
                hold=hold,
                notes=_notes(store, source, work),
            )
            copy_csv(
                store,
                work.changes_select(),
                [],
                tmp / CHANGES,
                header=CHANGES_HEADER,
                newline="\n",
            )
            (tmp / MANIFEST).write_text(
                json.dumps(result.manifest(), indent=2, ensure_ascii=False) + "\n",
                encoding="utf-8",
            )
            _move_into_place(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    finally:
        work.close()
    return result


def _check_destination(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FixError(f"{out} exists and is not an empty folder: choose a new --out folder")
    if not out.parent.is_dir():
        raise FixError(f"{out.parent} does not exist: create it or choose another --out folder")


def _move_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished folder to ``out`` (an empty ``out`` is replaced)."""
    _check_destination(out)
    if out.exists():
        out.rmdir()
    os.rename(tmp, out)


def _write_files(
    store: Store, work: Workbench, folder: Path, say: Progress
) -> tuple[WrittenFile, ...]:
    written = []
    for name, work_file in work.files.items():
        say(f"writing {name}")
        path = folder / name
        rows = copy_csv(
            store,
            work.select(work_file),
            [],
            path,
            header=work_file.header,
            newline=work_file.newline,
        )
        written.append(
            WrittenFile(
                name, file_sha256(path), path.stat().st_size, rows, _STYLES[work_file.newline]
            )
        )
    return tuple(written)


def _notes(store: Store, source: SnapshotInfo, work: Workbench) -> tuple[str, ...]:
    notes = [
        f"{name} could not be parsed (not text, or no header), so it is not in the corrected bundle"
        for name in work.unparsed
    ]
    notes += [
        f"{name} is not a spec file Clever picks up, so it is not in the corrected bundle"
        for (name,) in store.rows(
            "SELECT name FROM snapshot_files WHERE snapshot_id = ? AND spec_name IS NULL "
            "ORDER BY name",
            [source.id],
        )
    ]
    return tuple(notes)
