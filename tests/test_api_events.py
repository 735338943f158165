"""``api pull --events``: the events after the last pull's cursor, applied to that pull.

The stand-in (a real process) derives events from the diff of consecutive nights, keeping the
30 days before the night it serves. Applying them must give exactly the snapshot a full pull
gives; a cursor outside the window falls back to a full pull, saying so.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from rosterlab.api import ServedDistrict, pull_district, rederive
from rosterlab.api.mapping import (
    apply_latest,
    map_owners,
    mark_owners,
    owned_table,
    read_events,
    serve_kept,
    write_bundle,
)
from rosterlab.api.schemas import event_list_schema
from rosterlab.api.served import RESOURCES
from rosterlab.api.target import ApiTarget
from rosterlab.bundle import open_bundle
from rosterlab.cli import main
from rosterlab.store import Store, ingest_bundle
from rosterlab.store.api_pulls import pulls as pulls_of
from rosterlab.store.api_pulls import served_of
from rosterlab.store.staging import parsed_table
from tests.api_standin import TOKEN, TOKEN_ENV, free_port, standin
from tests.test_api import (
    DISTRICT,
    ENTITIES,
    EVERY_FIELD_NIGHT,
    STUDENT_HEADER,
    configure,
    pull,
    rows,
)
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
    uploads = two_nights(tmp_path)
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


def test_an_events_pull_counts_the_pages_it_fetched_in_its_requests_and_those_it_kept(
    tmp_path, capsys, monkeypatch
):
    """The base pull's 9 pages are kept, not fetched again: the one page of events is what the
    one request fetched (text and JSON say the same)."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    uploads, pulls = tmp_path / "uploads.duckdb", tmp_path / "pulls.duckdb"
    first, second, third = nights()
    ingest(uploads, tmp_path / "n1", first, NOW - timedelta(days=3))
    ingest(uploads, tmp_path / "n2", second, NOW - timedelta(days=2))
    with standin(uploads, DISTRICT) as origin:
        full = pulled(pulls, configure(tmp_path, origin), capsys)
    assert (full["api"]["pages"], full["api"]["pages_fetched"]) == (9, 9)
    ingest(uploads, tmp_path / "n3", third, NOW - timedelta(days=1))
    with standin(uploads, DISTRICT) as origin:
        capsys.readouterr()
        assert pull(pulls, configure(tmp_path, origin), "--events") == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("  api: "))
    assert line == (
        "  api: standin v3.1, 1 pages in 1 requests, 0 rate-limit waits, events applied to "
        f"snapshot {full['snapshot']['id']} (9 pages kept from it)"
    )


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
    # the advice fits a cursor past the window, not a district without events
    assert (
        "the event cursor is no longer served (older than Clever's 30 days of events, or not "
        "this district's): a full pull records a new one)"
    ) in fallback["stderr"]
    assert "opt-in" not in fallback["stderr"]
    assert fallback["stderr"].rstrip().endswith("committing")
    assert fallback["api"]["events_applied_to"] is None
    assert fallback["api"]["pages"] == 9
    assert again["snapshot"]["bundle_sha256"] == fallback["snapshot"]["bundle_sha256"]


def test_a_pull_before_any_event_lets_the_next_events_pull_apply_them_all(
    tmp_path, capsys, monkeypatch
):
    """A district's first night serves events but has none yet (nothing to diff it with): the
    pull's cursor is "before any event", so the next night's --events pull applies every event
    then served instead of paging everything again for want of a cursor."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    uploads, pulls = tmp_path / "uploads.duckdb", tmp_path / "pulls.duckdb"
    first, second, _ = nights()
    ingest(uploads, tmp_path / "n1", first, NOW - timedelta(days=2))
    with standin(uploads, DISTRICT) as origin:
        full = pulled(pulls, configure(tmp_path, origin), capsys)
    assert full["api"]["event_cursor"] == ""
    ingest(uploads, tmp_path / "n2", second, NOW - timedelta(days=1))
    with standin(uploads, DISTRICT) as origin:
        config = configure(tmp_path, origin)
        applied = pulled(pulls, config, capsys, "--events")
        again = pulled(pulls, config, capsys)  # a full pull of the same night
    assert applied["api"]["events_applied_to"] == full["snapshot"]["id"]
    assert applied["api"]["events_not_applied"] is None
    assert applied["api"]["requests"] == 1
    assert applied["api"]["event_cursor"] not in (None, "")
    assert again["snapshot"]["new"] is False
    assert again["snapshot"]["bundle_sha256"] == applied["snapshot"]["bundle_sha256"]


def every_body(served: ServedDistrict, version: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every (resource, id) → body the stand-in serves, from its pages."""
    bodies = {}
    for resource in RESOURCES:
        page = served.page(version, resource, None, 10000)
        assert not page.more_after
        bodies.update({(resource, cid): json.loads(body) for cid, body in page.items})
    return bodies


def test_an_events_pull_that_pages_everything_says_why_without_progress(
    tmp_path, capsys, monkeypatch
):
    """A cron job runs `api pull --events` with no terminal (no progress lines): when the events
    cannot be applied, its output — text and JSON — still says it was a full pull, and why."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    uploads, pulls = tmp_path / "uploads.duckdb", tmp_path / "pulls.duckdb"
    first, second, third = nights()
    ingest(uploads, tmp_path / "n1", first, NOW - timedelta(days=3))
    ingest(uploads, tmp_path / "n2", second, NOW - timedelta(days=2))
    with standin(uploads, DISTRICT, "--no-events") as origin:
        capsys.readouterr()
        assert pull(pulls, configure(tmp_path, origin), "--events", "--no-progress") == 0
        first_pull = capsys.readouterr()
    assert first_pull.err == ""
    assert first_pull.out.splitlines()[-1] == (
        "  events: not applied, a full pull instead: no earlier pull of [api.standin] v3.1 to "
        "apply events to"
    )
    ingest(uploads, tmp_path / "n3", third, NOW - timedelta(days=1))
    with standin(uploads, DISTRICT) as origin:
        capsys.readouterr()
        assert pull(pulls, configure(tmp_path, origin), "--events", "--format", "json") == 0
        second_pull = capsys.readouterr()
    assert second_pull.err == ""
    api = json.loads(second_pull.out)["api"]
    assert api["events_applied_to"] is None
    assert api["events_not_applied"] == "snapshot 1 has no event cursor (events not served then)"
    assert api["pages"] == 9
    with standin(uploads, DISTRICT) as origin:  # that pull has a cursor: the events apply
        capsys.readouterr()
        assert pull(pulls, configure(tmp_path, origin), "--events") == 0
        applied = capsys.readouterr().out
    assert applied.splitlines()[-1] == (
        "  unchanged: the served data is snapshot 2's; nothing new recorded"
    )


def test_an_unchanged_pull_gives_the_newest_pull_without_a_cursor_its_cursor(
    tmp_path, capsys, monkeypatch
):
    """Night 2 is pulled while events are not served (no cursor); the next pull finds the very
    same pages, events served: nothing new is recorded, but the newest pull takes its cursor,
    so night 3 goes by events and gives the bundle a full pull gives."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    uploads, pulls, fresh = (tmp_path / f"{n}.duckdb" for n in ("uploads", "pulls", "fresh"))
    first, second, third = nights()
    ingest(uploads, tmp_path / "n1", first, NOW - timedelta(days=3))
    ingest(uploads, tmp_path / "n2", second, NOW - timedelta(days=2))
    with standin(uploads, DISTRICT, "--no-events") as origin:
        assert pulled(pulls, configure(tmp_path, origin), capsys)["api"]["event_cursor"] is None
    with standin(uploads, DISTRICT) as origin:
        capsys.readouterr()
        assert pull(pulls, configure(tmp_path, origin), "--events", "--no-progress") == 0
        unchanged = capsys.readouterr().out.splitlines()
    assert unchanged[-2:] == [
        "  unchanged: the served data is snapshot 1's; no new snapshot, its pull takes this "
        "pull's pages and event cursor: the next --events pull applies the events after it",
        "  events: not applied, a full pull instead: snapshot 1 has no event cursor (events not "
        "served then)",
    ]
    ingest(uploads, tmp_path / "n3", third, NOW - timedelta(days=1))
    with standin(uploads, DISTRICT) as origin:
        config = configure(tmp_path, origin)
        applied = pulled(pulls, config, capsys, "--events")
        full = pulled(fresh, config, capsys)
    assert (applied["api"]["events_applied_to"], applied["api"]["events_not_applied"]) == (1, None)
    assert applied["snapshot"]["bundle_sha256"] == full["snapshot"]["bundle_sha256"]
    assert history(capsys, pulls)["doctor"]["healthy"] is True


