"""The Data API path: a real stand-in process on 127.0.0.1, ``api pull`` into one snapshot.

The district is tiny and every served field is filled, so the bundle → API → bundle round trip
shows exactly which fields the API loses (documented in docs/api.md) and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import polars as pl
import pytest

from rosterlab.api import pull_district, rederive
from rosterlab.api.schemas import ERROR, list_schema, one_schema
from rosterlab.api.target import ApiTarget
from rosterlab.bundle import open_bundle
from rosterlab.bundle.sniff import surplus_rows
from rosterlab.cli import main
from rosterlab.config import DistrictSettings
from rosterlab.spec.lines import LineBreaks
from rosterlab.store import Store, ingest_bundle
from rosterlab.store.api_pulls import pulls, served_of
from rosterlab.store.district_settings import record_district_settings
from rosterlab.store.outcomes import outcome_of
from rosterlab.store.staging import stage_snapshot
from tests.api_standin import TOKEN, TOKEN_ENV, free_port, standin
from tests.tiny import Night, write_night

DISTRICT = "maple"
STUDENT_HEADER = [
    "School_id", "Student_id", "Student_number", "State_id", "Last_name", "Middle_name",
    "First_name", "Grade", "Gender", "DOB", "Graduation_year", "Race", "Hispanic_Latino",
    "Home_language", "Ell_status", "Frl_status", "IEP_status", "Student_street", "Student_city",
    "Student_state", "Student_zip", "Student_email", "Username", "Password", "ext.house",
    "Contact_relationship", "Contact_type", "Contact_name", "Contact_phone",
    "Contact_phone_type", "Contact_email", "Contact_sis_id",
]  # fmt: skip
ADA = [
    "SCH-1", "S-001", "00123", "ST-1", "Lee", "Mae", "Ada", "3", "F", "03/07/2017", "2035", "W",
    "N", "Spanish", "Y", "F", "N", "1 Elm St", "Maple", "MA", "02134", "ada@maple.example",
    "ada.lee", "secret", "red",
]  # fmt: skip
EVERY_FIELD_NIGHT: Night = {
    "schools.csv": [
        ["School_id", "School_name", "School_number", "State_id", "Low_grade", "High_grade",
         "Principal", "Principal_email", "School_address", "School_city", "School_state",
         "School_zip", "School_phone", "ext.region"],
        ["SCH-1", "Maple Elementary", "101", "MA-101", "Kindergarten", "5", "Ann Oak",
         "ann@maple.example", "1 School Rd", "Maple", "MA", "02134", "617-555-0101", "north"],
        ["SCH-2", "Maple High", "102", "MA-102", "9", "12", "Bo Ash", "bo@maple.example",
         "2 School Rd", "Maple", "MA", "02135", "617-555-0102", ""],
    ],
    "students.csv": [
        STUDENT_HEADER,
        [*ADA, "Parent", "Primary", "Pat Lee", "617-555-0199", "Cell", "pat@home.example", "C-1"],
        [*ADA, "Grandparent", "Emergency", "Sam Lee", "617-555-0198", "Home", "", ""],
        ["SCH-2", "S-002", "00456", "ST-2", "Diaz", "", "Bo", "10", "M", "11/23/2010", "2028",
         "M", "Y", "English", "N", "R", "Y", "", "", "", "02135", "", "bo.diaz", "", "blue",
         "", "", "", "", "", "", ""],
        ["SCH-2", "S-003", "00789", "ST-3", "Okafor", "", "Cy", "11", "X", "01/02/2009", "2027",
         "B", "N", "", "N", "N", "N", "", "", "", "", "", "", "", "", "Parent",
         "Parent/Guardian", "Ngozi Okafor", "", "", "", "C-3"],
    ],
    "teachers.csv": [
        ["School_id", "Teacher_id", "Teacher_number", "State_teacher_id", "Last_name",
         "Middle_name", "First_name", "Teacher_email", "Title", "Username", "Password"],
        ["SCH-1", "T-1", "9001", "MT-1", "Park", "", "Jo", "jo@maple.example", "Ms", "jo.park",
         "pw"],
        ["SCH-2", "T-2", "9002", "MT-2", "Nowak", "K", "Ola", "ola@maple.example", "Dr",
         "ola.nowak", ""],
        ["SCH-1", "T-2", "9002", "MT-2", "Nowak", "K", "Ola", "ola@maple.example", "Dr",
         "ola.nowak", ""],
    ],
    "sections.csv": [
        ["School_id", "Section_id", "Teacher_id", "Teacher_2_id", "Name", "Section_number",
         "Grade", "Course_name", "Course_number", "Course_description", "Period", "Subject",
         "Term_name", "Term_start", "Term_end", "ext.room"],
        ["SCH-1", "SEC-1", "T-1", "T-2", "Reading 3", "3A", "3", "Reading", "R3", "Reading.",
         "1", "english/language arts", "Fall", "08/25/2026", "12/18/2026", "101"],
        ["SCH-2", "SEC-2", "T-2", "", "Algebra I", "9B", "10", "Algebra", "M9", "", "2",
         "math", "Fall", "08/25/2026", "12/18/2026", ""],
    ],
    "enrollments.csv": [
        ["School_id", "Section_id", "Student_id"],
        ["SCH-1", "SEC-1", "S-001"],
        ["SCH-2", "SEC-2", "S-002"],
        ["SCH-2", "SEC-2", "S-003"],
    ],
    "staff.csv": [
        ["School_id", "Staff_id", "Staff_email", "First_name", "Last_name", "Department",
         "Title", "Username", "Password", "Role"],
        ["SCH-1", "F-1", "fay@maple.example", "Fay", "Lin", "IT", "Tech", "fay.lin", "pw",
         "School Tech Lead"],
        ["SCH-2", "F-1", "fay@maple.example", "Fay", "Lin", "IT", "Tech", "fay.lin", "pw",
         "School Tech Lead"],
    ],
}  # fmt: skip
# What the Data API never serves (docs/api.md, "lossy fields"): passwords, GPAs and course
# descriptions. Every other column comes back equal.
LOSSY = {
    "students": {"Password", "Unweighted_gpa", "Weighted_gpa"},
    "teachers": {"Password"},
    "staff": {"Password"},
    "sections": {"Course_description"},
}
ENTITIES = ("schools", "students", "contacts", "teachers", "sections", "enrollments", "staff")


@pytest.fixture
def uploaded(tmp_path: Path) -> Path:
    """A store holding one upload of the every-field district."""
    store = tmp_path / "rosterlab.duckdb"
    with Store.open(store) as s, open_bundle(write_night(tmp_path / "n1", EVERY_FIELD_NIGHT)) as b:
        ingest_bundle(s, b, district=DISTRICT)
    return store


def configure(
    tmp_path: Path, origin: str, version: str = "3.1", page_limit: int = 10000, timeout: float = 30
) -> Path:
    config = tmp_path / "rosterlab.toml"
    config.write_text(
        f'[api.standin]\nbase_url = "{origin}"\nversion = "{version}"\n'
        f'token_env = "{TOKEN_ENV}"\nbackoff = 0.01\nretries = 3\npage_limit = {page_limit}\n'
        f"timeout = {timeout}\n"
    )
    return config


def pull(store: Path, config: Path, *extra: str) -> int:
    return main(
        ["--store", str(store), "--config", str(config), "api", "pull", "--target", "standin",
         "--district", DISTRICT, *extra]
    )  # fmt: skip


def rows(store: Store, snapshot_id: int, entity: str) -> list[dict[str, Any]]:
    frame = store.entity_frame(snapshot_id, entity)
    return frame.drop(["district", "row_hash", "valid_from", "valid_to"]).to_dicts()


def without(records: list[dict[str, Any]], columns: set[str]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in columns} for r in records]


def assert_round_trip(
    store: Store, upload_id: int, served_id: int, entities: tuple[str, ...] = ENTITIES
) -> None:
    """The served snapshot reads back as the upload, but for the documented lossy columns."""
    for entity in entities:
        lossy = LOSSY.get(entity, set())
        assert without(rows(store, served_id, entity), lossy) == without(
            rows(store, upload_id, entity), lossy
        ), entity


def get(origin: str, uri: str, token: str = TOKEN) -> httpx.Response:
    return httpx.get(origin + uri, headers={"Authorization": f"Bearer {token}"}, timeout=10)


# --- the stand-in ----------------------------------------------------------------------------


def test_every_body_the_standin_serves_matches_the_schemas_written_from_clevers_swagger(uploaded):
    with standin(uploaded, DISTRICT) as origin:
        for version in ("3.0", "3.1"):
            for resource, query in [
                ("districts", ""),
                ("schools", ""),
                ("terms", ""),
                ("courses", ""),
                ("sections", ""),
                *(("users", f"role={r}&") for r in ("student", "teacher", "staff", "contact")),
            ]:
                page = get(origin, f"/v{version}/{resource}?{query}limit=1")
                assert page.status_code == 200
                assert page.headers["Content-Type"] == "application/json; charset=utf-8"
                body = page.json()
                jsonschema.validate(body, list_schema(resource, version))
                assert len(body["data"]) == 1
                one = get(origin, f"/v{version}/{resource}/{body['data'][0]['data']['id']}")
                jsonschema.validate(one.json(), one_schema(resource, version))
        refused = get(origin, "/v3.1/users?limit=10001")
        assert refused.status_code == 413
        jsonschema.validate(refused.json(), ERROR)
        assert get(origin, "/v3.1/schools", token="wrong").status_code == 401


def test_v30_serves_no_31_only_student_fields_and_a_schema_that_would_catch_them(uploaded):
    with standin(uploaded, DISTRICT) as origin:
        v30 = get(origin, "/v3.0/users?role=student").json()
        v31 = get(origin, "/v3.1/users?role=student").json()
    student_30 = v30["data"][0]["data"]["roles"]["student"]
    student_31 = v31["data"][0]["data"]["roles"]["student"]
    assert set(student_31) - set(student_30) == {"frl_status", "iep_status", "home_language"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(v31, list_schema("users", "3.0"))


def test_paging_follows_next_links_in_ascending_id_order_without_repeats(uploaded):
    with standin(uploaded, DISTRICT) as origin:
        uri: str | None = "/v3.1/users?role=student&limit=1"
        ids = []
        while uri:
            body = get(origin, uri).json()
            ids += [item["data"]["id"] for item in body["data"]]
            uri = next((link["uri"] for link in body["links"] if link["rel"] == "next"), None)
        everyone = get(origin, "/v3.1/users?role=student").json()
        before_last = get(origin, f"/v3.1/users?role=student&ending_before={ids[-1]}").json()
    assert len(ids) == 3 and ids == sorted(ids) and len(set(ids)) == 3
    assert [item["data"]["id"] for item in everyone["data"]] == ids
    assert [item["data"]["id"] for item in before_last["data"]] == ids[:2]
    assert [link["rel"] for link in everyone["links"]] == ["self"]


def test_over_the_rate_limit_the_standin_answers_429_with_the_window_reset(uploaded):
    with standin(uploaded, DISTRICT, "--rate-limit", "2", "--rate-window", "30") as origin:
        answers = [get(origin, "/v3.1/schools") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    reset = int(answers[2].headers["X-RateLimit-Reset"])
    assert time.time() < reset <= time.time() + 30
    assert reset % 30 == 0


# --- api pull: the round trip ------------------------------------------------------------------


def test_a_bundle_comes_back_through_the_api_equal_except_the_documented_lossy_fields(
    uploaded, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with standin(uploaded, DISTRICT) as origin:
        assert pull(uploaded, configure(tmp_path, origin)) == 0
    out = capsys.readouterr().out
    assert "served: districts 1 · schools 2 · terms 1 · courses 2 · sections 2 · " in out
    assert "users-student 3 · users-teacher 2 · users-staff 1 · users-contact 3" in out
    with Store.open(uploaded, read_only=True) as store:
        upload, served = store.snapshots(DISTRICT)
        assert (upload.origin, served.origin) == ("upload", "api")
        assert_round_trip(store, upload.id, served.id)
        assert {r["Password"] for r in rows(store, served.id, "students")} == {None}
        (recorded,) = pulls(store, DISTRICT)
        assert (recorded.snapshot_id, recorded.version, recorded.district_state) == (
            served.id,
            "3.1",
            "success",
        )
        assert (recorded.sis_type, recorded.last_sync) == ("sftp", "2026-09-01T02:00:00.000Z")
        assert recorded.pages == 9 and recorded.requests == 10 and recorded.rate_limit_waits == 0
        clever_ids = store.rows(
            "SELECT entity, count(*) FROM api_ids_of(?) GROUP BY ALL ORDER BY 1",
            [served.id],
        )
        assert clever_ids == [
            ("schools", 2), ("sections", 2), ("staff", 1), ("students", 3), ("teachers", 2)
        ]  # fmt: skip


def test_an_api_snapshot_is_re_derived_byte_for_byte_from_its_kept_pages(
    uploaded, tmp_path, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with standin(uploaded, DISTRICT) as origin:
        assert pull(uploaded, configure(tmp_path, origin)) == 0
    with Store.open(uploaded) as store:
        served = store.snapshots(DISTRICT)[-1]
        written = rederive(store, served.id, tmp_path / "again")
        files = store.snapshot_files(served.id).select("name", "sha256", "rows").to_dicts()
    assert written == {f["name"]: f["rows"] for f in files}
    for f in files:
        data = (tmp_path / "again" / f["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"], f["name"]


def test_a_v30_pull_has_no_frl_iep_or_home_language_column(uploaded, tmp_path, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with standin(uploaded, DISTRICT) as origin:
        assert pull(uploaded, configure(tmp_path, origin, version="3.0")) == 0
    with Store.open(uploaded, read_only=True) as store:
        served = store.snapshots(DISTRICT)[-1]
        header = store.snapshot_files(served.id).filter(name="students.csv")["header"][0]
        students = rows(store, served.id, "students")
    assert not {"Frl_status", "IEP_status", "Home_language"} & set(header)
    assert {s["Frl_status"] for s in students} == {None}
    assert {s["Race"] for s in students} == {"W", "M", "B"}


def test_clever_normalises_values_and_the_mapping_says_how(tmp_path, monkeypatch):
    """DOB without leading zeros comes back padded; frl Free reads back F; off-vocabulary drops."""
    night = json.loads(json.dumps(EVERY_FIELD_NIGHT))
    ada = night["students.csv"][1]
    ada[STUDENT_HEADER.index("DOB")] = "3/7/2017"
    ada[STUDENT_HEADER.index("Frl_status")] = "Free"
    ada[STUDENT_HEADER.index("Race")] = "Z"
    ada[STUDENT_HEADER.index("Grade")] = "K"
    night["students.csv"][2] = list(ada[:25]) + night["students.csv"][2][25:]
    store_path = tmp_path / "s.duckdb"
    with Store.open(store_path) as s, open_bundle(write_night(tmp_path / "n1", night)) as b:
        ingest_bundle(s, b, district=DISTRICT)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with standin(store_path, DISTRICT) as origin:
        assert pull(store_path, configure(tmp_path, origin)) == 0
    with Store.open(store_path, read_only=True) as store:
        served = store.snapshots(DISTRICT)[-1]
        (ada_served,) = [r for r in rows(store, served.id, "students") if r["key"] == "S-001"]
    assert (ada_served["DOB"], ada_served["Frl_status"]) == ("03/07/2017", "F")
    assert (ada_served["Race"], ada_served["Grade"]) == (None, None)


# --- faults: a clear one-line error (exit 2) or a correct snapshot; the store as it was -------


def snapshot_state(store_path: Path) -> list[tuple[Any, ...]]:
    with Store.open(store_path, read_only=True) as store:
        return store.rows(
            "SELECT id, origin, bundle_sha256 FROM snapshots ORDER BY id"
        ) + store.rows("SELECT count(*) FROM api_pulls")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--fault", "html@3"), "answered text/html, not JSON: the token may be of the wrong kind"),
        (("--fault", "503@2+"), "HTTP 503 on /v3.1/districts?limit=10000, 4 times"),
        (("--fault", "drop@2+"), "connection lost (RemoteProtocolError) on /v3.1/districts"),
        (("--fault", "malformed@2+"), "malformed JSON ("),
        (("--max-limit", "100"), "refused with HTTP 413 (limit must be at most 100)"),
    ],
    ids=["html-body", "503-storm", "dropped-connection", "malformed-json", "413"],
)
def test_a_fault_that_does_not_pass_is_one_line_exit_2_and_the_store_is_as_it_was(
    uploaded, tmp_path, capsys, monkeypatch, options, message
):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    before = snapshot_state(uploaded)
    with standin(uploaded, DISTRICT, *options) as origin:
        assert pull(uploaded, configure(tmp_path, origin)) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert snapshot_state(uploaded) == before


def test_a_wrong_token_is_refused_with_401_and_says_where_the_token_comes_from(
    uploaded, tmp_path, capsys, monkeypatch
):
    before = snapshot_state(uploaded)
    with standin(uploaded, DISTRICT) as origin:
        monkeypatch.setenv(TOKEN_ENV, "not-the-token")
        assert pull(uploaded, configure(tmp_path, origin)) == 2
    err = capsys.readouterr().err
    assert err == (
        f"rosterlab: {origin}/v3.1/events?limit=1&ending_before={'f' * 24} refused with HTTP "
        "401 (invalid or "
        f"missing bearer token): check the district-app token in token_env {TOKEN_ENV}\n"
    )
    assert snapshot_state(uploaded) == before


def test_nothing_listening_at_base_url_names_the_target_to_check(
    uploaded, tmp_path, capsys, monkeypatch
):
    """A wrong port (or a stand-in not started) is refused at every try: the one line names the
    setting to check rather than blaming Clever's API alone."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    before = snapshot_state(uploaded)
    origin = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    assert pull(uploaded, configure(tmp_path, origin)) == 2
    assert capsys.readouterr().err == (
        f"rosterlab: cannot connect to {origin} on /v3.1/events?limit=1&ending_before={'f' * 24}"
        ", 4 times: nothing answers there: check base_url of [api.standin] (a stand-in must be "
        "running) or retry later (the pull resumes where it stopped)\n"
    )
    assert snapshot_state(uploaded) == before


