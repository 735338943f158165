"""One district's night: fetch (pull/api), ingest with its checks and outcome, diff against the
last processed state, and write the five results tables for (night, district).

The same function runs in a Dask worker and in the serial run. Ingest is one transaction, so a
task re-run after its worker died finds the store as it was (or the night already committed:
then it is a no-op and only the results are written). A district-night whose ``outcomes`` file
exists and whose store holds its snapshot is done: running it again changes nothing.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from rosterlab import spec
from rosterlab.bundle import open_bundle
from rosterlab.bundle.history import date_in_name, folder_settings
from rosterlab.checks import CheckedNight, check_ingested, ingest_and_check
from rosterlab.config import DistrictSettings, FleetDistrict
from rosterlab.diff import HoldThresholds, diff_snapshots
from rosterlab.errors import BundleError, ConfigError, OutOfOrderError, RosterlabError
from rosterlab.fleet.model import ApiNight, DistrictRun, Fleet
from rosterlab.fleet.results import OUTCOMES, Rows, read_outcome, write_night
from rosterlab.store import Store
from rosterlab.store.district_settings import settings_for_district
from rosterlab.store.fleet_results import FAILED, NO_UPLOAD
from rosterlab.store.outcomes import HELD, live_before


@contextmanager
def _open_store(fleet: Fleet, district: str, *, read_only: bool = False) -> Iterator[Store]:
    settings = fleet.settings
    path = fleet.store_path(district)
    path.parent.mkdir(parents=True, exist_ok=True)
    with Store.open(
        path,
        read_only=read_only,
        memory_limit=settings.memory_limit,
        # One thread per district unless configured: serially every core was slower (200
        # districts: 189 s against 170 s on one thread, docs/benchmarks.md "Fleet"); on Dask
        # the workers share the cores (rosterlab.fleet.cluster sets it).
        threads=settings.threads or 1,
        wait=settings.store_wait,
    ) as store:
        yield store


def run_district(fleet: Fleet, district: FleetDistrict, night: date) -> DistrictRun:
    """Run one district's night (or find it done) and write its results; a RosterlabError
    becomes a ``failed`` outcome, other exceptions propagate (Dask retries them)."""
    started = time.monotonic()
    attempts = None
    try:
        done = already_done(fleet, district.district, night)
        if done is not None:
            return done
        attempts, begun = _attempt(fleet.root, district.district, night)
        tables = _night_tables(fleet, district, night, begun)
    except RosterlabError as exc:
        return record_failure(
            fleet, district.district, night, exc.message, time.monotonic() - started, attempts
        )
    outcome = dict(tables[OUTCOMES][0])
    outcome |= {"seconds": time.monotonic() - started, "attempts": attempts}
    write_night(fleet.root, night, district.district, {**tables, OUTCOMES: [outcome]})
    _attempts_file(fleet.root, district.district, night).unlink(missing_ok=True)
    return _district_run(district.district, night, outcome)


def _district_run(
    district: str, night: date, row: dict[str, Any], *, already_done: bool = False
) -> DistrictRun:
    """The district's night as its ``outcomes`` row records it."""
    api = None
    if row.get("pulled_by") is not None:
        api = ApiNight(
            row["pulled_by"],
            row["pages_fetched"],
            row["events_applied_to"],
            row["events_not_applied"],
        )
    return DistrictRun(
        district,
        night,
        row["outcome"],
        row["reason"],
        row["snapshot_id"],
        row["seconds"],
        row["attempts"],
        already_done=already_done,
        unchanged=bool(row.get("unchanged")),
        api=api,
    )


def record_failure(
    fleet: Fleet, district: str, night: date, reason: str, seconds: float, attempts: int | None
) -> DistrictRun:
    """A district whose night could not be run: one ``failed`` outcome row, reason = the error
    (``attempts`` None: as many as the district's tasks counted)."""
    if attempts is None:
        attempts = _attempts_so_far(fleet.root, district, night)
    row = _outcome_row(FAILED, reason) | {"seconds": seconds, "attempts": attempts}
    write_night(fleet.root, night, district, {OUTCOMES: [row]})
    _attempts_file(fleet.root, district, night).unlink(missing_ok=True)
    return DistrictRun(district, night, FAILED, reason, None, seconds, attempts)


