"""``rosterlab fleet``: every district of ``[fleet]``, every night, on Dask distributed.

Sub-commands register on the ``fleet`` parser through :data:`SUBCOMMANDS` (add yours there):
``run`` runs a night, ``status`` reads the Parquet results back for the morning overview.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from datetime import date
from typing import Any

from rosterlab.cli import output
from rosterlab.cli.common import add_command, add_format, settings_of
from rosterlab.errors import EXIT_FINDINGS, EXIT_OK, ConfigError

_NIGHT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# rosterlab.fleet.model.FAIL_ON, spelt here: importing the fleet would load DuckDB for --help.
FAIL_ON = ("failed", "not-processed", "held")

STATUS_DETAILS = """

Call first, in this order (a district once, under its first tier; ties by district id):
  1. not-processed or failed tonight (more errors first)
  2. held tonight (the biggest hold ratio first)
  3. errors-climbing: the errors of its last three nights with a result (failed and no-upload
     nights have none) rise twice in a row, the last rise tonight (the biggest rise first)
  4. rows-skipped tonight (the most rows first)
  5. no-upload tonight
Text and HTML list the grid rows with a night not processed, the districts with any error, and
how each Data API district's night was pulled; JSON lists every district.

JSON (--format json), one object:
  root        the fleet root
  night       tonight, YYYY-MM-DD
  nights      the nights shown, oldest first (up to --nights, ending with night)
  districts   how many districts the fleet has (rosterlab.toml's [fleet.districts])
  tonight     {outcome: count} for processed, held, not-processed, failed, no-upload
              (and served: a Data API district's pull, when there is one)
  not_run     the fleet's districts without a result tonight (a run stopped or not yet
              there: `fleet run --night` runs them), sorted
  unconfigured  districts with results on the nights shown that the fleet no longer
              configures (their rows stay in the grid), sorted
  call_first  [{rank, district, tier, why}], in call order
  holds       [{district, entity, kind, count, base, ratio, threshold}]: predicted holds tonight
  grid        [{district, outcomes: [outcome or null per night of nights]}], by district
  trends      [{district, errors: [count or null per night of nights], climbing}], by district
  api_pulls   [{district, snapshot_id, unchanged, pulled_by, pages_fetched, events_applied_to,
              events_not_applied}]: tonight's Data API districts, by district: pulled_by
              events (pages_fetched event pages applied to snapshot events_applied_to) or
              full (events_not_applied: why); unchanged: the served data is snapshot_id's,
              no new night"""


RUN_DETAILS = """

JSON (--format json), one object:
  night       the night run, YYYY-MM-DD
  workers     Dask worker processes (0: --serial, no Dask)
  dashboard   the Dask dashboard's link (the embedded cluster's or --scheduler's), null when
              none is served
  results     the folder the night's Parquet results went to
  counts      {outcome: districts}, by outcome name
  failed      the districts whose outcome is failed, by district
  districts   [{district, outcome, reason, snapshot_id, attempts, already_done, seconds,
              unchanged, api}], by district: already_done, a district whose night a run
              before had finished (not run again); unchanged, the night's files or served
              data are the newest snapshot's (no new night, no diff); api, for a Data API
              district, {pulled_by, pages_fetched, events_applied_to, events_not_applied}
              (as fleet status's api_pulls), else null"""


def night_of(text: str | None) -> date:
    """``--night``: a ``YYYY-MM-DD`` date, as the drop folders name nights (default: today)."""
    if text is None:
        return date.today()
    problem = f"--night {text!r} is not a date like 2026-09-03 (YYYY-MM-DD)"
    if not _NIGHT.fullmatch(text):
        raise ConfigError(problem)
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(problem) from exc


def cmd_fleet_run(args: argparse.Namespace) -> int:
    from rosterlab.fleet import load_fleet, results_root, run_fleet, run_serial
    from rosterlab.fleet.render import fleet_run_dict, fleet_run_text, progress_line

    night = night_of(args.night)
    fleet = load_fleet(settings_of(args))
    progress = output.Progress(output.progress_wanted(args.progress))

    def tell(done: int, total: int, run: Any) -> None:
        progress(progress_line(done, total, run))

    if args.serial:
        run = run_serial(fleet, night, progress=tell)
    else:
        where = args.scheduler or f"{args.workers or 'one per core'} local worker processes"
        progress(f"{night}: {len(fleet.districts)} districts on Dask ({where})")
        run = run_fleet(
            fleet,
            night,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=tell,
            announce=lambda link: output.note(f"Dask dashboard: {link}"),
        )
    results = str(results_root(fleet.root))
    if args.format == "json":
        output.emit_json(fleet_run_dict(run, results))
    else:
        output.emit(fleet_run_text(run, results))
    return EXIT_FINDINGS if run.failing(args.fail_on) else EXIT_OK


def register_run(commands: Any) -> None:
    run = add_command(
        commands,
        "run",
        "Run a night for every district of [fleet] (one Dask task each): ingest, check, "
        "outcome, diff against the last processed state, Parquet results. An api district "
        "goes by events (as api pull --events, a full pull when they cannot be applied; "
        "events = false in [fleet] or its [fleet.districts.ID] forces full pulls); the "
        "output says how its night was pulled. Exit 0 when the night ran, failed districts "
        "listed (1 with --fail-on when a district's outcome is that or worse); a district "
        "already done is not run again.",
        "rosterlab fleet run --night 2026-09-03                # embedded cluster, one worker "
        "per core\n"
        "  rosterlab fleet run --scheduler tcp://10.0.0.5:8786   # an existing Dask cluster\n"
        "  rosterlab fleet run --serial                          # no Dask, one district at a "
        "time\n"
        "  rosterlab fleet run --format json --fail-on not-processed  # cron: exit 1 when a "
        "district failed or Clever will not process its night",
    )
    run.description = (run.description or "") + RUN_DETAILS
    run.add_argument(
        "--night", help="the night to run, YYYY-MM-DD as the drop folders name it (default: today)"
    )
    where = run.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=int,
        help="worker processes of the embedded LocalCluster (default: one per core)",
    )
    where.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="run on this Dask scheduler's workers (they must import rosterlab and reach the "
        "fleet root)",
    )
    where.add_argument(
        "--serial", action="store_true", help="no Dask: the districts one by one in this process"
    )
    run.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a bar over districts on stderr (default: when stderr is a terminal)",
    )
    run.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        help="exit 1 when a district's outcome is this or more serious (failed, then "
        "not-processed, then held): for cron and CI",
    )
    add_format(run)
    run.set_defaults(handler=cmd_fleet_run)


