"""Reconcile: what a district uploaded against what Clever's Data API serves, every difference
with a reason.

Both sides are snapshots of the same district in the history store: an upload (origin upload,
pulled or corrected) and an API pull (origin api, mapped back to the bundle shape). Per entity
the two are joined on the record key in DuckDB; each difference gets a reason code from the
findings catalogue (group ``reconcile``). A difference nothing explains is reported as such
(``served-missing``, ``served-not-uploaded``, ``value-differs``), never hidden.

A held upload is not served until the district approves the hold: Clever serves the live state
before it (store/outcomes.live_before). A difference the served side shares with that state — a
record the upload adds not served (unless the upload's own finding skips it), one it removes
still served, a value it changes served as the live state has it (or as Clever normalises
that), a record the live state does not serve either — is the hold's (``served-held``); only
what the live state does not explain stays unexplained.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rosterlab import spec
from rosterlab.api.schemas import FRL_CODES, FRL_NAMES, ONLY_31, US_DATE
from rosterlab.diff.engine import DiffEngine, find_rekeys
from rosterlab.errors import SnapshotNotFoundError
from rosterlab.spec import Finding, finding
from rosterlab.spec.findings import ROWS_MAY_BE_SKIPPED
from rosterlab.store import SnapshotInfo, Store
from rosterlab.store.api_pulls import pull_of
from rosterlab.store.carried import not_served_keys
from rosterlab.store.outcomes import (
    API_ORIGIN,
    HELD,
    NOT_PROCESSED,
    UploadOutcome,
    live_before,
    outcome_of,
)
from rosterlab.store.sql import BLANK_CODES, quote_ident, quote_literal

NEVER_SERVED: dict[str, frozenset[str]] = {
    "students": frozenset({"Password", "Unweighted_gpa", "Weighted_gpa"}),
    "teachers": frozenset({"Password"}),
    "staff": frozenset({"Password"}),
    "sections": frozenset({"Course_description"}),
}
NOT_SERVED_ENTITIES = ("admins",)  # district admins carry no school: not mapped back
REFERENCED = ("schools", "students", "sections", "teachers")
# The upload's finding code for a reference to a record the upload lacks.
UNKNOWN_REFERENCE_CODES = {
    ("sections", "teachers"): "section-unknown-teacher",
    ("sections", "schools"): "unknown-school",
    ("students", "schools"): "unknown-school",
    ("teachers", "schools"): "unknown-school",
    ("staff", "schools"): "unknown-school",
    ("enrollments", "students"): "enrollment-unknown-student",
    ("enrollments", "sections"): "enrollment-unknown-section",
}
# ... and for a contact's Student_id, its own row's student, which no upload finding names.
_LACKING = {
    **UNKNOWN_REFERENCE_CODES,
    ("contacts", "students"): "a contact of a student not in students.csv",
}
# (field, referenced entity, finding code): the references Clever follows
# (spec.followed_references) — it skips the row unless their target is served (the stand-in
# does the same); in REFERENCED's order (an enrollment's student before its section).
SKIPPING_REFERENCES: dict[str, tuple[tuple[str, str, str], ...]] = {
    entity: tuple(
        (field, target, _LACKING[(entity, target)])
        for field, target in sorted(
            spec.followed_references(entity), key=lambda ref: REFERENCED.index(ref[1])
        )
    )
    for entity in spec.ENTITIES
    if entity not in NOT_SERVED_ENTITIES and spec.followed_references(entity)
}
_HELD_VALUES = "values the held upload changes, served unchanged"
_HELD_REMOVED = "records the held upload removes, still served"
GROUPED = frozenset({"value-normalised", "reference-not-served", "field-not-served", "served-held"})
UNEXPLAINED = frozenset({"served-missing", "served-not-uploaded", "value-differs"})
DETAIL_LIMIT = 1000  # record-level findings kept per entity and code (counts stay exact)
_NEVER = 2**31 - 1


@dataclass(frozen=True)
class EntityCounts:
    """Records of one entity on each side, matched by key, and matched with equal values."""

    entity: str
    uploaded: int
    served: int
    matched: int
    identical: int


@dataclass(frozen=True)
class ReconcileResult:
    """Upload vs served for one district: counts, and every difference as a finding."""

    district: str
    upload: SnapshotInfo
    served: SnapshotInfo
    version: str
    entities: tuple[EntityCounts, ...]
    findings: tuple[Finding, ...]
    totals: tuple[tuple[str, int], ...]  # (code, records; fields for field-not-served), exact

    @property
    def unexplained(self) -> int:
        return sum(count for code, count in self.totals if code in UNEXPLAINED)

    truncated: bool  # record-level findings were capped at DETAIL_LIMIT per entity and code
    # What Clever did with the upload, decided with the district's settings when it was checked
    # (store/district_settings.py; recorded beside the outcome).
    upload_outcome: UploadOutcome | None = None


def _resolve(
    store: Store, district: str, upload: str | int | None, served: str | int | None
) -> tuple[SnapshotInfo, SnapshotInfo, UploadOutcome]:
    """The upload and the API snapshot to reconcile, and the upload's outcome."""
    history = store.snapshots(district)
    if not history:
        raise store.no_snapshots(district)
    if served is None:
        pulled = [s for s in history if s.origin == API_ORIGIN]
        if not pulled:
            raise SnapshotNotFoundError(
                f"district {district} has no API snapshot: run rosterlab api pull first"
            )
        served_snap = pulled[-1]
    else:
        served_snap = store.resolve(served, district)
    if served_snap.origin != API_ORIGIN:
        raise SnapshotNotFoundError(
            f"snapshot {served_snap.id} (origin {served_snap.origin}) is not an API pull: give "
            "--served an API snapshot (rosterlab snapshots shows origins)"
        )
    if upload is None:
        newest = (
            s
            for s in reversed(history)
            if s.origin != API_ORIGIN
            and s.seq < served_snap.seq
            and outcome_of(store, s.id).outcome != NOT_PROCESSED
        )
        found = next(newest, None)
        if found is None:
            raise SnapshotNotFoundError(
                f"district {district} has no upload Clever processed before API snapshot "
                f"{served_snap.id}: ingest the uploaded bundle or give --upload"
            )
        upload_snap = found
    else:
        upload_snap = store.resolve(upload, district)
    if upload_snap.origin == API_ORIGIN:
        raise SnapshotNotFoundError(
            f"snapshot {upload_snap.id} is an API pull, not an upload: give --upload an "
            "uploaded snapshot"
        )
    outcome = outcome_of(store, upload_snap.id)
    if outcome.outcome == NOT_PROCESSED:
        live = live_before(store, upload_snap)
        raise SnapshotNotFoundError(
            f"Clever never processed upload snapshot {upload_snap.id} ({outcome.reason}) and "
            + (
                f"kept serving snapshot {live.id}'s state: reconcile --upload {live.id} compares "
                "what it serves"
                if live is not None
                else "served no upload of the district before it: nothing of it to reconcile"
            )
        )
    return upload_snap, served_snap, outcome


