"""The Clever SFTP roster format as data: files, entities, fields, keys, references, vocabularies.

Nothing else in rosterlab hard-codes a column name: rooms ask this module. ``students.csv`` is one
file but two entities (``students`` and ``contacts``), because a student with several contacts
appears on several rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SYNC_TYPES: tuple[str, ...] = ("sftp", "clever-managed", "sis-managed")
EXTENSION_PREFIX = "ext."
# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets
# (``=HYPERLINK(...)``, ``=cmd|' /C calc'!A0``; OWASP "CSV injection"): CSV files people open
# (findings, changes) give it a leading single quote; Clever bundles are written exactly.
FORMULA_STARTS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
KEY_SEPARATOR = "/"
# What Python's str.strip() removes (str.isspace(), Unicode 15): a value of only these is blank
# to the checks, the stand-in and the carried skips alike (ours: the spec calls a value of only
# spaces blank and says nothing of tabs or no-break spaces, which Excel's CSV export writes;
# common trims — str.strip, JavaScript's trim, Go's TrimSpace — remove them all). Only spaces:
# missing-value (an error, as the spec says); other white space: white-space-only (a warning,
# the row may be skipped). Spelled out: computing it walks every code point (~40 ms a
# start-up); tests/test_spec.py holds it equal to the computed set.
WHITE_SPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
MAX_CONTACTS = 5


# What a column holds, which decides how its values are checked (checks/rows.py).
FieldKind = Literal[
    "id", "text", "name", "grade", "date", "year", "email", "phone", "zip", "state", "code"
]


@dataclass(frozen=True)
class Field:
    """One column of a spec file."""

    name: str
    required: bool = False
    kind: FieldKind = "text"
    vocabulary: str | None = None  # key of VOCABULARIES
    references: str | None = None  # entity whose key this column points at
    pii: bool = False
    confirmed: bool = True  # False: a rule not confirmed from Clever's own text (warn, never error)
    ranges: bool = False  # a grade field that also takes a range such as 9-13 (v2.1.1)
    unique: bool = False  # unique in the district though not the file's key (v2.1.1)
    district_office: bool = False  # School_id that also takes DEFAULT_DISTRICT_OFFICE (v2.1.1)
    # False: a reference Clever does not follow — a row naming a record it skips or lacks is
    # still served (an enrollment's School_id: its section's school is served; a section's
    # teacher slots: it is served with the teachers Clever serves, docs/api.md).
    followed: bool = True


@dataclass(frozen=True)
class Entity:
    """A record type rosterlab keeps history for."""

    name: str
    file: str
    key: tuple[str, ...]
    fields: tuple[Field, ...]
    extensions: bool = True
    # Set for an entity living in another's rows (contacts in students.csv): the column naming
    # that record. A row carries it when any of its own columns is filled; its key is that
    # column and an identity (CONTACT_IDENTITY); dropping it leaves the row to its owner.
    within: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def own_columns(self) -> tuple[str, ...]:
        """Its columns less the one it shares with the record it lives within."""
        return tuple(c for c in self.columns if c != self.within)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name}")


@dataclass(frozen=True)
class FileSpec:
    """A file of the bundle."""

    name: str
    entities: tuple[str, ...]
    required: bool
    deprecated: bool = False

    @property
    def stem(self) -> str:
        return self.name.removesuffix(".csv")


def _f(name: str, **kw: object) -> Field:
    return Field(name, **kw)  # type: ignore[arg-type]


def _id(
    name: str, *, required: bool = False, references: str | None = None, followed: bool = True
) -> Field:
    return Field(name, required=required, kind="id", references=references, followed=followed)


TEACHER_SLOTS: tuple[str, ...] = ("Teacher_id", *(f"Teacher_{n}_id" for n in range(2, 11)))

SCHOOLS = Entity(
    "schools",
    "schools.csv",
    ("School_id",),
    (
        _id("School_id", required=True),
        _f("School_name", required=True, kind="name"),
        _f("School_number", required=True, kind="id"),
        _f("State_id", kind="id"),
        _f("Low_grade", kind="grade", vocabulary="grade", ranges=True),
        _f("High_grade", kind="grade", vocabulary="grade", ranges=True),
        _f("Principal", kind="name"),
        _f("Principal_email", kind="email"),
        _f("School_address"),
        _f("School_city"),
        _f("School_state", kind="state"),
        _f("School_zip", kind="zip"),
        _f("School_phone", kind="phone"),
    ),
)

STUDENT_FIELDS: tuple[Field, ...] = (
    _id("School_id", required=True, references="schools"),
    _id("Student_id", required=True),
    _f("Student_number", kind="id", unique=True),
    _f("State_id", kind="id"),
    _f("Last_name", required=True, kind="name", pii=True),
    _f("Middle_name", kind="name", pii=True),
    _f("First_name", required=True, kind="name", pii=True),
    _f("Grade", kind="grade", vocabulary="grade"),
    _f("Gender", kind="code", vocabulary="gender", pii=True),
    _f("DOB", kind="date", pii=True),
    _f("Graduation_year", kind="year"),
    _f("Race", kind="code", vocabulary="race", pii=True),
    _f("Hispanic_Latino", kind="code", vocabulary="yes_no", pii=True),
    _f("Home_language", kind="code", vocabulary="home_language", pii=True),
    _f("Ell_status", kind="code", vocabulary="yes_no", pii=True),
    _f("Frl_status", kind="code", vocabulary="frl", pii=True),
    _f("IEP_status", kind="code", vocabulary="yes_no", pii=True),
    _f("Student_street", pii=True),
    _f("Student_city", pii=True),
    _f("Student_state", kind="state", pii=True),
    _f("Student_zip", kind="zip", pii=True),
    _f("Student_email", kind="email", pii=True),
    _f("Username", pii=True),
    _f("Password", pii=True),
    _f("Unweighted_gpa", pii=True),
    _f("Weighted_gpa", pii=True),
)

CONTACT_FIELDS: tuple[Field, ...] = (
    _f("Contact_relationship", kind="code", vocabulary="contact_relationship"),
    _f("Contact_type", kind="code", vocabulary="contact_type"),
    _f("Contact_name", kind="name", pii=True),
    _f("Contact_phone", kind="phone", pii=True),
    _f("Contact_phone_type", kind="code", vocabulary="contact_phone_type"),
    _f("Contact_email", kind="email", pii=True),
    _f("Contact_sis_id", kind="id"),
)

STUDENTS = Entity("students", "students.csv", ("Student_id",), STUDENT_FIELDS)

# A contact belongs to a student; its identity is Contact_sis_id when present, else a natural key
# (see CONTACT_IDENTITY). The entity's stored key is Student_id/identity.
CONTACTS = Entity(
    "contacts",
    "students.csv",
    ("Student_id", "Contact_identity"),
    (_id("Student_id", required=True, references="students"), *CONTACT_FIELDS),
    extensions=False,
    within="Student_id",
)

# Contact identity, in order of preference: each tuple is tried when all its columns are filled.
CONTACT_IDENTITY: tuple[tuple[str, ...], ...] = (
    ("Contact_sis_id",),
    ("Contact_name", "Contact_email"),
    ("Contact_name", "Contact_phone"),
    ("Contact_name", "Contact_type", "Contact_relationship", "Contact_phone_type"),
)

TEACHERS = Entity(
    "teachers",
    "teachers.csv",
    ("Teacher_id", "School_id"),
    (
        _id("School_id", required=True, references="schools"),
        _id("Teacher_id", required=True),
        _f("Teacher_number", kind="id", unique=True),
        _f("State_teacher_id", kind="id"),
        _f("Last_name", required=True, kind="name", pii=True),
        _f("Middle_name", kind="name", pii=True),
        _f("First_name", required=True, kind="name", pii=True),
        _f("Teacher_email", kind="email", pii=True),
        _f("Title"),
        _f("Username", pii=True),
        _f("Password", pii=True),
    ),
)

SECTIONS = Entity(
    "sections",
    "sections.csv",
    ("Section_id",),
    (
        _id("School_id", required=True, references="schools"),
        _id("Section_id", required=True),
        _id("Teacher_id", required=True, references="teachers", followed=False),
        *(_id(slot, references="teachers", followed=False) for slot in TEACHER_SLOTS[1:]),
        _f("Name"),
        _f("Section_number"),
        _f("Grade", kind="grade", vocabulary="grade", ranges=True),
        _f("Course_name"),
        _f("Course_number"),
        _f("Course_description"),
        _f("Period"),
        _f("Subject", kind="code", vocabulary="subject"),
        _f("Term_name"),
        _f("Term_start", kind="date"),
        _f("Term_end", kind="date"),
    ),
)

ENROLLMENTS = Entity(
    "enrollments",
    "enrollments.csv",
    ("Section_id", "Student_id"),
    (
        _id("School_id", required=True, references="schools", followed=False),
        _id("Section_id", required=True, references="sections"),
        _id("Student_id", required=True, references="students"),
    ),
    extensions=False,
)

STAFF = Entity(
    "staff",
    "staff.csv",
    ("Staff_id", "School_id"),
    (
        _f("School_id", required=True, kind="id", references="schools", district_office=True),
        _id("Staff_id", required=True),
        _f("Staff_email", required=True, kind="email", pii=True, unique=True),
        _f("First_name", required=True, kind="name", pii=True),
        _f("Last_name", required=True, kind="name", pii=True),
        _f("Department"),
        _f("Title"),
        _f("Username", pii=True),
        _f("Password", pii=True),
        _f("Role", kind="code", vocabulary="staff_role"),
    ),
)

ADMINS = Entity(
    "admins",
    "admins.csv",
    ("Staff_id", "School_id"),
    (
        _id("School_id", required=True, references="schools"),
        _id("Staff_id", required=True),
        _f("Admin_email", required=True, kind="email", pii=True, unique=True),
        _f("First_name", required=True, kind="name", pii=True),
        _f("Last_name", required=True, kind="name", pii=True),
        _f("Admin_title"),
        _f("Username", pii=True),
        _f("Password", pii=True),
        _f("Role", kind="code", vocabulary="staff_role"),
    ),
    extensions=False,
)

ENTITIES: dict[str, Entity] = {
    e.name: e for e in (SCHOOLS, STUDENTS, CONTACTS, TEACHERS, SECTIONS, ENROLLMENTS, STAFF, ADMINS)
}

FILES: dict[str, FileSpec] = {
    spec.name: spec
    for spec in (
        FileSpec("schools.csv", ("schools",), required=True),
        FileSpec("students.csv", ("students", "contacts"), required=True),
        FileSpec("teachers.csv", ("teachers",), required=True),
        FileSpec("sections.csv", ("sections",), required=True),
        FileSpec("enrollments.csv", ("enrollments",), required=True),
        FileSpec("staff.csv", ("staff",), required=False),
        FileSpec("admins.csv", ("admins",), required=False, deprecated=True),
    )
}


def file_columns(file_name: str) -> tuple[Field, ...]:
    """Every spec column of a file, in spec order (students.csv: student then contact columns)."""
    if file_name == "students.csv":
        return STUDENT_FIELDS + CONTACT_FIELDS
    return ENTITIES[FILES[file_name].entities[0]].fields


def file_allows_extensions(file_name: str) -> bool:
    return ENTITIES[FILES[file_name].entities[0]].extensions


def entity_of_file(file_name: str) -> str:
    """The primary entity of a file (students.csv → students)."""
    return FILES[file_name].entities[0]


def entity_within(file_name: str) -> Entity | None:
    """The entity living in a file's rows beside its primary one (students.csv → contacts)."""
    return next(
        (e for name in FILES[file_name].entities if (e := ENTITIES[name]).within is not None),
        None,
    )


