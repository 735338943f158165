"""The stand-in's faithfulness: Clever's live state, event filters, /oauth/tokens, events turned
off, the keyring token path, and a page over the API's limit — all against the real process."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import keyring
import pytest
from keyring.backend import KeyringBackend

from rosterlab.api.schemas import event_list_schema
from rosterlab.cli import main
from tests.api_standin import TOKEN, TOKEN_ENV, standin
from tests.test_api import DISTRICT, configure, pull
from tests.test_api_events import NOW, ingest, nights
from tests.tiny import write_night

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def events_of(origin: str, query: str) -> list[dict[str, Any]]:
    """Every event of a filtered walk (limit 1, following next links)."""
    uri: str | None = f"/v3.1/events?limit=1&{query}"
    found = []
    while uri:
        body = httpx.get(origin + uri, headers=AUTH).json()
        jsonschema.validate(body, event_list_schema("3.1"))
        found += [item["data"] for item in body["data"]]
        uri = next((link["uri"] for link in body["links"] if link["rel"] == "next"), None)
    return found


def students_served(origin: str) -> list[str]:
    body = httpx.get(f"{origin}/v3.1/users?role=student", headers=AUTH).json()
    return sorted(item["data"]["roles"]["student"]["sis_id"] for item in body["data"])


# --- Clever's live state -----------------------------------------------------------------------


def test_an_upload_clever_does_not_process_is_not_served_the_last_processed_night_is(tmp_path):
    store = tmp_path / "rosterlab.duckdb"
    first, second, _ = nights()
    broken = {name: rows for name, rows in second.items() if name != "students.csv"}
    for folder, night, days in (("n1", first, 2), ("n2", broken, 1)):
        when = NOW - timedelta(days=days)
        argv = ["--store", str(store), "ingest", str(write_night(tmp_path / folder, night)),
                "--district", DISTRICT, "--taken-at", when.strftime("%Y-%m-%dT%H:%M")]  # fmt: skip
        assert main(argv) in (0, 1)
    with standin(store, DISTRICT) as origin:
        live = students_served(origin)
        no_events = httpx.get(f"{origin}/v3.1/events", headers=AUTH).json()
    with standin(store, DISTRICT, "--as-is") as origin:
        as_is = students_served(origin)
    assert live == ["S-001", "S-002", "S-003"]  # night 1: night 2 lacks students.csv
    assert no_events["data"] == []  # nothing changed in what Clever serves
    assert as_is == []


# --- events: school and record_type filters ------------------------------------------------------


@pytest.fixture
def two_nights(tmp_path: Path) -> Path:
    store = tmp_path / "uploads.duckdb"
    first, second, _ = nights()
    ingest(store, tmp_path / "n1", first, NOW - timedelta(days=3))
    ingest(store, tmp_path / "n2", second, NOW - timedelta(days=2))
    return store


def test_events_filter_by_record_type_repeated_and_by_school_and_next_links_keep_the_filters(
    two_nights,
):
    with standin(two_nights, DISTRICT) as origin:
        every = events_of(origin, "")
        users = events_of(origin, "record_type=users")
        both = events_of(origin, "record_type=users&record_type=sections")
        schools = httpx.get(f"{origin}/v3.1/schools", headers=AUTH).json()["data"]
        by_sis = {s["data"]["sis_id"]: s["data"]["id"] for s in schools}
        at_sch1 = events_of(origin, f"school={by_sis['SCH-1']}")
        at_sch2 = events_of(origin, f"school={by_sis['SCH-2']}&record_type=users")
        unknown = httpx.get(f"{origin}/v3.1/events?record_type=students", headers=AUTH)
    assert [e["type"] for e in every] == [
        "districts.updated",  # last_sync
        "sections.updated", "sections.updated",  # SEC-1 gains S-006, SEC-2 loses S-002
        "users.updated", "users.deleted", "users.created",
    ]  # fmt: skip
    assert [e["id"] for e in users] == [e["id"] for e in every if e["type"].startswith("users.")]
    assert [e["id"] for e in both] == [e["id"] for e in every[1:]]  # not the district's

    def who(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return sorted((e["type"], e["data"]["object"]["sis_id"] if "sis_id" in e["data"]["object"]
                       else e["data"]["object"]["name"]["last"]) for e in events)  # fmt: skip

    # SCH-1: the new student S-006 and its section SEC-1; SCH-2: Bo Diaz left, Cy changed grade.
    assert who(at_sch1) == [("sections.updated", "SEC-1"), ("users.created", "New")]
    assert who(at_sch2) == [("users.deleted", "Diaz"), ("users.updated", "Okafor")]
    assert unknown.status_code == 400
    assert unknown.json()["message"].startswith("unknown record_type students: one of districts")


# --- /oauth/tokens ------------------------------------------------------------------------------


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def test_oauth_tokens_hands_the_district_token_to_the_app_client_with_http_basic(
    two_nights, monkeypatch
):
    monkeypatch.setenv("ROSTERLAB_STANDIN_CLIENT", "app-client:app-secret")
    with standin(two_nights, DISTRICT) as origin:
        url = f"{origin}/oauth/tokens"
        listed = httpx.get(f"{url}?owner_type=district", headers=basic("app-client", "app-secret"))
        district_id = listed.json()["data"][0]["owner"]["id"]
        token = listed.json()["data"][0]["access_token"]
        served = httpx.get(f"{origin}/v3.1/districts", headers={"Authorization": f"Bearer {token}"})
        one = httpx.get(f"{url}?owner_type=district&district={district_id}",
                        headers=basic("app-client", "app-secret"))  # fmt: skip
        other = httpx.get(f"{url}?owner_type=district&district={'0' * 24}",
                          headers=basic("app-client", "app-secret"))  # fmt: skip
        wrong = httpx.get(f"{url}?owner_type=district", headers=basic("app-client", "guess"))
        no_owner = httpx.get(url, headers=basic("app-client", "app-secret"))
    assert listed.status_code == 200
    assert listed.json()["data"][0]["owner"] == {"type": "district", "id": district_id}
    assert token == TOKEN
    assert served.status_code == 200
    assert served.json()["data"][0]["data"]["id"] == district_id
    assert one.json() == listed.json()
    assert other.json() == {"data": []}
    assert (wrong.status_code, wrong.json()) == (
        401,
        {"message": "invalid client_id or client_secret"},
    )
    assert no_owner.status_code == 400


def test_oauth_tokens_is_404_when_the_standin_has_no_app_client(two_nights, monkeypatch):
    monkeypatch.delenv("ROSTERLAB_STANDIN_CLIENT", raising=False)
    with standin(two_nights, DISTRICT) as origin:
        answer = httpx.get(f"{origin}/oauth/tokens?owner_type=district", headers=basic("a", "b"))
    assert answer.status_code == 404
    assert answer.json() == {"message": "no app client configured (--client-env)"}


# --- events turned off --------------------------------------------------------------------------


def test_events_turned_off_for_a_district_make_the_puller_say_so_and_pull_in_full(
    two_nights, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    pulls = tmp_path / "pulls.duckdb"
    with standin(two_nights, DISTRICT, "--no-events") as origin:
        config = configure(tmp_path, origin)
        refused = httpx.get(f"{origin}/v3.1/events", headers=AUTH)
        assert pull(pulls, config, "--progress") == 0
        first = capsys.readouterr().err
        assert pull(pulls, config, "--events", "--progress") == 0
        second = capsys.readouterr().err
    assert (refused.status_code, refused.json()) == (
        404,
        {"message": "events are not enabled for this district"},
    )
    assert "] events are not served (http://127.0.0.1:" in first
    assert (
        "/v3.1/events?limit=1&ending_before=ffffffffffffffffffffffff refused with HTTP 404 "
        "(events are not enabled for this district): events are opt-in per district: ask the "
        "district to turn them on): the next --events pull will be a full pull"
    ) in first
    assert "has no event cursor (events not served then): full pull" in second


# --- the keyring token path ---------------------------------------------------------------------


class FileKeyring(KeyringBackend):
    """A keyring backend keeping passwords in one file (as keyrings.alt's plaintext one does)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def _entries(self) -> dict[tuple[str, str], str]:
        if not self.path.exists():
            return {}
        lines = self.path.read_text().splitlines()
        return {(s, u): p for s, u, p in (line.split("\t") for line in lines)}

    def get_password(self, service: str, username: str) -> str | None:
        return self._entries().get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        entries = {**self._entries(), (service, username): password}
        self.path.write_text("".join(f"{s}\t{u}\t{p}\n" for (s, u), p in entries.items()))

    def delete_password(self, service: str, username: str) -> None:
        entries = self._entries()
        del entries[(service, username)]
        self.path.write_text("".join(f"{s}\t{u}\t{p}\n" for (s, u), p in entries.items()))


@pytest.fixture
def file_keyring(tmp_path: Path) -> Any:
    before = keyring.get_keyring()
    backend = FileKeyring(tmp_path / "keyring.tsv")
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(before)


def test_a_token_from_the_keyring_pulls_and_a_missing_one_is_one_line(
    two_nights, tmp_path, capsys, file_keyring
):
    pulls = tmp_path / "pulls.duckdb"
    with standin(two_nights, DISTRICT) as origin:
        config = tmp_path / "rosterlab.toml"
        config.write_text(f'[api.standin]\nbase_url = "{origin}"\nversion = "3.1"\n')
        missing = pull(pulls, config)
        said = capsys.readouterr().err
        file_keyring.set_password("rosterlab", "api.standin", TOKEN)
        found = pull(pulls, config, "--format", "json")
    assert missing == 2
    assert said == (
        "rosterlab: no token for [api.standin]: set token_env in rosterlab.toml or store it with "
        "`keyring set rosterlab api.standin`\n"
    )
    assert found == 0
    pulled = json.loads(capsys.readouterr().out)
    assert (pulled["snapshot"]["id"], pulled["outcome"], pulled["api"]["pages"]) == (
        1,
        "served",  # a pull is what Clever serves
        9,
    )


# --- a page over 10,000 -------------------------------------------------------------------------


def test_a_page_over_10000_is_refused_413_by_the_api_and_one_line_before_asking(
    two_nights, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    pulls = tmp_path / "pulls.duckdb"
    with standin(two_nights, DISTRICT) as origin:
        refused = httpx.get(f"{origin}/v3.1/users?limit=10001", headers=AUTH)
        code = pull(pulls, configure(tmp_path, origin, page_limit=10001))
    err = capsys.readouterr().err
    assert (refused.status_code, refused.json()) == (
        413,
        {"message": "limit must be at most 10000"},
    )
    assert code == 2
    assert err.endswith("page_limit must be a whole number from 1 to 10000\n")
    assert err.count("\n") == 1
    assert not pulls.exists()
