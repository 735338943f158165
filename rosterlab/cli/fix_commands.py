"""The repair and delivery commands: fix (corrected bundle), push and pull (SFTP).

Every real push — pushed or failed — is recorded in the store's push log; a dry run touches
nothing (no connection, no store). A bundle with error findings is refused unless ``--force``.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rosterlab.cli import output
from rosterlab.cli.common import (
    SNAP_HELP,
    add_command,
    add_district,
    add_format,
    open_store,
    settings_of,
)
from rosterlab.errors import EXIT_FINDINGS, EXIT_OK, PushRefusedError, RosterlabError

if TYPE_CHECKING:
    from rosterlab.fix import Verdict
    from rosterlab.store.pushes import PushRecord
    from rosterlab.transport import PushResult
    from rosterlab.transport.common import TransferProgress

LARGE_FILE = 1 << 20  # transfers at least this big report progress, every 10 %


def transfer_progress(progress: Callable[[str], None], verb: str) -> TransferProgress:
    """Progress lines for large files only, one per 10 % step."""
    steps: dict[str, int] = {}

    def report(name: str, done: int, total: int) -> None:
        if total < LARGE_FILE:
            return
        step = done * 10 // total
        if steps.get(name) != step:
            steps[name] = step
            progress(f"{verb} {name}: {done:,} of {total:,} bytes ({step * 10}%)")

    return report


def _progress(args: argparse.Namespace) -> output.Progress:
    return output.Progress(output.progress_wanted(args.progress))


def cmd_fix(args: argparse.Namespace) -> int:
    from rosterlab.fix import fix_snapshot, load_rules
    from rosterlab.report import fix as render
    from rosterlab.store.district_settings import settings_for_district

    settings = settings_of(args)
    rules = load_rules(args.rules, district=args.district)
    with open_store(settings) as store:
        snapshot = store.resolve(args.snapshot, args.district)
        result = fix_snapshot(
            store,
            snapshot.id,
            rules,
            args.out,
            settings=settings_for_district(store, settings, snapshot.district),
            progress=_progress(args),
            force=args.force,
        )
    if args.format == "json":
        output.emit_json(render.fix_dict(result))
    else:
        output.emit(render.fix_text(result))
    if result.ok:
        return EXIT_OK
    output.error(
        f"the corrected bundle in {result.out_dir} still has {len(result.remaining)} error "
        "finding(s) (listed above): add rules for them and run fix again"
    )
    return EXIT_FINDINGS


def _refuse(folder: Path, verdict: Verdict) -> PushRefusedError:
    codes = ", ".join(f"{code} ×{n}" for code, n in verdict.errors.items())
    return PushRefusedError(
        f"{folder} has {verdict.error_count} error finding(s) ({codes}), so Clever would not "
        "process the upload, or skip or mislink records: correct it with rosterlab fix, or "
        "re-run push with --force"
    )


def cmd_push(args: argparse.Namespace) -> int:
    from rosterlab.fix import bundle_verdict
    from rosterlab.fix.delivery import log_push
    from rosterlab.transport import check_credentials, load_target, plan_push, push_bundle

    settings = settings_of(args)
    target = load_target(settings, args.target)
    folder = Path(args.dir)
    verdict = bundle_verdict(folder, district=args.district)
    if args.dry_run:
        result = push_bundle(target, folder, dry_run=True)
        _emit_push(args, result, verdict, None, check_credentials(target))
        if verdict.error_count and not args.force:
            raise _refuse(folder, verdict)
        return EXIT_OK
    if verdict.error_count and not args.force:
        raise _refuse(folder, verdict)
    plan = plan_push(target, folder)
    progress = transfer_progress(_progress(args), "uploading")
    with open_store(settings) as store:  # opened first: a push is never left unrecorded
        started = datetime.now(UTC)
        try:
            result = push_bundle(target, folder, progress=progress)
        except BaseException as exc:
            error = exc.message if isinstance(exc, RosterlabError) else _failure(exc)
            log_push(store, plan, verdict, forced=args.force, started=started, error=error)
            raise
        record = log_push(store, plan, verdict, forced=args.force, started=started, result=result)
    _emit_push(args, result, verdict, record)
    return EXIT_OK


def _failure(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return f"{type(exc).__name__}: {exc}"


def _emit_push(
    args: argparse.Namespace,
    result: PushResult,
    verdict: Verdict,
    record: PushRecord | None,
    credentials: tuple[str, ...] = (),
) -> None:
    from rosterlab.report import fix as render

    if args.format == "json":
        output.emit_json(render.push_dict(result, verdict, record, credentials))
    else:
        output.emit(render.push_text(result, verdict, record, credentials))


def cmd_pull(args: argparse.Namespace) -> int:
    from rosterlab.bundle import open_bundle
    from rosterlab.checks import ingest_and_check
    from rosterlab.report import fix as render
    from rosterlab.report.snapshots import ingest_dict, ingest_text
    from rosterlab.store.district_settings import settings_for_ingest
    from rosterlab.transport import load_target, pull_bundle

    settings = settings_of(args)
    target = load_target(settings, args.target)
    progress = _progress(args)
    with tempfile.TemporaryDirectory(prefix="rosterlab-pull-") as tmp:
        folder = Path(tmp) / "pulled"
        pulled = pull_bundle(
            target,
            folder,
            progress=transfer_progress(progress, "downloading"),
            limits=settings.limits,
        )
        with open_store(settings) as store, open_bundle(folder, limits=settings.limits) as bundle:
            known = settings_for_ingest(store, settings, args.district)
            night = ingest_and_check(
                store,
                bundle,
                district=args.district,
                known=known,
                taken_at=max((f.mtime for f in pulled.files), default=None),
                dated_by="remote-mtime",
                origin="pulled",
                source=f"sftp://{target.username}@{target.address}{target.remote_dir}",
                progress=progress,
                allow_future=args.allow_future,
            )
    if args.format == "json":
        output.emit_json(render.pull_dict(pulled, ingest_dict(night.result, night.outcome)))
    else:
        output.emit(
            render.pull_text(pulled) + "\n" + ingest_text(night.result, night.rows, night.outcome)
        )
    return EXIT_OK


def _progress_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress on stderr (default: when stderr is a terminal)",
    )


def register(sub: Any) -> None:
    fix = add_command(
        sub,
        "fix",
        "Apply a district's corrections rules to a snapshot and write a corrected bundle.",
        "rosterlab fix --district maple --rules maple.rules.toml --out out/maple-fixed\n"
        "  rosterlab fix --district maple --snapshot 2026-09-03 --rules maple.rules.toml "
        "--out out/maple-night3",
    )
    add_district(fix)
    fix.add_argument("--snapshot", default="latest", help=SNAP_HELP + " (default: latest)")
    fix.add_argument("--rules", required=True, metavar="FILE", help="corrections rules (TOML)")
    fix.add_argument("--out", required=True, metavar="DIR", help="new or empty folder")
    fix.add_argument(
        "--force",
        action="store_true",
        help="apply map/set rules even where they change a value that is valid tonight (no "
        'finding on it); without it such a fix is refused: give the rule when = "<code>"',
    )
    _progress_flag(fix)
    add_format(fix)
    fix.set_defaults(handler=cmd_fix)

    push = add_command(
        sub,
        "push",
        "Upload a bundle folder to an SFTP target (*.part, verified, then renamed in one burst).",
        "rosterlab push out/maple-fixed --target clever-maple --dry-run",
    )
    push.add_argument("dir", metavar="DIR", help="bundle folder (e.g. the output of fix)")
    push.add_argument("--target", required=True, help="a [targets.NAME] of rosterlab.toml")
    push.add_argument("--dry-run", action="store_true", help="print the plan; touch nothing")
    push.add_argument(
        "--force", action="store_true", help="push even though the bundle has error findings"
    )
    add_district(
        push,
        required=False,
        help_text="district the bundle belongs to (default: from its manifest.json)",
    )
    _progress_flag(push)
    add_format(push)
    push.set_defaults(handler=cmd_push)

    pull = add_command(
        sub,
        "pull",
        "Download a target's current files and ingest them as a snapshot (origin pulled).",
        "rosterlab pull --target maple-drop --district maple",
    )
    pull.add_argument("--target", required=True, help="a [targets.NAME] of rosterlab.toml")
    add_district(pull)
    pull.add_argument(
        "--allow-future",
        action="store_true",
        help="accept remote file times more than a day ahead of now (a wrong clock otherwise)",
    )
    _progress_flag(pull)
    add_format(pull)
    pull.set_defaults(handler=cmd_pull)
