"""Ingest a night, then check it: one pipeline behind ingest, pull, api pull and the workbench."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rosterlab.bundle import open_bundle
from rosterlab.bundle.history import read_history_folder
from rosterlab.checks import ingest_and_check, ingest_history
from rosterlab.store import Store
from tests.tiny import tiny_night, write_night

ROWS = {"schools": 2, "students": 3, "contacts": 3, "teachers": 3, "sections": 2, "staff": 0}


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """tiny's nights: clean; an enrollment in a section nobody sent; students.csv missing."""
    root = tmp_path / "tiny"
    write_night(root / "2026-09-01", tiny_night())
    orphan = tiny_night()
    orphan["enrollments.csv"].append(["SCH-1", "SEC-9", "S-001"])
    write_night(root / "2026-09-02", orphan)
    no_students = tiny_night()
    del no_students["students.csv"]
    write_night(root / "2026-09-03", no_students)
    (root / "district.toml").write_text('name = "Tiny USD"\nhold_deletion_threshold = 0.05\n')
    return root


def codes(night) -> list[str]:
    return sorted({f.code for f in night.result.findings})


def test_each_night_is_ingested_then_checked_with_its_rows_and_outcome(tmp_path, history):
    with Store.open(tmp_path / "s.duckdb") as store:
        nights = ingest_history(store, read_history_folder(history))
        settings = store.rows("SELECT name, settings FROM districts WHERE district = 'tiny'")
    assert [(n.result.snapshot.seq, n.result.new, n.result.dated_by) for n in nights] == [
        (1, True, "name"),
        (2, True, "name"),
        (3, True, "name"),
    ]
    # enrollment-unknown-section is a check's finding (cross-file), not the ingest's
    assert [codes(n) for n in nights] == [
        ["extension-column"],
        ["enrollment-unknown-section", "extension-column"],
        ["missing-file"],
    ]
    assert [n.rows for n in nights] == [
        {**ROWS, "enrollments": 3, "admins": 0},
        {**ROWS, "enrollments": 4, "admins": 0},
        {**ROWS, "students": 0, "contacts": 0, "enrollments": 3, "admins": 0},
    ]
    assert [(n.outcome.outcome, n.outcome.reason) for n in nights] == [
        ("processed", ""),
        ("processed", ""),
        ("not-processed", "missing-file: students.csv"),
    ]
    # the folder's district.toml is kept with the district and the checks ran with it
    assert settings[0][0] == "Tiny USD"
    assert '"hold_deletion_threshold": 0.05' in settings[0][1]
    assert dict(nights[0].outcome.settings)["hold_deletion_threshold"] == 0.05


def test_a_night_already_held_keeps_its_findings_and_is_not_checked_again(tmp_path, history):
    with Store.open(tmp_path / "s.duckdb") as store:
        first = ingest_history(store, read_history_folder(history))
        runs = store.rows("SELECT snapshot_id, fingerprint, checked_at FROM check_runs")
        with open_bundle(history / "2026-09-02") as bundle:
            again = ingest_and_check(store, bundle, district="tiny", known=None)
        assert store.rows("SELECT snapshot_id, fingerprint, checked_at FROM check_runs") == runs
    assert (again.result.snapshot.id, again.result.new) == (first[1].result.snapshot.id, False)
    assert codes(again) == ["enrollment-unknown-section", "extension-column"]
    assert (again.rows, again.outcome) == (first[1].rows, first[1].outcome)


def test_a_night_whose_checks_never_ran_is_checked_when_ingested_again(tmp_path, history):
    """The process died between the ingest's commit and its checks (a fleet worker killed)."""
    from rosterlab.store import ingest_bundle

    night = history / "2026-09-02"
    with Store.open(tmp_path / "s.duckdb") as store:
        with open_bundle(night) as bundle:
            unchecked = ingest_bundle(store, bundle, district="tiny", taken_at=None)
        before = store.rows("SELECT count(*) FROM check_runs")
        with open_bundle(night) as bundle:
            again = ingest_and_check(store, bundle, district="tiny", known=None)
        after = store.rows("SELECT snapshot_id FROM check_runs")
    assert [f.code for f in unchecked.findings] == ["extension-column"]
    assert (again.result.snapshot.id, again.result.new) == (unchecked.snapshot.id, False)
    assert codes(again) == ["enrollment-unknown-section", "extension-column"]
    assert (before, after) == ([(0,)], [(unchecked.snapshot.id,)])


