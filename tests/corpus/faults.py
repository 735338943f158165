"""Child processes the fault tests kill or race: a real ingest into a real store file.

The child runs what ``rosterlab ingest`` runs (open the bundle, open the store, ingest with
progress on stderr) without importing the whole CLI, so that a test can start dozens of them.
``--pause-at TEXT`` stops it, mid-transaction, at the first progress line starting with TEXT until
a line arrives on stdin; ``--hold`` keeps the store open (read-only) until stdin closes, saying
how many snapshots it sees after every line (``reopen`` reopens it first).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from rosterlab.store import published_path
from tests.tiny import tiny_night, write_night

CHILD = """
import argparse, sys
from datetime import datetime
from rosterlab.bundle import open_bundle
from rosterlab.errors import RosterlabError
from rosterlab.store import Store, ingest_bundle

parser = argparse.ArgumentParser()
parser.add_argument("store")
parser.add_argument("bundle", nargs="?")
parser.add_argument("--taken-at")
parser.add_argument("--pause-at")
parser.add_argument("--hold", action="store_true")
args = parser.parse_args()

def say(message):
    sys.stderr.write(message + "\\n")
    sys.stderr.flush()

def progress(message):
    say(message)
    if args.pause_at and message.startswith(args.pause_at):
        say("paused")
        sys.stdin.readline()

try:
    if args.hold:
        store = Store.connect(args.store, read_only=True)
        say(f"holding {len(store.snapshots())} snapshots")
        for line in sys.stdin:
            if line.strip() == "reopen":
                store.close()
                store = Store.connect(args.store, read_only=True)
            say(f"holding {len(store.snapshots())} snapshots")
        store.close()
        sys.exit(0)
    with open_bundle(args.bundle) as bundle, Store.open(args.store) as store:
        say("store open")
        result = ingest_bundle(
            store, bundle, district="maple", taken_at=datetime.fromisoformat(args.taken_at),
            progress=progress,
        )
    say(f"committed snapshot {result.snapshot.id}")
except RosterlabError as exc:
    say(f"rosterlab: {exc.message}")
    sys.exit(2)
"""


def start_ingest(
    store: Path, bundle: Path, taken_at: str, *, pause_at: str | None = None
) -> subprocess.Popen[str]:
    """Start an ingest child; its stderr is a pipe of progress lines."""
    argv = [sys.executable, "-c", CHILD, str(store), str(bundle), "--taken-at", taken_at]
    if pause_at:
        argv += ["--pause-at", pause_at]
    return subprocess.Popen(
        argv, stdin=subprocess.PIPE, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )


def start_reader(store: Path) -> subprocess.Popen[str]:
    """Start a child that holds the store open read-only (a notebook) until its stdin closes;
    each line it gets (``look``, ``reopen``) makes it say ``holding N snapshots``."""
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(store), "--hold"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )


def wait_for(child: subprocess.Popen[str], prefix: str) -> list[str]:
    """Read the child's stderr up to the first line starting with ``prefix``; the lines read."""
    assert child.stderr is not None
    seen = []
    for line in child.stderr:
        seen.append(line.rstrip("\n"))
        if line.startswith(prefix):
            return seen
    raise AssertionError(f"child ended before {prefix!r}: {seen}")


def big_night(folder: Path, students: int) -> Path:
    """The tiny district grown to ``students`` more students in two sections each."""
    night = tiny_night()
    for n in range(students):
        night["students.csv"].append(
            ["SCH-1", f"S-{n:06d}", f"{n:06d}", "Last", "First", "3", "", "", "", "", ""]
        )
        night["enrollments.csv"].append(["SCH-1", "SEC-1", f"S-{n:06d}"])
        night["enrollments.csv"].append(["SCH-2", "SEC-2", f"S-{n:06d}"])
    return write_night(folder, night)


def program(pid: int) -> str:
    """The name a process was started as (its argv[0]), as the store's busy line shows it."""
    return Path(Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()).name


def copy_store(template: Path, dest: Path) -> None:
    """Copy a store file with the copy its last writer published for readers."""
    shutil.copy(template, dest)
    shutil.copy(published_path(template), published_path(dest))
