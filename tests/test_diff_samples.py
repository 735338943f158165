"""The sample districts' diffs, every consecutive pair (data/samples/README.md tells the story).

maple: night 5 re-keys teacher T-1008 (T-91008, teaching at two schools, listed once as the help
centre asks, so 1 of 16 teachers is no deletion hold); night 7 is the Summer Bridge
term rollover (an expected hold); night 8 is a truncated export (a mass-deletion hold). cedar
(hold_deletion_threshold 0.05): a duplicate Student_id on night 6, students.csv misnamed on
night 7, a school's number used as its id on night 8 (teachers and staff re-keyed).
"""

from __future__ import annotations

from itertools import combinations, pairwise
from pathlib import Path

import pytest

from rosterlab.bundle.history import read_history_folder
from rosterlab.cli import main
from rosterlab.diff import HoldThresholds, diff_snapshots, history_findings
from rosterlab.diff.engine import find_rekeys
from rosterlab.store import Store

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"

# (from night, to night): ({entity: (added, removed, changed)} for entities with a change,
#   re-keys (entity, old, new), hold reasons (entity, kind, expected), rollovers (term,
#   sections, enrollments), duplicates (entity, key, versions at from, versions at to))
EXPECTED = {
    "maple": {
        (1, 2): (
            {"students": (1, 1, 2), "contacts": (2, 2, 1), "enrollments": (9, 9, 0)},
            [],
            [],
            [],
            [],
        ),
        (2, 3): (
            {
                "students": (1, 1, 2),
                "contacts": (2, 3, 0),
                "sections": (0, 0, 1),
                "enrollments": (12, 9, 0),
            },
            [],
            [],
            [],
            [],
        ),
        (3, 4): (
            {
                "students": (1, 1, 2),
                "contacts": (2, 1, 1),
                "teachers": (1, 0, 0),
                "enrollments": (8, 11, 0),
            },
            [],
            [],
            [],
            [],
        ),
        (4, 5): (
            {
                "students": (1, 1, 239),
                "contacts": (2, 3, 0),
                "teachers": (1, 1, 0),
                "sections": (0, 0, 11),
                "enrollments": (10, 10, 0),
            },
            [("teachers", "T-1008/SCH-002", "T-91008/SCH-002")],
            [("students", "update", False)],
            [],
            [],
        ),
        (5, 6): (
            {"students": (1, 1, 239), "contacts": (1, 1, 1), "enrollments": (9, 9, 0)},
            [],
            [("students", "update", False)],
            [],
            [],
        ),
        (6, 7): (
            {
                "students": (1, 1, 239),
                "contacts": (1, 2, 1),
                "sections": (0, 10, 0),
                "enrollments": (8, 290, 0),
            },
            [],
            [
                ("students", "update", False),
                ("sections", "deletion", True),
                ("enrollments", "deletion", True),
            ],
            [("Summer Bridge", 10, 282)],
            [],
        ),
        (7, 8): (
            {"students": (0, 120, 0), "contacts": (0, 163, 0), "enrollments": (0, 823, 0)},
            [],
            [
                ("students", "deletion", False),
                ("contacts", "deletion", False),
                ("enrollments", "deletion", False),
            ],
            [],
            [],
        ),
    },
    "cedar": {
        (1, 2): (
            {"students": (1, 1, 2), "contacts": (1, 2, 1), "enrollments": (9, 9, 0)},
            [],
            [],
            [],
            [],
        ),
        (2, 3): (
            {"students": (1, 1, 199), "contacts": (3, 3, 0), "enrollments": (8, 8, 0)},
            [],
            [("students", "update", False)],
            [],
            [],
        ),
        (3, 4): (
            {"students": (1, 1, 2), "contacts": (0, 2, 1), "enrollments": (10, 10, 0)},
            [],
            [],
            [],
            [],
        ),
        (4, 5): (
            {"students": (1, 2, 2), "contacts": (2, 3, 1), "enrollments": (9, 9, 0)},
            [],
            [],
            [],
            [],
        ),
        (5, 6): (
            {
                "students": (2, 2, 2),
                "contacts": (6, 4, 1),
                "enrollments": (17, 17, 0),
                "staff": (1, 1, 0),
            },
            [("staff", "E-5007/SCH-003", "E-5004/SCH-003")],
            [("staff", "deletion", False)],
            [],
            [("students", "S-100111", 1, 2)],
        ),
        (6, 7): (
            {
                "students": (0, 199, 0),
                "contacts": (0, 273, 0),
                "enrollments": (17, 17, 0),
                "staff": (1, 1, 0),
            },
            [("staff", "E-5004/SCH-003", "E-5007/SCH-003")],
            [],  # students.csv missing: Clever does not process the night, nothing is held
            [],
            [("students", "S-100111", 2, 0)],
        ),
        (7, 8): (
            {
                "students": (200, 0, 0),
                "contacts": (269, 0, 0),
                "teachers": (4, 4, 0),
                "sections": (0, 0, 21),
                "enrollments": (10, 10, 550),
                "staff": (4, 4, 0),
            },
            [
                ("teachers", "T-1005/SCH-002", "T-1005/00054"),
                ("teachers", "T-1006/SCH-002", "T-1006/00054"),
                ("teachers", "T-1007/SCH-002", "T-1007/00054"),
                ("teachers", "T-1008/SCH-002", "T-1008/00054"),
                ("staff", "E-5001/SCH-002", "E-5001/00054"),
                ("staff", "E-5002/SCH-002", "E-5002/00054"),
                ("staff", "E-5005/SCH-002", "E-5005/00054"),
                ("staff", "E-5006/SCH-002", "E-5006/00054"),
            ],
            [("teachers", "deletion", False), ("staff", "deletion", False)],
            [],
            [],
        ),
    },
}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("samples") / "store.duckdb"
    for district in EXPECTED:
        assert main(["--store", str(path), "ingest", str(SAMPLES / district)]) in (0, 1)
    return path


