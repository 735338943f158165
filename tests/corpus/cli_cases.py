"""Hostile settings and output places for the CLI, each with its exact one line and exit code.

Every case runs ``python -m rosterlab`` as a real process against a copy of a store holding the
tiny district's night as snapshot 1 (district ``maple``), in a temporary folder ``{folder}``.
A case that needs a read-only folder or a full temporary folder gets the real thing: a read-only
bind mount or a small tmpfs, in a private mount namespace (``unshare -m``; skipped where that is
not allowed). ``line`` is what follows ``rosterlab: `` on stderr, the only line there; stdout
stays empty.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.tiny import tiny_night, write_night

DISTRICT = "maple"
RULES = """district = "maple"

[[rules]]
op = "map"
entity = "students"
field = "Grade"
values = { K = "Kindergarten" }
reason = "Clever's grade vocabulary spells it Kindergarten"
"""
# The temporary folder of the full-temp case: 8 KiB of tmpfs takes Python's probe file and one
# or two of the night's files (a page each), never all five.
# One 4 KiB page left: Python's tempfile checks that TMPDIR takes a file (else it silently uses
# /tmp); re-staging then unpacks the next file while the one before is still there, and fails.
FULL_TMP = (
    "mount -t tmpfs -o size=8k rosterlab-full-tmp {folder}/tmp && "
    "head -c 4096 /dev/zero > {folder}/tmp/filler"
)
READ_ONLY = "mount --bind -o ro {folder}/ro {folder}/ro"


@dataclass(frozen=True)
class Invocation:
    """The CLI arguments (after ``--store STORE``), and what the process runs in."""

    argv: tuple[str, ...]
    mounts: str = ""  # shell commands run first in a private mount namespace
    env: dict[str, str] = field(default_factory=dict)
    cwd: str = ""  # relative to the case folder; "" = the case folder


@dataclass(frozen=True)
class CliCase:
    name: str
    incident: str
    build: Callable[[Path], Invocation]
    line: str  # after "rosterlab: "; {folder} is the case folder
    code: int = 2


def config(text: bytes, *argv: str) -> Callable[[Path], Invocation]:
    """rosterlab.toml with ``text``, passed with --config."""

    def build(folder: Path) -> Invocation:
        (folder / "rosterlab.toml").write_bytes(text)
        return Invocation(("--config", str(folder / "rosterlab.toml"), *(argv or ("snapshots",))))

    return build


def config_folder(folder: Path) -> Invocation:
    (folder / "settings.toml").mkdir()
    return Invocation(("--config", str(folder / "settings.toml"), "snapshots"))


def default_config_folder(folder: Path) -> Invocation:
    (folder / "work" / "rosterlab.toml").mkdir(parents=True)
    return Invocation(("snapshots",), cwd="work")


def district_toml_cp1252(folder: Path) -> Invocation:
    history = folder / "history" / DISTRICT
    write_night(history / "2026-09-02", tiny_night())
    (history / "district.toml").write_bytes('name = "Érable Unified"\n'.encode("cp1252"))
    return Invocation(("ingest", str(history)))


def read_only(*argv: str) -> Callable[[Path], Invocation]:
    def build(folder: Path) -> Invocation:
        (folder / "ro").mkdir()
        argv_filled = tuple(a.format(folder=folder) for a in argv)
        return Invocation(argv_filled, mounts=READ_ONLY.format(folder=folder))

    return build


def plain(*argv: str) -> Callable[[Path], Invocation]:
    """``argv`` with ``{folder}`` filled; ``file`` (a plain file) and ``pipe`` (a FIFO) exist."""

    def build(folder: Path) -> Invocation:
        (folder / "file").write_text("not a folder\n")
        os.mkfifo(folder / "pipe")
        (folder / "maple.rules.toml").write_text(RULES)
        return Invocation(tuple(a.format(folder=folder) for a in argv))

    return build


def full_tmp(folder: Path) -> Invocation:
    (folder / "tmp").mkdir()
    return Invocation(
        ("check", "--district", DISTRICT, "--recheck"),
        mounts=FULL_TMP.format(folder=folder),
        env={"TMPDIR": str(folder / "tmp")},
    )


FIX = ("fix", "--district", DISTRICT, "--rules", "{folder}/maple.rules.toml", "--out")
FIX_RO = ("fix", "--district", DISTRICT, "--rules", "{folder}/ro.rules.toml", "--out")
REPORT = ("report", "--district", DISTRICT, "--from", "1", "--to", "1", "--out")
EXPORT = ("export", "1")


def fix_read_only(folder: Path) -> Invocation:
    (folder / "ro.rules.toml").write_text(RULES)
    return read_only(*FIX_RO, "{folder}/ro/fixed")(folder)


def taken_at(when: str) -> Callable[[Path], Invocation]:
    def build(folder: Path) -> Invocation:
        night = write_night(folder / "night", tiny_night())
        return Invocation(("ingest", str(night), "--district", "far", "--taken-at", when))

    return build


NOT_UTF8 = b'store = "store.duckdb"\n\n[districts.maple]\nname = "\xc9rable Unified"\n'
CLI_CASES: tuple[CliCase, ...] = (
    CliCase(
        "config-store-a-number",
        "rosterlab.toml says store = 5",
        config(b"store = 5\n"),
        '{folder}/rosterlab.toml: store 5 must be a file path in quotes, e.g. store = "rosterlab'
        '.duckdb"',
    ),
    CliCase(
        "config-districts-a-string",
        'rosterlab.toml says districts = "x"',
        config(b'districts = "x"\n'),
        "{folder}/rosterlab.toml: districts must be a table of [districts.NAME] sections, not str",
    ),
    CliCase(
        "config-targets-a-string",
        'rosterlab.toml says targets = "x" (push reads it)',
        config(b'targets = "x"\n', "push", ".", "--target", "x", "--dry-run"),
        "{folder}/rosterlab.toml: targets must be a table of [targets.NAME] sections, not str",
    ),
    CliCase(
        "config-district-name-a-number",
        "[districts.maple] name = 5",
        config(b"[districts.maple]\nname = 5\n"),
        '{folder}/rosterlab.toml [districts.maple]: name 5 must be text, e.g. name = "Maple USD"',
    ),
    CliCase(
        "config-windows-1252",
        "rosterlab.toml saved by Notepad as Windows-1252 (É as byte 0xc9)",
        config(NOT_UTF8),
        "{folder}/rosterlab.toml is not UTF-8 (byte 0xc9 on line 4, in [districts.maple] name): "
        "save it as UTF-8",
    ),
    CliCase(
        "config-a-folder",
        "--config names a folder",
        config_folder,
        "{folder}/settings.toml is a folder, not a TOML file: give the file's path",
    ),
    CliCase(
        "default-config-a-folder",
        "./rosterlab.toml is a folder",
        default_config_folder,
        "rosterlab.toml is a folder, not a TOML file: give the file's path",
    ),
    CliCase(
        "district-toml-windows-1252",
        "a history folder's district.toml in Windows-1252",
        district_toml_cp1252,
        "{folder}/history/maple/district.toml is not UTF-8 (byte 0xc9 on line 1, in name): "
        "save it as UTF-8",
    ),
    CliCase(
        "export-read-only-folder",
        "export into a new folder on a read-only mount",
        read_only(*EXPORT, "{folder}/ro/out"),
        "cannot write {folder}/ro/out (Read-only file system): choose another folder",
    ),
    CliCase(
        "export-into-read-only-folder",
        "export into an empty folder that is a read-only mount",
        read_only(*EXPORT, "{folder}/ro"),
        "cannot write {folder}/ro/enrollments.csv (Read-only file system): choose another "
        "folder; nothing was exported",
    ),
    CliCase(
        "export-under-proc",
        "export into /proc",
        plain(*EXPORT, "/proc/rosterlab-export"),
        "cannot write /proc/rosterlab-export (No such file or directory): choose another folder",
    ),
    CliCase(
        "export-to-a-pipe",
        "export to a named pipe",
        plain(*EXPORT, "{folder}/pipe"),
        "{folder}/pipe exists and is not an empty folder: choose a new folder",
    ),
    CliCase(
        "export-under-a-file",
        "export to file/sub, where file is a file",
        plain(*EXPORT, "{folder}/file/sub"),
        "{folder}/file is a file, not a folder: choose another folder",
    ),
    CliCase(
        "fix-read-only-folder",
        "fix --out a new folder on a read-only mount",
        fix_read_only,
        "cannot write {folder}/ro/fixed (Read-only file system): choose another --out folder",
    ),
    CliCase(
        "fix-under-proc",
        "fix --out under /proc",
        plain(*FIX, "/proc/rosterlab-fixed"),
        "cannot write /proc/rosterlab-fixed (No such file or directory): choose another --out "
        "folder",
    ),
    CliCase(
        "fix-to-a-pipe",
        "fix --out a named pipe",
        plain(*FIX, "{folder}/pipe"),
        "{folder}/pipe exists and is not an empty folder: choose a new --out folder",
    ),
    CliCase(
        "fix-out-under-a-file",
        "fix --out file/sub, where file is a file (was: 'file does not exist')",
        plain(*FIX, "{folder}/file/sub"),
        "{folder}/file is a file, not a folder: choose another --out folder",
    ),
    CliCase(
        "report-read-only-folder",
        "report --out a file on a read-only mount",
        read_only(*REPORT, "{folder}/ro/report.html"),
        "cannot write {folder}/ro/report.html (Read-only file system): give another --out",
    ),
    CliCase(
        "report-under-proc",
        "report --out under /proc",
        plain(*REPORT, "/proc/rosterlab-report.html"),
        "cannot write /proc/rosterlab-report.html (No such file or directory): give another --out",
    ),
    CliCase(
        "report-to-a-pipe",
        "report --out a named pipe (was: the pipe replaced by a file, nothing sent)",
        plain(*REPORT, "{folder}/pipe"),
        "--out {folder}/pipe is not a regular file (a pipe or a device): give a file name such "
        "as report.html",
    ),
    CliCase(
        "report-to-stdout-pipe",
        "report --out /dev/stdout while stdout is a pipe",
        plain(*REPORT, "/dev/stdout"),
        "--out /dev/stdout is not a regular file (a pipe or a device): give a file name such as "
        "report.html",
    ),
    CliCase(
        "report-under-a-file",
        "report --out file/report.html, where file is a file",
        plain(*REPORT, "{folder}/file/report.html"),
        "{folder}/file is a file, not a folder: give another --out",
    ),
    CliCase(
        "check-recheck-full-temp",
        "check --recheck while TMPDIR is a full 8 KiB tmpfs",
        full_tmp,
        "disk full while writing a temporary copy of snapshot 1 in {folder}/tmp (no space left): "
        "free space on that disk (or raise the quota or file-size limit), then re-run; the store "
        "keeps what it held before (TMPDIR may name a folder on a disk with space)",
    ),
    CliCase(
        "taken-at-year-1-east-of-utc",
        "--taken-at 0001-01-01T00:00:00+01:00 (UTC would be year 0)",
        taken_at("0001-01-01T00:00:00+01:00"),
        "--taken-at '0001-01-01T00:00:00+01:00' is outside 0001-01-01 to 9999-12-31 once in UTC: "
        "give a time within those years",
    ),
    CliCase(
        "taken-at-year-9999-west-of-utc",
        "--taken-at 9999-12-31T23:59:59-14:00 (UTC would be year 10000)",
        taken_at("9999-12-31T23:59:59-14:00"),
        "--taken-at '9999-12-31T23:59:59-14:00' is outside 0001-01-01 to 9999-12-31 once in UTC: "
        "give a time within those years",
    ),
)
