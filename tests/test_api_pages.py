"""Pulled pages of any size: a district's sections page runs past DuckDB's 16 MB JSON default.

Incidents: at 200,000 students a page of 10,000 sections, each listing its students, is ~33 MB;
the pull stopped with "maximum_object_size of 16777216 bytes exceeded". At 1M students a full
pull ran out of its 1 GB memory limit now and then: the loader read every page waiting in its
queue in one statement.
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


def test_a_queue_of_large_pages_is_read_within_the_memory_limit(tmp_path):
    """48 pages of 400 sections listing 300 students each (3.4 MB a page) handed over at once,
    as a loader's queue or a pull's kept pages are: read in one statement they ran out of 256 MB
    with 2 threads every time; a few pages a statement, they fit, every object in page order."""
    students = [f"{n:024x}" for n in range(300)]
    pages = []
    for number in range(1, 49):
        sections = [
            {"data": {"id": f"{number:08x}{n:016x}", "name": f"page {number}",
                      "students": students}}
            for n in range(400)
        ]  # fmt: skip
        page = tmp_path / f"sections-{number:05d}.json"
        page.write_text(json.dumps({"data": sections, "links": []}))
        pages.append(page)
    with Store.open(tmp_path / "s.duckdb", memory_limit="256MB", threads=2) as store:
        start_objects(store)
        add_pages(store, pages)
        read = store.rows(
            "SELECT j->>'name', count(*), min(id), max(id) FROM api_objects GROUP BY ALL "
            "ORDER BY min(id)"
        )
    assert read == [
        (f"page {number}", 400, f"{number:08x}{0:016x}", f"{number:08x}{399:016x}")
        for number in range(1, 49)
    ]
