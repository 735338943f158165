"""Corrections rules: a per-district TOML file of declarative, reasoned operations.

Each ``[[rules]]`` table has an ``op``, a ``reason`` (why this correction is right — it lands in
``changes.csv`` beside every change it makes) and the op's own keys:

=================  ==========================================================================
``drop``           ``entity``, ``code``: drop the records that carry this finding code
``map``            ``entity``, ``field``, ``values`` (table old → new): map values on a field
``set`` / ``fill`` ``entity``, ``field``, ``value``; optional ``key`` / ``keys`` (as ``check``
                   shows them, ``T-1/SCH-1``, or a part naming one record, ``T-1``) and
                   ``where`` (table field → value, ``""`` = blank): ``fill`` only writes blank
                   fields
``ledger``         apply the district's customization ledger (its kept field overrides)
``rename-column``  ``file``, ``from``, ``to``: rename a misspelled column of a file's header
``rekey``          ``entity``, ``from``, ``to``: change a record's ID everywhere it is referenced
=================  ==========================================================================

Any rule may say ``when = "<finding code>"``: it then applies only while that finding is
present — to the records carrying it (``drop``, ``map``, ``set``, ``fill``), or at all when the
snapshot has it (``ledger``, ``rename-column``, ``rekey``). A workaround written for one night
(``set`` a section's teacher ``when = "section-unknown-teacher"``) stops by itself once the
district's own value is valid.

Everything is validated before anything runs: an unknown op, entity, field, file or finding code
raises :class:`~rosterlab.errors.RulesError` naming the rule and the line of its ``[[rules]]``.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

from rosterlab import spec
from rosterlab.errors import RulesError

Op = Literal["drop", "map", "set", "fill", "ledger", "rename-column", "rekey"]
OPS: tuple[Op, ...] = get_args(Op)
_SELECTORS = ("key", "keys", "where")
_KEYS: dict[Op, tuple[tuple[str, ...], tuple[str, ...]]] = {  # op → (required, optional)
    "drop": (("entity", "code"), ()),
    "map": (("entity", "field", "values"), ()),
    "set": (("entity", "field", "value"), _SELECTORS),
    "fill": (("entity", "field", "value"), _SELECTORS),
    "ledger": ((), ()),
    "rename-column": (("file", "from", "to"), ()),
    "rekey": (("entity", "from", "to"), ()),
}
_RULE_HEADER = re.compile(r"^\s*\[\[\s*rules\s*\]\]\s*(#.*)?$")
Pairs = tuple[tuple[str, str | None], ...]


@dataclass(frozen=True)
class _Rule:
    """What every validated rule has: ``number`` (1-based position), the ``line`` of its
    ``[[rules]]`` header and its ``reason``. Blank values (``""``) are kept as ``None``:
    rosterlab reads an empty field as NULL.
    """

    number: int
    line: int
    reason: str
    when: str | None = field(default=None, kw_only=True)  # a finding code (module docstring)
    op: ClassVar[Op]

    @property
    def label(self) -> str:
        """How ``changes.csv`` names the rule: ``2:map``."""
        return f"{self.number}:{self.op}"

    @property
    def subject(self) -> tuple[str | None, str | None]:
        """(entity or file, field) the rule acts on, for listings."""
        return None, None

    @property
    def summary(self) -> str:
        """What the rule does beyond its subject, in a few words (values, keys, code, IDs)."""
        return ""


@dataclass(frozen=True)
class DropRule(_Rule):
    """Drop the records of ``entity`` that carry the finding ``code``."""

    entity: str
    code: str
    op: ClassVar[Op] = "drop"

    @property
    def subject(self) -> tuple[str | None, str | None]:
        return self.entity, None

    @property
    def summary(self) -> str:
        return f"code={self.code}"


@dataclass(frozen=True)
class MapRule(_Rule):
    """Map values of ``field`` (old → new)."""

    entity: str
    field: str
    values: Pairs
    op: ClassVar[Op] = "map"

    @property
    def subject(self) -> tuple[str | None, str | None]:
        return self.entity, self.field

    @property
    def summary(self) -> str:
        return "values " + ", ".join(f"{a}→{b}" for a, b in self.values)


@dataclass(frozen=True)
class SetRule(_Rule):
    """Write ``value`` into ``field`` of the records picked by ``keys`` and ``where``."""

    entity: str
    field: str
    value: str | None
    keys: tuple[str, ...] = ()
    where: Pairs = ()
    op: ClassVar[Op] = "set"

    @property
    def subject(self) -> tuple[str | None, str | None]:
        return self.entity, self.field

    @property
    def summary(self) -> str:
        parts = [] if self.value is None else [f"value={self.value}"]
        if self.keys:
            parts.append("keys " + ", ".join(self.keys))
        if self.where:
            parts.append("where " + ", ".join(f"{a}={b}" for a, b in self.where))
        return "; ".join(parts)


@dataclass(frozen=True)
class FillRule(SetRule):
    """Like :class:`SetRule`, writing only blank fields."""

    op: ClassVar[Op] = "fill"


@dataclass(frozen=True)
class LedgerRule(_Rule):
    """Apply the district's customization ledger (its kept field overrides)."""

    op: ClassVar[Op] = "ledger"


