"""``api pull --events``: the events after the last pull's cursor, applied to that pull.

The stand-in (a real process) derives events from the diff of consecutive nights, keeping the
30 days before the night it serves. Applying them must give exactly the snapshot a full pull
gives; a cursor outside the window falls back to a full pull, saying so.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema

from rosterlab.api import ServedDistrict, rederive
from rosterlab.api.schemas import event_list_schema
from rosterlab.api.served import RESOURCES
from rosterlab.bundle import open_bundle
from rosterlab.store import Store, ingest_bundle
from tests.api_standin import TOKEN, TOKEN_ENV, standin
from tests.test_api import DISTRICT, EVERY_FIELD_NIGHT, STUDENT_HEADER, configure, pull
from tests.test_reconcile import student
from tests.tiny import Night, write_night

NOW = datetime.now(UTC).replace(microsecond=0)


def nights() -> tuple[Night, Night, Night]:
    """Three nights of churn: a student leaves and one arrives, a grade, a contact, a section."""
    first = copy.deepcopy(EVERY_FIELD_NIGHT)
    second = copy.deepcopy(first)
    second["students.csv"] = [r for r in second["students.csv"] if r[1] != "S-002"]
    second["students.csv"].append(student("S-006", "SCH-1", "New"))
    second["students.csv"][3][STUDENT_HEADER.index("Grade")] = "12"  # Cy
    second["enrollments.csv"] = [r for r in second["enrollments.csv"] if r[2] != "S-002"]
    second["enrollments.csv"].append(["SCH-1", "SEC-1", "S-006"])
    third = copy.deepcopy(second)
    third["students.csv"][1][STUDENT_HEADER.index("Contact_phone")] = "617-555-0111"
    third["sections.csv"][1][3] = ""  # SEC-1 loses its co-teacher
    third["students.csv"].append(student("S-002", "SCH-2", "Diaz"))  # Bo is back
    return first, second, third


def ingest(store: Path, folder: Path, night: Night, when: datetime) -> None:
    with Store.open(store) as s, open_bundle(write_night(folder, night, when=when)) as b:
        ingest_bundle(s, b, district=DISTRICT, taken_at=when)


def pulled(store: Path, config: Path, capsys: Any, *extra: str) -> dict[str, Any]:
    capsys.readouterr()
    assert pull(store, config, "--format", "json", "--progress", *extra) == 0
    captured = capsys.readouterr()
    return {**json.loads(captured.out), "stderr": captured.err}


def test_the_standin_serves_events_of_the_nights_it_has_validated_and_ascending(tmp_path):
    uploads = tmp_path / "uploads.duckdb"
    first, second, _ = nights()
    ingest(uploads, tmp_path / "n1", first, NOW - timedelta(days=3))
    ingest(uploads, tmp_path / "n2", second, NOW - timedelta(days=2))
    with standin(uploads, DISTRICT) as origin:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        body = httpx.get(f"{origin}/v3.1/events?limit=100", headers=auth).json()
        expired = httpx.get(f"{origin}/v3.1/events?starting_after={'0' * 24}", headers=auth)
    jsonschema.validate(body, event_list_schema("3.1"))
    events = [item["data"] for item in body["data"]]
    ids = [e["id"] for e in events]
    assert ids == sorted(ids)
    kinds = sorted((e["type"], e["data"]["object"].get("name", {}).get("last")) for e in events
                   if e["type"].startswith("users."))  # fmt: skip
    assert kinds == [
        ("users.created", "New"),
        ("users.deleted", "Diaz"),
        ("users.updated", "Okafor"),
    ]
    (cy,) = [e for e in events if e["type"] == "users.updated"]
    assert cy["data"]["previous_attributes"] == {
        "roles": {**cy["data"]["object"]["roles"]}
        | {"student": {**cy["data"]["object"]["roles"]["student"], "grade": "11"}}
    }
    assert expired.status_code == 404
    assert "older than the 30-day window" in expired.json()["message"]


def test_applying_the_events_gives_exactly_the_snapshot_a_full_pull_gives(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    uploads, pulls = tmp_path / "uploads.duckdb", tmp_path / "pulls.duckdb"
    first, second, third = nights()
    ingest(uploads, tmp_path / "n1", first, NOW - timedelta(days=3))
    ingest(uploads, tmp_path / "n2", second, NOW - timedelta(days=2))
    with standin(uploads, DISTRICT) as origin:
        full = pulled(pulls, configure(tmp_path, origin), capsys, "--events")
    assert "no earlier pull of [api.standin] v3.1 to apply events to: full pull" in full["stderr"]
    assert full["api"]["event_cursor"] is not None
    ingest(uploads, tmp_path / "n3", third, NOW - timedelta(days=1))
    with standin(uploads, DISTRICT) as origin:
        config = configure(tmp_path, origin)
        applied = pulled(pulls, config, capsys, "--events")
        again = pulled(pulls, config, capsys)  # a full pull of the same night
    assert applied["api"]["events_applied_to"] == full["snapshot"]["id"]
    assert applied["api"]["requests"] == 1  # one page of events instead of ten requests
    assert applied["snapshot"]["new"] is True
    assert again["snapshot"]["new"] is False  # the very same bundle as the events made
    assert again["snapshot"]["bundle_sha256"] == applied["snapshot"]["bundle_sha256"]
    with Store.open(pulls) as store:
        snapshot = applied["snapshot"]["id"]
        files = store.snapshot_files(snapshot).select("name", "rows").to_dicts()
        assert rederive(store, snapshot, tmp_path / "again") == {
            f["name"]: f["rows"] for f in files
        }
        students = {r["key"]: r for r in store.entity_frame(snapshot, "students").to_dicts()}
        contacts = store.entity_frame(snapshot, "contacts").to_dicts()
        sections = store.entity_frame(snapshot, "sections").to_dicts()
    assert sorted(students) == ["S-001", "S-002", "S-003", "S-006"]
    assert students["S-003"]["Grade"] == "12"
    assert "617-555-0111" in {c["Contact_phone"] for c in contacts}
    assert {s["key"]: s["Teacher_2_id"] for s in sections} == {"SEC-1": None, "SEC-2": None}


def test_a_cursor_outside_the_30_day_window_falls_back_to_a_full_pull_saying_so(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    uploads, pulls = tmp_path / "uploads.duckdb", tmp_path / "pulls.duckdb"
    first, second, third = nights()
    ingest(uploads, tmp_path / "n1", first, NOW - timedelta(days=45))
    ingest(uploads, tmp_path / "n2", second, NOW - timedelta(days=40))
    with standin(uploads, DISTRICT) as origin:
        full = pulled(pulls, configure(tmp_path, origin), capsys)
    ingest(uploads, tmp_path / "n3", third, NOW - timedelta(days=1))
    with standin(uploads, DISTRICT) as origin:
        config = configure(tmp_path, origin)
        fallback = pulled(pulls, config, capsys, "--events")
        again = pulled(pulls, config, capsys)
    cursor = full["api"]["event_cursor"]
    assert f"the API refused event cursor {cursor} (" in fallback["stderr"]
    assert "older than the 30-day window" in fallback["stderr"]
    assert fallback["stderr"].rstrip().endswith("committing")
    assert fallback["api"]["events_applied_to"] is None
    assert fallback["api"]["pages"] == 9
    assert again["snapshot"]["bundle_sha256"] == fallback["snapshot"]["bundle_sha256"]


def every_body(served: ServedDistrict, version: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every (resource, id) → body the stand-in serves, from its pages."""
    bodies = {}
    for resource in RESOURCES:
        page = served.page(version, resource, None, 10000)
        assert not page.more_after
        bodies.update({(resource, cid): json.loads(body) for cid, body in page.items})
    return bodies