def cmd_fleet_status(args: argparse.Namespace) -> int:
    from rosterlab.fleet import load_fleet
    from rosterlab.report import fleet as render
    from rosterlab.store.fleet_results import fleet_status

    settings = settings_of(args)
    fleet = load_fleet(settings)
    night = night_of(args.night) if args.night is not None else None
    folder = settings.config_path.parent if settings.config_path else None
    status = fleet_status(
        fleet.root,
        night,
        args.nights,
        paths_from=folder,
        fleet=[d.district for d in fleet.districts],
    )
    if args.format == "json":
        output.emit_json(render.status_dict(status))
    elif args.format == "html":
        output.emit(render.status_html(status))
    else:
        output.emit(render.status_text(status))
    return EXIT_OK


def register_status(commands: Any) -> None:
    status = add_command(
        commands,
        "status",
        "The fleet's status for a night from its Parquet results: districts x nights outcome "
        "grid, predicted holds, error trends, the districts to call first.",
        "rosterlab fleet status                     # the latest night: who to call first\n"
        "  rosterlab fleet status --night 2026-09-03 --format html > status.html",
    )
    status.description = (status.description or "") + STATUS_DETAILS
    status.add_argument("--night", help="YYYY-MM-DD (default: the latest night with results)")
    status.add_argument(
        "--nights", type=int, default=7, help="nights shown, ending with --night (default 7)"
    )
    add_format(status, "html")
    status.set_defaults(handler=cmd_fleet_status)


# Every ``fleet`` sub-command's register(commands), in --help order. Add yours here.
SUBCOMMANDS: list[Callable[[Any], None]] = [register_run, register_status]


def register(sub: Any) -> None:
    fleet = add_command(
        sub,
        "fleet",
        "Fleet mode: every district of [fleet] in rosterlab.toml, one store each, nightly on "
        "Dask, results as Parquet partitioned by night and district.",
        "rosterlab fleet run --night 2026-09-03 --workers 2",
    )
    commands = fleet.add_subparsers(dest="fleet_command", required=True, metavar="FLEET_COMMAND")
    for register_subcommand in SUBCOMMANDS:
        register_subcommand(commands)
