"""A killed ``fix`` or ``push`` loses nothing, half-writes nothing, and its re-run finishes the job.

Each run is the real CLI in a real process, killed with SIGKILL at a named ``--progress`` line or
at a seeded point (a seeded number of progress lines plus a seeded delay; ``ROSTERLAB_KILL_POINTS``
per command, default 3). After each kill: ``doctor`` passes on the store as the kill left it; it
holds exactly the snapshots and ``pushes`` rows committed before the kill; the fix output folder
is absent or complete and byte-identical to an uninterrupted run; the remote (a real OpenSSH
sshd) holds exactly the old bundle or the new one, plus at most our ``*.part`` files; and the
re-run succeeds with the uninterrupted result, leaving no temporary folder or ``*.part`` behind.
With ``ROSTERLAB_KILL_LOG=FILE`` every kill appends one JSON line (where it landed, what held).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

pytest.register_assert_rewrite("tests.sftp_servers")

from rosterlab.bundle import open_bundle  # noqa: E402
from rosterlab.bundle.digest import bundle_sha256  # noqa: E402
from rosterlab.cli import main  # noqa: E402
from rosterlab.store import Store, ingest_bundle  # noqa: E402
from rosterlab.store.doctor import check_store, open_for_check  # noqa: E402
from rosterlab.store.pushes import pushes  # noqa: E402
from tests.corpus.faults import big_night, copy_store  # noqa: E402
from tests.sftp_servers import KeyPair, Sshd, current_user, folder_digests  # noqa: E402
from tests.tiny import folder_files, tiny_night, write_night  # noqa: E402

pytest_plugins = ["tests.sftp_servers"]

ROSTERLAB = [sys.executable, "-m", "rosterlab"]
KILL_POINTS = int(os.environ.get("ROSTERLAB_KILL_POINTS", "3"))
RULES = """district = "maple"

