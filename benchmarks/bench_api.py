"""Data API benchmark: ``api pull`` against a bare httpx loop, events, and reconcile vs diff.

The synthetic district of the diff benchmark (rosterlab.synth, 1,000,000 students by default,
~1 % nightly churn, three nights, seed 1; built once under ``benchmarks/data/diff-*`` and
reused) is copied into an uploads store; the stand-in (``rosterlab api serve``, its own process:
its start-up seconds and peak RSS are measured too) serves night 2, then night 3. Each
measurement runs in its own child process (seconds and peak RSS of that child):

* a bare httpx loop fetching the same pages (limit 10000, following ``next``) to disk (step
  bare, against the stand-in);
* step full: the stand-in computes its events (one request, timed apart: Clever has them
  ready), every response a full pull requests is recorded, then the bare loop and ``rosterlab
  api pull`` (the whole process: pages, mapping in DuckDB, ingest, checks, publishing the
  readers' copy; its progress lines kept) of night 2 are timed back to back against a replay
  of those responses — on 2 cores the stand-in's rendering would compete with the pull's own
  work and not with the bare loop's, while a real pull costs this machine none of Clever's CPU;
* ``rosterlab api pull --events`` of night 3 on top of it (the stand-in's events computed by one
  request first, timed apart: Clever has them ready), and a full pull of night 3. The full step
  keeps a copy of its pull's store: each events step starts from it, so it can be run again
  (with other pull code: ``--pull-code DIR``, a tree whose ``rosterlab`` the pulls run; the
  stand-in stays this tree's) and compared with the full pull of the same run;
* ``reconcile`` of night 3's upload against its pull, and ``diff_snapshots`` of nights 2 → 3;
* step floor (one hold, after step full): the events pull's input floor — a bare loop fetching
  night 3's events as the events pull does, to disk, and the cheapest DuckDB read of those pages
  that keeps each event's object id, type and id; what knowing the enrollment entries that
  change costs (the events read with their objects, the sections' lists compared); the readers'
  copy of the events pull's store alone — beside the events pull and a full pull of night 2, all
  against replays, in the same hold (:func:`floor`).

Targets (issue 14): full pull ≤ 1.5× the bare loop with peak RSS ≤ 1.5 GB; events pull ≤ 0.1×
the full pull; reconcile ≤ 2× the consecutive diff.

    python -m benchmarks.bench_api [--students 1000000] [--step STEP] [--no-write]
        [--work DIR] [--pull-code DIR]

At 1M a step takes minutes: run them one by one (each under the bench lock), in order: bare,
full, events, full3, beside (night 3's pull beside its upload, then reconcile and diff), then
report (writes docs/benchmarks.md); ``reconcile`` measures reconcile and diff again, ``floor``
the events' input floor (not in the report: docs/benchmarks.md cites its results.json). ``all``
(the default) runs every step. Step full is two halves that fit a hold each: ``record`` (the
stand-in's events warmed, every response recorded; untimed) then ``replay`` (the bare loop and
the pull timed against the recording; run it again to re-measure).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from benchmarks.bench_diff import DISTRICT, history
from benchmarks.common import DATA, PYTHON, ROOT, Timed, run_timed, write_section
from rosterlab.store.files import published_path

STEPS = ("bare", "full", "events", "full3", "beside", "reconcile", "floor", "report")
SPLIT = {"record": "full", "replay": "full"}  # the two halves of step full, kept under its name
TOKEN = "bench-token"
ENV = {"ROSTERLAB_STANDIN_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}

BARE = """
import os, sys, httpx
origin, folder = sys.argv[1], sys.argv[2]
token = os.environ["ROSTERLAB_STANDIN_TOKEN"]
steps = [("districts", ""), ("schools", ""), ("terms", ""), ("courses", ""), ("sections", "")]
steps += [("users", f"role={r}&") for r in ("student", "teacher", "staff", "contact")]
with httpx.Client(base_url=origin, headers={"Authorization": f"Bearer {token}"}, timeout=600) as c:
    n = 0
    for resource, role in steps:
        uri = f"/v3.1/{resource}?{role}limit=10000"
        while uri:
            r = c.get(uri)
            with open(f"{folder}/{n:05d}.json", "wb") as out:
                out.write(r.content)
            n += 1
            uri = next((l["uri"] for l in r.json()["links"] if l["rel"] == "next"), None)
