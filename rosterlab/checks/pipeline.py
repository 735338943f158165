"""Ingest a night, then check it: the one pipeline behind ``ingest``, ``pull``, ``api pull`` and
the workbench's sample stores.

>>> night = ingest_and_check(store, bundle, district="maple", known=settings, source="n3/")
>>> night.result.findings, night.rows, night.outcome     # what the ingest commands report
>>> nights = ingest_history(store, read_history_folder(path))   # every night, in date order
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from rosterlab.checks.model import CheckSettings
from rosterlab.checks.run import checked_fingerprint, run_checks
from rosterlab.errors import StoreError
from rosterlab.store import IngestResult, ingest_bundle, ingest_bundles
from rosterlab.store.district_settings import record_district_settings
from rosterlab.store.outcomes import UploadOutcome, outcome_of

if TYPE_CHECKING:
    from rosterlab.bundle import Bundle
    from rosterlab.bundle.history import HistoryFolder, Night
    from rosterlab.config import DistrictSettings, Limits
    from rosterlab.diff import DiffResult
    from rosterlab.store import Store


@dataclass(frozen=True)
class CheckedNight:
    """One ingested night: the ingest's result (its findings include every check of a new
    snapshot), the rows each file holds, and what Clever does with the upload."""

    result: IngestResult
    rows: dict[str, int]
    outcome: UploadOutcome
    # The checks' diff of the live state → this night (None: checks cached, or a first night).
    history: DiffResult | None = None


def check_ingested(
    store: Store, result: IngestResult, known: DistrictSettings | None
) -> CheckedNight:
    """Check a night just ingested (a night already checked keeps its findings).

    The ingest is committed before the checks run, so a check that fails (out of memory) says
    that the night is kept and how to check it once the cause is fixed; a night whose checks
    never ran (the process died between the two) is checked when it is ingested again.
    """
    snapshot = result.snapshot
    history = None
    if result.new or checked_fingerprint(store, snapshot.id) is None:
        try:
            checked = run_checks(store, snapshot.id, settings=CheckSettings.of(known))
        except StoreError as exc:
            raise type(exc)(
                f"{snapshot.district} night {snapshot.seq} was ingested as snapshot "
                f"{snapshot.id} but not checked: {exc.message}; then run rosterlab check "
                f"--recheck --district {snapshot.district}"
            ) from exc
        result, history = replace(result, findings=checked.findings), checked.history
    rows = store.snapshot_rows(snapshot.id)
    return CheckedNight(result, rows, outcome_of(store, snapshot.id), history)


def recheck_district(store: Store, district: str, known: DistrictSettings | None) -> None:
    """Check every night of ``district``, oldest first, after a replay (``snapshots forget``,
    ``redate``, ``ingest --rebuild``) dropped their checks: the outcomes they record are what
    every command reads as Clever's live state (a held night read as processed until then).
    In order, since a night's checks compare it with the state before it.
    """
    for snapshot in store.snapshots(district):
        run_checks(store, snapshot.id, settings=CheckSettings.of(known))


def ingest_and_check(
    store: Store,
    bundle: Bundle,
    *,
    district: str,
    known: DistrictSettings | None,
    sync_type: str | None = None,
    keep: DistrictSettings | None = None,
    **ingest: Any,
) -> CheckedNight:
    """:func:`~rosterlab.store.ingest_bundle` one night, keep ``keep`` (a history folder's
    ``district.toml``) with the district, then :func:`check_ingested` it with ``known``.

    ``sync_type`` and the district's name default to ``known``'s; ``ingest`` are
    ``ingest_bundle``'s other keywords (taken_at, origin, source, progress, rebuild, …).
    """
    result = _ingest(store, bundle, district, known, sync_type, keep, ingest)
    if ingest.get("rebuild"):  # the district's nights were replayed: their checks are gone
        recheck_district(store, district, known)
    return check_ingested(store, result, known)


def _ingest(
    store: Store,
    bundle: Bundle,
    district: str,
    known: DistrictSettings | None,
    sync_type: str | None,
    keep: DistrictSettings | None,
    ingest: dict[str, Any],
) -> IngestResult:
    result = ingest_bundle(
        store,
        bundle,
        district=district,
        sync_type=sync_type or (known.sync_type if known else None),
        district_name=known.name if known else None,
        **ingest,
    )
    if keep is not None:
        record_district_settings(store, keep)
    return result


def ingest_history(
    store: Store,
    history: HistoryFolder,
    *,
    district: str | None = None,
    known: DistrictSettings | None = None,
    limits: Limits | None = None,
    source: Callable[[Night], str] = lambda night: str(night.path),
    progress: Callable[[str], None] | None = None,
    sync_type: str | None = None,
    **ingest: Any,
) -> list[CheckedNight]:
    """Every night of a history folder, in date order, each ingested then checked.

    ``district`` defaults to the folder's; ``known`` (the district's settings) to its
    ``district.toml``, which is kept with the district after each night. With ``rebuild``
    the nights older than the district's newest are put in place by one replay of its history,
    the later ones ingested after it, then the district is checked once, oldest first: no
    night is replayed or checked again for every later night.
    """
    from rosterlab.bundle import open_bundle

    district = district or history.district
    kept = replace(history.settings, district=district) if history.settings else None
    known = known or kept
    if ingest.get("rebuild"):
        return _rebuild_history(
            store, history, district, known, kept, limits, source, progress, sync_type, ingest
        )
    checked: list[CheckedNight] = []
    for night in history.nights:
        if progress is not None:
            progress(f"{district} {night.path.name}")
        with open_bundle(night.path, limits=limits) as bundle:
            result = _ingest(
                store,
                bundle,
                district,
                known,
                sync_type,
                kept,
                {
                    **ingest,
                    "taken_at": night.taken_at,
                    "source": source(night),
                    "progress": progress,
                    "dated_by": "name",
                },
            )
        checked.append(check_ingested(store, result, known))
    return checked


def _rebuild_history(
    store: Store,
    history: HistoryFolder,
    district: str,
    known: DistrictSettings | None,
    kept: DistrictSettings | None,
    limits: Limits | None,
    source: Callable[[Night], str],
    progress: Callable[[str], None] | None,
    sync_type: str | None,
    ingest: dict[str, Any],
) -> list[CheckedNight]:
    """``ingest_history`` with ``rebuild``: the nights older than the district's newest are put
    in place by one replay of its history (not one per night), the later ones ingested after
    it; then the district is checked once, oldest first."""
    from rosterlab.bundle import open_bundle

    before = [(s.id, s.seq) for s in store.snapshots(district)]
    try:
        with ExitStack() as opened:
            nights = []
            for night in history.nights:
                if progress is not None:
                    progress(f"{district} {night.path.name}")
                bundle = opened.enter_context(open_bundle(night.path, limits=limits))
                nights.append(
                    (
                        bundle,
                        {
                            "district": district,
                            "taken_at": night.taken_at,
                            "source": source(night),
                            "dated_by": "name",
                            "sync_type": sync_type or (known.sync_type if known else None),
                            "district_name": known.name if known else None,
                        },
                    )
                )
            replayed = ingest_bundles(
                store,
                nights,
                progress=progress,
                allow_future=bool(ingest.get("allow_future")),
            )
        if kept is not None:
            record_district_settings(store, kept)
    except BaseException:
        # the replay is one transaction, but a later night failing leaves it committed: the
        # district's nights are checked again, oldest first, as after a replay that completes
        if [(s.id, s.seq) for s in store.snapshots(district)] != before:
            recheck_district(store, district, known)
        raise
    recheck_district(store, district, known)
    return [check_ingested(store, _findings_now(store, r), known) for r in replayed]


def _findings_now(store: Store, result: IngestResult) -> IngestResult:
    """A night ingested before (no new snapshot) with the findings its checks keep now: read
    when it was met, they were those of a night whose checks a replay had dropped."""
    if result.new:
        return result
    return replace(result, findings=tuple(store.findings(result.snapshot.id)))