def already_done(fleet: Fleet, district: str, night: date) -> DistrictRun | None:
    """The district's night as recorded, when its outcome exists and its store has the
    snapshot; None when it still has to run (no outcome, a failure, no upload yet)."""
    recorded = read_outcome(fleet.root, night, district)
    if recorded is None or recorded["snapshot_id"] is None:
        return None
    if not fleet.store_path(district).is_file():
        return None
    with _open_store(fleet, district, read_only=True) as store:
        if recorded["snapshot_id"] not in {s.id for s in store.snapshots(district)}:
            return None
    return _district_run(district, night, recorded, already_done=True)


def _attempts_file(root: Path, district: str, night: date) -> Path:
    return root / "stores" / f"{district}.{night.isoformat()}.attempts"


def _attempts_so_far(root: Path, district: str, night: date) -> int:
    return _attempts_kept(root, district, night)[0]


def _attempts_kept(root: Path, district: str, night: date) -> tuple[int, datetime | None]:
    """The starts of the district's night so far, and when the first began (UTC, naive)."""
    try:
        count, _, begun = _attempts_file(root, district, night).read_text().partition(" ")
        return int(count or 0), datetime.fromisoformat(begun) if begun else None
    except (OSError, ValueError):
        return 0, None


def _attempt(root: Path, district: str, night: date) -> tuple[int, datetime]:
    """Count this start of the district's night (a worker that died left its count behind,
    and when the night's first attempt began: a snapshot it recorded is the night's own)."""
    path = _attempts_file(root, district, night)
    path.parent.mkdir(parents=True, exist_ok=True)
    attempts, begun = _attempts_kept(root, district, night)
    begun = begun or datetime.now(UTC).replace(tzinfo=None)
    path.write_text(f"{attempts + 1} {begun.isoformat()}")
    return attempts + 1, begun


def _outcome_row(outcome: str, reason: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "outcome": outcome,
        "reason": reason,
        "snapshot_id": None,
        "skipped_rows": 0,
        "may_skip_rows": 0,
        "carried_rows": 0,
        "errors": 0,
        "warnings": 0,
        "infos": 0,
        "bundle_sha256": None,
        "unchanged": None,
        "pulled_by": None,
        "pages_fetched": None,
        "events_applied_to": None,
        "events_not_applied": None,
    }
    return row | values


def night_bundle(folder: Path, night: date) -> Path | None:
    """The drop folder's bundle for ``night``: a folder or zip whose name carries its date."""
    if not folder.is_dir():
        raise ConfigError(
            f"drop folder {folder} does not exist or is not a folder: create it or fix the "
            "district's folder in [fleet.districts]"
        )
    found = sorted(
        entry
        for entry in folder.iterdir()
        if (entry.is_dir() or entry.suffix.lower() == ".zip")
        and (when := date_in_name(entry)) is not None
        and when.date() == night
    )
    if len(found) > 1:
        names = ", ".join(entry.name for entry in found)
        raise ConfigError(
            f"{folder} holds more than one bundle for {night} ({names}): keep the one to ingest"
        )
    return found[0] if found else None


def _night_tables(
    fleet: Fleet, district: FleetDistrict, night: date, begun: datetime
) -> dict[str, Rows]:
    """The night's tables; ``begun``: when the night's first attempt began (an API snapshot
    taken since is the night's own, recorded by an attempt whose worker died)."""
    bundle = None
    api = None
    if district.source == "drop":
        assert district.folder is not None
        bundle = night_bundle(district.folder, night)
        if bundle is None:
            reason = f"no bundle for {night} in {district.folder}"
            return {OUTCOMES: [_outcome_row(NO_UPLOAD, reason)]}
    with _open_store(fleet, district.district) as store:
        known = district.settings
        if bundle is not None:
            known, kept = _drop_settings(fleet, district, store)
            checked = _ingest_drop(fleet, district, known, kept, store, bundle)
        elif district.source == "pull":
            checked = _ingest_pull(fleet, district, store)
        else:
            checked, api = _ingest_api(fleet, district, store)
        snapshot = checked.result.snapshot
        earlier = _night_name(snapshot.taken_at)
        # The same files as the district's newest night: no new snapshot, nothing changed (and
        # no diff to write) — but a held upload sent again is still the held upload: its diff
        # against the live state before it gives tonight the holds that night predicted. A
        # drop's night is named by its date; a pull's snapshot is taken when it is pulled, so
        # one taken before tonight's first attempt is an earlier night's (a run past midnight
        # has pulled it on tonight's date).
        if api is None:
            unchanged = not checked.result.new and earlier != night.isoformat()
        else:
            unchanged = not checked.result.new and snapshot.taken_at < begun
        held = checked.outcome.outcome == HELD
        tables = _tables(store, district.district, known, checked, diffed=held or not unchanged)
    outcome = {**tables[OUTCOMES][0], "unchanged": unchanged}
    if api is not None:
        outcome |= {
            "pulled_by": api.by,
            "pages_fetched": api.pages,
            "events_applied_to": api.events_applied_to,
            "events_not_applied": api.events_not_applied,
        }
    if unchanged:
        # The same upload again: what decided its outcome (a missing file, a hold) still does.
        if api is None:
            told = f"unchanged: the same files as {earlier} (snapshot {snapshot.id})"
        else:
            told = f"unchanged: the served data is snapshot {snapshot.id}'s (pulled {earlier})"
        if held:
            told += ", held that night: Clever applies them once the district approves the hold"
        reason = f"{outcome['reason']}; {told}" if outcome["reason"] else told
        outcome |= {"reason": reason}
    return {**tables, OUTCOMES: [outcome]}


