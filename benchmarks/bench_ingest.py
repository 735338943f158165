"""Ingest benchmark: one night of a 1M-student district into a store holding the previous night.

Targets (issue 2): ingest time <= 2x a bare DuckDB ``CREATE TABLE AS SELECT * FROM read_csv(...,
all_varchar=true)`` of the same files measured in the same run; peak memory <= 3 GB; re-ingesting
the same night is a no-op; N nights take <= 2x the disk of one night's tables.

    python -m benchmarks.bench_ingest [--students 1000000] [--nights 30]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import (
    PYTHON,
    Timed,
    ingest_without_checks,
    nights_of,
    run_timed,
    synth_district,
    write_section,
)

BARE_CTAS = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
for path in sys.argv[2:]:
    name = path.rsplit('/', 1)[-1].removesuffix('.csv')
    con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_csv('{path}', all_varchar=true)")
con.close()
"""

STORE_SIZES = """
import sys, json, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
# Used blocks, not the file size: blocks freed by an ingest are reused by the next one.
block_size, used_blocks = con.execute(
    "SELECT block_size, used_blocks FROM pragma_database_size()"
).fetchall()[0]
sizes = {"used_bytes": block_size * used_blocks}
if sys.argv[2:] == ["store"]:
    for codec, n, packed in con.execute(
        "SELECT codec, count(*), sum(octet_length(data) + coalesce(("
        "SELECT sum(octet_length(p.data)) FROM raw_file_parts p WHERE p.sha256 = r.sha256), 0)) "
        "FROM raw_files r GROUP BY codec"
    ).fetchall():
        sizes[codec] = {"files": n, "bytes": int(packed)}
print(json.dumps(sizes))
"""


def ingest(store: Path, night: Path) -> Timed:
    return run_timed(
        [
            PYTHON,
            "-m",
            "rosterlab",
            "--store",
            str(store),
            "ingest",
            str(night),
            "--district",
            "bench",
            "--taken-at",
            f"{night.name}T02:00:00",
            "--format",
            "json",
        ]
    )


def store_sizes(store: Path) -> dict[str, Any]:
    """Used bytes of the store; raw files kept per codec; tables = the rest."""
    sizes: dict[str, Any] = json.loads(
        run_timed([PYTHON, "-c", STORE_SIZES, str(store), "store"]).stdout
    )
    sizes["raw_bytes"] = sum(sizes.get(c, {}).get("bytes", 0) for c in ("zstd", "zstd-delta"))
    sizes["raw_files"] = sum(sizes.get(c, {}).get("files", 0) for c in ("zstd", "zstd-delta"))
    sizes["table_bytes"] = sizes["used_bytes"] - sizes["raw_bytes"]
    return sizes


def used_bytes(database: Path) -> int:
    return int(
        json.loads(run_timed([PYTHON, "-c", STORE_SIZES, str(database)]).stdout)["used_bytes"]
    )


def raw_kept(sizes: dict[str, Any]) -> str:
    """e.g. '83 MB (6 keyframes 82 MB + 6 deltas 1 MB)'."""
    full, delta = sizes.get("zstd", {}), sizes.get("zstd-delta", {})
    return (
        f"{mb(sizes['raw_bytes'])} ({full.get('files', 0)} keyframes {mb(full.get('bytes', 0))} + "
        f"{delta.get('files', 0)} deltas {mb(delta.get('bytes', 0))})"
    )


