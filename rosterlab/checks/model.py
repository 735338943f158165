"""The records of checking: a check declares its codes; a run yields a frozen result.

A :class:`Check` is a name, the finding codes it may emit, and a function from a
:class:`CheckContext` (the store, the snapshot, its staged files, the previous snapshot) to
findings. :class:`CheckResult` is what ``rosterlab check`` renders: every finding of the
snapshot (ingest and check stages), a summary, and the findings grouped by root cause.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rosterlab import spec
from rosterlab.config import DistrictSettings
from rosterlab.diff import DiffResult, HoldThresholds
from rosterlab.spec import Finding
from rosterlab.spec.findings import as_served
from rosterlab.store import Beside, SnapshotInfo, StagedFile, Store
from rosterlab.store.outcomes import API_ORIGIN, UnservedLater

if TYPE_CHECKING:
    from rosterlab.checks.fields import FieldProfile

_ENROLLMENTS = spec.ENTITIES["enrollments"]
# Columns whose distinct values are wanted together (an enrollment's section and school, for
# enrollment-school-mismatch): each column's distinct values derive from the pairs.
DISTINCT_TOGETHER: dict[str, tuple[str, ...]] = {
    _ENROLLMENTS.file: tuple(
        f.name for f in _ENROLLMENTS.fields if f.references in ("sections", "schools")
    )
}


Committed = Callable[[str, Sequence[Any] | None], Callable[[], list[tuple[Any, ...]]]]
"""Starts a query of the store's committed tables; the function it returns waits for the rows
(:meth:`CheckContext.committed_rows`)."""


@dataclass(frozen=True)
class CheckSettings:
    """Thresholds of the history checks (per district: :meth:`of` reads them from its settings).

    - ``column-emptied``: a column filled on at least ``emptied_min_fill`` of the previous
      night's rows whose fill rate tonight is at most ``emptied_ratio`` times that (it fell by
      half or more); settings ``column_emptied_min_fill`` and ``column_emptied_ratio``.
    - ``format-shift``: the total variation distance between the two nights' value-pattern
      mixes is at least ``shift_distance`` (half the values changed shape), with at least
      ``shift_min_values`` filled values on both nights; settings ``format_shift_share`` and
      ``format_shift_min_values``. Patterns come from a sample of at most ``pattern_sample``
      rows per file (every row of a smaller file).
    - holds: Clever's thresholds (``rosterlab.diff.HoldThresholds``).

    The defaults equal :class:`~rosterlab.config.DistrictSettings`'s.
    """

    emptied_ratio: float = 0.5
    emptied_min_fill: float = 0.2
    shift_distance: float = 0.5
    shift_min_values: int = 5
    pattern_sample: int = 5000
    hold: HoldThresholds = field(default_factory=HoldThresholds)

    def district_values(self) -> dict[str, float | int]:
        """These settings under their district setting names (as rosterlab.toml spells them)."""
        return {
            "hold_deletion_threshold": self.hold.deletion,
            "hold_update_threshold": self.hold.update,
            "column_emptied_ratio": self.emptied_ratio,
            "column_emptied_min_fill": self.emptied_min_fill,
            "format_shift_share": self.shift_distance,
            "format_shift_min_values": self.shift_min_values,
        }

    @classmethod
    def of(cls, district: DistrictSettings | None) -> CheckSettings:
        """The settings of a configured district (rosterlab.toml or its district.toml)."""
        if district is None:
            return cls()
        return cls(
            emptied_ratio=district.column_emptied_ratio,
            emptied_min_fill=district.column_emptied_min_fill,
            shift_distance=district.format_shift_share,
            shift_min_values=district.format_shift_min_values,
            hold=HoldThresholds.of(district),
        )


@dataclass(frozen=True)
class CheckContext:
    """What a check sees: one snapshot, its staged files, and the district's previous one.

    :meth:`distinct` keeps the distinct values of a column (or column tuple) in a temporary
    table for the whole run, so that the checks that need them — references, orphans, the
    profile — share one aggregation over a big file instead of each scanning it.
    """

    store: Store
    snapshot: SnapshotInfo
    previous: SnapshotInfo | None
    staged: Mapping[str, StagedFile]
    settings: CheckSettings
    tables: dict[tuple[str, tuple[str, ...]], str] = field(default_factory=dict, compare=False)
    # The files of the finding-row batches so far (rosterlab.checks.sql.find).
    batches: list[str] = field(default_factory=list, compare=False)
    # The previous snapshot's field profiles (rosterlab.checks.fields.FieldProfile).
    previous_profiles: Sequence[FieldProfile] | None = None
    # The diff the history check made (previous → snapshot), handed on in CheckResult.history.
    history: list[DiffResult] = field(default_factory=list, compare=False)
    # The store's second lane (Store.beside): queries of the store's committed tables (the
    # night's versions, not the staged files) run there while this connection goes on.
    beside: Beside | None = field(default=None, compare=False)
    # The upload outcome's records Clever does not serve, started beside once needed (a
    # writable store's run only: a reader records no outcome).
    unserved: UnservedLater | None = field(default=None, compare=False)
    # A check lane's own table for its finding rows (rosterlab.checks.lanes), None: the run's.
    rows_into: str | None = None
    # Tonight's field profile when a check lane made it (rosterlab.checks.lanes).
    profiled: list[FieldProfile] = field(default_factory=list, compare=False)

    def committed_rows(
        self, sql: str, params: Sequence[Any] | None = None
    ) -> Callable[[], list[tuple[Any, ...]]]:
        """Start a query of the store's committed tables beside the checks' own statements;
        the function returned waits for its rows (small results only)."""
        if self.beside is None:
            return lambda: self.store.rows(sql, params)
        return self.beside.rows(sql, params)

    def staged_of(self, entity: str) -> StagedFile | None:
        """The staged file holding ``entity`` (None when absent or unreadable tonight)."""
        return self.staged.get(spec.ENTITIES[entity].file)

    def distinct(self, staged: StagedFile, *columns: str) -> str:
        """A temporary table (``v0``, ``v1``, ...) of the distinct value tuples of ``columns``,
        with ``_rows``: how many rows hold each (as cheap as the distinct values alone).

        Rows whose columns are all blank are left out. A column of a file in
        :data:`DISTINCT_TOGETHER` derives from the tuple table of its group: one aggregation
        over the big file instead of one per column. Made outside a transaction, the table is
        in the store's staging catalog, which a check lane's connection sees too.
        """
        key = (staged.view, columns)
        if key in self.tables:
            return self.tables[key]
        together = DISTINCT_TOGETHER.get(staged.spec_name, ())
        if (
            len(columns) == 1
            and columns[0] in together
            and all(c in staged.columns.spec_positions for c in together)
        ):
            wide = self.distinct(staged, *together)
            name, create = self._new_table()
            i = together.index(columns[0])
            self.store.execute(
                f"{create} AS SELECT v{i} AS v0, sum(_rows) AS _rows "
                f"FROM {wide} WHERE v{i} IS NOT NULL GROUP BY 1"
            )
        else:
            name, create = self._new_table()
            values = [staged.columns.value(c) for c in columns]
            self.store.execute(
                f"{create} AS SELECT "
                + ", ".join(f"{v} AS v{i}" for i, v in enumerate(values))
                + f", count(*) AS _rows FROM {staged.view} WHERE "
                + " OR ".join(f"{v} IS NOT NULL" for v in values)
                + " GROUP BY ALL"
            )
        self.tables[key] = name
        return name

    def _new_table(self) -> tuple[str, str]:
        """The next distinct-values table's name and the SQL creating it (see :meth:`distinct`)."""
        name = f"_check_values_{len(self.tables)}"
        catalog = self.store.staging_catalog()
        if catalog is None:
            return name, f"CREATE OR REPLACE TEMP TABLE {name}"
        return f"{catalog}.main.{name}", f"CREATE OR REPLACE TABLE {catalog}.main.{name}"

    def distinct_table(self, staged: StagedFile, column: str) -> str | None:
        """The distinct-values table of one column, if a check already made it."""
        return self.tables.get((staged.view, (column,)))

    def drop_tables(self) -> None:
        for name in self.tables.values():
            self.store.execute(f"DROP TABLE IF EXISTS {name}")
        self.tables.clear()


