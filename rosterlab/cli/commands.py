"""The store commands (ingest, snapshots, export) and the parser that gathers every command.

Each sub-command module has ``register(sub)``; :func:`build_parser` calls them in order.
Handlers parse arguments, call the API, and hand results to renderers and ``output``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from rosterlab import spec
from rosterlab.cli import (
    api_commands,
    check_commands,
    diff_commands,
    doctor_commands,
    fix_commands,
    fleet_commands,
    lab_commands,
    output,
)
from rosterlab.cli.common import (
    DISTRICT_HELP,
    SNAP_HELP,
    add_command,
    add_district,
    add_format,
    fails,
    open_store,
    settings_of,
)
from rosterlab.errors import EXIT_FINDINGS, EXIT_OK, ConfigError


def _taken_at(text: str | None) -> datetime | None:
    """``--taken-at`` as the store keeps it: a time with a zone becomes UTC without one."""
    from rosterlab.store import naive_utc

    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(
            f"--taken-at {text!r} is not ISO-8601 (e.g. 2026-09-03T02:00:00)"
        ) from exc
    return naive_utc(when, named=f"--taken-at {text!r}")


def cmd_ingest(args: argparse.Namespace) -> int:
    from rosterlab.bundle import open_bundle
    from rosterlab.bundle.history import read_history_folder
    from rosterlab.checks import ingest_and_check, ingest_history
    from rosterlab.report import snapshots as render
    from rosterlab.store import resolve_taken_at
    from rosterlab.store.district_settings import settings_for_ingest

    settings = settings_of(args)
    path = Path(args.bundle)
    history = read_history_folder(path)
    progress = output.Progress(output.progress_wanted(args.progress))
    options = {"rebuild": args.rebuild, "allow_future": args.allow_future}
    if history is not None:
        district = args.district or history.district
        if not history.nights:
            raise ConfigError(f"{path} has no night folders named YYYY-MM-DD: nothing to ingest")
        with open_store(settings) as store:
            nights = ingest_history(
                store,
                history,
                district=district,
                known=settings.districts.get(district),
                limits=settings.limits,
                sync_type=args.sync_type,
                progress=progress,
                **options,
            )
    else:
        if not args.district:
            raise ConfigError("--district is required when BUNDLE is a single bundle")
        given = _taken_at(args.taken_at)  # before anything is opened
        with open_bundle(path, limits=settings.limits) as bundle:
            taken_at, dated_by = resolve_taken_at(
                bundle, given, allow_future=args.allow_future, source=str(path)
            )
            with open_store(settings) as store:
                nights = [
                    ingest_and_check(
                        store,
                        bundle,
                        district=args.district,
                        known=settings_for_ingest(store, settings, args.district),
                        sync_type=args.sync_type,
                        taken_at=taken_at,
                        dated_by=dated_by,
                        source=str(path),
                        progress=progress,
                        **options,
                    )
                ]
    if args.format == "json":
        payloads = [render.ingest_dict(n.result, n.outcome) for n in nights]
        output.emit_json(payloads[0] if history is None else payloads)
    else:
        output.emit("\n".join(render.ingest_text(n.result, n.rows, n.outcome) for n in nights))
    worst = any(fails(n.result.severity_counts(), args.fail_on) for n in nights)
    return EXIT_FINDINGS if worst else EXIT_OK


def cmd_snapshots(args: argparse.Namespace) -> int:
    from rosterlab.report import snapshots as render
    from rosterlab.store.outcomes import outcomes

    settings = settings_of(args)
    with open_store(settings, read_only=True) as store:
        history = store.snapshots(args.district)
        if args.district and not history:
            raise store.no_snapshots(args.district)
        outcome = outcomes(store, args.district)
        items = [(s, store.snapshot_rows(s.id), outcome[s.id]) for s in history]
    if args.format == "json":
        output.emit_json([render.snapshot_dict(*item) for item in items])
    else:
        output.emit(render.snapshots_text(items))
    return EXIT_OK


def cmd_snapshots_forget(args: argparse.Namespace) -> int:
    from rosterlab.checks.pipeline import recheck_district
    from rosterlab.report import snapshots as render
    from rosterlab.store import forget_snapshot
    from rosterlab.store.district_settings import settings_for_district
    from rosterlab.store.outcomes import outcomes

    settings = settings_of(args)
    with open_store(settings) as store:
        gone = store.resolve(args.snapshot, args.district)
        history = forget_snapshot(store, gone.id)
        known = settings_for_district(store, settings, gone.district)
        recheck_district(store, gone.district, known)
        outcome = outcomes(store, history[0].district) if history else {}
        items = [(s, store.snapshot_rows(s.id), outcome[s.id]) for s in history]
    output.emit(
        f"forgot snapshot {gone.id} ({gone.district} night {gone.seq}, "
        f"{gone.taken_at:%Y-%m-%d %H:%M}); {gone.district}'s history was replayed from the kept "
        "raw files and checked again:\n" + render.snapshots_text(items)
    )
    return EXIT_OK


def cmd_snapshots_redate(args: argparse.Namespace) -> int:
    from rosterlab.checks.pipeline import recheck_district
    from rosterlab.report import snapshots as render
    from rosterlab.store import redate_snapshot
    from rosterlab.store.district_settings import settings_for_district
    from rosterlab.store.outcomes import outcomes

    when = _taken_at(args.taken_at)
    assert when is not None  # --taken-at is required
    settings = settings_of(args)
    with open_store(settings) as store:
        moved = store.resolve(args.snapshot, args.district)
        history = redate_snapshot(store, moved.id, when, allow_future=args.allow_future)
        recheck_district(
            store, moved.district, settings_for_district(store, settings, moved.district)
        )
        outcome = outcomes(store, history[0].district) if history else {}
        items = [(s, store.snapshot_rows(s.id), outcome[s.id]) for s in history]
    output.emit(
        f"snapshot {moved.id} ({moved.district}) moved from {moved.taken_at:%Y-%m-%d %H:%M} to "
        f"{when:%Y-%m-%d %H:%M}; {moved.district}'s history was replayed in time order from the "
        "kept raw files and checked again:\n" + render.snapshots_text(items)
    )
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from rosterlab.store import export_snapshot

    settings = settings_of(args)
    with open_store(settings, read_only=True) as store:
        snapshot = store.resolve(args.snapshot, args.district)
        written = export_snapshot(store, snapshot.id, args.dir, canonical=args.canonical)
    kind = "canonical files" if args.canonical else "files as received"
    output.emit(
        f"snapshot {snapshot.id} ({snapshot.district} night {snapshot.seq}): "
        f"{len(written)} {kind} written to {args.dir}"
    )
    return EXIT_OK


INGEST_CONTRACT = """\
JSON (one object; a list of them for a district folder): {outcome, reason, skipped [{file,
code, rows}]: rows Clever skips, may_skip [{file, code, rows}]: rows it may skip (a broken link
or a repeated ID: consequence unconfirmed, not in skipped), carried [{file, code, rows, by}]:
rows with no problem of their own that go with the skipped records of entity `by` (the
enrollments of a skipped section; code: that record's reason; they may be skipped),
not_served [{entity, code, records, by, confirmed}]: the records Clever does not serve, direct
(by null) or carried; a snapshot pulled from the Data API (`api pull`, origin api) is outcome
"served" (reason "pulled from the Data API": what Clever serves, nothing skipped or held; its
lists empty) with served_findings: its error and warning findings, on served records,
snapshot {id, district, seq, taken_at, bundle_sha256, new, taken_at_from},
findings_summary {error, warning, info}: findings per severity, records_summary {error,
warning, info}: the records they cover (an aggregated finding counts its records)}. Text says
both where they differ: "1 warning (300,000 records)"."""


def register(sub: Any) -> None:
    ingest = add_command(
        sub,
        "ingest",
        "Record a bundle (folder or .zip) as a district's next snapshot.",
        "rosterlab ingest data/samples/maple/2026-09-03 --district maple\n"
        "  rosterlab ingest data/samples/maple            # every night of a district folder",
    )
    ingest.add_argument(
        "bundle",
        metavar="BUNDLE",
        help="bundle folder or .zip, or a district folder of YYYY-MM-DD nights",
    )
    add_district(
        ingest, required=False, help_text="district id (default for a district folder: its name)"
    )
    ingest.add_argument(
        "--taken-at",
        help="ISO-8601 time of the upload (default: a YYYY-MM-DD[THHMM] in the bundle's name, "
        "02:00 without a time; else the newest file modification time, and the output says so)",
    )
    ingest.add_argument("--sync-type", choices=spec.SYNC_TYPES)
    ingest.add_argument(
        "--rebuild",
        action="store_true",
        help="accept a night older than the newest by replaying history in order",
    )
    ingest.add_argument(
        "--allow-future",
        action="store_true",
        help="accept a time more than a day ahead of now (refused by default: a wrong clock)",
    )
    ingest.add_argument(
        "--fail-on",
        choices=spec.SEVERITIES,
        help="exit 1 when findings at or above this severity exist",
    )
    ingest.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress on stderr (default: when stderr is a terminal)",
    )
    add_format(ingest)
    ingest.description = f"{ingest.description}\n\n{INGEST_CONTRACT}"
    ingest.set_defaults(handler=cmd_ingest)

    snaps = add_command(
        sub,
        "snapshots",
        "List ingested snapshots with row counts per entity; forget or redate one.",
        "rosterlab snapshots --district maple --format json\n"
        "  rosterlab snapshots forget 2026-09-03 --district maple\n"
        "  rosterlab snapshots redate n9 --district maple --taken-at 2026-09-04T02:00",
    )
    add_district(snaps, required=False, help_text="only this district")
    add_format(snaps)
    snaps.set_defaults(handler=cmd_snapshots)
    actions = snaps.add_subparsers(dest="action", metavar="ACTION")
    forget = add_command(
        actions,
        "forget",
        "Remove a snapshot; the district's other nights are replayed from the kept raw files "
        "(one transaction, ids kept).",
        "rosterlab snapshots forget 2026-09-03 --district maple",
    )
    redate = add_command(
        actions,
        "redate",
        "Give a snapshot another taken_at; the district's nights are replayed in the new order "
        "from the kept raw files (one transaction, ids kept).",
        "rosterlab snapshots redate n9 --district maple --taken-at 2026-09-04T02:00",
    )
    for action, handler in ((forget, cmd_snapshots_forget), (redate, cmd_snapshots_redate)):
        action.add_argument("snapshot", metavar="SNAP", help=SNAP_HELP)
        add_district(action, required=False, help_text=DISTRICT_HELP, default=argparse.SUPPRESS)
        action.set_defaults(handler=handler)
    redate.add_argument("--taken-at", required=True, help="ISO-8601 time the night was taken")
    redate.add_argument(
        "--allow-future",
        action="store_true",
        help="accept a time more than a day ahead of now (refused by default: a wrong clock)",
    )

    export = add_command(
        sub,
        "export",
        "Write a snapshot's files (byte-identical unless --canonical).",
        "rosterlab export latest out/ --district maple [--canonical]",
    )
    export.add_argument("snapshot", metavar="SNAP", help=SNAP_HELP)
    export.add_argument("dir", metavar="DIR", help="new or empty folder")
    add_district(export, required=False, help_text=DISTRICT_HELP)
    export.add_argument(
        "--canonical",
        action="store_true",
        help="regenerate from the tables instead of the received bytes",
    )
    export.set_defaults(handler=cmd_export)


# Every command module's register(sub), in --help order. Add yours here.
REGISTRARS: tuple[Callable[[Any], None], ...] = (
    register,
    diff_commands.register,
    check_commands.register,
    fix_commands.register,
    lab_commands.register,
    doctor_commands.register,
    api_commands.register,
    fleet_commands.register,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rosterlab",
        description="Understand and repair Clever roster sync data (history store: DuckDB).",
    )
    parser.add_argument(
        "--store",
        help="history store file (default: ROSTERLAB_STORE, rosterlab.toml, ./rosterlab.duckdb)",
    )
    parser.add_argument(
        "--config", help="config file (default: ROSTERLAB_CONFIG, ./rosterlab.toml)"
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="on an error, print the traceback too (also: ROSTERLAB_DEBUG=1)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register_commands in REGISTRARS:
        register_commands(sub)
    return parser
