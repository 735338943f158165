"""A pulled night's files come out in one order, byte for byte, however the sort breaks ties.

Incident: a contact related to one student twice (two entries of its
``student_relationships`` naming the same student: a parent who is also the emergency
contact) gives that student two rows with the same student and contact ids. students.csv was
ordered by those two ids alone, so the two rows' order was the sort's tie: two pulls of the
same night could differ in bytes (another bundle sha256, hence a new snapshot of an unchanged
night). The relationship's position in the contact's list breaks the tie.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rosterlab.api.mapping import load_pages, write_bundle
from rosterlab.store import Store

SCHOOL = "a" * 24
PAT = "c" * 24  # a contact related to Ada twice, then to Bo
ADA, BO = f"{1:024x}", f"{2:024x}"
# listed in no order a sort of their values would give: only their positions give this one
PAT_RELATIONSHIPS = [
    {"student": ADA, "relationship": "Parent", "type": "Primary"},
    {"student": BO, "relationship": "Guardian", "type": "Family"},
    {"student": ADA, "relationship": "Aunt", "type": "Emergency"},
    {"student": ADA, "relationship": "Coach", "type": "Other"},
]


def night_pages(folder: Path) -> list[Path]:
    """The pages of a night: the district, a school, two students, the contact."""
    folder.mkdir()
    objects: dict[str, list[dict[str, Any]]] = {
        "districts": [{"id": "d" * 24, "name": "Maple"}],
        "schools": [{"id": SCHOOL, "sis_id": "SCH-1", "name": "Maple Elementary"}],
        "users-student": [
            {"id": sid, "name": {"first": first, "last": "Lee"},
             "roles": {"student": {"sis_id": sis, "school": SCHOOL}}}
            for sid, sis, first in ((ADA, "S-1", "Ada"), (BO, "S-2", "Bo"))
        ],
        "users-contact": [
            {"id": PAT, "name": {"first": "Pat", "last": "Lee"},
             "roles": {"contact": {"sis_id": "C-1", "student_relationships": PAT_RELATIONSHIPS}}}
        ],
    }  # fmt: skip
    pages = []
    for step, items in objects.items():
        page = folder / f"{step}-00001.json"
        page.write_text(json.dumps({"data": [{"data": o} for o in items], "links": []}))
        pages.append(page)
    return pages


def students_csv(tmp_path: Path, name: str) -> bytes:
    """students.csv of the night as a pull maps it, in a store of its own."""
    with Store.open(tmp_path / f"{name}.duckdb") as store:
        load_pages(store, night_pages(tmp_path / f"{name}-pages"))
        write_bundle(store, tmp_path / name, "3.1")
    return (tmp_path / name / "students.csv").read_bytes()


def test_a_contact_related_to_a_student_twice_keeps_its_relationships_order(tmp_path):
    first, second = students_csv(tmp_path, "first"), students_csv(tmp_path, "second")
    assert first == second
    header, *rows = [line.split(",") for line in first.decode().splitlines()]
    student, relationship, kind = (
        header.index(c) for c in ("Student_id", "Contact_relationship", "Contact_type")
    )
    assert [(r[student], r[relationship], r[kind]) for r in rows] == [
        ("S-1", "Parent", "Primary"),
        ("S-1", "Aunt", "Emergency"),
        ("S-1", "Coach", "Other"),
        ("S-2", "Guardian", "Family"),
    ]