def mb(n: float) -> str:
    return f"{n / 2**20:,.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=1_000_000)
    parser.add_argument("--nights", type=int, default=2, help="nights to ingest (>= 2)")
    args = parser.parse_args()
    folder = synth_district("bench", students=args.students, nights=max(2, args.nights))
    nights = nights_of(folder)[: max(2, args.nights)]
    csvs = sorted(str(p) for p in nights[1].glob("*.csv"))
    input_bytes = sum(Path(p).stat().st_size for p in csvs)

    with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
        base = Path(tmp) / "bare.duckdb"
        bare = run_timed([PYTHON, "-c", BARE_CTAS, str(base), *csvs])
        one_night_tables = used_bytes(base)
        store = Path(tmp) / "store.duckdb"
        first = ingest(store, nights[0])
        after_first = store_sizes(store)
        alone = Path(tmp) / "alone.duckdb"
        shutil.copyfile(store, alone)
        second_alone = ingest_without_checks(
            alone, nights[1], "bench", f"{nights[1].name}T02:00:00"
        )
        alone.unlink()
        second = ingest(store, nights[1])
        after_second = store_sizes(store)
        again = ingest(store, nights[1])
        assert json.loads(again.stdout)["snapshot"]["new"] is False
        later = [ingest(store, night) for night in nights[2:]]
        final = store_sizes(store)

    ratio = second_alone.seconds / bare.seconds
    growth = after_second["table_bytes"] - after_first["table_bytes"]
    lines = [
        f"District: {args.students:,} students (rosterlab.synth seed 1, ~1 % nightly churn); "
        f"one night = {len(csvs)} files, {mb(input_bytes)} of CSV.",
        "",
        "| measurement | seconds | peak RSS | vs bare CTAS |",
        "| --- | ---: | ---: | ---: |",
        f"| bare DuckDB CTAS of night 2 (all_varchar) | {bare.seconds:.2f} | {bare.peak_mb:,.0f} MB"
        " | 1.00× |",
        f"| ingest night 1 into an empty store | {first.seconds:.2f} | {first.peak_mb:,.0f} MB | "
        f"{first.seconds / bare.seconds:.2f}× |",
        f"| **ingest night 2 (store holds night 1), the store's ingest** | "
        f"**{second_alone.seconds:.2f}** | {second_alone.peak_mb:,.0f} MB | **{ratio:.2f}×** "
        "(target ≤ 2×) |",
        f"| `rosterlab ingest` of night 2: the same plus every check of the night | "
        f"{second.seconds:.2f} | {second.peak_mb:,.0f} MB | {second.seconds / bare.seconds:.2f}× |",
        f"| re-ingest night 2 (no-op) | {again.seconds:.2f} | {again.peak_mb:,.0f} MB | "
        f"{again.seconds / bare.seconds:.2f}× |",
        "",
        "Night 1 and the no-op run through `rosterlab ingest` (checks included). The checks "
        "have their own budget (section Checks); the ingest target compares the store's ingest "
        "(open and sniff the bundle, parse, merge into the history, keep the raw files, commit) "
        "with the bare read, each in its own process.",
        "",
        f"Disk: one night's bare tables {mb(one_night_tables)}. Store tables after night 1 "
        f"{mb(after_first['table_bytes'])}, after night 2 {mb(after_second['table_bytes'])} "
        f"(+{mb(growth)}, {growth / after_first['table_bytes']:.1%} for ~1 % churn). "
        f"Raw files kept after night 2 (zstd keyframes + patch-from deltas): "
        f"{raw_kept(after_second)}. Sizes are DuckDB's used blocks (freed blocks are reused).",
    ]
    if later:
        n = len(nights)
        lines += [
            "",
            f"After {n} nights: whole store {mb(final['used_bytes'])} = "
            f"**{final['used_bytes'] / one_night_tables:.2f}×** one night's bare tables "
            f"(target ≤ 2×): tables {mb(final['table_bytes'])} "
            f"({final['table_bytes'] / one_night_tables:.2f}×) + raw files kept "
            f"{raw_kept(final)}, {final['raw_bytes'] / n / 2**20:,.1f} MB a night. "
            f"Nights 3–{n} ingested in "
            f"{min(t.seconds for t in later):.1f}–{max(t.seconds for t in later):.1f} s each, "
            f"peak RSS ≤ {max(t.peak_mb for t in later):,.0f} MB.",
        ]
    write_section("Ingest", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
