"""Holes an attacker or an unlucky district finds (issue 18), as corpus cases.

Links out of a district folder, night folders that are not dates, clocks in the future, zips
that unpack to a file and a folder of one name, zip bombs by ratio, names that cannot be file
names, and single files built to exhaust memory or time (NUL bytes without a line break, very
wide headers, a million blank lines). Big inputs are generated at test time, as small as proves
the point.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rosterlab.bundle.sniff import LINE_LIMIT
from rosterlab.config import Limits
from tests.corpus.cases import (
    EXT,
    ROW_1,
    ROW_2,
    ROW_3,
    ROW_4,
    ROWS,
    STUDENTS_HEADER,
    TINY_ROWS,
    Built,
    Case,
    students,
    tiny_files,
    tiny_with,
    write_folder,
    zipped,
)

FUTURE_STAMP = 4_070_916_000  # 2099-01-01 02:00 UTC
BLANK_LINES = 200_000
WIDE = Limits().max_columns + 1


def history_with_linked_night(dest: Path) -> Built:
    """A district folder whose second night is a link to a folder outside it."""
    outside = write_folder(dest / "elsewhere", tiny_files() | {"shadow_copy": b"secret\n"})
    district = dest / "district"
    write_folder(district / "2026-09-01", tiny_files())
    (district / "2026-09-02").symlink_to(outside, target_is_directory=True)
    return Built(district, {}, {"outside": str(outside)})


def bundle_with_linked_folder(dest: Path) -> Built:
    """A bundle folder holding a subfolder that links outside it."""
    outside = write_folder(dest / "elsewhere", {"id_rsa": b"-----BEGIN KEY-----\n"})
    bundle = write_folder(dest / "bundle", tiny_files())
    (bundle / "extra").symlink_to(outside, target_is_directory=True)
    return Built(bundle, {}, {"outside": str(outside)})


def history_with_odd_night_names(dest: Path) -> Built:
    district = dest / "district"
    for night in ("2026-09-01", "2026-9-01", "2026-02-30"):
        write_folder(district / night, tiny_files())
    return Built(district, {})


def dated(build: Callable[[Path], Built]) -> Callable[[Path], Built]:
    """``build``, with today's date (UTC) in the context for the error line."""

    def with_today(dest: Path) -> Built:
        built = build(dest)
        return Built(built.path, built.files, {"today": f"{datetime.now(UTC):%Y-%m-%d}"})

    return with_today


def future_mtime(dest: Path) -> Built:
    files = tiny_files()
    bundle = write_folder(dest / "bundle", files)
    os.utime(bundle / "students.csv", (FUTURE_STAMP, FUTURE_STAMP))
    return Built(bundle, files)


def zip_bytes_name(dest: Path, name: bytes) -> Built:
    """A zip whose students.csv entry is renamed to the raw bytes ``name`` (UTF-8 flag set)."""
    built = zipped(tiny_files())(dest)
    data = bytearray(built.path.read_bytes())
    old = b"students.csv"
    assert len(name) == len(old)
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = -1
        while (at := data.find(signature, at + 1)) != -1:
            data[at + flags_at + 1] |= 0x08  # bit 11: the name is UTF-8
    data[:] = data.replace(old, name)
    built.path.write_bytes(data)
    return built


def folder_with_bytes_name(dest: Path) -> Built:
    bundle = write_folder(dest / "bundle", tiny_files())
    os.rename(bundle / "students.csv", os.fsencode(bundle) + b"/stud\xe9nts.csv")
    return Built(bundle, {})


def ratio_bomb(dest: Path) -> Built:
    """20 MiB of zeros deflated to about 20 KB: a 1,000:1 member, the shape of a zip bomb."""
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / "bundle.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in tiny_files().items():
            if name != "students.csv":
                archive.writestr(name, data)
        archive.writestr("students.csv", b"0" * 20 * 2**20)
    info = zipfile.ZipFile(path).getinfo("students.csv")
    ratio = f"{info.file_size / info.compress_size:,.0f}"
    return Built(path, {}, {"ratio": ratio, "size": f"{info.file_size:,}"})


