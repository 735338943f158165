"""Dated nights: taken_at from the bundle's name (else the files' mtime, said so), and
``snapshots forget`` / ``snapshots redate`` replaying a district's history from its raw files."""

from __future__ import annotations

import copy
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rosterlab.bundle.history import date_in_name
from rosterlab.cli import main
from rosterlab.store import Store
from tests.cli_run import run
from tests.tiny import tiny_night, write_night

CHECKOUT = datetime(2026, 12, 6, 5, 59, tzinfo=UTC)  # when git wrote the files


def nightly(store: Path, *argv: str) -> list[str]:
    return ["--store", str(store), *argv]


def history(store: Path) -> list[tuple[int, int, str]]:
    with Store.open(store, read_only=True) as opened:
        return [(s.id, s.seq, f"{s.taken_at:%Y-%m-%d %H:%M}") for s in opened.snapshots("maple")]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("2026-09-03", datetime(2026, 9, 3, 2, 0)),
        ("maple-2026-09-03.zip", datetime(2026, 9, 3, 2, 0)),
        ("2026-09-04T0215.zip", datetime(2026, 9, 4, 2, 15)),
        ("export_2026-09-04_2330", datetime(2026, 9, 4, 23, 30)),
        ("upload", None),
        ("2026-13-01", None),  # not a date
        ("12026-09-03", None),  # digits run into it
    ],
)
def test_the_date_in_a_bundle_name(name: str, expected: datetime | None) -> None:
    assert date_in_name(Path("/x") / name) == expected


def test_a_night_named_by_its_date_is_dated_by_its_name_not_the_checkout(capsys, tmp_path):
    store = tmp_path / "s.duckdb"
    bundle = write_night(tmp_path / "maple-2026-09-03", tiny_night(), when=CHECKOUT)
    night = tiny_night()
    night["students.csv"][3][5] = "11"
    folder = write_night(tmp_path / "next", night, when=CHECKOUT)
    zipped = tmp_path / "2026-09-04T0215.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, path.name)

    code, out, err = run(capsys, *nightly(store, "ingest", str(bundle), "--district", "maple"))
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "maple 2026-09-03 02:00 → snapshot 1 (night 1, new)"
    assert "taken_at" not in out
    code, out, _ = run(
        capsys, *nightly(store, "ingest", str(zipped), "--district", "maple", "--format", "json")
    )
    assert code == 0
    snapshot = json.loads(out)["snapshot"]
    assert (snapshot["taken_at"], snapshot["taken_at_from"], snapshot["new"]) == (
        "2026-09-04T02:15:00",
        "name",
        True,
    )


def test_a_night_without_a_date_in_its_name_says_it_used_the_files_mtime(capsys, tmp_path):
    store = tmp_path / "s.duckdb"
    bundle = write_night(tmp_path / "upload", tiny_night(), when=CHECKOUT)
    code, out, err = run(capsys, *nightly(store, "ingest", str(bundle), "--district", "maple"))
    assert (code, err) == (0, "")
    assert out.splitlines()[:3] == [
        "maple 2026-12-06 05:59 → snapshot 1 (night 1, new)",
        "  taken_at: from the files' newest modification time (no YYYY-MM-DD in the bundle's name)",
        "    wrong? rosterlab snapshots redate 1 --taken-at YYYY-MM-DDTHH:MM, or name the "
        "bundle's folder or zip after its night (YYYY-MM-DD)",
    ]


def three_nights(tmp_path: Path) -> Path:
    """maple: S-002 in grade 10, 11, then 12 (one change a night)."""
    folder = tmp_path / "maple"
    for day, grade in ((1, "10"), (2, "11"), (3, "12")):
        night = tiny_night()
        night["students.csv"][3][5] = grade
        write_night(folder / f"2026-09-0{day}", night, when=CHECKOUT)
    return folder


def grade_of_s002(store: Path, snapshot_id: int) -> str:
    with Store.open(store, read_only=True) as opened:
        frame = opened.entity_frame(snapshot_id, "students")
    return str(frame.filter(frame["key"] == "S-002")["Grade"][0])


def test_forget_removes_a_night_and_replays_the_rest_keeping_their_ids(capsys, tmp_path):
    store = tmp_path / "s.duckdb"
    assert run(capsys, *nightly(store, "ingest", str(three_nights(tmp_path))))[0] == 0

    code, out, err = run(capsys, *nightly(store, "snapshots", "forget", "2", "--district", "maple"))
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == (
        "forgot snapshot 2 (maple night 2, 2026-09-02 02:00); maple's history was replayed from "
        "the kept raw files and checked again:"
    )
    assert history(store) == [(1, 1, "2026-09-01 02:00"), (3, 2, "2026-09-03 02:00")]
    assert (grade_of_s002(store, 1), grade_of_s002(store, 3)) == ("10", "12")
    code, out, _ = run(capsys, *nightly(store, "diff", "--district", "maple", "--format", "json"))
    assert code == 0
    diff = json.loads(out)
    assert (diff["from"], diff["to"], diff["from_seq"], diff["to_seq"]) == (1, 3, 1, 2)
    assert diff["entities"]["students"]["fields"] == {"Grade": 1}
    assert run(capsys, *nightly(store, "doctor"))[0] == 0