def reconcile(
    store: Store,
    district: str,
    *,
    upload: str | int | None = None,
    served: str | int | None = None,
) -> ReconcileResult:
    """Reconcile an upload with what the API serves; read-only.

    Defaults: the newest API snapshot, and the newest upload before it that Clever processed.
    An upload Clever did not process (a required file missing) never reached what it serves:
    a SnapshotNotFoundError names the upload it kept serving instead.
    """
    upload_snap, served_snap, outcome = _resolve(store, district, upload, served)
    pull = pull_of(store, served_snap.id)
    version = pull.version if pull is not None else "3.1"
    live = live_before(store, upload_snap) if outcome.outcome == HELD else None
    work = _Reconciler(store, upload_snap, served_snap, version, live)
    # The upload → served diff reads only the records that differ (most are one SCD2 version
    # on both sides), with the values of records not served.
    store.execute(
        "CREATE OR REPLACE TEMP TABLE _skip_causes "
        "(entity VARCHAR, id VARCHAR, cause VARCHAR, holder VARCHAR)"
    )
    if live is not None:
        not_served_keys(store, live, "_live_unserved")
    try:
        with DiffEngine(
            store, upload_snap, served_snap, details=False, removed_values=True
        ) as diff:
            counts = tuple(
                work.entity(entity, diff)
                for entity in spec.ENTITIES.values()
                if entity.name not in NOT_SERVED_ENTITIES
            )
    finally:
        store.execute("DROP TABLE _skip_causes")
        if live is not None:
            store.execute("DROP TABLE _live_unserved")
    work.rekeys()
    if outcome.outcome == HELD:
        work.held(outcome, live)
    totals = tuple(sorted(work.totals.items()))
    return ReconcileResult(
        district,
        upload_snap,
        served_snap,
        version,
        counts,
        tuple(work.findings),
        totals,
        work.truncated,
        outcome,
    )


@dataclass(frozen=True)
class _Side:
    """SQL of one snapshot's rows of an entity, and its parameters."""

    sql: str
    params: list[Any]


