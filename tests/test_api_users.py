"""Merged users: a teacher who is also a staff member (the same email) is ONE Clever user.

Clever's v3 FAQ: any user in teachers.csv gets a teacher account; "if this same user is listed in
the staff.csv file with the same email address", the staff account goes on the same user id.
The stand-in (a real process) serves such a person once, with both roles; a pull maps the user
back to its teachers.csv rows AND its staff.csv rows; events of the merge and of one role apply.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema

from rosterlab.api.schemas import one_schema
from rosterlab.store import Store
from tests.api_standin import TOKEN, TOKEN_ENV, standin
from tests.test_api import (
    DISTRICT,
    EVERY_FIELD_NIGHT,
    assert_round_trip,
    configure,
    get,
    pull,
    rows,
)
from tests.test_api_events import ingest, pulled
from tests.test_reconcile import PASSWORDS, found, reconciled
from tests.tiny import Night

NOW = datetime.now(UTC).replace(microsecond=0)
STAFF_HEADER = EVERY_FIELD_NIGHT["staff.csv"][0]
# Jo Park teaches at SCH-1 (T-1, jo@maple.example) and coaches there as staff member F-2.
JO_STAFF = ["SCH-1", "F-2", "jo@maple.example", "Jo", "Park", "Math", "Coach", "jo.coach", "",
            "School Tech Lead"]  # fmt: skip


def jo_is_also_staff(email: str = "jo@maple.example", department: str = "Math") -> Night:
    night = copy.deepcopy(EVERY_FIELD_NIGHT)
    staff = list(JO_STAFF)
    staff[STAFF_HEADER.index("Staff_email")] = email
    staff[STAFF_HEADER.index("Department")] = department
    night["staff.csv"].append(staff)
    return night


def users(origin: str, role: str | None = None) -> list[dict[str, Any]]:
    query = f"?role={role}" if role else ""
    return [item["data"] for item in get(origin, f"/v3.1/users{query}").json()["data"]]


def test_a_teacher_who_is_also_staff_is_served_as_one_user_with_both_roles(tmp_path):
    store = tmp_path / "s.duckdb"
    ingest(store, tmp_path / "n1", jo_is_also_staff(), NOW - timedelta(days=1))
    with standin(store, DISTRICT) as origin:
        teachers, staff, everyone = users(origin, "teacher"), users(origin, "staff"), users(origin)
        (jo,) = [u for u in teachers if u["email"] == "jo@maple.example"]
        one = get(origin, f"/v3.1/users/{jo['id']}").json()
    assert sorted(jo["roles"]) == ["staff", "teacher"]
    assert jo["roles"]["teacher"]["sis_id"] == "T-1"
    assert jo["roles"]["staff"] == {
        "staff_id": "F-2", "department": "Math", "title": "Coach", "roles": ["School Tech Lead"],
        "schools": [jo["roles"]["teacher"]["school"]],
        "credentials": {"district_username": "jo.coach"}, "ext": {},
    }  # fmt: skip
    assert jo["name"] == {"first": "Jo", "middle": None, "last": "Park"}
    assert one == {"data": jo}
    jsonschema.validate(one, one_schema("users", "3.1"))
    # Listed under each of its roles, and once among all users.
    assert sorted(u["roles"]["staff"]["staff_id"] for u in staff) == ["F-1", "F-2"]
    assert jo in staff
    assert [u["id"] for u in staff] == sorted(u["id"] for u in staff)
    assert [u["id"] for u in everyone].count(jo["id"]) == 1
    assert len(everyone) == 3 + 2 + 1 + 3  # students, teachers, Fay (staff only), contacts


def test_an_email_two_staff_members_share_merges_nobody(tmp_path):
    night = jo_is_also_staff()
    fay = list(night["staff.csv"][1])
    fay[STAFF_HEADER.index("Staff_id")] = "F-3"
    fay[STAFF_HEADER.index("Staff_email")] = "jo@maple.example"
    night["staff.csv"].append(fay)
    store = tmp_path / "s.duckdb"
    ingest(store, tmp_path / "n1", night, NOW - timedelta(days=1))
    with standin(store, DISTRICT) as origin:
        everyone = users(origin)
    assert sorted(sorted(u["roles"]) for u in everyone if u["email"] == "jo@maple.example") == [
        ["staff"],
        ["staff"],
        ["teacher"],
    ]


def test_a_merged_user_comes_back_as_its_teacher_rows_and_its_staff_rows(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    store = tmp_path / "s.duckdb"
    ingest(store, tmp_path / "n1", jo_is_also_staff(), NOW - timedelta(days=1))
    with standin(store, DISTRICT) as origin:
        assert pull(store, configure(tmp_path, origin)) == 0
    assert "users-teacher 2 · users-staff 2 · users-contact 3" in capsys.readouterr().out
    with Store.open(store, read_only=True) as s:
        upload, served = s.snapshots(DISTRICT)
        assert_round_trip(s, upload.id, served.id)
        ids = dict(
            s.rows(
                "SELECT entity || ' ' || sis_id, clever_id FROM api_ids_of(?) "
                "WHERE sis_id IN ('T-1', 'F-2')",
                [served.id],
            )
        )
    assert ids["teachers T-1"] == ids["staff F-2"]
    result = reconciled(store, capsys)
    assert found(result) == PASSWORDS  # Jo's staff row has no password
    assert result["unexplained"] == 0
    matched = {e["entity"]: (e["uploaded"], e["served"], e["matched"]) for e in result["entities"]}
    assert (matched["teachers"], matched["staff"]) == ((3, 3, 3), (3, 3, 3))


def test_events_of_a_merge_and_of_one_role_apply_like_a_full_pull(tmp_path, capsys, monkeypatch):
    """Night 1: Jo's new staff record has another email (two users). Night 2: the same email (one
    user: the other is deleted). Night 3: only the staff role changes (its department)."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    uploads, pulls = tmp_path / "uploads.duckdb", tmp_path / "pulls.duckdb"
    nights = [
        jo_is_also_staff(email="coach@maple.example"),
        jo_is_also_staff(),
        jo_is_also_staff(department="Science"),
    ]
    ingest(uploads, tmp_path / "n0", EVERY_FIELD_NIGHT, NOW - timedelta(days=4))  # Jo teaches
    ingest(uploads, tmp_path / "n1", nights[0], NOW - timedelta(days=3))
    with standin(uploads, DISTRICT) as origin:
        pulled(pulls, configure(tmp_path, origin), capsys)
        apart = {
            str(u["roles"].get("teacher", u["roles"].get("staff"))): u["id"] for u in users(origin)
        }
    apart = {sis: cid for role, cid in apart.items() for sis in ("T-1", "F-2") if sis in role}
    merged_id = min(apart["T-1"], apart["F-2"])
    gone_id = max(apart["T-1"], apart["F-2"])
    for number, night in enumerate(nights[1:], start=2):
        ingest(uploads, tmp_path / f"n{number}", night, NOW - timedelta(days=4 - number))
        with standin(uploads, DISTRICT) as origin:
            events = [item["data"] for item in get(origin, "/v3.1/events?limit=100").json()["data"]]
            config = configure(tmp_path, origin)
            applied = pulled(pulls, config, capsys, "--events")
            again = pulled(pulls, config, capsys)  # a full pull of the same night
        assert applied["api"]["events_applied_to"] is not None
        assert applied["snapshot"]["new"] is True and again["snapshot"]["new"] is False
        assert again["snapshot"]["bundle_sha256"] == applied["snapshot"]["bundle_sha256"]
        last = [e for e in events if e["created"] == events[-1]["created"]]
        tonight = [
            (e["type"], e["data"]["object"]["id"]) for e in last if e["type"][:6] == "users."
        ]
        if number == 2:
            assert sorted(tonight) == [("users.deleted", gone_id), ("users.updated", merged_id)]
        else:
            (update,) = [e for e in last if e["type"] == "users.updated"]
            assert tonight == [("users.updated", merged_id)]
            assert update["data"]["previous_attributes"]["roles"]["staff"]["department"] == "Math"
            assert update["data"]["object"]["roles"]["staff"]["department"] == "Science"
    with Store.open(pulls, read_only=True) as s:
        latest = s.snapshots(DISTRICT)[-1]
        staff = {r["Staff_id"]: r for r in rows(s, latest.id, "staff")}
        teachers = {r["Teacher_id"] for r in rows(s, latest.id, "teachers")}
    assert staff["F-2"]["Department"] == "Science"
    assert staff["F-2"]["Staff_email"] == "jo@maple.example"
    assert teachers == {"T-1", "T-2"}


def test_a_merged_staff_row_named_otherwise_comes_back_with_the_teachers_name_and_says_why(
    tmp_path, capsys, monkeypatch
):
    """Jo's staff row says Joanna: the one user carries the teacher row's name (Jo), so the
    staff row reads back as Jo; reconcile names why instead of an unexplained difference."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    night = jo_is_also_staff()
    night["staff.csv"][-1][STAFF_HEADER.index("First_name")] = "Joanna"
    store = tmp_path / "s.duckdb"
    ingest(store, tmp_path / "n1", night, NOW - timedelta(days=1))
    with standin(store, DISTRICT) as origin:
        assert pull(store, configure(tmp_path, origin)) == 0
    with Store.open(store, read_only=True) as s:
        served = s.snapshots(DISTRICT)[-1]
        names = {r["Staff_id"]: r["First_name"] for r in rows(s, served.id, "staff")}
    assert names == {"F-1": "Fay", "F-2": "Jo"}
    result = reconciled(store, capsys)
    assert found(result) == [
        *PASSWORDS,
        ("value-normalised", "staff", None, "First_name", "1",
         "a teacher who is also staff (the same email) is one user: the teacher's name is served"),
    ]  # fmt: skip
    assert result["unexplained"] == 0
