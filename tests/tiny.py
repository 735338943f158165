"""A tiny hand-written district for store and CLI tests: every row is visible in the test.

``tiny_night()`` is a clean night; tests copy it and apply the incident they are about
(``night["students.csv"].append(...)``) so the fixture names its incident.
"""

from __future__ import annotations

import copy
import os
from datetime import UTC, datetime
from pathlib import Path

from rosterlab.bundle import open_bundle
from rosterlab.store import Store, ingest_bundle

Night = dict[str, list[list[str]]]

CLEAN_NIGHT: Night = {
    "schools.csv": [
        ["School_id", "School_name", "School_number", "Low_grade", "High_grade"],
        ["SCH-1", "Maple Elementary", "101", "Kindergarten", "5"],
        ["SCH-2", "Maple High", "102", "9", "12"],
    ],
    "students.csv": [
        [
            "School_id",
            "Student_id",
            "Student_number",
            "Last_name",
            "First_name",
            "Grade",
            "Student_zip",
            "Contact_type",
            "Contact_name",
            "Contact_sis_id",
            "ext.house",
        ],
        ["SCH-1", "S-001", "00123", "Lee", "Ada", "3", "02134", "Primary", "Pat Lee", "C-1", "red"],
        ["SCH-1", "S-001", "00123", "Lee", "Ada", "3", "02134", "Emergency", "Sam Lee", "", "red"],
        ["SCH-2", "S-002", "00456", "Diaz", "Bo", "10", "02135", "", "", "", "blue"],
        ["SCH-2", "S-003", "00789", "Okafor", "Cy", "11", "", "Primary", "Ngozi Okafor", "C-3", ""],
    ],
    "teachers.csv": [
        ["School_id", "Teacher_id", "Last_name", "First_name", "Teacher_email"],
        ["SCH-1", "T-1", "Park", "Jo", "jo.park@maple.example"],
        ["SCH-2", "T-2", "Nowak", "Ola", "ola.nowak@maple.example"],
        ["SCH-1", "T-3", "Kowalski", "Ewa", "ewa.kowalski@maple.example"],
    ],
    "sections.csv": [
        ["School_id", "Section_id", "Teacher_id", "Teacher_2_id", "Course_name", "Period"],
        ["SCH-1", "SEC-1", "T-1", "T-3", "Reading", "1"],
        ["SCH-2", "SEC-2", "T-2", "", "Algebra", "2"],
    ],
    "enrollments.csv": [
        ["School_id", "Section_id", "Student_id"],
        ["SCH-1", "SEC-1", "S-001"],
        ["SCH-2", "SEC-2", "S-002"],
        ["SCH-2", "SEC-2", "S-003"],
    ],
}


def tiny_night() -> Night:
    return copy.deepcopy(CLEAN_NIGHT)


def csv_text(rows: list[list[str]], newline: str = "\n") -> str:
    def cell(value: str) -> str:
        if any(ch in value for ch in ',"\r\n'):
            return '"' + value.replace('"', '""') + '"'
        return value

    return "".join(",".join(cell(v) for v in row) + newline for row in rows)


def write_night(
    folder: Path, night: Night, *, newline: str = "\n", when: datetime | None = None
) -> Path:
    """Write a night as a bundle folder (files' mtime = ``when``, default 2026-09-01 02:00 UTC)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = (when or datetime(2026, 9, 1, 2, 0, tzinfo=UTC)).timestamp()
    for name, rows in night.items():
        path = folder / name
        path.write_bytes(csv_text(rows, newline).encode())
        os.utime(path, (stamp, stamp))
    return folder


def folder_files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (by its relative path) and its bytes, to compare bundles."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def ingest_nights(tmp_path: Path, *nights: Night) -> Path:
    """A store holding ``nights`` of district ``tiny``, taken 2026-09-01, -02, ... at 02:00."""
    path = tmp_path / "tiny.duckdb"
    with Store.open(path) as store:
        for number, night in enumerate(nights, start=1):
            when = datetime(2026, 9, number, 2, 0, tzinfo=UTC)
            folder = write_night(tmp_path / f"night{number}", night, when=when)
            with open_bundle(folder) as bundle:
                ingest_bundle(store, bundle, district="tiny", taken_at=when)
    return path
