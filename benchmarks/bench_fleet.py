"""Fleet benchmark: a night of a synthetic fleet, serially and on a 2-worker Dask LocalCluster.

Targets (issue 15): 2 workers ≥ 1.7× the serial throughput on this 2-core machine; scheduler
overhead per district ≤ 50 ms. Then a capacity plan from the measured per-district costs.

The fleet is ``python -m rosterlab.synth fleet`` (most districts a few thousand students, about
one in seventy over 100,000; cached under benchmarks/data/). Two copies of its rosterlab.toml
point at the same drop folders with separate fleet roots, so the serial and the Dask run each
build their own stores. Night 1 is run first for both (timed too: fresh stores), then night 2
(stores holding night 1: the steady state), each run a whole ``rosterlab fleet run`` process.
Scheduler overhead: one no-op task per district through a 2-worker LocalCluster's client,
against the same calls made directly, one at a time (latency) and all at once (throughput).

    python -m benchmarks.bench_fleet [--districts 200] [--nights 2] [--max-students N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
from pathlib import Path
from typing import Any

from benchmarks.common import DATA, PYTHON, Timed, run_timed, write_section

TARGET_SPEEDUP = 1.7
TARGET_OVERHEAD_MS = 50.0
PLAN_DISTRICTS = 15_000
PLAN_WINDOW_H = 4.0

READ_RESULTS = """
import json, sys, duckdb
root = sys.argv[1]
con = duckdb.connect()
rows = con.execute(
    "SELECT district, night::VARCHAR, outcome, seconds FROM read_parquet($p, "
    "hive_partitioning = true, hive_types = {'night': DATE, 'district': VARCHAR}) ORDER BY ALL",
    {"p": root + "/results/outcomes/night=*/district=*/*.parquet"},
).fetchall()
stores = {p.split("/")[-1][:-7]: __import__("os").path.getsize(p)
          for p in __import__("glob").glob(root + "/stores/*.duckdb")}
files = len(__import__("glob").glob(root + "/results/*/night=*/district=*/*.parquet"))
print(json.dumps({"rows": rows, "stores": stores, "files": files}))
"""

OVERHEAD = """
import json, sys, time
from distributed import Client, LocalCluster

def noop(district):
    return district

districts = [f"d{i:03d}" for i in range(int(sys.argv[1]))]
started = time.perf_counter()
with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                  host="127.0.0.1") as cluster, Client(cluster) as client:
    up = time.perf_counter() - started
    client.gather(client.map(noop, districts, pure=False))  # warm the workers
    t = time.perf_counter()
    direct = [noop(d) for d in districts]
    direct_s = time.perf_counter() - t
    t = time.perf_counter()
    for d in districts:
        client.submit(noop, d, pure=False, retries=2).result()
    one_by_one = time.perf_counter() - t
    t = time.perf_counter()
    client.gather(client.map(noop, districts, pure=False, retries=2))
    all_at_once = time.perf_counter() - t
print(json.dumps({"cluster_start": up, "direct": direct_s, "one_by_one": one_by_one,
                  "all_at_once": all_at_once, "n": len(districts)}))
"""


def fleet_folder(districts: int, nights: int, max_students: int | None) -> Path:
    """The sample fleet (generated once, cached under benchmarks/data/)."""
    scale = f"-max{max_students}" if max_students else ""
    folder = DATA / f"fleet-{districts}-{nights}n{scale}-s0"
    if not (folder / ".complete").exists():
        argv = ["--districts", str(districts), "--nights", str(nights), "--out", str(folder)]
        argv += ["--max-students", str(max_students)] if max_students else []
        subprocess.run([PYTHON, "-m", "rosterlab.synth", "fleet", *argv], check=True)
        (folder / ".complete").write_text("ok\n")
    return folder


def config_for(folder: Path, name: str) -> Path:
    """A copy of the fleet's rosterlab.toml whose fleet root is ``name`` (emptied first)."""
    shutil.rmtree(folder / name, ignore_errors=True)
    text = (folder / "rosterlab.toml").read_text(encoding="utf-8")
    config = folder / f"{name}.toml"
    config.write_text(text.replace('root = "fleet"', f'root = "{name}"', 1), encoding="utf-8")
    return config


