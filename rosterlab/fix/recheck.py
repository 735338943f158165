"""Check a bundle folder as Clever will see it: ingest it, run every check, read the findings.

:func:`check_folder` checks in a throw-away store, touching nothing: ``fix`` re-checks the
corrected bundle with it, and ``push`` a bundle without a trustworthy ``manifest.json`` — the
same verdict either way. :func:`trial_hold` diffs a corrected bundle against the hold baseline
inside the district's own store, in a transaction it rolls back. Only the top-level spec files
count: exactly what a push uploads.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from rosterlab import spec
from rosterlab.bundle import open_bundle
from rosterlab.bundle.digest import file_sha256
from rosterlab.checks import CheckSettings, run_checks
from rosterlab.config import DistrictSettings
from rosterlab.errors import ConfigError
from rosterlab.fix.hold import HoldPrediction, hold_of_manifest, predict_hold
from rosterlab.spec import Finding
from rosterlab.store import SnapshotInfo, Store, ingest_bundle

MANIFEST = "manifest.json"
CHANGES = "changes.csv"


@dataclass(frozen=True)
class Checked:
    """The findings of a checked bundle and its rows per entity."""

    findings: tuple[Finding, ...]  # ingest and check findings
    entity_rows: dict[str, int]

    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")


def check_snapshot(store: Store, snapshot_id: int, settings: DistrictSettings) -> None:
    """Run every check on a snapshot (cached per snapshot) and record its ``check`` findings."""
    run_checks(store, snapshot_id, settings=CheckSettings.of(settings))


def spec_files(folder: Path) -> list[Path]:
    """The top-level spec files of a bundle folder, in spec order (what a push uploads)."""
    return [folder / name for name in spec.FILES if (folder / name).is_file()]


def check_folder(
    folder: Path,
    *,
    district: str,
    sync_type: str | None = None,
    settings: DistrictSettings | None = None,
) -> Checked:
    """Ingest the folder's spec files into a throw-away store and run every check.

    The store holds this one snapshot, so there are no history findings (holds are predicted
    against the right baseline by :func:`trial_hold`) and no ledger.
    """
    with tempfile.TemporaryDirectory(prefix="rosterlab-check-") as tmp:
        bundle_dir = folder
        wanted = spec_files(folder)
        if {p.name for p in folder.iterdir()} != {p.name for p in wanted}:
            bundle_dir = Path(tmp) / "bundle"  # only what a push uploads
            bundle_dir.mkdir()
            for path in wanted:
                _link_or_copy(path, bundle_dir / path.name)
        with Store.open(Path(tmp) / "check.duckdb") as store, open_bundle(bundle_dir) as bundle:
            result = ingest_bundle(
                store,
                bundle,
                district=district,
                sync_type=sync_type,
                origin="corrected",
                source=str(folder),
            )
            snapshot_id = result.snapshot.id
            check_snapshot(store, snapshot_id, settings or DistrictSettings(district=district))
            return Checked(tuple(store.findings(snapshot_id)), store.snapshot_rows(snapshot_id))


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(source, target)


def trial_hold(
    store: Store,
    folder: Path,
    source: SnapshotInfo,
    settings: DistrictSettings,
    *,
    progress: Callable[[str], None] | None = None,
) -> HoldPrediction:
    """Predict the hold of a corrected bundle by diffing it inside the district's own store.

    The bundle is ingested as the district's next snapshot (origin ``corrected``) inside a
    :meth:`Store.trial`, rolled back once the diff is done: the store's history is unchanged.
    ``progress`` gets the trial ingest's progress lines.
    """
    newest = store.snapshots(source.district)[-1]
    with store.trial(), open_bundle(folder) as bundle:
        # An explicit id: drawing one from the id sequence would leave a gap (a sequence does
        # not roll back).
        trial_id = store.rows("SELECT coalesce(max(id), 0) + 1 FROM snapshots")[0][0]
        corrected = ingest_bundle(
            store,
            bundle,
            district=source.district,
            taken_at=newest.taken_at + timedelta(seconds=1),
            sync_type=source.sync_type,
            origin="corrected",
            source=str(folder),
            progress=progress,
            allow_future=True,  # one second after the newest night, whatever that was
            snapshot_id=int(trial_id),
        ).snapshot
        rows = store.snapshot_rows(corrected.id)
        return predict_hold(store, source, corrected, rows, settings)


@dataclass(frozen=True)
class Verdict:
    """Whether a bundle folder may be pushed: its error findings by code, and where they came from.

    ``source`` is ``manifest`` (its manifest.json matches its files) or ``checked`` (it was
    ingested into a temporary store and checked). ``note`` says why a manifest was not used;
    ``hold`` is the hold the manifest predicted when the bundle was made.
    """

    source: str
    errors: dict[str, int]
    district: str | None
    entity_rows: dict[str, int] | None
    note: str | None = None
    hold: HoldPrediction | None = None

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def bundle_verdict(folder: Path, *, district: str | None = None) -> Verdict:
    """Read the bundle's manifest.json when it matches the files; else check the bundle.

    A ``district`` other than the manifest's is a ConfigError: the push would be recorded, and
    its hold judged, for the wrong district."""
    manifest, note = _trusted_manifest(folder)
    if manifest is not None and district is not None and district != manifest["district"]:
        raise ConfigError(
            f"{folder} is {manifest['district']}'s corrected bundle ({MANIFEST}), not "
            f"{district}'s: push it without --district, or build {district}'s with rosterlab fix"
        )
    if manifest is not None:
        by_code: Mapping[str, int] = manifest["findings"]["after"]["by_code"]
        errors = {
            code: n
            for code, n in by_code.items()
            if code in spec.CATALOGUE and spec.CATALOGUE[code].severity == "error"
        }
        return Verdict(
            "manifest",
            errors,
            district or manifest["district"],
            manifest["entities"],
            hold=hold_of_manifest(manifest.get("hold")),
        )
    checked = check_folder(folder, district=district or "unnamed")
    errors = dict(sorted(Counter(f.code for f in checked.errors()).items()))
    return Verdict("checked", errors, district, checked.entity_rows, note)


def _trusted_manifest(folder: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The folder's manifest when its files are exactly the manifest's; else why not."""
    path = folder / MANIFEST
    if not path.is_file():
        return None, None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        listed = {f["name"]: f["sha256"] for f in manifest["files"]}
        if not all(key in manifest for key in ("district", "entities")) or not isinstance(
            manifest["findings"]["after"]["by_code"], dict
        ):
            raise KeyError("findings")
    except (ValueError, KeyError, TypeError):
        return None, f"{MANIFEST} is not a rosterlab fix manifest: the bundle was checked instead"
    present = {p.name: p for p in spec_files(folder)}
    if set(listed) != set(present):
        return None, f"the files differ from {MANIFEST}: the bundle was checked instead"
    for name, file in present.items():
        if file_sha256(file) != listed[name]:
            return None, f"{name} changed since {MANIFEST} was written: the bundle was checked"
    return manifest, None
