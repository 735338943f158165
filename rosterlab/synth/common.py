"""Shared helpers: spec-checked column names, file names, and a stable vectorised hash.

The hash is plain integer arithmetic in polars expressions (Lehmer steps and xor-shifts modulo
2**31 - 1), so a value depends only on (seed, purpose, index) and stays byte-identical across
polars versions and machines — unlike ``Expr.hash``, whose output polars does not promise to keep.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import polars as pl

from rosterlab import spec

Frames = dict[str, pl.DataFrame]
"""One night's files: spec file name → its rows as written (all String, null = empty cell)."""

MODULUS = 2**31 - 1


class Columns:
    """The column names of one spec entity as attributes, checked against the spec.

    ``STU.DOB`` is ``"DOB"``; a name the spec does not have raises ``AttributeError`` at import
    time, so a spec rename breaks the generator loudly instead of silently.
    """

    def __init__(self, entity: str) -> None:
        self._entity = entity
        self._names = frozenset(spec.ENTITIES[entity].columns)

    def __getattr__(self, name: str) -> str:
        if name.startswith("_") or name not in self._names:
            raise AttributeError(f"spec entity {self._entity} has no column {name}")
        return name


SCH = Columns("schools")
STU = Columns("students")
CON = Columns("contacts")
TEA = Columns("teachers")
SEC = Columns("sections")
ENR = Columns("enrollments")
STF = Columns("staff")

SCHOOLS_CSV = spec.ENTITIES["schools"].file
STUDENTS_CSV = spec.ENTITIES["students"].file
TEACHERS_CSV = spec.ENTITIES["teachers"].file
SECTIONS_CSV = spec.ENTITIES["sections"].file
ENROLLMENTS_CSV = spec.ENTITIES["enrollments"].file
STAFF_CSV = spec.ENTITIES["staff"].file


def salt(seed: int, purpose: str) -> int:
    """A stable integer in [0, 2**31 - 1) for (seed, purpose)."""
    return zlib.crc32(f"{seed}:{purpose}".encode()) % MODULUS


def with_hash(
    frame: pl.LazyFrame, index: pl.Expr, seed: int, stream: str, name: str = "_h"
) -> pl.LazyFrame:
    """Add column ``name``: a well-mixed Int64 in [0, 2**31) per (seed, stream, ``index``).

    The rounds are separate steps so that no expression tree repeats itself; :func:`draw`
    then derives any number of independent values from the column cheaply.
    """
    h = pl.col(name)
    start = ((index.cast(pl.Int64) % MODULUS + 1) * 40503 + salt(seed, stream)) % MODULUS
    frame = frame.with_columns(start.alias(name))
    for mult, shift in ((48271, 65536), (69621, 8192), (48271, 2048)):
        frame = frame.with_columns(((h * mult) % MODULUS).alias(name))
        frame = frame.with_columns(h.xor(h // shift).alias(name))
    return frame


def draw(h: pl.Expr, purpose: str) -> pl.Expr:
    """An Int64 in [0, 2**31 - 1) from a :func:`with_hash` column, independent per purpose."""
    mult = 2 + zlib.crc32(purpose.encode()) % (MODULUS - 3)
    add = zlib.crc32(purpose.encode()[::-1]) % MODULUS
    return (h * mult + add) % MODULUS


def pick(values: Sequence[str], r: pl.Expr) -> pl.Expr:
    """``values[r % len(values)]`` as a String expression."""
    return pl.lit(pl.Series(list(values), dtype=pl.String)).gather(r % len(values))


def weighted(choices: Sequence[tuple[str, int]], r: pl.Expr) -> pl.Expr:
    """A value drawn with integer weights (``("Y", 14), ("N", 86)``) by ``r``."""
    return pick([value for value, weight in choices for _ in range(weight)], r)


def digits(r: pl.Expr, width: int) -> pl.Expr:
    """``width`` decimal digits, leading zeros kept (``r`` modulo 10**width, zero-filled)."""
    return (r % (10**width)).cast(pl.String).str.zfill(width)


def number_of(ids: pl.Expr) -> pl.Expr:
    """The trailing number of an ID like ``S-100042`` (null when it has none)."""
    return ids.str.extract(r"(\d+)$").cast(pl.Int64)


def ordered(frame: pl.DataFrame, file: str) -> pl.DataFrame:
    """Columns in spec order (only those present), then ``ext.*`` and unknown columns."""
    spec_order = [f.name for f in spec.file_columns(file) if f.name in frame.columns]
    rest = [c for c in frame.columns if c not in spec_order]
    return frame.select(spec_order + rest)
