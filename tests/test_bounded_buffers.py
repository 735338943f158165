"""One hostile file must not take the machine down: memory stays bounded whatever its shape.

Incident (issue 18): 2 GiB without a line break took 22.5 GB of memory — the scan that counts
each record's fields buffered the text until a newline that never came. Every line buffer is now
bounded by the parser's line limit; a line past it is a malformed row. Measured in a child
process (its peak RSS): 96 MiB of text after the last row used 1.2 GB before, about 0.3 GB now.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.corpus.cases import ROWS, STUDENTS_HEADER, students, tiny_files, write_folder

PEAK = """
import resource, sys
from rosterlab.cli import main
code = main(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, code, file=sys.stderr)
"""


def test_a_96_mib_line_without_a_break_is_read_in_bounded_memory(tmp_path: Path) -> None:
    bundle = write_folder(tmp_path / "bundle", tiny_files())
    with (bundle / "students.csv").open("wb") as fh:
        fh.write(students(STUDENTS_HEADER, *ROWS))
        for _ in range(96):
            fh.write(b"x" * 2**20)
    store = tmp_path / "store.duckdb"
    argv = ["--store", str(store), "ingest", str(bundle), "--district", "d"]
    argv += ["--taken-at", "2026-09-01", "--format", "json"]
    done = subprocess.run(
        [sys.executable, "-c", PEAK, *argv],
        capture_output=True,
        text=True,
        check=True,
    )
    peak_mb, code = map(int, done.stderr.split())
    summary = json.loads(done.stdout)["findings_summary"]
    assert (code, summary["error"]) == (0, 1)  # one malformed-row: line too long
    assert peak_mb < 600, f"peak RSS {peak_mb} MB"
