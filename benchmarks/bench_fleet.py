"""Fleet benchmark: a night of a synthetic fleet, serially and on a 2-worker Dask LocalCluster.

Targets (issue 15): 2 workers ≥ 1.7× the serial throughput on this 2-core machine; scheduler
overhead per district ≤ 50 ms. Then a capacity plan from the measured per-district costs.

The fleet is ``python -m rosterlab.synth fleet`` (most districts a few thousand students, about
one in seventy over 100,000; cached under benchmarks/data/). The nights before the last run on
2 workers into one fleet root (timed too: fresh stores); the Dask root starts as a copy of it,
and the last night (stores holding the history: the steady state) runs serially, then on 2
workers, each a whole ``rosterlab fleet run`` process. Scheduler overhead: one no-op task per
district through a 2-worker LocalCluster's client, against the same calls made directly, one at
a time (latency) and all at once (throughput).

    python -m benchmarks.bench_fleet [--districts 200] [--nights 2] [--max-students N]
        [--step all|prepare|measure|report]

``prepare`` (generate, the earlier nights), ``measure`` (the last night both ways, the overhead)
and ``report`` (the section of docs/benchmarks.md from what was kept; measures nothing) let a
busy machine's benchmark lock be held in short stints.
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


def config_for(folder: Path, name: str, *, empty: bool) -> Path:
    """A copy of the fleet's rosterlab.toml whose fleet root is ``name`` (emptied if ``empty``)."""
    if empty:
        shutil.rmtree(folder / name, ignore_errors=True)
    text = (folder / "rosterlab.toml").read_text(encoding="utf-8")
    config = folder / f"{name}.toml"
    config.write_text(text.replace('root = "fleet"', f'root = "{name}"', 1), encoding="utf-8")
    return config


def fleet_run(config: Path, night: str, *how: str) -> tuple[Timed, float]:
    """One ``rosterlab fleet run`` process: wall time and peak RSS, and its CPU seconds (user +
    system, its reaped children included: a LocalCluster's workers are its children)."""
    argv = ["--config", str(config), "fleet", "run", "--night", night, "--format", "json", *how]
    before = os.times()
    timed = run_timed([PYTHON, "-m", "rosterlab", *argv])
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return timed, cpu


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


TIMINGS = "timings.json"


def keep(folder: Path, night: str, how: str, timed: Timed, cpu: float) -> None:
    path = folder / TIMINGS
    kept = json.loads(path.read_text()) if path.exists() else {}
    kept.setdefault(night, {})[how] = [timed.seconds, timed.peak_mb, cpu, os.getloadavg()[0]]
    path.write_text(json.dumps(kept, indent=1))
    print(f"night {night} {how}: {timed.seconds:.1f} s, {cpu:.1f} CPU s")


def prepare(folder: Path, nights: list[str]) -> None:
    """Every night but the last, on 2 workers (the history the last night is measured on); the
    serial root starts as a copy of it, so both measure the last night from the same stores."""
    serial = config_for(folder, "fleet-serial", empty=True)
    (folder / TIMINGS).unlink(missing_ok=True)
    for night in nights[:-1]:
        keep(folder, night, "dask", *fleet_run(serial, night, "--workers", "2"))
    shutil.rmtree(folder / "fleet-dask", ignore_errors=True)
    shutil.copytree(folder / "fleet-serial", folder / "fleet-dask")