class _Reconciler:
    """``live``: the state Clever serves while the upload is held (None when it is not held):
    a difference the served side shares with it is the hold's (served-held), not unexplained."""

    def __init__(
        self,
        store: Store,
        upload: SnapshotInfo,
        served: SnapshotInfo,
        version: str,
        live: SnapshotInfo | None = None,
    ) -> None:
        self.store = store
        self.upload = upload
        self.served = served
        self.version = version
        self.live = live
        self.findings: list[Finding] = []
        self.totals: dict[str, int] = {}
        self.sync_type = upload.sync_type
        self.truncated = False

    def _add(self, code: str, count: int, found: list[Finding]) -> None:
        """Record ``count`` differences of ``code``, shown by ``found`` (one per record, or one
        per field and cause for the grouped codes)."""
        if count:
            self.totals[code] = self.totals.get(code, 0) + count
            self.findings += found
            self.truncated |= code not in GROUPED and len(found) < count

    def entity(self, entity: spec.Entity, diff: DiffEngine) -> EntityCounts:
        """Count both sides and explain the records that differ (an identical record is one
        SCD2 version on both sides: the diff of upload → served never reads it, nor a record
        that differs only in columns the served side lacks, such as Password or GPA)."""
        name = entity.name
        upload = self._side(name, self.upload)
        uploaded = self._keys_present(name, self.upload)
        served = self._keys_present(name, self.served)
        served_columns = self._served_columns(entity)
        compared = [c for c in entity.columns if c in served_columns]
        differing = diff.compare(
            entity, compared if served_columns and len(compared) < len(entity.columns) else None
        )
        matched, identical = uploaded, uploaded - diff.alike
        if differing:
            matched, identical, differing = self._differing(entity, uploaded, diff.alike)
        if differing:
            self._live_records(name)
            self._reference_targets(entity)
            self._not_served(entity)
            self._not_uploaded(name)
        self._fields_not_served(entity, upload)
        if differing:
            self._values_differ(entity)
            for table in ("_ref_keys", "_rec", *(("_live",) if self.live else ())):
                self.store.execute(f"DROP TABLE {table}")
        return EntityCounts(name, uploaded, served, matched, identical)

    def _live_records(self, name: str) -> None:
        """``_live``: the live state's rows of the differing records while the upload is held
        (none otherwise)."""
        if self.live is None:
            return
        live = self._side(name, self.live)
        self.store.execute(
            f"CREATE OR REPLACE TEMP TABLE _live AS SELECT * FROM ({live.sql}) "
            "WHERE key IN (SELECT key FROM _rec)",
            live.params,
        )

    def _add_held(self, name: str, rows: list[tuple[str | None, str, int]]) -> None:
        """One served-held finding per (field, cause): differences the served side shares with
        the live state the held upload has not replaced."""
        assert self.live is not None
        for field, cause, count in rows:
            self._add(
                "served-held",
                count,
                [
                    finding(
                        "served-held",
                        entity=name,
                        field=field,
                        value=str(count),
                        cause=cause,
                        what=f"{name} {field}" if field else name,
                        live_snapshot=str(self.live.id),
                        sync_type=self.sync_type,
                    )
                ],
            )

    def _differing(self, entity: spec.Entity, uploaded: int, alike: int) -> tuple[int, int, bool]:
        """(matched, identical, any differ) from the diff's touched keys (``_rl_key_ends``) and
        the ``alike`` records it left out (on both sides, not identical), and ``_rec``: each
        differing record's values on both sides (``_rl_values``)."""
        in_upload, both, same = self.store.rows(
            "SELECT count(from_hash), count(*) FILTER (from_hash IS NOT NULL AND to_hash IS NOT "
            "NULL), count(*) FILTER (from_hash = to_hash) FROM _rl_key_ends"
        )[0]
        untouched = uploaded - in_upload
        values = ", ".join(
            f"u.{quote_ident(c)} AS {quote_ident('u:' + c)}, "
            f"s.{quote_ident(c)} AS {quote_ident('s:' + c)}"
            for c in entity.columns
        )
        # A record on both sides whose hashes differ only in columns the API never serves
        # (Password, GPA) has nothing to explain: kept are the one-sided records and those
        # with a served column or the extra map differing.
        served = self._served_columns(entity)
        compared = " OR ".join(
            [
                "k.from_hash IS NULL OR k.to_hash IS NULL",
                "u.extra IS DISTINCT FROM s.extra",
                *(
                    f"u.{quote_ident(c)} IS DISTINCT FROM s.{quote_ident(c)}"
                    for c in entity.columns
                    if c in served
                ),
            ]
        )
        differing = self.store.written(
            "CREATE OR REPLACE TEMP TABLE _rec AS SELECT k.key, "
            "k.from_hash IS NOT NULL AS in_upload, k.to_hash IS NOT NULL AS in_served, "
            f'{values}, u.extra AS "u:extra", s.extra AS "s:extra" FROM _rl_key_ends k '
            "LEFT JOIN _rl_values u ON u.row_hash = k.from_hash "
            "LEFT JOIN _rl_values s ON s.row_hash = k.to_hash "
            f"WHERE k.from_hash IS DISTINCT FROM k.to_hash AND ({compared})"
        )
        if not differing:
            self.store.execute("DROP TABLE _rec")
        return untouched + both, untouched + same - alike, bool(differing)

    def _keys_present(self, name: str, snap: SnapshotInfo) -> int:
        """Records (keys) of ``name`` in ``snap``: its versions, less the extra versions of
        keys it holds twice."""
        versions = self.store.snapshot_rows(snap.id).get(name, 0)
        extra = self.store.rows(
            "SELECT count(*) - count(DISTINCT key) FROM duplicate_versions "
            "WHERE snapshot_id = ? AND entity = ?",
            [snap.id, name],
        )[0][0]
        return int(versions) - int(extra)

    def _side(self, name: str, snap: SnapshotInfo) -> _Side:
        """One side's rows of ``name``; one row per key (the first by row hash) when the
        snapshot holds duplicated keys."""
        duplicated = self.store.rows(
            "SELECT count(*) FROM duplicate_versions WHERE snapshot_id = ? AND entity = ?",
            [snap.id, name],
        )[0][0]
        sql = self.store.entity_sql(name)
        if duplicated:
            sql += " QUALIFY row_number() OVER (PARTITION BY key ORDER BY row_hash) = 1"
        return _Side(sql, [snap.district, snap.seq, snap.seq])

    def _reference_targets(self, entity: spec.Entity) -> None:
        """``_ref_keys``: of the ids the differing uploaded records of ``entity`` reference,
        those each side holds (by the referenced entity's first key column)."""
        self.store.execute(
            "CREATE OR REPLACE TEMP TABLE _ref_keys (side VARCHAR, entity VARCHAR, id VARCHAR)"
        )
        fields: dict[str, set[str]] = {}
        for f in entity.fields:
            if f.references is not None:
                fields.setdefault(f.references, set()).add(f.name)
        for name, target, _ in SKIPPING_REFERENCES.get(entity.name, ()):
            fields.setdefault(target, set()).add(name)
        for target in REFERENCED:
            if target not in fields:
                continue
            column = quote_ident(spec.ENTITIES[target].key[0])
            named = " UNION ".join(
                f"SELECT {quote_ident('u:' + f)} FROM _rec" for f in sorted(fields[target])
            )
            for side, snap in (("upload", self.upload), ("served", self.served)):
                self.store.execute(
                    f"INSERT INTO _ref_keys SELECT DISTINCT ?, ?, {column} FROM "
                    f"({self.store.entity_sql(target)}) WHERE {column} IN ({named})",
                    [side, target, snap.district, snap.seq, snap.seq],
                )
            if target == "schools":  # an uploaded school's School_number used as School_id
                number = quote_ident(spec.ENTITIES["schools"].field("School_number").name)
                self.store.execute(
                    f"INSERT INTO _ref_keys SELECT DISTINCT 'number', 'schools', {number} FROM "
                    f"({self.store.entity_sql(target)}) WHERE {number} IN ({named})",
                    [self.upload.district, self.upload.seq, self.upload.seq],
                )

    def _keys(self, entity: str, side: str) -> str:
        return f"SELECT id FROM _ref_keys WHERE side = '{side}' AND entity = '{entity}'"

    def _skip_reason(self, entity: spec.Entity) -> tuple[str, str]:
        """SQL naming why Clever skips an uploaded row: a struct of ``cause`` (the finding code
        of the upload's problem), and for a row carried with a skipped record it references,
        the reference (``field``, ``target`` entity, ``ref`` id) and ``holder``, the record
        whose finding it is (``students S-1``; ``schools SCH-1`` for an enrollment of a student
        of a skipped school).

        Its own problem: a blank required value (missing-value; white-space-only when only a
        tab or no-break space makes it blank, as the checks say), a duplicated key
        (duplicate-id), or a reference to a record the upload lacks (that reference's code).
        Carried: the referenced record is uploaded but not served — its cause, from
        ``_skip_causes`` (the referenced entities come first); if nothing explains it either,
        which reference is not served.
        """

        def why(cause: str, *carried: str) -> str:
            field, target, ref, holder = carried or ("NULL",) * 4
            return (
                f"struct_pack(cause := {cause}::VARCHAR, field := {field}::VARCHAR, "
                f"target := {target}::VARCHAR, ref := {ref}::VARCHAR, "
                f"holder := {holder}::VARCHAR)"
            )

        required = [quote_ident("u:" + f.name) for f in entity.fields if f.required and f.confirmed]
        branches = [
            f"WHEN {blank(c)} THEN {why(quote_literal(code))}"
            for blank, code in BLANK_CODES
            for c in required
        ]
        branches.append(
            "WHEN r.key IN (SELECT key FROM duplicate_versions WHERE snapshot_id = "
            f"{self.upload.id} AND entity = {quote_literal(entity.name)}) "
            f"THEN {why(quote_literal('duplicate-id'))}"
        )
        joins = []
        for i, (field, target, code) in enumerate(SKIPPING_REFERENCES.get(entity.name, ())):
            column = quote_ident("u:" + field)
            lacking = quote_literal(code)
            if code == "unknown-school":  # the upload's finding names which school mistake
                lacking = (
                    f"CASE WHEN {column} IN ({self._keys(target, 'number')}) "
                    "THEN 'school-id-is-number' ELSE 'unknown-school' END"
                )
            h = f"h{i}"
            joins.append(
                f"LEFT JOIN _skip_causes {h} ON {h}.entity = {quote_literal(target)} "
                f"AND {h}.id = {column}"
            )
            unexplained = f"'{field} ' || {column} || ' is not served'"
            carried = why(
                f"coalesce({h}.cause, {unexplained})",
                quote_literal(field),
                quote_literal(target),
                column,
                f"{h}.holder",
            )
            branches.append(
                f"WHEN {column} NOT IN ({self._keys(target, 'served')}) THEN CASE WHEN "
                f"{column} IN ({self._keys(target, 'upload')}) THEN {carried} "
                f"ELSE {why(lacking)} END"
            )
        return f"(CASE {' '.join(branches)} END)", " ".join(joins)

    def _not_served(self, entity: spec.Entity) -> None:
        """Uploaded records Clever does not serve: skipped (the upload says why) or unexplained.
        The causes of skipped records other records reference are kept in ``_skip_causes``."""
        name = entity.name
        reason, joins = self._skip_reason(entity)
        self.store.execute(
            f"CREATE OR REPLACE TEMP TABLE _skips AS SELECT r.key, "
            f"r.{quote_ident('u:' + entity.key[0])} AS id, {reason} AS why "
            f"FROM _rec r {joins} WHERE NOT r.in_served"
        )
        if name in REFERENCED:
            self.store.execute(
                "INSERT INTO _skip_causes SELECT ?, id, any_value(why.cause), "
                "any_value(coalesce(why.holder, ? || key)) FROM _skips "
                "WHERE why.cause IS NOT NULL AND id IS NOT NULL GROUP BY id",
                [name, f"{name} "],
            )
        # While the upload is held, a record no finding of its own skips is not served because
        # the live state lacks it, or does not serve it either (served-held).
        held, params = "NULL::VARCHAR", []
        if self.live is not None:
            held = (
                "CASE WHEN coalesce(list_contains(?::VARCHAR[], why.cause), false) THEN NULL "
                "WHEN key NOT IN (SELECT key FROM _live) THEN 'records the held upload adds, "
                "not served' WHEN h.code IS NOT NULL THEN 'records not served in that state "
                "either (' || h.code || ')' END"
            )
            params = [list(spec.CATALOGUE), name]
        self.store.execute(
            "CREATE OR REPLACE TEMP TABLE _skips AS SELECT *, CASE WHEN held IS NOT NULL THEN "
            "'served-held' WHEN why.cause IS NOT NULL THEN 'served-skipped' ELSE "
            f"'served-missing' END AS kind FROM (SELECT s.*, {held} AS held FROM _skips s "
            + (
                "LEFT JOIN (SELECT key, any_value(code) AS code FROM _live_unserved "
                "WHERE entity = ? GROUP BY key) h USING (key)"
                if self.live is not None
                else ""
            )
            + ")",
            params,
        )
        rows = self.store.rows(
            "SELECT key, why.cause, count(*) OVER (PARTITION BY kind), why.field, why.target, "
            "why.ref, why.holder, kind FROM _skips WHERE kind <> 'served-held' "
            "QUALIFY row_number() OVER (PARTITION BY kind ORDER BY key) <= ? ORDER BY key",
            [DETAIL_LIMIT],
        )
        if self.live is not None:
            self._add_held(
                name,
                [
                    (None, cause, count)
                    for cause, count in self.store.rows(
                        "SELECT held, count(*) FROM _skips WHERE held IS NOT NULL "
                        "GROUP BY ALL ORDER BY 1"
                    )
                ],
            )
        self.store.execute("DROP TABLE _skips")
        for code in ("served-skipped", "served-missing"):
            chosen = [r for r in rows if r[7] == code]
            self._add(
                code,
                chosen[0][2] if chosen else 0,
                [
                    _skipped(code, name, key, cause, field, target, ref, holder, self.sync_type)
                    for key, cause, _, field, target, ref, holder, _ in chosen
                ],
            )

    def _not_uploaded(self, name: str) -> None:
        """Served records the upload lacks: stale (an earlier upload had them) or never sent."""
        table = quote_ident(name)
        # While the upload is held, a record of the live state it removes is still served.
        held = "e.key IN (SELECT key FROM _live)" if self.live is not None else "false"
        kind = (
            f"CASE WHEN {held} THEN 'served-held' WHEN s.key IS NOT NULL THEN 'served-stale' "
            "ELSE 'served-not-uploaded' END"
        )
        rows = self.store.rows(
            "WITH extra AS (SELECT key FROM _rec WHERE NOT in_upload), "
            f"seen AS (SELECT t.key, max(sn.id) AS last_upload FROM {table} t "
            "JOIN snapshots sn ON sn.district = t.district "
            f"AND sn.seq BETWEEN t.valid_from AND coalesce(t.valid_to, {_NEVER}) "
            "WHERE t.district = ? AND sn.origin <> ? AND sn.seq < ? "
            "AND t.key IN (SELECT key FROM extra) GROUP BY t.key) "
            "SELECT key, last_upload, count(*) OVER (PARTITION BY kind), kind "
            f"FROM (SELECT e.key, s.last_upload, {kind} AS kind FROM extra e "
            "LEFT JOIN seen s USING (key)) "
            "QUALIFY row_number() OVER (PARTITION BY kind ORDER BY key) <= ? ORDER BY key",
            [self.upload.district, API_ORIGIN, self.served.seq, DETAIL_LIMIT],
        )
        for code in ("served-stale", "served-not-uploaded"):
            chosen = [r for r in rows if r[3] == code]
            self._add(
                code,
                chosen[0][2] if chosen else 0,
                [
                    finding(
                        code,
                        entity=name,
                        key=key,
                        value=str(last) if last is not None else None,
                        sync_type=self.sync_type,
                    )
                    for key, last, _, _ in chosen
                ],
            )
        removed = [r[2] for r in rows if r[3] == "served-held"][:1]
        if removed:
            self._add_held(name, [(None, _HELD_REMOVED, removed[0])])

    def _served_columns(self, entity: spec.Entity) -> set[str]:
        header = self.store.rows(
            "SELECT header FROM snapshot_files WHERE snapshot_id = ? AND spec_name = ?",
            [self.served.id, entity.file],
        )
        return set(header[0][0]) if header else set()

    def _fields_not_served(self, entity: spec.Entity, upload: _Side) -> None:
        """Uploaded fields Clever does not serve: spec columns the served side lacks, and
        columns outside the format."""
        served_columns = self._served_columns(entity)
        self._not_served_fields(
            entity, [c for c in entity.columns if c not in served_columns], upload
        )
        self._ignored_columns(entity, upload)

    def _values_differ(self, entity: spec.Entity) -> None:
        """Each differing value of a record on both sides: normalised by Clever, a reference
        not served, or unexplained (value-differs)."""
        name = entity.name
        served_columns = self._served_columns(entity)
        compared = [c for c in entity.columns if c in served_columns]
        if not compared and not entity.extensions:
            return
        unpivot = [
            f"SELECT key, '{c}' AS field, {quote_ident('u:' + c)} AS uploaded, "
            f"{quote_ident('s:' + c)} AS served FROM _rec WHERE in_upload AND in_served "
            f"AND {quote_ident('u:' + c)} IS DISTINCT FROM {quote_ident('s:' + c)}"
            for c in compared
        ]
        if entity.extensions:
            unpivot.append(
                "SELECT coalesce(ue.key, se.key) AS key, coalesce(ue.field, se.field) AS field, "
                "ue.v AS uploaded, se.v AS served FROM "
                "(SELECT key, e.key AS field, e.value AS v FROM (SELECT key, "
                'unnest(map_entries("u:extra")) AS e FROM _rec WHERE in_upload AND in_served)) '
                "ue FULL OUTER JOIN (SELECT key, e.key AS field, e.value AS v FROM "
                '(SELECT key, unnest(map_entries("s:extra")) AS e FROM _rec WHERE in_upload '
                "AND in_served)) se ON ue.key = se.key AND ue.field = se.field "
                f"WHERE coalesce(ue.field, se.field) LIKE '{spec.EXTENSION_PREFIX}%' "
                "AND ue.v IS DISTINCT FROM se.v"
            )
        normalised, params = _normalisation_sql(entity)
        if entity.name == "staff":
            normalised, params = self._merged_names(normalised), [self.served.id, *params]
        reference = self._reference_sql(entity)
        self.store.execute(
            "CREATE OR REPLACE TEMP TABLE _values AS SELECT key, field, uploaded, served, "
            "CASE WHEN reference IS NOT NULL THEN 'reference-not-served' "
            "WHEN normalised IS NOT NULL THEN 'value-normalised' END AS code, "
            "coalesce(reference, normalised) AS cause FROM (SELECT *, "
            f"{reference} AS reference, {normalised} AS normalised "
            f"FROM ({' UNION ALL '.join(unpivot)}))",
            params,
        )
        if self.live is not None:
            self._held_values(entity, compared, normalised, params)
        for code, field, why, count in self.store.rows(
            "SELECT code, field, cause, count(*) FROM _values WHERE code IS NOT NULL "
            "GROUP BY ALL ORDER BY code DESC, field, cause"
        ):
            if code == "served-held":
                self._add_held(name, [(field, why, count)])
                continue
            self._add(
                code,
                count,
                [
                    finding(
                        code,
                        entity=name,
                        field=field,
                        value=str(count),
                        cause=why,
                        sync_type=self.sync_type,
                    )
                ],
            )
        differing = self.store.rows(
            "SELECT key, field, uploaded, served, count(*) OVER () FROM _values "
            "WHERE code IS NULL ORDER BY key, field LIMIT ?",
            [DETAIL_LIMIT],
        )
        self._add(
            "value-differs",
            differing[0][4] if differing else 0,
            [
                finding(
                    "value-differs",
                    entity=name,
                    key=key,
                    field=field,
                    value=served,
                    uploaded=uploaded,
                    served=served,
                    sync_type=self.sync_type,
                )
                for key, field, uploaded, served, _ in differing
            ],
        )
        self.store.execute("DROP TABLE _values")

    def _held_values(
        self, entity: spec.Entity, compared: list[str], normalised: str, params: list[Any]
    ) -> None:
        """While the upload is held: an unexplained value served as the live state has it (or
        as Clever normalises the live state's value) is the hold's (served-held)."""
        live = " ".join(
            f"WHEN v.field = {quote_literal(c)} THEN l.{quote_ident(c)}" for c in compared
        )
        self.store.execute(
            "CREATE OR REPLACE TEMP TABLE _values AS SELECT key, field, upload AS uploaded, "
            "served, CASE WHEN held THEN 'served-held' ELSE code END AS code, "
            f"CASE WHEN held THEN {quote_literal(_HELD_VALUES)} ELSE cause END AS cause "
            "FROM (SELECT *, code IS NULL AND in_live AND (uploaded IS NOT DISTINCT FROM served "
            f"OR {normalised} IS NOT NULL) AS held FROM (SELECT v.key, v.field, "
            "v.uploaded AS upload, v.served, v.code, v.cause, l.key IS NOT NULL AS in_live, "
            f"CASE {live} ELSE map_extract_value(l.extra, v.field) END AS uploaded "
            "FROM _values v LEFT JOIN _live l ON l.key = v.key))",
            params,
        )

    @staticmethod
    def _merged_names(normalised: str) -> str:
        """A staff member who is also a teacher (the same email) is one Clever user: its name
        is served as its teacher row's (docs/api.md, merged users). Binds the served id."""
        sis = f"split_part(key, {quote_literal(spec.KEY_SEPARATOR)}, 1)"
        return (
            f"(CASE WHEN field IN ('First_name', 'Last_name') AND {sis} IN (WITH i AS "
            "(FROM api_ids_of(?)) SELECT s.sis_id FROM i s JOIN i t ON t.clever_id = s.clever_id "
            "AND t.entity = 'teachers' WHERE s.entity = 'staff') "
            "THEN 'a teacher who is also staff (the same email) is one user: the teacher''s "
            f"name is served' ELSE {normalised} END)"
        )

    def _reference_sql(self, entity: spec.Entity) -> str:
        """CASE naming why a reference is served empty: its target is not served, else NULL."""
        branches = []
        for field in entity.fields:
            if field.references is None:
                continue
            target = field.references
            code = UNKNOWN_REFERENCE_CODES.get((entity.name, target), "a record the upload lacks")
            branches.append(
                f"WHEN field = {quote_literal(field.name)} AND served IS NULL AND uploaded NOT IN "
                f"({self._keys(target, 'served')}) THEN CASE WHEN uploaded IN "
                f"({self._keys(target, 'upload')}) THEN 'the {target} record it names is not "
                f"served' ELSE '{code}' END"
            )
        return f"(CASE {' '.join(branches)} END)" if branches else "NULL"

    def _not_served_fields(self, entity: spec.Entity, columns: list[str], upload: _Side) -> None:
        """One finding per uploaded field the served side lacks, counting the filled records."""
        if not columns:
            return
        counts = self.store.rows(
            f"SELECT {', '.join(f'count({quote_ident(c)})' for c in columns)} FROM ({upload.sql})",
            upload.params,
        )[0]
        for column, count in zip(columns, counts, strict=True):
            cause, remedy = _why_not_served(entity.name, column, self.version)
            self._add(
                "field-not-served",
                1 if count else 0,
                [
                    finding(
                        "field-not-served",
                        entity=entity.name,
                        field=column,
                        value=str(count),
                        cause=cause,
                        remedy=remedy,
                        sync_type=self.sync_type,
                    )
                ],
            )

    def _ignored_columns(self, entity: spec.Entity, upload: _Side) -> None:
        """Uploaded columns outside the format (not ext.*): Clever ignores them. Read only when
        the uploaded file's header has such a column."""
        name = entity.name
        header = self.store.rows(
            "SELECT header FROM snapshot_files WHERE snapshot_id = ? AND spec_name = ?",
            [self.upload.id, entity.file],
        )
        if not any(
            spec.spec_column(entity.file, h) is None
            and not h.lower().startswith(spec.EXTENSION_PREFIX)
            for row in header
            for h in row[0]
        ):
            return
        for field, count in self.store.rows(
            "SELECT e.key, count(e.value) FROM (SELECT unnest(map_entries(extra)) AS e "
            f"FROM ({upload.sql})) WHERE e.key NOT LIKE '{spec.EXTENSION_PREFIX}%' "
            "GROUP BY ALL HAVING count(e.value) > 0 ORDER BY 1",
            upload.params,
        ):
            self._add(
                "field-not-served",
                1,
                [
                    finding(
                        "field-not-served",
                        entity=name,
                        field=field,
                        value=str(count),
                        cause="not in the Clever format: Clever ignores the column",
                        remedy=f"rename it ext.{field} if apps should receive it",
                        sync_type=self.sync_type,
                    )
                ],
            )

    def held(self, outcome: UploadOutcome, live: SnapshotInfo | None) -> None:
        """A held upload is not served until the district approves the hold: say so first (the
        pull may show the state before it)."""
        state, compare = (
            (f"snapshot {live.id}'s state", f"reconcile --upload {live.id} compares what it serves")
            if live is not None
            else ("no upload of the district", "Clever serves no upload of the district")
        )
        reason = outcome.reason.removeprefix("hold: ")
        found = finding(
            "upload-held", key=str(self.upload.id), reason=reason, live=state, compare=compare
        )
        self.findings.insert(0, found)
        self.totals[found.code] = 1

    def rekeys(self) -> None:
        """Records the API serves under a new Clever id because their sis_id changed: the
        re-keys since the previous pull, with both Clever ids in one query."""
        earlier = [
            s
            for s in self.store.snapshots(self.served.district)
            if s.origin == API_ORIGIN and s.seq < self.served.seq
        ]
        if not earlier:
            return
        previous = earlier[-1]
        rekeys = find_rekeys(self.store, previous, self.served)
        if not rekeys:
            return
        listed = rekeys[:DETAIL_LIMIT]
        ids = self.store.rows(
            "SELECT (SELECT any_value(clever_id) FROM api_ids_of(?) "
            "WHERE entity = r.entity AND sis_id = r.old_sis), (SELECT any_value(clever_id) "
            "FROM api_ids_of(?) WHERE entity = r.entity AND sis_id = r.new_sis) "
            "FROM (SELECT unnest(?::VARCHAR[]) AS entity, unnest(?::VARCHAR[]) AS old_sis, "
            "unnest(?::VARCHAR[]) AS new_sis, unnest(range(?)) AS i) r ORDER BY i",
            [
                previous.id,
                self.served.id,
                [r.entity for r in listed],
                [_sis(r.old_key) for r in listed],
                [_sis(r.new_key) for r in listed],
                len(listed),
            ],
        )
        self._add(
            "served-rekeyed",
            len(rekeys),
            [
                finding(
                    "served-rekeyed",
                    entity=rekey.entity,
                    key=rekey.new_key,
                    value=new_id,
                    old_key=rekey.old_key,
                    old_id=old_id,
                    sync_type=self.sync_type,
                )
                for rekey, (old_id, new_id) in zip(listed, ids, strict=True)
            ],
        )