def fleet_run(config: Path, night: str, *how: str) -> Timed:
    argv = ["--config", str(config), "fleet", "run", "--night", night, "--format", "json", *how]
    return run_timed([PYTHON, "-m", "rosterlab", *argv])


def results(root: Path) -> dict[str, Any]:
    out = subprocess.run(
        [PYTHON, "-c", READ_RESULTS, str(root)], check=True, capture_output=True, text=True
    )
    return dict(json.loads(out.stdout))


def sizes_of(folder: Path) -> dict[str, int]:
    """District → students, from the comments of the fleet's rosterlab.toml."""
    sizes, students = {}, 0
    for line in (folder / "rosterlab.toml").read_text(encoding="utf-8").splitlines():
        if line.startswith("# ") and " students; " in line:
            students = int(line[2:].split(" ", 1)[0].replace(",", ""))
        elif line.startswith("[fleet.districts."):
            sizes[line[len("[fleet.districts.") : -1]] = students
    return sizes


def fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least squares seconds = a + b × students."""
    xs, ys = [x for x, _ in points], [y for _, y in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    b = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x in xs)
    return my - b * mx, b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--districts", type=int, default=200)
    parser.add_argument("--nights", type=int, default=2)
    parser.add_argument("--max-students", type=int)
    args = parser.parse_args()
    from rosterlab.synth.fleet import district_sizes, plan_fleet

    load_before = os.getloadavg()[0]
    folder = fleet_folder(args.districts, args.nights, args.max_students)
    plan = plan_fleet(args.districts, args.nights, max_students=args.max_students)
    nights = [plan.night_date(k).isoformat() for k in range(1, args.nights + 1)]
    serial, dask = config_for(folder, "fleet-serial"), config_for(folder, "fleet-dask")
    timings: dict[str, list[Timed]] = {"serial": [], "dask": []}
    for night in nights:
        timings["serial"].append(fleet_run(serial, night, "--serial"))
        timings["dask"].append(fleet_run(dask, night, "--workers", "2"))
    overhead = json.loads(run_timed([PYTHON, "-c", OVERHEAD, str(args.districts)], env={}).stdout)
    load_after = os.getloadavg()[0]
    measured = results(folder / "fleet-serial")
    dask_results = results(folder / "fleet-dask")
    sizes = sizes_of(folder)
    students = sum(sizes.values())
    tonight = nights[-1]
    per_district = [
        (sizes[d], s) for d, n, o, s in measured["rows"] if n == tonight and o != "no-upload"
    ]
    a, b = fit(per_district)
    plan_students = sum(district_sizes(PLAN_DISTRICTS))
    plan_seconds = PLAN_DISTRICTS * a + b * plan_students
    cores = plan_seconds / (PLAN_WINDOW_H * 3600)
    store_bytes = sum(measured["stores"].values())
    speedups = [
        s.seconds / d.seconds for s, d in zip(timings["serial"], timings["dask"], strict=True)
    ]
    n = overhead["n"]
    latency_ms = (overhead["one_by_one"] - overhead["direct"]) / n * 1000
    amortised_ms = (overhead["all_at_once"] - overhead["direct"]) / n * 1000
    biggest = max(sizes.values())
    rows = "\n".join(
        f"| {night} | {s.seconds:.1f} | {s.peak_mb:,.0f} MB | {d.seconds:.1f} | "
        f"{d.peak_mb:,.0f} MB | **{s.seconds / d.seconds:.2f}×** |"
        for night, s, d in zip(nights, timings["serial"], timings["dask"], strict=True)
    )
    same = sorted((r[0], r[1], r[2]) for r in measured["rows"]) == sorted(
        (r[0], r[1], r[2]) for r in dask_results["rows"]
    )
    body = f"""
