"""A fleet's Parquet results read back with DuckDB, and the morning status computed from them.

``rosterlab fleet run`` writes ``<root>/results/<table>/night=YYYY-MM-DD/district=<ID>/*.parquet``
(hive partitioning: night and district are folder names, not columns in the files). This module
reads ``outcomes`` and ``holds`` and computes a frozen :class:`FleetStatus` for one night
(*tonight*): the districts × nights outcome grid, tonight's predicted holds, each district's error
trend, and the districts to call first.

**The districts to call first**, in this order (a district is listed once, under its first tier):

1. ``not-processed`` or ``failed`` tonight: Clever will not process the upload, or rosterlab could
   not read it — nothing of tonight reaches the apps (more errors first);
2. ``held`` tonight: the sync waits for the district's approval (the biggest hold ratio first);
3. ``errors-climbing``: the error counts of the district's last three nights with a result
   (failed and no-upload nights have none) rise twice in a row, the last rise tonight (the
   biggest rise first);
4. ``rows-skipped`` tonight: processed, but Clever skips rows (the most rows first);
5. ``no-upload``: nothing arrived tonight.

Ties go by district id.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from rosterlab.errors import ConfigError, StoreError
from rosterlab.store.outcomes import HELD, NOT_PROCESSED, PROCESSED

RESULTS = "results"
# A fleet district's night: what Clever does with the upload (rosterlab.store.outcomes), or that
# the night could not be run (failed) or had nothing to run (no-upload). The one spelling of the
# vocabulary: the fleet (rosterlab.fleet) writes these, this module reads them.
FAILED = "failed"
NO_UPLOAD = "no-upload"
OUTCOMES = (PROCESSED, HELD, NOT_PROCESSED, FAILED, NO_UPLOAD)
ERRORS_CLIMBING = "errors-climbing"
ROWS_SKIPPED = "rows-skipped"
TIERS = (NOT_PROCESSED, FAILED, HELD, ERRORS_CLIMBING, ROWS_SKIPPED, NO_UPLOAD)
NIGHTS_SHOWN = 7
HIVE_TYPES = {"night": "DATE", "district": "VARCHAR"}
# The results contract (DuckDB types), the one source for the writer (rosterlab.fleet.results)
# and this reader; ``outcomes`` last, the order the writer writes them.
COLUMNS: dict[str, dict[str, str]] = {
    "findings_by_code": {
        "code": "VARCHAR",
        "severity": "VARCHAR",
        "file": "VARCHAR",
        "count": "BIGINT",
    },
    "holds": {
        "entity": "VARCHAR",
        "kind": "VARCHAR",
        "count": "BIGINT",
        "base": "BIGINT",
        "ratio": "DOUBLE",
        "threshold": "DOUBLE",
    },
    "diff_counts": {
        "entity": "VARCHAR",
        "added": "BIGINT",
        "removed": "BIGINT",
        "changed": "BIGINT",
        "unchanged": "BIGINT",
        "compared_with": "VARCHAR",
    },
    "snapshots": {
        "snapshot_id": "BIGINT",
        "taken_at": "TIMESTAMP",
        "origin": "VARCHAR",
        "files": "INTEGER",
        "rows": "BIGINT",
    },
    "outcomes": {
        "outcome": "VARCHAR",
        "reason": "VARCHAR",
        "snapshot_id": "BIGINT",
        "skipped_rows": "BIGINT",
        "may_skip_rows": "BIGINT",
        "carried_rows": "BIGINT",
        "errors": "BIGINT",
        "warnings": "BIGINT",
        "infos": "BIGINT",
        "bundle_sha256": "VARCHAR",
        "seconds": "DOUBLE",
        "attempts": "INTEGER",
        # the night's files or served data are the newest snapshot's: no new night
        "unchanged": "BOOLEAN",
        # a Data API district's night (NULL otherwise): events or full, the pages fetched, the
        # snapshot the events were applied to, why they were not (a full pull)
        "pulled_by": "VARCHAR",
        "pages_fetched": "BIGINT",
        "events_applied_to": "BIGINT",
        "events_not_applied": "VARCHAR",
    },
}


@dataclass(frozen=True)
class HoldPrediction:
    """A change big enough for Clever to hold tonight's upload (``ratio`` over ``threshold``)."""

    district: str
    entity: str
    kind: str
    count: int
    base: int
    ratio: float
    threshold: float


@dataclass(frozen=True)
class ErrorTrend:
    """A district's error counts per shown night (None: no result that night)."""

    district: str
    errors: tuple[int | None, ...]
    climbing: bool