def _drop_settings(
    fleet: Fleet, district: FleetDistrict, store: Store
) -> tuple[DistrictSettings, DistrictSettings | None]:
    """The settings a drop district's night is checked with, and its folder's ``district.toml``
    (kept with the district, as ``rosterlab ingest FOLDER`` keeps it).

    The one precedence (README "Settings"): rosterlab.toml's ``[districts.ID]`` or
    ``[fleet.districts.ID]`` settings, else the folder's ``district.toml``, else the one kept
    with the district at an earlier night, else the defaults.
    """
    assert district.folder is not None
    kept = folder_settings(district.folder, district.district)
    if district.configured:
        return district.settings, kept
    return kept or settings_for_district(store, fleet.settings, district.district), kept


def _ingest_drop(
    fleet: Fleet,
    district: FleetDistrict,
    known: DistrictSettings,
    kept: DistrictSettings | None,
    store: Store,
    path: Path,
) -> CheckedNight:
    try:
        with open_bundle(path, limits=fleet.settings.limits) as bundle:
            try:
                return ingest_and_check(
                    store,
                    bundle,
                    district=district.district,
                    known=known,
                    keep=kept,
                    taken_at=date_in_name(path),
                    dated_by="name",
                    source=str(path),
                )
            except OutOfOrderError as exc:
                raise OutOfOrderError(_older_night(fleet, district, store, path)) from exc
    except BundleError as exc:
        if exc.problem is None:
            raise
        raise BundleError(_unread_zip(exc.problem, path)) from exc


def _unread_zip(problem: str, path: Path) -> str:
    """What a fleet operator does about a night's zip that cannot be read: put its files in
    the drop folder as the night's folder (``ingest``'s advice is to pass a folder)."""
    night = date_in_name(path)
    rerun = f" --night {night.date().isoformat()}" if night is not None else ""
    return (
        f"{problem}: put the night's files in a folder {path.with_suffix('')} in place of the "
        "zip (unzipped, if the district meant it, or sent again by the district), then run "
        f"`rosterlab fleet run{rerun}` again"
    )


def _older_night(fleet: Fleet, district: FleetDistrict, store: Store, path: Path) -> str:
    """A drop folder's night older than the district's newest: ``fleet run`` adds nights in
    time order, so the store is rebuilt from the drop folder first (``ingest --rebuild``)."""
    newest = store.snapshots(district.district)[-1].taken_at
    return (
        f"{path} is older than district {district.district}'s newest night "
        f"({_night_name(newest)}): rebuild its store in time order with `rosterlab --store "
        f"{fleet.store_path(district.district)} ingest {district.folder} --district "
        f"{district.district} --rebuild`, then run the night again"
    )


def _ingest_pull(fleet: Fleet, district: FleetDistrict, store: Store) -> CheckedNight:
    from rosterlab.transport import load_target, pull_bundle

    assert district.target is not None
    target = load_target(fleet.settings, district.target)
    with tempfile.TemporaryDirectory(prefix="rosterlab-fleet-pull-") as tmp:
        folder = Path(tmp) / "pulled"
        pulled = pull_bundle(target, folder, limits=fleet.settings.limits)
        with open_bundle(folder, limits=fleet.settings.limits) as bundle:
            return ingest_and_check(
                store,
                bundle,
                district=district.district,
                known=district.settings,
                taken_at=max((f.mtime for f in pulled.files), default=None),
                dated_by="remote-mtime",
                origin="pulled",
                source=f"sftp://{target.username}@{target.address}{target.remote_dir}",
            )


