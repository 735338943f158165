"""CLI start-up as a user feels it: ``rosterlab --help`` and ``rosterlab COMMAND --help``, whole
process, interpreter start and teardown included, against ``python -c pass`` measured in the
same run. Target (issue 12): ``rosterlab --help`` ≤ 0.3 s wall.

    python -m benchmarks.bench_cli
"""

from __future__ import annotations

import statistics

from benchmarks.common import PYTHON, run_timed, write_section

RUNS = 15
TARGET_S = 0.3
COMMANDS: tuple[tuple[str, list[str]], ...] = (
    ("`python -c pass` (yardstick)", [PYTHON, "-c", "pass"]),
    ("`rosterlab --help`", [PYTHON, "-m", "rosterlab", "--help"]),
    ("`rosterlab diff --help`", [PYTHON, "-m", "rosterlab", "diff", "--help"]),
    ("`rosterlab check --help`", [PYTHON, "-m", "rosterlab", "check", "--help"]),
)


def main() -> None:
    rows = []
    medians = {}
    for label, argv in COMMANDS:
        run_timed(argv)  # warm the page cache
        times = sorted(run_timed(argv).seconds for _ in range(RUNS))
        medians[label] = statistics.median(times)
        rows.append(f"| {label} | {times[0]:.3f} | {medians[label]:.3f} | {times[-1]:.3f} |")
    help_s = medians["`rosterlab --help`"]
    verdict = "within" if help_s <= TARGET_S else "OVER"
    body = (
        f"`python -m benchmarks.bench_cli`: each command {RUNS} times as a whole process "
        "(after one warm-up run).\n\n"
        "| command | best s | median s | worst s |\n| --- | ---: | ---: | ---: |\n"
        + "\n".join(rows)
        + f"\n\n`rosterlab --help` median {help_s:.3f} s: {verdict} the {TARGET_S} s target. "
        "Parsing imports no engine: duckdb, polars, numpy, pyarrow and paramiko are imported by "
        "the command that uses them (tests/test_cli_startup.py keeps it so)."
    )
    write_section("CLI start-up", body)
    print(body)


if __name__ == "__main__":
    main()
