"""Build a corrected bundle: a snapshot with rules applied, in Clever form, re-checked.

The output folder holds the spec files (spec names, the received header with spec columns in
their spec spelling and renames applied, UTF-8 without BOM, the district's newline, RFC 4180
quoting, rows in received order),
``changes.csv`` (one row per changed record and field, with the rule and its reason) and
``manifest.json`` (source snapshot, rules hash, per-file sha256 and rows, findings before and
after, predicted hold). It is written into a temporary folder beside the destination and renamed
into place, so a failure never leaves a partial bundle; the temporary folder of a killed fix is
removed by the next fix into the same destination, and re-running a fix that finished is a no-op.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rosterlab import spec
from rosterlab.bundle.digest import file_sha256
from rosterlab.config import DistrictSettings
from rosterlab.errors import FixError, cannot_write, disk_full
from rosterlab.fix.apply import CHANGES_HEADER, UNPARSEABLE, Correction
from rosterlab.fix.hold import HoldPrediction
from rosterlab.fix.recheck import (
    CHANGES,
    MANIFEST,
    check_folder,
    check_snapshot,
    trial_hold,
)
from rosterlab.fix.rules import RuleSet
from rosterlab.spec import Finding
from rosterlab.store import Progress, SnapshotInfo, Store
from rosterlab.store.outcomes import API_ORIGIN
from rosterlab.store.write import copy_csv

MANIFEST_VERSION = 1
REMAINING_LISTED = 100  # error findings spelled out in the manifest (all are counted)
_STYLES = {"\r\n": "CRLF", "\n": "LF"}
PARTIAL = ".partial"  # suffix of the temporary folder a bundle is written into


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
    when: str | None = None
    # (entity, key, field, old, new) of values valid tonight that the rule changed
    valid_changed: tuple[tuple[str, str, str, str, str | None], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        found = {
            "rule": self.number,
            "line": self.line,
            "op": self.op,
            "reason": self.reason,
            "changes": self.changes,
            "notes": list(self.notes),
        }
        if self.when is not None:
            found["when"] = self.when
        if self.valid_changed:
            found["valid_values_changed"] = [
                dict(zip(("entity", "key", "field", "old", "new"), row, strict=True))
                for row in self.valid_changed
            ]
        return found

    def valid_changed_text(self) -> list[str]:
        """``sections SEC-1009 Teacher_id: T-1016 → T-1004`` per valid value changed."""
        return [
            f"{e} {k} {f}: {o} → {n if n is not None else '(blank)'}"
            for e, k, f, o, n in self.valid_changed
        ]


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
    header_rows: int  # the header line again, or its underline, read as a row (dropped; ditto)
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
                "header_rows": self.header_rows,
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
    force: bool = False,
) -> FixResult:
    """Apply ``rules`` to a snapshot and write the corrected bundle to ``out_dir``.

    A ``map`` or ``set`` rule that changes a value valid tonight (no finding on it) is refused
    with a FixError naming the values, before anything is written, unless ``force``; forced,
    the values are listed in the result and the manifest.

    ``out_dir`` is new or empty, or already holds exactly this corrected bundle (a re-run after
    an interruption is then a no-op). The rules were validated when loaded; what depends on the
    data (a column that is not there, a key nothing has) becomes a note on the rule instead of
    an error. A full disk raises DiskFullError and leaves no bundle behind.
    """
    out = Path(out_dir)
    try:
        return _fix(
            store, snapshot_id, rules, out, settings, progress or (lambda _message: None), force
        )
    except BaseException as exc:
        full = disk_full(exc, str(out), f"no corrected bundle was written to {out}")
        if full is not None:
            raise full from exc
        if isinstance(exc, OSError):
            raise FixError(
                f"{cannot_write(out, exc)}: choose another --out folder; no corrected bundle "
                "was written"
            ) from exc
        raise


def _fix(
    store: Store,
    snapshot_id: int,
    rules: RuleSet,
    out: Path,
    settings: DistrictSettings | None,
    say: Progress,
    force: bool,
) -> FixResult:
    _check_destination(out)
    _check_writable(out)
    source = store.snapshot(snapshot_id)
    if source.origin == API_ORIGIN:
        uploads = [s for s in store.snapshots(source.district) if s.origin != API_ORIGIN]
        newest = f" ({source.district}'s newest: n{uploads[-1].seq})" if uploads else ""
        raise FixError(
            f"snapshot {source.id} is a pull from the Data API (what Clever serves), not an "
            f"upload a corrected bundle could replace: give --snapshot an upload{newest}"
        )
    if rules.district and rules.district != source.district:
        raise FixError(
            f"{rules.name} is written for district {rules.district}, but snapshot {source.id} is "
            f"{source.district}'s: pick that district's rules file"
        )
    _refuse_unreadable(store, source)
    settings = settings or DistrictSettings(district=source.district)
    say(f"checking snapshot {source.id}")
    check_snapshot(store, source.id, settings)  # drop rules act on its check findings
    before = spec.findings_summary(store.findings(source.id))
    say(f"staging snapshot {source.id}")
    work = Correction(store, source)
    try:
        outcomes_notes = []
        for rule in rules.rules:
            say(f"rule {rule.number} ({rule.op})")
            notes = tuple(work.apply(rule))
            outcomes_notes.append((rule, notes, tuple(work.valid_values_changed(rule))))
        per_rule = work.changes_per_rule()
        outcomes = tuple(
            RuleOutcome(
                rule.number,
                rule.line,
                rule.op,
                rule.reason,
                per_rule.get(rule.number, 0),
                notes,
                rule.when,
                valid,
            )
            for rule, notes, valid in outcomes_notes
        )
        if not force:
            _refuse_valid_changes(rules, outcomes)
        _remove_stale_partials(out)
        tmp = Path(
            tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", suffix=PARTIAL, dir=out.parent)
        )
        try:
            files = _write_files(store, work, tmp, say)
            say("re-checking the corrected bundle")
            checked = check_folder(
                tmp, district=source.district, sync_type=source.sync_type, settings=settings
            )
            say("predicting the hold")
            hold = trial_hold(
                store, tmp, source, settings, progress=lambda m: say(f"hold check: {m}")
            )
            result = FixResult(
                district=source.district,
                source=source,
                rules=rules,
                out_dir=out,
                files=files,
                outcomes=outcomes,
                unparseable_rows=per_rule.get(UNPARSEABLE, 0),
                header_rows=work.header_rows(),
                changes=sum(per_rule.values()),
                before=before,
                after=spec.findings_summary(checked.findings),
                remaining=checked.errors(),
                entity_rows=checked.entity_rows,
                hold=hold,
                notes=_notes(store, source, work),
            )
            say(f"writing {CHANGES}")
            copy_csv(
                store,
                work.changes_select(),
                [],
                tmp / CHANGES,
                header=CHANGES_HEADER,
                newline="\n",
            )
            say(f"writing {MANIFEST}")
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
    say(f"corrected bundle in {out}")
    return result


VALID_LISTED = 5  # values named per rule in the refusal


def _refuse_unreadable(store: Store, source: SnapshotInfo) -> None:
    """A night with a file that is not text (``unreadable-file``) is refused before anything is
    written: no rule can correct a file rosterlab cannot read, and a corrected bundle without it
    would be a bundle without that file (a missing file, or its records deleted)."""
    unreadable = sorted(
        f.value or "" for f in store.findings(source.id, "ingest") if f.code == "unreadable-file"
    )
    if unreadable:
        raise FixError(
            f"{', '.join(unreadable)} of snapshot {source.id} "
            f"{'is' if len(unreadable) == 1 else 'are'} not text (unreadable-file): no rule can "
            "correct it — export it again as CSV (in Excel: Save As, CSV UTF-8) and ingest the "
            "night again; no corrected bundle was written"
        )


def _refuse_valid_changes(rules: RuleSet, outcomes: Sequence[RuleOutcome]) -> None:
    """FixError when a rule changed values valid tonight (the caller was not forced)."""
    risky = [o for o in outcomes if o.valid_changed]
    if not risky:
        return
    parts = []
    for o in risky:
        shown = o.valid_changed_text()
        more = f", and {len(shown) - VALID_LISTED} more" if len(shown) > VALID_LISTED else ""
        parts.append(
            f"rule {o.number} ({o.op}, line {o.line}) changes {len(shown)} value(s) valid "
            f"tonight: {'; '.join(shown[:VALID_LISTED])}{more}"
        )
    raise FixError(
        f"{rules.name}: {' · '.join(parts)} — it may undo the district's own fix: add "
        'when = "<finding code>" to the rule so it applies only while the problem is there, '
        "or re-run fix with --force; nothing was written"
    )


def _check_destination(out: Path) -> None:
    if out.exists() and (not out.is_dir() or _holds_other_files(out)):
        raise FixError(f"{out} exists and is not an empty folder: choose a new --out folder")
    if not out.parent.is_dir():
        blocked = next((p for p in out.parents if p.exists()), None)
        if blocked is not None and not blocked.is_dir():
            raise FixError(f"{blocked} is a file, not a folder: choose another --out folder")
        raise FixError(f"{out.parent} does not exist: create it or choose another --out folder")


def _check_writable(out: Path) -> None:
    """Fail before any work when the folder beside ``out`` takes no new folder (read-only,
    /proc, no permission): the bundle is written into a temporary folder there. The probe is
    named like that folder, so a fix killed meanwhile leaves nothing the next one keeps."""
    try:
        probe = tempfile.mkdtemp(
            prefix=f".{out.name}.{os.getpid()}.", suffix=PARTIAL, dir=out.parent
        )
        os.rmdir(probe)
    except OSError as exc:
        raise FixError(f"cannot write {out} ({exc.strerror}): choose another --out folder") from exc


def _holds_other_files(out: Path) -> bool:
    """Whether ``out`` holds anything but a finished corrected bundle (it has a manifest)."""
    return any(out.iterdir()) and not (out / MANIFEST).is_file()


def _move_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished folder to ``out`` (an empty ``out`` is replaced).

    When ``out`` already holds a bundle, it must be this very bundle, byte for byte (an earlier
    run finished just before it was interrupted); the new copy is then dropped.
    """
    _check_destination(out)
    if out.exists() and any(out.iterdir()):
        if _tree(out) != _tree(tmp):
            raise FixError(
                f"{out} holds another corrected bundle: choose a new --out folder or remove it"
            )
        shutil.rmtree(tmp)
        return
    if out.exists():
        out.rmdir()
    os.rename(tmp, out)


def _tree(folder: Path) -> dict[str, str]:
    return {p.name: file_sha256(p) if p.is_file() else "" for p in folder.iterdir()}


def _remove_stale_partials(out: Path) -> None:
    """Remove the temporary folders of fixes into ``out`` that were killed (their process is
    gone); those of a fix still running are left alone."""
    prefix = f".{out.name}."
    for path in out.parent.glob(f"{glob.escape(prefix)}*{PARTIAL}"):
        pid = path.name[len(prefix) :].split(".")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _write_files(
    store: Store, work: Correction, folder: Path, say: Progress
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


def _notes(store: Store, source: SnapshotInfo, work: Correction) -> tuple[str, ...]:
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