"""

# A pull is the whole ``rosterlab api pull`` process (fetch, map, ingest, checks, publish).
TARGET = """
[api.bench]
base_url = "{origin}"
version = "3.1"
token_env = "ROSTERLAB_STANDIN_TOKEN"
timeout = 600
"""

RECONCILE = """
import sys
from rosterlab.api.reconcile import reconcile
from rosterlab.store import Store
with Store.open(sys.argv[1], read_only=True) as store:
    reconcile(store, sys.argv[2])
"""

# Each upload's outcome stored (untimed), as ``rosterlab ingest`` stores it: the diff
# benchmark's history is ingested without checks, and a snapshot without a stored outcome has it
# computed on every ``outcome_of`` — in reconcile and diff alike, ~3 s and +400 MB each at 1M
# (session 7: reconcile 1.99–2.10× the diff without them, 1.16–1.34× with them).
OUTCOMES = """
import sys
from rosterlab.store import Store
from rosterlab.store.outcomes import record_outcome, snapshot_outcome
with Store.open(sys.argv[1]) as store:
    stored = {row[0] for row in store.rows("SELECT snapshot_id FROM snapshot_outcomes")}
    for snapshot in store.snapshots():
        if snapshot.id not in stored:
            findings = store.findings(snapshot.id)
            record_outcome(store, snapshot_outcome(store, snapshot.id, findings))
"""

FIRST_EVENTS = """
import os, sys, httpx
token = os.environ["ROSTERLAB_STANDIN_TOKEN"]
response = httpx.get(f"{sys.argv[1]}/v3.1/events?limit=1", timeout=3600,
                     headers={"Authorization": f"Bearer {token}"})
response.raise_for_status()
"""

DIFF = """
import sys
from rosterlab.diff import diff_snapshots
from rosterlab.store import Store
with Store.open(sys.argv[1], read_only=True) as store:
    diff_snapshots(store, sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class StandInRun:
    """A running stand-in: its origin, start-up seconds, and (once stopped) its peak RSS."""

    origin: str
    started: float
    peak_mb: float = 0.0


@contextmanager
def standin(store: Path, snapshot: int, *, events: bool = True) -> Iterator[StandInRun]:
    port = free_port()
    argv = [PYTHON, "-m", "rosterlab", "--store", str(store), "api", "serve",
            "--district", DISTRICT, "--snapshot", str(snapshot), "--port", str(port)]  # fmt: skip
    if not events:
        argv.append("--no-events")
    began = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env={**os.environ, **ENV})
    try:
        assert process.stdout is not None
        if not process.stdout.readline():
            raise RuntimeError("the stand-in did not start")
        run = StandInRun(f"http://127.0.0.1:{port}", time.perf_counter() - began)
        yield run
        run.peak_mb = peak_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=60)


