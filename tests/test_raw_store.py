"""Raw files kept as zstd keyframes plus star deltas: dedup, exact round trips, corruption caught.

Nights are tiny hand-written districts or a ~3.5 MB students.csv of generated students (big
enough for zstd's long-distance matching to matter); each test names its incident.
"""

from __future__ import annotations

import base64
import hashlib
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rosterlab.bundle import open_bundle
from rosterlab.errors import StoreError
from rosterlab.store import Store, export_snapshot, ingest_bundle, raw
from rosterlab.store.doctor import RESTORE, check_store
from tests.tiny import Night, tiny_night, write_night

NIGHT_1 = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
LAST_NAMES = ["Lee", "Diaz", "Okafor", "Nowak", "Park", "Silva", "Haddad", "Kim", "Ivanova"]
FIRST_NAMES = ["Ada", "Bo", "Cy", "Dee", "Eli", "Fay", "Gus", "Hana", "Ines", "Jun"]


def big_night(students: int = 40_000, seed: int = 7) -> Night:
    """The tiny district with a students.csv of ``students`` generated rows (~90 bytes each)."""
    rng = random.Random(seed)
    night = tiny_night()
    header = night["students.csv"][0]
    rows = []
    for i in range(students):
        last, first = rng.choice(LAST_NAMES), rng.choice(FIRST_NAMES)
        rows.append(
            [
                f"SCH-{1 + i % 2}",
                f"S-{i:06d}",
                f"{rng.randrange(10**7):07d}",
                last,
                first,
                str(rng.randrange(1, 13)),
                f"0{rng.randrange(2100, 2200)}",
                "Primary",
                f"{rng.choice(FIRST_NAMES)} {last}",
                f"C-{i}",
                rng.choice(["red", "blue", "green", ""]),
            ]
        )
    night["students.csv"] = [header, *rows]
    return night


def renamed(night: Night, students: range, last_name: str) -> Night:
    """Churn: the given students (by position) take a new last name."""
    rows = [list(row) for row in night["students.csv"]]
    for i in students:
        rows[1 + i][3] = last_name
    return {**night, "students.csv": rows}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "store.duckdb") as s:
        yield s


def ingest(store: Store, folder: Path, night: int, district: str = "maple") -> int:
    with open_bundle(folder) as bundle:
        result = ingest_bundle(
            store, bundle, district=district, taken_at=NIGHT_1 + timedelta(days=night - 1)
        )
    return result.snapshot.id


def write(tmp_path: Path, name: str, night: Night) -> Path:
    return write_night(tmp_path / name, night)


def churn_nights(tmp_path: Path) -> tuple[Path, Path]:
    """Night 1, and night 2 in which 400 students took a new last name (written to n1, n2)."""
    night = big_night()
    return write(tmp_path, "n1", night), write(
        tmp_path, "n2", renamed(night, range(0, 400), "Moreau")
    )


def kept(store: Store, folder: Path, file: str = "students.csv") -> tuple[str, str | None]:
    """How a night's file is stored: (codec, keyframe it is a delta of)."""
    digest = sha256((folder / file).read_bytes())
    rows = store.rows("SELECT codec, base_sha256 FROM raw_files WHERE sha256 = ?", [digest])
    assert len(rows) == 1
    return rows[0]


def packed_size(store: Store, folder: Path, file: str = "students.csv") -> int:
    digest = sha256((folder / file).read_bytes())
    return store.rows("SELECT octet_length(data) FROM raw_files WHERE sha256 = ?", [digest])[0][0]


def exported(store: Store, snapshot_id: int, dest: Path) -> dict[str, str]:
    export_snapshot(store, snapshot_id, dest)
    return {p.name: sha256(p.read_bytes()) for p in sorted(dest.iterdir())}


def received(folder: Path) -> dict[str, str]:
    return {p.name: sha256(p.read_bytes()) for p in sorted(folder.iterdir())}