def follows(entity: str | None, field: str | None) -> bool:
    """Whether Clever serves a row of ``entity`` only if the record its ``field`` names is
    served: False for a reference it does not follow (an enrollment's School_id)."""
    known = ENTITIES.get(entity or "")
    return known is None or all(f.followed for f in known.fields if f.name == field)


def followed_references(entity: str) -> tuple[tuple[str, str], ...]:
    """(field, referenced entity) of each reference of ``entity`` Clever follows — a row is
    served only if the record it names is — in spec order."""
    return tuple(
        (f.name, f.references)
        for f in ENTITIES[entity].fields
        if f.references is not None and f.followed
    )


def entity_of_column(file_name: str, column: str) -> Entity:
    """The entity a column of a file belongs to (students.csv contact columns → contacts;
    ext.* and unknown columns → the file's primary entity)."""
    entities = [ENTITIES[name] for name in FILES[file_name].entities]
    return next((e for e in entities if column in e.columns), entities[0])


def spec_column(file_name: str, name: str) -> str | None:
    """The spec column a received header name is, matched as Clever does: case-insensitively
    ("case-sensitive matching is not required", v2.1.1), everything else exact (``Dob`` is DOB,
    ``Student_Street`` is Student_street, ``PERID`` is not Period)."""
    return _FOLDED_COLUMNS[file_name].get(name.lower())


