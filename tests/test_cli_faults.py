"""The CLI as a process under hostile settings, output places, signals and bugs.

Each case of ``tests/corpus/cli_cases.py`` gives exactly one line on stderr, nothing on stdout,
its exit code, and leaves the store as it was. Ctrl-C (a real SIGINT to a real process) during
a long DuckDB query and during start-up imports exits 130 with one line, and ``doctor`` finds
the store as it was. A bug is one line naming ``--debug``, which shows the traceback and the
chained cause.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from rosterlab.bundle import open_bundle
from rosterlab.cli import main
from rosterlab.errors import ConfigError
from rosterlab.store import Store, ingest_bundle
from tests.corpus.cli_cases import CLI_CASES, DISTRICT, CliCase, Invocation
from tests.corpus.faults import big_night, copy_store
from tests.tiny import tiny_night, write_night

INTERRUPTED = "rosterlab: interrupted: nothing was half-written; re-run the command\n"
ROOT = Path(__file__).resolve().parent.parent


def can_mount() -> bool:
    """Whether this process may make a private mount namespace with its own mounts."""
    probe = ["unshare", "-m", "sh", "-c", "mount -t tmpfs probe /mnt"]
    try:
        return subprocess.run(probe, capture_output=True, check=False).returncode == 0
    except OSError:
        return False


@pytest.fixture(scope="module")
def store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding the tiny night as snapshot 1 of district maple."""
    folder = tmp_path_factory.mktemp("cli-faults")
    night = write_night(folder / "2026-09-01", tiny_night())
    store = folder / "store.duckdb"
    argv = ["--store", str(store), "ingest", str(night), "--district", DISTRICT]
    assert main([*argv, "--taken-at", "2026-09-01T02:00:00"]) == 0
    return store


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROSTERLAB_")}
    env["PYTHONPATH"] = str(ROOT)
    return env | (extra or {})


def run_cli(folder: Path, store: Path, invocation: Invocation) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "rosterlab", "--store", str(store), *invocation.argv]
    if invocation.mounts:
        command = ["unshare", "-m", "sh", "-c", f'{invocation.mounts} && exec "$@"', "sh", *command]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=environment(invocation.env),
        cwd=folder / invocation.cwd,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


def snapshot_ids(store: Path) -> list[int]:
    with Store.open(store, read_only=True) as opened:
        return [s.id for s in opened.snapshots()]