def test_churn_nights_are_deltas_of_the_first_nights_keyframe_not_a_chain(store, tmp_path):
    first = big_night()
    folders = [
        write(tmp_path, "n1", first),
        write(tmp_path, "n2", renamed(first, range(0, 400), "Moreau")),
        write(tmp_path, "n3", renamed(first, range(400, 800), "Quist")),
    ]
    ids = [ingest(store, folder, n) for n, folder in enumerate(folders, start=1)]
    keyframe = sha256((folders[0] / "students.csv").read_bytes())
    assert [kept(store, f) for f in folders] == [
        ("zstd", None),
        ("zstd-delta", keyframe),
        ("zstd-delta", keyframe),
    ]
    # 1 % of the students renamed costs a small fraction of a full frame.
    assert packed_size(store, folders[1]) * 20 < packed_size(store, folders[0])
    # The unchanged small files are kept once; enrollments.csv is the same every night.
    assert store.rows("SELECT count(*) FROM raw_files")[0][0] == 5 + 2
    for snapshot_id, folder in zip(ids, folders, strict=True):
        assert exported(store, snapshot_id, tmp_path / f"out{snapshot_id}") == received(folder)


def test_copy_raw_streams_keyframes_and_deltas_to_a_file(store, tmp_path):
    n1, n2 = churn_nights(tmp_path)
    ingest(store, n1, 1)
    ingest(store, n2, 2)
    for folder in (n1, n2):
        received_bytes = (folder / "students.csv").read_bytes()
        target = tmp_path / f"{folder.name}.csv"
        with target.open("wb") as stream:
            store.copy_raw(sha256(received_bytes), stream)
        assert target.read_bytes() == received_bytes
    assert kept(store, n2) == ("zstd-delta", sha256((n1 / "students.csv").read_bytes()))


def test_a_file_rewritten_wholesale_starts_a_new_keyframe_for_later_deltas(store, tmp_path):
    n1 = write(tmp_path, "n1", big_night(seed=7))
    rerostered = big_night(seed=8)  # the district re-sent a different roster: every row differs
    n2 = write(tmp_path, "n2", rerostered)
    n3 = write(tmp_path, "n3", renamed(rerostered, range(0, 400), "Moreau"))
    ids = [ingest(store, folder, n) for n, folder in enumerate([n1, n2, n3], start=1)]
    assert [kept(store, f) for f in (n1, n2, n3)] == [
        ("zstd", None),
        ("zstd", None),
        ("zstd-delta", sha256((n2 / "students.csv").read_bytes())),
    ]
    assert exported(store, ids[2], tmp_path / "out") == received(n3)


def test_a_file_seen_before_is_not_stored_again_in_any_district(store, tmp_path):
    n1, n2 = churn_nights(tmp_path)
    ingest(store, n1, 1)
    ingest(store, n2, 2)
    before = store.rows("SELECT sha256, codec, base_sha256 FROM raw_files ORDER BY sha256")
    reverted = ingest(store, n1, 3)  # the district re-sends night 1's exact files
    other = ingest(store, n2, 1, district="cedar")  # another district sends the same files
    assert store.rows("SELECT sha256, codec, base_sha256 FROM raw_files ORDER BY sha256") == before
    assert exported(store, reverted, tmp_path / "reverted") == received(n1)
    assert exported(store, other, tmp_path / "other") == received(n2)


def test_tiny_nights_round_trip_byte_for_byte_including_odd_files(store, tmp_path):
    nights = [tiny_night() for _ in range(4)]
    nights[1]["students.csv"].append(
        ["SCH-1", "S-004", "00999", "Ng", "Di", "4", "", "", "", "", "red"]
    )
    nights[2]["students.csv"][2][3] = "Lee-Park"
    del nights[3]["sections.csv"]  # a missing file
    folders = [write(tmp_path, f"n{n}", night) for n, night in enumerate(nights, start=1)]
    (folders[2] / "notes.txt").write_bytes(b"")  # an empty non-spec file
    (folders[3] / "teachers.csv").write_bytes("\ufeffSchool_id,Teacher_id\r\n".encode())
    for n, folder in enumerate(folders, start=1):
        snapshot_id = ingest(store, folder, n)
        assert exported(store, snapshot_id, tmp_path / f"out{n}") == received(folder)
    tiny_keyframe = sha256((folders[0] / "students.csv").read_bytes())
    assert [kept(store, f) for f in folders[1:3]] == [
        ("zstd-delta", tiny_keyframe),
        ("zstd-delta", tiny_keyframe),
    ]
    assert kept(store, folders[2], "notes.txt") == ("zstd", None)


