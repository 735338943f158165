"""``rosterlab api pull`` (a district's Data API into one snapshot) and ``api serve`` (stand-in)."""

from __future__ import annotations

import argparse
import dataclasses
import os
from typing import Any

from rosterlab import spec
from rosterlab.cli import output
from rosterlab.cli.common import (
    SNAP_HELP,
    add_command,
    add_district,
    add_format,
    fails,
    open_store,
    settings_of,
)
from rosterlab.errors import EXIT_FINDINGS, EXIT_OK, ApiError, ConfigError

STANDIN_TOKEN_ENV = "ROSTERLAB_STANDIN_TOKEN"
STANDIN_MEMORY_LIMIT = "1GB"  # unless memory_limit is configured
# A pull's objects (~1.5 GB of JSON at 1M students) live in a temporary table: with DuckDB's
# default limit (80 % of RAM) they would stay in memory; beyond this one they spill to disk.
PULL_MEMORY_LIMIT = "1GB"  # unless memory_limit is configured

PULL_DETAILS = """

JSON (--format json): the ingest's object (snapshot, findings_summary, outcome, ...) and "api",
an object whether or not the pull recorded a new snapshot:
  target, base_url, version   the [api.NAME] table pulled
  unchanged          true: the served data maps to the bundle of the district's newest
                     snapshot; nothing new recorded (snapshot.new is false)
  matched_snapshot   that snapshot's id when unchanged, else null
  resumed            true: pages an earlier, broken attempt kept were used
  events_applied_to  the snapshot whose pull's pages the events were applied to (--events),
                     else null (a full pull)
  events_not_applied why --events made a full pull instead (null: not asked for, or applied)
  event_cursor       the event id the next --events pull continues after ("": every event,
                     null: events not served, the next is a full pull); unchanged: the
                     target's newest pull's
  cursor_kept        true: unchanged, and the newest pull takes the state this pull found
                     (its pages, event cursor confirmed at this pull's start, district
                     status): it maps to that pull's bundle with the same Clever ids (an
                     events pull: events applied; a full pull: events served)
  district           {clever_id, state, sis_type, last_sync, pause_start, pause_end} as served
  scope              {step: records served}, e.g. users-student
  pages              the pages the pull's state is made of (an events pull: the base pull's
                     and its own), kept with a new snapshot
  pages_fetched      the pages this pull fetched (with those of a resumed attempt)
  requests, rate_limit_waits   HTTP requests (retries and a resumed attempt's included)
                     and 429 (rate limit) waits"""


def cmd_api_pull(args: argparse.Namespace) -> int:
    from rosterlab.api import api_token, load_api_target, pull_district
    from rosterlab.checks import check_ingested
    from rosterlab.report import api as render_api
    from rosterlab.report import snapshots as render
    from rosterlab.store.district_settings import settings_for_ingest

    settings = settings_of(args)
    target = load_api_target(settings, args.target)
    token = api_token(target)
    progress = output.Progress(output.progress_wanted(args.progress))
    memory_limit = settings.memory_limit or PULL_MEMORY_LIMIT
    with open_store(dataclasses.replace(settings, memory_limit=memory_limit)) as store:
        known = settings_for_ingest(store, settings, args.district)
        result = pull_district(
            store,
            target,
            token,
            district=args.district,
            events=args.events,
            sync_type=known.sync_type if known else None,
            district_name=known.name if known else None,
            progress=progress,
            evict_for_delta=True,  # under PULL_MEMORY_LIMIT unless configured
        )
        night = check_ingested(store, result.ingest, known)
    if args.format == "json":
        output.emit_json(
            {
                **render.ingest_dict(night.result, night.outcome),
                "api": render_api.pull_dict(result),
            }
        )
    else:
        output.emit(
            render.ingest_text(night.result, night.rows, night.outcome)
            + "\n"
            + render_api.pull_text(result)
        )
    return EXIT_FINDINGS if fails(night.result.severity_counts(), args.fail_on) else EXIT_OK


