"""``api pull``: page every resource of a district's Data API into ONE snapshot (origin ``api``).

Pages land one by one in a work folder beside the store, with a manifest saying which pages are
complete and where each resource continues; a broken pull (an error, Ctrl-C, a crash) resumes
from there. Once every resource is complete, the pages are mapped to a bundle in DuckDB
(:mod:`rosterlab.api.mapping`) and ingested as one transaction together with the pull's record,
its raw pages and the Clever ids: the store gets the whole snapshot or nothing.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from rosterlab.api.client import ApiClient
from rosterlab.api.mapping import STEPS, load_pages, record_clever_ids, step_name, write_bundle
from rosterlab.api.target import ApiTarget
from rosterlab.bundle import open_bundle
from rosterlab.errors import ApiError
from rosterlab.store import IngestResult, Store, ingest_bundle
from rosterlab.store.api_pulls import ApiPull, KeptPage, page_files, pull_of, record_pull

Progress = Callable[[str], None]
PAGE_LIMIT = 10000
MANIFEST = "manifest.json"
SIS_SYNC_TYPES = {"sftp": "sftp"}  # Clever's sis_type → our sync type; others: the district's


@dataclass(frozen=True)
class PullResult:
    """What a pull did: the ingest result, the recorded pull (None when unchanged), resumed."""

    ingest: IngestResult
    pull: ApiPull | None
    resumed: bool
    rows: dict[str, int]


def work_folder(store: Store, district: str, target: ApiTarget) -> Path:
    """Where a pull's pages wait until its snapshot is written (kept for a resume)."""
    return store.path.parent / f".{store.path.name}.api-pulls" / f"{district}.{target.name}"


def first_uri(target: ApiTarget, resource: str, role: str | None) -> str:
    query = urlencode({**({"role": role} if role else {}), "limit": PAGE_LIMIT})
    return f"/v{target.version}/{resource}?{query}"


class _Manifest:
    """The pull's progress on disk, rewritten atomically after every page."""

    def __init__(self, folder: Path, target: ApiTarget) -> None:
        self.folder = folder
        self.path = folder / MANIFEST
        self.resumed = False
        state: dict[str, Any] | None = None
        if self.path.is_file():
            try:
                state = json.loads(self.path.read_text())
            except (OSError, ValueError):
                state = None
            if not isinstance(state, dict) or state.get("root") != target.root:
                state = None
        if state is None:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True, exist_ok=True)
            state = {
                "root": target.root,
                "started_at": datetime.now(UTC).isoformat(),
                "steps": {},
                "district": None,
                "requests": 0,
                "rate_limit_waits": 0,
            }
        else:
            self.resumed = True
        self.state = state

    @property
    def pages(self) -> int:
        return sum(len(s["pages"]) for s in self.state["steps"].values())

    def step(self, name: str, uri: str) -> dict[str, Any]:
        steps: dict[str, Any] = self.state["steps"]
        return steps.setdefault(name, {"done": False, "next": uri, "pages": []})

    def save(self) -> None:
        partial = self.path.with_name(MANIFEST + ".part")
        partial.write_text(json.dumps(self.state, indent=1))
        partial.replace(self.path)


def pull_district(
    store: Store,
    target: ApiTarget,
    token: str,
    *,
    district: str,
    sync_type: str | None = None,
    district_name: str | None = None,
    progress: Progress | None = None,
    client: ApiClient | None = None,
) -> PullResult:
    """Pull every resource of the district the token sees and record it as one snapshot."""
    say = progress or (lambda _message: None)
    folder = work_folder(store, district, target)
    manifest = _Manifest(folder, target)
    if manifest.resumed:
        started = manifest.state["started_at"]
        say(f"resuming the pull started at {started} ({manifest.pages} pages kept)")
    own_client = client is None
    api = client or ApiClient(target, token, say)
    try:
        _fetch_all(api, target, manifest, say)
    finally:
        manifest.state["requests"] += api.requests
        manifest.state["rate_limit_waits"] += api.rate_limit_waits
        api.requests = api.rate_limit_waits = 0
        manifest.save()
        if own_client:
            api.close()
    result = _record(store, target, manifest, district, sync_type, district_name, say)
    shutil.rmtree(folder, ignore_errors=True)
    return result