def test_a_corrupted_delta_is_refused_with_one_line(store, tmp_path):
    n1, n2 = churn_nights(tmp_path)
    ingest(store, n1, 1)
    second = ingest(store, n2, 2)
    delta = sha256((n2 / "students.csv").read_bytes())
    keyframe = sha256((n1 / "students.csv").read_bytes())
    data = bytearray(store.rows("SELECT data FROM raw_files WHERE sha256 = ?", [delta])[0][0])
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the middle of the delta
    store.execute("UPDATE raw_files SET data = ? WHERE sha256 = ?", [bytes(data), delta])
    message = (
        f"raw file {delta[:12]} (a delta of keyframe {keyframe[:12]}) is corrupt "
        "(zstd cannot decode it): export it with --canonical instead"
    )
    with pytest.raises(StoreError) as caught:
        export_snapshot(store, second, tmp_path / "out")
    assert str(caught.value) == message
    assert not (tmp_path / "out" / "students.csv").exists()  # no partial file left behind
    with pytest.raises(StoreError) as caught, (tmp_path / "copy.csv").open("wb") as stream:
        store.copy_raw(delta, stream)
    assert str(caught.value) == message


def test_a_delta_pointed_at_the_wrong_keyframe_is_refused(store, tmp_path):
    n1, n2 = churn_nights(tmp_path)
    ingest(store, n1, 1)
    ingest(store, n2, 2)
    delta = sha256((n2 / "students.csv").read_bytes())
    enrollments = sha256((n1 / "enrollments.csv").read_bytes())
    store.execute("UPDATE raw_files SET base_sha256 = ? WHERE sha256 = ?", [enrollments, delta])
    with pytest.raises(StoreError) as caught:
        store.raw_bytes(delta)
    assert str(caught.value) == (
        f"raw file {delta[:12]} (a delta of keyframe {enrollments[:12]}) is corrupt "
        "(zstd cannot decode it): export it with --canonical instead"
    )


def test_a_delta_whose_keyframe_is_gone_says_so(store, tmp_path):
    n1, n2 = churn_nights(tmp_path)
    ingest(store, n1, 1)
    ingest(store, n2, 2)
    delta = sha256((n2 / "students.csv").read_bytes())
    keyframe = sha256((n1 / "students.csv").read_bytes())
    store.execute("DELETE FROM raw_files WHERE sha256 = ?", [keyframe])
    with pytest.raises(StoreError) as caught:
        store.raw_bytes(delta)
    assert str(caught.value) == (
        f"raw file {delta[:12]} is a delta of keyframe {keyframe[:12]}, which is not kept: "
        "export with --canonical instead"
    )


def test_a_corrupted_keyframe_is_refused_before_its_deltas_are_used(store, tmp_path):
    n1, n2 = churn_nights(tmp_path)
    ingest(store, n1, 1)
    keyframe = sha256((n1 / "students.csv").read_bytes())
    data = bytearray(store.rows("SELECT data FROM raw_files WHERE sha256 = ?", [keyframe])[0][0])
    data[-3] ^= 0x01  # the frame's content checksum no longer matches
    store.execute("UPDATE raw_files SET data = ? WHERE sha256 = ?", [bytes(data), keyframe])
    with pytest.raises(StoreError) as caught:
        ingest(store, n2, 2)
    assert str(caught.value) == (
        f"cannot keep students.csv: the store's keyframe of it ({keyframe[:12]}) is corrupt; "
        "run rosterlab doctor"
    )
    assert [s.seq for s in store.snapshots("maple")] == [1]


