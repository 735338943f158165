"""Re-key detection: a removed and an added record that are one person/section by natural key.

Rules are tried in order per entity. A rule pairs a removed record with an added one when every
rule column is filled on both, the values agree (trimmed, case-insensitive), and the value is
unique among the still-unpaired removed records and among the still-unpaired added ones, so a
pairing never guesses. ``matched_on`` names the rule's columns.
"""

from __future__ import annotations

from dataclasses import dataclass

from rosterlab import spec
from rosterlab.store import quote_ident


@dataclass(frozen=True)
class NaturalKey:
    """Columns that identify a record apart from its key.

    ``differs``: a column that must differ between the two records for the pair to count (a
    contact is re-keyed when its Contact_sis_id appears, vanishes or changes).
    """

    columns: tuple[str, ...]
    differs: str | None = None


def _person(*ids: str) -> tuple[NaturalKey, ...]:
    """Single identifiers first; then scoped to the school, for people at several schools."""
    school = spec.ENTITIES["schools"].key[0]
    plain = tuple(NaturalKey((c,)) for c in ids)
    return plain + tuple(NaturalKey((school, c)) for c in ids)


_SECTION_WHO_WHEN = ("Period", "Term_name", "Teacher_id")

NATURAL_KEYS: dict[str, tuple[NaturalKey, ...]] = {
    "schools": (NaturalKey(("State_id",)), NaturalKey(("School_number",))),
    "students": (
        NaturalKey(("State_id",)),
        NaturalKey(("Student_number",)),
        NaturalKey(("Last_name", "First_name", "DOB")),
    ),
    "contacts": (NaturalKey(("Student_id", "Contact_name"), differs="Contact_sis_id"),),
    "teachers": _person("Teacher_email", "Teacher_number", "State_teacher_id"),
    "sections": (
        NaturalKey(("School_id", "Course_number", *_SECTION_WHO_WHEN)),
        NaturalKey(("School_id", "Course_name", *_SECTION_WHO_WHEN)),
    ),
    "staff": _person("Staff_email"),
    "admins": _person("Admin_email"),
}


def rule_sql(rule: NaturalKey) -> str:
    """INSERT pairing the entity's unpaired removed and added records on one rule.

    Reads the diff's temp tables ``_rl_key_ends`` (per key: from_hash, to_hash) and ``_rl_values``
    (versions by row_hash); appends to ``_rl_rekeys``. Binds (entity, rule index, entity,
    entity). Uniqueness is a GROUP BY, not a window: DuckDB drops every row when two windowed
    subqueries are joined.
    """
    natural = [f"lower(trim(v.{quote_ident(c)}))" for c in rule.columns]
    filled = " AND ".join(f"v.{quote_ident(c)} IS NOT NULL" for c in rule.columns)
    names = [f"n{i}" for i in range(len(rule.columns))]
    differs = f", any_value(v.{quote_ident(rule.differs)}) AS d" if rule.differs else ""

    def side(hash_column: str, other: str, taken: str) -> str:
        return (
            "SELECT any_value(k.key) AS key, "
            + ", ".join(f"{expr} AS {name}" for expr, name in zip(natural, names, strict=True))
            + f"{differs} FROM _rl_key_ends k JOIN _rl_values v ON v.row_hash = k.{hash_column} "
            f"ANTI JOIN (SELECT {taken} AS paired FROM _rl_rekeys WHERE entity = ?) p "
            f"ON p.paired = k.key WHERE k.{other} IS NULL AND {filled} "
            f"GROUP BY {', '.join(natural)} HAVING count(*) = 1"
        )

    on = " AND ".join(f"r.{name} = a.{name}" for name in names)
    if rule.differs:
        on += " AND r.d IS DISTINCT FROM a.d"
    return (
        "INSERT INTO _rl_rekeys SELECT ?, r.key, a.key, ? "
        f"FROM ({side('from_hash', 'to_hash', 'old_key')}) r "
        f"JOIN ({side('to_hash', 'from_hash', 'new_key')}) a ON {on}"
    )