def peak_mb(pid: int) -> float:
    """A live process's peak resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


# Every response a full pull requests (the event cursor, then each resource's pages following
# ``next``), recorded to ``folder`` with an index {request URI: file}.
RECORD = """
import json, os, sys, httpx
origin, folder = sys.argv[1], sys.argv[2]
token = os.environ["ROSTERLAB_STANDIN_TOKEN"]
steps = [("districts", ""), ("schools", ""), ("terms", ""), ("courses", ""), ("sections", "")]
steps += [("users", f"role={r}&") for r in ("student", "teacher", "staff", "contact")]
index = {}
with httpx.Client(base_url=origin, headers={"Authorization": f"Bearer {token}"}, timeout=3600) as c:
    def keep(uri):
        r = c.get(uri)
        r.raise_for_status()
        index[uri] = f"{len(index):05d}.json"
        with open(f"{folder}/{index[uri]}", "wb") as out:
            out.write(r.content)
        return r
    keep("/v3.1/events?limit=1&ending_before=" + "f" * 24)
    for resource, role in steps:
        uri = f"/v3.1/{resource}?{role}limit=10000"
        while uri:
            r = keep(uri)
            uri = next((l["uri"] for l in r.json()["links"] if l["rel"] == "next"), None)
with open(f"{folder}/index.json", "w") as out:
    json.dump(index, out)
"""
CURSOR_URI = "/v3.1/events?limit=1&ending_before=" + "f" * 24

# The events after ``cursor``, added to the responses recorded in ``folder`` (:data:`RECORD`'s
# index), requested as an events pull requests them.
RECORD_EVENTS = """
import json, os, sys, httpx
origin, folder, cursor = sys.argv[1], sys.argv[2], sys.argv[3]
token = os.environ["ROSTERLAB_STANDIN_TOKEN"]
index = json.load(open(f"{folder}/index.json"))
with httpx.Client(base_url=origin, headers={"Authorization": f"Bearer {token}"}, timeout=3600) as c:
    uri = f"/v3.1/events?limit=10000&starting_after={cursor}"
    while uri:
        r = c.get(uri)
        r.raise_for_status()
        index[uri] = f"events-{len(index):05d}.json"
        with open(f"{folder}/{index[uri]}", "wb") as out:
            out.write(r.content)
        body = r.json()
        uri = next((l["uri"] for l in body["links"] if l["rel"] == "next"), None)
        uri = uri if body["data"] else None
json.dump(index, open(f"{folder}/index.json", "w"))
"""

# The events analogue of :data:`BARE`: the pages an events pull requests (limit 10000 after the
# cursor, following ``next`` until a page is empty or has none), each parsed as BARE parses, to
# disk.
BARE_EVENTS = """
import os, sys, httpx
origin, folder, cursor = sys.argv[1], sys.argv[2], sys.argv[3]
token = os.environ["ROSTERLAB_STANDIN_TOKEN"]
with httpx.Client(base_url=origin, headers={"Authorization": f"Bearer {token}"}, timeout=600) as c:
    n = 0
    uri = f"/v3.1/events?limit=10000&starting_after={cursor}"
    while uri:
        r = c.get(uri)
        with open(f"{folder}/{n:05d}.json", "wb") as out:
            out.write(r.content)
        n += 1
        body = r.json()
        uri = next((l["uri"] for l in body["links"] if l["rel"] == "next"), None)
        uri = uri if body["data"] else None