[[rules]]
op = "drop"
entity = "enrollments"
code = "enrollment-unknown-section"
reason = "SEC-9 is not exported yet: Clever would reject the whole upload"
"""
SPEC = ("schools.csv", "students.csv", "teachers.csv", "sections.csv", "enrollments.csv")


def healthy(store_path: Path) -> None:
    """``doctor`` on the store exactly as the kill left it (its WAL not yet replayed)."""
    store = open_for_check(store_path)
    try:
        assert check_store(store).problems == ()
    finally:
        store.close()


def log_kill(**fields: Any) -> None:
    if path := os.environ.get("ROSTERLAB_KILL_LOG"):
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(fields) + "\n")


def run_killed(argv: list[str], kill_at: str | None, seed: int | None) -> tuple[list[str], int]:
    """Run ``argv`` with progress on stderr; SIGKILL it at the first line matching ``kill_at``, or
    after a ``seed``-ed number of lines and delay. Its stderr lines, and how many were read before
    the kill (the kill lands at or after the last of those)."""
    child = subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert child.stderr is not None
    seen: list[str] = []
    if seed is not None:
        rng = random.Random(seed)
        lines, delay = rng.randrange(0, 14), rng.uniform(0, 0.25)
        while len(seen) < lines and (line := child.stderr.readline()):
            seen.append(line)
        time.sleep(delay)
    else:
        for line in child.stderr:
            seen.append(line)
            if kill_at is not None and re.search(kill_at, line):
                break
    child.send_signal(signal.SIGKILL)
    child.wait()
    read = len(seen)
    seen += child.stderr.readlines()
    assert child.returncode in (-signal.SIGKILL, 0), "".join(seen)
    if kill_at is not None:
        assert read and re.search(kill_at, seen[read - 1]), "".join(seen)
    return seen, read


# --- fix -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FixLab:
    template: Path  # a store holding night 1 and the broken night 2
    rules: Path
    reference: dict[str, bytes]  # what an uninterrupted fix writes
    findings: list[tuple[Any, ...]]  # the store's findings after an uninterrupted fix


def fix_cmd(store: Path, rules: Path, out: Path) -> list[str]:
    return [*ROSTERLAB, "--store", str(store), "fix", "--district", "maple", "--rules",
            str(rules), "--out", str(out), "--progress"]  # fmt: skip


def all_findings(store_path: Path) -> list[tuple[Any, ...]]:
    with Store.open(store_path, read_only=True, published=False) as store:
        return store.rows("SELECT * FROM findings ORDER BY ALL")


@pytest.fixture(scope="module")
def fix_lab(tmp_path_factory: pytest.TempPathFactory) -> FixLab:
    """Night 2: the tiny district grown by 6,000 students, 40 of them enrolled in SEC-9."""
    base = tmp_path_factory.mktemp("fix")
    night2 = big_night(base / "n2", 6_000)
    with (night2 / "enrollments.csv").open("a", newline="") as fh:
        fh.writelines(f"SCH-1,SEC-9,S-{n:06d}\n" for n in range(40))
    template = base / "template.duckdb"
    with Store.open(template) as store:
        for folder, when in ((write_night(base / "n1", tiny_night()), 1), (night2, 2)):
            with open_bundle(folder) as bundle:
                ingest_bundle(store, bundle, district="maple", taken_at=datetime(2026, 9, when, 2))
    rules = base / "maple.rules.toml"
    rules.write_text(RULES)
    store = base / "reference.duckdb"
    copy_store(template, store)
    done = subprocess.run(fix_cmd(store, rules, base / "reference"), capture_output=True)
    assert done.returncode == 0, done.stderr
    return FixLab(template, rules, folder_files(base / "reference"), all_findings(store))


FIX_POINTS = [  # regular expressions
    "staging snapshot 2",  # the check findings are committed
    "writing enrollments.csv",  # a partial bundle in the hidden folder
    "hold check: merging students",  # inside the trial ingest's transaction
    "writing manifest.json",
    "corrected bundle in",  # renamed into place
]


@pytest.mark.parametrize("kill_at", FIX_POINTS)
def test_fix_killed_at_a_named_point(fix_lab: FixLab, tmp_path: Path, kill_at: str) -> None:
    killed_fix(fix_lab, tmp_path, kill_at=kill_at)


@pytest.mark.parametrize("seed", range(KILL_POINTS))
def test_fix_killed_at_a_seeded_point(fix_lab: FixLab, tmp_path: Path, seed: int) -> None:
    killed_fix(fix_lab, tmp_path, seed=seed)


def killed_fix(
    lab: FixLab, tmp_path: Path, *, kill_at: str | None = None, seed: int | None = None
) -> None:
    store = tmp_path / "store.duckdb"
    copy_store(lab.template, store)
    out = tmp_path / "fixed"
    seen, read = run_killed(fix_cmd(store, lab.rules, out), kill_at, seed)

    healthy(store)
    with Store.open(store, read_only=True, published=False) as opened:
        assert [(s.id, s.seq) for s in opened.snapshots()] == [(1, 1), (2, 2)]
        assert pushes(opened) == []
        checked = opened.rows("SELECT snapshot_id FROM check_runs ORDER BY ALL")
    staged = any("staging snapshot" in line for line in seen)
    assert checked == [(2,)] if staged else checked in ([], [(2,)]), "".join(seen)
    assert not out.exists() or folder_files(out) == lab.reference
    output = "complete" if out.exists() else "absent"
    leftovers = sorted(p.name for p in tmp_path.glob(".fixed.*.partial"))

    rerun = subprocess.run(fix_cmd(store, lab.rules, out), capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert folder_files(out) == lab.reference
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fixed", "store.duckdb", "store.duckdb.published",
    ]  # fmt: skip
    assert all_findings(store) == lab.findings
    healthy(store)
    log_kill(
        command="fix",
        point=kill_at or f"seed {seed}",
        last_line=seen[read - 1].strip() if read else "",
        checks_committed=bool(checked),
        output_folder=output,
        leftovers=len(leftovers),
        bytes_lost=0,
    )


def test_a_finished_fix_reruns_as_a_no_op_but_never_overwrites_another_bundle(
    fix_lab: FixLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store.duckdb"
    copy_store(fix_lab.template, store)
    out = tmp_path / "fixed"
    assert main(fix_cmd(store, fix_lab.rules, out)[len(ROSTERLAB) : -1]) == 0
    assert main(fix_cmd(store, fix_lab.rules, out)[len(ROSTERLAB) : -1]) == 0  # the same bundle
    assert folder_files(out) == fix_lab.reference
    other = tmp_path / "other.rules.toml"
    other.write_text(RULES.replace("not exported yet", "not in the SIS yet"))
    capsys.readouterr()
    assert main(fix_cmd(store, other, out)[len(ROSTERLAB) : -1]) == 2
    assert capsys.readouterr().err == (
        f"rosterlab: {out} holds another corrected bundle: choose a new --out folder or remove it\n"
    )
    assert folder_files(out) == fix_lab.reference
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fixed",
        "other.rules.toml",
        "store.duckdb",
        "store.duckdb.published",
    ]


# --- push ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushLab:
    template: Path  # a store holding one snapshot and one earlier push (the old bundle)
    config: Path
    remote: Path
    old: dict[str, bytes]
    new: Path  # the bundle folder to push
    new_files: dict[str, bytes]


def bundle(tag: str, students: int) -> dict[str, bytes]:
    """A valid bundle (CRLF, non-ASCII) whose students.csv and enrollments.csv pass 1 MB each, so
    the CLI reports every 10 % of their upload; its bytes depend on ``tag``."""
    ids = [f"S-{n:06d}" for n in range(students)]
    return {
        "schools.csv": f"School_id,School_name,School_number\r\nSCH-1,Maple {tag},1\r\n".encode(),
        "students.csv": b"School_id,Student_id,First_name,Last_name,Grade\r\n"
        + "".join(
            f"SCH-1,{s},Zoë-{tag},Ångström,{n % 12 + 1}\r\n" for n, s in enumerate(ids)
        ).encode(),
        "teachers.csv": f"School_id,Teacher_id,First_name,Last_name\r\nSCH-1,T-1,A,{tag}\r\n"
        "".encode(),
        "sections.csv": f"School_id,Section_id,Teacher_id,Name\r\nSCH-1,SEC-1,T-1,{tag}\r\n"
        "".encode(),
        "enrollments.csv": b"School_id,Section_id,Student_id,Tag\r\n"
        + "".join(f"SCH-1,SEC-1,{s},{tag}-{n:08d}\r\n" for n, s in enumerate(ids)).encode(),
    }


def with_manifest(folder: Path, files: dict[str, bytes], students: int) -> Path:
    """The bundle plus a manifest.json as fix writes it, so push trusts it without a re-check."""
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    manifest = {
        "district": "maple",
        "files": [{"name": n, "sha256": hashlib.sha256(d).hexdigest()} for n, d in files.items()],
        "entities": {"students": students, "enrollments": students},
        "findings": {"after": {"by_code": {}}},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def push_cmd(lab: PushLab, store: Path, folder: Path) -> list[str]:
    return [*ROSTERLAB, "--store", str(store), "--config", str(lab.config), "push", str(folder),
            "--target", "clever-maple", "--progress"]  # fmt: skip


@pytest.fixture(scope="module")
def push_lab(tmp_path_factory: pytest.TempPathFactory, sshd: Sshd, client_key: KeyPair) -> PushLab:
    base = tmp_path_factory.mktemp("push")
    remote = base / "remote"
    remote.mkdir()
    known_hosts = base / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {sshd.host_public_line}\n")
    config = base / "rosterlab.toml"
    config.write_text(
        f'[targets.clever-maple]\nhost = "127.0.0.1"\nport = {sshd.port}\n'
        f'username = "{current_user()}"\nkey_file = "{client_key.private}"\n'
        f'remote_dir = "{remote}"\nknown_hosts = "{known_hosts}"\n'
    )
    old, new = bundle("old", 40_000), bundle("new", 40_000)
    template = base / "template.duckdb"
    with Store.open(template) as store, open_bundle(write_night(base / "n1", tiny_night())) as b:
        ingest_bundle(store, b, district="maple", taken_at=datetime(2026, 9, 1, 2))
    lab = PushLab(template, config, remote, old, with_manifest(base / "new", new, 40_000), new)
    first = subprocess.run(
        push_cmd(lab, template, with_manifest(base / "old", old, 40_000)), capture_output=True
    )
    assert first.returncode == 0, first.stderr
    assert folder_files(remote) == old
    return lab


PUSH_POINTS = [  # regular expressions
    r"students\.csv: .* \(0%\)",  # the first large file just started
    r"students\.csv: .* \(50%\)",
    r"enrollments\.csv: .* \(10%\)",  # students.csv uploaded and checked
    r"enrollments\.csv: .* \(100%\)",  # all sent; next its close and stat, then the renames
]


@pytest.mark.parametrize("kill_at", PUSH_POINTS)
def test_push_killed_at_a_named_point(push_lab: PushLab, tmp_path: Path, kill_at: str) -> None:
    killed_push(push_lab, tmp_path, kill_at=kill_at)


@pytest.mark.parametrize("seed", range(KILL_POINTS))
def test_push_killed_at_a_seeded_point(push_lab: PushLab, tmp_path: Path, seed: int) -> None:
    killed_push(push_lab, tmp_path, seed=seed)


def remote_state(lab: PushLab, remote: Path) -> str:
    """``old`` or ``new`` (and stray ``*.part`` files of ours only); anything else fails."""
    files = folder_files(remote)
    parts = {n for n in files if n.endswith(".part")}
    assert parts <= {f"{n}.part" for n in SPEC}, sorted(files)
    final = {n: d for n, d in files.items() if n not in parts}
    assert final in (lab.old, lab.new_files), "the remote holds a mix of old and new files"
    return "old" if final == lab.old else "new"


def renamed_before_the_server_stopped(lab: PushLab, remote: Path) -> int:
    """How many of the burst's renames (in its order) the server made: the new bundle's first N
    files in place, each later one old beside its new ``*.part`` — nothing lost, no other mix."""
    files = folder_files(remote)
    for n in range(len(SPEC) + 1):
        expected = {name: lab.new_files[name] for name in SPEC[:n]}
        for name in SPEC[n:]:
            expected |= {name: lab.old[name], f"{name}.part": lab.new_files[name]}
        if files == expected:
            return n
    raise AssertionError(f"the remote is not the burst stopped after some renames: {sorted(files)}")


def settled(remote: Path, *, quiet: float = 2.0, limit: float = 15.0) -> None:
    """Wait until the remote folder stops changing (sshd may still be serving the burst)."""
    deadline = time.monotonic() + limit
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        now = sorted((p.name, p.stat().st_mtime_ns) for p in remote.iterdir())
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.05)


def killed_push(
    lab: PushLab, tmp_path: Path, *, kill_at: str | None = None, seed: int | None = None
) -> None:
    store = tmp_path / "store.duckdb"
    copy_store(lab.template, store)
    restore_remote(lab)
    with Store.open(store, read_only=True, published=False) as opened:
        before = pushes(opened)
    seen, read = run_killed(push_cmd(lab, store, lab.new), kill_at, seed)

    healthy(store)
    state = remote_state(lab, lab.remote)
    with Store.open(store, read_only=True, published=False) as opened:
        assert [s.id for s in opened.snapshots()] == [1]
        after = pushes(opened)
    recorded = after[len(before) :]
    assert after[: len(before)] == before
    if recorded:  # committed only once the remote holds the new bundle
        (push,) = recorded
        assert (push.outcome, push.bundle_sha256, state) == ("pushed", new_sha(lab), "new")
    parts = sum(n.endswith(".part") for n in os.listdir(lab.remote))

    rerun = subprocess.run(push_cmd(lab, store, lab.new), capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert folder_files(lab.remote) == lab.new_files  # no *.part left, nothing lost
    with Store.open(store, read_only=True, published=False) as opened:
        final = pushes(opened)
    assert final[:-1] == after
    assert (final[-1].outcome, final[-1].bundle_sha256) == ("pushed", new_sha(lab))
    healthy(store)
    log_kill(
        command="push",
        point=kill_at or f"seed {seed}",
        last_line=seen[read - 1].strip() if read else "",
        remote=state,
        recorded=bool(recorded),
        stale_parts=parts,
        bytes_lost=0,
    )


def new_sha(lab: PushLab) -> str:
    return bundle_sha256((n, hashlib.sha256(d).hexdigest()) for n, d in lab.new_files.items())


def restore_remote(lab: PushLab) -> None:
    """The remote back to the old bundle alone (tests share the sshd and its remote_dir)."""
    for path in lab.remote.iterdir():
        path.unlink()
    for name, data in lab.old.items():
        (lab.remote / name).write_bytes(data)


BURST_CHILD = """
import os, signal, sys
from paramiko.sftp import BaseSFTP
from rosterlab.cli import main

