"""Benchmark (not a test): a full check of a 1M-student / 8M-enrollment snapshot.

    .venv/bin/python -m benchmarks.bench_checks [--students 1000000] [--repeat 3]

The night is generated once with ``rosterlab.synth`` into the gitignored ``benchmarks/data/``.
Each step runs in its own process so its peak memory is its own (the kernel's high-water mark
is reset right before the measured step):

1. ``read``   — bare DuckDB: ``read_csv`` of the same files (all text) into tables: the yardstick;
2. ``ingest`` — for reference, then its ``checkpoint``: DuckDB leaves the ingest's writes in the
   WAL (~36 MB at 300k students) and the first commit after it writes them into the file — the
   checks' commit, unless this checkpoint does it first (``rosterlab ingest`` pays it either
   way: its store publishes a checkpointed copy on close). The checks then run in the same
   process, as ``rosterlab ingest`` does, on the staging the ingest left (``warm``: the budgeted
   number, ≤ 4 s and ≤ 3 GB);
3. ``cold``   — ``run_checks`` in a fresh process, which first re-parses the kept raw files;
4. ``cli``    — ``rosterlab check`` as a whole fresh process, start to exit, with no findings
   cached (as after a settings or ledger change): imports, opening the published copy,
   re-staging the raw files as the ingest recorded them, every check, output. Target: ≤ 1.5× the
   bare read (issue 12).

Wall and CPU seconds are both reported: the machine may be shared, and CPU seconds move less
with other people's load. Results replace the ``## Checks`` section of ``docs/benchmarks.md``.

``--caucasian`` is the findings-volume benchmark (issue 16): the same night with the Race column
saying ``Caucasian`` on every students.csv row (not a v2.1.1 code: one value problem repeated over
a whole column); its results replace the ``## Findings volume`` section. Target: checks ≤ 1×
the bare read.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Checks"
VOLUME_SECTION = "## Findings volume"
BUDGET_SECONDS, BUDGET_BYTES = 4.0, 3 * 1024**3
CLI_TARGET = 1.5  # fresh-process ``rosterlab check`` ÷ bare read
# The findings-volume night before findings counted records (main 75a80a4, same machine).
BEFORE_AGGREGATION = (
    "Before findings counted records (2026-12-06, main at 75a80a4, one run, load average 4.6): one "
    "`invalid-value` per students.csv row (479,672 findings for 300,000 students), each computed "
    "in Python and stored: check 11.22 s wall, 9.16 CPU s, 1.35 GiB — 9.11× wall, 7.27× CPU the "
    "read (1.23 s, 1.26 CPU s)."
)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _reset_peak() -> None:
    """Reset this process's peak RSS (VmHWM) so the next step's peak is its own."""
    Path("/proc/self/clear_refs").write_text("5")


def _peak_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _measure(step: Any) -> dict[str, float]:
    _reset_peak()
    wall, cpu = time.perf_counter(), _cpu()
    step()
    return {
        "wall": time.perf_counter() - wall,
        "cpu": _cpu() - cpu,
        "peak": float(_peak_bytes()),
    }


def night_folder(students: int, caucasian: bool = False) -> Path:
    """The benchmark night, generated on first use (deterministic: same bytes every time).

    ``caucasian``: a copy whose students.csv says ``Caucasian`` in every Race cell.
    """
    from rosterlab.synth import generate_district, write_night

    folder = DATA / f"checks-{students}" / "2026-09-01"
    if not (folder / "enrollments.csv").exists():
        night = generate_district("bench", students=students, seed=4).night(1)
        write_night(night, folder)
    if not caucasian:
        return folder
    damaged = DATA / f"checks-{students}-caucasian" / "2026-09-01"
    if not (damaged / "students.csv").exists():
        damaged.mkdir(parents=True, exist_ok=True)
        for path in folder.glob("*.csv"):
            if path.name != "students.csv":
                (damaged / path.name).write_bytes(path.read_bytes())
        with (folder / "students.csv").open(newline="") as src:
            rows = list(csv.reader(src))
        race = rows[0].index("Race")
        for row in rows[1:]:
            row[race] = "Caucasian"
        with (damaged / "students.csv").open("w", newline="") as out:
            csv.writer(out, lineterminator="\n").writerows(rows)
    return damaged


def child_read(folder: Path, repeat: int) -> list[dict[str, float]]:
    import duckdb

    files = sorted(folder.glob("*.csv"))
    runs = []
    for _ in range(repeat):
        con = duckdb.connect()

        def read(con: duckdb.DuckDBPyConnection = con) -> None:
            for i, path in enumerate(files):
                con.execute(
                    f"CREATE TABLE t{i} AS SELECT * FROM read_csv(?, header = true, "
                    "all_varchar = true)",
                    [str(path)],
                ).fetchall()

        runs.append(_measure(read))
        con.close()
    return runs


def _timed_checks(spent: dict[str, float]) -> None:
    """Make every check record its wall seconds in ``spent`` (where the time goes)."""
    from rosterlab.checks import run

    def timed(check: Any) -> Any:
        def timed_run(ctx: Any) -> Any:
            start = time.perf_counter()
            try:
                return check.run(ctx)
            finally:
                spent[check.name] = spent.get(check.name, 0.0) + time.perf_counter() - start

        return type(check)(check.name, check.codes, timed_run)

    run.CHECKS = tuple(timed(check) for check in run.CHECKS)


def child_warm(folder: Path, store_path: Path, repeat: int) -> dict[str, Any]:
    from rosterlab import spec
    from rosterlab.bundle import open_bundle
    from rosterlab.checks import run_checks
    from rosterlab.store import Store, ingest_bundle

    store_path.unlink(missing_ok=True)
    Path(f"{store_path}.published").unlink(missing_ok=True)  # the copy readers open, if any
    with Store.open(store_path) as store, open_bundle(folder) as bundle:
        ingested: list[int] = []
        ingest = _measure(
            lambda: ingested.append(ingest_bundle(store, bundle, district="bench").snapshot.id)
        )
        checkpoint = _measure(lambda: store.execute("CHECKPOINT"))
        found: list[Any] = []
        spent: dict[str, float] = {}
        _timed_checks(spent)
        checks = [
            _measure(lambda: found.append(run_checks(store, ingested[0], refresh=True)))
            for _ in range(repeat)
        ]
        summary = found[0].summary()
        records = spec.record_counts(found[0].findings)
    return {
        "ingest": ingest,
        "checkpoint": checkpoint,
        "checks": checks,
        "summary": summary,
        "records": records,
        "spent": {name: seconds / repeat for name, seconds in spent.items()},
    }


def child_cold(store_path: Path) -> dict[str, float]:
    from rosterlab.checks import run_checks
    from rosterlab.store import Store

    with Store.open(store_path) as store:
        snapshot = store.snapshots("bench")[-1].id
        return _measure(lambda: run_checks(store, snapshot, refresh=True))


def forget_checks(store_path: Path) -> None:
    """Drop the findings the checks cached, so the next ``rosterlab check`` computes them."""
    from rosterlab.store import Store

    with Store.open(store_path) as store:
        store.execute("DELETE FROM check_runs")


def cli_check(store_path: Path, repeat: int) -> list[dict[str, float]]:
    """``rosterlab check --format json`` in a fresh process each time: wall from spawn to exit,
    the child's CPU and peak RSS (``wait4``)."""
    forget_checks(store_path)
    command = [sys.executable, "-m", "rosterlab", "--store", str(store_path), "check"]
    command += ["--district", "bench", "--format", "json"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROSTERLAB_")}
    runs = []
    for _ in range(repeat):
        wall = time.perf_counter()
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        runs.append(
            {
                "wall": time.perf_counter() - wall,
                "cpu": usage.ru_utime + usage.ru_stime,
                "peak": float(usage.ru_maxrss * 1024),
            }
        )
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode not in (0, 1):  # 1: findings at or above --fail-on
            raise RuntimeError(f"rosterlab check exited {child.returncode}")
    return runs


def _child(*argv: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_checks", *argv],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _rows(folder: Path) -> dict[str, int]:
    counts = {}
    for path in sorted(folder.glob("*.csv")):
        with path.open("rb") as fh:
            counts[path.name] = sum(1 for _ in fh) - 1
    return counts


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in ("wall", "cpu", "peak")}


def _gib(value: float) -> str:
    return f"{value / 1024**3:.2f} GiB"


def report(students: int, repeat: int, caucasian: bool = False) -> str:
    folder = night_folder(students, caucasian)
    store_path = DATA / f"checks-{students}{'-caucasian' if caucasian else ''}.duckdb"
    for stale in (store_path, store_path.with_name(store_path.name + ".published")):
        stale.unlink(missing_ok=True)
    load_before = os.getloadavg()
    read = _median(_child("read", str(folder), str(repeat)))
    warm = _child("warm", str(folder), str(store_path), str(repeat))
    cold = _child("cold", str(store_path))
    cli = _median(cli_check(store_path, repeat))
    load_after = os.getloadavg()
    check = _median(warm["checks"])
    rows = _rows(folder)
    size = sum(p.stat().st_size for p in folder.glob("*.csv"))
    if caucasian:  # the target: checks no slower than the bare read of the same files
        verdict = "within" if check["wall"] <= read["wall"] else "over"
    else:
        verdict = (
            "within"
            if check["wall"] <= BUDGET_SECONDS and check["peak"] <= BUDGET_BYTES
            else "over"
        )
    budget = "target ≤ 1× the read" if caucasian else f"budget ≤ {BUDGET_SECONDS:.0f} s, ≤ 3 GiB"
    lines = [
        VOLUME_SECTION if caucasian else SECTION,
        "",
        f"`python -m benchmarks.bench_checks{' --caucasian' if caucasian else ''}` "
        f"({date.today().isoformat()}): every check "
        f"(`run_checks`, recomputed) of one synthetic night — {rows['students.csv']:,} "
        f"students.csv rows ({students:,} students), {rows['enrollments.csv']:,} enrollments, "
        f"{rows['sections.csv']:,} sections; {size / 1e6:,.0f} MB of CSV. Machine: "
        f"{os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}; "
        f"load average {load_before[0]:.1f} before and {load_after[0]:.1f} after (the machine "
        "was shared). Median of "
        f"{repeat} runs; peak = the step's own peak RSS.",
        "",
        "| step | wall s | CPU s | peak RSS |",
        "| --- | ---: | ---: | ---: |",
        f"| bare DuckDB `read_csv` of the same files (yardstick) | {read['wall']:.2f} | "
        f"{read['cpu']:.2f} | {_gib(read['peak'])} |",
        f"| ingest (reference, not budgeted) | {warm['ingest']['wall']:.2f} | "
        f"{warm['ingest']['cpu']:.2f} | {_gib(warm['ingest']['peak'])} |",
        f"| the ingest's checkpoint (its WAL written into the file; reference) | "
        f"{warm['checkpoint']['wall']:.2f} | {warm['checkpoint']['cpu']:.2f} | "
        f"{_gib(warm['checkpoint']['peak'])} |",
        f"| **check right after ingest** ({budget}) | "
        f"**{check['wall']:.2f}** | {check['cpu']:.2f} | {_gib(check['peak'])} |",
        f"| check in a fresh process (re-stages the raw files first) | {cold['wall']:.2f} | "
        f"{cold['cpu']:.2f} | {_gib(cold['peak'])} |",
        f"| **`rosterlab check`, whole fresh process, nothing cached** (target ≤ "
        f"{CLI_TARGET}× the read) | **{cli['wall']:.2f}** | {cli['cpu']:.2f} | "
        f"{_gib(cli['peak'])} |",
        "",
        f"Check ÷ bare read: {check['wall'] / read['wall']:.2f}× wall, "
        f"{check['cpu'] / read['cpu']:.2f}× CPU. Verdict: {verdict} budget on this run. "
        f"Fresh-process `rosterlab check` ÷ bare read: {cli['wall'] / read['wall']:.2f}× wall, "
        f"{cli['cpu'] / read['cpu']:.2f}× CPU (target ≤ {CLI_TARGET}×: "
        f"{'within' if cli['wall'] <= CLI_TARGET * read['wall'] else 'over'}). "
        f"Findings on the {'Race = Caucasian' if caucasian else 'clean'} night: "
        f"{warm['summary']['by_code']} (records: {warm['records']}).",
        "",
        "Where the check's time goes (wall s per check, mean of the runs; the rest is staging, "
        "recording the findings and the commit): "
        + ", ".join(
            f"{name} {seconds:.2f}"
            for name, seconds in sorted(warm["spent"].items(), key=lambda kv: -kv[1])
        )
        + ".",
        "",
        *([BEFORE_AGGREGATION, ""] if caucasian else []),
        "",
    ]
    return "\n".join(lines)


def write_section(section: str) -> None:
    """Replace (or append) the section (its first line is its title) of docs/benchmarks.md."""
    title = section.splitlines()[0]
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n\n"
    if title in text:
        start = text.index(title)
        rest = text.find("\n## ", start + len(title))
        text = text[:start] + section + (text[rest + 1 :] if rest != -1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.write_text(text)


def main(argv: list[str]) -> None:
    if argv and argv[0] in ("read", "warm", "cold"):
        step, operands = argv[0], argv[1:]
        if step == "read":
            result: Any = child_read(Path(operands[0]), int(operands[1]))
        elif step == "warm":
            result = child_warm(Path(operands[0]), Path(operands[1]), int(operands[2]))
        else:
            result = child_cold(Path(operands[0]))
        print(json.dumps(result, default=str))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the docs")
    parser.add_argument(
        "--caucasian", action="store_true", help="findings volume: Race = Caucasian on every row"
    )
    args = parser.parse_args(argv)
    section = report(args.students, args.repeat, args.caucasian)
    print(section)
    if not args.no_write:
        write_section(section)


if __name__ == "__main__":
    main(sys.argv[1:])