def spec_file(name: str) -> str | None:
    """The spec file a received name is: the spec name itself, or one differing only in case
    (``Students.csv``, ``students.CSV``) at the top level. Other suffixes or folders are not."""
    return _FOLDED_FILES.get(name.lower()) if "/" not in name else None


_FOLDED_COLUMNS: dict[str, dict[str, str]] = {
    file_name: {f.name.lower(): f.name for f in file_columns(file_name)} for file_name in FILES
}
_FOLDED_FILES: dict[str, str] = {name.lower(): name for name in FILES}


# Vocabularies, each tagged with its source: (v2.1.1) Clever's SFTP Instructions v2.1.1, (help
# centre) a newer Clever article. ``Other`` is a Data API *output* grade, not an SFTP input value.
VOCABULARIES: dict[str, tuple[str, ...]] = {
    "grade": (  # (v2.1.1)
        "InfantToddler",
        "Preschool",
        "PreKindergarten",
        "TransitionalKindergarten",
        "Kindergarten",
        *(str(n) for n in range(1, 14)),
        "PostGraduate",
        "Ungraded",
    ),
    "gender": ("M", "F", "X"),  # (v2.1.1)
    "race": ("A", "B", "I", "M", "P", "W"),  # (v2.1.1)
    "yes_no": ("Y", "N"),  # (v2.1.1)
    "frl": ("F", "R", "N"),  # (v2.1.1): free, reduced, paid
    "subject": (  # (v2.1.1)
        "english/language arts",
        "math",
        "science",
        "social studies",
        "language",
        "homeroom/advisory",
        "interventions/online learning",
        "technology and engineering",
        "PE and health",
        "arts and music",
        "other",
    ),
    # (help centre); v2.1.1 leaves both free text, so an off-list value is only advice.
    "contact_type": ("Primary", "Secondary", "Parent/Guardian", "Emergency", "Family", "Other"),
    "contact_relationship": ("Parent", "Grandparent", "Self", "Aunt/Uncle", "Sibling", "Other"),
    "contact_phone_type": ("Cell", "Home", "Work", "Other"),  # (v2.1.1) + Other (help centre)
    "home_language": (  # (v2.1.1)
        "English",
        "Albanian",
        "Amharic",
        "Arabic",
        "Bengali",
        "Bosnian",
        "Burmese",
        "Cantonese",
        "Chinese",
        "Dutch",
        "Farsi",
        "French",
        "German",
        "Hebrew",
        "Hindi",
        "Hmong",
        "Ilocano",
        "Japanese",
        "Javanese",
        "Karen",
        "Khmer",
        "Korean",
        "Laotian",
        "Latvian",
        "Malay",
        "Mandarin",
        "Nepali",
        "Oromo",
        "Polish",
        "Portuguese",
        "Punjabi",
        "Romanian",
        "Russian",
        "Samoan",
        "Serbian",
        "Somali",
        "Spanish",
        "Swahili",
        "Tagalog",
        "Tamil",
        "Telugu",
        "Thai",
        "Tigrinya",
        "Turkish",
        "Ukrainian",
        "Urdu",
        "Vietnamese",
    ),
    "staff_role": ("School Tech Lead", "SchoolTechLead", "STL"),  # (v2.1.1), any case
}

