"""The spec's typed vocabularies say exactly what the format uses."""

from __future__ import annotations

import sys
from typing import get_args

from rosterlab import spec


def test_every_field_kind_is_used_and_every_field_has_one():
    used = {f.kind for entity in spec.ENTITIES.values() for f in entity.fields}
    assert sorted(used) == sorted(get_args(spec.FieldKind))


def test_white_space_is_every_character_python_strips():
    """The stand-in's blank (only white space) is what str.strip() removes, spelled out in the
    spec so no start-up walks every code point to find it."""
    computed = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
    assert computed == spec.WHITE_SPACE
    assert len(spec.WHITE_SPACE) == 29