"""

# What an events pull needs of each event (its object's id, its type, its own id) read from
# each page into DuckDB, three ways (the floor is the cheapest, each its own child process):
# ``extract`` is the pull's own reading (``read_events``) without the object, ``transform``
# converts only those fields of the page's JSON, ``columns`` has read_json convert only them.
# One statement per page, as the pull reads them (a page is one JSON object, up to 76 MB at
# 1M), under the pull's 1 GB limit.
PAGE = "read_json_objects(?, format = 'auto', maximum_object_size = {size})"
EVENT = '{"id": "VARCHAR", "type": "VARCHAR", "data": {"object": {"id": "VARCHAR"}}}'
SHAPE = '{"data": [{"data": ' + EVENT + "}]}"
EVENT_READINGS = {
    "extract": "SELECT x[2], x[1], x[3] FROM (SELECT json_extract_string(j, ['$.type', "
    "'$.data.object.id', '$.id']) AS x FROM (SELECT unnest(json_extract(json, '$.data[*].data')) "
    f"AS j FROM {PAGE}))",
    "transform": "SELECT e.data.data.object.id, e.data.type, e.data.id FROM (SELECT "
    f"unnest(json_transform(json, '{SHAPE}').data) AS e FROM {PAGE})",
    "columns": "SELECT e.data.data.object.id, e.data.type, e.data.id FROM (SELECT unnest(data) "
    "AS e FROM read_json(?, format = 'auto', maximum_object_size = {size}, columns = "
    "{'data': 'STRUCT(data STRUCT(id VARCHAR, type VARCHAR, data STRUCT(object STRUCT(id "
    "VARCHAR))))[]'}))",
}
# argv: the pages' folder, one of EVENT_READINGS; prints the events read
EVENTS_FLOOR = """
import sys, duckdb
from pathlib import Path
con = duckdb.connect(config={"memory_limit": "1GB"})
con.execute("SET enable_progress_bar = false")
con.execute("CREATE TABLE events (oid VARCHAR, type VARCHAR, eid VARCHAR)")
for page in sorted(Path(sys.argv[1]).iterdir()):
    reading = sys.argv[2].replace("{size}", str(page.stat().st_size + 1))
    con.execute(f"INSERT INTO events {reading}", [str(page)])
print(con.execute("SELECT count(*) FROM events").fetchone()[0])
"""

# The least an events pull computes to know which enrollment rows change (argv: the pages'
# folder): each page read as the pull reads it, one statement per page, keeping each event's
# object and previous attributes, then the (section, student) entries entering or leaving, from
# the events alone (a ``sections.updated`` event carries both lists); prints the entries. A lower
# bound: under 3 GB, not the pull's 1 GB (keeping the previous attributes too ran out of 1 GB).
EVENTS_DIFF = """
import sys, duckdb
from pathlib import Path
con = duckdb.connect(config={"memory_limit": "3GB"})
con.execute("SET enable_progress_bar = false")
con.execute("CREATE TABLE ev (type VARCHAR, oid VARCHAR, obj JSON, prev JSON)")
for page in sorted(Path(sys.argv[1]).iterdir()):
    con.execute(
        "INSERT INTO ev SELECT x[1], x[2], json_extract(j, '$.data.object'), "
        "json_extract(j, '$.data.previous_attributes') FROM (SELECT "
        "json_extract_string(j, ['$.type', '$.data.object.id']) AS x, j FROM (SELECT "
        "unnest(json_extract(json, '$.data[*].data')) AS j FROM read_json_objects(?, "
        f"format = 'auto', maximum_object_size = {page.stat().st_size + 1})))", [str(page)])
con.execute(
    "CREATE TABLE moved AS SELECT oid AS section, unnest(list_concat("
    "list_filter(b, lambda s: NOT list_contains(a, s)), "
    "list_filter(a, lambda s: NOT list_contains(b, s)))) AS student FROM (SELECT oid, "
    "from_json(obj->'students', '[\\"varchar\\"]') AS a, "
    "from_json(prev->'students', '[\\"varchar\\"]') AS b "
    "FROM ev WHERE type = 'sections.updated' AND (prev->'students') IS NOT NULL)")
print(con.execute("SELECT count(*) FROM moved").fetchone()[0])
"""

# The readers' copy a write publishes (rosterlab.store.files.publish), alone (argv: the store):
# the whole file copied in the kernel to a partial file, fsynced, removed.
PUBLISH = """
import os, sys
source = os.open(sys.argv[1], os.O_RDONLY)
size, done = os.fstat(source).st_size, 0
partial = sys.argv[1] + ".bench.partial"
out = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
while done < size:
    copied = os.copy_file_range(source, out, size - done, done)
    if not copied:
        break
    done += copied