`python -m benchmarks.bench_fleet --districts {args.districts} --nights {args.nights}{
        f" --max-students {args.max_students}" if args.max_students else ""
    }`: a sample fleet of
{args.districts} districts, {students:,} students (median district {
        statistics.median(sizes.values()):,.0f}, biggest {biggest:,}; tonight's incidents: one held,
one not processed, one failed, one with rows skipped, one without an upload). Each night is one
whole `rosterlab fleet run` process: `--serial` (no Dask) against `--workers 2` (an embedded
LocalCluster, its start included), each into its own fleet root. Load average {load_before:.1f}
before and {load_after:.1f} after (2 cores; above ~1 other work shared the machine: compare the
ratios, measured in the same run, not the seconds).

| night | serial s | serial peak | 2 workers s | 2 workers peak (parent) | speed-up |
| --- | ---: | ---: | ---: | ---: | ---: |
{rows}

Night {tonight} (stores hold the earlier nights: the steady state) — speed-up **{
        speedups[-1]:.2f}×** (target ≥ {TARGET_SPEEDUP}×: {
        "met" if speedups[-1] >= TARGET_SPEEDUP else "NOT met"
    }). Both runs record the same
outcome for every district and night: {"yes" if same else "NO"}.

Scheduler overhead per district ({n} no-op tasks through a 2-worker LocalCluster's client, minus
the same calls made directly): **{latency_ms:.1f} ms** one task at a time (submit, wait for the
result), {amortised_ms:.2f} ms each when all are submitted at once (as `fleet run` does); target
≤ {TARGET_OVERHEAD_MS:.0f} ms: {"met" if latency_ms <= TARGET_OVERHEAD_MS else "NOT met"}.
Starting the LocalCluster: {overhead["cluster_start"]:.1f} s (once per run).

### Capacity plan

Per-district cost on night {tonight}, fitted over the {len(per_district)} districts that had an
upload (the `seconds` column of `outcomes`: ingest, checks, outcome, diff and Parquet, one core
each): **{a:.2f} s + {b * 1e6:,.0f} µs per student**. A fleet of {PLAN_DISTRICTS:,} districts
with the same size spread has {plan_students:,} students: {plan_seconds / 3600:,.1f} core-hours a
night, so a {PLAN_WINDOW_H:.0f}-hour window needs **{cores:,.1f} busy worker cores**; plan
{max(2, round(cores * 1.5 + 0.5)):,} (headroom for retries, bad nights and the biggest districts
starting last). Memory: a worker runs one district at a time; the serial run's peak RSS (one
process through every district, the biggest, {biggest:,} students, included) was {
        timings["serial"][-1].peak_mb:,.0f} MB, so 2–3 GiB per worker core covers districts up to
~250,000 students (the ingest benchmark's 1M district peaks near 3 GB).

Where it stops scaling:
- **Store size.** The {args.districts} stores hold {store_bytes / 2**20:,.0f} MiB after {
        args.nights
    } nights ({store_bytes / students:,.0f} bytes per student); at
  {PLAN_DISTRICTS:,} districts that is ~{store_bytes / students * plan_students / 2**30:,.0f} GiB,
  growing with changes, not nights. Every worker must reach every store: a shared file system
  (DuckDB files over NFS need care with locks) or districts pinned to workers by a hash of the id.
- **Parquet file counts.** Five tables per district and night: {measured["files"]:,} files for
  this run, {5 * PLAN_DISTRICTS:,} a night at {PLAN_DISTRICTS:,} districts, ~{
        5 * PLAN_DISTRICTS * 365 / 1e6:,.0f} million a year. Listing and opening them dominates
  `fleet status` long before the bytes do: compact each finished night into one file per table
  (district as a column, or a few row groups per night), keeping the hive `night=` level.
- **Scheduler task rate.** {PLAN_DISTRICTS:,} tasks a night at the measured overhead is {
        PLAN_DISTRICTS * amortised_ms / 1000:,.1f} s of scheduling in all: the scheduler is not
  the limit; one task per district (not per file or per table) keeps it so.
- **The biggest districts.** A 250,000-student district costs {a + b * 250_000:,.0f} s on one
  core; the night cannot finish sooner than its largest district. Submit the biggest first.
"""
    write_section("Fleet", body)
    print(body)


if __name__ == "__main__":
    main()
