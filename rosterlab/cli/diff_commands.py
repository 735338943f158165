"""The history commands: diff (what changed between two snapshots) and timeline (one record).

Both open the store read-only.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

from rosterlab import spec
from rosterlab.cli import output
from rosterlab.cli.common import (
    SNAP_HELP,
    add_command,
    add_district,
    add_format,
    open_store,
    settings_of,
)
from rosterlab.errors import EXIT_OK, ConfigError

CHANGE_KINDS = ("added", "removed", "changed")


def _listed(values: list[str] | None, known: Collection[str], what: str) -> list[str]:
    """``--entity a,b --entity c`` → ``[a, b, c]``, each one of ``known``."""
    chosen = [part.strip() for value in values or () for part in value.split(",") if part.strip()]
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise ConfigError(f"unknown {what} {', '.join(unknown)}: use one of {', '.join(known)}")
    return chosen


def cmd_diff(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from rosterlab.diff import HoldThresholds, diff_snapshots
    from rosterlab.report import diff as render
    from rosterlab.report.change_set import change_set_csv
    from rosterlab.store.district_settings import settings_for_district

    entities = _listed(args.entity, spec.ENTITIES, "entity")
    kinds = _listed(args.change, CHANGE_KINDS, "change")
    details = args.details or args.format == "csv" or bool(entities or kinds)
    settings = settings_of(args)
    with open_store(settings, read_only=True) as store:
        thresholds = HoldThresholds.of(settings_for_district(store, settings, args.district))
        result = diff_snapshots(
            store,
            args.district,
            args.frm,
            args.to,
            thresholds=thresholds,
            details=details,
        )
    if result.changes is not None and (entities or kinds):
        import polars as pl

        result = replace(
            result,
            changes=result.changes.filter(
                (pl.col("entity").is_in(entities) if entities else pl.lit(True))
                & (pl.col("change").is_in(kinds) if kinds else pl.lit(True))
            ),
        )
    options = {"details": details, "redact": args.redact}
    if args.format == "csv":
        assert result.changes is not None
        text = change_set_csv(result.changes.to_dicts(), redact=args.redact)
        if args.out is None:
            output.emit_csv(text)
            return EXIT_OK
    elif args.format == "json":
        text = json.dumps(render.diff_dict(result, **options), indent=2, ensure_ascii=False)
    elif args.format == "html":
        text = render.diff_html(result, **options)
    else:
        text = render.diff_text(result, **options)
    if args.out is None:
        output.emit(text)
        return EXIT_OK
    target = Path(args.out)
    try:
        if args.format == "csv":
            target.write_text(text, encoding="utf-8", newline="")
        else:
            target.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {target} ({exc.strerror}): give another --out") from exc
    output.emit(
        f"diff of snapshots {result.from_snapshot.id} → {result.to_snapshot.id} written to {target}"
    )
    return EXIT_OK


def cmd_timeline(args: argparse.Namespace) -> int:
    from rosterlab.diff import record_timeline
    from rosterlab.report import diff as render

    settings = settings_of(args)
    with open_store(settings, read_only=True) as store:
        timeline = record_timeline(store, args.district, args.entity, args.key)
    if args.format == "json":
        output.emit_json(render.timeline_dict(timeline))
    else:
        output.emit(render.timeline_text(timeline))
    return EXIT_OK


def register(sub: Any) -> None:
    diff = add_command(
        sub,
        "diff",
        "What changed between two snapshots of a district, and will Clever hold it.",
        "rosterlab diff --district maple --details --format json\n"
        "  rosterlab diff --district maple --entity students --change removed --format csv "
        "--out removed.csv",
    )
    add_district(diff)
    diff.add_argument(
        "--from",
        dest="frm",
        default="live",
        metavar="SNAP",
        help=SNAP_HELP + " (here previous is the night before --to), or live: the state Clever "
        "served when --to arrived (its last processed upload; default: live)",
    )
    diff.add_argument(
        "--to",
        default="latest",
        metavar="SNAP",
        help=SNAP_HELP + " (default: latest)",
    )
    diff.add_argument("--details", action="store_true", help="list every row-level change")
    diff.add_argument(
        "--entity",
        action="append",
        metavar="E[,F]",
        help="only the changes of these entities (implies --details)",
    )
    diff.add_argument(
        "--change",
        action="append",
        metavar="KIND[,KIND]",
        help="only these changes: added, removed, changed (implies --details)",
    )
    diff.add_argument(
        "--redact", action="store_true", help="mask PII values (and PII-built contact keys)"
    )
    diff.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    add_format(diff, "html", "csv")
    diff.set_defaults(handler=cmd_diff)

    timeline = add_command(
        sub,
        "timeline",
        "Every change of one record across the district's snapshots.",
        "rosterlab timeline --district maple --entity students --key S-100017\n"
        "  rosterlab timeline --district maple --entity teachers --key T-1008   # T-1008/SCH-002",
    )
    add_district(timeline)
    timeline.add_argument("--entity", required=True, choices=tuple(spec.ENTITIES))
    timeline.add_argument(
        "--key",
        required=True,
        help="the record's key; composite keys joined with '/' (a part is enough when it names "
        "one record: --key T-1008 for T-1008/SCH-002)",
    )
    add_format(timeline)
    timeline.set_defaults(handler=cmd_timeline)
