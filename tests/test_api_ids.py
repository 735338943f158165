"""Clever ids as intervals: ``api_ids`` keeps, per district, each (entity, sis_id, clever_id) with
the API pulls that served it, and ``api_ids_of(snapshot)`` reads back exactly what each pull
served — what the table kept per snapshot before (migration 17) — whatever upload snapshots sit
between the pulls, and after a snapshot is forgotten or a replay moves every night.

The expected ids are read from the stand-in (a real process) while it serves each night.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from rosterlab.bundle import open_bundle
from rosterlab.cli import main
from rosterlab.store import Store, forget_snapshot, ingest_bundle, redate_snapshot
from rosterlab.store.doctor import check_store
from tests.api_standin import TOKEN, TOKEN_ENV, standin
from tests.test_api import DISTRICT, configure
from tests.test_api_events import SAMPLES
from tests.test_api_users import jo_is_also_staff
from tests.tiny import Night, write_night

Ids = set[tuple[str, str, str]]
# entity, list request, the sis_id's path in a served record
SERVED = (
    ("schools", "/v3.1/schools", ("sis_id",)),
    ("sections", "/v3.1/sections", ("sis_id",)),
    ("students", "/v3.1/users?role=student", ("roles", "student", "sis_id")),
    ("teachers", "/v3.1/users?role=teacher", ("roles", "teacher", "sis_id")),
    ("staff", "/v3.1/users?role=staff", ("roles", "staff", "staff_id")),
)


def served_ids(origin: str) -> Ids:
    """Every (entity, sis_id, Clever id) the stand-in serves, page after page."""
    found: Ids = set()
    for entity, first, path in SERVED:
        uri: str | None = first
        while uri:
            body = httpx.get(origin + uri, headers={"Authorization": f"Bearer {TOKEN}"}).json()
            for item in body["data"]:
                value: Any = item["data"]
                for step in path:
                    value = value[step]
                if value is not None:
                    found.add((entity, value, item["data"]["id"]))
            uri = next((link["uri"] for link in body["links"] if link["rel"] == "next"), None)
    return found


def ids_of(store: Store, snapshot_id: int) -> Ids:
    rows = store.rows("SELECT entity, sis_id, clever_id FROM api_ids_of(?)", [snapshot_id])
    assert len(rows) == len(set(rows))
    return set(rows)


def runs(served: list[Ids]) -> int:
    """How many intervals the pulls' sets make: a pair's run of consecutive pulls is one."""
    return sum(len(now - (served[i - 1] if i else set())) for i, now in enumerate(served))


def upload(store: Path, district: str, folder: Path, when: datetime | None = None) -> None:
    """Ingest a night taken ``when`` (default now: after the pull before it)."""
    with Store.open(store) as s, open_bundle(folder) as bundle:
        taken_at = when or datetime.now(UTC)
        ingest_bundle(s, bundle, district=district, taken_at=taken_at, rebuild=when is not None)


def pull_served(store: Path, district: str, tmp_path: Path) -> Ids:
    """Serve the district's newest snapshot of ``store`` as it is, read what is served, and pull
    it into the same store (a new API snapshot after the upload)."""
    with standin(store, district, "--as-is") as origin:
        served = served_ids(origin)
        argv = ["--store", str(store), "--config", str(configure(tmp_path, origin)), "api",
                "pull", "--target", "standin", "--district", district]  # fmt: skip
        assert main(argv) == 0
    return served


def test_each_of_cedars_nightly_pulls_reads_back_the_ids_it_served(tmp_path, monkeypatch):
    """Cedar's eight nights, each uploaded then pulled into one store (upload and API snapshots
    alternate in seq): after every night, every pull so far reads back what it served and every
    upload reads nothing; the table holds a row per run of pulls, not per pull."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    store = tmp_path / "s.duckdb"
    nights = sorted(p for p in (SAMPLES / "cedar").iterdir() if p.is_dir())
    served: list[Ids] = []
    for n, night in enumerate(nights):
        upload(store, "cedar", night)
        served.append(pull_served(store, "cedar", tmp_path))
        with Store.open(store, read_only=True) as s:
            history = s.snapshots("cedar")
            assert [x.origin for x in history] == ["upload", "api"] * (n + 1)
            assert [ids_of(s, x.id) for x in history] == [
                ids for pulled in served for ids in (set(), pulled)
            ]
            assert s.rows("SELECT count(*) FROM api_ids")[0][0] == runs(served)
    # night 7 serves 82 records: its students.csv is saved as students.csv.txt
    assert [len(ids) for ids in served] == [282, 282, 282, 282, 281, 279, 82, 186]
    assert runs(served) == 420  # where a row per pull and record was 1,956
    # an older night inserted before every other moves every seq: the ids stay each pull's
    upload(store, "cedar", nights[0], datetime(2026, 8, 31, tzinfo=UTC))
    with Store.open(store, read_only=True) as s:
        history = s.snapshots("cedar")
        assert [x.seq for x in history] == list(range(1, 18))
        assert [ids_of(s, x.id) for x in history] == [
            set(),
            *(ids for pulled in served for ids in (set(), pulled)),
        ]


