"""Property: for random tiny snapshots, the diff equals a naive full comparison in Python, and
applying its row-level changes to ``from`` yields ``to``; without details (fewer values read)
the summary is the same.

The reference reads each whole snapshot (``Store.entity_frame``) and compares every key; the
diff under test reads only the SCD2 intervals. Nights draw keys and values from small pools, so
changes, removals, returns, duplicate keys (two versions of one key), re-keys and NULLs happen
often. Of three nights, consecutive, non-consecutive and reversed pairs are checked.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rosterlab import spec
from rosterlab.bundle import open_bundle
from rosterlab.diff import NATURAL_KEYS, DiffResult, diff_snapshots
from rosterlab.store import Store, ingest_bundle
from tests.tiny import Night, write_night

STUDENT_HEADER = [
    "School_id",
    "Student_id",
    "Student_number",
    "Last_name",
    "First_name",
    "Grade",
    "Contact_type",
    "Contact_name",
    "Contact_sis_id",
]

schools = st.sampled_from(["SCH-1", "SCH-2"])


def pool(*values: str) -> st.SearchStrategy[str]:
    return st.sampled_from(values)


student_row = st.tuples(
    schools,
    pool("S-1", "S-2", "S-3", "S-4"),
    pool("", "001", "002"),
    pool("Lee", "Diaz", "O'Neil, Jr.", "Zoë"),
    pool("Ada", "Bo"),
    pool("", "9", "10"),
    pool("", "Primary", "Emergency"),
    pool("", "Pat Lee", "Sam Diaz"),
    pool("", "C-1", "C-2"),
    pool("", "red", "blue"),
)
teacher_row = st.tuples(
    schools, pool("T-1", "T-2", "T-3"), pool("Park", "Nowak"), pool("Jo", "Ola"),
    pool("", "jo@x.example", "ola@x.example"),
)  # fmt: skip
section_row = st.tuples(
    schools, pool("SEC-1", "SEC-2", "SEC-3"), pool("T-1", "T-2", "T-3"), pool("", "1", "2")
)
enrollment_row = st.tuples(schools, pool("SEC-1", "SEC-2"), pool("S-1", "S-2", "S-3"))


@st.composite
def nights(draw: st.DrawFn) -> Night:
    """One random tiny bundle (the ext.house column comes and goes)."""
    with_ext = draw(st.booleans())
    students = [
        list(r) if with_ext else list(r[:-1]) for r in draw(st.lists(student_row, max_size=6))
    ]
    return {
        "schools.csv": [
            ["School_id", "School_name", "School_number"],
            ["SCH-1", draw(pool("Maple", "Maple Elementary")), "101"],
            ["SCH-2", "Maple High", "102"],
        ],
        "students.csv": [STUDENT_HEADER + (["ext.house"] if with_ext else []), *students],
        "teachers.csv": [
            ["School_id", "Teacher_id", "Last_name", "First_name", "Teacher_email"],
            *(list(r) for r in draw(st.lists(teacher_row, max_size=3))),
        ],
        "sections.csv": [
            ["School_id", "Section_id", "Teacher_id", "Period"],
            *(list(r) for r in draw(st.lists(section_row, max_size=3))),
        ],
        "enrollments.csv": [
            ["School_id", "Section_id", "Student_id"],
            *(list(r) for r in draw(st.lists(enrollment_row, max_size=4))),
        ],
    }


# --- the naive reference -------------------------------------------------------------------
Versions = dict[str, list[tuple[int, dict[str, str]]]]


def snapshot(store: Store, snapshot_id: int, entity: spec.Entity) -> Versions:
    """Every version present in a snapshot, by key: (row_hash, filled values)."""
    found: Versions = {}
    for row in store.entity_frame(snapshot_id, entity.name).to_dicts():
        values = {c: row[c] for c in entity.columns if row[c] is not None}
        values.update({k: v for k, v in (row["extra"] or {}).items() if v is not None})
        found.setdefault(row["key"], []).append((row["row_hash"], values))
    return found


def representative(versions: Versions) -> dict[str, dict[str, str]]:
    return {key: min(vs, key=lambda v: v[0])[1] for key, vs in versions.items()}


def field_order(entity: spec.Entity, name: str) -> tuple[int, str]:
    columns = entity.columns
    return (columns.index(name), "") if name in columns else (len(columns), name)


def reference(store: Store, frm: int, to: int) -> dict[str, Any]:
    """Counts, fields, duplicates, re-keys and tidy changes by comparing whole snapshots."""
    out: dict[str, Any] = {"entities": {}, "changes": [], "rekeys": []}
    for entity in spec.ENTITIES.values():
        a, b = snapshot(store, frm, entity), snapshot(store, to, entity)
        if entity.name == "admins" and not a and not b:
            continue
        ra, rb = representative(a), representative(b)
        touched = {k for k in a.keys() | b.keys() if {h for h, _ in a.get(k, [])} != {
            h for h, _ in b.get(k, [])
        }}  # fmt: skip
        added = sorted(k for k in touched if k not in a)
        removed = sorted(k for k in touched if k not in b)
        changed = sorted(k for k in touched if k in a and k in b and ra[k] != rb[k])
        same = sum(1 for k in touched if k in a and k in b and ra[k] == rb[k])
        untouched = sum(len(vs) for k, vs in b.items() if k not in touched)
        fields: dict[str, int] = {}
        rows: list[tuple[Any, ...]] = []
        for k in sorted(touched):
            old, new = ra.get(k), rb.get(k)
            if old is None or new is None:
                kind, values = ("added", new) if old is None else ("removed", old)
                assert values is not None
                names = sorted(values, key=lambda n: field_order(entity, n))
                rows += [
                    (k, kind, n, values[n] if kind == "removed" else None,
                     values[n] if kind == "added" else None, field_order(entity, n))
                    for n in names
                ]  # fmt: skip
                continue
            for n in sorted(old.keys() | new.keys(), key=lambda n: field_order(entity, n)):
                if old.get(n) != new.get(n):
                    fields[n] = fields.get(n, 0) + 1
                    rows.append((k, "changed", n, old.get(n), new.get(n), field_order(entity, n)))
        rows.sort(key=lambda r: (r[0], r[5]))
        out["changes"] += [(entity.name, *r[:5]) for r in rows]
        out["entities"][entity.name] = {
            "counts": (len(added), len(removed), len(changed), untouched + same),
            "fields": sorted(fields.items(), key=lambda f: field_order(entity, f[0])),
            "duplicates": sorted(
                (k, len(a.get(k, [])), len(b.get(k, [])))
                for k in touched
                if len(a.get(k, [])) > 1 or len(b.get(k, [])) > 1
            ),
        }
        out["rekeys"] += rekeys(entity.name, {k: ra[k] for k in removed}, {k: rb[k] for k in added})
    return out


def unique(columns: tuple[str, ...], records: dict) -> dict[tuple[str, ...], str]:
    """Natural key (trimmed, lower case) → the one record holding it, when only one does."""
    seen: dict[tuple[str, ...], list[str]] = {}
    for key, values in records.items():
        if all(c in values for c in columns):
            seen.setdefault(tuple(values[c].strip().lower() for c in columns), []).append(key)
    return {n: keys[0] for n, keys in seen.items() if len(keys) == 1}


def rekeys(entity: str, removed: dict, added: dict) -> list[tuple[str, str, str, tuple]]:
    """Pair removed and added records on each natural key rule in turn, when unique."""
    pairs = []
    for rule in NATURAL_KEYS.get(entity, ()):
        olds, news = unique(rule.columns, removed), unique(rule.columns, added)
        for n in olds.keys() & news.keys():
            old, new = olds[n], news[n]
            if rule.differs and removed[old].get(rule.differs) == added[new].get(rule.differs):
                continue
            pairs.append((entity, old, new, rule.columns))
            del removed[old], added[new]
    return sorted(pairs, key=lambda p: (p[1], p[2]))


def observed(result: DiffResult) -> dict[str, Any]:
    assert result.changes is not None
    return {
        "entities": {
            e.entity: {
                "counts": (e.added, e.removed, e.changed, e.unchanged),
                "fields": list(e.fields),
                "duplicates": [(d.key, d.versions_from, d.versions_to) for d in e.duplicates],
            }
            for e in result.entities
        },
        "changes": [tuple(r) for r in result.changes.iter_rows()],
        "rekeys": [(r.entity, r.old_key, r.new_key, r.matched_on) for r in result.rekeys],
    }


def apply(state: dict[tuple[str, str], dict[str, str]], changes: list[tuple]) -> dict:
    state = {k: dict(v) for k, v in state.items()}
    for entity, key, change, field, _old, new in changes:
        if change == "removed":
            state.pop((entity, key), None)
        elif new is None:
            state[(entity, key)].pop(field)
        else:
            state.setdefault((entity, key), {})[field] = new
    return state


def state_of(store: Store, snapshot_id: int) -> dict[tuple[str, str], dict[str, str]]:
    return {
        (entity.name, key): values
        for entity in spec.ENTITIES.values()
        for key, values in representative(snapshot(store, snapshot_id, entity)).items()
    }


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(nights(), min_size=3, max_size=3))
def test_diff_equals_the_naive_reference_and_rebuilds_to(history):
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "store.duckdb") as store:
        ids = []
        for k, night in enumerate(history):
            folder = write_night(Path(tmp) / f"n{k}", night)
            with open_bundle(folder) as bundle:
                result = ingest_bundle(
                    store,
                    bundle,
                    district="maple",
                    taken_at=datetime(2026, 9, 1, 2) + timedelta(days=k),
                )
            ids.append(result.snapshot.id)
        for frm, to in ((0, 1), (1, 2), (0, 2), (2, 0)):
            got = diff_snapshots(store, "maple", ids[frm], ids[to], details=True)
            expected = reference(store, ids[frm], ids[to])
            assert observed(got) == expected, (frm, to)
            summary = diff_snapshots(store, "maple", ids[frm], ids[to])  # reads fewer values
            assert (summary.entities, summary.rekeys, summary.rollovers) == (
                got.entities,
                got.rekeys,
                got.rollovers,
            )
            rebuilt = apply(state_of(store, ids[frm]), observed(got)["changes"])
            assert rebuilt == state_of(store, ids[to]), (frm, to)
