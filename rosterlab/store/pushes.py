"""The push log: every bundle pushed to an SFTP target (failures too), as rows of ``pushes``.

A record is plain data so that the store needs nothing from the transport room; the caller
(CLI, notebook) fills it from a push result or from the error a failed push raised.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rosterlab.store.store import Store, naive_utc

OUTCOMES = ("pushed", "failed")
_COLUMNS = (
    "id, district, target, host, port, remote_dir, bundle_dir, bundle_sha256, started_at, "
    "finished_at, outcome, error, attempts, forced, files, entity_rows, stale_remote"
)


@dataclass(frozen=True)
class PushedFile:
    """One file of a pushed bundle."""

    name: str
    bytes: int
    sha256: str


@dataclass(frozen=True)
class PushRecord:
    """One push: where, when, what (per-file sizes and digests) and how it ended.

    ``error`` is the one-line error of a failed push; ``entity_rows`` the bundle's rows per
    entity when known (from its manifest or a check), used to predict holds for the next push.
    ``id`` is ``None`` until recorded.
    """

    target: str
    host: str
    port: int
    remote_dir: str
    bundle_dir: str
    bundle_sha256: str
    started_at: datetime
    finished_at: datetime
    outcome: str
    files: tuple[PushedFile, ...]
    district: str | None = None
    error: str | None = None
    attempts: int | None = None
    forced: bool = False
    entity_rows: Mapping[str, int] | None = None
    stale_remote: tuple[str, ...] = field(default=())
    id: int | None = None


def record_push(store: Store, record: PushRecord) -> PushRecord:
    """Append ``record`` to the push log; return it with its id."""
    if record.outcome not in OUTCOMES:
        raise ValueError(f"push outcome {record.outcome!r} must be one of {OUTCOMES}")
    with store.transaction():
        push_id = int(store.rows("SELECT nextval('push_ids')")[0][0])
        store.execute(
            f"INSERT INTO pushes ({_COLUMNS}) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::MAP(VARCHAR, BIGINT), ?)",
            [
                push_id,
                record.district,
                record.target,
                record.host,
                record.port,
                record.remote_dir,
                record.bundle_dir,
                record.bundle_sha256,
                naive_utc(record.started_at),
                naive_utc(record.finished_at),
                record.outcome,
                record.error,
                record.attempts,
                record.forced,
                [{"name": f.name, "bytes": f.bytes, "sha256": f.sha256} for f in record.files],
                dict(record.entity_rows) if record.entity_rows is not None else None,
                list(record.stale_remote),
            ],
        )
    return pushes(store, push_id=push_id)[0]


def pushes(
    store: Store,
    *,
    district: str | None = None,
    target: str | None = None,
    outcome: str | None = None,
    push_id: int | None = None,
) -> list[PushRecord]:
    """Recorded pushes, oldest first, optionally of one district, target or outcome."""
    where: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("district", district),
        ("target", target),
        ("outcome", outcome),
        ("id", push_id),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    clause = f"WHERE {' AND '.join(where)} " if where else ""
    rows = store.rows(f"SELECT {_COLUMNS} FROM pushes {clause}ORDER BY id", params)
    return [_record(row) for row in rows]


def was_pushed(store: Store, district: str, bundle_sha256: str) -> bool:
    """Whether this bundle (by its files' digest) was pushed for the district: a corrected
    bundle coming back in a pull."""
    return bool(
        store.rows(
            "SELECT count(*) FROM pushes WHERE district = ? AND bundle_sha256 = ? "
            "AND outcome = 'pushed'",
            [district, bundle_sha256],
        )[0][0]
    )


def last_push(store: Store, district: str) -> PushRecord | None:
    """The district's most recent successful push, if any."""
    done = pushes(store, district=district, outcome="pushed")
    return done[-1] if done else None


def _record(row: tuple[Any, ...]) -> PushRecord:
    (
        push_id,
        district,
        target,
        host,
        port,
        remote_dir,
        bundle_dir,
        bundle_sha256,
        started_at,
        finished_at,
        outcome,
        error,
        attempts,
        forced,
        files,
        entity_rows,
        stale_remote,
    ) = row
    return PushRecord(
        target=target,
        host=host,
        port=port,
        remote_dir=remote_dir,
        bundle_dir=bundle_dir,
        bundle_sha256=bundle_sha256,
        started_at=started_at,
        finished_at=finished_at,
        outcome=outcome,
        files=tuple(PushedFile(f["name"], f["bytes"], f["sha256"]) for f in files),
        district=district,
        error=error,
        attempts=attempts,
        forced=forced,
        entity_rows=dict(entity_rows) if entity_rows is not None else None,
        stale_remote=tuple(stale_remote),
        id=push_id,
    )