def test_a_nights_checks_hand_on_their_history_diff_which_a_later_diff_reuses(tmp_path, history):
    """The history checks diff the live state against tonight; a fleet night reports the same
    diff, so it takes the checks' counts and reads only the outcome and holds again."""
    from dataclasses import replace

    from rosterlab.diff import diff_snapshots

    with Store.open(tmp_path / "s.duckdb") as store:
        first, orphan, no_students = ingest_history(store, read_history_folder(history))
        fresh = [
            diff_snapshots(store, "tiny", "live", n.result.snapshot.id)
            for n in (orphan, no_students)
        ]
        reused = [
            diff_snapshots(store, "tiny", "live", n.result.snapshot.id, computed=n.history)
            for n in (orphan, no_students)
        ]
        # a diff of another pair of nights is not taken for this one
        other = diff_snapshots(
            store,
            "tiny",
            first.result.snapshot.id,
            orphan.result.snapshot.id,
            computed=no_students.history,
        )
        # the counts come from the diff handed in (nothing is computed again)
        emptied = replace(orphan.history, entities=())
        taken = diff_snapshots(store, "tiny", "live", orphan.result.snapshot.id, computed=emptied)
        with open_bundle(history / "2026-09-02") as bundle:
            again = ingest_and_check(store, bundle, district="tiny", known=None)
    assert first.history is None  # the district's first night: no live state before it
    assert again.history is None  # checks read back from the store: no diff was made
    assert [(d.from_snapshot.seq, d.to_snapshot.seq) for d in reused] == [(1, 2), (2, 3)]
    assert reused == fresh
    assert [d.entity("enrollments").added for d in reused] == [1, 0]
    # night 3 is not processed: nothing is held (the outcome and holds are read again)
    assert reused[1].not_processed == "missing-file: students.csv"
    assert reused[1].hold_reasons == ()
    assert other == fresh[0]  # night 1 was processed: live before night 2 is night 1
    assert taken.entities == () and taken.rekeys == orphan.history.rekeys


def nights_of_a_leaver(root: Path) -> Path:
    """tiny's nights 2026-09-01..04: clean; S-003 leaves (a third of the students: held);
    S-002's grade changes; S-003 is back."""
    leaver = tiny_night()
    del leaver["students.csv"][4]
    del leaver["enrollments.csv"][3]
    graded = tiny_night()
    graded["students.csv"][3][5] = "11"
    for day, night in enumerate((tiny_night(), leaver, graded, tiny_night()), start=1):
        write_night(root / f"2026-09-0{day}", night)
    return root


def counting_checks(monkeypatch) -> list[int]:
    """The snapshot ids whose checks were computed (not read back from the store)."""
    from rosterlab.checks import run as checks_run

    computed: list[int] = []
    compute = checks_run._compute

    def counted(ctx, lane=None):
        computed.append(ctx.snapshot.id)
        return compute(ctx, lane)

    monkeypatch.setattr(checks_run, "_compute", counted)
    return computed


def test_a_rebuilt_folder_checks_each_night_once(tmp_path, monkeypatch, capsys):
    """`ingest FOLDER --rebuild` re-checked the whole district after every night: 4 nights into
    an empty store computed 1 + 2 + 3 + 4 checks, into a store holding a later night 14. Each
    night is now checked once, and what the command prints is what a plain ingest prints."""
    from tests.cli_run import run

    folder = nights_of_a_leaver(tmp_path / "tiny")
    ingest = ("ingest", str(folder), "--format", "json")
    plain = run(capsys, "--store", str(tmp_path / "plain.duckdb"), *ingest)

    computed = counting_checks(monkeypatch)
    rebuilt = run(capsys, "--store", str(tmp_path / "rebuilt.duckdb"), *ingest, "--rebuild")
    assert rebuilt == plain
    assert computed == [1, 2, 3, 4]

    # the store already holds the folder's fifth night (an orphan enrollment: a check's finding)
    fifth = tiny_night()
    fifth["enrollments.csv"].append(["SCH-1", "SEC-9", "S-001"])
    fifth_night = str(write_night(folder / "2026-09-05", fifth))
    later = tmp_path / "later.duckdb"
    assert run(capsys, "--store", str(later), "ingest", fifth_night, "--district", "tiny")[0] == 0
    computed.clear()
    code, out, _ = run(capsys, "--store", str(later), *ingest, "--rebuild")
    assert code == 0
    # each night replayed before the fifth (ids kept), then each checked once, oldest first
    assert computed == [2, 3, 4, 5, 1]
    nights = json.loads(out)
    assert [(n["snapshot"]["id"], n["snapshot"]["seq"], n["outcome"]) for n in nights] == [
        (2, 1, "processed"),
        (3, 2, "held"),
        (4, 3, "processed"),
        (5, 4, "processed"),
        (1, 5, "processed"),
    ]
    # the fifth night, met already ingested, reports the findings its checks keep after the
    # replays, as a plain ingest of the five nights does
    plain = json.loads(run(capsys, "--store", str(tmp_path / "five.duckdb"), *ingest)[1])
    assert [n["findings_summary"] for n in nights] == [n["findings_summary"] for n in plain]
    assert nights[4]["findings_summary"] == {"error": 1, "warning": 0, "info": 1}