os.fsync(out)
os.close(out)
os.remove(partial)
print(size)
"""


def cursor_of(recorded: Path) -> str:
    """The event cursor a full pull of the responses in ``recorded`` keeps (the newest event)."""
    index = json.loads((recorded / "index.json").read_text())
    return str(json.loads((recorded / index[CURSOR_URI]).read_text())["data"][-1]["data"]["id"])


@contextmanager
def replay(folder: Path) -> Iterator[str]:
    """Serve the responses :data:`RECORD` kept, as they were (the origin): the server's CPU
    is then a file read, as a pull from Clever costs this machine none of Clever's CPU."""
    index = json.loads((folder / "index.json").read_text())

    class Replay(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            name = index.get(self.path)
            body = (folder / name).read_bytes() if name else b'{"error":"not recorded"}'
            self.send_response(200 if name else 404)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Replay)
    worker = threading.Thread(target=server.serve_forever, daemon=True)
    worker.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def first_events(origin: str) -> float:
    """Seconds of the first /events request (the stand-in computes the events on it)."""
    began = time.perf_counter()
    run_timed([PYTHON, "-c", FIRST_EVENTS, origin], env=ENV)
    return time.perf_counter() - began


# ``python -m rosterlab`` with each progress line stamped with the process's CPU seconds too
# (where the CPU goes, phase by phase: on 2 cores the wall seconds hide it)
STAMPED = """
import sys, time
from rosterlab.cli import output, run
said = output.Progress.__call__
def stamped(self, message):
    said(self, f"{message} [cpu {time.process_time():.1f}s]")
output.Progress.__call__ = stamped
sys.argv[0] = "rosterlab"
run()
"""


def pull(store: Path, origin: str, mode: str, code: Path = ROOT) -> Timed:
    """A whole ``rosterlab api pull`` process (of the ``rosterlab`` in tree ``code``); its
    progress lines (elapsed seconds: where the time goes) are kept beside the store, in
    ``<store>.<mode>.progress``."""
    config = store.with_name("api.toml")
    config.write_text(TARGET.format(origin=origin))
    # -P: the working directory is not put first on sys.path, so ``code``'s rosterlab wins even
    # when the benchmark runs from another tree
    argv = [PYTHON, "-P", "-c", STAMPED, "--store", str(store), "--config", str(config),
            "api", "pull", "--target", "bench", "--district", DISTRICT, "--progress"]  # fmt: skip
    log = store.with_name(f"{store.name}.{mode}.progress")
    # exec: the timed child (its peak RSS) is the pull itself; stderr goes to the log
    shell = ["sh", "-c", 'exec "$@" 2>"$0"', str(log), *argv]
    env = {**ENV, "PYTHONPATH": str(code)}
    return run_timed([*shell, "--events"] if mode == "events" else shell, env=env)


def fresh_store(store: Path) -> None:
    """No store at ``store`` (a step run again would otherwise re-pull an unchanged snapshot)."""
    for path in store_files(store):
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def store_files(store: Path) -> list[Path]:
    """The store's files: itself, its readers' copy, progress logs, and its pulls' folder."""
    found = sorted(store.parent.glob(store.name + "*"))
    pulls = store.parent / f".{store.name}.api-pulls"
    return [*found, pulls] if pulls.exists() else found


