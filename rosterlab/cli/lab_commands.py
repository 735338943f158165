"""The workbench commands: ``lab`` (JupyterLab on the notebooks) and ``report`` (HTML report)."""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rosterlab
from rosterlab.cli import output
from rosterlab.cli.common import SNAP_HELP, add_command, add_district, settings_of
from rosterlab.errors import EXIT_OK, LabError, SnapshotNotFoundError
from rosterlab.report.destination import report_destination

STORE_ENV = "ROSTERLAB_STORE"
CONFIG_ENV = "ROSTERLAB_CONFIG"
TOKEN_ENV = "JUPYTER_TOKEN"


def _wants_browser(flag: bool | None) -> bool:
    """Open a browser only when asked, or when this looks like a desktop (not a server)."""
    if flag is not None:
        return flag
    desktop = sys.platform in ("darwin", "win32")
    return desktop or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def lab_command(folder: Path, *, ip: str, port: int, browser: bool, extra: list[str]) -> list[str]:
    """The JupyterLab command line (the token travels in the environment, not in ``ps``).

    As root (a container, CI) JupyterLab refuses to start unless told that it is intended.
    """
    root = ["--ServerApp.allow_root=True"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    return [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={folder}",
        f"--ServerApp.ip={ip}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.open_browser={browser}",
        *root,
        *extra,
    ]


def cmd_lab(args: argparse.Namespace) -> int:
    # Imported here: the notebook machinery (nbformat, nbconvert) costs seconds of CLI start-up
    # that every other command would pay.
    from rosterlab.report.html_report import notebooks_dir

    settings = settings_of(args)
    folder = Path(args.notebooks).resolve() if args.notebooks else notebooks_dir()
    if not folder.is_dir():
        raise LabError(f"--notebooks {folder} is not a folder: give the notebooks folder")
    env = dict(os.environ)
    store = settings.store.resolve()
    if store.is_file():
        env[STORE_ENV] = str(store)
        where = f"store {store}"
    else:
        env.pop(STORE_ENV, None)
        where = f"no store at {store} yet: the notebooks use the sample districts (data/samples)"
    if settings.config_path is not None:
        env[CONFIG_ENV] = str(settings.config_path.resolve())
    token = env.get(TOKEN_ENV) or secrets.token_hex(24)
    env[TOKEN_ENV] = token
    extra = list(args.jupyter_args or [])
    if extra[:1] == ["--"]:
        extra = extra[1:]
    command = lab_command(
        folder, ip=args.ip, port=args.port, browser=_wants_browser(args.browser), extra=extra
    )
    output.emit(
        f"JupyterLab on {folder}\n  {where}\n"
        f"  open http://{args.ip}:{args.port}/lab?token={token}\n  stop with Ctrl-C"
    )
    server = subprocess.Popen(command, env=env)
    try:
        code = server.wait()
    except BaseException:  # Ctrl-C, SIGTERM or SIGHUP (cli/interrupts.py): stop the server too
        _stop_server(server)
        raise
    if code not in (0, -2, 130):
        raise LabError(
            f"JupyterLab exited with code {code} (see its messages above): "
            "if the port is in use, pass another --port"
        )
    return EXIT_OK


SERVER_STOP_SECONDS = 15  # JupyterLab's own shutdown (kernels first) before it is killed


def _stop_server(server: subprocess.Popen[bytes]) -> None:
    """Ask JupyterLab to shut down (SIGTERM: it stops its kernels and frees its port); kill it
    if it has not within SERVER_STOP_SECONDS."""
    if server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(timeout=SERVER_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def cmd_report(args: argparse.Namespace) -> int:
    report_destination(Path(args.out))  # before the notebook's imports and run: seconds
    from rosterlab.diff.snapshots import LIVE
    from rosterlab.report.html_report import (
        REPORT_NOTEBOOK,
        execute_notebook,
        notebook_html,
        notebooks_dir,
        write_report,
    )
    from rosterlab.store import Store
    from rosterlab.store.outcomes import live_before

    settings = settings_of(args)
    path = settings.store.resolve()
    with Store.open(path, read_only=True) as store:
        new = store.resolve(args.to_ref, args.district)
        live = live_before(store, new) if args.from_ref == LIVE else None
        # live, as diff's default; a district's first pull has none: the upload before it
        from_ref = "previous" if args.from_ref == LIVE else args.from_ref
        old = live or store.resolve_from(from_ref, new)  # previous: the night before --to
    if old.seq > new.seq:
        raise SnapshotNotFoundError(
            f"--from night {old.seq} comes after --to night {new.seq}: swap them"
        )
    progress = output.Progress(output.progress_wanted(None))
    progress(f"running {REPORT_NOTEBOOK} for {args.district}, snapshots {old.id} → {new.id}")
    nb = execute_notebook(
        notebooks_dir() / REPORT_NOTEBOOK,
        {
            "district": args.district,
            "nights": (old.id, new.id),
            "store": str(path),
            "redact": args.redact,
        },
    )
    page = notebook_html(
        nb,
        title=f"rosterlab report — {args.district}",
        footer=(
            f"Generated by rosterlab {rosterlab.__version__} on "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
            + (" · personal data masked" if args.redact else "")
        ),
    )
    written = write_report(page, Path(args.out))
    output.emit(f"report written to {written}")
    return EXIT_OK


def register(sub: Any) -> None:
    lab = add_command(
        sub,
        "lab",
        "Start JupyterLab on the workbench notebooks, with this store configured.",
        "rosterlab --store rosterlab.duckdb lab --port 8888",
    )
    lab.add_argument("--port", type=int, default=8888, help="port to listen on (default 8888)")
    lab.add_argument("--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    lab.add_argument(
        "--browser",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="open a browser (default: only on a desktop; --no-browser on a server)",
    )
    lab.add_argument("--notebooks", help="notebooks folder (default: notebooks/ of this checkout)")
    lab.add_argument(
        "jupyter_args",
        nargs=argparse.REMAINDER,
        metavar="-- JUPYTER_ARGS",
        help="anything after -- is passed to jupyter lab",
    )
    lab.set_defaults(handler=cmd_lab)

    report = add_command(
        sub,
        "report",
        "Write a self-contained HTML report of a district (charts, changes, findings).",
        "rosterlab report --district maple --out maple-report.html --redact",
    )
    add_district(report)
    report.add_argument(
        "--from",
        dest="from_ref",
        default="live",
        metavar="SNAP",
        help=SNAP_HELP + " (here previous is the night before --to), or live: the state Clever "
        "served when --to arrived, as diff compares (its last processed upload; for a "
        "district's first Data API pull, the upload before it; default: live)",
    )
    report.add_argument(
        "--to",
        dest="to_ref",
        default="latest",
        metavar="SNAP",
        help=SNAP_HELP + " (default: latest)",
    )
    report.add_argument("--out", required=True, metavar="FILE.html")
    report.add_argument(
        "--redact", action="store_true", help="mask personal data (spec fields flagged PII)"
    )
    report.set_defaults(handler=cmd_report)