@pytest.mark.parametrize("district", list(EXPECTED))
def test_every_consecutive_pair_of_a_sample_district(store, district, capsys):
    capsys.readouterr()
    folder = read_history_folder(SAMPLES / district)
    assert folder is not None and folder.settings is not None
    thresholds = HoldThresholds.of(folder.settings)
    found = {}
    with Store.open(store, read_only=True) as opened:
        nights = opened.snapshots(district)
        for a, b in pairwise(nights):
            r = diff_snapshots(opened, district, a.id, b.id, thresholds=thresholds)
            found[(a.seq, b.seq)] = (
                {
                    e.entity: (e.added, e.removed, e.changed)
                    for e in r.entities
                    if (e.added, e.removed, e.changed) != (0, 0, 0)
                },
                [(x.entity, x.old_key, x.new_key) for x in r.rekeys],
                [(h.entity, h.kind, h.expected) for h in r.hold_reasons],
                [(x.term, len(x.sections), x.enrollments) for x in r.rollovers],
                [
                    (e.entity, d.key, d.versions_from, d.versions_to)
                    for e in r.entities
                    for d in e.duplicates
                ],
            )
    assert found == EXPECTED[district]


def test_maple_night_7_findings_say_the_hold_is_the_rollover(store):
    with Store.open(store, read_only=True) as opened:
        ids = {s.seq: s.id for s in opened.snapshots("maple")}
        result = diff_snapshots(opened, "maple", ids[6], ids[7])
    rollover = [f for f in history_findings(result, "sftp") if f.cause == "term-rollover"]

    assert [(f.code, f.entity, f.value) for f in rollover] == [
        ("hold-mass-deletion", "sections", "10"),
        ("hold-mass-deletion", "enrollments", "290"),
        ("term-rollover", "sections", "Summer Bridge"),
    ]
    assert result.rollovers[0].sections == (
        "SEC-1001",
        "SEC-1008",
        "SEC-1015",
        "SEC-1022",
        "SEC-1029",
        "SEC-1036",
        "SEC-1043",
        "SEC-1050",
        "SEC-1057",
        "SEC-1064",
    )


@pytest.mark.parametrize("district", list(EXPECTED))
def test_the_rekeys_alone_are_the_diffs_rekeys_for_every_pair_of_nights(store, district):
    """``find_rekeys`` (reconcile's re-keys between two pulls) skips the rest of the diff and
    finds what the whole diff finds, for nights next to each other or apart."""
    found: list[tuple[str, str, str]] = []
    with Store.open(store, read_only=True) as opened:
        nights = opened.snapshots(district)
        for a, b in combinations(nights, 2):
            alone = find_rekeys(opened, a, b)
            assert alone == diff_snapshots(opened, district, a.id, b.id).rekeys, (a.seq, b.seq)
            found += [(x.entity, x.old_key, x.new_key) for x in alone]
    assert (len(found), found[0]) == REKEYED[district]


# (re-keys over all pairs, the first found)
REKEYED = {
    "maple": (16, ("teachers", "T-1008/SCH-002", "T-91008/SCH-002")),
    "cedar": (63, ("staff", "E-5007/SCH-003", "E-5004/SCH-003")),
}