def _ingest_api(
    fleet: Fleet, district: FleetDistrict, store: Store
) -> tuple[CheckedNight, ApiNight]:
    """The night by events (``api pull --events``: a full pull, saying why, when they cannot
    be applied) unless the fleet's config forces full pulls; and how it was pulled."""
    from rosterlab.api import api_token, load_api_target, pull_district

    assert district.target is not None
    target = load_api_target(fleet.settings, district.target)
    known = district.settings
    pulled = pull_district(
        store,
        target,
        api_token(target),
        district=district.district,
        events=district.full_pulls is None,
        sync_type=known.sync_type,
        district_name=known.name,
    )
    how = ApiNight(
        "full" if pulled.events_base is None else "events",
        pulled.fetched,
        pulled.events_base,
        district.full_pulls or pulled.full_because,
    )
    return check_ingested(store, pulled.ingest, known), how


def _tables(
    store: Store,
    district: str,
    known: DistrictSettings,
    checked: CheckedNight,
    *,
    diffed: bool = True,
) -> dict[str, Rows]:
    """The night's results: its findings by code, its outcome, and (``diffed``) the diff against
    the live state (holds predicted with ``known``, the settings the night was checked with) as
    Clever applies it: a night it does not process changes nothing."""
    snapshot, findings, outcome = checked.result.snapshot, checked.result.findings, checked.outcome
    counts = spec.severity_counts(findings)
    by_code: dict[tuple[str, str, str | None], int] = {}
    for f in findings:
        entity = spec.ENTITIES.get(f.entity or "")
        place = (f.code, f.severity, entity.file if entity is not None else None)
        by_code[place] = by_code.get(place, 0) + 1
    rows = checked.rows
    tables: dict[str, Rows] = {
        OUTCOMES: [
            _outcome_row(
                outcome.outcome,
                outcome.reason,
                snapshot_id=snapshot.id,
                skipped_rows=outcome.skipped_rows(),
                may_skip_rows=outcome.may_skip_rows(),
                carried_rows=outcome.carried_rows(),
                errors=counts["error"],
                warnings=counts["warning"],
                infos=counts["info"],
                bundle_sha256=snapshot.bundle_sha256,
            )
        ],
        "findings_by_code": [
            {"code": code, "severity": severity, "file": file, "count": count}
            for (code, severity, file), count in by_code.items()
        ],
        "snapshots": [
            {
                "snapshot_id": snapshot.id,
                "taken_at": snapshot.taken_at,
                "origin": snapshot.origin,
                "files": store.snapshot_files(snapshot.id).height,
                "rows": sum(rows.values()),
            }
        ],
    }
    live = live_before(store, snapshot) if diffed else None
    if live is None:  # the district's first night (or an unchanged one): nothing to compare
        return tables
    diff = diff_snapshots(
        store,
        district,
        live.id,
        snapshot.id,
        thresholds=HoldThresholds.of(known),
        computed=checked.history,  # the history checks' diff: the same two nights
    )
    compared_with = _night_name(live.taken_at)
    # A night Clever does not process changes nothing (the diff says "nothing is deleted"): no
    # record is added, removed or changed, every record of the live state stays unchanged.
    applied = diff.not_processed is None
    tables["diff_counts"] = [
        {
            "entity": e.entity,
            "added": e.added if applied else 0,
            "removed": e.removed if applied else 0,
            "changed": e.changed if applied else 0,
            "unchanged": e.unchanged if applied else e.records_from,
            "compared_with": compared_with,
        }
        for e in diff.entities
    ]
    tables["holds"] = [
        {
            "entity": h.entity,
            "kind": h.kind,
            "count": h.count,
            "base": h.total,
            "ratio": h.ratio,
            "threshold": h.threshold,
        }
        for h in diff.hold_reasons
    ]
    return tables


def _night_name(taken_at: datetime) -> str:
    """A night as the drop folders name it: ``YYYY-MM-DD``."""
    return taken_at.date().isoformat()
