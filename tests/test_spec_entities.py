"""The spec says which entity lives in another's rows: contacts in students.csv, keyed by the
student and an identity. Staging, export, fix and redaction read it from here."""

from __future__ import annotations

from rosterlab import spec


def test_contacts_live_in_the_rows_of_students_csv_and_no_other_file():
    assert {name: getattr(spec.entity_within(name), "name", None) for name in spec.FILES} == {
        name: ("contacts" if name == "students.csv" else None) for name in spec.FILES
    }
    assert [e.name for e in spec.ENTITIES.values() if e.within] == ["contacts"]


def test_a_contact_shares_only_student_id_with_its_student():
    contacts = spec.ENTITIES["contacts"]
    assert contacts.within == "Student_id"
    assert contacts.own_columns == (
        "Contact_relationship",
        "Contact_type",
        "Contact_name",
        "Contact_phone",
        "Contact_phone_type",
        "Contact_email",
        "Contact_sis_id",
    )
    assert set(contacts.columns) & set(spec.ENTITIES["students"].columns) == {"Student_id"}