@dataclass(frozen=True)
class RenameColumnRule(_Rule):
    """Rename column ``old`` of ``file``'s header to ``new``."""

    file: str
    old: str
    new: str
    op: ClassVar[Op] = "rename-column"

    @property
    def subject(self) -> tuple[str | None, str | None]:
        return self.file, None

    @property
    def summary(self) -> str:
        return f"old={self.old}; new={self.new}"


@dataclass(frozen=True)
class RekeyRule(_Rule):
    """Change ``entity``'s ID ``old`` to ``new`` everywhere it is referenced."""

    entity: str
    old: str
    new: str
    op: ClassVar[Op] = "rekey"

    @property
    def subject(self) -> tuple[str | None, str | None]:
        return self.entity, None

    @property
    def summary(self) -> str:
        return f"old={self.old}; new={self.new}"


Rule = DropRule | MapRule | SetRule | LedgerRule | RenameColumnRule | RekeyRule


@dataclass(frozen=True)
class RuleSet:
    """A validated rules file: its rules in order and the file's identity."""

    name: str
    sha256: str
    rules: tuple[Rule, ...]
    district: str | None = None
    path: Path | None = field(default=None, compare=False)


def rule_lines(text: str) -> list[int]:
    """1-based line numbers of every ``[[rules]]`` header (tomllib keeps no line numbers)."""
    lines = []
    in_multiline: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_multiline is None and _RULE_HEADER.match(line):
            lines.append(number)
        for quote in ('"""', "'''"):
            if line.count(quote) % 2 and in_multiline in (None, quote):
                in_multiline = None if in_multiline else quote
    return lines


def load_rules(path: str | Path, *, district: str | None = None) -> RuleSet:
    """Read and validate a rules file; ``district`` must match its ``district`` key if set."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RulesError(f"cannot read rules file {path} ({exc.strerror}): check --rules") from exc
    return parse_rules(data, name=path.name, district=district, path=path)


def parse_rules(
    data: bytes, *, name: str, district: str | None = None, path: Path | None = None
) -> RuleSet:
    """Validate rules given as TOML bytes (see the module docstring for the format)."""
    try:
        text = data.decode("utf-8")
        parsed = tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RulesError(f"{name} is not valid TOML ({exc}): fix the file") from exc
    unknown = sorted(set(parsed) - {"district", "rules"})
    if unknown:
        raise RulesError(
            f"{name}: unknown top-level key(s) {', '.join(unknown)}: only district and "
            "[[rules]] tables belong there"
        )
    declared = parsed.get("district")
    if declared is not None and not isinstance(declared, str):
        raise RulesError(f'{name}: district must be a string (district = "maple")')
    if declared and district and declared != district:
        raise RulesError(
            f"{name} is written for district {declared}, not {district}: pick that district's "
            "rules file"
        )
    tables = parsed.get("rules", [])
    lines = rule_lines(text)
    if not isinstance(tables, list) or len(lines) != len(tables):
        raise RulesError(
            f"{name}: write every rule as its own [[rules]] table (found {len(lines)} "
            "[[rules]] header(s))"
        )
    rules = tuple(
        _rule(table, number, line, name)
        for number, (table, line) in enumerate(zip(tables, lines, strict=True), start=1)
    )
    return RuleSet(
        name=name,
        sha256=hashlib.sha256(data).hexdigest(),
        rules=rules,
        district=declared,
        path=path,
    )


class _Where:
    """Formats errors about one rule: the rules file, rule number, op and line."""

    def __init__(self, name: str, number: int, line: int, op: str | None) -> None:
        self.prefix = f"{name} line {line}, rule {number}" + (f" ({op})" if op else "")

    def error(self, problem: str) -> RulesError:
        return RulesError(f"{self.prefix}: {problem}")


def _suggest(word: str, choices: tuple[str, ...], otherwise: str | None = None) -> str:
    """``did you mean 'Grade'?`` for a near miss, else ``otherwise`` (default: the choices)."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return otherwise or f"use one of {', '.join(choices)}"


