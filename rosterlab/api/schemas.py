"""JSON Schemas of the Data API v3.0/v3.1 response bodies, written from Clever's Swagger 2.0 text.

Clever publishes ``v3.0.yml`` / ``v3.1.yml`` in the public ``Clever/swagger-api`` repository;
these schemas restate the facts a puller and the stand-in rely on (field names, types, enums,
``x-nullable``) as draft 2020-12 JSON Schema. Every object allows extra properties, as Clever
adds fields within a version. v3.0 lacks the 3.1-only student fields (``frl_status``,
``iep_status``, ``home_language``, ``gifted_status``, ``section_504_status``, ``disability``,
``preferred_name``) and ``lms_status``.
"""

from __future__ import annotations

from typing import Any

from rosterlab import spec

VERSIONS: tuple[str, ...] = ("3.0", "3.1")

GRADES = (
    "InfantToddler",
    "Preschool",
    "PreKindergarten",
    "TransitionalKindergarten",
    "Kindergarten",
    *(str(n) for n in range(1, 14)),
    "PostGraduate",
    "Ungraded",
    "Other",
    "",
)
RACES = (
    "Caucasian",
    "Asian",
    "Black or African American",
    "American Indian",
    "Hawaiian or Other Pacific Islander",
    "Two or More Races",
    "Unknown",
    "",
)
YES_NO = ("Y", "N", "")
GENDERS = ("M", "F", "X", "")
FRL = ("Free", "Reduced", "Paid", "Other", "")
# The SFTP frl codes (v2.1.1: F R N) and the API names Clever serves them as (unconfirmed).
FRL_CODES = {"F": "Free", "R": "Reduced", "N": "Paid"}
# How the SFTP frl codes read in the API's Free/Reduced/Paid/Other; a long form is served as is
# and an off-list Y as Other (both unconfirmed).
FRL_NAMES = {
    **FRL_CODES,
    "Free": "Free",
    "Reduced": "Reduced",
    "Paid": "Paid",
    "Other": "Other",
    "Y": "Other",
}
US_DATE = "[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}"  # a date Clever reads as M/D/YYYY
ONLY_31 = ("Frl_status", "IEP_status", "Home_language")  # student fields v3.0 does not serve
SUBJECTS = (*spec.VOCABULARIES["subject"], "")  # Clever's API enum is the SFTP list
RELATIONSHIPS = ("Parent", "Grandparent", "Self", "Aunt/Uncle", "Sibling", "Other", "")
RELATIONSHIP_TYPES = ("Parent/Guardian", "Emergency", "Primary", "Secondary", "Family", "Other", "")
PHONE_TYPES = ("Cell", "Home", "Work", "Other", "")
DISTRICT_STATES = ("running", "pending", "error", "paused", "", "success")
DOB_PATTERN = r"^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$"


def _string(nullable: bool = False, enum: tuple[str, ...] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": ["string", "null"] if nullable else "string"}
    if enum is not None:
        schema["enum"] = [*enum, None] if nullable else list(enum)
    return schema


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required)}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


_IDS = {"type": "array", "items": {"type": "string"}}
_EXT = {"type": "object"}
NAME = _object({k: _string(True) for k in ("first", "middle", "last")})
LOCATION = _object({k: _string(True) for k in ("address", "city", "state", "zip", "lat", "lon")})
CREDENTIALS = _object({"district_username": _string()})
LINK = _object({"rel": _string(enum=("next", "prev", "self")), "uri": _string()}, ("rel", "uri"))

