"""The check commands: ``check`` (every finding of a snapshot, grouped by root cause),
``fields`` (the field × night matrix) and ``ledger add|list|remove`` (overrides kept on purpose).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

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
from rosterlab.errors import EXIT_FINDINGS, EXIT_OK

if TYPE_CHECKING:
    from rosterlab.spec import Finding


def _listed(values: list[str] | None) -> list[str]:
    """``--code a,b --code c`` → ``[a, b, c]``."""
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


def cmd_check(args: argparse.Namespace) -> int:
    from rosterlab.checks import CheckSettings, FindingFilter, run_checks
    from rosterlab.checks.details import details_of, expanded
    from rosterlab.report import checks as render
    from rosterlab.report.findings_csv import findings_csv, received_names
    from rosterlab.store.district_settings import settings_for_district

    wanted = FindingFilter.of(
        codes=_listed(args.code),
        severities=_listed(args.severity),
        entities=_listed(args.entity),
        causes=_listed(args.cause),
    )
    settings = settings_of(args)
    # A reader: the findings ingest cached, else computed and not kept. --recheck keeps them.
    with open_store(settings, read_only=not args.recheck) as store:
        snapshot = store.resolve(args.snapshot, args.district)
        result = run_checks(
            store,
            snapshot.id,
            settings=CheckSettings.of(settings_for_district(store, settings, snapshot.district)),
            refresh=args.recheck,
        )
        received = received_names(store, snapshot.id)
        breaks = store.line_breaks(snapshot.id)
        shown = wanted.apply(result)
        # The rows behind aggregated findings, read while the store is open: CSV always,
        # JSON and text with --details.
        rows: dict[int, list[Finding]] | None = None
        every_row: list[Finding] = []
        if args.format == "json":
            rows = details_of(store, shown, shown.findings) if args.details else None
        elif args.format == "csv" or args.details:
            every_row = expanded(store, shown, shown.findings)
    if args.format == "json":
        output.emit_json(render.check_dict(shown, rows, breaks))
    elif args.format == "csv":
        output.emit_csv(findings_csv(every_row, received, breaks))
    else:
        output.emit(
            render.check_text(
                shown,
                filtered=wanted.describe(),
                received=received,
                breaks=breaks,
                details=every_row if args.details else None,
            )
        )
    return EXIT_FINDINGS if fails(shown.severity_counts(), args.fail_on) else EXIT_OK


def cmd_fields(args: argparse.Namespace) -> int:
    from rosterlab.checks import CheckSettings, field_matrix
    from rosterlab.report import checks as render
    from rosterlab.store.district_settings import settings_for_district

    settings = settings_of(args)
    with open_store(settings, read_only=True) as store:  # profiles are kept at ingest
        if not store.snapshots(args.district):
            raise store.no_snapshots(args.district)
        matrix = field_matrix(
            store,
            args.district,
            CheckSettings.of(settings_for_district(store, settings, args.district)),
        )
    if args.format == "json":
        output.emit_json(render.fields_dict(matrix))
    else:
        output.emit(render.fields_text(matrix))
    return EXIT_OK


def cmd_ledger_add(args: argparse.Namespace) -> int:
    from rosterlab.checks import add_override
    from rosterlab.report import checks as render

    with open_store(settings_of(args)) as store:
        item = add_override(
            store,
            args.district,
            entity=args.entity,
            key=args.key,
            field=args.field,
            value=args.value,
            reason=args.reason,
        )
    if args.format == "json":
        output.emit_json(render.override_dict(item))
    else:
        output.emit(
            f"override {item.id} kept: {item.entity} {item.key} {item.field} = {item.value!r}"
        )
    return EXIT_OK


def cmd_ledger_list(args: argparse.Namespace) -> int:
    from rosterlab.checks import overrides
    from rosterlab.report import checks as render

    with open_store(settings_of(args), read_only=True) as store:
        items = overrides(store, args.district)
    if args.format == "json":
        output.emit_json([render.override_dict(item) for item in items])
    else:
        output.emit(render.overrides_text(args.district, items))
    return EXIT_OK


def cmd_ledger_remove(args: argparse.Namespace) -> int:
    from rosterlab.checks import remove_override

    with open_store(settings_of(args)) as store:
        item = remove_override(store, args.district, args.id)
    output.emit(f"override {item.id} retired: {item.entity} {item.key} {item.field}")
    return EXIT_OK


CHECK_CONTRACT = """\
Findings count records. A record repeated over rows (a student over its contact rows) is one
finding; a value problem repeated over a column (every Race says Caucasian) is ONE aggregated
finding: key null, row its first row, count = its records, rows = their rows in the file,
sample_keys = the first five records' keys in file order. Row-skipping problems (missing-value)
and cross-file ones stay one finding per record. Summary counts (error/warning/info, by_code)
count findings; summary.records counts records per code.

