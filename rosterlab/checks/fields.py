"""Field customizations: a profile of every received column per snapshot, compared over time.

A profile holds, per file and received column: rows, filled values, distinct values (exact up to
:data:`EXACT_DISTINCT_ROWS` rows, a HyperLogLog estimate above) and the mix of value *patterns*
in a sample of rows — digits become ``9`` and runs of letters ``A``, so ``09/03/2026`` is
``99/99/9999``, ``2026-09-03`` is ``9999-99-99``, grade ``9`` is ``9`` and ``09`` is ``99``.
Profiles are computed in DuckDB from the staging views and kept in ``field_profiles`` with the
:data:`PROFILE_VERSION` that drew their sample: two nights' pattern mixes are only compared when
drawn the same way (see :func:`outdated`).

Comparing a snapshot's profile with the previous one yields ``column-dropped``,
``column-added``, ``column-emptied`` and ``format-shift`` (thresholds in
:class:`~rosterlab.checks.model.CheckSettings`); hints are worded for the district's sync type.
The reader already reports the header-level customizations (``extension-column``,
``misspelled-column``), and a column explained by a misspelling is not reported again.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rosterlab import spec
from rosterlab.checks.model import CheckContext, CheckSettings, Committed
from rosterlab.checks.sql import Sql, field_of
from rosterlab.spec import Finding, finding
from rosterlab.store import (
    SnapshotInfo,
    StagedFile,
    Store,
    positional,
    quote_ident,
    stage_snapshot,
)
from rosterlab.store.outcomes import live_before, same_kind

EXACT_DISTINCT_ROWS = 100_000
# How the pattern sample of a file larger than the sample is drawn, kept with every profile:
# 1 — DuckDB's seeded reservoir sample of the staged rows (single-threaded, ~0.1 s at 480k rows);
# 2 — the rows that come first by the hash of their record's id, then by their values
#     (:func:`_draw_sample`): the same records night after night, whatever the file's row order.
# A DuckDB upgrade that changes hash() changes version 2's samples: it is a new version
# (tests/test_checks_fields.py pins a hash).
PROFILE_VERSION = 2
# The filter on the id's hash keeps about this many times the sample's rows; the first are taken.
SAMPLE_MARGIN = 1.25
SAMPLE_TABLE = "_check_pattern_sample"
PATTERN_LENGTH = 40
PROFILE_BATCH = 64  # columns profiled per query: bounds memory and time on very wide files
# Digits (ASCII, as [0-9]) → 9, then runs of letters (any script) → A; capped so free text stays
# one short shape. translate() does the digits at a fraction of a second regular expression's cost.
PATTERN_SQL = "left(regexp_replace(translate(v, '012345678', '999999999'), '\\pL+', 'A', 'g'), {n})"

HISTORY_CODES = (
    "column-dropped",
    "column-added",
    "column-emptied",
    "format-shift",
    "format-restored",
)
# Header findings of the reader that describe a field customization (shown by ``fields``).
HEADER_CODES = (
    "missing-column",
    "missing-column-unconfirmed",
    "misspelled-column",
    "unknown-column",
    "extension-column",
    "extension-not-allowed",
)


@dataclass(frozen=True)
class FieldProfile:
    """One received column of one file in one snapshot."""

    file: str
    field: str
    position: int
    rows: int
    filled: int
    distinct: int
    sampled: int  # filled values whose pattern was counted
    patterns: tuple[tuple[str, int], ...]  # most common first
    version: int = PROFILE_VERSION  # how the sample was drawn
    distinct_estimated: bool = False  # ``distinct`` is a HyperLogLog estimate (big files)

    @property
    def partial(self) -> bool:
        """Whether the pattern mix counts a sample of the filled values (not every one)."""
        return self.sampled < self.filled

    @property
    def fill_rate(self) -> float | None:
        return self.filled / self.rows if self.rows else None

    @property
    def pattern(self) -> str | None:
        """The most common value pattern."""
        return self.patterns[0][0] if self.patterns else None

    @property
    def entity(self) -> str:
        return spec.entity_of_column(self.file, self.field).name


def profile_file(
    store: Store,
    staged: StagedFile,
    sample: int,
    known: Mapping[str, str] | None = None,
    versions: Sql | None = None,
    committed: Committed | None = None,
) -> list[FieldProfile]:
    """Profile one staged file: fill, distinct values and a pattern mix per column, in SQL.

    ``known`` maps columns to tables of their distinct values that the checks already made
    (their exact count is then free). ``versions``: the versions present tonight of the record
    a file repeats over several rows (students.csv: a row per contact; :func:`record_versions`),
    whose own columns' distinct values are counted over them instead of the rows;
    ``committed`` runs a query of those (a check's :meth:`CheckContext.committed_rows`).
    """
    positions = staged.columns.received_positions()  # a duplicated header is profiled once
    if not positions:
        return []
    rows = int(store.rows(f"SELECT count(*) FROM {staged.view}")[0][0])
    columns = [positional(p) for p in positions.values()]
    counted: dict[str, list[tuple[str, int]]] = {c: [] for c in columns}
    known_ = known or {}
    if rows <= sample:
        # The whole file is the sample: one pass over its distinct values gives the fill, the
        # distinct count and the pattern mix (a value's pattern splits the distinct values).
        distinct = dict.fromkeys(columns, 0)
        for column, shape, count, values in _patterns(store, staged.view, columns):
            counted[column].append((shape, count))
            distinct[column] += values
        stats = [n for c in columns for n in (sum(n for _, n in counted[c]), distinct[c])]
    else:
        distinct_of = [
            ("known", known_[name])
            if name in known_
            else ("versions", quote_ident(name))
            if versions is not None and _record_column(staged, name)
            else ("rows", column)
            for name, column in zip(positions, columns, strict=True)
        ]
        committed = committed or (lambda sql, params: lambda: store.rows(sql, params))
        stats = _stats(store, staged.view, rows, columns, distinct_of, versions, committed)
        _draw_sample(store, staged, columns, rows, sample)
        for column, shape, count, _ in _patterns(store, SAMPLE_TABLE, columns):
            counted[column].append((shape, count))
        store.execute(f"DROP TABLE {SAMPLE_TABLE}")
    return [
        FieldProfile(
            file=staged.spec_name,
            field=name,
            position=position,
            rows=rows,
            filled=int(stats[2 * i]),
            distinct=int(stats[2 * i + 1]),
            sampled=sum(n for _, n in counted[columns[i]]),
            patterns=tuple(counted[columns[i]]),
            distinct_estimated=rows > max(sample, EXACT_DISTINCT_ROWS) and name not in known_,
        )
        for i, (name, position) in enumerate(positions.items())
    ]


def sample_column(file_name: str) -> str:
    """The column whose hash orders a file's pattern sample: its record's own id — the key's
    last column that is not a school (enrollments: Student_id; teachers: Teacher_id).

    One column: hashing both of an enrollment's key columns cost more than the reservoir sample
    it replaces (2.4 M rows); a school would put whole schools in or out of the sample.
    """
    entity = spec.ENTITIES[spec.entity_of_file(file_name)]
    own = [c for c in entity.key if entity.field(c).references != "schools"]
    return own[-1]


def _draw_sample(
    store: Store, staged: StagedFile, columns: Sequence[str], rows: int, size: int
) -> None:
    """Keep ``size`` of the file's ``rows`` staged rows in :data:`SAMPLE_TABLE`: those that
    come first by the hash of their record's id (:func:`sample_column`), then by their values.

    The sample depends on the rows' content only (the same night gives the same sample, and the
    same records are sampled night after night whatever the file's order), and holds only rows
    of the staging view (malformed and blank rows stay out). It is kept in a table first:
    unpivoting a sampling subquery re-reads the file. A filter on the id's hash alone keeps
    about :data:`SAMPLE_MARGIN` × ``size`` rows, so only those rows' other columns are read;
    when it keeps too few (an id blank or repeated on most rows) the whole file is ordered.
    """
    key = staged.columns.value(sample_column(staged.spec_name))
    chosen = ", ".join(columns)
    select = f"CREATE OR REPLACE TEMP TABLE {SAMPLE_TABLE} AS SELECT {chosen} FROM {staged.view}"
    first = f"ORDER BY hash({key}), {chosen} LIMIT {int(size)}"
    bound = min(2**64 - 1, int(2**64 * SAMPLE_MARGIN * size / rows))
    store.execute(f"{select} WHERE hash({key}) <= {bound}::UBIGINT {first}")
    if int(store.rows(f"SELECT count(*) FROM {SAMPLE_TABLE}")[0][0]) < size:
        store.execute(f"{select} {first}")


def record_versions(store: Store, snapshot: SnapshotInfo, staged: StagedFile) -> Sql | None:
    """SQL of the versions present in ``snapshot`` of the record ``staged`` repeats over several
    rows (students.csv: a row per contact; None for a file of one entity).

    The store keeps one version per distinct record-level row, so they hold every value of the
    record's columns that any row holds: the same distinct values, from 300,000 versions
    instead of 479,672 rows, read from the store's compressed table.
    """
    entities = spec.FILES[staged.spec_name].entities
    if len(entities) == 1:
        return None
    return store.entity_in(snapshot, entities[0])


def _record_column(staged: StagedFile, name: str) -> bool:
    """Whether a received column is a spec column of the file's record (kept in its versions)."""
    record = spec.FILES[staged.spec_name].entities[0]
    return (
        name in staged.columns.spec_positions
        and spec.entity_of_column(staged.spec_name, name).name == record
    )


def _stats(
    store: Store,
    view: str,
    rows: int,
    columns: Sequence[str],
    distinct_of: Sequence[tuple[str, str]],
    versions: Sql | None,
    committed: Committed,
) -> list[Any]:
    """Filled and distinct values per column, in batches of :data:`PROFILE_BATCH` columns.

    Each column's fill is counted over the rows; its distinct values (``distinct_of``) come
    from a table of them the checks made (``known``), the record's ``versions`` or the rows.
    The count is exact up to :data:`EXACT_DISTINCT_ROWS` rows, a HyperLogLog estimate above:
    the estimate depends on the set of values only, so versions and rows give the same number.
    ``committed`` runs the versions' query (the store's tables), perhaps beside the rows'.
    """
    distinct = "count(DISTINCT {})" if rows <= EXACT_DISTINCT_ROWS else "approx_count_distinct({})"
    # Columns go in batches: one query over hundreds of columns (a file with 500 ext.* columns)
    # needs memory for all their distinct sets at once, and took seconds per hundred columns.
    stats: list[Any] = []
    for start in range(0, len(columns), PROFILE_BATCH):
        batch = range(start, min(start + PROFILE_BATCH, len(columns)))
        over_rows: list[str] = []
        over_versions: list[str] = []
        for i in batch:
            how, what = distinct_of[i]
            over_rows.append(f"count({columns[i]})")
            if how == "known":
                over_rows.append(f"(SELECT count(*) FROM {what})")
            else:
                (over_versions if how == "versions" else over_rows).append(distinct.format(what))
        counted_versions = None
        if over_versions and versions is not None:  # committed tables: beside the rows' pass
            source, params = versions
            sql = f"SELECT {', '.join(over_versions)} FROM {source}"
            counted_versions = committed(sql, params)
        counted = iter(store.rows(f"SELECT {', '.join(over_rows)} FROM {view}")[0])
        from_versions = iter(counted_versions()[0] if counted_versions else ())
        for i in batch:
            stats.append(next(counted))
            stats.append(next(from_versions if distinct_of[i][0] == "versions" else counted))
    return stats


def _patterns(
    store: Store, source: str, columns: Sequence[str]
) -> Iterator[tuple[str, str, int, int]]:
    """(column, pattern, values, distinct values) of ``source``'s filled values, most common
    pattern first per column, in batches of :data:`PROFILE_BATCH` columns."""
    pattern = PATTERN_SQL.format(n=PATTERN_LENGTH)
    for start in range(0, len(columns), PROFILE_BATCH):
        batch = ", ".join(columns[start : start + PROFILE_BATCH])
        for column, shape, count, values in store.rows(
            f"SELECT col, {pattern} AS p, sum(n) AS n, count(*) FROM (SELECT col, v, count(*) "
            f"AS n FROM (UNPIVOT (SELECT {batch} FROM {source}) ON COLUMNS(*) INTO NAME col "
            "VALUE v) GROUP BY ALL) GROUP BY ALL ORDER BY col, n DESC, p"
        ):
            yield column, shape, int(count), int(values)


def _save(store: Store, snapshot_id: int, profiles: Sequence[FieldProfile]) -> None:
    store.execute("DELETE FROM field_profiles WHERE snapshot_id = ?", [snapshot_id])
    if not profiles:
        return
    # One statement over parallel lists: a prepared INSERT per column cost ~1 ms each.
    store.execute(
        "INSERT INTO field_profiles SELECT ?, unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
        "unnest(?::INTEGER[]), unnest(?::BIGINT[]), unnest(?::BIGINT[]), unnest(?::BIGINT[]), "
        "unnest(?::BIGINT[]), MAP(unnest(?::VARCHAR[][]), unnest(?::BIGINT[][])), "
        "unnest(?::INTEGER[]), unnest(?::BOOLEAN[])",
        [
            snapshot_id,
            [p.file for p in profiles],
            [p.field for p in profiles],
            [p.position for p in profiles],
            [p.rows for p in profiles],
            [p.filled for p in profiles],
            [p.distinct for p in profiles],
            [p.sampled for p in profiles],
            [[s for s, _ in p.patterns] for p in profiles],
            [[n for _, n in p.patterns] for p in profiles],
            [p.version for p in profiles],
            [p.distinct_estimated for p in profiles],
        ],
    )


def stored_profiles(store: Store, snapshot_id: int) -> list[FieldProfile] | None:
    """The kept profile of a snapshot (None when it was never profiled)."""
    if not store.rows("SELECT 1 FROM check_runs WHERE snapshot_id = ?", [snapshot_id]) and not (
        store.rows("SELECT 1 FROM field_profiles WHERE snapshot_id = ? LIMIT 1", [snapshot_id])
    ):
        return None
    rows = store.rows(
        "SELECT file, field, position, rows, filled, distinct_values, sampled, "
        "map_keys(patterns), map_values(patterns), version, distinct_estimated FROM field_profiles "
        "WHERE snapshot_id = ? ORDER BY file, position",
        [snapshot_id],
    )
    found = []
    for file, field, position, n, filled, distinct, sampled, shapes, counts, *how in rows:
        ranked = sorted(zip(shapes or [], counts or [], strict=True), key=lambda x: (-x[1], x[0]))
        found.append(
            FieldProfile(file, field, position, n, filled, distinct, sampled, tuple(ranked), *how)
        )
    return found


def profile_snapshot(
    store: Store,
    snapshot_id: int,
    staged: Mapping[str, StagedFile],
    settings: CheckSettings,
    ctx: CheckContext | None = None,
    *,
    keep: bool = True,
) -> list[FieldProfile]:
    """Profile a staged snapshot and keep the profile (when the store is writable and ``keep``).

    During a check run, ``ctx`` lends the distinct-value tables the other checks made.
    """
    profiles = []
    snapshot = store.snapshot(snapshot_id)
    for staged_file in staged.values():
        known = {}
        if ctx is not None:
            for column in staged_file.columns.spec_positions:
                table = ctx.distinct_table(staged_file, column)
                if table is not None:
                    known[column] = table
        versions = record_versions(store, snapshot, staged_file)
        committed = ctx.committed_rows if ctx is not None else None
        profiles += profile_file(
            store, staged_file, settings.pattern_sample, known, versions, committed
        )
    if keep and not store.read_only:
        _save(store, snapshot_id, profiles)
    return profiles


def outdated(profiles: Sequence[FieldProfile]) -> bool:
    """Whether a kept profile would not compare like with like with one drawn the current way:
    an older :data:`PROFILE_VERSION` drew the sample behind a column's pattern mix. (A mix that
    counts every filled value is the same whichever way the sample was drawn.)"""
    return any(p.version != PROFILE_VERSION and p.partial for p in profiles)


def snapshot_profiles(
    store: Store, snapshot_id: int, settings: CheckSettings, *, current: bool = False
) -> list[FieldProfile]:
    """A snapshot's profile: kept, or computed now (this re-stages the snapshot).

    ``current``: a kept profile that is :func:`outdated` is computed again the current way from
    the kept raw files (and kept), so that tonight's profile is compared with one drawn alike.
    """
    kept = stored_profiles(store, snapshot_id)
    if kept is not None and not (current and outdated(kept)):
        return kept
    return profile_snapshot(store, snapshot_id, stage_snapshot(store, snapshot_id), settings)


def _distance(before: FieldProfile, after: FieldProfile) -> float:
    """Total variation distance between two pattern mixes (0 same shapes, 1 all different)."""
    a = {s: n / before.sampled for s, n in before.patterns}
    b = {s: n / after.sampled for s, n in after.patterns}
    return sum(abs(a.get(s, 0.0) - b.get(s, 0.0)) for s in a.keys() | b.keys()) / 2


def field_changes(
    previous: Sequence[FieldProfile],
    current: Sequence[FieldProfile],
    header: Sequence[Finding],
    *,
    sync_type: str | None,
    settings: CheckSettings,
    earlier: Sequence[Sequence[FieldProfile]] = (),
) -> list[Finding]:
    """column-dropped/-added/-emptied and format-shift of ``current`` against ``previous``.

    ``earlier``: the profiles of the snapshots before ``previous``, newest first. A shift back
    to the pattern a column had before it last changed is ``format-restored`` (a correction,
    info), not a new shift.

    Only files present on both nights are compared (a missing file is a file finding). A
    column the reader reports as a misspelling (``Iep_status`` for ``IEP_status``) is not also
    reported as dropped and added; a required column that is gone is ``missing-column``.
    """
    before = {(p.file, p.field): p for p in previous}
    after = {(p.file, p.field): p for p in current}
    files = {p.file for p in previous} & {p.file for p in current}
    misspelled = {
        (spec.ENTITIES[f.entity].file, name)
        for f in header
        if f.code == "misspelled-column" and f.entity
        for name in (f.field, f.value)
    }
    found: list[Finding] = []

    def make(code: str, file: str, column: str, **context: Any) -> Finding:
        return finding(
            code,
            entity=spec.entity_of_column(file, column).name,
            field=column,
            sync_type=sync_type,
            file=file,
            **context,
        )

    for (file, column), old in before.items():
        spec_field = field_of(file, column)
        if file not in files or (file, column) in misspelled:
            continue
        new = after.get((file, column))
        if new is None:
            if spec_field is None or not spec_field.required:
                found.append(make("column-dropped", file, column))
            continue
        if (
            old.fill_rate is not None
            and new.fill_rate is not None
            and old.fill_rate >= settings.emptied_min_fill
            and new.fill_rate <= old.fill_rate * settings.emptied_ratio
        ):
            found.append(
                make("column-emptied", file, column, before=old.fill_rate, after=new.fill_rate)
            )
        elif (
            min(old.sampled, new.sampled) >= settings.shift_min_values
            and _distance(old, new) >= settings.shift_distance
        ):
            restored = _pattern_before(earlier, file, column, old.pattern) == new.pattern
            found.append(
                finding(
                    "format-restored" if restored else "format-shift",
                    entity=spec.entity_of_column(file, column).name,
                    field=column,
                    value=new.pattern,
                    sync_type=sync_type,
                    file=file,
                    before=old.pattern,
                    after=new.pattern,
                )
            )
    for (file, column), _new in after.items():
        if file in files and (file, column) not in before and (file, column) not in misspelled:
            found.append(make("column-added", file, column))
    order = {name: i for i, name in enumerate(spec.FILES)}
    return sorted(found, key=lambda f: (order.get(_file_of(f), 99), HISTORY_CODES.index(f.code)))


def _pattern_before(
    earlier: Sequence[Sequence[FieldProfile]], file: str, column: str, pattern: str | None
) -> str | None:
    """The column's pattern before it became ``pattern`` (None: it never had another)."""
    for profiles in earlier:
        for p in profiles:
            if (p.file, p.field) == (file, column) and p.pattern != pattern:
                return p.pattern
    return None


def _file_of(f: Finding) -> str:
    return spec.ENTITIES[f.entity].file if f.entity else ""


def check_fields(ctx: CheckContext) -> list[Finding]:
    """Profile tonight's columns (or keep the profile a check lane made) and compare them with
    the previous snapshot's."""
    current = list(ctx.profiled)
    if not current:
        current = profile_snapshot(ctx.store, ctx.snapshot.id, ctx.staged, ctx.settings, ctx)
    elif not ctx.store.read_only:
        _save(ctx.store, ctx.snapshot.id, current)
    if ctx.previous is None:
        return []
    previous = ctx.previous_profiles
    assert previous is not None, "run_checks profiles the previous snapshot before staging"
    header = ctx.store.findings(ctx.snapshot.id, "ingest")
    earlier = [
        profiles
        for s in reversed(ctx.store.snapshots(ctx.snapshot.district))
        if s.seq < ctx.previous.seq and same_kind(s, ctx.previous)
        if (profiles := stored_profiles(ctx.store, s.id)) is not None
    ]
    return field_changes(
        previous,
        current,
        header,
        sync_type=ctx.snapshot.sync_type,
        settings=ctx.settings,
        earlier=earlier,
    )


@dataclass(frozen=True)
class FieldRow:
    """One column of one file across a district's snapshots (None where the file was absent)."""

    file: str
    entity: str
    field: str
    in_spec: bool
    required: bool
    extension: bool
    present: tuple[bool, ...]
    fill_rate: tuple[float | None, ...]
    distinct: tuple[int | None, ...]
    distinct_estimated: tuple[bool | None, ...]  # the night's distinct count is an estimate
    pattern: tuple[str | None, ...]


@dataclass(frozen=True)
class FieldMatrix:
    """The field × night matrix of a district and its field-customization flags."""

    district: str
    snapshots: tuple[SnapshotInfo, ...]
    fields: tuple[FieldRow, ...]
    flags: tuple[tuple[int, Finding], ...]  # (snapshot id, finding)


def field_matrix(store: Store, district: str, settings: CheckSettings | None = None) -> FieldMatrix:
    """Every received column of every snapshot of ``district``, with the nightly flags.

    Snapshots never profiled (ingested before checks ran) are profiled now, once; so are the
    :func:`outdated` profiles when the history holds profiles drawn another way, so that every
    pair of nights is compared like with like.
    """
    settings = settings or CheckSettings()
    history = tuple(store.snapshots(district))
    profiles = [snapshot_profiles(store, s.id, settings) for s in history]
    if len({p.version for night in profiles for p in night}) > 1:
        profiles = [
            snapshot_profiles(store, s.id, settings, current=True) if outdated(night) else night
            for s, night in zip(history, profiles, strict=True)
        ]
    spec_order = {
        (file, f.name): i for file in spec.FILES for i, f in enumerate(spec.file_columns(file))
    }
    seen: dict[tuple[str, str], tuple[int, int, int]] = {}
    for night, night_profiles in enumerate(profiles):
        for p in night_profiles:
            order = spec_order.get((p.file, p.field), len(spec_order) + night * 1000 + p.position)
            seen.setdefault((p.file, p.field), (list(spec.FILES).index(p.file), order, night))
    by_night = [{(p.file, p.field): p for p in night} for night in profiles]
    rows = []
    for file, column in sorted(seen, key=seen.__getitem__):
        spec_field = field_of(file, column)
        cells = [night.get((file, column)) for night in by_night]
        rows.append(
            FieldRow(
                file=file,
                entity=spec.entity_of_column(file, column).name,
                field=column,
                in_spec=spec_field is not None,
                required=bool(spec_field and spec_field.required),
                extension=column.startswith(spec.EXTENSION_PREFIX),
                present=tuple(c is not None for c in cells),
                fill_rate=tuple(
                    None if c is None or c.fill_rate is None else round(c.fill_rate, 4)
                    for c in cells
                ),
                distinct=tuple(None if c is None else c.distinct for c in cells),
                distinct_estimated=tuple(c.distinct_estimated if c else None for c in cells),
                pattern=tuple(None if c is None else c.pattern for c in cells),
            )
        )
    flags: list[tuple[int, Finding]] = []
    index = {s.id: night for night, s in enumerate(history)}
    for night, snapshot in enumerate(history):
        header = store.findings(snapshot.id, "ingest")
        flags += [(snapshot.id, f) for f in header if f.code in HEADER_CODES]
        # compared as the checks compare it: with the state Clever served before it, of its kind
        previous = live_before(store, snapshot)
        if previous is not None:
            changes = field_changes(
                profiles[index[previous.id]],
                profiles[night],
                header,
                sync_type=snapshot.sync_type,
                settings=settings,
                earlier=[
                    profiles[i]
                    for i in range(index[previous.id] - 1, -1, -1)
                    if same_kind(history[i], previous)
                ],
            )
            flags += [(snapshot.id, f) for f in changes]
    return FieldMatrix(district, history, tuple(rows), tuple(flags))