DISTRICT = _object(
    {
        "id": _string(),
        "name": _string(),
        "sis_type": _string(),
        "state": _string(True, DISTRICT_STATES),
        "last_sync": _string(True),
        "pause_start": _string(True),
        "pause_end": _string(True),
        "launch_date": _string(),
        "error": _string(),
        "portal_url": _string(),
        "login_methods": _IDS,
    },
    ("id", "name"),
)
SCHOOL = _object(
    {
        "id": _string(),
        "district": _string(),
        "sis_id": _string(),
        "name": _string(),
        "school_number": _string(),
        "state_id": _string(True),
        "low_grade": _string(True, GRADES),
        "high_grade": _string(True, GRADES),
        "phone": _string(True),
        "principal": _object({"name": _string(True), "email": _string(True)}),
        "location": _nullable(LOCATION),
        "ext": _EXT,
    },
    ("id", "district", "sis_id", "name"),
)
SECTION = _object(
    {
        "id": _string(),
        "district": _string(),
        "school": _string(),
        "sis_id": _string(),
        "name": _string(),
        "section_number": _string(True),
        "period": _string(True),
        "grade": _string(True, GRADES),
        "subject": _string(True, SUBJECTS),
        "course": _string(True),
        "term_id": _string(True),
        "teacher": _string(True),
        "teachers": _IDS,
        "students": _IDS,
        "ext": _EXT,
    },
    ("id", "district", "school", "sis_id", "teachers", "students"),
)
TERM = _object(
    {
        "id": _string(),
        "district": _string(),
        "name": _string(True),
        "start_date": _string(True),
        "end_date": _string(True),
    },
    ("id", "district"),
)
COURSE = _object(
    {"id": _string(), "district": _string(), "name": _string(True), "number": _string(True)},
    ("id", "district"),
)
_STUDENT_30 = {
    "sis_id": _string(),
    "student_number": _string(True),
    "state_id": _string(True),
    "school": _string(),
    "schools": _IDS,
    "grade": _string(True, GRADES),
    "gender": _string(True, GENDERS),
    "dob": {"anyOf": [{"type": "string", "pattern": DOB_PATTERN}, {"type": "null"}]},
    "graduation_year": _string(True),
    "race": _string(True, RACES),
    "hispanic_ethnicity": _string(True, YES_NO),
    "ell_status": _string(True, YES_NO),
    "location": _nullable(LOCATION),
    "credentials": CREDENTIALS,
    "ext": _EXT,
}
_STUDENT_31 = {
    **_STUDENT_30,
    "frl_status": _string(True, FRL),
    "iep_status": _string(True),
    "home_language": _string(True),
    "gifted_status": _string(True, YES_NO),
    "section_504_status": _string(True, YES_NO),
    "preferred_name": NAME,
}
TEACHER = _object(
    {
        "sis_id": _string(),
        "teacher_number": _string(True),
        "state_id": _string(True),
        "title": _string(True),
        "school": _string(),
        "schools": _IDS,
        "credentials": _nullable(CREDENTIALS),
        "ext": _EXT,
    },
    ("sis_id", "schools"),
)
STAFF = _object(
    {
        "staff_id": _string(),
        "department": _string(True),
        "title": _string(True),
        "roles": _IDS,
        "schools": _IDS,
        "credentials": CREDENTIALS,
        "ext": _EXT,
    },
    ("staff_id", "schools"),
)
CONTACT = _object(
    {
        "sis_id": _string(True),
        "phone": _string(True),
        "phone_type": _string(True, PHONE_TYPES),
        "student_relationships": {
            "type": "array",
            "items": _object(
                {
                    "student": _string(),
                    "relationship": _string(True, RELATIONSHIPS),
                    "type": _string(True, RELATIONSHIP_TYPES),
                },
                ("student",),
            ),
        },
    },
    ("student_relationships",),
)


def user_schema(version: str) -> dict[str, Any]:
    student = _object(_STUDENT_31 if version == "3.1" else _STUDENT_30, ("sis_id", "school"))
    if version == "3.0":
        student["not"] = {"anyOf": [{"required": [k]} for k in set(_STUDENT_31) - set(_STUDENT_30)]}
    roles = _object(
        {
            "student": _nullable(student),
            "teacher": _nullable(TEACHER),
            "staff": _nullable(STAFF),
            "contact": _nullable(CONTACT),
            "district_admin": _nullable(_object({"title": _string(True)})),
        }
    )
    return _object(
        {
            "id": _string(),
            "district": _string(),
            "email": _string(True),
            "name": NAME,
            "roles": roles,
        },
        ("id", "district", "name", "roles"),
    )


def object_schema(resource: str, version: str) -> dict[str, Any]:
    """The schema of one object of a resource (``users``, ``sections``, …) in a version."""
    if resource == "users":
        return user_schema(version)
    return {
        "districts": DISTRICT,
        "schools": SCHOOL,
        "sections": SECTION,
        "terms": TERM,
        "courses": COURSE,
    }[resource]


def list_schema(resource: str, version: str) -> dict[str, Any]:
    """A list response: ``{"data": [{"data": {...}}], "links": [{"rel", "uri"}]}``."""
    item = _object({"data": object_schema(resource, version)}, ("data",))
    return _object(
        {"data": {"type": "array", "items": item}, "links": {"type": "array", "items": LINK}},
        ("data", "links"),
    )


def one_schema(resource: str, version: str) -> dict[str, Any]:
    return _object({"data": object_schema(resource, version)}, ("data",))


ERROR = _object({"message": _string()}, ("message",))


EVENT_TYPE = (
    r"^(districts|schools|users|sections|terms|courses|resources)\.(created|updated|deleted)$"
)


def event_list_schema(version: str) -> dict[str, Any]:
    """An events list; each event's ``data.object`` is checked against its resource's schema.

    ``previous_attributes`` sits in ``data`` as Clever's guide shows it (the Swagger text puts
    it beside ``data``: unconfirmed, so both places are allowed).
    """
    kinds = []
    for resource in ("districts", "schools", "users", "sections", "terms", "courses"):
        kinds.append(
            {
                "properties": {
                    "type": {"type": "string", "pattern": f"^{resource}\\."},
                    "data": _object(
                        {
                            "object": object_schema(resource, version),
                            "previous_attributes": {"type": "object"},
                        },
                        ("object",),
                    ),
                }
            }
        )
    event = {
        **_object(
            {
                "id": _string(),
                "type": {"type": "string", "pattern": EVENT_TYPE},
                "created": _string(),
                "data": {"type": "object"},
                "previous_attributes": {"type": "object"},
            },
            ("id", "type", "created", "data"),
        ),
        "oneOf": kinds,
    }
    item = _object({"data": event}, ("data",))
    return _object(
        {"data": {"type": "array", "items": item}, "links": {"type": "array", "items": LINK}},
        ("data", "links"),
    )
