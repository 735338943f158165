"""The history commands: diff (what changed between two snapshots) and timeline (one record).

Both open the store read-only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rosterlab import spec
from rosterlab.cli import output
from rosterlab.cli.common import SNAP_HELP, add_command, add_format, open_store, settings_of
from rosterlab.errors import ConfigError


def cmd_diff(args: argparse.Namespace) -> int:
    from rosterlab.diff import HoldThresholds, diff_snapshots
    from rosterlab.report import diff as render

    settings = settings_of(args)
    thresholds = HoldThresholds.of(settings.district(args.district))
    with open_store(settings, read_only=True) as store:
        result = diff_snapshots(
            store,
            args.district,
            args.frm,
            args.to,
            thresholds=thresholds,
            details=args.details,
        )
    options = {"details": args.details, "redact": args.redact}
    if args.format == "json":
        text = json.dumps(render.diff_dict(result, **options), indent=2, ensure_ascii=False)
    elif args.format == "html":
        text = render.diff_html(result, **options)
    else:
        text = render.diff_text(result, **options)
    if args.out is None:
        output.emit(text)
        return 0
    target = Path(args.out)
    try:
        target.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {target} ({exc.strerror}): give another --out") from exc
    output.emit(
        f"diff of snapshots {result.from_snapshot.id} → {result.to_snapshot.id} written to {target}"
    )
    return 0


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
    return 0


def register(sub: Any) -> None:
    diff = add_command(
        sub,
        "diff",
        "What changed between two snapshots of a district, and will Clever hold it.",
        "rosterlab diff --district maple --details --format json",
    )
    diff.add_argument("--district", required=True, help="district id")
    diff.add_argument(
        "--from",
        dest="frm",
        default="previous",
        metavar="SNAP",
        help=SNAP_HELP + " (default: previous)",
    )
    diff.add_argument(
        "--to",
        default="latest",
        metavar="SNAP",
        help=SNAP_HELP + " (default: latest)",
    )
    diff.add_argument("--details", action="store_true", help="list every row-level change")
    diff.add_argument(
        "--redact", action="store_true", help="mask PII values (and PII-built contact keys)"
    )
    diff.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    add_format(diff, "html")
    diff.set_defaults(handler=cmd_diff)

    timeline = add_command(
        sub,
        "timeline",
        "Every change of one record across the district's snapshots.",
        "rosterlab timeline --district maple --entity students --key S-100017",
    )
    timeline.add_argument("--district", required=True, help="district id")
    timeline.add_argument("--entity", required=True, choices=tuple(spec.ENTITIES))
    timeline.add_argument(
        "--key", required=True, help="the record's key; composite keys joined with '/'"
    )
    add_format(timeline)
    timeline.set_defaults(handler=cmd_timeline)