JSON: {snapshot, district, seq, summary {error, warning, info, by_code, records}, findings
[{code, severity, entity, key, field, value, row, line, message, hint, cause, count, rows,
sample_keys}], groups}; row is the data row (the header is row 0), line where an editor shows
it (the header is line 1; a quoted value spanning lines moves the rows after it), both null for
a finding not on a row; with --details each aggregated finding also has details: its rows, as
row-level findings (count 1). CSV: one line per row (aggregated findings expanded), columns
file, line, entity, key, field, value, code, severity, message, hint, cause, count."""


def register(sub: Any) -> None:
    check = add_command(
        sub,
        "check",
        "Every finding of a snapshot, grouped by root cause (cached per snapshot).",
        "rosterlab check --district maple --format json --fail-on error\n"
        "  rosterlab check --district maple --snapshot 2026-09-05 --severity error,warning "
        "--format csv > findings.csv\n"
        "  rosterlab check --district maple --code enrollment-unknown-section --cause "
        "sections/SEC-9",
    )
    check.description = f"{check.description}\n\n{CHECK_CONTRACT}"
    add_district(check)
    check.add_argument(
        "--snapshot", default="latest", metavar="SNAP", help=SNAP_HELP + " (default: latest)"
    )
    check.add_argument(
        "--fail-on",
        choices=spec.SEVERITIES,
        help="exit 1 when findings at or above this severity exist",
    )
    check.add_argument(
        "--details",
        action="store_true",
        help="list the rows behind each aggregated finding (a value repeated over a column); "
        "--format csv always writes one line per row",
    )
    check.add_argument(
        "--recheck",
        action="store_true",
        help="recompute and keep the findings (opens the store for writing)",
    )
    for flag, what in (
        ("--code", "finding code(s), e.g. missing-file"),
        ("--severity", "severities: error, warning, info"),
        ("--entity", "entities, e.g. students"),
        ("--cause", "root causes, e.g. sections/SEC-9"),
    ):
        check.add_argument(
            flag,
            action="append",
            metavar="X[,Y]",
            help=f"only these {what} (repeat or comma-separate)",
        )
    add_format(check, "csv")
    check.set_defaults(handler=cmd_check)

    fields = add_command(
        sub,
        "fields",
        "The field × night matrix: which columns a district sends, stopped or started sending.",
        "rosterlab fields --district maple --format json",
    )
    add_district(fields)
    add_format(fields)
    fields.set_defaults(handler=cmd_fields)

    ledger = add_command(
        sub,
        "ledger",
        "The customization ledger: field values a district keeps on purpose.",
        "rosterlab ledger add --district maple --entity students --key S-100017 "
        '--field First_name --value Bo --reason "preferred name"',
    )
    actions = ledger.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = add_command(
        actions,
        "add",
        "Keep a value on purpose (an upload with another value is flagged override-reverted).",
        "rosterlab ledger add --district maple --entity students --key S-100017 "
        '--field First_name --value Bo --reason "preferred name"',
    )
    add_district(add)
    add.add_argument("--entity", required=True, choices=list(spec.ENTITIES))
    add.add_argument("--key", required=True, help="the record key (composite keys joined by /)")
    add.add_argument("--field", required=True, help="a spec column or an ext.* field")
    add.add_argument("--value", required=True, help="the value kept ('' = kept blank)")
    add.add_argument("--reason", required=True)
    add_format(add)
    add.set_defaults(handler=cmd_ledger_add)
    listing = add_command(
        actions, "list", "The district's overrides.", "rosterlab ledger list --district maple"
    )
    add_district(listing)
    add_format(listing)
    listing.set_defaults(handler=cmd_ledger_list)
    remove = add_command(
        actions, "remove", "Retire an override by id.", "rosterlab ledger remove 3 --district maple"
    )
    remove.add_argument("id", type=int, metavar="ID")
    add_district(remove)
    remove.set_defaults(handler=cmd_ledger_remove)