def test_a_rebuilt_folder_replays_the_district_once_however_many_nights_are_out_of_order(
    tmp_path, monkeypatch, capsys
):
    """The store holds the folder's third night only; `ingest FOLDER --rebuild` of nights 1..5
    replayed the district once for night 1 and again for night 2 (two out-of-order nights: two
    replays, each re-ingesting every night kept so far). Both now go in place in ONE replay,
    nights 4 and 5 (after the newest) are ingested as every night is, and the result is what a
    plain ingest of the five nights gives."""
    from rosterlab.store import ingest as store_ingest
    from tests.cli_run import run

    folder = nights_of_a_leaver(tmp_path / "tiny")
    fifth = tiny_night()
    fifth["enrollments.csv"].append(["SCH-1", "SEC-9", "S-001"])
    write_night(folder / "2026-09-05", fifth)
    store = tmp_path / "store.duckdb"
    third = str(folder / "2026-09-03")
    assert run(capsys, "--store", str(store), "ingest", third, "--district", "tiny")[0] == 0

    replays: list[list[int]] = []
    replay = store_ingest._replay

    def counted(store, ingestor, district, times, inserts=()):
        replays.append(sorted(times))
        return replay(store, ingestor, district, times, inserts)

    monkeypatch.setattr(store_ingest, "_replay", counted)
    computed = counting_checks(monkeypatch)
    ingest = ("ingest", str(folder), "--format", "json")
    code, out, _ = run(capsys, "--store", str(store), *ingest, "--rebuild")
    assert code == 0
    assert replays == [[1]]  # once, the third night kept (its id 1)
    assert computed == [2, 3, 1, 4, 5]  # each night checked once, oldest first
    nights = json.loads(out)
    assert [(n["snapshot"]["id"], n["snapshot"]["seq"], n["outcome"]) for n in nights] == [
        (2, 1, "processed"),
        (3, 2, "held"),
        (1, 3, "processed"),
        (4, 4, "processed"),
        (5, 5, "processed"),
    ]
    plain = json.loads(run(capsys, "--store", str(tmp_path / "plain.duckdb"), *ingest)[1])
    assert [n["findings_summary"] for n in nights] == [n["findings_summary"] for n in plain]
    assert [n["snapshot"]["taken_at"] for n in nights] == [n["snapshot"]["taken_at"] for n in plain]


def test_a_rebuilt_folder_whose_later_night_fails_keeps_the_replay_checked(
    tmp_path, monkeypatch, capsys
):
    """The one replay (nights 1 and 2 put before the stored night 3) is committed before the
    nights after the newest are ingested; when night 5 then fails, the district's nights are
    checked again, oldest first, as after a replay that completes (night 3 is checked after
    the nights now before it)."""
    from rosterlab.errors import StoreError
    from rosterlab.store import ingest as store_ingest
    from tests.cli_run import run

    folder = nights_of_a_leaver(tmp_path / "tiny")
    write_night(folder / "2026-09-05", tiny_night())
    store = tmp_path / "store.duckdb"
    third = str(folder / "2026-09-03")
    assert run(capsys, "--store", str(store), "ingest", third, "--district", "tiny")[0] == 0

    ingest_night = store_ingest.Ingestor.run

    def failing(self, bundle, **args):
        if args["taken_at"].day == 5:
            raise StoreError("disk full while writing night 5")
        return ingest_night(self, bundle, **args)

    monkeypatch.setattr(store_ingest.Ingestor, "run", failing)
    computed = counting_checks(monkeypatch)
    code, out, err = run(capsys, "--store", str(store), "ingest", str(folder), "--rebuild")
    assert (code, out, err) == (2, "", "rosterlab: disk full while writing night 5\n")
    assert computed == [2, 3, 1, 4]  # every night of the district, oldest first
    with Store.open(store, read_only=True) as opened:
        nights = [(s.id, s.seq) for s in opened.snapshots("tiny")]
        checked = opened.rows("SELECT snapshot_id FROM check_runs ORDER BY snapshot_id")
    assert nights == [(2, 1), (3, 2), (1, 3), (4, 4)]
    assert checked == [(1,), (2,), (3,), (4,)]