def _fetch_all(api: ApiClient, target: ApiTarget, manifest: _Manifest, say: Progress) -> None:
    records = 0
    for resource, role in STEPS:
        name = step_name(resource, role)
        step = manifest.step(name, first_uri(target, resource, role))
        while not step["done"]:
            number = len(step["pages"]) + 1
            page = api.fetch(step["next"], manifest.folder / f"{name}-{number:05d}.json")
            last = step["pages"][-1]["last_id"] if step["pages"] else None
            if last is not None and page.first_id is not None and page.first_id <= last:
                raise ApiError(
                    f"{target.root} served {name} out of order (id {page.first_id} after "
                    f"{last}): records would be repeated or skipped; pull again"
                )
            if name == "districts":
                _check_district(target, page.records, page.first_object, manifest)
            step["pages"].append(
                {
                    "page": number,
                    "uri": page.uri,
                    "file": page.path.name,
                    "sha256": page.sha256,
                    "bytes": page.bytes,
                    "records": page.records,
                    "last_id": page.last_id or last,
                }
            )
            following = page.links.get("next")
            if following is not None:
                following = api.checked_uri(following)
            step["done"] = not following or page.records == 0 or following == page.uri
            step["next"] = None if step["done"] else following
            manifest.save()
            records += page.records
            say(f"{name}: page {number}, {page.records:,} records")
    say(f"{manifest.pages} pages fetched, {records:,} records this run")


def _check_district(
    target: ApiTarget, records: int, first: dict[str, Any] | None, manifest: _Manifest
) -> None:
    if records != 1 or first is None:
        raise ApiError(
            f"the token for [api.{target.name}] sees {records} districts, not one: "
            "use a district-app token (one district per token)"
        )
    manifest.state["district"] = {
        k: first.get(k)
        for k in ("id", "name", "state", "sis_type", "last_sync", "pause_start", "pause_end")
    }


def _record(
    store: Store,
    target: ApiTarget,
    manifest: _Manifest,
    district: str,
    sync_type: str | None,
    district_name: str | None,
    say: Progress,
) -> PullResult:
    folder = manifest.folder
    served = manifest.state["district"] or {}
    kept = [
        KeptPage(
            name,
            p["page"],
            p["uri"],
            folder / p["file"],
            p["sha256"],
            p["bytes"],
            p["records"],
        )
        for name, step in manifest.state["steps"].items()
        for p in step["pages"]
    ]
    scope = {
        name: sum(p["records"] for p in step["pages"])
        for name, step in manifest.state["steps"].items()
    }
    sync = sync_type or store.district_sync_type(district)
    sync = sync or SIS_SYNC_TYPES.get(str(served.get("sis_type")), "clever-managed")
    say(f"mapping {sum(scope.values()):,} records to a bundle")
    with tempfile.TemporaryDirectory(prefix="rosterlab-api-") as tmp, store.transaction():
        load_pages(store, [p.path for p in kept])
        rows = write_bundle(store, Path(tmp) / "bundle", target.version)
        with open_bundle(Path(tmp) / "bundle") as bundle:
            ingest = ingest_bundle(
                store,
                bundle,
                district=district,
                taken_at=datetime.now(UTC),
                sync_type=sync,
                origin="api",
                source=f"api {target.name} ({target.root})",
                district_name=district_name or served.get("name"),
                progress=say,
            )
        pull = None
        if ingest.new:
            record_clever_ids(store, ingest.snapshot.id)
            pull = ApiPull(
                snapshot_id=ingest.snapshot.id,
                target=target.name,
                base_url=target.base_url,
                version=target.version,
                clever_district_id=served.get("id"),
                district_state=served.get("state"),
                sis_type=served.get("sis_type"),
                last_sync=served.get("last_sync"),
                pause_start=served.get("pause_start"),
                pause_end=served.get("pause_end"),
                scope=scope,
                pages=len(kept),
                requests=manifest.state["requests"],
                rate_limit_waits=manifest.state["rate_limit_waits"],
                started_at=datetime.fromisoformat(manifest.state["started_at"]).replace(
                    tzinfo=None
                ),
                finished_at=datetime.now(UTC).replace(tzinfo=None),
                event_cursor=None,
            )
            record_pull(store, pull, kept)
        store.execute("DROP TABLE IF EXISTS api_objects")
    return PullResult(ingest, pull, manifest.resumed, rows)


def rederive(store: Store, snapshot_id: int, folder: Path) -> dict[str, int]:
    """Write the bundle an API snapshot's kept pages map to (the snapshot's files, re-derived)."""
    pulled = pull_of(store, snapshot_id)
    if pulled is None:
        raise ApiError(f"snapshot {snapshot_id} was not pulled from the API: nothing to re-derive")
    pages_dir = folder.with_name(folder.name + ".pages")
    pages_dir.mkdir(parents=True)
    paths = []
    for step, page, sha256 in page_files(store, snapshot_id):
        path = pages_dir / f"{step}-{page:05d}.json"
        with path.open("wb") as out:
            store.copy_raw(sha256, out)
        paths.append(path)
    try:
        load_pages(store, paths)
        rows = write_bundle(store, folder, pulled.version)
        store.execute("DROP TABLE IF EXISTS api_objects")
    finally:
        shutil.rmtree(pages_dir, ignore_errors=True)
    return rows