def test_an_unchanged_pull_of_other_pages_gives_the_newest_pull_those_pages_and_its_cursor(
    tmp_path, capsys, monkeypatch
):
    """The same data served in other pages (one record a page), events served now: the newest
    pull (no cursor) takes these pages with their cursor — the events after it apply to them,
    and its snapshot's files re-derive from them byte for byte —, so the next --events pull
    goes by events."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    uploads, pulls = two_nights(tmp_path), tmp_path / "pulls.duckdb"
    with standin(uploads, DISTRICT, "--no-events") as origin:
        new = pulled(pulls, configure(tmp_path, origin), capsys)
    with standin(uploads, DISTRICT) as origin:
        capsys.readouterr()
        assert pull(pulls, configure(tmp_path, origin, page_limit=1), "--no-progress") == 0
        assert capsys.readouterr().out.splitlines()[-1] == (
            "  unchanged: the served data is snapshot 1's; no new snapshot, its pull takes this "
            "pull's pages and event cursor: the next --events pull applies the events after it"
        )
        events = pulled(pulls, configure(tmp_path, origin), capsys, "--events")
    assert (new["api"]["pages"], new["api"]["event_cursor"]) == (9, None)
    assert (events["api"]["events_applied_to"], events["api"]["events_not_applied"]) == (1, None)
    assert (events["api"]["pages"], events["snapshot"]["new"]) == (18, False)  # 17 + 1 of events
    with Store.open(pulls) as s:
        (recorded,) = pulls_of(s, DISTRICT)
        assert (recorded.pages, recorded.event_cursor) == (17, events["api"]["event_cursor"])
        assert rederived(s, 1, tmp_path / "again") == bundle_files(s, 1)


def test_an_unchanged_pull_serving_other_clever_ids_leaves_the_newest_pull_as_it_was(
    tmp_path, capsys, monkeypatch
):
    """The bundle does not show Clever ids: when the store keeps another id for a record than
    the one served now (as after Clever re-issued it), the newest pull would read back other
    ids than it recorded, so it takes neither the pages nor the cursor."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    uploads, pulls = two_nights(tmp_path), tmp_path / "pulls.duckdb"
    with standin(uploads, DISTRICT, "--no-events") as origin:
        pulled(pulls, configure(tmp_path, origin), capsys)
    with Store.open(pulls) as s:
        s.execute("UPDATE api_ids SET clever_id = ? WHERE sis_id = 'S-001'", ["f" * 24])
        ids = s.rows("FROM api_ids_of(1) ORDER BY ALL")
    with standin(uploads, DISTRICT) as origin:
        capsys.readouterr()
        assert pull(pulls, configure(tmp_path, origin, page_limit=1), "--no-progress") == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "  unchanged: the served data is snapshot 1's; nothing new recorded"
    )
    with Store.open(pulls, read_only=True) as s:
        (recorded,) = pulls_of(s, DISTRICT)
        assert (recorded.pages, recorded.event_cursor) == (9, None)
        assert s.rows("FROM api_ids_of(1) ORDER BY ALL") == ids
    assert ("students", "S-001", "f" * 24) in ids


def rederived(store: Store, snapshot_id: int, folder: Path) -> dict[str, str]:
    """The sha256 of each file an API snapshot's kept pages re-derive."""
    rederive(store, snapshot_id, folder)
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def bundle_files(store: Store, snapshot_id: int) -> dict[str, str]:
    """The sha256 of each file of a snapshot, as the store records them."""
    return {f["name"]: f["sha256"] for f in store.snapshot_files(snapshot_id).to_dicts()}


def two_nights(tmp_path: Path) -> Path:
    """An uploads store holding the district's nights 1 and 2 (three and two days ago)."""
    uploads = tmp_path / "uploads.duckdb"
    first, second, _ = nights()
    ingest(uploads, tmp_path / "n1", first, NOW - timedelta(days=3))
    ingest(uploads, tmp_path / "n2", second, NOW - timedelta(days=2))
    return uploads


def unchanged(new: dict[str, Any], **facts: Any) -> dict[str, Any]:
    """The ``api`` object of an unchanged pull: the new pull's, but what this pull did."""
    return {**new, "unchanged": True, **facts}


def test_an_unchanged_full_pull_says_what_it_did_in_json_and_text(tmp_path, capsys, monkeypatch):
    """Issue 14: a cron job's full pull of a night already pulled recorded nothing new; its JSON
    still says what the pull did (requests, pages, the district as served, the snapshot it
    matched, the cursor kept), not ``"api": null``."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    uploads, pulls = two_nights(tmp_path), tmp_path / "pulls.duckdb"
    with standin(uploads, DISTRICT) as origin:
        config = configure(tmp_path, origin)
        new = pulled(pulls, config, capsys)
        again = pulled(pulls, config, capsys)
        capsys.readouterr()
        assert pull(pulls, config, "--no-progress") == 0
        text = capsys.readouterr().out.splitlines()
    assert new["api"] == {
        "target": "standin",
        "base_url": origin,
        "version": "3.1",
        "unchanged": False,
        "matched_snapshot": None,
        "resumed": False,
        "events_applied_to": None,
        "events_not_applied": None,
        "event_cursor": new["api"]["event_cursor"],
        "cursor_kept": False,
        "district": {
            "clever_id": new["api"]["district"]["clever_id"],
            "state": "success",
            "sis_type": "sftp",
            "last_sync": (NOW - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "pause_start": None,
            "pause_end": None,
        },
        "scope": {"districts": 1, "schools": 2, "terms": 1, "courses": 2, "sections": 2,
                  "users-student": 3, "users-teacher": 2, "users-staff": 1, "users-contact": 3},
        "pages": 9,
        "pages_fetched": 9,
        "requests": 10,
        "rate_limit_waits": 0,
    }  # fmt: skip
    assert new["api"]["event_cursor"] not in (None, "")
    assert (again["snapshot"]["id"], again["snapshot"]["new"]) == (new["snapshot"]["id"], False)
    assert again["api"] == unchanged(
        new["api"], matched_snapshot=new["snapshot"]["id"], cursor_kept=True
    )
    scope = " · ".join(f"{step} {count}" for step, count in new["api"]["scope"].items())
    last_sync = new["api"]["district"]["last_sync"]
    assert text[-4:] == [
        "  api: standin v3.1, 9 pages in 10 requests, 0 rate-limit waits",
        f"  district: state success, sis_type sftp, last sync {last_sync}",
        f"  served: {scope}",
        f"  unchanged: the served data is snapshot {new['snapshot']['id']}'s; no new snapshot, its "
        "pull takes this pull's pages and event cursor: the next --events pull applies the events "
        "after it",
    ]


def test_an_unchanged_events_pull_says_it_applied_the_events_and_kept_no_cursor(
    tmp_path, capsys, monkeypatch
):
    """No event after the cursor: the events pull fetches one empty page of events, applies it
    to the base pull's 9 pages and matches that pull's snapshot; the cursor stays the base's."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    uploads, pulls = two_nights(tmp_path), tmp_path / "pulls.duckdb"
    with standin(uploads, DISTRICT) as origin:
        config = configure(tmp_path, origin)
        new = pulled(pulls, config, capsys)
        applied = pulled(pulls, config, capsys, "--events")
        capsys.readouterr()
        assert pull(pulls, config, "--events", "--no-progress") == 0
        text = capsys.readouterr().out.splitlines()
    base = new["snapshot"]["id"]
    assert applied["snapshot"]["new"] is False
    assert applied["api"] == unchanged(
        new["api"],
        matched_snapshot=base,
        events_applied_to=base,
        pages=10,
        pages_fetched=1,
        requests=1,
    )
    assert (text[-4], text[-1]) == (
        f"  api: standin v3.1, 1 pages in 1 requests, 0 rate-limit waits, events applied to "
        f"snapshot {base} (9 pages kept from it)",
        f"  unchanged: the served data is snapshot {base}'s; nothing new recorded",
    )