def copy_store(store: Path, folder: Path) -> None:
    """``store`` with its files into ``folder`` (replacing what it held)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for path in store_files(store):
        copy = shutil.copytree if path.is_dir() else shutil.copy2
        copy(path, folder / path.name)


def timed(t: Timed) -> dict[str, float]:
    return {"seconds": t.seconds, "peak_mb": t.peak_mb, "cpu": round(t.cpu, 2)}


def load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def bare_and_full(recorded: Path, pages: Path, store: Path, code: Path) -> tuple[Timed, Timed]:
    """The bare loop (its pages to ``pages``, removed after) and a full pull into ``store``, made
    fresh, timed back to back against the recorded responses: on these 2 cores the stand-in's
    rendering would compete with the pull's own work (not the bare loop's)."""
    fresh_store(store)
    shutil.rmtree(pages, ignore_errors=True)
    pages.mkdir()
    with replay(recorded) as origin:
        bare = run_timed([PYTHON, "-c", BARE, origin, str(pages)], env=ENV)
        full = pull(store, origin, "full", code)
    shutil.rmtree(pages)
    return bare, full


def run_step(step: str, work: Path, students: int, code: Path = ROOT) -> dict[str, object]:
    """One step's measurements (the stores it needs are those the earlier steps left); the
    pulls run the ``rosterlab`` of tree ``code``."""
    uploads, pulls, fresh = work / "uploads.duckdb", work / "pulls.duckdb", work / "fresh.duckdb"
    after_full = work / "after-full"  # the full pull's store, the events steps' base
    if step == "bare":
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        source = history(students, 3) / "store.duckdb"
        shutil.copy(source, uploads)
        # with its readers' copy, which the stand-in reads: a stand-in reading the store file
        # itself would hold it, and step beside's pull into it would wait for it in vain
        shutil.copy(published_path(source), published_path(uploads))
        run_timed([PYTHON, "-c", OUTCOMES, str(uploads)], env=ENV)  # republishes the copy
        pages = work / "bare"
        pages.mkdir()
        with standin(uploads, 2) as served:
            bare = run_timed([PYTHON, "-c", BARE, served.origin, str(pages)], env=ENV)
        shutil.rmtree(pages)
        return {"bare": timed(bare), "standin": [served.started, served.peak_mb]}
    # full = record (untimed) + replay (timed); at 1M each fits a hold of the lock on its own
    recorded = work / "recorded"
    measured: dict[str, object] = {}
    if step in ("full", "record"):  # its event cursor is the events step's base: events served
        shutil.rmtree(recorded, ignore_errors=True)
        recorded.mkdir()
        with standin(uploads, 2) as served:
            warm = first_events(served.origin)  # Clever has them ready: not the pull's time
            run_timed([PYTHON, "-c", RECORD, served.origin, str(recorded)], env=ENV)
        measured = {"first_events": warm, "standin": [served.started, served.peak_mb]}
    if step in ("full", "replay"):
        bare, full = bare_and_full(recorded, work / "bare", pulls, code)
        copy_store(pulls, after_full)
        measured |= {"full": timed(full), "bare": timed(bare)}
    if measured:
        return measured
    if step == "events":  # from the full pull's store, so that it can be run again
        restore(after_full, pulls)
        with standin(uploads, 3) as served:
            warm = first_events(served.origin)
            print(
                f"stand-in start-up {served.started:.1f} s, first /events {warm:.1f} s", flush=True
            )
            events = pull(pulls, served.origin, "events", code)
        return {"events": timed(events), "first_events": warm,
                "standin": [served.started, served.peak_mb]}  # fmt: skip
    if step == "floor":
        return floor(work, code)
    if step == "full3":  # no events pull follows: the stand-in serves none
        fresh_store(fresh)
        with standin(uploads, 3, events=False) as served:
            full3 = pull(fresh, served.origin, "full", code)
        return {"full3": timed(full3), "standin": [served.started, served.peak_mb]}
    if step == "beside":  # night 3's pull beside its upload, then reconcile in the same hold
        with standin(uploads, 3, events=False) as served:
            pull(uploads, served.origin, "full", code)
    return reconciled(uploads)


def restore(after_full: Path, pulls: Path) -> None:
    """The full pull's store back at ``pulls`` (a copy: an events pull writes into it)."""
    fresh_store(pulls)
    for path in after_full.iterdir():
        copy = shutil.copytree if path.is_dir() else shutil.copy2
        copy(path, pulls.parent / path.name)