@pytest.mark.parametrize("case", CLI_CASES, ids=[case.name for case in CLI_CASES])
def test_cli_case(case: CliCase, store_file: Path, tmp_path: Path) -> None:
    store = tmp_path / "store.duckdb"
    copy_store(store_file, store)  # with the copy readers open, as every writer leaves it
    invocation = case.build(tmp_path)
    if invocation.mounts and not can_mount():
        pytest.skip("needs a private mount namespace (unshare -m, as root)")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    done = run_cli(tmp_path, store, invocation)
    line = case.line.format(folder=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (case.code, "", f"rosterlab: {line}\n")
    assert snapshot_ids(store) == [1]
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # no partial output left
    if (tmp_path / "pipe").exists():
        assert stat.S_ISFIFO((tmp_path / "pipe").stat().st_mode)  # never replaced by a file


def test_every_cli_case_is_listed_in_docs_reliability() -> None:
    listed = (ROOT / "docs" / "reliability.md").read_text()
    assert [case.name for case in CLI_CASES if f"| `{case.name}` |" not in listed] == []


@pytest.mark.parametrize(
    ("when", "stored"),
    [
        ("0001-01-01T00:00:00-14:00", "0001-01-01T14:00:00"),
        ("9999-12-31T23:59:59+14:00", "9999-12-31T09:59:59"),
    ],
)
def test_taken_at_at_the_ends_of_the_range_is_kept_in_utc(
    when: str, stored: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    night = write_night(tmp_path / "night", tiny_night())
    store = str(tmp_path / "store.duckdb")
    argv = ["--store", store, "ingest", str(night), "--district", "far", "--taken-at", when]
    # Year 9999 is a clock gone wrong unless forced (issue 18): --allow-future forces it.
    assert main([*argv, "--allow-future", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert (json.loads(out)["snapshot"]["taken_at"], err) == (stored, "")
    assert main(["--store", store, "doctor"]) == 0


# --- Ctrl-C ------------------------------------------------------------------------------------

# The child runs the real CLI; with SLOW_QUERY set, the store's first INSERT (inside the ingest's
# transaction) is preceded by a query that runs for minutes (a sum over 10^11 hashed numbers) on
# the same connection. READY_FD gets a byte when that query starts (or, without SLOW_QUERY, just
# before rosterlab is imported).
CHILD = """
import os, sys
ready = int(os.environ["READY_FD"])
if os.environ.get("SLOW_IMPORT"):  # the named module takes half a minute to import
    import importlib.abc
    import time

    class SlowImport(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == os.environ["SLOW_IMPORT"]:
                sys.meta_path.remove(self)
                time.sleep(30)
            return None

    sys.meta_path.insert(0, SlowImport())
if os.environ.get("SLOW_QUERY"):
    from rosterlab.store import store as module
    execute = module.Store.execute
    def slow_first_insert(self, sql, params=None):
        if sql.startswith("INSERT") and not getattr(self, "slowed", False):
            self.slowed = True
            os.write(ready, b"q")
            execute(self, "SELECT sum(hash(i)) FROM range(100000000000) t(i)")
        return execute(self, sql, params)
    module.Store.execute = slow_first_insert
else:
    os.write(ready, b"r")
from rosterlab.cli import run
sys.argv[0] = "rosterlab"
run()
"""


def interrupted(
    argv: list[str], *, slow_query: bool, delay: float, slow_import: str | None = None
) -> tuple[int, str, str, float]:
    """Start the CLI, send SIGINT ``delay`` s after its ready byte; exit code, outputs, seconds
    from the signal to the exit. ``slow_import`` names a module whose import stalls."""
    read_fd, write_fd = os.pipe()
    env = environment(
        {"READY_FD": str(write_fd)}
        | ({"SLOW_QUERY": "1"} if slow_query else {})
        | ({"SLOW_IMPORT": slow_import} if slow_import else {})
    )
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        pass_fds=(write_fd,),
        # Ctrl-C reaches a foreground process with SIGINT handled: undo any inherited SIG_IGN.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    os.close(write_fd)
    try:
        assert os.read(read_fd, 1) in (b"q", b"r")
    finally:
        os.close(read_fd)
    time.sleep(delay)
    sent = time.monotonic()
    child.send_signal(signal.SIGINT)
    try:
        out, err = child.communicate(timeout=60)  # uninterrupted, the query runs for minutes
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise
    return child.returncode, out, err, time.monotonic() - sent


def doctor(store: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(store.parent, store, Invocation(("doctor",)))


def test_ctrl_c_during_a_long_query_exits_130_with_one_line_and_the_store_as_it_was(
    store_file: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store.duckdb"
    shutil.copy(store_file, store)
    night = tiny_night()
    night["students.csv"].append(["SCH-1", "S-004", "00999", "Ng", "Al", "4", "", "", "", "", ""])
    folder = write_night(tmp_path / "2026-09-02", night)
    argv = ["--store", str(store), "ingest", str(folder), "--district", DISTRICT]
    code, out, err, _ = interrupted(
        [*argv, "--taken-at", "2026-09-02T02:00:00"], slow_query=True, delay=0.2
    )
    assert (code, out, err) == (130, "", INTERRUPTED)
    checked = doctor(store)
    assert (checked.returncode, checked.stderr) == (0, "")
    assert checked.stdout.startswith(f"store {store} is healthy: 1 snapshot of 1 district, ")
    assert snapshot_ids(store) == [1]
    assert not (tmp_path / "store.duckdb.tmp").exists()


def test_ctrl_c_during_a_real_ingest_exits_130_and_keeps_the_store(
    store_file: Path, tmp_path: Path
) -> None:
    """No injected query: the SIGINT follows the ingest's "merging students" progress line of
    a 60,000-student night, inside its transaction."""
    store = tmp_path / "store.duckdb"
    shutil.copy(store_file, store)
    night = big_night(tmp_path / "2026-09-02", 60_000)
    argv = [sys.executable, "-m", "rosterlab", "--store", str(store), "ingest", str(night)]
    child = subprocess.Popen(
        [*argv, "--district", DISTRICT, "--taken-at", "2026-09-02T02:00:00", "--progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=environment(),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines = wait_for(child, "[", "merging students")
    child.send_signal(signal.SIGINT)
    out, rest = child.communicate(timeout=60)
    assert (child.returncode, out) == (130, "")
    assert rest.endswith(INTERRUPTED)
    assert "Traceback" not in rest and all(line.startswith("[") for line in lines)
    checked = doctor(store)
    assert (checked.returncode, checked.stderr) == (0, "")
    assert snapshot_ids(store) == [1]


def wait_for(child: subprocess.Popen[str], prefix: str, text: str) -> list[str]:
    """Progress lines read from the child's stderr up to the one holding ``text``."""
    assert child.stderr is not None
    seen = []
    for line in child.stderr:
        seen.append(line)
        if line.startswith(prefix) and text in line:
            return seen
    raise AssertionError(f"the child ended before {text!r}: {seen}")


@pytest.mark.parametrize("delay", [0.05, 0.15, 0.3])
def test_ctrl_c_during_start_up_imports_exits_130_with_one_line(
    delay: float, store_file: Path, tmp_path: Path
) -> None:
    """The byte comes just before ``import rosterlab.cli`` (a few milliseconds); the imports
    under the watch are the parser's, then the command's engines (duckdb, polars). duckdb's
    import is made to stall, so every delay lands among the start-up imports however fast the
    machine is (unstalled, a quiet machine finished ``snapshots`` before 0.3 s)."""
    store = tmp_path / "store.duckdb"
    shutil.copy(store_file, store)
    code, out, err, _ = interrupted(
        ["--store", str(store), "snapshots"], slow_query=False, delay=delay, slow_import="duckdb"
    )
    assert (code, out, err) == (130, "", INTERRUPTED)
    assert snapshot_ids(store) == [1]


# --- bugs ----------------------------------------------------------------------------------------

BUG = """
import sys
import rosterlab.cli.commands as commands
def broken(args):
    raise ZeroDivisionError("division by zero")
commands.cmd_snapshots = broken
from rosterlab.cli import run
sys.argv[0] = "rosterlab"
run()
"""
BUG_LINE = (
    "rosterlab: unexpected error (ZeroDivisionError: division by zero): this is a bug in "
    "rosterlab; re-run with --debug (or ROSTERLAB_DEBUG=1) to see the traceback, and report it\n"
)


def run_child(script: str, *argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-c", script, *argv],
        capture_output=True,
        text=True,
        env=environment(env),
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def test_a_bug_is_one_line_naming_debug(store_file: Path) -> None:
    assert run_child(BUG, "--store", str(store_file), "snapshots") == (2, "", BUG_LINE)


@pytest.mark.parametrize(
    ("argv", "env"),
    [(["--debug"], {}), ([], {"ROSTERLAB_DEBUG": "1"})],
    ids=["--debug", "ROSTERLAB_DEBUG=1"],
)
def test_debug_shows_the_traceback_above_the_line(
    argv: list[str], env: dict[str, str], store_file: Path
) -> None:
    code, out, err = run_child(BUG, *argv, "--store", str(store_file), "snapshots", env=env)
    assert (code, out) == (2, "")
    assert err.startswith("Traceback (most recent call last):\n")
    assert err.endswith(f"line 5, in broken\nZeroDivisionError: division by zero\n{BUG_LINE}")


def test_debug_shows_the_cause_of_a_tool_error(tmp_path: Path) -> None:
    (tmp_path / "rosterlab.toml").write_bytes(b'store = "caf\xe9.duckdb"\n')
    config = str(tmp_path / "rosterlab.toml")
    code, out, err = run_child(
        "from rosterlab.cli import run; run()", "--debug", "--config", config, "snapshots"
    )
    line = f"rosterlab: {config} is not UTF-8 (byte 0xe9 on line 1, in store): save it as UTF-8\n"
    assert (code, out) == (2, "")
    assert "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xe9" in err
    assert "The above exception was the direct cause of the following exception:" in err
    assert err.endswith(line)
    assert run_child("from rosterlab.cli import run; run()", "--config", config, "snapshots") == (
        2,
        "",
        line,
    )


def test_the_api_refuses_a_taken_at_outside_the_years_once_in_utc(tmp_path: Path) -> None:
    """A notebook passing an aware datetime gets the same error, not an OverflowError."""
    night = write_night(tmp_path / "night", tiny_night())
    when = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    with open_bundle(night) as bundle, Store.open(tmp_path / "store.duckdb") as store:
        with pytest.raises(ConfigError) as raised:
            ingest_bundle(store, bundle, district="far", taken_at=when)
        assert store.snapshots() == []
    assert str(raised.value) == (
        "taken_at 0001-01-01T00:00:00+01:00 is outside 0001-01-01 to 9999-12-31 once in UTC: "
        "give a time within those years"
    )