def test_a_file_edited_while_it_is_ingested_is_refused_and_nothing_is_kept(store, tmp_path):
    n1, n2 = churn_nights(tmp_path)
    ingest(store, n1, 1)
    before = store.rows("SELECT sha256 FROM raw_files ORDER BY sha256")
    students = n2 / "students.csv"
    with open_bundle(n2) as bundle:
        # Someone rewrites a name in place (same size) after the bundle was read.
        students.write_bytes(students.read_bytes().replace(b"Moreau", b"Moriau", 1))
        with pytest.raises(StoreError) as caught:
            ingest_bundle(store, bundle, district="maple", taken_at=NIGHT_1 + timedelta(days=1))
    assert str(caught.value) == "students.csv changed while it was being ingested: ingest again"
    assert store.rows("SELECT sha256 FROM raw_files ORDER BY sha256") == before
    assert [s.seq for s in store.snapshots("maple")] == [1]


def test_a_late_night_replayed_by_rebuild_is_a_delta_and_every_night_still_exports(store, tmp_path):
    night = big_night()
    folders = [
        write(tmp_path, "n1", night),
        write(tmp_path, "n2", renamed(night, range(0, 400), "Moreau")),
        write(tmp_path, "n3", renamed(night, range(400, 800), "Quist")),
    ]
    ingest(store, folders[0], 1)
    ingest(store, folders[2], 3)
    with open_bundle(folders[1]) as bundle:  # night 2 arrives late
        ingest_bundle(
            store, bundle, district="maple", taken_at=NIGHT_1 + timedelta(days=1), rebuild=True
        )
    keyframe = sha256((folders[0] / "students.csv").read_bytes())
    assert [kept(store, f) for f in folders] == [
        ("zstd", None),
        ("zstd-delta", keyframe),
        ("zstd-delta", keyframe),
    ]
    for snapshot, folder in zip(store.snapshots("maple"), folders, strict=True):
        assert exported(store, snapshot.id, tmp_path / f"out{snapshot.seq}") == received(folder)


def noisy_night(students: int = 80_000, seed: int = 11) -> Night:
    """The big night whose last column holds 128 random base64 characters per student: its
    students.csv (~16 MB) compresses to about 9 MiB, over two of the raw store's parts."""
    rng = random.Random(seed)
    night = big_night(students, seed)
    rows = [night["students.csv"][0]]
    for row in night["students.csv"][1:]:
        rows.append([*row[:-1], base64.b64encode(rng.randbytes(96)).decode()])
    return {**night, "students.csv": rows}


def parts(store: Store, digest: str) -> list[int]:
    """The byte length of each part of a kept blob, the head in raw_files first."""
    head = store.rows("SELECT octet_length(data) FROM raw_files WHERE sha256 = ?", [digest])
    rest = store.rows(
        "SELECT octet_length(data) FROM raw_file_parts WHERE sha256 = ? ORDER BY part", [digest]
    )
    return [head[0][0], *(size for (size,) in rest)]


def test_a_blob_over_4_mib_is_kept_in_parts_and_exports_byte_for_byte(store, tmp_path):
    first = noisy_night()
    n1 = write(tmp_path, "n1", first)
    n2 = write(tmp_path, "n2", renamed(first, range(0, 600), "Moreau"))
    ids = [ingest(store, n1, 1), ingest(store, n2, 2)]
    keyframe = sha256((n1 / "students.csv").read_bytes())
    sizes = parts(store, keyframe)
    assert len(sizes) == 3 and sizes[:2] == [raw.PART, raw.PART] and 0 < sizes[2] <= raw.PART
    assert store.rows("SELECT part FROM raw_file_parts ORDER BY part") == [(1,), (2,)]
    # night 2 is a small delta of that keyframe, read back from its three parts
    assert kept(store, n2) == ("zstd-delta", keyframe)
    assert len(parts(store, sha256((n2 / "students.csv").read_bytes()))) == 1
    for snapshot_id, folder in zip(ids, (n1, n2), strict=True):
        assert exported(store, snapshot_id, tmp_path / f"out{snapshot_id}") == received(folder)
    report = check_store(store)  # the store is not published yet (it is on close): not asked
    assert (report.raw_files, report.raw_files_decoded) == (6, 6)  # 5 files, 1 delta
    assert [p for p in report.problems if p.check in ("raw-files", "orphans")] == []