def test_an_events_pull_that_fell_back_and_found_nothing_new_says_both(
    tmp_path, capsys, monkeypatch
):
    """Night 2 pulled while events were not served (no cursor); --events then pages everything
    (saying why), finds the same pages, and the newest pull takes the cursor it fetched."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    uploads, pulls = two_nights(tmp_path), tmp_path / "pulls.duckdb"
    with standin(uploads, DISTRICT, "--no-events") as origin:
        new = pulled(pulls, configure(tmp_path, origin), capsys)
    assert (new["api"]["event_cursor"], new["api"]["requests"]) == (None, 10)
    with standin(uploads, DISTRICT) as origin:
        config = configure(tmp_path, origin)
        fallback = pulled(pulls, config, capsys, "--events")
        newest = pulled(pulls, config, capsys)  # a full pull: the newest event, as the cursor
    base = new["snapshot"]["id"]
    assert fallback["snapshot"]["new"] is False
    assert fallback["api"] == unchanged(
        {**new["api"], "base_url": origin},
        matched_snapshot=base,
        events_not_applied=f"snapshot {base} has no event cursor (events not served then)",
        event_cursor=newest["api"]["event_cursor"],
        cursor_kept=True,
    )
    assert newest["api"]["event_cursor"] not in (None, "")


def aged(store: Path, days: int) -> None:
    """``days`` pass for the store's pulls (nothing else changes): their recorded times move
    back, as the stand-in's clock is the night it serves, not the wall clock."""
    with Store.open(store) as s:
        s.execute(
            "UPDATE api_pulls SET started_at = started_at - to_days(?), "
            "finished_at = finished_at - to_days(?), "
            "cursor_confirmed_at = cursor_confirmed_at - to_days(?)",
            [days, days, days],
        )


def test_nightly_events_pulls_of_unchanged_data_keep_the_cursor_inside_the_window(
    tmp_path, capsys, monkeypatch
):
    """Issue 14: the data stays unchanged for 40 nights. Each --events pull finds no event after
    the cursor, so every event after it is newer than that pull, and Clever keeps them 30 days
    from then: the pull renews the cursor's window instead of the 30 days running from the
    pull that recorded it (a full pull every night after day 30). Past 30 days without a
    confirmation it is a full pull, saying why; finding the very same pages, it renews too."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    uploads, pulls = two_nights(tmp_path), tmp_path / "pulls.duckdb"
    with standin(uploads, DISTRICT) as origin:
        config = configure(tmp_path, origin)
        new = pulled(pulls, config, capsys)
        said = []
        for days in (20, 20, 31, 0):
            aged(pulls, days)
            api = pulled(pulls, config, capsys, "--events")["api"]
            said.append((api["events_applied_to"], api["events_not_applied"], api["cursor_kept"]))
    base = new["snapshot"]["id"]
    assert said == [
        (base, None, False),
        (base, None, False),  # 40 days after the pull, 20 after the last event pull found none
        (
            None,
            f"the event cursor of the last pull (snapshot {base}) was last confirmed 31 days "
            "ago, beyond Clever's 30-day event window",
            True,
        ),
        (base, None, False),
    ]
    with Store.open(pulls, read_only=True) as s:
        (recorded,) = pulls_of(s, DISTRICT)
    assert recorded.event_cursor == new["api"]["event_cursor"]
    assert recorded.started_at < NOW.replace(tzinfo=None) - timedelta(days=70)
    assert recorded.cursor_confirmed_at > NOW.replace(tzinfo=None) - timedelta(minutes=5)


def test_a_pull_kept_before_migration_18_has_its_cursor_confirmed_at_its_start(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    uploads, pulls = tmp_path / "uploads.duckdb", tmp_path / "pulls.duckdb"
    ingest(uploads, tmp_path / "n1", nights()[0], NOW - timedelta(days=2))
    with standin(uploads, DISTRICT) as origin:
        pulled(pulls, configure(tmp_path, origin), capsys)
    with Store.open(pulls) as s:
        s.execute("ALTER TABLE api_pulls DROP COLUMN cursor_confirmed_at")
        s.execute("DELETE FROM schema_migrations WHERE version = 18")
    with Store.open(pulls) as s:
        (recorded,) = pulls_of(s, DISTRICT)
    assert recorded.cursor_confirmed_at == recorded.started_at


def quiet(number: int) -> Night:
    """A night whose upload differs from the others only in T-1's password, which the API never
    serves: Clever serves the same records, only the district's ``last_sync`` moves."""
    night = copy.deepcopy(EVERY_FIELD_NIGHT)
    night["teachers.csv"][1][10] = f"pw-{number}"
    return night


def pull_state(store: Path) -> list[tuple[Any, ...]]:
    """Per API snapshot: its pull's district status, scope and cursor, the Clever ids kept for
    it, and whether its kept pages re-derive its files byte for byte."""
    with Store.open(store) as s:
        return [
            (
                p.snapshot_id,
                p.district_state,
                p.last_sync,
                p.scope,
                p.event_cursor,
                s.rows("FROM api_ids_of(?) ORDER BY ALL", [p.snapshot_id]),
                rederived(s, p.snapshot_id, store.parent / f"again-{store.stem}-{p.snapshot_id}")
                == bundle_files(s, p.snapshot_id),
            )
            for p in pulls_of(s, DISTRICT)
        ]


def test_nights_moving_only_last_sync_go_by_events_and_keep_the_cursor_current(
    tmp_path, capsys, monkeypatch
):
    """Issue 14: a summer without roster changes, the SIS syncing every night (``last_sync``
    moves). Each --events pull applies a ``districts.updated`` that changes no bundle row: the
    newest pull takes the state it made — its pages plus the event page, the last event as its
    cursor confirmed at this pull's start, the district's status — so events pulls 20 and 11
    days apart go on past 30 days from the full pull (and from the first events pull) without a
    full pull. 31 days without a pull fall back to a full pull, whose pages (another
    ``last_sync``) the newest pull takes too; the next night goes by events again. A roster
    change after such nights applies exactly: a store pulled in full at the same moments has
    the same history, the same pulls' district status, cursors and Clever ids, and every
    pull's kept pages re-derive its snapshot's files."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    uploads = tmp_path / "uploads.duckdb"
    by_events, by_full = tmp_path / "events.duckdb", tmp_path / "full.duckdb"
    days = (-1, 0, 20, 40, 60, 71, 102, 103, 105)  # the nights' days after the first pull
    changed = copy.deepcopy(nights()[1])  # S-002 leaves, S-006 arrives, Cy's grade
    first = NOW - timedelta(days=days[-1])
    said, recorded = [], []
    for number, day in enumerate(days):
        night = changed if day == days[-1] else quiet(number)
        ingest(uploads, tmp_path / f"n{number}", night, first + timedelta(days=day))
        if day < 0:
            continue
        for store in (by_events, by_full):
            if day > 0:
                aged(store, day - days[number - 1])
        with standin(uploads, DISTRICT, "--as-is") as origin:
            config = configure(tmp_path, origin)
            api = pulled(by_events, config, capsys, "--events")["api"]
            assert pull(by_full, config) == 0
        said.append(
            (
                day,
                api["events_applied_to"],
                api["events_not_applied"],
                api["unchanged"],
                api["cursor_kept"],
                api["requests"],
            )
        )
        with Store.open(by_events, read_only=True) as s:
            newest = pulls_of(s, DISTRICT)[-1]
        assert newest.event_cursor == api["event_cursor"]
        assert newest.last_sync == api["district"]["last_sync"]
        assert newest.last_sync == (first + timedelta(days=day)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        recent = newest.cursor_confirmed_at > NOW.replace(tzinfo=None) - timedelta(minutes=5)
        recorded.append((newest.snapshot_id, newest.pages, recent))
    assert said == [
        (0, None, "no earlier pull of [api.standin] v3.1 to apply events to", False, False, 10),
        (20, 1, None, True, True, 1),
        (40, 1, None, True, True, 1),  # 40 days after the full pull: by events still
        (60, 1, None, True, True, 1),
        (71, 1, None, True, True, 1),  # 51 days after the first events pull
        (
            102,
            None,
            "the event cursor of the last pull (snapshot 1) was last confirmed 31 days ago, "
            "beyond Clever's 30-day event window",
            True,
            True,
            10,
        ),
        (103, 1, None, True, True, 1),
        (105, 1, None, False, False, 1),
    ]
    assert recorded == [
        (1, 9, True),
        (1, 10, True),  # its pages and the event page
        (1, 11, True),
        (1, 12, True),
        (1, 13, True),
        (1, 9, True),  # the full pull's pages
        (1, 10, True),
        (2, 11, True),  # an events snapshot: its base's pages and its event page
    ]
    events, full = history(capsys, by_events, KEYS), history(capsys, by_full, KEYS)
    for part in ("nights", "diffs", "timelines", "doctor"):
        assert events[part] == full[part], part
    assert events["doctor"]["healthy"] is True
    assert len(events["nights"]) == 2
    students = {r["key"]: r["Grade"] for r in events["nights"][2]["rows"]["students"]}
    assert students == {"S-001": "3", "S-003": "12", "S-006": "3"}
    state = pull_state(by_events)
    assert state == pull_state(by_full)
    assert [s[6] for s in state] == [True, True]


KEYS = ("S-001", "S-002", "S-006")


def test_an_event_keeps_its_id_when_the_window_drops_an_older_night(tmp_path):
    """An event id is its night's second, then a counter from 0 for that night: when the window
    moves past the oldest night the stand-in kept, the events it still serves keep their ids,
    so a cursor inside the window stays valid; the dropped night's event is a 404."""
    uploads = tmp_path / "uploads.duckdb"
    times = [NOW - timedelta(days=days) for days in (45, 40, 20, 1)]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    served = []
    for number, when in enumerate(times):
        ingest(uploads, tmp_path / f"n{number}", quiet(number), when)
        if number >= 2:
            with standin(uploads, DISTRICT) as origin:
                body = httpx.get(f"{origin}/v3.1/events?limit=100", headers=auth).json()
                gone = httpx.get(
                    f"{origin}/v3.1/events?starting_after={event_id(times[1])}", headers=auth
                )
            served.append(([e["data"]["id"] for e in body["data"]], gone.status_code))
    assert served == [
        ([event_id(times[1]), event_id(times[2])], 200),  # nights 0-2 within 30 days of 2
        ([event_id(times[2]), event_id(times[3])], 404),  # night 1 is before the window
    ]