def test_redate_moves_a_night_dated_by_its_checkout_into_place(capsys, tmp_path):
    """The README's first example on a fresh clone: one night dated by git's checkout time."""
    store = tmp_path / "s.duckdb"
    nights = three_nights(tmp_path)
    misdated = tmp_path / "upload"
    (nights / "2026-09-02").rename(misdated)  # incident: a night folder without its date
    run(capsys, *nightly(store, "ingest", str(nights / "2026-09-01"), "--district", "maple"))
    run(capsys, *nightly(store, "ingest", str(misdated), "--district", "maple"))
    code, _, err = run(
        capsys, *nightly(store, "ingest", str(nights / "2026-09-03"), "--district", "maple")
    )
    assert code == 2
    assert "not after district maple's newest snapshot 2 (2026-12-06 05:59)" in err

    code, out, err = run(
        capsys,
        *nightly(store, "snapshots", "redate", "latest", "--district", "maple", "--taken-at",
                 "2026-09-02T02:00"),
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out.splitlines()[0].startswith(
        "snapshot 2 (maple) moved from 2026-12-06 05:59 to 2026-09-02 02:00"
    )
    assert history(store) == [(1, 1, "2026-09-01 02:00"), (2, 2, "2026-09-02 02:00")]
    code, out, _ = run(
        capsys, *nightly(store, "ingest", str(nights / "2026-09-03"), "--district", "maple")
    )
    assert code == 0
    assert out.splitlines()[0] == "maple 2026-09-03 02:00 → snapshot 3 (night 3, new)"
    assert [grade_of_s002(store, i) for i in (1, 2, 3)] == ["10", "11", "12"]


def outcomes_of(capsys, store: Path) -> list[tuple[int, str]]:
    code, out, _ = run(
        capsys, *nightly(store, "snapshots", "--district", "maple", "--format", "json")
    )
    assert code == 0
    return [(s["id"], s["outcome"]) for s in json.loads(out)]


def test_a_replayed_history_keeps_what_clever_did_with_each_night(capsys, tmp_path):
    """Night 2 loses S-003 (a third of the students: held); 2026-09-01 arrives late. After
    `snapshots forget`, `redate` or `ingest --rebuild` replayed the district, every night read
    as processed — the held night too, and every command's live state with it — until each was
    checked again by hand."""
    folder = tmp_path / "maple"
    leaver = tiny_night()
    del leaver["students.csv"][4]  # S-003
    del leaver["enrollments.csv"][3]
    graded = copy.deepcopy(leaver)
    graded["students.csv"][3][5] = "11"
    for day, night in ((2, tiny_night()), (3, leaver), (4, graded), (5, tiny_night())):
        write_night(folder / f"2026-09-0{day}", night, when=CHECKOUT)
    store = tmp_path / "s.duckdb"
    assert run(capsys, *nightly(store, "ingest", str(folder)))[0] == 0
    held = [(1, "processed"), (2, "held"), (3, "processed"), (4, "processed")]
    assert outcomes_of(capsys, store) == held

    assert run(capsys, *nightly(store, "snapshots", "forget", "4", "--district", "maple"))[0] == 0
    assert outcomes_of(capsys, store) == held[:3]
    redate = ("snapshots", "redate", "3", "--district", "maple", "--taken-at", "2026-09-06T02:00")
    assert run(capsys, *nightly(store, *redate))[0] == 0
    assert outcomes_of(capsys, store) == held[:3]
    first = write_night(tmp_path / "2026-09-01", tiny_night(), when=CHECKOUT)
    rebuild = ("ingest", str(first), "--district", "maple", "--rebuild")
    assert run(capsys, *nightly(store, *rebuild))[0] == 0
    assert outcomes_of(capsys, store) == [(5, "processed"), *held[:3]]


def test_redate_onto_another_nights_time_is_refused_and_changes_nothing(capsys, tmp_path):
    store = tmp_path / "s.duckdb"
    run(capsys, *nightly(store, "ingest", str(three_nights(tmp_path))))
    code, out, err = run(
        capsys, *nightly(store, "snapshots", "redate", "3", "--taken-at", "2026-09-01T02:00")
    )
    assert (code, out) == (2, "")
    assert err == (
        "rosterlab: snapshot 1 (night 1 of maple) is already taken at 2026-09-01 02:00: give "
        "another --taken-at\n"
    )
    assert history(store) == [
        (1, 1, "2026-09-01 02:00"),
        (2, 2, "2026-09-02 02:00"),
        (3, 3, "2026-09-03 02:00"),
    ]


def test_redate_more_than_a_day_ahead_is_refused_as_at_ingest(capsys, tmp_path):
    """Ingest refuses a night more than a day in the future (a wrong clock) unless
    --allow-future; redate accepted one silently, and every later night would then be refused
    as older than the newest."""
    store = tmp_path / "s.duckdb"
    run(capsys, *nightly(store, "ingest", str(three_nights(tmp_path))))
    redate = nightly(store, "snapshots", "redate", "3", "--taken-at", "2099-01-01T02:00")
    code, out, err = run(capsys, *redate)
    assert (code, out) == (2, "")
    assert err == (
        "rosterlab: snapshot 3 would be taken at 2099-01-01 02:00 UTC (--taken-at), more than a "
        f"day after today ({datetime.now(UTC):%Y-%m-%d} UTC): fix --taken-at, or re-run with "
        "--allow-future if it is right\n"
    )
    assert history(store)[2] == (3, 3, "2026-09-03 02:00")
    code, _, err = run(capsys, *redate, "--allow-future")
    assert (code, err) == (0, "")
    assert history(store)[2] == (3, 3, "2099-01-01 02:00")


@pytest.fixture
def maple_and_cedar(tmp_path: Path) -> Path:
    """maple's three nights are snapshots 1-3; cedar's two are 4 and 5."""
    store = tmp_path / "s.duckdb"
    main_store = nightly(store, "ingest", str(three_nights(tmp_path)))
    assert main(main_store) == 0
    for day in (1, 2):
        night = tiny_night()
        night["students.csv"][3][5] = str(9 + day)
        folder = write_night(tmp_path / "cedar" / f"2026-09-0{day}", night, when=CHECKOUT)
        assert main(nightly(store, "ingest", str(folder), "--district", "cedar")) == 0
    return store


def test_an_id_of_another_district_names_this_districts_nights(capsys, maple_and_cedar):
    capsys.readouterr()
    code, out, err = run(
        capsys, *nightly(maple_and_cedar, "check", "--district", "cedar", "--snapshot", "2")
    )
    assert (code, out) == (2, "")
    assert err == (
        "rosterlab: snapshot 2 belongs to maple; cedar's nights are n1 = 4 (2026-09-01), "
        "n2 = 5 (2026-09-02)\n"
    )


def test_nights_are_named_by_date_or_night_number(capsys, maple_and_cedar):
    capsys.readouterr()
    code, out, err = run(
        capsys,
        *nightly(maple_and_cedar, "diff", "--district", "maple", "--from", "n1", "--to",
                 "2026-09-03", "--format", "json"),
    )  # fmt: skip
    assert (code, err) == (0, "")
    diff = json.loads(out)
    assert (diff["from"], diff["to"], diff["entities"]["students"]["fields"]) == (
        1,
        3,
        {"Grade": 1},
    )
    code, out, _ = run(
        capsys, *nightly(maple_and_cedar, "check", "--district", "cedar", "--snapshot", "n2")
    )
    assert out.splitlines()[0].startswith("cedar snapshot 5 (night 2, 2026-09-02 02:00)")


def test_a_date_or_night_that_is_not_there_lists_the_nights(capsys, maple_and_cedar, tmp_path):
    capsys.readouterr()
    for ref, message in (
        ("2026-09-04", "cedar has no night on 2026-09-04; cedar's nights are n1 = 4 (2026-09-01), "
                       "n2 = 5 (2026-09-02)"),
        ("n7", "there is no night n7; cedar's nights are n1 = 4 (2026-09-01), n2 = 5 (2026-09-02)"),
        ("yesterday", "snapshot reference 'yesterday' is not an id, latest, previous, a date "
                      "(YYYY-MM-DD) or a night number (n3)"),
    ):  # fmt: skip
        code, out, err = run(
            capsys, *nightly(maple_and_cedar, "export", ref, str(tmp_path / "x"), "--district",
                             "cedar"),
        )  # fmt: skip
        assert (code, out, err) == (2, "", f"rosterlab: {message}\n")


def test_a_day_with_two_nights_asks_which(capsys, maple_and_cedar, tmp_path):
    night = tiny_night()
    night["students.csv"][3][5] = "12"
    afternoon = write_night(tmp_path / "cedar-2026-09-02T1430", night, when=CHECKOUT)
    assert main(nightly(maple_and_cedar, "ingest", str(afternoon), "--district", "cedar")) == 0
    capsys.readouterr()
    code, _, err = run(
        capsys, *nightly(maple_and_cedar, "check", "--district", "cedar", "--snapshot",
                         "2026-09-02"),
    )  # fmt: skip
    assert (code, err) == (
        2,
        "rosterlab: cedar has 2 nights on 2026-09-02: n2 = 5 (02:00), n3 = 6 (14:30); give the "
        "id or nN\n",
    )