def test_a_blob_kept_whole_before_parts_existed_still_reads(store, tmp_path):
    """A store migrated to schema 16 keeps its earlier blobs whole in raw_files.data."""
    n1 = write(tmp_path, "n1", noisy_night())
    snapshot_id = ingest(store, n1, 1)
    digest = sha256((n1 / "students.csv").read_bytes())
    whole = store.stored_raw(digest)[1].data
    store.execute("UPDATE raw_files SET data = ? WHERE sha256 = ?", [whole, digest])
    store.execute("DELETE FROM raw_file_parts WHERE sha256 = ?", [digest])
    assert parts(store, digest) == [len(whole)]
    assert exported(store, snapshot_id, tmp_path / "out") == received(n1)


def test_a_lost_part_or_a_part_without_its_file_is_a_doctor_problem(store, tmp_path):
    n1 = write(tmp_path, "n1", noisy_night())
    snapshot_id = ingest(store, n1, 1)
    digest = sha256((n1 / "students.csv").read_bytes())
    store.execute("DELETE FROM raw_file_parts WHERE sha256 = ? AND part = 2", [digest])
    with pytest.raises(StoreError) as caught:
        export_snapshot(store, snapshot_id, tmp_path / "out")
    assert str(caught.value) == (
        f"raw file {digest[:12]} is corrupt (truncated or overlong): "
        "export it with --canonical instead"
    )
    assert [p.check for p in check_store(store).problems if p.check != "published"] == ["raw-files"]
    store.execute("DELETE FROM raw_files WHERE sha256 = ?", [digest])
    assert [(p.check, p.message) for p in check_store(store).problems if p.check == "orphans"] == [
        (
            "orphans",
            f"raw_file_parts has 1 part of raw file {digest[:12]}, which is not kept; {RESTORE}",
        )
    ]


def test_an_ingest_evicting_for_its_delta_packs_it_with_duckdbs_limit_lowered(tmp_path):
    # Sessions 13–14, issue 14: a 1M events pull peaked at ~2 GB — students.csv's delta codec
    # (its keyframe's content and the file, ~2 × 428 MB) on top of DuckDB's whole 1 GB limit.
    # An ingest told to (an API pull's) packs the largest file's delta in keep(), DuckDB's limit
    # lowered meanwhile; night 1 has no keyframe (full frames, streamed): nothing is evicted.
    n1, n2 = churn_nights(tmp_path)
    limit = "SELECT current_setting('memory_limit')"
    said: list[tuple[str, str]] = []
    with Store.open(tmp_path / "store.duckdb", memory_limit="1GB", threads=2) as store:

        def keeping(message: str) -> None:
            if message.startswith("keeping raw files"):
                said.append((message, store.rows(limit)[0][0]))

        ids = []
        for night, folder in enumerate((n1, n2), 1):
            with open_bundle(folder) as bundle:
                result = ingest_bundle(
                    store,
                    bundle,
                    district="maple",
                    taken_at=NIGHT_1 + timedelta(days=night - 1),
                    progress=keeping,
                    evict_for_delta=True,
                )
            ids.append(result.snapshot.id)
        assert said == [
            ("keeping raw files", "953.6 MiB"),
            (
                "keeping raw files (students.csv packed against its keyframe, "
                "DuckDB's buffers evicted)",
                "61.0 MiB",
            ),
        ]
        assert store.rows(limit) == [("953.6 MiB",)]
        assert kept(store, n2) == ("zstd-delta", sha256((n1 / "students.csv").read_bytes()))
        for snapshot_id, folder in zip(ids, (n1, n2), strict=True):
            assert exported(store, snapshot_id, tmp_path / f"out{snapshot_id}") == received(folder)