def rekeyed_nights() -> tuple[Night, Night, Night]:
    """Night 2: student S-003's sis_id becomes S-003X (a re-key: a new Clever id), and Jo's
    teacher id T-1 becomes T-1X (Jo is one user with her staff row F-2, whose Clever id she keeps:
    the stand-in names a merged user by its staff row). Night 3: T-1 again, S-003X kept."""
    first = jo_is_also_staff()
    second = renamed(renamed(first, "S-003", "S-003X"), "T-1", "T-1X")
    return first, second, renamed(second, "T-1X", "T-1")


def renamed(night: Night, old: str, new: str) -> Night:
    """The night with every value ``old`` (an id, wherever it is named) made ``new``."""
    return {
        name: [[new if value == old else value for value in row] for row in rows]
        for name, rows in night.items()
    }


def three_pulls(tmp_path: Path) -> tuple[Path, list[int], list[Ids]]:
    """The three nights uploaded and pulled: the store, the pulls' snapshot ids, their ids."""
    store = tmp_path / "s.duckdb"
    served = []
    for n, night in enumerate(rekeyed_nights()):
        upload(store, DISTRICT, write_night(tmp_path / f"n{n}", night))
        served.append(pull_served(store, DISTRICT, tmp_path))
    with Store.open(store, read_only=True) as s:
        pulls = [x.id for x in s.snapshots(DISTRICT) if x.origin == "api"]
    return store, pulls, served


def moved(store: Store) -> list[tuple[Any, ...]]:
    """The rows of S-003, S-003X, T-1 and T-1X."""
    return store.rows(
        "SELECT entity, sis_id, clever_id, valid_from, valid_to FROM api_ids "
        "WHERE sis_id IN ('S-003', 'S-003X', 'T-1', 'T-1X') ORDER BY entity, valid_from, sis_id"
    )


def test_a_rekeyed_record_and_a_changed_sis_id_keeping_its_clever_id_over_three_pulls(
    tmp_path, monkeypatch
):
    """Each change closes one row and opens one; T-1 served again is a second row of its own."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    store, (p1, p2, p3), served = three_pulls(tmp_path)
    (s003,) = [c for e, sis, c in served[0] if sis == "S-003"]
    (s003x,) = [c for e, sis, c in served[1] if sis == "S-003X"]
    (jo,) = [c for e, sis, c in served[0] if (e, sis) == ("teachers", "T-1")]
    assert s003 != s003x
    assert {("staff", "F-2", jo), ("teachers", "T-1X", jo)} < served[1]
    assert {("staff", "F-2", jo), ("teachers", "T-1", jo)} < served[2]
    with Store.open(store, read_only=True) as s:
        assert [x.origin for x in s.snapshots(DISTRICT)] == ["upload", "api"] * 3
        assert [ids_of(s, p) for p in (p1, p2, p3)] == served
        assert moved(s) == [
            ("students", "S-003", s003, p1, p1),
            ("students", "S-003X", s003x, p2, None),
            ("teachers", "T-1", jo, p1, p1),
            ("teachers", "T-1X", jo, p2, p2),
            ("teachers", "T-1", jo, p3, None),
        ]
        assert s.rows("SELECT count(*) FROM api_ids")[0][0] == runs(served) == 14
    # the first pull redated between the two others: each pull still reads its own ids
    with Store.open(store) as s:
        after, before = s.snapshot(p2).taken_at, s.snapshot(p3).taken_at
        redate_snapshot(s, p1, after + (before - after) / 2)
        assert [x.id for x in s.snapshots(DISTRICT) if x.origin == "api"] == [p2, p1, p3]
        assert [ids_of(s, p) for p in (p1, p2, p3)] == served


def test_forgetting_a_pull_or_an_upload_keeps_the_other_pulls_ids(tmp_path, monkeypatch):
    """Forgetting the middle pull joins the runs it split (T-1 served by the first and the
    third pull is one row) and drops what only it served; forgetting the newest pull re-opens
    what the one before served; forgetting an upload between pulls changes nothing."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    store, (p1, p2, p3), served = three_pulls(tmp_path)
    with Store.open(store) as s:
        (s003,) = [c for e, sis, c in served[0] if sis == "S-003"]
        (s003x,) = [c for e, sis, c in served[1] if sis == "S-003X"]
        (jo,) = [c for e, sis, c in served[0] if (e, sis) == ("teachers", "T-1")]
        uploads = [x.id for x in s.snapshots(DISTRICT) if x.origin == "upload"]
        rows = s.rows("FROM api_ids ORDER BY ALL")
        forget_snapshot(s, uploads[1])
        assert s.rows("FROM api_ids ORDER BY ALL") == rows
        forget_snapshot(s, p2)
        assert [ids_of(s, p) for p in (p1, p2, p3)] == [served[0], set(), served[2]]
        assert moved(s) == [
            ("students", "S-003", s003, p1, p1),
            ("students", "S-003X", s003x, p3, None),
            ("teachers", "T-1", jo, p1, None),
        ]
        assert s.rows("SELECT count(*) FROM api_ids")[0][0] == runs([served[0], served[2]])
        forget_snapshot(s, p3)
        assert [ids_of(s, p) for p in (p1, p3)] == [served[0], set()]
        assert s.rows("SELECT count(*) FROM api_ids WHERE valid_to IS NOT NULL")[0][0] == 0
        assert s.rows("SELECT count(*) FROM api_ids")[0][0] == len(served[0])