def _rule(table: Any, number: int, line: int, name: str) -> Rule:
    if not isinstance(table, dict):
        raise _Where(name, number, line, None).error("a rule must be a table of keys")
    op = table.get("op")
    if op not in OPS:
        problem = f"unknown op {op!r}: {_suggest(str(op), OPS)}"
        raise _Where(name, number, line, None).error(problem)
    where = _Where(name, number, line, op)
    required, optional = _KEYS[op]
    allowed = {"op", "reason", "when", *required, *optional}
    extra = sorted(set(table) - allowed)
    if extra:
        raise where.error(
            f"unknown key {extra[0]!r} for op {op}: allowed keys are {', '.join(sorted(allowed))}"
        )
    reason = table.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise where.error('every rule needs a reason: add reason = "why this is right"')
    for key in required:
        if key not in table:
            raise where.error(f"op {op} needs {key}: add {key} = ...")
    rule = _validated(op, (number, line, " ".join(reason.split())), table, where)
    if "when" not in table:
        return rule
    return replace(rule, when=_code(table, "when", where))


def _code(table: Mapping[str, Any], key: str, where: _Where) -> str:
    """A finding code of the catalogue (``code`` of drop, ``when`` of any rule)."""
    code = _string(table, key, where)
    if code not in spec.CATALOGUE:
        listed = "the codes are listed in docs/findings.md"
        raise where.error(
            f"unknown finding code {code!r}: {_suggest(code, tuple(spec.CATALOGUE), listed)}"
        )
    return code


def _string(table: Mapping[str, Any], key: str, where: _Where) -> str:
    value = table[key]
    if not isinstance(value, str):
        raise where.error(f"{key} must be a string")
    return value


def _blank_is_none(value: str) -> str | None:
    return value if value != "" else None


def _entity(table: Mapping[str, Any], where: _Where) -> spec.Entity:
    name = _string(table, "entity", where)
    if name not in spec.ENTITIES:
        raise where.error(f"unknown entity {name!r}: {_suggest(name, tuple(spec.ENTITIES))}")
    return spec.ENTITIES[name]


def _field(entity: spec.Entity, name: str, where: _Where, what: str = "field") -> str:
    """A field of the entity: a spec column, or an ``ext.*`` column where the entity has them."""
    if name in entity.columns:
        return name
    if name.startswith(spec.EXTENSION_PREFIX) and len(name) > len(spec.EXTENSION_PREFIX):
        if entity.extensions:
            return name
        raise where.error(f"{entity.name} has no ext.* columns, so {what} {name!r} cannot be used")
    owner = next(
        (e.name for e in spec.ENTITIES.values() if e.file == entity.file and name in e.columns),
        None,
    )
    if owner:
        raise where.error(f"{name} belongs to {owner}, not {entity.name}: use entity = {owner!r}")
    fields = f"its fields are {', '.join(entity.columns)}"
    raise where.error(
        f"{entity.name} has no {what} {name!r}: {_suggest(name, entity.columns, fields)}"
    )