def with_students(data: bytes) -> dict[str, bytes]:
    return tiny_files() | {"students.csv": data}


STRAY_BYTE = students(
    STUDENTS_HEADER, ROW_1.replace("Ada", "Renée"), ROW_2.replace("Ada", "Renée"), ROW_3, ROW_4
).replace(b"Diaz", b"Bj\xf6rk")
BAD_ROW = "SCH-2,S-009,00999,Bad,Row,9,,,,,green,surplus"
TWO_BAD_ROWS = students(STUDENTS_HEADER, ROW_1, ROW_2, BAD_ROW, BAD_ROW, ROW_3, ROW_4)
NUL_FILE = b"\x00" * (2 * LINE_LIMIT + 1)
ENDLESS_LINE = students(STUDENTS_HEADER, *ROWS) + b"x" * (2 * LINE_LIMIT + 1)
BLANKS = students(STUDENTS_HEADER, ROWS[0], *[""] * BLANK_LINES, *ROWS[1:])
WIDE_HEADER = ",".join(["Student_id", *(f"ext.c{n}" for n in range(WIDE - 1))])
WIDE_FILE = students(WIDE_HEADER, ",".join(["S-001", *["v"] * (WIDE - 1)]))
VERY_WIDE = 3001  # 3,000 ext.* columns once crashed DuckDB (and every later check)
VERY_WIDE_FILE = students(
    ",".join(["Student_id", *(f"ext.c{n}" for n in range(VERY_WIDE - 1))]),
    ",".join(["S-001", *["v"] * (VERY_WIDE - 1)]),
)