@dataclass(frozen=True)
class Check:
    """A named check: the codes it may emit and the function that finds them."""

    name: str
    codes: tuple[str, ...]
    run: Callable[[CheckContext], list[Finding]]


@dataclass(frozen=True)
class Group:
    """Findings sharing one root cause (``sections/SEC-77``): fix it and they all go away."""

    cause: str
    codes: tuple[str, ...]
    count: int  # records (entity, key) the cause breaks
    findings: int
    severity: str

    @property
    def kind(self) -> str | None:
        """The root-cause kind (``school-number-as-id``, ``missing-record``…), if catalogued."""
        kind = spec.root_cause(self.codes)
        return kind.kind if kind else None

    def hint_for(self, cause: str) -> str | None:
        """The group's one hint, worded for ``cause`` (the group's own, or a masked copy)."""
        kind = spec.root_cause(self.codes)
        return kind.hint_for(cause) if kind else None

    @property
    def hint(self) -> str | None:
        """What fixes the whole group at once (the catalogue's hint for its kind)."""
        return self.hint_for(self.cause)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cause": self.cause,
            "codes": list(self.codes),
            "count": self.count,
            "findings": self.findings,
            "severity": self.severity,
            "kind": self.kind,
            "hint": self.hint,
        }


def group_by_cause(findings: Sequence[Finding]) -> tuple[Group, ...]:
    """Findings with a cause, grouped; the cause that breaks the most records comes first.

    A record is an (entity, key) pair; an aggregated finding adds its ``count`` records.
    """
    records: dict[str, set[tuple[str | None, str | None, int | None]]] = {}
    aggregated: Counter[str] = Counter()
    codes: dict[str, dict[str, None]] = {}
    counts: Counter[str] = Counter()
    worst: dict[str, str] = {}
    for f in findings:
        if f.cause is None:
            continue
        if f.key is None and f.count > 1:
            records.setdefault(f.cause, set())
            aggregated[f.cause] += f.count
        else:
            records.setdefault(f.cause, set()).add((f.entity, f.key, None if f.key else f.row))
        codes.setdefault(f.cause, {})[f.code] = None
        counts[f.cause] += 1
        current = worst.get(f.cause, f.severity)
        worst[f.cause] = min(current, f.severity, key=spec.SEVERITY_RANK.__getitem__)
    groups = [
        Group(
            cause,
            tuple(codes[cause]),
            len(records[cause]) + aggregated[cause],
            counts[cause],
            worst[cause],
        )
        for cause in records
    ]
    groups.sort(key=lambda g: (-g.count, spec.SEVERITY_RANK[g.severity], -g.findings, g.cause))
    return tuple(groups)


@dataclass(frozen=True)
class CheckResult:
    """Every finding of one snapshot (ingest + checks + history), and their root causes."""

    snapshot: SnapshotInfo
    findings: tuple[Finding, ...]
    groups: tuple[Group, ...]
    cached: bool  # True: the check findings came from the store's cache
    # The table holding the rows behind the findings (rosterlab.checks.details).
    details: str = "finding_row_lists"
    # The diff of the live state → this snapshot the history checks made (None: cached, or no
    # live state): a caller that reports the same diff reuses it (diff_snapshots(computed=…)).
    history: DiffResult | None = field(default=None, compare=False, repr=False)

    def summary(self) -> dict[str, Any]:
        """Counts per severity and per code (codes ordered most severe first, then by name)."""
        return spec.findings_summary(self.findings)

    def severity_counts(self) -> dict[str, int]:
        return spec.severity_counts(self.findings)


def worded_for(snapshot: SnapshotInfo, found: Sequence[Finding]) -> list[Finding]:
    """The findings worded for the snapshot: a pull's as records Clever serves (a blank
    required value was served, not skipped), an upload's as they are."""
    if snapshot.origin != API_ORIGIN:
        return list(found)
    return [as_served(f) for f in found]