def floor(work: Path, code: Path) -> dict[str, object]:
    """Step floor, one hold: what merely fetching and reading the events costs, against the
    events pull and a full pull of the same hold.

    The events after the full pull's cursor are recorded from the stand-in of night 3 (its
    events computed by one request first; untimed, and kept for the step's next run). Then,
    each in its own child process:
    against a replay of those events, :data:`BARE_EVENTS` (pages to disk), each of
    :data:`EVENT_READINGS` over its pages (the floor: the one of fewest CPU seconds),
    :data:`EVENTS_DIFF` over them, and the events pull (on a copy of the full pull's store),
    then :data:`PUBLISH` of that pull's store; against the replay of night 2 (step
    record's), the bare loop and a full pull into a fresh store, as step replay times them.
    Replays on both sides: on 2 cores a live stand-in rendering the pages would compete with
    the client's work. The load average is kept at the start, after the events, at the end.
    """
    uploads, pulls, fresh = work / "uploads.duckdb", work / "pulls.duckdb", work / "fresh.duckdb"
    recorded, events_recorded = work / "recorded", work / "recorded-events"
    cursor = cursor_of(recorded)
    loads = [load()]
    index = events_recorded / "index.json"
    warm = None  # the events kept from an earlier run of the step (recorded once, untimed)
    if not index.exists() or f"starting_after={cursor}" not in index.read_text():
        shutil.rmtree(events_recorded, ignore_errors=True)
        events_recorded.mkdir()
        index.write_text("{}")
        with standin(uploads, 3) as served:
            warm = first_events(served.origin)
            run_timed([PYTHON, "-c", RECORD_EVENTS, served.origin, str(events_recorded), cursor],
                      env=ENV)  # fmt: skip
    pages = work / "bare-events"
    shutil.rmtree(pages, ignore_errors=True)
    pages.mkdir()
    with replay(events_recorded) as origin:
        bare_events = run_timed([PYTHON, "-c", BARE_EVENTS, origin, str(pages), cursor], env=ENV)
        reads = {
            name: run_timed([PYTHON, "-c", EVENTS_FLOOR, str(pages), sql], env=ENV)
            for name, sql in EVENT_READINGS.items()
        }
        sizes = [page.stat().st_size for page in pages.iterdir()]
        moved = run_timed([PYTHON, "-c", EVENTS_DIFF, str(pages)], env=ENV)
        restore(work / "after-full", pulls)
        events = pull(pulls, origin, "events", code)
    published = run_timed([PYTHON, "-c", PUBLISH, str(pulls)], env=ENV)
    loads.append(load())
    shutil.rmtree(pages)
    bare, full = bare_and_full(recorded, work / "bare", fresh, code)
    loads.append(load())
    cheapest = min(reads, key=lambda name: reads[name].cpu)
    lines = {
        "bare_events": bare_events,
        "duckdb_read": reads[cheapest],
        "entries_moved": moved,
        "readers_copy": published,
        "events": events,
    }
    return {
        "first_events": warm,
        "event_pages": [len(sizes), sum(sizes), max(sizes)],
        "events_read": {name: int(t.stdout.split()[-1]) for name, t in reads.items()},
        "entries": int(moved.stdout.split()[-1]),
        "store_bytes": int(published.stdout.split()[-1]),
        "readings": {name: timed(t) for name, t in reads.items()},
        "cheapest": cheapest,
        **{name: timed(t) for name, t in lines.items()},
        "bare": timed(bare),
        "full": timed(full),
        "x_full": {name: round(t.seconds / full.seconds, 3) for name, t in lines.items()},
        "x_full_cpu": {name: round(t.cpu / full.cpu, 3) for name, t in lines.items()},
        "loads": loads,
    }


def reconciled(uploads: Path) -> dict[str, object]:
    """Reconcile of night 3's upload with its pull, and the diff of nights 2 → 3, timed."""
    recon = run_timed([PYTHON, "-c", RECONCILE, str(uploads), DISTRICT], env=ENV)
    diff = run_timed([PYTHON, "-c", DIFF, str(uploads), DISTRICT, "2", "3"], env=ENV)
    return {"reconcile": timed(recon), "diff": timed(diff)}


