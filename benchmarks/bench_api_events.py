"""Events pull against the full pull, phase by phase, for several code trees in one run.

The apibench district (``benchmarks/data/apibench-<students>-3n-s1``: three upload nights,
~1 % churn) is ingested once into an uploads store; the stand-in of the first tree serves
night 2, then night 3 (its events computed by one request first, untimed: Clever has them
ready), and every response a pull needs is recorded once (night 2's pages and event cursor;
night 3's pages and the events after night 2's cursor). Per tree, in the same run, against a
replay of those responses (as ``bench_api --step full`` does: on 2 cores the stand-in's
rendering would compete with the pull, and a real pull costs this machine none of Clever's
CPU): a full pull of night 2 into a fresh store, the events pull of night 3 on top of it, and
a full pull of night 3 into another fresh store. Each pull is its own child process and runs
the checks after it as ``rosterlab api pull`` does; the pull (to the commit) and the checks are
timed apart, with the pull's progress stamps.

    python -m benchmarks.bench_api_events --students 50000 --tree /work/main --tree .

Target (issue 14): the events pull ≤ 0.1× the full pull. Prints JSON; writes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from pathlib import Path

from benchmarks.bench_api import (
    FIRST_EVENTS,
    RECORD,
    RECORD_EVENTS,
    TOKEN,
    cursor_of,
    free_port,
    peak_mb,
    replay,
)
from benchmarks.common import API_INGEST, DATA, PYTHON, run_timed

DISTRICT = "apibench"
# A child imports rosterlab from its tree only (not from the working directory first).
SAFE = {"PYTHONSAFEPATH": "1"}

PULL = """
import json, sys, time
began = time.perf_counter()
from rosterlab.api import pull_district
from rosterlab.api.target import ApiTarget
from rosterlab.checks import check_ingested
from rosterlab.store import Store
stamps = []
def say(message):
    stamps.append((round(time.perf_counter() - began, 3), message))
target = ApiTarget("bench", sys.argv[2], "3.1", "ROSTERLAB_STANDIN_TOKEN", timeout=600)
with Store.open(sys.argv[1]) as store:
    result = pull_district(store, target, sys.argv[4], district=sys.argv[3],
                           events=sys.argv[5] == "events", progress=say)
    pulled = time.perf_counter()
    check_ingested(store, result.ingest, None)
    checked = time.perf_counter()
print(json.dumps({"pull": pulled - began, "checks": checked - pulled, "stamps": stamps}))
"""


# A store built by older code is opened for writing once: the stand-in (a reader) needs the
# store's schema at the tree's migrations.
MIGRATE = "import sys\nfrom rosterlab.store import Store\nwith Store.open(sys.argv[1]):\n    pass\n"


def uploads_store(students: int, work: Path, tree: Path) -> Path:
    """The three upload nights in one store (built once, with the first tree's code)."""
    store = work / "uploads.duckdb"
    env = {**SAFE, "PYTHONPATH": str(tree)}
    if not store.exists():
        work.mkdir(parents=True, exist_ok=True)
        folder = DATA / f"apibench-{students}-3n-s1"
        for night in sorted(p for p in folder.iterdir() if p.is_dir()):
            run_timed([PYTHON, "-c", API_INGEST, str(store), str(night), DISTRICT,
                       f"{night.name}T02:00"], env=env)  # fmt: skip
    run_timed([PYTHON, "-c", MIGRATE, str(store)], env=env)
    return store


class StandIn:
    """``rosterlab api serve`` of one night of the uploads store, as its own process."""

    def __init__(self, store: Path, snapshot: int, tree: Path) -> None:
        port = free_port()
        env = {**os.environ, **SAFE, "ROSTERLAB_STANDIN_TOKEN": TOKEN, "PYTHONPATH": str(tree)}
        self.process = subprocess.Popen(
            [PYTHON, "-m", "rosterlab", "--store", str(store), "api", "serve", "--district",
             DISTRICT, "--snapshot", str(snapshot), "--port", str(port)],
            stdout=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        assert self.process.stdout is not None
        if not self.process.stdout.readline():
            raise RuntimeError("the stand-in did not start")
        self.origin = f"http://127.0.0.1:{port}"

    def stop(self) -> float:
        peak = peak_mb(self.process.pid)
        self.process.terminate()
        self.process.wait(timeout=60)
        return peak


def pull(store: Path, origin: str, mode: str, tree: Path) -> dict[str, object]:
    for stale in store.parent.glob(store.name + "*"):
        if mode == "full":
            if stale.is_dir():
                shutil.rmtree(stale)
            else:
                stale.unlink()
    env = {**SAFE, "ROSTERLAB_STANDIN_TOKEN": TOKEN, "PYTHONPATH": str(tree)}
    # -P: not the working directory's rosterlab first on sys.path, ``tree``'s
    argv = [PYTHON, "-P", "-c", PULL, str(store), origin, DISTRICT, TOKEN, mode]
    timed = run_timed(argv, env=env)
    return {"process": round(timed.seconds, 3), "peak_mb": round(timed.peak_mb),
            **json.loads(timed.stdout.strip().splitlines()[-1])}  # fmt: skip


def recorded(uploads: Path, work: Path, tree: Path) -> tuple[Path, Path]:
    """Night 2's and night 3's responses, recorded once (kept beside the uploads store)."""
    env = {"ROSTERLAB_STANDIN_TOKEN": TOKEN}
    folders = (work / "recorded-2", work / "recorded-3")
    for night, folder in enumerate(folders, start=2):
        if (folder / "index.json").exists():
            continue
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        served = StandIn(uploads, night, tree)
        try:
            run_timed([PYTHON, "-c", FIRST_EVENTS, served.origin], env=env)
            run_timed([PYTHON, "-c", RECORD, served.origin, str(folder)], env=env)
            if night == 3:
                cursor = cursor_of(folders[0])
                run_timed([PYTHON, "-c", RECORD_EVENTS, served.origin, str(folder), cursor],
                          env=env)  # fmt: skip
        finally:
            served.stop()
    return folders


def load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--tree", type=Path, action="append", required=True)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    trees = [t.resolve() for t in args.tree]
    work = DATA / f"api-events-{args.students}"
    uploads = uploads_store(args.students, work, trees[0])
    night2, night3 = recorded(uploads, work, trees[0])
    found: dict[str, dict[str, list[object]]] = {str(t): {} for t in trees}

    def keep(tree: Path, name: str, value: object) -> None:
        found[str(tree)].setdefault(name, []).append(value)
        print(json.dumps({"tree": str(tree), name: value, "load": load()}), flush=True)

    for _ in range(args.rounds):
        with replay(night2) as origin:
            for index, tree in enumerate(trees):
                keep(tree, "full2", pull(work / f"pulls-{index}.duckdb", origin, "full", tree))
        with replay(night3) as origin:
            for index, tree in enumerate(trees):
                keep(tree, "events", pull(work / f"pulls-{index}.duckdb", origin, "events",
                                          tree))  # fmt: skip
            for index, tree in enumerate(reversed(trees)):
                keep(tree, "full3", pull(work / f"fresh-{index}.duckdb", origin, "full", tree))


if __name__ == "__main__":
    main()