# A served-skipped record whose upload finding leaves Clever's consequence unconfirmed: the
# upload's outcome named it among the rows Clever may skip; what Clever serves settles it.
_MAY_SKIP_NOTE = ": its consequence is unconfirmed, the upload's outcome says it may be skipped"


def _may_skip(cause: str | None) -> bool:
    entry = spec.CATALOGUE.get(cause or "")
    return entry is not None and entry.clever == ROWS_MAY_BE_SKIPPED


def _skipped(
    code: str,
    entity: str,
    key: str,
    cause: str | None,
    field: str | None,
    target: str | None,
    ref: str | None,
    holder: str | None,
    sync_type: str | None,
) -> Finding:
    """A served-skipped (or served-missing) record. One carried with a skipped record it
    references (``field`` = ``ref``, a record of ``target``) names that record and the finding
    that explains it (``holder``: the record whose finding it is); Clever states no consequence
    for what a skip carries, so it may be skipped."""
    if holder is None:  # skipped for its own problem (or nothing explains it)
        return finding(
            code,
            entity=entity,
            key=key,
            cause=cause,
            sync_type=sync_type,
            unconfirmed=_MAY_SKIP_NOTE if _may_skip(cause) else "",
            carried="",
            origin="",
            holder=key,
        )
    carrier = f"{target} {ref}"
    return finding(
        code,
        entity=entity,
        key=key,
        field=field,
        value=ref,
        cause=cause,
        sync_type=sync_type,
        unconfirmed=_MAY_SKIP_NOTE,
        carried=f" with {carrier}",
        origin="" if holder == carrier else f" of {holder}",
        holder=holder,
    )