def cmd_api_serve(args: argparse.Namespace) -> int:
    from rosterlab.api import Fault, ServedDistrict, StandIn, StandInSettings
    from rosterlab.api.standin import MAX_LIMIT

    settings = settings_of(args)
    token = os.environ.get(args.token_env)
    if not token:
        raise ConfigError(
            f"environment variable {args.token_env} is not set: export the token the stand-in "
            "should accept (any string) before running"
        )
    faults = tuple(Fault.parse(text) for text in args.fault)
    if args.rate_limit < 1 or args.rate_window <= 0:
        raise ConfigError("--rate-limit must be at least 1 and --rate-window above 0 seconds")
    known = settings.districts.get(args.district)
    name = known.name if known else None
    # The served bodies live in DuckDB's temporary tables: beyond the memory limit they spill to
    # disk, so the stand-in's memory stays bounded at any district size.
    memory_limit = settings.memory_limit or STANDIN_MEMORY_LIMIT
    with open_store(
        dataclasses.replace(settings, memory_limit=memory_limit), read_only=True
    ) as store:
        snapshot = store.resolve(args.snapshot, args.district)
        served = ServedDistrict(
            store, snapshot, district_name=name, as_is=args.as_is, events=not args.no_events
        )
        standin = StandIn(
            served,
            StandInSettings(
                token=token,
                rate_limit=args.rate_limit,
                rate_window=args.rate_window,
                faults=faults,
                max_limit=args.max_limit or MAX_LIMIT,
                client=_client(args.client_env),
            ),
        )
        try:
            server = standin.server(args.host, args.port)
        except OSError as exc:
            raise ApiError(
                f"cannot listen on {args.host}:{args.port} ({exc.strerror}): pick another --port"
            ) from exc
        host, port = str(server.server_address[0]), int(server.server_address[1])
        shown = served.snapshot
        live = "" if shown == snapshot else f" (the live state: night {snapshot.seq} is not served)"
        output.emit(
            f"serving {shown.district} snapshot {shown.id} (night {shown.seq}){live} as the "
            f"Data API at http://{host}:{port}/v3.0 and /v3.1; Ctrl-C stops it"
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    return EXIT_OK


def _client(variable: str) -> tuple[str, str] | None:
    """The app's ``client_id:client_secret`` from the environment (``/oauth/tokens``), if set."""
    value = os.environ.get(variable)
    if not value:
        return None
    client_id, colon, secret = value.partition(":")
    if not colon or not client_id or not secret:
        raise ConfigError(f"{variable} must hold client_id:client_secret")
    return client_id, secret


def cmd_reconcile(args: argparse.Namespace) -> int:
    from rosterlab.api.reconcile import reconcile
    from rosterlab.report import reconcile as render_reconcile

    settings = settings_of(args)
    with open_store(settings, read_only=True) as store:
        result = reconcile(store, args.district, upload=args.upload, served=args.served)
    if args.format == "json":
        output.emit_json(render_reconcile.reconcile_dict(result))
    elif args.format == "html":
        output.emit(render_reconcile.reconcile_html(result))
    else:
        output.emit(render_reconcile.reconcile_text(result, details=args.details))
    return EXIT_FINDINGS if args.fail_on_unexplained and result.unexplained else EXIT_OK


def register(sub: Any) -> None:
    rec = add_command(
        sub,
        "reconcile",
        "What the district uploaded vs what Clever's API serves, every difference with a reason.",
        "rosterlab reconcile --district maple [--upload 3 --served 4] [--details]",
    )
    add_district(rec)
    rec.add_argument(
        "--upload",
        metavar="SNAP",
        help="the upload: "
        + SNAP_HELP
        + " (default: the newest before --served that Clever processed)",
    )
    rec.add_argument(
        "--served",
        metavar="SNAP",
        help="the API pull: " + SNAP_HELP + " (default: the newest api pull)",
    )
    rec.add_argument("--details", action="store_true", help="list every difference")
    rec.add_argument(
        "--fail-on-unexplained",
        action="store_true",
        help="exit 1 when a difference has no documented reason",
    )
    add_format(rec, "html")
    rec.set_defaults(handler=cmd_reconcile)

    api = add_command(
        sub,
        "api",
        "Clever's Data API: pull a district into the store, or serve a snapshot as a stand-in.",
        "rosterlab api pull --target clever-oak --district oak",
    )
    commands = api.add_subparsers(dest="api_command", required=True, metavar="API_COMMAND")
    pull = add_command(
        commands,
        "pull",
        "Page every resource of a district's Data API into one snapshot (origin api; its outcome "
        "is served: what Clever serves, nothing in it skipped or held; its findings describe "
        "served records).",
        "rosterlab api pull --target clever-oak --district oak\n"
        '  # rosterlab.toml: [api.clever-oak] base_url = "https://api.clever.com", '
        'version = "3.1", token_env = "OAK_TOKEN"',
    )
    pull.description = (pull.description or "") + PULL_DETAILS
    pull.add_argument("--target", required=True, help="an [api.NAME] table of rosterlab.toml")
    add_district(pull)
    pull.add_argument(
        "--events",
        action="store_true",
        help="apply the events since the last pull's cursor (a full pull when it is unusable)",
    )
    pull.add_argument(
        "--fail-on",
        choices=spec.SEVERITIES,
        help="exit 1 when findings at or above this severity exist",
    )
    pull.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress on stderr: pages, records, rate-limit waits (default: when a terminal)",
    )
    add_format(pull)
    pull.set_defaults(handler=cmd_api_pull)

    serve = add_command(
        commands,
        "serve",
        "Serve a stored snapshot as Clever's Data API v3.0/v3.1 on 127.0.0.1 (a stand-in).",
        "rosterlab api serve --district maple --port 8765 --fault 503@3\n"
        "  # the accepted token: export ROSTERLAB_STANDIN_TOKEN=anything",
    )
    add_district(serve)
    serve.add_argument(
        "--snapshot", default="latest", metavar="SNAP", help=SNAP_HELP + " (default: latest)"
    )
    serve.add_argument(
        "--as-is",
        action="store_true",
        help="serve --snapshot itself, even when Clever would not (held or not processed); "
        "default: Clever's live state, the newest night it processed",
    )
    serve.add_argument(
        "--client-env",
        default="ROSTERLAB_STANDIN_CLIENT",
        help="variable holding the app's client_id:client_secret that GET /oauth/tokens accepts "
        "(HTTP Basic; unset: /oauth/tokens answers 404)",
    )
    serve.add_argument(
        "--no-events",
        action="store_true",
        help="events turned off for the district (/events answers 404; faster start)",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765, help="0 picks a free port (printed)")
    serve.add_argument(
        "--token-env",
        default=STANDIN_TOKEN_ENV,
        help=f"variable holding the accepted bearer token (default {STANDIN_TOKEN_ENV})",
    )
    serve.add_argument("--rate-limit", type=int, default=1200, help="requests per window")
    serve.add_argument("--rate-window", type=float, default=60.0, help="window in seconds")
    serve.add_argument(
        "--max-limit", type=int, help="largest page size; above it: 413 (default: 10000)"
    )
    serve.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND@N",
        help="a fault on data request N (N-M, N+): 503, 429, html, malformed, drop, slow, "
        "or create (a new student)",
    )
    serve.set_defaults(handler=cmd_api_serve)