def event_id(night: datetime) -> str:
    """The id of a night's first event (its only one: the district's ``last_sync``)."""
    return f"{int(night.timestamp()):08x}{0:016x}"


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


def student_sis(body: dict[str, Any]) -> str | None:
    return body.get("roles", {}).get("student", {}).get("sis_id")


def test_events_over_three_nights_are_each_pairs_differences_in_each_version(tmp_path):
    # Night 2: Cy's Last_name is blank (Cy, Cy's contact and SEC-2's Cy go); night 3: Bo's
    # Frl_status changes (a v3.1 field: an event in v3.1 only) and Bo joins SEC-1. Night 2's
    # bodies serve both of its pairs: what changed from night 1 is no event of night 3.
    uploads = tmp_path / "uploads.duckdb"
    first = copy.deepcopy(EVERY_FIELD_NIGHT)
    second = copy.deepcopy(first)
    second["students.csv"][4][STUDENT_HEADER.index("Last_name")] = ""
    third = copy.deepcopy(second)
    third["students.csv"][3][STUDENT_HEADER.index("Frl_status")] = "F"
    third["enrollments.csv"].append(["SCH-1", "SEC-1", "S-002"])
    for day, night in enumerate((first, second, third)):
        ingest(uploads, tmp_path / f"n{day}", night, NOW - timedelta(days=3 - day))
    found: dict[str, list[tuple[str, str]]] = {}
    with Store.open(uploads, read_only=True) as store:
        snapshots = store.snapshots(DISTRICT)
        for version in ("3.0", "3.1"):
            bodies = [every_body(ServedDistrict(store, s, as_is=True), version) for s in snapshots]
            served = ServedDistrict(store, snapshots[-1], as_is=True)
            events = [
                json.loads(body) for _, body in served.page(version, "events", None, 10000).items
            ]
            expected = []
            for before, after in itertools.pairwise(bodies):
                changed = sorted(
                    (RESOURCES.index(key[0]), key[1], key[0])
                    for key in before.keys() | after.keys()
                    if before.get(key) != after.get(key)
                )
                for _, cid, resource in changed:
                    key = (resource, cid)
                    kind = (
                        "created"
                        if key not in before
                        else "deleted"
                        if key not in after
                        else "updated"
                    )
                    expected.append((f"{resource}.{kind}", cid, before, after))
            found[version] = [(e["type"], e["data"]["object"]["id"]) for e in events]
            assert found[version] == [(kind, cid) for kind, cid, _, _ in expected]
            assert [e["id"] for e in events] == sorted(e["id"] for e in events)
            for event, (kind, cid, before, after) in zip(events, expected, strict=True):
                key = (kind.split(".")[0], cid)
                assert event["data"]["object"] == after.get(key, before.get(key))
                if kind.endswith(".updated"):
                    old, new = before[key], after[key]
                    assert event["data"]["previous_attributes"] == {
                        field: old.get(field) for field in old.keys() | new.keys()
                        if old.get(field) != new.get(field)
                    }  # fmt: skip
        bo = next(cid for (_, cid), body in bodies[-1].items() if student_sis(body) == "S-002")
    assert Counter(found["3.1"]) - Counter(found["3.0"]) == Counter({("users.updated", bo): 1})
    assert [kind for kind, _ in found["3.0"]] == [
        "districts.updated",  # night 2: last_sync; SEC-2 loses Cy; Cy and Cy's contact go
        "sections.updated",
        "users.deleted",
        "users.deleted",
        "districts.updated",  # night 3: last_sync; SEC-1 gains Bo
        "sections.updated",
    ]


# --- the proof over a history: every kind of change, nights apart ----------------------------


def churn() -> list[Night]:
    """Five upload nights; events pulls at nights 3 and 5 must equal full pulls of them.

    Night 3: S-001 re-keyed to S-001X (with its contacts and enrollment), S-003's contact gets a
    new phone, S-006 moves from SEC-1 to SEC-2 and changes grade, S-007 is inserted, SCH-2 gets a
    new phone. Night 4: S-008 is created. Night 5: S-008 is deleted again (created and deleted
    between two pulls), S-003 leaves (with its enrollment), T-1 changes name.
    """
    first, second, _ = nights()
    third = copy.deepcopy(second)
    for row in third["students.csv"][1:]:
        if row[1] == "S-001":
            row[1] = "S-001X"
        if row[1] == "S-003":
            row[STUDENT_HEADER.index("Contact_phone")] = "617-555-0177"
        if row[1] == "S-006":
            row[STUDENT_HEADER.index("Grade")] = "4"
    third["students.csv"].append(student("S-007", "SCH-1", "Novak"))
    third["enrollments.csv"] = [
        ["SCH-1", "SEC-1", "S-001X"] if r[2] == "S-001" else r
        for r in third["enrollments.csv"]
        if r[2] != "S-006"
    ]
    third["enrollments.csv"] += [["SCH-2", "SEC-2", "S-006"], ["SCH-1", "SEC-1", "S-007"]]
    third["schools.csv"][2][12] = "617-555-0190"
    fourth = copy.deepcopy(third)
    fourth["students.csv"].append(student("S-008", "SCH-2", "Brief"))
    fourth["enrollments.csv"].append(["SCH-2", "SEC-2", "S-008"])
    fifth = copy.deepcopy(third)
    fifth["students.csv"] = [r for r in fifth["students.csv"] if r[1] != "S-003"]
    fifth["enrollments.csv"] = [r for r in fifth["enrollments.csv"] if r[2] != "S-003"]
    fifth["teachers.csv"][1][4] = "Parker"
    return [first, second, third, fourth, fifth]


VOLATILE = {"source", "store"}  # and every time (``*_at``): the pulls ran at other moments


def stable(value: Any) -> Any:
    """A JSON value without the keys that differ between two pulls of the same night."""
    if isinstance(value, dict):
        return {
            k: stable(v) for k, v in value.items() if k not in VOLATILE and not k.endswith("_at")
        }
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value