def _sis(key: str) -> str:
    """The sis_id part of a record key (teachers and staff are keyed id/school)."""
    return key.split(spec.KEY_SEPARATOR, 1)[0]


def _why_not_served(entity: str, column: str, version: str) -> tuple[str, str]:
    """(cause, remedy) of an uploaded field the served snapshot lacks."""
    if column in NEVER_SERVED.get(entity, ()):
        return "the Data API never exposes it", f"apps never receive {column} from Clever"
    if entity == "students" and column in ONLY_31 and version == "3.0":
        return "not in API v3.0", f"read the API as version 3.1 to see {column}"
    return (
        "outside the app's sharing scope",
        f"widen the app's data sharing in Clever if it needs {column}",
    )


def _normalisation_sql(entity: spec.Entity) -> tuple[str, list[Any]]:
    """CASE naming the documented normalisation that explains a value difference, else NULL."""
    branches: list[str] = []
    params: list[Any] = []
    dates = [f.name for f in entity.fields if f.kind == "date"]
    if dates:
        names = ", ".join(f"'{d}'" for d in dates)
        readable = (
            f"(regexp_full_match(uploaded, '{US_DATE}') "
            "AND try_strptime(uploaded, '%m/%d/%Y') IS NOT NULL)"
        )
        branches.append(
            f"WHEN field IN ({names}) AND {readable} AND served = strftime(try_strptime("
            "uploaded, '%m/%d/%Y'), '%m/%d/%Y') "
            "THEN 'dates are served as M/D/YYYY and read back MM/DD/YYYY'"
        )
        branches.append(
            f"WHEN field IN ({names}) AND served IS NULL AND NOT coalesce({readable}, false) "
            "THEN 'a date not written MM/DD/YYYY is not served'"
        )
    if entity.name == "students":
        read_back = {name: code for code, name in FRL_CODES.items()} | {"Y": FRL_NAMES["Y"]}
        cases = " ".join(f"WHEN '{sent}' THEN '{got}'" for sent, got in read_back.items())
        branches.append(
            f"WHEN field = 'Frl_status' AND served = CASE uploaded {cases} END "
            "THEN 'frl long forms are read back as the F/R/N codes, an off-list Y as Other'"
        )
    if entity.name == "enrollments":
        branches.append("WHEN field = 'School_id' THEN 'served as the section''s school'")
    branches.append(
        "WHEN served IS NOT NULL AND lower(uploaded) = lower(served) "
        "THEN 'spelled as in Clever''s vocabulary'"
    )
    for field in entity.fields:
        if field.vocabulary is not None:
            branches.append(
                f"WHEN field = '{field.name}' AND served IS NULL AND uploaded IS NOT NULL "
                "AND NOT list_contains(?::VARCHAR[], uploaded) "
                "THEN 'a value outside Clever''s vocabulary is not served'"
            )
            params.append(list(spec.VOCABULARIES[field.vocabulary]))
    return f"(CASE {' '.join(branches)} ELSE NULL END)", params