def test_a_mistyped_district_is_refused_when_the_token_s_district_was_pulled_as_another(
    uploaded, tmp_path, capsys, monkeypatch
):
    """The token decides which district the API serves; --district only names it in the store.
    A typo must not start a second history of a district already pulled under its own name."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with standin(uploaded, DISTRICT) as origin:
        config = configure(tmp_path, origin)
        capsys.readouterr()
        assert pull(uploaded, config, "--format", "json") == 0
        clever_id = json.loads(capsys.readouterr().out)["api"]["district"]["clever_id"]
        before = snapshot_state(uploaded)
        assert main(
            ["--store", str(uploaded), "--config", str(config), "api", "pull", "--target",
             "standin", "--district", "mapel"]
        ) == 2  # fmt: skip
        err = capsys.readouterr().err
        assert pull(uploaded, config) == 0  # under its own name it pulls as before
    assert err == (
        f"rosterlab: [api.standin] serves Clever district {clever_id} ({DISTRICT}), which this "
        f"store pulled as district {DISTRICT}, not mapel: run api pull --district {DISTRICT} "
        "(the token decides which district is served)\n"
    )
    assert snapshot_state(uploaded) == before
    assert not (tmp_path / ".rosterlab.duckdb.api-pulls" / "mapel.standin").exists()


@pytest.mark.parametrize(
    "fault", ["503@2", "drop@3", "malformed@4", "429@2"], ids=lambda f: f.split("@")[0]
)
def test_a_passing_fault_is_retried_into_a_correct_snapshot(
    uploaded, tmp_path, capsys, monkeypatch, fault
):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with standin(uploaded, DISTRICT, "--fault", fault) as origin:
        assert pull(uploaded, configure(tmp_path, origin), "--format", "json") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["api"]["pages"] == 9 and result["api"]["requests"] == 11
    with Store.open(uploaded, read_only=True) as store:
        upload, served = store.snapshots(DISTRICT)
        assert_round_trip(store, upload.id, served.id)


def test_a_429_storm_waits_for_each_reset_and_still_makes_one_correct_snapshot(
    uploaded, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with standin(uploaded, DISTRICT, "--rate-limit", "4", "--rate-window", "1") as origin:
        assert pull(uploaded, configure(tmp_path, origin), "--progress", "--format", "json") == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["api"]["rate_limit_waits"] >= 1
    assert result["api"]["requests"] == 10 + result["api"]["rate_limit_waits"]
    assert "rate limited (429): waiting" in captured.err
    assert result["api"]["scope"]["users-contact"] == 3


def test_a_pull_after_one_that_kept_no_page_does_not_say_resumed(
    uploaded, tmp_path, capsys, monkeypatch
):
    """The first attempt gets the cursor, then every page is refused: nothing to resume."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    port = free_port()
    with standin(uploaded, DISTRICT, "--fault", "503@2+", port=port) as origin:
        assert pull(uploaded, configure(tmp_path, origin)) == 2
    capsys.readouterr()
    with standin(uploaded, DISTRICT, port=port) as origin:
        assert pull(uploaded, configure(tmp_path, origin), "--progress", "--format", "json") == 0
    captured = capsys.readouterr()
    assert "resuming" not in captured.err
    result = json.loads(captured.out)
    assert (result["api"]["resumed"], result["api"]["pages"]) == (False, 9)


