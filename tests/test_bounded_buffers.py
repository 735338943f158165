"""One hostile file must not take the machine down: the reader's memory stays bounded.

Incident (issue 18): 2 GiB without a line break took 22.5 GB of memory — the scan that counts
each record's fields buffered the text until a newline that never came. Every line buffer is now
bounded by the parser's line limit, and a line past it is reported as too long (DuckDB alone
dropped such a last line without a word). Measured in a child process (its peak RSS) over the
reader's passes (sniff, then the field count): 96 MiB of text after the last row took 1,020 MB
before, 125 MB now. The whole ingest of such a bundle is a corpus case (``endless-last-line``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rosterlab.bundle.sniff import TOO_LONG

# The peak is read from VmHWM: ru_maxrss would report the parent's size (Linux keeps it across
# exec), and pytest after a few hundred tests is far bigger than the child.
READ = """
import re, sys
from pathlib import Path
from rosterlab.bundle.sniff import sniff, surplus_rows
sniffed = sniff(Path(sys.argv[1]), Path(sys.argv[2]))
found = surplus_rows(sniffed.parse_path, sniffed.newline, len(sniffed.header))
peak_kb = re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)
print(int(peak_kb) // 1024, found)
"""


def test_a_96_mib_line_without_a_break_is_read_in_bounded_memory(tmp_path: Path) -> None:
    students = tmp_path / "students.csv"
    with students.open("wb") as fh:
        fh.write(b"Student_id,Last_name,First_name\nS-1,Lee,Ada\n")
        for _ in range(96):
            fh.write(b"x" * 2**20)
    done = subprocess.run(
        [sys.executable, "-c", READ, str(students), str(tmp_path / "utf8.csv")],
        capture_output=True,
        text=True,
        check=True,
    )
    peak_mb, found = done.stdout.split(" ", 1)
    assert found.strip() == str([(2, TOO_LONG)])  # data row 2: too long
    assert int(peak_mb) < 300, f"peak RSS {peak_mb} MB"
