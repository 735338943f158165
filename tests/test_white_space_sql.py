"""A value of only white space is blank to the stand-in and the carried skips: the SQL test must
say exactly what Python's ``str.strip()`` says, whatever the value's first character."""

from __future__ import annotations

from rosterlab import spec
from rosterlab.store import Store
from rosterlab.store.sql import white_space_blank_sql

# Every white space alone and doubled; white space around a letter; the characters next to the
# first-byte guard's edges ("!" and U+0085) and a non-ASCII letter, alone and after a space.
VALUES = [
    *spec.WHITE_SPACE,
    *(c + c for c in spec.WHITE_SPACE),
    *(c + "a" for c in spec.WHITE_SPACE),
    *("a" + c for c in spec.WHITE_SPACE),
    "",
    "!",
    " !",
    "\x84",
    "\x86",
    "\x7f",
    "~",
    "É",
    " É",
    "\u3000\u3000x",
    "S-1",
]


def test_blank_is_what_strip_removes_for_every_first_character(tmp_path):
    with Store.open(tmp_path / "store.duckdb") as store:
        store.execute("CREATE TEMP TABLE v AS SELECT unnest(?::VARCHAR[]) AS v", [VALUES])
        got = dict(store.rows(f"SELECT v, {white_space_blank_sql('v')} FROM v"))
        assert store.rows(f"SELECT {white_space_blank_sql('NULL::VARCHAR')}") == [(True,)]
    assert got == {value: value.strip() == "" for value in VALUES}
    assert sum(got.values()) == 2 * len(spec.WHITE_SPACE) + 1