HOLES: tuple[Case, ...] = (
    Case(
        "night-folder-link-outside",
        "a district folder's night 2026-09-02 is a link to a folder elsewhere on the machine",
        history_with_linked_night,
        error="{bundle} holds night '2026-09-02', a link to {outside} outside the district "
        "folder: copy the night in instead of linking it; nothing was ingested",
    ),
    Case(
        "subfolder-link-outside",
        "a bundle's subfolder `extra` links to a folder holding an SSH key",
        bundle_with_linked_folder,
        error="{bundle} holds 'extra', a link to {outside} outside the bundle: copy the file in "
        "instead of linking it",
    ),
    Case(
        "night-names-not-dates",
        "night folders 2026-9-01 (beside 2026-09-01) and 2026-02-30",
        history_with_odd_night_names,
        error="{bundle} has night folders that are not real YYYY-MM-DD dates ('2026-02-30', "
        "'2026-9-01'): rename them (e.g. 2026-09-01); nothing was ingested",
    ),
    Case(
        "mtime-in-2099",
        "students.csv's modification time is 2099 (a dead CMOS battery), no --taken-at",
        dated(future_mtime),
        error="{bundle} would be taken at 2099-01-01 02:00 UTC (the newest file's modification "
        "time), more than a day after today ({today} UTC): fix the clock or pass --taken-at, "
        "or re-run with --allow-future if it is right",
        taken_at=None,
    ),
    Case(
        "taken-at-9999",
        "--taken-at 9999-12-31",
        dated(tiny_with()),
        error="{bundle} would be taken at 9999-12-31 00:00 UTC (--taken-at), more than a day "
        "after today ({today} UTC): fix the clock or pass --taken-at, or re-run with "
        "--allow-future if it is right",
        taken_at="9999-12-31",
    ),
    Case(
        "zip-file-and-folder-of-one-name",
        "a zip holding students.csv and students.csv/extra.csv",
        zipped(tiny_files() | {"students.csv/extra.csv": b"a\n"}),
        error="{bundle} holds 'students.csv' both as a file and as the folder of "
        "'students.csv/extra.csv': re-create the zip",
    ),
    Case(
        "zip-ratio-bomb",
        "a member that unpacks 1,000 times its packed size (the 12 GiB in 12 MB shape)",
        ratio_bomb,
        error="{bundle}: students.csv unpacks {ratio} times its packed size ({size} bytes), over "
        "the limit of 200:1 (zip_max_ratio in [limits]) that stops zip bombs: unzip it and pass "
        "the folder",
    ),
    Case(
        "zip-member-name-too-long",
        "a zip entry whose name is 300 bytes long",
        zipped(tiny_files() | {"a" * 300 + ".csv": b"x\n"}),
        error="{bundle} holds an entry whose name is over 255 bytes ('" + "a" * 40 + "'...), "
        "longer than a file name can be: re-create the zip with shorter names",
    ),
    Case(
        "zip-name-not-utf8",
        "a zip flagged UTF-8 whose students.csv name holds the Latin-1 byte 0xE9",
        lambda dest: zip_bytes_name(dest, b"stud\xe9nts.csv"),
        error="{bundle} holds a file name that is not UTF-8 ('stud\\xe9nts.csv'): re-create the "
        "zip with UTF-8 names, or pass the folder",
    ),
    Case(
        "folder-name-not-utf8",
        "a file named stud\\xe9nts.csv (Latin-1 bytes) in a bundle folder",
        folder_with_bytes_name,
        error="{bundle} holds a file whose name is not UTF-8 ('stud\\xe9nts.csv'): rename it "
        "(or move it out of the bundle)",
    ),
    Case(
        "two-malformed-rows-in-a-row",
        "two consecutive rows with a surplus field before S-002 and S-003",
        tiny_with(students_csv=TWO_BAD_ROWS),
        (
            EXT,
            ("malformed-row", "students", None, None, 3),
            ("malformed-row", "students", None, None, 4),
        ),
        stored=(
            ("students", "S-002", "Last_name", "Diaz"),
            ("students", "S-003", "Last_name", "Okafor"),
            ("contacts", "S-003/sis_id:C-3", "Contact_name", "Ngozi Okafor"),
        ),
        rows=TINY_ROWS,
    ),
    Case(
        "utf8-with-a-stray-byte",
        "a UTF-8 file (Renée) where one name was pasted in as Windows-1252 (Bj\\xf6rk)",
        tiny_with(students_csv=STRAY_BYTE),
        (EXT, ("invalid-utf8-bytes", "students", "Last_name", "F6", 3)),
        stored=(
            ("students", "S-001", "First_name", "Renée"),
            ("students", "S-002", "Last_name", "Björk"),
        ),
        rows=TINY_ROWS,
    ),
    Case(
        "nul-bytes-no-newline",
        "students.csv is 4 MB of NUL bytes without a line break (a zeroed disk block)",
        tiny_with(students_csv=NUL_FILE),
        (("unreadable-file", "students", None, "students.csv", None),),
        rows={"students": 0, "teachers": 3},
    ),
    Case(
        "endless-last-line",
        "4 MB of text without a line break after the last row (a truncated append)",
        tiny_with(students_csv=ENDLESS_LINE),
        (EXT, ("malformed-row", "students", None, None, 5)),
        rows=TINY_ROWS,
    ),
    Case(
        "many-blank-lines",
        f"{BLANK_LINES:,} empty lines after the first row (a broken export loop)",
        tiny_with(students_csv=BLANKS),
        (EXT, *(("blank-row", "students", None, None, row) for row in range(2, 1002))),
        rows=TINY_ROWS,
    ),
    Case(
        "too-many-columns",
        f"students.csv with {WIDE} columns (one past the limit)",
        tiny_with(students_csv=WIDE_FILE),
        (("too-many-columns", "students", None, str(WIDE), None),),
        rows={"students": 0, "contacts": 0, "teachers": 3},
    ),
    Case(
        "three-thousand-columns",
        "students.csv with 3,000 ext.* columns (a spreadsheet that grew sideways)",
        tiny_with(students_csv=VERY_WIDE_FILE),
        (("too-many-columns", "students", None, str(VERY_WIDE), None),),
        rows={"students": 0, "contacts": 0, "teachers": 3},
    ),
)