def cli_json(capsys: Any, store: Path, *argv: str) -> Any:
    capsys.readouterr()
    assert main(["--store", str(store), *argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def history(
    capsys: Any, store: Path, keys: tuple[str, ...] = ("S-001", "S-001X", "S-003", "S-006", "S-007")
) -> dict[str, Any]:
    """What a store says about the district's history: snapshots, per-night entity counts and
    rows, diffs night to night, timelines of the records that changed, and doctor."""
    with Store.open(store, read_only=True) as s:
        snapshots = s.snapshots(DISTRICT)
        nights = {
            snap.seq: {
                "bundle_sha256": snap.bundle_sha256,
                "files": s.snapshot_files(snap.id).drop("mtime").to_dicts(),
                "entities": s.rows(
                    "SELECT entity, rows, versions_added, versions_closed FROM snapshot_entities "
                    "WHERE snapshot_id = ? ORDER BY entity",
                    [snap.id],
                ),
                "rows": {e: rows(s, snap.id, e) for e in ENTITIES},
            }
            for snap in snapshots
        }
    diffs = [
        stable(cli_json(capsys, store, "diff", "--district", DISTRICT, "--from", str(a.id),
                        "--to", str(b.id), "--details"))
        for a, b in itertools.pairwise(snapshots)
    ]  # fmt: skip
    timelines = {
        key: stable(cli_json(capsys, store, "timeline", "--district", DISTRICT,
                             "--entity", "students", "--key", key))
        for key in keys
    }  # fmt: skip
    doctor = cli_json(capsys, store, "doctor")  # the raw files differ: pages vs event pages
    doctor = {"healthy": doctor["healthy"], "problems": doctor["problems"]}
    return {"nights": nights, "diffs": diffs, "timelines": timelines, "doctor": doctor}


def test_events_pulls_nights_apart_give_the_history_full_pulls_give(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    uploads = tmp_path / "uploads.duckdb"
    by_events, by_full = tmp_path / "events.duckdb", tmp_path / "full.duckdb"
    config = tmp_path / "rosterlab.toml"
    applied = []
    for number, night in enumerate(churn(), start=1):
        ingest(uploads, tmp_path / f"n{number}", night, NOW - timedelta(days=7 - number))
        if number in (2, 3, 5):  # served as uploaded, held or not (a re-key is a deletion)
            with standin(uploads, DISTRICT, "--as-is") as origin:
                config = configure(tmp_path, origin)
                applied.append(pulled(by_events, config, capsys, "--events"))
                assert pull(by_full, config) == 0
    base, third, fifth = applied
    assert (third["api"]["events_applied_to"], fifth["api"]["events_applied_to"]) == (
        base["snapshot"]["id"],
        third["snapshot"]["id"],
    )
    assert third["api"]["requests"] == fifth["api"]["requests"] == 1
    assert "events changed 13 records of the served state kept from snapshot 1" in third["stderr"]
    assert "events changed 6 records of the served state kept from snapshot 2" in fifth["stderr"]
    for pulled_events in (third, fifth):  # merged from the touched owners' rows alone
        assert "records own the rows those events may change" in pulled_events["stderr"]
        assert "merged in full" not in pulled_events["stderr"]
    events, full = history(capsys, by_events), history(capsys, by_full)
    for part in ("nights", "diffs", "timelines", "doctor"):
        assert events[part] == full[part], part
    assert events["doctor"]["healthy"] is True
    # the changes themselves, as the events store holds them
    night3, night5 = events["nights"][2]["rows"], events["nights"][3]["rows"]
    assert [r["key"] for r in night3["students"]] == ["S-001X", "S-003", "S-006", "S-007"]
    assert [r["key"] for r in night5["students"]] == ["S-001X", "S-006", "S-007"]
    assert sorted(r["key"] for r in night3["enrollments"]) == [
        "SEC-1/S-001X", "SEC-1/S-007", "SEC-2/S-003", "SEC-2/S-006",
    ]  # fmt: skip
    assert {c["Student_id"]: c["Contact_phone"] for c in night3["contacts"]}["S-003"] == (
        "617-555-0177"
    )
    assert {t["key"]: t["Last_name"] for t in night5["teachers"]}["T-1/SCH-1"] == "Parker"
    assert [(e["seq"], e["change"]) for e in events["timelines"]["S-001"]["events"]] == [
        (1, "first-seen"),
        (2, "removed"),
    ]
    assert "S-008" not in str(events["nights"])  # created and deleted between two pulls


def _pulled_before_the_third_night(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(uploads, pulls, fresh): churn's nights 1–2 uploaded and pulled in full, night 3 uploaded."""
    uploads, pulls = tmp_path / "uploads.duckdb", tmp_path / "pulls.duckdb"
    first, second, third, *_ = churn()
    ingest(uploads, tmp_path / "n1", first, NOW - timedelta(days=3))
    ingest(uploads, tmp_path / "n2", second, NOW - timedelta(days=2))
    with standin(uploads, DISTRICT, "--as-is") as origin:
        assert pull(pulls, configure(tmp_path, origin)) == 0
    ingest(uploads, tmp_path / "n3", third, NOW - timedelta(days=1))
    return uploads, pulls, tmp_path / "fresh.duckdb"


def test_an_events_pull_broken_midway_leaves_the_store_as_it_was_and_resumes(
    tmp_path, capsys, monkeypatch
):
    """One event a page; the stand-in refuses every request from the third on."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    uploads, pulls, fresh = _pulled_before_the_third_night(tmp_path)
    before = history(capsys, pulls)
    port = free_port()
    with standin(uploads, DISTRICT, "--as-is", "--fault", "503@3+", port=port) as origin:
        config = configure(tmp_path, origin, page_limit=1)
        capsys.readouterr()
        assert pull(pulls, config, "--events") == 2
    assert "HTTP 503 on /v3.1/events?" in capsys.readouterr().err
    assert history(capsys, pulls) == before
    with standin(uploads, DISTRICT, "--as-is", port=port) as origin:
        config = configure(tmp_path, origin, page_limit=1)
        resumed = pulled(pulls, config, capsys, "--events")
        assert pull(fresh, config) == 0
    assert "resuming the pull started at" in resumed["stderr"]
    assert "(2 pages kept)" in resumed["stderr"]
    assert resumed["api"]["resumed"] is True
    with Store.open(fresh, read_only=True) as s:
        full_sha = s.snapshots(DISTRICT)[-1].bundle_sha256
    with Store.open(pulls, read_only=True) as s:
        base_id = s.snapshots(DISTRICT)[0].id
    assert resumed["api"]["events_applied_to"] == base_id
    assert resumed["snapshot"]["bundle_sha256"] == full_sha
    assert history(capsys, pulls)["doctor"]["healthy"] is True


def test_without_the_base_pulls_served_state_the_events_apply_to_its_kept_pages(
    tmp_path, capsys, monkeypatch
):
    """The store keeps the served objects of the newest pull only: forgetting that snapshot
    forgets them, and the next events pull reads the earlier pull's pages instead."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    uploads, pulls = tmp_path / "uploads.duckdb", tmp_path / "pulls.duckdb"
    first, second, third, *_ = churn()
    ingest(uploads, tmp_path / "n1", first, NOW - timedelta(days=3))
    ingest(uploads, tmp_path / "n2", second, NOW - timedelta(days=2))
    with standin(uploads, DISTRICT, "--as-is") as origin:
        base = pulled(pulls, configure(tmp_path, origin), capsys)
    ingest(uploads, tmp_path / "n3", third, NOW - timedelta(days=1))
    with standin(uploads, DISTRICT, "--as-is") as origin:
        config = configure(tmp_path, origin)
        applied = pulled(pulls, config, capsys, "--events")
        assert main(["--store", str(pulls), "snapshots", "forget", "latest",
                     "--district", DISTRICT]) == 0  # fmt: skip
        with Store.open(pulls, read_only=True) as s:
            assert served_of(s, DISTRICT) is None
        again = pulled(pulls, config, capsys, "--events")
    assert "served state kept" in applied["stderr"]
    assert "served state kept" not in again["stderr"]
    assert again["api"]["events_applied_to"] == base["snapshot"]["id"]
    assert again["snapshot"]["bundle_sha256"] == applied["snapshot"]["bundle_sha256"]
    with Store.open(pulls, read_only=True) as s:
        assert served_of(s, DISTRICT) == again["snapshot"]["id"]
    assert history(capsys, pulls)["doctor"]["healthy"] is True


def events_and_full(
    tmp_path: Path, capsys: Any, monkeypatch: Any, *nights: Night
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """Each night uploaded, served as uploaded and pulled by an events pull into one store and
    a full pull into another: what the events pulls said, then both stores' histories."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    uploads = tmp_path / "uploads.duckdb"
    by_events, by_full = tmp_path / "events.duckdb", tmp_path / "full.duckdb"
    said = []
    for number, night in enumerate(nights, start=1):
        ingest(uploads, tmp_path / f"n{number}", night, NOW - timedelta(days=7 - number))
        with standin(uploads, DISTRICT, "--as-is") as origin:
            config = configure(tmp_path, origin)
            said.append(pulled(by_events, config, capsys, "--events"))
            assert pull(by_full, config) == 0
    keys = ("S-001", "S-002", "S-003")
    return said, history(capsys, by_events, keys), history(capsys, by_full, keys)


def _kept_pull(tmp_path: Path, capsys: Any, monkeypatch: Any) -> Path:
    """churn's night 2, uploaded and pulled in full: its served state is kept."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    uploads, pulls = tmp_path / "uploads.duckdb", tmp_path / "pulls.duckdb"
    ingest(uploads, tmp_path / "n1", churn()[1], NOW - timedelta(days=1))
    with standin(uploads, DISTRICT, "--as-is") as origin:
        assert pull(pulls, configure(tmp_path, origin)) == 0
    return pulls


@dataclass(frozen=True)
class InPlace:
    """What :func:`in_place` found: the owners marked, the enrollment entries, each file's
    header and owned rows before and after."""

    owners: list[tuple[str, str]]
    enrolled: int
    headers: dict[str, tuple[str, ...]]
    before: dict[str, list[tuple[Any, ...]]]
    after: dict[str, list[tuple[Any, ...]]]


def in_place(store: Store, folder: Path, *edits: tuple[str, dict[str, Any]]) -> InPlace:
    """Apply events ((type, object) in order) to the kept state, with the owners they touch
    mapped before and after, and prove it exact: the whole mapping before minus the owned rows
    before plus the owned rows after is the whole mapping after, file by file."""
    serve_kept(store, DISTRICT)
    page = folder / "events-00001.json"
    events = [
        {"data": {"id": f"{n:024x}", "type": kind, "data": {"object": obj}}}
        for n, (kind, obj) in enumerate(edits, start=0xE0)
    ]
    page.write_text(json.dumps({"data": events, "links": []}))
    before = whole_mapping(store, folder / "before")
    read_events(store, [page])
    marked = mark_owners(store)
    owners = store.rows(
        "SELECT step, coalesce(j->>'sis_id', j->'roles'->'student'->>'sis_id', "
        "j->'roles'->'teacher'->>'sis_id', j->'roles'->'staff'->>'staff_id', "
        "j->'roles'->'contact'->>'sis_id') FROM api_objects "
        "WHERE id IN (SELECT id FROM api_owners) ORDER BY ALL"
    )
    assert len({step_id for step_id in owners}) <= marked
    ((enrolled,),) = store.rows("SELECT count(*) FROM api_enrolled")
    owned_before = map_owners(store, "3.1", "before")
    apply_latest(store, "api_served", DISTRICT, owned=True)
    owned_after = map_owners(store, "3.1", "after")
    after = whole_mapping(store, folder / "after")
    for name in before:
        assert owned_before[name] == owned_after[name]
        patched = Counter(before[name])
        patched.subtract(owned_rows(store, "before", name))
        patched.update(owned_rows(store, "after", name))
        assert +patched == Counter(after[name]), name
    return InPlace(
        owners,
        int(enrolled),
        owned_after,
        {name: owned_rows(store, "before", name) for name in before},
        {name: owned_rows(store, "after", name) for name in before},
    )


def served(store: Store, step: str, sis_path: str, sis_id: str) -> dict[str, Any]:
    """The kept served object of a step with that sis_id."""
    serve_kept(store, DISTRICT)
    ((found,),) = store.rows(
        "SELECT j FROM api_objects WHERE step = ? AND j->>? = ?", [step, sis_path, sis_id]
    )
    return dict(json.loads(found))


def test_a_school_edited_in_place_reaches_the_rows_naming_it(tmp_path, capsys, monkeypatch):
    """SCH-2's SIS id edited in Clever (the same Clever id, as an edit in a Clever-managed
    district's dashboard would be; the stand-in re-keys instead, so the event is written here):
    its students, teacher and section are unchanged objects, yet their rows' School_id changes,
    and so do the enrollment rows of its section."""
    pulls = _kept_pull(tmp_path, capsys, monkeypatch)
    with Store.open(pulls) as store:
        school = served(store, "schools", "$.sis_id", "SCH-2")
        found = in_place(store, tmp_path, ("schools.updated", {**school, "sis_id": "SCH-9"}))
    assert found.owners == [
        ("schools", "SCH-2"), ("sections", "SEC-2"), ("users-staff", "F-1"),
        ("users-student", "S-003"), ("users-teacher", "T-2"),
    ]  # fmt: skip
    assert [(row[1], row[0]) for row in found.after["students.csv"]] == [("S-003", "SCH-9")]
    assert found.after["enrollments.csv"] == [("SCH-9", "SEC-2", "S-003")]


def test_a_school_renamed_in_place_reaches_no_other_record(tmp_path, capsys, monkeypatch):
    """Only SCH-2's own row reads its name: its students, staff and sections stay unmapped."""
    pulls = _kept_pull(tmp_path, capsys, monkeypatch)
    with Store.open(pulls) as store:
        school = served(store, "schools", "$.sis_id", "SCH-2")
        found = in_place(store, tmp_path, ("schools.updated", {**school, "name": "Maple HS"}))
    assert found.owners == [("schools", "SCH-2")]
    assert found.enrolled == 0
    assert [row[:2] for row in found.after["schools.csv"]] == [("SCH-2", "Maple HS")]
    assert found.after["students.csv"] == found.after["enrollments.csv"] == []


def test_a_student_renamed_leaves_its_sections_and_enrollments_unmapped(
    tmp_path, capsys, monkeypatch
):
    """Cy's last name changes: Cy's row (with its contact) is remapped, not SEC-2 nor its
    enrollments — an enrollment row reads the student's sis_id only."""
    pulls = _kept_pull(tmp_path, capsys, monkeypatch)
    with Store.open(pulls) as store:
        cy = served(store, "users-student", "$.roles.student.sis_id", "S-003")
        renamed = {**cy, "name": {**cy["name"], "last": "Okafor-Eze"}}
        found = in_place(store, tmp_path, ("users.updated", renamed))
    assert found.owners == [("users-student", "S-003")]
    assert found.enrolled == 0
    assert [(row[1], row[4]) for row in found.after["students.csv"]] == [("S-003", "Okafor-Eze")]
    assert found.before["enrollments.csv"] == found.after["enrollments.csv"] == []


def test_a_student_re_keyed_in_place_reaches_only_its_enrollment_rows(
    tmp_path, capsys, monkeypatch
):
    """Cy's SIS id edited in place (same Clever id): its one enrollment row changes; SEC-2's
    row and its other entries are not mapped."""
    pulls = _kept_pull(tmp_path, capsys, monkeypatch)
    with Store.open(pulls) as store:
        cy = served(store, "users-student", "$.roles.student.sis_id", "S-003")
        roles = {**cy["roles"], "student": {**cy["roles"]["student"], "sis_id": "S-003Z"}}
        found = in_place(store, tmp_path, ("users.updated", {**cy, "roles": roles}))
    assert found.owners == [("users-student", "S-003")]
    assert found.before["enrollments.csv"] == [("SCH-2", "SEC-2", "S-003")]
    assert found.after["enrollments.csv"] == [("SCH-2", "SEC-2", "S-003Z")]
    assert found.after["sections.csv"] == []


def test_a_re_keyed_student_kept_by_a_changed_section_is_found_in_its_list_after(
    tmp_path, capsys, monkeypatch
):
    """Cy re-keyed in place the night SEC-2 gains Ada: SEC-2 is an event's object, so it is
    not among the sections scanned for Cy's id (those the events leave alone); its list after
    the events still finds Cy's entry, and Ada's comes with it."""
    pulls = _kept_pull(tmp_path, capsys, monkeypatch)
    with Store.open(pulls) as store:
        section = served(store, "sections", "$.sis_id", "SEC-2")
        cy = served(store, "users-student", "$.roles.student.sis_id", "S-003")
        ada = served(store, "users-student", "$.roles.student.sis_id", "S-001")
        roles = {**cy["roles"], "student": {**cy["roles"]["student"], "sis_id": "S-003Z"}}
        found = in_place(
            store,
            tmp_path,
            ("users.updated", {**cy, "roles": roles}),
            ("sections.updated", {**section, "students": [*section["students"], ada["id"]]}),
        )
    assert found.owners == [("sections", "SEC-2"), ("users-student", "S-003")]
    assert found.enrolled == 2
    assert found.before["enrollments.csv"] == [("SCH-2", "SEC-2", "S-003")]
    assert found.after["enrollments.csv"] == [
        ("SCH-2", "SEC-2", "S-001"),
        ("SCH-2", "SEC-2", "S-003Z"),
    ]


def test_a_section_changing_students_maps_only_the_entries_that_come_and_go(
    tmp_path, capsys, monkeypatch
):
    """SEC-1 loses Ada and gains Cy: two enrollment rows, not SEC-1's every entry."""
    pulls = _kept_pull(tmp_path, capsys, monkeypatch)
    with Store.open(pulls) as store:
        section = served(store, "sections", "$.sis_id", "SEC-1")
        cy = served(store, "users-student", "$.roles.student.sis_id", "S-003")
        ada = served(store, "users-student", "$.roles.student.sis_id", "S-001")
        students = [s for s in section["students"] if s != ada["id"]] + [cy["id"]]
        found = in_place(store, tmp_path, ("sections.updated", {**section, "students": students}))
    assert found.owners == [("sections", "SEC-1")]
    assert found.enrolled == 2
    assert found.before["enrollments.csv"] == [("SCH-1", "SEC-1", "S-001")]
    assert found.after["enrollments.csv"] == [("SCH-1", "SEC-1", "S-003")]


def test_sections_changed_twice_deleted_and_created_map_their_entries_from_their_lists(
    tmp_path, capsys, monkeypatch
):
    """A section the events name maps the entries that come and go from its lists before and
    after: SEC-1 changed twice (the last event wins: Ada out, Cy in twice — two rows), SEC-2
    deleted (every entry leaves), SEC-3 created (its entry comes)."""
    pulls = _kept_pull(tmp_path, capsys, monkeypatch)
    with Store.open(pulls) as store:
        first, second = (served(store, "sections", "$.sis_id", s) for s in ("SEC-1", "SEC-2"))
        cy = served(store, "users-student", "$.roles.student.sis_id", "S-003")
        ada = served(store, "users-student", "$.roles.student.sis_id", "S-001")
        without_ada = [s for s in first["students"] if s != ada["id"]]
        created = {**first, "id": "5ec000000000000000000003", "sis_id": "SEC-3",
                   "students": [ada["id"]]}  # fmt: skip
        found = in_place(
            store,
            tmp_path,
            ("sections.updated", {**first, "students": without_ada}),
            ("sections.updated", {**first, "students": [*without_ada, cy["id"], cy["id"]]}),
            ("sections.deleted", second),
            ("sections.created", created),
        )
    assert sorted(found.before["enrollments.csv"]) == [
        ("SCH-1", "SEC-1", "S-001"),
        ("SCH-2", "SEC-2", "S-003"),
    ]
    assert sorted(found.after["enrollments.csv"]) == [
        ("SCH-1", "SEC-1", "S-003"),
        ("SCH-1", "SEC-1", "S-003"),
        ("SCH-1", "SEC-3", "S-001"),
    ]
    assert sorted(row[1] for row in found.after["sections.csv"]) == ["SEC-1", "SEC-3"]


def test_a_student_deleted_while_a_section_still_lists_it(tmp_path, capsys, monkeypatch):
    """users.deleted of New (S-006) with no sections.updated (Clever's events of one night
    need not come together): SEC-1 still lists the id, so its row loses the Student_id, as the
    whole mapping of that state says."""
    pulls = _kept_pull(tmp_path, capsys, monkeypatch)
    with Store.open(pulls) as store:
        new = served(store, "users-student", "$.roles.student.sis_id", "S-006")
        found = in_place(store, tmp_path, ("users.deleted", new))
    assert found.before["enrollments.csv"] == [("SCH-1", "SEC-1", "S-006")]
    assert found.after["enrollments.csv"] == [("SCH-1", "SEC-1", None)]
    assert found.after["students.csv"] == []


def test_a_contact_edited_reaches_the_students_it_relates_to(tmp_path, capsys, monkeypatch):
    """Pat Lee's phone changes: Ada's rows (both contacts on them) are remapped."""
    pulls = _kept_pull(tmp_path, capsys, monkeypatch)
    with Store.open(pulls) as store:
        pat = served(store, "users-contact", "$.roles.contact.sis_id", "C-1")
        roles = {**pat["roles"], "contact": {**pat["roles"]["contact"], "phone": "617-555-0100"}}
        found = in_place(store, tmp_path, ("users.updated", {**pat, "roles": roles}))
    assert found.owners == [("users-contact", "C-1"), ("users-student", "S-001")]
    phone = found.headers["students.csv"].index("Contact_phone")
    phones = [row[phone] for row in found.after["students.csv"]]
    assert sorted(phones) == ["617-555-0100", "617-555-0198"]


def whole_mapping(store: Store, folder: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every file of the whole mapping of ``api_objects``, its rows as staging holds them."""
    written = write_bundle(store, folder, "3.1")
    return {
        name: [tuple(v or None for v in row) for row in store.rows(
            f"SELECT * FROM {parsed_table(name)}")]
        for name in written
    }  # fmt: skip


def owned_rows(store: Store, tag: str, name: str) -> list[tuple[Any, ...]]:
    return [row[1:] for row in store.rows(f"SELECT * FROM {owned_table(tag, name)} ORDER BY ALL")]


def test_a_new_ext_column_merges_its_file_in_full_saying_so(tmp_path, capsys, monkeypatch):
    """ext.floor appears on SEC-2: every sections.csv row gets the column, so every row's hash
    changes; the sections are merged in full and the history is still the full pulls'."""
    first, second, *_ = churn()
    third = copy.deepcopy(second)
    third["sections.csv"][0].append("ext.floor")
    for row in third["sections.csv"][1:]:
        row.append("2" if row[1] == "SEC-2" else "")
    said, events, full = events_and_full(tmp_path, capsys, monkeypatch, first, second, third)
    assert "sections: merged in full (sections.csv's columns changed)" in said[-1]["stderr"]
    assert "students: merged in full" not in said[-1]["stderr"]
    for part in ("nights", "diffs", "timelines", "doctor"):
        assert events[part] == full[part], part


def test_an_ext_value_changing_keeps_the_header_and_merges_from_the_owners(
    tmp_path, capsys, monkeypatch
):
    """SCH-2 gets ext.region 'south' (SCH-1 keeps 'north'): the column stays, so schools.csv's
    header is the base's and the schools merge from SCH-2's rows alone."""
    first, second, *_ = churn()
    third = copy.deepcopy(second)
    third["schools.csv"][2][13] = "south"
    said, events, full = events_and_full(tmp_path, capsys, monkeypatch, first, second, third)
    assert "merged in full" not in said[-1]["stderr"]
    for part in ("nights", "diffs", "timelines", "doctor"):
        assert events[part] == full[part], part
    files = {f["name"]: f["header"] for f in events["nights"][3]["files"]}
    assert files["schools.csv"][-1] == "ext.region"


def test_an_ext_column_vanishing_merges_its_file_in_full_saying_so(tmp_path, capsys, monkeypatch):
    """ext.region goes: SCH-1, the one school carrying it, loses it — every schools.csv row
    loses the column, so schools merge in full; the history is still the full pulls'."""
    first, second, *_ = churn()
    third = copy.deepcopy(second)
    third["schools.csv"] = [row[:13] for row in third["schools.csv"]]
    said, events, full = events_and_full(tmp_path, capsys, monkeypatch, first, second, third)
    assert "schools: merged in full (schools.csv's columns changed)" in said[-1]["stderr"]
    assert "students: merged in full" not in said[-1]["stderr"]
    for part in ("nights", "diffs", "timelines", "doctor"):
        assert events[part] == full[part], part
    files = {f["name"]: f["header"] for f in events["nights"][3]["files"]}
    assert files["schools.csv"][-1] == "School_phone"


class Interrupted(Exception):
    """Stands for Ctrl-C arriving while the events are being applied and mapped."""


def test_an_events_pull_interrupted_while_mapping_keeps_the_served_state_and_resumes(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    uploads, pulls, fresh = _pulled_before_the_third_night(tmp_path)
    state = "SELECT step, id, j::VARCHAR FROM api_served ORDER BY step, id"
    with Store.open(pulls, read_only=True) as s:
        served_before = s.rows(state)
    before = history(capsys, pulls)

    def interrupt(message: str) -> None:
        if message == "merging students":
            raise Interrupted(message)

    with standin(uploads, DISTRICT, "--as-is") as origin:
        target = ApiTarget("standin", origin, "3.1", TOKEN_ENV)
        with Store.open(pulls) as s, pytest.raises(Interrupted):
            pull_district(s, target, TOKEN, district=DISTRICT, events=True, progress=interrupt)
        with Store.open(pulls, read_only=True) as s:
            assert s.rows(state) == served_before
            assert served_of(s, DISTRICT) == 1
        assert history(capsys, pulls) == before
        messages: list[str] = []
        with Store.open(pulls) as s:
            resumed = pull_district(
                s, target, TOKEN, district=DISTRICT, events=True, progress=messages.append
            )
        assert pull(fresh, configure(tmp_path, origin)) == 0
    assert resumed.resumed is True
    assert resumed.events_base == 1
    assert "events changed 13 records of the served state kept from snapshot 1" in messages
    with Store.open(fresh, read_only=True) as s:
        full = s.snapshots(DISTRICT)[-1]
        served_full = s.rows(state)
    assert resumed.ingest.snapshot.bundle_sha256 == full.bundle_sha256
    with Store.open(pulls, read_only=True) as s:
        assert served_of(s, DISTRICT) == resumed.ingest.snapshot.id
        # the state the events made is the state a full pull of the night keeps
        assert s.rows(state) == served_full


SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"


@pytest.mark.parametrize("district", ["maple", "cedar"])
def test_a_sample_districts_nights_pulled_by_events_are_its_full_pulls(
    tmp_path, capsys, monkeypatch, district
):
    """Every night of a sample district (its incidents and ordinary churn: students leaving,
    arriving and changing, contacts' phones, enrollments moving, teachers' titles, sections'
    periods), served as uploaded and pulled night after night by an events pull into one store
    and a full pull into another: the same history."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    uploads = tmp_path / "uploads.duckdb"
    by_events, by_full = tmp_path / "events.duckdb", tmp_path / "full.duckdb"
    said = []
    for night in sorted(p for p in (SAMPLES / district).iterdir() if p.is_dir()):
        with Store.open(uploads) as s, open_bundle(night) as bundle:
            ingest_bundle(s, bundle, district=district)
        with standin(uploads, district, "--as-is") as origin:
            config = configure(tmp_path, origin)
            for store, extra in ((by_events, ("--events",)), (by_full, ())):
                capsys.readouterr()
                assert main(["--store", str(store), "--config", str(config), "api", "pull",
                             "--target", "standin", "--district", district, "--progress",
                             *extra]) == 0  # fmt: skip
                said.append(capsys.readouterr().err)
    with Store.open(by_events, read_only=True) as e, Store.open(by_full, read_only=True) as f:
        for a, b in zip(e.snapshots(district), f.snapshots(district), strict=True):
            assert a.bundle_sha256 == b.bundle_sha256
            assert e.snapshot_files(a.id).drop("mtime").to_dicts() == (
                f.snapshot_files(b.id).drop("mtime").to_dicts()
            )
            for query in (
                "SELECT * EXCLUDE (snapshot_id) FROM snapshot_entities WHERE snapshot_id = ? ",
                "FROM api_ids_of(?) ",
            ):
                assert e.rows(query + "ORDER BY ALL", [a.id]) == f.rows(
                    query + "ORDER BY ALL", [b.id]
                )
            for entity in ENTITIES:
                assert rows(e, a.id, entity) == rows(f, b.id, entity), (a.seq, entity)
    events_pulls = said[::2]
    assert "no earlier pull" in events_pulls[0]
    # night 1 was served with events but none yet: every later night by the owners' delta
    for err in events_pulls[1:]:
        assert "records own the rows those events may change" in err
    in_full = [
        line.split("] ", 1)[1]
        for err in events_pulls
        for line in err.splitlines()
        if "merged in full" in line
    ]
    # cedar's ext.bus_route arrives on night 3, goes with students.csv on night 7, is back on 8
    header_changed = [
        "students: merged in full (students.csv's columns changed)",
        "contacts: merged in full (students.csv's columns changed)",
    ]
    assert in_full == {"maple": [], "cedar": header_changed * 3}[district]


def test_a_night_of_large_event_pages_is_read_within_the_memory_limit(tmp_path: Path) -> None:
    """Six pages of sections listing 300 students each (6.8 MB a page), every section updated
    on every page and one deleted on the last: read in one statement they ran out of 256 MB
    (at 1M students six 76 MB pages ran out of the pull's 1 GB); page by page they fit, and
    each section's newest event wins."""
    students = [f"{n:024x}" for n in range(300)]
    updated, pages = "sections.updated", []
    for number in range(1, 7):
        events = [
            {
                "data": {
                    "id": f"{number:08x}{section:016x}",
                    "type": "sections.deleted" if (number, section) == (6, 7) else updated,
                    "data": {
                        "object": {"id": f"sec-{section}", "name": f"page {number}",
                                   "students": students},
                        "previous_attributes": {"students": students},
                    },
                }
            }
            for section in range(400)
        ]  # fmt: skip
        page = tmp_path / f"events-{number:05d}.json"
        page.write_text(json.dumps({"data": events, "links": []}))
        pages.append(page)
    with Store.open(tmp_path / "store.duckdb", memory_limit="256MB", threads=2) as store:
        read_events(store, pages)
        latest = store.rows(
            "SELECT kind, obj->>'name', count(*) FROM api_latest GROUP BY ALL ORDER BY ALL"
        )
    assert latest == [("deleted", "page 6", 1), ("updated", "page 6", 399)]


def keeping_limits(store: Store, said: list[tuple[str, str]]) -> Callable[[str], None]:
    """A progress that notes DuckDB's memory limit as the raw files are kept."""

    def note(message: str) -> None:
        if message.startswith("keeping raw files"):
            said.append((message, store.rows("SELECT current_setting('memory_limit')")[0][0]))

    return note


def test_only_an_api_pull_packs_its_largest_delta_with_duckdbs_buffers_evicted(tmp_path):
    """Session 14, issue 14: a 1M events pull peaked at ~2 GB, students.csv's delta codec on
    top of DuckDB's whole 1 GB limit; `api pull` now packs that delta with DuckDB's buffers
    evicted. An upload's night whose largest file is a delta keeps DuckDB's limit (its staging
    stays in memory for the checks), and a pull into a fresh store has no keyframe to evict
    for."""
    uploads, pulls = tmp_path / "uploads.duckdb", tmp_path / "pulls.duckdb"
    first, second, _ = nights()
    ingest(uploads, tmp_path / "n1", first, NOW - timedelta(days=2))
    full: list[tuple[str, str]] = []
    with standin(uploads, DISTRICT, "--as-is") as origin:
        target = ApiTarget("standin", origin, "3.1", TOKEN_ENV)
        with Store.open(pulls, memory_limit="1GB") as s:
            pull_district(s, target, TOKEN, district=DISTRICT, progress=keeping_limits(s, full))
    uploaded: list[tuple[str, str]] = []
    when = NOW - timedelta(days=1)
    with Store.open(uploads, memory_limit="1GB") as s:
        with open_bundle(write_night(tmp_path / "n2", second, when=when)) as b:
            ingest_bundle(
                s, b, district=DISTRICT, taken_at=when, progress=keeping_limits(s, uploaded)
            )
        largest = max(second, key=lambda name: (tmp_path / "n2" / name).stat().st_size)
        (sha,) = s.rows(
            "SELECT sha256 FROM snapshot_files WHERE snapshot_id = 2 AND name = ?", [largest]
        )[0]
        assert s.rows("SELECT codec FROM raw_files WHERE sha256 = ?", [sha]) == [("zstd-delta",)]
    events: list[tuple[str, str]] = []
    with standin(uploads, DISTRICT, "--as-is") as origin:
        target = ApiTarget("standin", origin, "3.1", TOKEN_ENV)
        with Store.open(pulls, memory_limit="1GB") as s:
            pulled = pull_district(
                s,
                target,
                TOKEN,
                district=DISTRICT,
                events=True,
                progress=keeping_limits(s, events),
                evict_for_delta=True,  # as `api pull` sets it
            )
            assert s.rows("SELECT current_setting('memory_limit')") == [("953.6 MiB",)]
    assert largest == "students.csv"
    assert full == [("keeping raw files", "953.6 MiB")]
    assert uploaded == [("keeping raw files", "953.6 MiB")]
    assert events == [
        (
            "keeping raw files (students.csv packed against its keyframe, "
            "DuckDB's buffers evicted)",
            "61.0 MiB",
        )
    ]
    assert pulled.events_base == 1
