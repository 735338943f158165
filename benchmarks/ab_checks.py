"""A/B of the check benchmark between source trees, alternating, in one process (not a test).

    python -m benchmarks.ab_checks TREE[,TREE...] [--rounds 3] [--students 300000] [--clean]
        [--repeat 3]

Each round runs, for every tree in turn, ``bench_checks``' own child steps with that tree's code
(``PYTHONPATH=TREE``): ``read`` (the bare DuckDB read, the yardstick) and ``warm`` (ingest, then
the checks in the same process: the number the issues budget). The night is bench_checks' (the
Race = Caucasian one unless ``--clean``; generated on first use). Alternating the trees inside
each round puts them under the same load, which on a shared 2-core machine moves single runs by
more than a change does.
One line per tree and round: the load, read and check wall / CPU seconds, check ÷ read, peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_checks import night_folder
from benchmarks.common import PYTHON


def child(tree: Path, *argv: str) -> Any:
    """One bench_checks child step run by ``tree``'s code; its JSON result."""
    out = subprocess.run(
        [PYTHON, "-m", "benchmarks.bench_checks", *argv],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure(tree: Path, folder: Path, repeat: int, scratch: Path) -> str:
    """One tree's line: the read and the warm check of ``folder``, medians of ``repeat`` runs."""
    load = os.getloadavg()[0]
    read = child(tree, "read", str(folder), str(repeat))
    store = scratch / f"{tree.name}.duckdb"
    warm = child(tree, "warm", str(folder), str(store), str(repeat))
    for written in scratch.iterdir():
        written.unlink()
    checks = warm["checks"]
    read_wall = statistics.median(r["wall"] for r in read)
    read_cpu = statistics.median(r["cpu"] for r in read)
    wall = statistics.median(c["wall"] for c in checks)
    cpu = statistics.median(c["cpu"] for c in checks)
    peak = statistics.median(c["peak"] for c in checks) / 2**30
    return (
        f"{time.strftime('%H:%M:%S', time.gmtime())} load {load:.1f} {tree.name:12} "
        f"read {read_wall:.2f} / {read_cpu:.2f} s, check {wall:.2f} / {cpu:.2f} s "
        f"= {wall / read_wall:.2f}× / {cpu / read_cpu:.2f}× (wall / CPU), peak {peak:.2f} GiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", help="comma-separated source trees (git worktrees)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--students", type=int, default=300_000)
    parser.add_argument("--clean", action="store_true", help="the clean night, not Caucasian")
    parser.add_argument("--repeat", type=int, default=3, help="runs per step (median)")
    args = parser.parse_args()
    trees = [Path(t).resolve() for t in args.trees.split(",")]
    folder = night_folder(args.students, not args.clean)
    with tempfile.TemporaryDirectory(prefix="ab-checks-") as scratch:
        for _ in range(args.rounds):
            for tree in trees:
                print(measure(tree, folder, args.repeat, Path(scratch)), flush=True)


if __name__ == "__main__":
    main()