# Vocabularies compared case-insensitively (the fix output uses the listed spelling).
CASE_INSENSITIVE_VOCABULARIES = frozenset(
    {"subject", "contact_type", "contact_relationship", "home_language", "staff_role"}
)

# Lists Clever does not enforce (v2.1.1 says free text): an off-list value is info, never a warning.
ADVISORY_VOCABULARIES = frozenset({"contact_type", "contact_relationship"})

# Grades 1 to 12 as words (Ed-Fi's descriptors: 'First grade' … 'Twelfth grade').
ORDINALS = ("First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Eighth", "Ninth",
            "Tenth", "Eleventh", "Twelfth")  # fmt: skip
# Non-canonical spellings seen in SIS exports, with the canonical value as the suggested fix.
GRADE_ALIASES: dict[str, str] = {
    "K": "Kindergarten",
    "KG": "Kindergarten",
    "0": "Kindergarten",
    "PK": "PreKindergarten",
    "-1": "PreKindergarten",
    "Prekindergarten": "PreKindergarten",
    "TK": "TransitionalKindergarten",
    "Postgraduate": "PostGraduate",
    "Transitional Kindergarten": "TransitionalKindergarten",
    **{f"{n:02d}": str(n) for n in range(1, 13)},
    # Ed-Fi's grade level descriptors (K12-Analytics-Engineering/kae_dbt
    # macros/convert_grade_level_to_id.sql reads them beside the SIS spellings above)
    **{f"{word} grade": str(n) for n, word in enumerate(ORDINALS, start=1)},
}