@dataclass(frozen=True)
class CallFirst:
    """One district to call, its tier (see the module docstring) and why, in one line."""

    rank: int
    district: str
    tier: str
    why: str


@dataclass(frozen=True)
class ApiPullNight:
    """A Data API district's pull tonight: the snapshot it made, or matched (``unchanged``: no
    new night), and how — ``pulled_by`` events (``pages`` event pages applied to the pull of
    snapshot ``events_applied_to``) or full (``pages``; ``events_not_applied``: why)."""

    district: str
    snapshot_id: int | None
    unchanged: bool
    pulled_by: str
    pages: int
    events_applied_to: int | None
    events_not_applied: str | None


@dataclass(frozen=True)
class FleetStatus:
    """The fleet's status for ``night``: everything the views show, computed once.

    ``grid[i][j]`` is district ``districts[i]``'s outcome on ``nights[j]`` (None: no result);
    ``tonight`` counts tonight's outcomes (every outcome named, zeros included).
    """

    root: str
    night: date
    nights: tuple[date, ...]
    districts: tuple[str, ...]
    grid: tuple[tuple[str | None, ...], ...]
    tonight: tuple[tuple[str, int], ...]
    holds: tuple[HoldPrediction, ...]
    trends: tuple[ErrorTrend, ...]
    call_first: tuple[CallFirst, ...]
    # The fleet's districts without a result tonight: a run stopped (Ctrl-C) or not yet there.
    not_run: tuple[str, ...] = ()
    # Districts with results on the nights shown that the fleet no longer configures.
    unconfigured: tuple[str, ...] = ()
    # Tonight's Data API districts: how each night was pulled, by district.
    api_pulls: tuple[ApiPullNight, ...] = ()

    @property
    def configured(self) -> int:
        """How many districts the fleet has: those with a result shown that it still
        configures, and those not run tonight."""
        return len((set(self.districts) - set(self.unconfigured)) | set(self.not_run))


def results_glob(root: str | Path, table: str) -> str:
    """Every Parquet file of one results table (one per night and district)."""
    return str(Path(root) / RESULTS / table / "night=*" / "district=*" / "*.parquet")


def fleet_status(
    root: str | Path,
    night: date | None = None,
    nights: int = NIGHTS_SHOWN,
    *,
    paths_from: str | Path | None = None,
    fleet: Sequence[str] | None = None,
) -> FleetStatus:
    """The status of the fleet whose results live under ``root``, for ``night`` (default: the
    latest night with results), showing up to ``nights`` nights ending with it.

    Paths under ``paths_from`` (the fleet's folder) in the reasons are shown relative to it.
    ``fleet``: the fleet's district ids, to name those without a result tonight (default: the
    districts with a result on a night shown).
    """
    if nights < 1:
        raise ConfigError(f"--nights {nights}: show at least 1 night")
    con = duckdb.connect(":memory:")
    try:
        for table in COLUMNS:
            _load(con, root, table)
        known = [
            row[0]
            for row in con.execute("SELECT DISTINCT night FROM outcomes ORDER BY 1").fetchall()
        ]
        if not known:
            raise ConfigError(
                f"no fleet results under {Path(root) / RESULTS}: run `rosterlab fleet run` first"
            )
        tonight = known[-1] if night is None else night
        if tonight not in known:
            listed = ", ".join(d.isoformat() for d in known[-NIGHTS_SHOWN:])
            raise ConfigError(
                f"no fleet results for night {tonight.isoformat()}; nights with results (latest "
                f"{min(len(known), NIGHTS_SHOWN)}): {listed}. Run `rosterlab fleet run --night "
                f"{tonight.isoformat()}` first"
            )
        shown = tuple(d for d in known if d <= tonight)[-nights:]
        districts, grid, trends = _grid(con, shown)
        holds = _holds(con, tonight)
        ran = {
            row[0]
            for row in con.execute(
                "SELECT DISTINCT district FROM outcomes WHERE night = $tonight",
                {"tonight": tonight},
            ).fetchall()
        }
        return FleetStatus(
            root=str(root),
            night=tonight,
            nights=shown,
            districts=districts,
            grid=grid,
            tonight=_tonight(con, tonight),
            holds=holds,
            trends=trends,
            call_first=_call_first(con, tonight, holds, paths_from),
            not_run=tuple(sorted(set(districts if fleet is None else fleet) - ran)),
            unconfigured=tuple(sorted(set(districts) - set(fleet))) if fleet is not None else (),
            api_pulls=_api_pulls(con, tonight),
        )
    finally:
        con.close()


