"""``rosterlab fleet``: every district of ``[fleet]``, every night, on Dask distributed.

Sub-commands register on the ``fleet`` parser through :data:`SUBCOMMANDS` (add yours there).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from datetime import date
from typing import Any

from rosterlab.cli import output
from rosterlab.cli.common import add_command, add_format, settings_of
from rosterlab.errors import EXIT_OK, ConfigError

_NIGHT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


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
    return EXIT_OK


def register_run(commands: Any) -> None:
    run = add_command(
        commands,
        "run",
        "Run a night for every district of [fleet] (one Dask task each): ingest, check, "
        "outcome, diff against the last processed state, Parquet results. Exit 0 when the "
        "night ran, failed districts listed; a district already done is not run again.",
        "rosterlab fleet run --night 2026-09-03                # embedded cluster, one worker "
        "per core\n"
        "  rosterlab fleet run --scheduler tcp://10.0.0.5:8786   # an existing Dask cluster\n"
        "  rosterlab fleet run --serial                          # no Dask, one district at a "
        "time",
    )
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
    add_format(run)
    run.set_defaults(handler=cmd_fleet_run)


# Every ``fleet`` sub-command's register(commands), in --help order. Add yours here.
SUBCOMMANDS: list[Callable[[Any], None]] = [register_run]


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
