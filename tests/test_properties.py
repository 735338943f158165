"""Properties over generated bundles: what goes in comes back out, byte for byte and by value.

Every example is a new district in one real store file, so migrations run once. Example counts
are modest: the suite runs on two cores.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rosterlab.bundle import open_bundle
from rosterlab.bundle.sniff import surplus_rows
from rosterlab.store import Store, export_snapshot, ingest_bundle
from rosterlab.store.doctor import check_store
from tests.tiny import csv_text, tiny_night

HEADER = ["School_id", "Student_id", "Last_name", "First_name", "Grade", "ext.note"]
NIGHT = datetime(2026, 9, 1, 2)
DISTRICTS = itertools.count(1)
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Any Unicode a roster value can hold (no NUL: a NUL-heavy file reads as UTF-16, no surrogates:
# they cannot be encoded), with the CSV specials made likely.
values = st.one_of(
    st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=12),
    st.text(st.sampled_from(list(',"\r\n ;é€😀')), max_size=6),
)
terminators = st.sampled_from(["\n", "\r\n", "mixed"])


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with Store.open(tmp_path_factory.mktemp("properties") / "store.duckdb") as opened:
        yield opened


def write_bundle(folder: Path, students: bytes) -> Path:
    """The tiny night's other files, and the given students.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in tiny_night().items():
        data = students if name == "students.csv" else csv_text(rows).encode()
        (folder / name).write_bytes(data)
    return folder


def students_csv(rows: list[list[str]], terminator: str, picks: list[bool]) -> bytes:
    """students.csv as a careful exporter writes it (minimal quoting); 'mixed' varies line ends."""
    lines = [csv_text([row], "\n").removesuffix("\n") for row in [HEADER, *rows]]
    if terminator != "mixed":
        return "".join(line + terminator for line in lines).encode()
    ends = [("\r\n" if pick else "\n") for pick in picks] + ["\n"] * len(lines)
    return "".join(line + end for line, end in zip(lines, ends, strict=False)).encode()


def ingest(store: Store, folder: Path) -> tuple[int, str]:
    district = f"d{next(DISTRICTS)}"
    with open_bundle(folder) as bundle:
        result = ingest_bundle(store, bundle, district=district, taken_at=NIGHT)
    assert [f.code for f in result.findings] == ["extension-column"]
    return result.snapshot.id, district


@SETTINGS
@given(
    records=st.lists(st.lists(values, min_size=4, max_size=4), min_size=1, max_size=8),
    terminator=terminators,
    picks=st.lists(st.booleans(), max_size=10),
)
def test_any_valid_bundle_exports_byte_identical_and_reads_back_its_records(
    store: Store, records: list[list[str]], terminator: str, picks: list[bool]
) -> None:
    rows = [["SCH-1", f"S-{n}", *values] for n, values in enumerate(records)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_bundle(Path(tmp) / "in", students_csv(rows, terminator, picks))
        snapshot, _ = ingest(store, folder)
        export_snapshot(store, snapshot, Path(tmp) / "out")
        for name in tiny_night():
            assert (Path(tmp) / "out" / name).read_bytes() == (folder / name).read_bytes()

    frame = store.entity_frame(snapshot, "students")
    by_key = {row["key"]: row for row in frame.iter_rows(named=True)}
    assert sorted(by_key) == sorted(row[1] for row in rows)
    for row in rows:
        stored = by_key[row[1]]
        expected = dict(zip(HEADER, row, strict=True))
        note = expected.pop("ext.note")
        assert {name: stored[name] for name in expected} == {
            name: value or None for name, value in expected.items()
        }
        assert dict(stored["extra"]) == {"ext.note": note or None}


@SETTINGS
@given(
    body=st.lists(st.sampled_from(["a", "b", ",", ",", '"', '""', "\r", "\n", "\r\n", " "])),
)
def test_any_text_in_a_file_is_ingested_as_findings_never_an_error(
    store: Store, body: list[str]
) -> None:
    """Whatever the quotes and line breaks, ingest records findings; the store stays whole."""
    data = ("School_id,Student_id,Last_name,First_name\n" + "".join(body)).encode()
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_bundle(Path(tmp) / "in", data)
        with open_bundle(folder) as bundle:
            result = ingest_bundle(store, bundle, district=f"d{next(DISTRICTS)}", taken_at=NIGHT)
        export_snapshot(store, result.snapshot.id, Path(tmp) / "out")
        assert (Path(tmp) / "out" / "students.csv").read_bytes() == data
    store.publish()  # what the writer does on close: readers get the committed state
    assert check_store(store, quick=True).problems == ()


def fields_by_reading(text: str) -> list[tuple[int, int]]:
    """(data row, fields) of every non-blank record, read character by character as DuckDB does:
    a quote opens a value only at the start of a field, "" inside one is a quote."""
    records: list[tuple[str, int]] = []
    current, commas, inside, field_start, i = "", 0, False, True, 0
    while i < len(text):
        char = text[i]
        if inside:
            if char == '"' and text[i + 1 : i + 2] == '"':
                current, i = current + '""', i + 2
                continue
            inside = char != '"'
        elif char == '"' and field_start:
            inside = True
        elif char == "\n":
            records.append((current, commas))
            current, commas, field_start, i = "", 0, True, i + 1
            continue
        else:
            commas += char == ","
        field_start = not inside and char == ","
        current, i = current + char, i + 1
    if current and not inside:
        records.append((current, commas))
    return [(n, c + 1) for n, (line, c) in enumerate(records) if n and line not in ("", "\r")]


@settings(max_examples=300, deadline=None)
@given(
    body=st.lists(st.sampled_from(["a", ",", ",", '"', '""', "\n", "\r\n", "x y"]), max_size=40),
    chunk=st.integers(min_value=1, max_value=16),
)
def test_surplus_rows_count_fields_as_the_parser_reads_records(body: list[str], chunk: int) -> None:
    text = "A,B\n" + "".join(body)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.csv"
        path.write_bytes(text.encode())
        found = surplus_rows(path, "LF", 2, chunk=chunk)
    assert found == [(row, fields) for row, fields in fields_by_reading(text) if fields > 2]
