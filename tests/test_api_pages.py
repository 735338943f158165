"""Pulled pages of any size: a district's sections page runs past DuckDB's 16 MB JSON default.

Incident: at 200,000 students a page of 10,000 sections, each listing its students, is ~33 MB;
the pull stopped with "maximum_object_size of 16777216 bytes exceeded".
"""

from __future__ import annotations

import json

from rosterlab.api.mapping import add_pages, count_objects, start_objects
from rosterlab.store import Store


def test_a_sections_page_over_16_mb_is_read(tmp_path):
    students = [f"{n:024x}" for n in range(70)]  # 70 Clever ids of 24 hex digits per section
    sections = [
        {"data": {"id": f"{n:024x}", "sis_id": f"SEC-{n}", "students": students}}
        for n in range(10_000)
    ]
    page = tmp_path / "sections-00001.json"
    page.write_text(json.dumps({"data": sections, "links": []}))
    assert page.stat().st_size > 16 * 2**20
    with Store.open(tmp_path / "s.duckdb") as store:
        start_objects(store)
        add_pages(store, [page])
        assert count_objects(store) == 10_000
        assert store.rows("SELECT DISTINCT step FROM api_objects") == [("sections",)]