def test_a_broken_pull_resumes_where_it_stopped(uploaded, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    port = free_port()
    with standin(uploaded, DISTRICT, "--fault", "503@6+", port=port) as origin:
        assert pull(uploaded, configure(tmp_path, origin)) == 2
    capsys.readouterr()
    # the served rows the loader wrote for the 4 pages went with the pull's transaction
    assert served_rows(uploaded) == []
    with standin(uploaded, DISTRICT, port=port) as origin:
        assert pull(uploaded, configure(tmp_path, origin), "--progress", "--format", "json") == 0
    captured = capsys.readouterr()
    assert "resuming the pull started at" in captured.err
    assert "(4 pages kept)" in captured.err
    result = json.loads(captured.out)
    assert result["api"]["resumed"] is True
    assert result["api"]["pages"] == 9
    # the cursor and 4 pages, 4 refused (3 retries), then the 5 pages left
    assert result["api"]["requests"] == 5 + 4 + 5
    assert not (uploaded.parent / f".{uploaded.name}.api-pulls" / f"{DISTRICT}.standin").exists()
    # the pages kept by the broken run count as much as the ones fetched after it
    unbroken = tmp_path / "unbroken.duckdb"
    with standin(uploaded, DISTRICT, "--snapshot", "1") as origin:
        assert pull(unbroken, configure(tmp_path, origin)) == 0
    assert bundle_sha256(uploaded) == bundle_sha256(unbroken)
    # the served state kept is the district's alone (no pending rows), as the unbroken pull's
    kept = served_rows(uploaded)
    assert {row[0] for row in kept} == {DISTRICT} and len(kept) == 17
    assert kept == served_rows(unbroken)


def test_a_full_pull_of_an_unchanged_night_keeps_the_served_state_it_had(
    uploaded, tmp_path, monkeypatch
):
    """The second pull's objects were written as pending served rows while it loaded them;
    its snapshot is not new, so they are dropped and the first pull's state stays named."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    pulls = tmp_path / "pulls.duckdb"
    with standin(uploaded, DISTRICT) as origin:
        assert pull(pulls, configure(tmp_path, origin)) == 0
        kept = served_rows(pulls)
        assert pull(pulls, configure(tmp_path, origin)) == 0
    with Store.open(pulls, read_only=True) as store:
        (snapshot,) = store.snapshots(DISTRICT)
        assert served_of(store, DISTRICT) == snapshot.id
    assert served_rows(pulls) == kept and {row[0] for row in kept} == {DISTRICT}


def served_rows(store_path: Path) -> list[tuple[Any, ...]]:
    """The kept served state of every district: district, step, id, the JSON's md5, ``v``."""
    with Store.open(store_path, read_only=True) as store:
        return store.rows(
            "SELECT district, step, id, md5(j::VARCHAR), v FROM api_served ORDER BY ALL"
        )


def bundle_sha256(store_path: Path) -> str:
    """The bundle sha256 of the store's newest snapshot of the district."""
    with Store.open(store_path, read_only=True) as store:
        return store.snapshots(DISTRICT)[-1].bundle_sha256


def test_a_student_created_between_two_pages_is_pulled_once_and_none_is_skipped(
    uploaded, tmp_path, capsys, monkeypatch
):
    """One record per page; the stand-in creates S-NEW-11 after the first page of students."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    # requests: 1 cursor, 2 districts, 3-4 schools, 5 terms, 6-7 courses, 8-9 sections,
    # 10 the first page of students, 11 the second (S-NEW-11 is created just before it)
    with standin(uploaded, DISTRICT, "--fault", "create@11") as origin:
        config = configure(tmp_path, origin, page_limit=1)
        assert pull(uploaded, config, "--format", "json") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["api"]["scope"]["users-student"] == 4
    with Store.open(uploaded, read_only=True) as store:
        served = store.snapshots(DISTRICT)[-1]
        keys = [r["key"] for r in rows(store, served.id, "students")]
        duplicates = store.rows("SELECT count(*) FROM duplicate_versions WHERE snapshot_id = ?",
                                [served.id])  # fmt: skip
    assert keys == ["S-001", "S-002", "S-003", "S-NEW-11"]
    assert duplicates == [(0,)]


def test_ids_and_values_with_odd_characters_survive_the_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    night = json.loads(json.dumps(EVERY_FIELD_NIGHT))
    odd = 'S-ö "7",x/y\u00a0'
    night = json.loads(json.dumps(night).replace('"S-003"', json.dumps(odd)))
    night["students.csv"][0][24] = 'ext.house "name", é'
    store_path = tmp_path / "s.duckdb"
    with Store.open(store_path) as s, open_bundle(write_night(tmp_path / "n1", night)) as b:
        ingest_bundle(s, b, district=DISTRICT)
    with standin(store_path, DISTRICT) as origin:
        assert pull(store_path, configure(tmp_path, origin)) == 0
    with Store.open(store_path, read_only=True) as store:
        upload, served = store.snapshots(DISTRICT)
        assert_round_trip(store, upload.id, served.id, ("students", "contacts", "enrollments"))
        keys = [r["key"] for r in rows(store, served.id, "students")]
    assert odd in keys


def staged(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    return {
        name: store.rows(f"SELECT * FROM {view.view} ORDER BY _row")
        for name, view in stage_snapshot(store, store.snapshots(DISTRICT)[-1].id).items()
    }


def test_a_pull_stages_its_files_from_the_mapped_tables_exactly_as_parsing_them_would(
    tmp_path, monkeypatch
):
    # Values the CSV round trip must carry: quotes, commas, a line break inside a value, a
    # leading '#', and blanks the API serves as ''.
    night = json.loads(json.dumps(EVERY_FIELD_NIGHT))
    for ada in night["students.csv"][1:3]:  # Ada's two contact rows
        ada[STUDENT_HEADER.index("Last_name")] = 'O"Brien, Jr\nthe second'
        ada[STUDENT_HEADER.index("Middle_name")] = "#1"
        ada[STUDENT_HEADER.index("Student_street")] = " "
    store_path = tmp_path / "s.duckdb"
    with Store.open(store_path) as s, open_bundle(write_night(tmp_path / "n1", night)) as b:
        ingest_bundle(s, b, district=DISTRICT)
    said: list[str] = []
    with standin(store_path, DISTRICT) as origin, Store.open(store_path) as store:
        target = ApiTarget("standin", origin, "3.1", TOKEN_ENV)
        result = pull_district(store, target, TOKEN, district=DISTRICT, progress=said.append)
        from_tables = staged(store)
        store.staged_snapshot = None  # parse the kept files again
        from_files = staged(store)
        # Ada's rows show on two lines each: the breaks kept equal a count over the kept file.
        served = store.snapshots(DISTRICT)[-1]
        kept = store.snapshot_files(served.id).filter(pl.col("name") == "students.csv")
        (tmp_path / "served.csv").write_bytes(store.raw_bytes(kept["sha256"][0]))
        counted: dict[int, int] = {}
        surplus_rows(tmp_path / "served.csv", "LF", len(STUDENT_HEADER), breaks=counted)
        kept_breaks = store.line_breaks(served.id)
    assert [m for m in said if m.startswith("parsing ")] == []
    assert result.rows == {name: len(rows) for name, rows in from_files.items()}
    assert from_tables == from_files
    ada_served = {r[5:7] + r[18:19] for r in from_files["students.csv"] if r[2] == "S-001"}
    assert ada_served == {('O"Brien, Jr\nthe second', "#1", " ")}
    assert sorted(counted.values()) == [1, 1]
    assert kept_breaks == {"students.csv": LineBreaks.of(counted.items())}


def test_a_token_in_rosterlab_toml_is_refused_and_a_missing_variable_named(
    tmp_path, capsys, monkeypatch
):
    config = tmp_path / "rosterlab.toml"
    config.write_text('[api.standin]\nbase_url = "https://api.clever.com"\ntoken = "abc"\n')
    assert pull(tmp_path / "s.duckdb", config) == 2
    assert capsys.readouterr().err == (
        "rosterlab: [api.standin]: token must not be written in rosterlab.toml: remove it and "
        'set token_env = "VARIABLE" naming an environment variable that holds the token\n'
    )
    monkeypatch.delenv("OAK_TOKEN", raising=False)
    config.write_text('[api.standin]\nbase_url = "http://api.example"\ntoken_env = "OAK_TOKEN"\n')
    assert pull(tmp_path / "s.duckdb", config) == 2
    assert "would send the token unencrypted: use https" in capsys.readouterr().err
    config.write_text('[api.standin]\nbase_url = "https://api.example"\ntoken_env = "OAK_TOKEN"\n')
    assert pull(tmp_path / "s.duckdb", config) == 2
    assert capsys.readouterr().err == (
        "rosterlab: environment variable OAK_TOKEN (token_env of [api.standin]) is not set: "
        "export the district-app token in it before running\n"
    )
    assert not (tmp_path / "s.duckdb").exists()


def test_an_unwritable_work_folder_is_one_line_and_the_store_is_as_it_was(
    uploaded, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    before = snapshot_state(uploaded)
    (uploaded.parent / f".{uploaded.name}.api-pulls").write_text("a file in the way")
    assert pull(uploaded, configure(tmp_path, "http://127.0.0.1:9")) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rosterlab: cannot write {uploaded.parent}/.{uploaded.name}.api-pulls/")
    assert err.endswith("make that folder writable\n") and err.count("\n") == 1
    assert snapshot_state(uploaded) == before


def test_serve_says_what_to_do_when_its_port_is_taken_or_its_token_unset(
    uploaded, capsys, monkeypatch
):
    serve = ["--store", str(uploaded), "api", "serve", "--district", DISTRICT]
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    assert main([*serve, "--port", "0"]) == 2
    assert capsys.readouterr().err == (
        f"rosterlab: environment variable {TOKEN_ENV} is not set: export the token the "
        "stand-in should accept (any string) before running\n"
    )
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main([*serve, "--port", str(port)]) == 2
    assert capsys.readouterr().err == (
        f"rosterlab: cannot listen on 127.0.0.1:{port} (Address already in use): "
        "pick another --port\n"
    )
    assert main([*serve, "--fault", "explode@1"]) == 2
    assert "fault 'explode@1' must look like KIND@N" in capsys.readouterr().err


def test_a_page_slower_than_the_timeout_is_retried(uploaded, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with standin(uploaded, DISTRICT, "--fault", "slow@3") as origin:  # 0.5 s on schools
        config = configure(tmp_path, origin, timeout=0.25)
        assert pull(uploaded, config, "--format", "json", "--progress") == 0
    captured = capsys.readouterr()
    assert "timed out on /v3.1/schools?limit=10000: retry 1 in 0.0s" in captured.err
    assert json.loads(captured.out)["api"]["requests"] == 11


def test_api_pull_checks_with_the_district_toml_recorded_for_the_district(
    uploaded, tmp_path, monkeypatch
):
    """One settings source: a district.toml kept at ingest (5 % deletions) reaches api pull."""
    with Store.open(uploaded) as store:
        record_district_settings(
            store, DistrictSettings(district=DISTRICT, hold_deletion_threshold=0.05)
        )
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with standin(uploaded, DISTRICT) as origin:
        assert pull(uploaded, configure(tmp_path, origin)) == 0
    with Store.open(uploaded, read_only=True) as store:
        served = store.snapshots(DISTRICT)[-1]
        assert served.origin == "api"
        assert dict(outcome_of(store, served.id).settings)["hold_deletion_threshold"] == 0.05