write_all = BaseSFTP._write_all

def killing_write_all(self, out):
    burst = b"posix-rename@openssh.com" in out
    if burst and sys.argv[1] == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    write_all(self, out)
    if burst:
        os.kill(os.getpid(), signal.SIGKILL)

BaseSFTP._write_all = killing_write_all
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("moment", ["before", "after"])
def test_push_killed_just_before_or_after_the_rename_burst_is_sent(
    push_lab: PushLab, tmp_path: Path, moment: str
) -> None:
    """The burst's renames leave in one write. Killed before it, the remote keeps its bundle.
    Killed after it, the server renames in the burst's order until it stops, and under load
    OpenSSH's sftp-server stopped early once the client was gone (seen: 1 of 5 renamed): the new
    files come first, every other file keeps its old version beside its new ``*.part``, and the
    re-run below completes the switch."""
    store = tmp_path / "store.duckdb"
    copy_store(push_lab.template, store)
    restore_remote(push_lab)
    argv = push_cmd(push_lab, store, push_lab.new)[len(ROSTERLAB) :]
    child = subprocess.run(
        [sys.executable, "-c", BURST_CHILD, moment, *argv], capture_output=True, text=True
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    settled(push_lab.remote)
    renamed = renamed_before_the_server_stopped(push_lab, push_lab.remote)
    if moment == "before":
        assert renamed == 0
    healthy(store)
    with Store.open(store, read_only=True, published=False) as opened:
        assert len(pushes(opened)) == 1  # the killed push was not recorded
    rerun = subprocess.run(push_cmd(push_lab, store, push_lab.new), capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert folder_digests(push_lab.remote) == {
        n: hashlib.sha256(d).hexdigest() for n, d in sorted(push_lab.new_files.items())
    }