def test_a_store_that_kept_the_ids_per_snapshot_is_migrated_to_the_same_intervals(
    tmp_path, monkeypatch
):
    """A store as migration 15 left it (a row per pull and record, and a row of a snapshot the
    store no longer holds): migration 17 makes the rows the pulls would have recorded."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    store, pulls, served = three_pulls(tmp_path)
    with Store.open(store) as s:
        recorded = s.rows("FROM api_ids ORDER BY ALL")
        for sql in (
            "DROP MACRO TABLE api_ids_of",
            "DROP TABLE api_ids",
            "CREATE TABLE api_ids (snapshot_id INTEGER NOT NULL, entity VARCHAR NOT NULL, "
            "sis_id VARCHAR NOT NULL, clever_id VARCHAR NOT NULL)",
            "DELETE FROM schema_migrations WHERE version = 17",
        ):
            s.execute(sql)
        for pull, ids in zip(pulls, served, strict=True):
            for entity, sis_id, clever_id in sorted(ids):
                s.execute(
                    "INSERT INTO api_ids VALUES (?, ?, ?, ?)", [pull, entity, sis_id, clever_id]
                )
        s.execute("INSERT INTO api_ids VALUES (99, 'students', 'S-001', 'gone')")
    with Store.open(store) as s:
        assert s.rows("FROM api_ids ORDER BY ALL") == recorded
        assert [ids_of(s, p) for p in pulls] == served


def test_doctor_finds_an_interval_that_names_an_upload_and_a_clever_id_kept_twice(
    tmp_path, monkeypatch
):
    """Healthy after the pulls and after forgetting one; then two damages, a line each."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    store, (p1, p2, p3), served = three_pulls(tmp_path)
    (s003x,) = [c for e, sis, c in served[1] if sis == "S-003X"]
    with Store.open(store, read_only=True) as s:
        assert check_store(s, quick=True).problems == ()
    with Store.open(store) as s:
        forget_snapshot(s, p2)
    with Store.open(store, read_only=True) as s:
        assert check_store(s, quick=True).problems == ()
    with Store.open(store) as s:
        first_upload = s.snapshots(DISTRICT)[0].id
        s.execute("UPDATE api_ids SET valid_from = ? WHERE sis_id = 'S-003'", [first_upload])
        s.execute(
            "INSERT INTO api_ids VALUES (?, 'students', 'S-003X', ?, ?, NULL)",
            [DISTRICT, s003x, p3],
        )
    with Store.open(store, read_only=True) as s:
        problems = [(p.check, p.message) for p in check_store(s, quick=True).problems]
    restore = "restore the store from a backup, or re-create it by ingesting the district's nights"
    assert problems == [
        ("api-ids", f"students 'S-003' of district {DISTRICT} has Clever id interval "
                    f"[{first_upload}, {p1}], not between two of the district's api pulls; "
                    f"{restore}"),
        ("api-ids", f"students 'S-003X' of district {DISTRICT}: the same Clever id is kept twice "
                    f"from pull {p3} (reconcile would read it twice); {restore}"),
    ]  # fmt: skip