def test_events_are_exactly_the_bodies_that_differ_between_two_nights(tmp_path):
    # Night 2: Cy's Last_name is blank, so Clever skips Cy (its enrollment row is unchanged) and
    # Cy's contact; Bo joins SEC-1 (an enrollment row only). Both sections' students change.
    uploads = tmp_path / "uploads.duckdb"
    first = copy.deepcopy(EVERY_FIELD_NIGHT)
    second = copy.deepcopy(first)
    second["students.csv"][4][STUDENT_HEADER.index("Last_name")] = ""
    second["enrollments.csv"].append(["SCH-1", "SEC-1", "S-002"])
    ingest(uploads, tmp_path / "n1", first, NOW - timedelta(days=2))
    ingest(uploads, tmp_path / "n2", second, NOW - timedelta(days=1))
    with Store.open(uploads, read_only=True) as store:
        one, two = store.snapshots(DISTRICT)
        before = every_body(ServedDistrict(store, one, as_is=True), "3.1")
        served = ServedDistrict(store, two, as_is=True)
        after = every_body(served, "3.1")
        events = [json.loads(body) for _, body in served.page("3.1", "events", None, 10000).items]
    new_or_changed = {True: "created", False: "updated"}
    expected = sorted(
        (f"{key[0]}.{'deleted' if key not in after else new_or_changed[key not in before]}", key[1])
        for key in before.keys() | after.keys()
        if before.get(key) != after.get(key)
    )
    assert sorted((e["type"], e["data"]["object"]["id"]) for e in events) == expected
    kinds = sorted(kind for kind, _ in expected)
    assert kinds == [  # the district's last_sync; SEC-1 gains Bo, SEC-2 loses Cy; Cy, Cy's contact
        "districts.updated",
        "sections.updated",
        "sections.updated",
        "users.deleted",
        "users.deleted",
    ]
    for event in events:
        key = (event["type"].split(".")[0], event["data"]["object"]["id"])
        assert event["data"]["object"] == after.get(key, before.get(key))
