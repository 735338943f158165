"""The spec's typed vocabularies say exactly what the format uses."""

from __future__ import annotations

from typing import get_args

from rosterlab import spec


def test_every_field_kind_is_used_and_every_field_has_one():
    used = {f.kind for entity in spec.ENTITIES.values() for f in entity.fields}
    assert sorted(used) == sorted(get_args(spec.FieldKind))