def measure(folder: Path, night: str, districts: int) -> None:
    """The last night serially, then on 2 workers, back to back; then the scheduler overhead."""
    serial = config_for(folder, "fleet-serial", empty=False)
    dask = config_for(folder, "fleet-dask", empty=False)
    keep(folder, night, "serial", *fleet_run(serial, night, "--serial"))
    keep(folder, night, "dask", *fleet_run(dask, night, "--workers", "2"))
    overhead = json.loads(run_timed([PYTHON, "-c", OVERHEAD, str(districts)]).stdout)
    path = folder / TIMINGS
    path.write_text(json.dumps({**json.loads(path.read_text()), "overhead": overhead}, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--districts", type=int, default=200)
    parser.add_argument("--nights", type=int, default=2)
    parser.add_argument("--max-students", type=int)
    parser.add_argument("--step", choices=("all", "prepare", "measure", "report"), default="all")
    args = parser.parse_args()
    from rosterlab.synth.fleet import district_sizes, plan_fleet

    folder = fleet_folder(args.districts, args.nights, args.max_students)
    plan = plan_fleet(args.districts, args.nights, max_students=args.max_students)
    nights = [plan.night_date(k).isoformat() for k in range(1, args.nights + 1)]
    if args.step in ("all", "prepare"):
        prepare(folder, nights)
    if args.step in ("all", "measure"):
        measure(folder, nights[-1], args.districts)
    if args.step == "prepare":
        return
    kept = json.loads((folder / TIMINGS).read_text())
    overhead = kept.pop("overhead")
    measured, on_dask = results(folder / "fleet-serial"), results(folder / "fleet-dask")
    sizes = sizes_of(folder)
    students, biggest = sum(sizes.values()), max(sizes.values())
    tonight = nights[-1]
    ran = [(sizes[d], s) for d, n, o, s in measured["rows"] if n == tonight and o != "no-upload"]
    a_wall, b_wall = fit(ran)
    if b_wall <= 0:  # size does not show through the noise: every district costs the mean
        a_wall, b_wall = statistics.fmean(s for _, s in ran), 0.0
    # The districts' wall seconds are inflated by the machine's other work; the serial process's
    # CPU seconds are not. Scale the fitted cost by CPU / wall to get a quiet core's cost.
    serial_s, serial_peak, serial_cpu, _ = kept[tonight]["serial"]
    dask_s = kept[tonight]["dask"][0]
    cpu_share = serial_cpu / sum(s for _, s in ran)
    a, b = a_wall * cpu_share, b_wall * cpu_share
    plan_students = sum(district_sizes(PLAN_DISTRICTS))
    plan_cpu = PLAN_DISTRICTS * a + b * plan_students
    cores = plan_cpu / (PLAN_WINDOW_H * 3600)
    machines = max(1, int((cores * 1.5 + 0.999) / 8 + 0.999))
    noun = "machine" if machines == 1 else "machines"
    store_a, store_b = fit([(sizes[d], float(n)) for d, n in measured["stores"].items()])
    plan_store = PLAN_DISTRICTS * store_a + store_b * plan_students
    speedup = serial_s / dask_s
    n = overhead["n"]
    latency_ms = (overhead["one_by_one"] - overhead["direct"]) / n * 1000
    amortised_ms = (overhead["all_at_once"] - overhead["direct"]) / n * 1000
    table = "\n".join(
        f"| {night}, {how} | {t[0]:.1f} | {t[2]:.1f} | {t[1]:,.0f} MB | {t[3]:.1f} |"
        for night in nights
        for how, t in kept[night].items()
    )
    same = sorted(r[:3] for r in measured["rows"]) == sorted(r[:3] for r in on_dask["rows"])
    scaled = f" --max-students {args.max_students}" if args.max_students else ""
    met = "met" if speedup >= TARGET_SPEEDUP else "**not met**"
    overhead_met = "met" if latency_ms <= TARGET_OVERHEAD_MS else "**not met**"
    body = f"""
`python -m benchmarks.bench_fleet --districts {args.districts} --nights {args.nights}{scaled}`:
the sample fleet of `python -m rosterlab.synth fleet` — {args.districts} districts,
{students:,} students (median district {statistics.median(sizes.values()):,.0f}, biggest
{biggest:,}); on the last night one district is held, one not processed, one fails (a hostile
zip), one has a row skipped, one sent nothing. The earlier nights run on 2 workers; the last
night runs serially, then with `--workers 2` (an embedded LocalCluster, its start included) in
a copy of the same fleet root, each a whole `rosterlab fleet run` process (DuckDB on one
thread per district both ways, rosterlab's default). CPU = user + system
seconds of the process and its workers. Load average on 2 cores: above ~2, other work shared the
machine and the seconds are inflated; compare the ratio, measured back to back.

| night, run | wall s | CPU s | peak RSS (parent) | load after |
| --- | ---: | ---: | ---: | ---: |
{table}

**Throughput, night {tonight}** (stores hold the earlier nights: the steady state): 2 workers
{args.districts / dask_s:.2f} districts/s against {args.districts / serial_s:.2f} serially,
**{speedup:.2f}×** (target ≥ {TARGET_SPEEDUP}×: {met}). Serial and Dask runs recorded the same
outcome for every district and night: {"yes" if same else "NO"}. Where the Dask night's extra
CPU goes, and what rosterlab's embedded cluster changes for it: "Fleet: where the CPU goes" below.

**Scheduler overhead per district** ({n} no-op tasks through a 2-worker LocalCluster's client,
minus the same calls made directly): **{latency_ms:.1f} ms** a task submitted and awaited one at
a time; {amortised_ms:.2f} ms a task when all are submitted at once (as `fleet run` does). Target
≤ {TARGET_OVERHEAD_MS:.0f} ms: {overhead_met}. Starting the LocalCluster:
{overhead["cluster_start"]:.1f} s, once per run.

### Capacity plan

Per-district cost, fitted over the {len(ran)} districts that had an upload on night {tonight}
(`outcomes.seconds`: fetch, ingest, checks, outcome, diff, Parquet) and scaled to CPU time by
the serial run's CPU / wall ({cpu_share:.2f}): **{a:.2f} s + {b * 1e6:,.1f} µs per student** of
one core ({a_wall:.2f} s + {b_wall * 1e6:,.1f} µs as measured on this busy machine).

- **{PLAN_DISTRICTS:,} districts** with the same size spread have {plan_students:,} students:
  {plan_cpu / 3600:,.1f} core-hours a night. A {PLAN_WINDOW_H:.0f}-hour window needs
  {cores:,.1f} busy cores; plan **{max(2, int(cores * 1.5 + 0.999)):,} worker cores** (half again
  for retries, bad nights and the tail of big districts), e.g. {machines:,} {noun} of 8 cores.
  Memory: a worker holds one district at a time; the serial run peaked at
  {serial_peak:,.0f} MB (its biggest district {biggest:,} students), and the ingest
  benchmark's 1M district at ~2.9 GB: 2–3 GiB per worker core.
- **The biggest district bounds the night**: a 250,000-student district costs
  {a + b * 250_000:,.0f} s of one core, a 1M one {a + b * 1_000_000:,.0f} s. Submit the biggest
  first so they are not the tail.

Where it stops scaling:
- **Store size and placement.** Stores fit {store_a / 2**20:,.1f} MiB + {store_b:,.0f} bytes
  per student after {args.nights} nights ({sum(measured["stores"].values()) / 2**20:,.0f} MiB
  here): ~{plan_store / 2**30:,.0f} GiB for {PLAN_DISTRICTS:,} districts, growing with changes,
  not nights. Every worker must reach every store (a shared file system; DuckDB files over NFS
  need care with locking) or districts are pinned to workers by a hash of their id.
- **Parquet file counts.** Five files per district and night ({measured["files"]:,} after this
  run): {5 * PLAN_DISTRICTS:,} a night at {PLAN_DISTRICTS:,} districts, ~{
        5 * PLAN_DISTRICTS * 365 / 1e6:,.0f} million a year. Listing and opening them, not their
  bytes, dominates `fleet status` and any reader: compact each finished night into one file per
  table (district as a column), keeping the hive `night=` level.
- **Scheduler task rate.** {PLAN_DISTRICTS:,} tasks at the measured {amortised_ms:.2f} ms is {
        PLAN_DISTRICTS * amortised_ms / 1000:,.0f} s of scheduling a night: not the limit while
  there is one task per district (not per file or table).
"""
    write_section("Fleet", body)
    print(body)


if __name__ == "__main__":
    main()