def _load(con: duckdb.DuckDBPyConnection, root: str | Path, table: str) -> None:
    """``table`` as a temporary table with its contract columns plus night and district."""
    columns = {**COLUMNS[table], **HIVE_TYPES}
    schema = ", ".join(f"{name} {kind}" for name, kind in columns.items())
    con.execute(f"CREATE TEMP TABLE {table} ({schema})")
    pattern = results_glob(root, table)
    if not any(Path(root, RESULTS, table).glob("night=*/district=*/*.parquet")):
        return
    try:
        # by name: a column written by a later version only reads NULL in the earlier files
        con.execute(
            f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet($pattern, "
            "hive_partitioning = true, hive_types = {'night': DATE, 'district': VARCHAR}, "
            "union_by_name = true)",
            {"pattern": pattern},
        )
    except duckdb.Error as exc:
        raise StoreError(
            f"cannot read the fleet's {table} results under {Path(root) / RESULTS / table} "
            f"({str(exc).splitlines()[0]}): re-run `rosterlab fleet run` for the nights affected"
        ) from exc


def _grid(
    con: duckdb.DuckDBPyConnection, shown: tuple[date, ...]
) -> tuple[tuple[str, ...], tuple[tuple[str | None, ...], ...], tuple[ErrorTrend, ...]]:
    """Per district (sorted): its outcome and errors on every shown night, aligned."""
    rows = con.execute(
        """
        WITH nights AS (SELECT unnest($nights::DATE[]) AS night),
        districts AS (
            SELECT DISTINCT district FROM outcomes WHERE night IN (SELECT night FROM nights)
        )
        SELECT d.district,
               list(o.outcome ORDER BY n.night),
               list(CASE WHEN o.outcome IN ('failed', 'no-upload') THEN NULL ELSE o.errors END
                    ORDER BY n.night)
        FROM districts d CROSS JOIN nights n
        LEFT JOIN outcomes o ON o.district = d.district AND o.night = n.night
        GROUP BY d.district ORDER BY d.district
        """,
        {"nights": list(shown)},
    ).fetchall()
    climbing = {row[0] for row in con.execute(_CLIMBING_SQL, {"tonight": shown[-1]}).fetchall()}
    districts = tuple(row[0] for row in rows)
    grid = tuple(tuple(row[1]) for row in rows)
    trends = tuple(ErrorTrend(row[0], tuple(row[2]), row[0] in climbing) for row in rows)
    return districts, grid, trends


# The last three nights with an error count, per district, up to tonight: (e2, e1, e0) oldest first.
_LAST_THREE_SQL = """
    WITH counted AS (
        SELECT district, night, errors,
               row_number() OVER (PARTITION BY district ORDER BY night DESC) AS back
        FROM outcomes
        WHERE night <= $tonight AND outcome NOT IN ('failed', 'no-upload') AND errors IS NOT NULL
    )
    SELECT district,
           max(errors) FILTER (back = 3) AS e2,
           max(errors) FILTER (back = 2) AS e1,
           max(errors) FILTER (back = 1) AS e0,
           max(night) FILTER (back = 1) AS last_night
    FROM counted WHERE back <= 3 GROUP BY district
"""
_CLIMBING_SQL = f"""
    SELECT district FROM ({_LAST_THREE_SQL})
    WHERE last_night = $tonight AND e2 < e1 AND e1 < e0
"""


def _tonight(con: duckdb.DuckDBPyConnection, tonight: date) -> tuple[tuple[str, int], ...]:
    counts = dict(
        con.execute(
            "SELECT outcome, count(*) FROM outcomes WHERE night = $tonight GROUP BY outcome",
            {"tonight": tonight},
        ).fetchall()
    )
    others = sorted(set(counts) - set(OUTCOMES))
    return tuple((outcome, int(counts.get(outcome, 0))) for outcome in (*OUTCOMES, *others))


def _api_pulls(con: duckdb.DuckDBPyConnection, tonight: date) -> tuple[ApiPullNight, ...]:
    rows = con.execute(
        "SELECT district, snapshot_id, coalesce(unchanged, false), pulled_by, pages_fetched, "
        "events_applied_to, events_not_applied FROM outcomes "
        "WHERE night = $tonight AND pulled_by IS NOT NULL ORDER BY district",
        {"tonight": tonight},
    ).fetchall()
    return tuple(ApiPullNight(*row) for row in rows)


def _holds(con: duckdb.DuckDBPyConnection, tonight: date) -> tuple[HoldPrediction, ...]:
    rows = con.execute(
        "SELECT district, entity, kind, count, base, ratio, threshold FROM holds "
        "WHERE night = $tonight ORDER BY district, entity, kind",
        {"tonight": tonight},
    ).fetchall()
    return tuple(HoldPrediction(*row) for row in rows)


def _call_first(
    con: duckdb.DuckDBPyConnection,
    tonight: date,
    holds: tuple[HoldPrediction, ...],
    paths_from: str | Path | None,
) -> tuple[CallFirst, ...]:
    rows = con.execute(
        f"""
        WITH t AS (SELECT * FROM outcomes WHERE night = $tonight),
        trend AS ({_LAST_THREE_SQL}),
        held AS (
            SELECT district, max(ratio) AS ratio FROM holds WHERE night = $tonight GROUP BY district
        ),
        tiered AS (
            SELECT t.district, t.outcome, t.reason, t.errors, t.skipped_rows, t.may_skip_rows,
                   t.carried_rows, held.ratio,
                   trend.e2, trend.e1, trend.e0,
                   CASE
                       WHEN t.outcome IN ('not-processed', 'failed') THEN 1
                       WHEN t.outcome = 'held' THEN 2
                       WHEN trend.last_night = $tonight AND trend.e2 < trend.e1
                            AND trend.e1 < trend.e0 THEN 3
                       WHEN t.skipped_rows > 0 THEN 4
                       WHEN t.outcome = 'no-upload' THEN 5
                   END AS tier
            FROM t
            LEFT JOIN trend ON trend.district = t.district
            LEFT JOIN held ON held.district = t.district
        )
        SELECT district, tier, outcome, reason, errors, skipped_rows, may_skip_rows, carried_rows,
               e2, e1, e0
        FROM tiered WHERE tier IS NOT NULL
        ORDER BY tier,
                 CASE tier
                     WHEN 1 THEN coalesce(errors, 0)
                     WHEN 2 THEN 0
                     WHEN 3 THEN e0 - e1
                     WHEN 4 THEN skipped_rows
                     ELSE 0
                 END DESC,
                 CASE WHEN tier = 2 THEN coalesce(ratio, 0) ELSE 0 END DESC,
                 district
        """,
        {"tonight": tonight},
    ).fetchall()
    by_district: dict[str, list[HoldPrediction]] = {}
    for hold in holds:
        by_district.setdefault(hold.district, []).append(hold)
    prefix = f"{Path(paths_from).resolve()}{os.sep}" if paths_from is not None else None
    return tuple(
        CallFirst(
            rank,
            row[0],
            *_why(
                row[1],
                row[2],
                row[3].replace(prefix, "") if prefix and row[3] else row[3],
                *row[4:],
                holds=by_district.get(row[0], []),
            ),
        )
        for rank, row in enumerate(rows, start=1)
    )


def _why(
    tier: int,
    outcome: str,
    reason: str | None,
    errors: int | None,
    skipped: int | None,
    may_skip: int | None,
    carried: int | None,
    *trend: int,
    holds: list[HoldPrediction],
) -> tuple[str, str]:
    """The tier's name and one line saying why the district is on the list (rows skipped as
    ``rosterlab snapshots`` says them: skipped, may be skipped, carried with skipped records;
    results written before may_skip_rows or carried_rows existed read NULL: not said)."""
    if tier == 1:
        told = reason or "no reason recorded"
        if outcome == FAILED:
            return outcome, f"failed: {told}"
        return outcome, f"not processed ({_plural(errors or 0, 'error')}): {told}"
    if tier == 2:
        changes = "; ".join(
            f"{h.entity} {h.kind} {h.count:,} of {h.base:,} ({h.ratio:.1%} > {h.threshold:.0%})"
            for h in holds
        )
        if not changes:  # results written without the night's holds
            return (
                HELD,
                f"held: {(reason or '').removeprefix('hold: ') or 'no hold detail recorded'}",
            )
        _, _, told = (reason or "").partition("; ")  # what follows the hold: the same files again
        return HELD, f"held: {changes}" + (f"; {told}" if told else "")
    if tier == 3:
        return ERRORS_CLIMBING, "errors climbing: " + " → ".join(f"{e:,}" for e in trend)
    if tier == 4:
        unconfirmed = (
            f", {_plural(may_skip, 'row')} may be skipped (unconfirmed)" if may_skip else ""
        )
        with_skips = f", {_plural(carried, 'row')} carried with skipped records" if carried else ""
        return (
            ROWS_SKIPPED,
            f"{_plural(skipped or 0, 'row')} skipped tonight{unconfirmed}{with_skips}",
        )
    return NO_UPLOAD, "no upload tonight"


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