# Suggested fixes per vocabulary (looked up case-insensitively after an exact miss).
ALIASES: dict[str, dict[str, str]] = {
    "grade": GRADE_ALIASES,
    "frl": {"Free": "F", "Reduced": "R", "Paid": "N"},
    "gender": {"Male": "M", "Female": "F", "Nonbinary": "X", "Non-binary": "X"},
    "yes_no": {"Yes": "Y", "No": "N", "True": "Y", "False": "N"},
    "contact_type": {
        "Guardian": "Parent/Guardian",
        "Parent": "Parent/Guardian",
        "Mother": "Parent/Guardian",
        "Father": "Parent/Guardian",
        "Emergency Contact": "Emergency",
    },
    "contact_relationship": {
        "Father": "Parent",
        "Mother": "Parent",
        "Stepfather": "Parent",
        "Stepmother": "Parent",
        "Grandmother": "Grandparent",
        "Grandfather": "Grandparent",
        "Aunt": "Aunt/Uncle",
        "Uncle": "Aunt/Uncle",
        "Brother": "Sibling",
        "Sister": "Sibling",
    },
}

# Staff may sit at the district office instead of a school (v2.1.1); admins.csv may not.
DISTRICT_OFFICE = "DEFAULT_DISTRICT_OFFICE"
