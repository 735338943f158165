"""Reading bundles: folders and zips as received, each test named after the incident it holds."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rosterlab.bundle import Bundle, open_bundle, read_bundle
from rosterlab.bundle.sniff import sniff
from rosterlab.config import Limits
from rosterlab.errors import BundleError
from rosterlab.spec import FILES, file_columns

REQUIRED = [name for name, spec in FILES.items() if spec.required]


def header_of(name: str) -> list[str]:
    """The required columns of a spec file, in spec order."""
    return [field.name for field in file_columns(name) if field.required]


def clean_files() -> dict[str, bytes]:
    """Every required file with exactly its required columns and one row."""
    return {
        name: (
            ",".join(header_of(name)) + "\n" + ",".join("v" for _ in header_of(name)) + "\n"
        ).encode()
        for name in REQUIRED
    }


def write(folder: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return folder


def zip_of(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def codes(bundle: Bundle) -> list[tuple[str, str | None, str | None, int | None]]:
    return [(f.code, f.value, f.field, f.row) for f in bundle.findings]


def read(tmp_path: Path, files: dict[str, bytes]) -> Bundle:
    return read_bundle(write(tmp_path / "bundle", files), tmp_path / "work")


# --- a clean night, as a folder and as a zip ---------------------------------------------------


def test_clean_night_folder_has_no_findings_and_keeps_files_as_received(tmp_path: Path) -> None:
    folder = write(tmp_path / "maple", clean_files())
    night = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
    for name in REQUIRED:
        os.utime(folder / name, (night.timestamp(), night.timestamp()))
    bundle = read_bundle(folder, tmp_path / "work")

    assert bundle.findings == ()
    assert [f.name for f in bundle.files] == sorted(REQUIRED)
    students = bundle.spec_file("students.csv")
    assert students is not None
    data = clean_files()["students.csv"]
    assert students.path == folder.absolute() / "students.csv"
    assert students.parse_path == students.path  # UTF-8 without BOM: nothing to transcode
    assert (students.sha256, students.size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert (students.encoding, students.bom, students.newline) == ("utf-8", False, "LF")
    assert students.header == ("School_id", "Student_id", "Last_name", "First_name")
    assert students.blank_rows == ()
    assert students.mtime == night
    assert bundle.newest_mtime == night
    assert bundle.source == str(folder)
    assert bundle.spec_file("staff.csv") is None


def test_zipped_folder_from_a_mac_is_the_same_bundle_as_the_folder(tmp_path: Path) -> None:
    folder = read_bundle(write(tmp_path / "maple", clean_files()), tmp_path / "work")
    members = {f"maple-2026-09-01/{name}": data for name, data in clean_files().items()}
    members["__MACOSX/maple-2026-09-01/._students.csv"] = b"\x00\x05\x16\x07 resource fork"
    members["maple-2026-09-01/.DS_Store"] = b"\x00\x00\x00\x01Bud1"
    zipped = read_bundle(zip_of(tmp_path / "maple.zip", members), tmp_path / "work")

    assert zipped.findings == ()
    assert [f.name for f in zipped.files] == [f.name for f in folder.files]
    assert zipped.sha256 == folder.sha256
    schools = zipped.spec_file("schools.csv")
    assert schools is not None
    assert schools.path.read_bytes() == clean_files()["schools.csv"]
    assert schools.path.is_relative_to(tmp_path / "work")


def test_same_files_are_the_same_bundle_whatever_their_mtime_and_one_byte_is_not(
    tmp_path: Path,
) -> None:
    first = read_bundle(write(tmp_path / "a", clean_files()), tmp_path / "work")
    os.utime(tmp_path / "a" / "schools.csv", (0, 0))
    again = read_bundle(tmp_path / "a", tmp_path / "work")
    changed = clean_files() | {"schools.csv": clean_files()["schools.csv"] + b"v,v,v\n"}
    other = read_bundle(write(tmp_path / "b", changed), tmp_path / "work")

    assert first.sha256 == again.sha256
    assert other.sha256 != first.sha256


def test_open_bundle_removes_its_transcoded_copies_afterwards(tmp_path: Path) -> None:
    files = clean_files() | {
        "schools.csv": "School_id,School_name,School_number\n".encode("utf-16")
    }
    with open_bundle(write(tmp_path / "maple", files)) as bundle:
        schools = bundle.spec_file("schools.csv")
        assert schools is not None
        assert schools.parse_path.read_bytes() == b"School_id,School_name,School_number\n"
    assert not schools.parse_path.exists()
    assert (tmp_path / "maple" / "schools.csv").exists()


# --- file findings -----------------------------------------------------------------------------


def test_nightly_export_that_forgot_enrollments_is_missing_a_file(tmp_path: Path) -> None:
    files = clean_files()
    del files["enrollments.csv"]
    bundle = read(tmp_path, files)

    assert codes(bundle) == [("missing-file", "enrollments.csv", None, None)]
    assert bundle.findings[0].severity == "error"
    assert bundle.findings[0].entity == "enrollments"


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        ("students.csv.txt", "students.csv"),  # Windows hid the known extension .csv
        ("students.txt", "students.csv"),
        ("students", "students.csv"),
        ("upload/students.csv", "students.csv"),
        ("upload/Students.csv", "students.csv"),
        ("Student.csv", "students.csv"),
        ("enrolments.csv", "enrollments.csv"),
    ],
)
def test_file_clever_will_not_pick_up_is_misnamed_with_its_right_name(
    tmp_path: Path, received: str, expected: str
) -> None:
    files = clean_files()
    files[received] = files.pop(expected)
    bundle = read(tmp_path, files)

    assert codes(bundle) == [
        ("missing-file", expected, None, None),
        ("misnamed-file", received, None, None),
    ]
    misnamed = bundle.findings[1]
    assert (
        misnamed.hint == f"Rename {received} to {expected} (.csv, in the top folder of the upload)."
    )
    assert bundle.spec_file(expected) is None


@pytest.mark.parametrize("received", ["Students.csv", "students.CSV", "STUDENTS.CSV"])
def test_spec_file_name_in_another_case_is_read_as_that_file_with_a_warning(
    tmp_path: Path, received: str
) -> None:
    files = clean_files()
    files[received] = files.pop("students.csv")
    bundle = read(tmp_path, files)

    assert codes(bundle) == [("file-name-case", received, None, None)]
    (warning,) = bundle.findings
    assert (warning.severity, warning.entity) == ("warning", "students")
    assert warning.message == (
        f"{received} is read as students.csv; Clever's instructions write the file names in "
        "lower case."
    )
    source = bundle.spec_file("students.csv")
    assert source is not None and source.name == received


def test_two_spellings_of_one_file_the_exact_name_is_the_spec_file(tmp_path: Path) -> None:
    files = clean_files()
    files["Students.csv"] = files["students.csv"]
    bundle = read(tmp_path, files)

    assert codes(bundle) == [("unexpected-file", "Students.csv", None, None)]
    source = bundle.spec_file("students.csv")
    assert source is not None and source.name == "students.csv"


def test_backups_beside_the_real_files_are_only_unexpected(tmp_path: Path) -> None:
    files = clean_files() | {
        "old/students.csv": b"anything",
        "students.xlsx": b"PK\x03\x04",
        "notes.txt": b"call the SIS vendor",
    }
    bundle = read(tmp_path, files)

    assert codes(bundle) == [
        ("unexpected-file", "notes.txt", None, None),
        ("unexpected-file", "old/students.csv", None, None),
        ("unexpected-file", "students.xlsx", None, None),
    ]
    assert {f.severity for f in bundle.findings} == {"info"}


def test_legacy_admins_csv_is_read_and_flagged_deprecated(tmp_path: Path) -> None:
    admins = ",".join(header_of("admins.csv")) + "\n"
    bundle = read(tmp_path, clean_files() | {"admins.csv": admins.encode()})

    assert codes(bundle) == [("deprecated-file", "admins.csv", None, None)]
    assert bundle.spec_file("admins.csv") is not None


@pytest.mark.parametrize(
    "data",
    [b"", b"\nSchool_id,School_name,School_number\nS1,A,1\n"],
    ids=["truncated-to-zero-bytes", "first-line-blank"],
)
def test_schools_file_without_a_header_row_is_empty(tmp_path: Path, data: bytes) -> None:
    bundle = read(tmp_path, clean_files() | {"schools.csv": data})

    assert codes(bundle) == [("empty-file", "schools.csv", None, None)]
    schools = bundle.spec_file("schools.csv")
    assert schools is not None
    assert schools.header == ()


def test_excel_unicode_text_export_is_utf16_and_parsed_from_a_utf8_copy(tmp_path: Path) -> None:
    text = "School_id,School_name,School_number\r\nS1,École Zoë,1\r\n"
    bundle = read(tmp_path, clean_files() | {"schools.csv": text.encode("utf-16")})

    assert codes(bundle) == [("encoding-not-utf8", "utf-16-le", None, None)]
    assert bundle.findings[0].message == (
        "schools.csv is encoded as utf-16-le, not UTF-8; Clever may show its accented letters "
        "garbled."
    )
    schools = bundle.spec_file("schools.csv")
    assert schools is not None
    assert (schools.encoding, schools.bom, schools.newline) == ("utf-16-le", True, "CRLF")
    assert schools.header == ("School_id", "School_name", "School_number")
    assert schools.parse_path.read_bytes() == text.encode("utf-8")
    assert schools.path.read_bytes() == text.encode("utf-16")


def test_utf16_big_endian_without_bom_is_recognised(tmp_path: Path) -> None:
    text = "School_id,School_name,School_number\nS1,Maple,1\n"
    bundle = read(tmp_path, clean_files() | {"schools.csv": text.encode("utf-16-be")})

    schools = bundle.spec_file("schools.csv")
    assert schools is not None
    assert (schools.encoding, schools.bom) == ("utf-16-be", False)
    assert schools.parse_path.read_text(encoding="utf-8") == text


def test_windows_1252_export_of_accented_names_is_transcoded(tmp_path: Path) -> None:
    text = "School_id,Student_id,Last_name,First_name\nS1,1,Núñez,José\n"
    bundle = read(tmp_path, clean_files() | {"students.csv": text.encode("cp1252")})

    assert codes(bundle) == [("encoding-not-utf8", "cp1252", None, None)]
    students = bundle.spec_file("students.csv")
    assert students is not None
    assert students.parse_path.read_text(encoding="utf-8") == text


def test_byte_that_windows_1252_leaves_undefined_falls_back_to_latin1(tmp_path: Path) -> None:
    data = b"School_id,Student_id,Last_name,First_name\nS1,1,Ga\x81l,Ann\n"
    bundle = read(tmp_path, clean_files() | {"students.csv": data})

    assert codes(bundle) == [("encoding-not-utf8", "latin-1", None, None)]
    students = bundle.spec_file("students.csv")
    assert students is not None
    assert students.parse_path.read_bytes() == data.decode("latin-1").encode("utf-8")


def test_utf8_with_bom_is_a_warning_and_the_bom_never_reaches_the_header(tmp_path: Path) -> None:
    text = "School_id,School_name,School_number\nS1,Maple,1\n"
    bundle = read(tmp_path, clean_files() | {"schools.csv": text.encode("utf-8-sig")})

    assert codes(bundle) == [("bom-present", None, None, None)]
    assert bundle.findings[0].severity == "warning"
    schools = bundle.spec_file("schools.csv")
    assert schools is not None
    assert (schools.encoding, schools.bom) == ("utf-8-sig", True)
    assert schools.header[0] == "School_id"
    assert schools.parse_path.read_bytes() == text.encode()


def test_spreadsheet_saved_over_students_csv_is_binary_not_text(tmp_path: Path) -> None:
    xlsx = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb5U0#\xf4\x00\x00\x00L\x02"
    bundle = read(tmp_path, clean_files() | {"students.csv": xlsx})

    assert codes(bundle) == [("unreadable-file", "students.csv", None, None)]
    students = bundle.spec_file("students.csv")
    assert students is not None
    assert (students.encoding, students.header, students.newline) == (None, (), None)


# --- lines: blank rows and newline styles ------------------------------------------------------


def test_blank_lines_are_data_rows_but_an_empty_line_inside_quotes_is_not(tmp_path: Path) -> None:
    text = (
        "School_id,School_name,School_number\r\n"
        "S1,Maple,1\r\n"
        "\r\n"
        'S2,"Oak\r\n\r\nAnnex",2\r\n'
        "S3,Elm,3\r\n"
        "\r\n"
    )
    bundle = read(tmp_path, clean_files() | {"schools.csv": text.encode()})

    assert codes(bundle) == [("blank-row", None, None, 2), ("blank-row", None, None, 5)]
    assert bundle.findings[0].message == "schools.csv has an empty line at row 2."
    schools = bundle.spec_file("schools.csv")
    assert schools is not None
    assert (schools.blank_rows, schools.newline) == ((2, 5), "CRLF")


def test_every_blank_row_is_kept_but_findings_stop_at_a_thousand(tmp_path: Path) -> None:
    text = "School_id,School_name,School_number\n" + "S1,Maple,1\n\n" * 1001
    bundle = read(tmp_path, clean_files() | {"schools.csv": text.encode()})

    schools = bundle.spec_file("schools.csv")
    assert schools is not None
    assert schools.blank_rows == tuple(range(2, 2003, 2))
    assert len(bundle.findings) == 1000
    assert bundle.findings[-1].row == 2000


@pytest.mark.parametrize(
    ("text", "newline"),
    [
        ('A,B\r\n1,"two\nlines"\r\n', "CRLF"),  # Excel: CRLF records, LF inside a cell
        ("A,B\n1,2\r\n3,4\n", "mixed"),  # a hand-rolled exporter appending CRLF rows
        ("A,B\r1,2\r", "CR"),  # classic Mac OS
        ("A,B", None),  # a header without a line break
    ],
    ids=["excel-multiline-cell", "mixed", "old-mac", "single-line"],
)
def test_newline_style_is_the_record_terminator(
    tmp_path: Path, text: str, newline: str | None
) -> None:
    (tmp_path / "f.csv").write_bytes(text.encode())
    sniffed = sniff(tmp_path / "f.csv", tmp_path / "utf8.csv")

    assert (sniffed.newline, sniffed.header, sniffed.blank_rows) == (newline, ("A", "B"), ())


def test_blank_row_in_a_classic_mac_file(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_bytes(b"A,B\r1,2\r\r3,4\r")
    sniffed = sniff(tmp_path / "f.csv", tmp_path / "utf8.csv")

    assert (sniffed.newline, sniffed.blank_rows) == ("CR", (2,))


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_a_header_name_on_two_lines_keeps_its_break_and_the_parser_reads_one_header_line(
    tmp_path: Path, encoding: str
) -> None:
    """Alt+Enter in a spreadsheet's header cell: a CRLF inside a quoted name over LF rows. The
    parser's copy has the break as spaces (DuckDB takes a file's line breaks from its first)."""
    text = 'A,"ext.Maison\r\nnote"\n1,"é\r\nx"\n2,y\n'
    (tmp_path / "f.csv").write_bytes(text.encode(encoding))
    sniffed = sniff(tmp_path / "f.csv", tmp_path / "utf8.csv", chunk=7)

    assert (sniffed.header, sniffed.newline) == (("A", "ext.Maison\r\nnote"), "LF")
    assert sniffed.parse_path == tmp_path / "utf8.csv"
    assert sniffed.parse_path.read_bytes() == 'A,"ext.Maison  note"\n1,"é\r\nx"\n2,y\n'.encode()
    assert (tmp_path / "f.csv").read_bytes() == text.encode(encoding)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.csv", "utf8.csv"]


cells = st.text(alphabet='ab ,"é\n\r', max_size=6)


@settings(max_examples=200, deadline=None)
@example(  # a CRLF blank line split over three one-byte reads
    rows=[],
    blanks=[0],
    terminator="\r\n",
    quote_all=False,
    encoding="utf-8",
    unterminated=False,
    chunk=1,
)
@given(
    rows=st.lists(st.lists(cells, min_size=2, max_size=2), max_size=8),
    blanks=st.lists(st.integers(min_value=0, max_value=8), max_size=3),
    terminator=st.sampled_from(["\n", "\r\n"]),
    quote_all=st.booleans(),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]),
    unterminated=st.booleans(),
    chunk=st.integers(min_value=1, max_value=64),
)
def test_any_csv_sniffs_to_its_blank_rows_newline_and_header_in_any_chunking(
    rows: list[list[str]],
    blanks: list[int],
    terminator: str,
    quote_all: bool,
    encoding: str,
    unterminated: bool,
    chunk: int,
) -> None:
    def cell(value: str) -> str:
        if quote_all or any(ch in value for ch in ',"\r\n'):
            return '"' + value.replace('"', '""') + '"'
        return value

    lines = [",".join(cell(value) for value in row) + terminator for row in rows]
    for position in sorted(blanks, reverse=True):
        lines.insert(min(position, len(lines)), terminator)
    expected_blank = tuple(n for n, line in enumerate(lines, start=1) if line == terminator)
    text = "A,B" + terminator + "".join(lines)
    if unterminated and lines and lines[-1] != terminator:
        text = text.removesuffix(terminator)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "f.csv"
        raw.write_bytes(text.encode(encoding))
        sniffed = sniff(raw, Path(tmp) / "utf8.csv", chunk=chunk)

        assert sniffed.parse_path.read_bytes() == text.encode("utf-8")
    assert sniffed.header == ("A", "B")
    assert sniffed.blank_rows == expected_blank
    assert sniffed.newline == {"\n": "LF", "\r\n": "CRLF"}[terminator]
    assert sniffed.size == len(text.encode(encoding))


def test_zip_member_is_copied_and_sniffed_in_one_pass(tmp_path: Path) -> None:
    data = "A,B\r\n1,2\r\n".encode("utf-16")
    zipped = zip_of(tmp_path / "a.zip", {"f.csv": data})
    with zipfile.ZipFile(zipped) as archive, archive.open("f.csv") as stream:
        sniffed = sniff(tmp_path / "raw.csv", tmp_path / "utf8.csv", stream, chunk=3)

    assert (tmp_path / "raw.csv").read_bytes() == data
    assert sniffed.sha256 == hashlib.sha256(data).hexdigest()
    assert (sniffed.encoding, sniffed.newline, sniffed.header) == ("utf-16-le", "CRLF", ("A", "B"))


# --- header findings ---------------------------------------------------------------------------


def test_hand_edited_students_header(tmp_path: Path) -> None:
    header = [
        "School_id", "Student_id", "First_name", "Grade", "Grade", "Iep_status", "Dob",
        "Favourite_color", "ext.bus_route", "contact name",
    ]  # fmt: skip
    bundle = read(tmp_path, clean_files() | {"students.csv": (",".join(header) + "\n").encode()})

    # Iep_status and Dob are IEP_status and DOB: headers match case-insensitively (v2.1.1).
    assert [(f.code, f.entity, f.value, f.field) for f in bundle.findings] == [
        ("duplicate-column", "students", "Grade", None),
        ("missing-column", "students", None, "Last_name"),
        ("unknown-column", "students", "Favourite_color", None),
        ("extension-column", "students", "ext.bus_route", None),
        ("misspelled-column", "contacts", "contact name", "Contact_name"),
    ]
    assert bundle.findings[1].message == (
        "students.csv has no Last_name column, which is required; Clever skips every row of "
        "students.csv."
    )
    assert bundle.findings[4].hint == "Rename the column 'contact name' to Contact_name."


def test_second_spelling_of_a_column_already_present_is_a_duplicate(tmp_path: Path) -> None:
    header = [*header_of("teachers.csv"), "teacher_id", "Ext.room"]
    bundle = read(tmp_path, clean_files() | {"teachers.csv": (",".join(header) + "\n").encode()})

    assert codes(bundle) == [
        ("duplicate-column", "Teacher_id", None, None),
        ("misspelled-column", "Ext.room", "ext.room", None),
    ]


def test_custom_field_in_enrollments_is_not_allowed(tmp_path: Path) -> None:
    header = [*header_of("enrollments.csv"), "ext.seat"]
    bundle = read(tmp_path, clean_files() | {"enrollments.csv": (",".join(header) + "\n").encode()})

    assert codes(bundle) == [("extension-not-allowed", "ext.seat", None, None)]
    assert bundle.findings[0].hint == "Remove the column ext.seat from enrollments.csv."


def test_schools_without_school_number_is_an_error_every_row_skipped(tmp_path: Path) -> None:
    bundle = read(tmp_path, clean_files() | {"schools.csv": b"School_id,School_name\nS1,Maple\n"})

    assert codes(bundle) == [("missing-column", None, "School_number", None)]
    assert bundle.findings[0].severity == "error"  # School_number is required (v2.1.1)


def test_upper_case_oracle_headers_are_the_spec_columns(tmp_path: Path) -> None:
    header = [name.upper() for name in header_of("students.csv")]
    bundle = read(tmp_path, clean_files() | {"students.csv": (",".join(header) + "\n").encode()})

    assert codes(bundle) == []


# --- bundles that cannot be read ---------------------------------------------------------------


@pytest.mark.parametrize(
    "member", ["../evil.csv", "/etc/cron.d/evil", "sub/../../evil.csv", "C:\\evil.csv"]
)
def test_zip_slip_entry_is_refused(tmp_path: Path, member: str) -> None:
    archive = zip_of(tmp_path / "evil.zip", clean_files() | {member: b"x"})

    with pytest.raises(BundleError, match="unsafe entry"):
        read_bundle(archive, tmp_path / "work")
    assert not (tmp_path / "evil.csv").exists()


def test_zip_with_a_symlink_entry_is_refused(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("schools.csv")
    link.external_attr = 0o120777 << 16
    with zipfile.ZipFile(tmp_path / "link.zip", "w") as archive:
        archive.writestr(link, "/etc/passwd")

    with pytest.raises(BundleError, match=re.escape("unsafe entry 'schools.csv'")):
        read_bundle(tmp_path / "link.zip", tmp_path / "work")


def test_password_protected_zip_is_refused_with_what_to_do(tmp_path: Path) -> None:
    # zipfile cannot encrypt: set the "encrypted" bit as an encrypting zipper would, in the
    # local header and in the central directory.
    data = bytearray(zip_of(tmp_path / "plain.zip", {"schools.csv": b"ciphertext"}).read_bytes())
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        data[data.index(signature) + flags_at] |= 0x1
    (tmp_path / "locked.zip").write_bytes(data)

    with pytest.raises(BundleError, match=r"is encrypted .*unzip it with its password"):
        read_bundle(tmp_path / "locked.zip", tmp_path / "work")


def test_zip_bomb_is_refused_before_anything_is_unpacked(tmp_path: Path) -> None:
    archive = zip_of(tmp_path / "bomb.zip", {"students.csv": b"0" * 100_000})

    with pytest.raises(BundleError, match="unpacks to 100,000 bytes, over the limit of 1,000"):
        read_bundle(archive, tmp_path / "work", limits=Limits(bundle_max_bytes=1000))
    assert list((tmp_path / "work").glob("*/raw")) == []


def test_zip_with_thousands_of_entries_is_refused(tmp_path: Path) -> None:
    archive = zip_of(tmp_path / "many.zip", {f"f{n}.csv": b"" for n in range(11)})

    with pytest.raises(BundleError, match="holds 11 files, over the limit of 10"):
        read_bundle(archive, tmp_path / "work", limits=Limits(zip_max_files=10))


def test_zip_holding_the_same_name_twice_is_refused(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "twice.zip", "w") as archive:
        archive.writestr("schools.csv", b"a")
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("schools.csv", b"b")

    with pytest.raises(BundleError, match=re.escape("holds 'schools.csv' twice")):
        read_bundle(tmp_path / "twice.zip", tmp_path / "work")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("students.csv", "is neither a folder nor a readable zip"),
        ("nowhere", "does not exist: pass a bundle folder or a .zip"),
    ],
)
def test_source_that_is_not_a_bundle_is_refused(tmp_path: Path, name: str, message: str) -> None:
    (tmp_path / "students.csv").write_bytes(b"School_id\n")

    with pytest.raises(BundleError, match=message):
        read_bundle(tmp_path / name, tmp_path / "work")


def test_named_pipe_left_in_the_drop_folder_is_skipped_not_read(tmp_path: Path) -> None:
    folder = write(tmp_path / "drop", clean_files())
    os.mkfifo(folder / "upload.fifo")
    bundle = read_bundle(folder, tmp_path / "work")

    assert bundle.findings == ()
    assert "upload.fifo" not in [f.name for f in bundle.files]