def _pairs(table: Mapping[str, Any], key: str, where: _Where) -> Pairs:
    value = table[key]
    if not isinstance(value, dict) or not value:
        raise where.error(f'{key} must be a non-empty table, e.g. {key} = {{ K = "Kindergarten" }}')
    pairs = []
    for old, new in value.items():
        if not isinstance(new, str):
            raise where.error(f"{key}: the value for {old!r} must be a string")
        pairs.append((old, _blank_is_none(new)))
    return tuple(pairs)


def _validated(
    op: Op, common: tuple[int, int, str], table: Mapping[str, Any], where: _Where
) -> Rule:
    """The rule of ``op`` built from ``table``; ``common`` is (number, line, reason)."""
    match op:
        case "ledger":
            return LedgerRule(*common)
        case "rename-column":
            return _rename(common, table, where)
    entity = _entity(table, where)
    match op:
        case "drop":
            return DropRule(*common, entity=entity.name, code=_code(table, "code", where))
        case "rekey":
            if _id_field(entity) is None:
                raise where.error(
                    f"{entity.name} has no ID of its own to re-key: re-key the record it refers to"
                )
            old, new = _string(table, "from", where), _string(table, "to", where)
            if not old or not new or old == new:
                raise where.error("from and to must be two different, non-empty IDs")
            return RekeyRule(*common, entity=entity.name, old=old, new=new)
    field_name = _field(entity, _string(table, "field", where), where)
    if op == "map":
        return MapRule(
            *common, entity=entity.name, field=field_name, values=_pairs(table, "values", where)
        )
    value = _blank_is_none(_string(table, "value", where))
    if op == "fill" and value is None:
        raise where.error('fill writes blank fields, so value cannot be "": give a value')
    keys: tuple[str, ...] = ()
    if "key" in table and "keys" in table:
        raise where.error("give key or keys, not both")
    if "key" in table:
        keys = (_string(table, "key", where),)
    elif "keys" in table:
        raw = table["keys"]
        if not isinstance(raw, list) or not raw or not all(isinstance(k, str) for k in raw):
            raise where.error('keys must be a non-empty list of strings, e.g. keys = ["S-1"]')
        keys = tuple(raw)
    conditions: Pairs = ()
    if "where" in table:
        conditions = _pairs(table, "where", where)
        for name, _ in conditions:
            _field(entity, name, where, "where field")
    kind = FillRule if op == "fill" else SetRule
    return kind(
        *common, entity=entity.name, field=field_name, value=value, keys=keys, where=conditions
    )


def _rename(
    common: tuple[int, int, str], table: Mapping[str, Any], where: _Where
) -> RenameColumnRule:
    file_name = _string(table, "file", where)
    if file_name not in spec.FILES:
        raise where.error(f"unknown file {file_name!r}: {_suggest(file_name, tuple(spec.FILES))}")
    old, new = _string(table, "from", where), _string(table, "to", where)
    columns = tuple(f.name for f in spec.file_columns(file_name))
    extension = new.startswith(spec.EXTENSION_PREFIX) and len(new) > len(spec.EXTENSION_PREFIX)
    if new not in columns and not (extension and spec.file_allows_extensions(file_name)):
        listed = f"its columns are {', '.join(columns)}"
        raise where.error(
            f"{file_name} has no column {new!r} to rename to: {_suggest(new, columns, listed)}"
        )
    if not old or old == new:
        raise where.error("from must name the column as received, different from to")
    return RenameColumnRule(*common, file=file_name, old=old, new=new)


def _id_field(entity: spec.Entity) -> str | None:
    """The entity's own ID column (a key column that refers to no other entity)."""
    for name in entity.key:
        if name in entity.columns and entity.field(name).references is None:
            return name
    return None


def id_field(entity_name: str) -> str:
    """The own ID column of an entity that can be re-keyed (validated rules only)."""
    found = _id_field(spec.ENTITIES[entity_name])
    if found is None:
        raise ValueError(f"{entity_name} has no own ID")
    return found