def report(students: int, kept: dict[str, dict[str, object]]) -> str:
    def m(step: str, name: str) -> dict[str, float]:
        return kept[step][name]  # type: ignore[return-value]

    # the full pull against the bare loop of the same hold (same stand-in, same load)
    bare, full, events = m("full", "bare"), m("full", "full"), m("events", "events")
    again = "reconcile" if "reconcile" in kept else "beside"  # reconcile measured again, or not
    full3, recon, diff = m("full3", "full3"), m(again, "reconcile"), m(again, "diff")
    started, standin_mb = kept["bare"]["standin"]  # type: ignore[misc]
    loads = ", ".join(f"{step} {kept[step]['load']}" for step in STEPS[:-1] if step in kept)
    return "\n".join(
        [
            f"{students:,} students, 3 nights, ~1 % churn; stand-in on 127.0.0.1 (its own "
            f"process: start-up {started:.1f} s, peak RSS {standin_mb:,.0f} MB serving the bare "
            f"walk; first /events request {kept['events']['first_events']:.1f} s). Load average "
            f"(1/5/15 min) after each step: {loads}.",
            "",
            "| measurement | seconds | peak RSS MB | ratio | target |",
            "| --- | ---: | ---: | ---: | --- |",
            f"| bare httpx loop (pages to disk) | {bare['seconds']:.1f} | {bare['peak_mb']:,.0f} "
            "| 1.00 | |",
            f"| api pull, full (night 2) | {full['seconds']:.1f} | {full['peak_mb']:,.0f} | "
            f"{full['seconds'] / bare['seconds']:.2f} × bare | ≤ 1.5 ×, ≤ 1,536 MB |",
            f"| api pull --events (night 3) | {events['seconds']:.1f} | {events['peak_mb']:,.0f} | "
            f"{events['seconds'] / full3['seconds']:.2f} × full | ≤ 0.1 × |",
            f"| api pull, full (night 3) | {full3['seconds']:.1f} | {full3['peak_mb']:,.0f} | | |",
            f"| reconcile (night 3) | {recon['seconds']:.1f} | {recon['peak_mb']:,.0f} | "
            f"{recon['seconds'] / diff['seconds']:.2f} × diff | ≤ 2 × |",
            f"| diff nights 2 → 3 | {diff['seconds']:.1f} | {diff['peak_mb']:,.0f} | | |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1_000_000)
    parser.add_argument("--step", choices=("all", *STEPS, *SPLIT), default="all")
    parser.add_argument("--no-write", action="store_true", help="print, keep docs as they are")
    parser.add_argument("--work", type=Path, help="the steps' folder (default: data/api-STUDENTS)")
    parser.add_argument("--pull-code", type=Path, default=ROOT, help="tree whose rosterlab pulls")
    args = parser.parse_args()
    work = args.work or DATA / f"api-{args.students}"
    results = work / "results.json"
    for step in STEPS[:-1] if args.step == "all" else (args.step,):
        if step == "report":
            break
        measured = run_step(step, work, args.students, args.pull_code.resolve())
        kept = json.loads(results.read_text()) if results.exists() else {}
        name = SPLIT.get(step, step)
        if step == "events" and "full" in kept:  # against the full pull of the same run
            events, full = measured["events"], kept["full"]["full"]
            measured["x_full"] = round(events["seconds"] / full["seconds"], 3)  # type: ignore[index]
        kept[name] = {**kept.get(name, {}), **measured, "load": load()}
        kept[name]["pull_code"] = str(args.pull_code)
        results.write_text(json.dumps(kept, indent=1))
        print(f"{step}: {json.dumps(kept[name])}", flush=True)
    if args.step not in ("all", "report"):
        return
    body = report(args.students, json.loads(results.read_text()))
    print(body)
    if not args.no_write:
        write_section("Data API: pull, events, reconcile", body)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
