"""``api pull``: page every resource of a district's Data API into ONE snapshot (origin ``api``).

A full pull first remembers the newest event id (the cursor), then pages every resource. An
events pull (``--events``) fetches the events after the last pull's cursor and applies them to
that pull's kept pages; with no usable cursor (none recorded, older than Clever's 30-day window,
or refused by the API) it falls back to a full pull and says so. A pull whose state maps to the
bundle of the target's newest pull records no snapshot; that pull takes its state (pages, event
cursor, district status) when it serves the same Clever ids, so its cursor stays current.

Pages land one by one in a work folder beside the store, with a manifest saying which pages are
complete and where each resource continues; a broken pull (an error, Ctrl-C, a crash) resumes
from there. While a full pull fetches the next page, a worker thread reads the pages already on
disk into DuckDB (the only user of the store's connection until the fetching ends). Once every
resource is complete, the objects are mapped to a bundle in DuckDB (:mod:`rosterlab.api.mapping`)
and ingested as one transaction together with the pull's record, its raw pages and the Clever
ids: the store gets the whole snapshot or nothing.
"""

from __future__ import annotations

import contextlib
import json
import queue
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from rosterlab.api.client import ApiClient, RefusedError
from rosterlab.api.mapping import (
    EVENTS_STEP,
    STEPS,
    add_pages,
    apply_latest,
    count_objects,
    district_status,
    drop_owners,
    ext_after,
    ext_keys,
    header_ext_keys,
    load_pages,
    map_owners,
    mark_owners,
    owned_table,
    read_events,
    record_clever_ids,
    serve_kept,
    serves_clever_ids,
    start_objects,
    step_name,
    write_bundle,
)
from rosterlab.api.served import EVENT_WINDOW
from rosterlab.api.target import ApiTarget
from rosterlab.bundle import open_bundle
from rosterlab.errors import ApiError, DiskFullError, disk_full
from rosterlab.store import IngestResult, Progress, Store, ingest_bundle
from rosterlab.store.api_pulls import (
    ApiPull,
    KeptPage,
    adopt_served,
    compress_served,
    confirm_cursor,
    drop_pending,
    keep_served,
    kept_pages,
    mark_served,
    pack_page,
    pending_served,
    pull_of,
    pulled_as,
    pulls,
    record_pull,
    served_of,
    take_pull,
)
from rosterlab.store.delta import OwnedFile, OwnerDelta

MANIFEST = "manifest.json"
SIS_SYNC_TYPES = {"sftp": "sftp"}  # Clever's sis_type → our sync type; others: the district's
# ``ending_before`` an id above every id gives the newest event (unconfirmed at Clever).
NEWEST_EVENT = "f" * 24
# The cursor of a pull that found events served but none yet (ours): every event served later
# was created after it, so the next events pull asks for all of them (no ``starting_after``).
BEFORE_ANY_EVENT = ""


@dataclass(frozen=True)
class PullResult:
    """What a pull did: the ingest result, the pull (recorded when ``ingest.new``; unchanged,
    what it saw, its snapshot the one it matched and its ``event_cursor`` the one the next
    events pull continues from, the target's newest pull's), whether it resumed, the rows per
    bundle file, the snapshot events were applied to (None: full), and why events were asked
    for but not applied (None: not asked for, or applied). ``fetched``: the pages this pull
    fetched (with those a resumed attempt kept), as its ``requests`` count them; an events
    pull's state is made of the base pull's pages too (``pull.pages``)."""

    ingest: IngestResult
    pull: ApiPull
    resumed: bool
    rows: dict[str, int]
    events_base: int | None
    full_because: str | None = None  # why an events pull (--events) was a full pull
    fetched: int = 0
    cursor_kept: bool = False  # unchanged, and the newest pull takes this pull's state


def work_folder(store: Store, district: str, target: ApiTarget) -> Path:
    """Where a pull's pages wait until its snapshot is written (kept for a resume)."""
    return store.path.parent / f".{store.path.name}.api-pulls" / f"{district}.{target.name}"


def first_uri(target: ApiTarget, resource: str, role: str | None) -> str:
    query = urlencode({**({"role": role} if role else {}), "limit": target.page_limit})
    return f"/v{target.version}/{resource}?{query}"


class _Manifest:
    """The pull's progress on disk, rewritten atomically after every page.

    ``mode`` is ``full`` or ``events`` (with the base snapshot and cursor); a manifest left by
    another mode, base URL or version is discarded.
    """

    def __init__(self, folder: Path, target: ApiTarget, mode: dict[str, Any]) -> None:
        self.folder = folder
        self.path = folder / MANIFEST
        state: dict[str, Any] | None = None
        if self.path.is_file():
            try:
                state = json.loads(self.path.read_text())
            except (OSError, ValueError):
                state = None
            if not isinstance(state, dict) or (state.get("root"), state.get("mode")) != (
                target.root,
                mode,
            ):
                state = None
        if state is None:
            shutil.rmtree(folder, ignore_errors=True)
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise _unwritable(exc, folder) from exc
            state = {
                "root": target.root,
                "mode": mode,
                "started_at": datetime.now(UTC).isoformat(),
                "steps": {},
                "requests": 0,
                "rate_limit_waits": 0,
            }
        self.state = state
        # resumed: an earlier attempt's pages are used (one that kept none resumes nothing)
        self.resumed = self.pages > 0

    @property
    def pages(self) -> int:
        return sum(len(s["pages"]) for s in self.state["steps"].values())

    def step(self, name: str, uri: str) -> dict[str, Any]:
        steps: dict[str, Any] = self.state["steps"]
        return steps.setdefault(name, {"done": False, "next": uri, "pages": []})

    def save(self) -> None:
        partial = self.path.with_name(MANIFEST + ".part")
        try:
            partial.write_text(json.dumps(self.state, indent=1))
            partial.replace(self.path)
        except OSError as exc:
            raise _unwritable(exc, partial) from exc


class _Loader:
    """Reads fetched pages into ``api_objects`` and compresses them for the raw store, on a
    worker thread while the next pages are fetched. The objects land in ``api_served`` as the
    district's pending served state (:func:`pending_served`), committed when the fetching
    ends (DuckDB reads committed rows in parallel, a transaction's own appended rows on one
    thread), made the district's in the snapshot's transaction, or dropped when the pull fails.

    Until the ``with`` block ends the worker is the only user of the store's connection (the
    fetching never touches the store). Pages waiting when the worker comes round are handed to
    :func:`add_pages` together (it reads them a few megabytes a statement). Leaving the block
    waits for the pages queued; on an error it reads no more.
    """

    def __init__(self, store: Store, manifest: _Manifest, district: str) -> None:
        self.store = store
        self.folder = manifest.folder
        self.served = pending_served(district)
        drop_pending(store, district)  # left by a pull that could not drop them (a crash)
        self.waiting: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self.error: BaseException | None = None
        self.abandoned = False
        start_objects(store, self.served)
        for step in manifest.state["steps"].values():  # kept by an earlier, broken run
            for page in step["pages"]:
                self.waiting.put(page)
        self.worker = threading.Thread(target=self._work, name="rosterlab-api-load", daemon=True)

    def __enter__(self) -> _Loader:
        compress_served(self.store, True)
        self.worker.start()
        return self

    def add(self, page: dict[str, Any]) -> None:
        """Queue a page as the manifest records it (file, sha256, bytes)."""
        self.waiting.put(page)

    def _work(self) -> None:
        done = False
        while not done:
            batch = [self.waiting.get()]
            while not self.waiting.empty():
                batch.append(self.waiting.get())
            done = batch[-1] is None
            pages = [page for page in batch if page is not None]
            if self.error is None and not self.abandoned:
                try:
                    pages_read = [self.folder / page["file"] for page in pages]
                    add_pages(self.store, pages_read, self.served)
                    for page in pages:
                        pack_page(self.folder / page["file"], page["sha256"], page["bytes"])
                except BaseException as exc:  # re-raised on the caller's thread
                    self.error = exc

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self.abandoned = kind is not None
        self.waiting.put(None)
        self.worker.join()
        compress_served(self.store, False)
        if self.error is not None and kind is None:
            raise self.error


def _unwritable(exc: OSError, path: Path) -> ApiError | DiskFullError:
    full = disk_full(exc, str(path), "the pages fetched so far are kept for a resume")
    return full or ApiError(
        f"cannot write {path} ({exc.strerror}): the pull keeps its pages beside the store; "
        "make that folder writable"
    )


def pull_district(
    store: Store,
    target: ApiTarget,
    token: str,
    *,
    district: str,
    events: bool = False,
    sync_type: str | None = None,
    district_name: str | None = None,
    progress: Progress | None = None,
    evict_for_delta: bool = False,
) -> PullResult:
    """Pull the district the token sees (every resource, or the events since the last pull)
    and record it as one snapshot. ``evict_for_delta``: for a pull under a tight memory limit
    (``api pull``'s 1 GB), the largest raw file, when kept as a delta, is packed with DuckDB's
    buffers evicted (:func:`ingest_bundle`); measured only there, so the fleet's and the
    workbench's pulls leave it off."""
    say = progress or (lambda _message: None)
    base, full_because = _event_base(store, target, district) if events else (None, None)
    if full_because is not None:
        say(f"{full_because}: full pull")
    folder = work_folder(store, district, target)
    manifest = _Manifest(folder, target, _mode(base))
    if manifest.resumed:
        started = manifest.state["started_at"]
        say(f"resuming the pull started at {started} ({manifest.pages} pages kept)")
    try:
        with ApiClient(target, token, say) as api:
            try:
                if base is not None:
                    try:
                        _fetch_events(api, target, manifest, base, store, say)
                    except RefusedError as refused:
                        if refused.status not in (400, 404) or manifest.pages:
                            raise
                        cursor = base.event_cursor
                        full_because = f"the API refused event cursor {cursor} ({refused})"
                        say(f"{full_because}: full pull")
                        base = None
                        manifest = _Manifest(folder, target, _mode(None))
                if base is None:
                    _fetch_cursor(api, target, manifest, say)
                    # appended in one transaction, committed once (a commit per page
                    # checkpointed the served rows over and over), then read in parallel
                    with store.transaction(), _Loader(store, manifest, district) as loader:
                        _fetch_steps(api, target, manifest, say, on_page=loader.add)
            finally:
                manifest.state["requests"] += api.requests
                manifest.state["rate_limit_waits"] += api.rate_limit_waits
                manifest.save()
        result = _record(
            store, target, manifest, base, district, sync_type, district_name, say, evict_for_delta
        )
        result = replace(result, full_because=full_because)
    except BaseException:
        if base is None:  # the loader's served rows, committed before the snapshot's
            with contextlib.suppress(Exception):  # a resume reads the pages again anyway
                drop_pending(store, district)
        raise
    shutil.rmtree(folder, ignore_errors=True)
    return result


def _same_district(
    store: Store, served: dict[str, Any], district: str, target: ApiTarget, folder: Path
) -> None:
    """A token sees one district, whatever --district says: the Clever district an earlier pull
    recorded under another name only is not this one (a mistyped --district would start a
    second history of it). Refused, its pages are not kept for a resume under the wrong name."""
    clever_id = served.get("id")
    others = pulled_as(store, str(clever_id)) if clever_id else []
    if others and district not in others:
        shutil.rmtree(folder, ignore_errors=True)
        raise ApiError(
            f"[api.{target.name}] serves Clever district {clever_id} "
            f"({served.get('name') or 'no name'}), which this store pulled as district "
            f"{others[0]}, not {district}: run api pull --district {others[0]} (the token "
            "decides which district is served)"
        )


def _mode(base: ApiPull | None) -> dict[str, Any]:
    if base is None:
        return {"kind": "full"}
    return {"kind": "events", "base": base.snapshot_id, "cursor": base.event_cursor}


def _target_pulls(store: Store, target: ApiTarget, district: str) -> list[ApiPull]:
    """The district's recorded pulls of ``target`` at its version, oldest first."""
    return [
        p for p in pulls(store, district) if (p.target, p.version) == (target.name, target.version)
    ]


def _event_base(
    store: Store, target: ApiTarget, district: str
) -> tuple[ApiPull | None, str | None]:
    """The pull whose cursor the events continue from, or None and why it is a full pull."""
    earlier = _target_pulls(store, target, district)
    if not earlier:
        return None, f"no earlier pull of [api.{target.name}] v{target.version} to apply events to"
    last = earlier[-1]
    if last.event_cursor is None:
        return None, f"snapshot {last.snapshot_id} has no event cursor (events not served then)"
    # Clever keeps events 30 days: the events after the cursor are all still served while the
    # last time it was known to miss none (that pull's start, or a later pull's that found no
    # event after it) is within the window; past it, some may be gone, the cursor's own too.
    age = datetime.now(UTC).replace(tzinfo=None) - (last.cursor_confirmed_at or last.started_at)
    if age > EVENT_WINDOW:
        return None, (
            f"the event cursor of the last pull (snapshot {last.snapshot_id}) was last confirmed "
            f"{age.days} days ago, beyond Clever's {EVENT_WINDOW.days}-day event window"
        )
    return last, None


def _fetch_cursor(api: ApiClient, target: ApiTarget, manifest: _Manifest, say: Progress) -> None:
    """Remember the newest event id before paging (events after it are applied next time)."""
    if "event_cursor" in manifest.state:
        return
    uri = f"/v{target.version}/events?limit=1&ending_before={NEWEST_EVENT}"
    try:
        newest = api.fetch(uri, manifest.folder / "cursor.json")
        manifest.state["event_cursor"] = newest.last_id or BEFORE_ANY_EVENT
    except RefusedError as refused:
        if refused.status != 404:
            raise
        say(f"events are not served ({refused}): the next --events pull will be a full pull")
        manifest.state["event_cursor"] = None
    manifest.save()


def _fetch_events(
    api: ApiClient,
    target: ApiTarget,
    manifest: _Manifest,
    base: ApiPull,
    store: Store,
    say: Progress,
) -> None:
    """The events after the base pull's cursor, numbered after the base's own event pages."""
    if "first_event_page" not in manifest.state:
        earlier = store.rows(
            "SELECT count(*) FROM api_pages WHERE snapshot_id = ? AND step = ?",
            [base.snapshot_id, EVENTS_STEP],
        )[0][0]
        manifest.state["first_event_page"] = int(earlier) + 1
    after = {"starting_after": base.event_cursor} if base.event_cursor else {}
    query = urlencode({"limit": target.page_limit, **after})
    _fetch_steps(
        api,
        target,
        manifest,
        say,
        [(EVENTS_STEP, f"/v{target.version}/events?{query}")],
        first_page=manifest.state["first_event_page"],
    )


def _fetch_steps(
    api: ApiClient,
    target: ApiTarget,
    manifest: _Manifest,
    say: Progress,
    steps: list[tuple[str, str]] | None = None,
    first_page: int = 1,
    on_page: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Page each step from its first URI, following ``next`` links, saving after every page
    (then handing its manifest entry to ``on_page``)."""
    records = 0
    plan = steps or [(step_name(r, role), first_uri(target, r, role)) for r, role in STEPS]
    for name, uri in plan:
        step = manifest.step(name, uri)
        while not step["done"]:
            number = first_page + len(step["pages"])
            page = api.fetch(step["next"], manifest.folder / f"{name}-{number:05d}.json")
            last = step["pages"][-1]["last_id"] if step["pages"] else None
            if last is not None and page.first_id is not None and page.first_id <= last:
                raise ApiError(
                    f"{target.root} served {name} out of order (id {page.first_id} after "
                    f"{last}): records would be repeated or skipped; pull again"
                )
            if name == "districts" and page.records != 1:
                raise ApiError(
                    f"the token for [api.{target.name}] sees {page.records} districts, not one: "
                    "use a district-app token (one district per token)"
                )
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
            if on_page is not None:
                on_page(step["pages"][-1])
            records += page.records
            say(f"{name}: page {number}, {page.records:,} records")
    say(f"{manifest.pages} pages fetched, {records:,} records this run")


def _record(
    store: Store,
    target: ApiTarget,
    manifest: _Manifest,
    base: ApiPull | None,
    district: str,
    sync_type: str | None,
    district_name: str | None,
    say: Progress,
    evict_for_delta: bool,
) -> PullResult:
    folder = manifest.folder
    fetched = [
        KeptPage(name, p["page"], p["uri"], folder / p["file"], p["sha256"], p["bytes"],
                 p["records"])
        for name, step in manifest.state["steps"].items()
        for p in step["pages"]
    ]  # fmt: skip
    # events apply to the served state kept from the base pull, else to the base's pages
    kept_state = base is not None and served_of(store, district) == base.snapshot_id
    base_pages = (
        kept_pages(store, base.snapshot_id, folder / "base", write=not kept_state) if base else []
    )
    kept = base_pages + fetched
    if base is None:
        cursor = manifest.state.get("event_cursor")
    else:
        newest = [p["last_id"] for p in manifest.state["steps"][EVENTS_STEP]["pages"]]
        cursor = next((c for c in reversed(newest) if c), base.event_cursor)
    delta, ext = None, None
    cursor_kept = False
    with tempfile.TemporaryDirectory(prefix="rosterlab-api-") as tmp, store.transaction():
        if base is None:  # a full pull's objects were read while fetching
            applied = count_objects(store)
        elif kept_state:
            delta, ext = _apply_kept(store, fetched, base, district, target.version, say)
            applied = count_objects(store)
        else:
            applied = load_pages(store, [p.path for p in kept])
        say(f"mapping {applied:,} records to a bundle")
        served = district_status(store)
        _same_district(store, served, district, target, folder)
        scope = dict(store.rows("SELECT step, count(*) FROM api_objects GROUP BY step"))
        scope = {step_name(r, role): scope.get(step_name(r, role), 0) for r, role in STEPS}
        # after the owners' mapping, the sis_ids are current and the ext keys known
        rows = write_bundle(
            store, Path(tmp) / "bundle", target.version, ext, sis_kept=delta is not None
        )
        sync = sync_type or store.district_sync_type(district)
        sync = sync or SIS_SYNC_TYPES.get(str(served.get("sis_type")), "clever-managed")
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
                written=rows,
                delta=delta,
                evict_for_delta=evict_for_delta,
            )
        drop_owners(store)
        started = datetime.fromisoformat(manifest.state["started_at"])
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
            started_at=started.replace(tzinfo=None),
            finished_at=datetime.now(UTC).replace(tzinfo=None),
            event_cursor=cursor,
        )
        if ingest.new:
            record_clever_ids(store, ingest.snapshot.id)
            record_pull(store, pull, kept)
            if kept_state:  # the events were applied to it in place
                mark_served(store, district, ingest.snapshot.id)
            elif base is None:  # the loader wrote them
                adopt_served(store, district, ingest.snapshot.id)
            else:
                keep_served(store, district, ingest.snapshot.id)
        elif _takes_state(store, target, district, pull, base, fetched):
            # the newest pull's snapshot is this state's bundle: that pull takes this state
            # (its pages, cursor and district status), so the events after this pull's cursor
            # apply to its pages and its served state
            take_pull(store, pull, kept)
            if base is None:  # the loader wrote them
                adopt_served(store, district, ingest.snapshot.id)
            elif not kept_state:  # a kept state holds the events applied in place already
                keep_served(store, district, ingest.snapshot.id)
            cursor_kept = True
        elif base is None:
            drop_pending(store, district)
        elif not any(p.records for p in fetched):
            # no event after the base's cursor: any that follows is newer than this pull
            confirm_cursor(store, base.snapshot_id, pull.started_at)
        # unchanged, not taken: a kept state holds the events applied, which a later pull
        # applies again
        view = kept_state or base is None
        store.execute(f"DROP {'VIEW' if view else 'TABLE'} IF EXISTS api_objects")
    if not ingest.new:  # the cursor the next events pull continues from
        newest = _target_pulls(store, target, district)
        pull = replace(pull, event_cursor=newest[-1].event_cursor if newest else None)
    return PullResult(
        ingest,
        pull,
        manifest.resumed,
        rows,
        base.snapshot_id if base else None,
        fetched=len(fetched),
        cursor_kept=cursor_kept,
    )


def _takes_state(
    store: Store,
    target: ApiTarget,
    district: str,
    pull: ApiPull,
    base: ApiPull | None,
    fetched: list[KeptPage],
) -> bool:
    """Whether the newest pull of the target takes the state an unchanged pull found (what
    the events after ``pull``'s cursor apply to): the state maps to that pull's snapshot's
    bundle (``pull.snapshot_id``, the one it matched), so re-deriving it from the new pages
    gives its files, and it serves the same district under the same Clever ids, which the
    bundle does not show. A full pull needs a cursor (events served), an events pull events
    applied (with none, it only confirms its base's cursor); another state leaves the newest
    pull as it was."""
    earlier = _target_pulls(store, target, district)
    if not earlier or earlier[-1].snapshot_id != pull.snapshot_id:
        return False
    moved = pull.event_cursor is not None if base is None else any(p.records for p in fetched)
    return (
        moved
        and earlier[-1].clever_district_id == pull.clever_district_id
        and serves_clever_ids(store, pull.snapshot_id)
    )


def _apply_kept(
    store: Store,
    fetched: list[KeptPage],
    base: ApiPull,
    district: str,
    version: str,
    say: Progress,
) -> tuple[OwnerDelta | None, dict[str, list[str] | None] | None]:
    """Apply the events to the served state kept from the base pull (``api_objects`` becomes
    its view). When the base is the district's newest night, the owners the events touch are
    mapped before and after: the delta the ingest merges and the ``ext`` keys after the events
    (:func:`ext_after`); (None, None) otherwise."""
    serve_kept(store, district)
    read_events(store, [p.path for p in fetched])
    history = store.snapshots(district)
    newest = bool(history) and history[-1].id == base.snapshot_id
    before: dict[str, tuple[str, ...]] = {}
    if newest:
        owners = mark_owners(store)
        # the base's headers name every object's ext keys before the events
        headers = store.rows(
            "SELECT spec_name, header FROM snapshot_files WHERE snapshot_id = ? "
            "AND spec_name IS NOT NULL",
            [base.snapshot_id],
        )
        base_ext = header_ext_keys(dict(headers))
        owned_ext = ext_keys(store, "api_owned")
        before = map_owners(store, version, "before", {**base_ext})
    touched = apply_latest(store, "api_served", district, owned=newest)
    say(
        f"events changed {touched:,} records of the served state kept from snapshot "
        f"{base.snapshot_id}"
    )
    if not newest:
        say(f"snapshot {base.snapshot_id} is not the district's newest night: merging in full")
        return None, None
    after_ext = ext_after(base_ext, owned_ext, ext_keys(store, "api_owned"))
    after = map_owners(store, version, "after", after_ext)
    store.execute("DROP TABLE api_owned")  # its objects' JSON, before the whole mapping
    say(f"{owners:,} records own the rows those events may change")
    return OwnerDelta(
        base.snapshot_id,
        {name: OwnedFile(owned_table("before", name), h) for name, h in before.items()},
        {name: OwnedFile(owned_table("after", name), h) for name, h in after.items()},
    ), after_ext


def rederive(store: Store, snapshot_id: int, folder: Path) -> dict[str, int]:
    """Write the bundle an API snapshot's kept pages map to (the snapshot's files, re-derived)."""
    pulled = pull_of(store, snapshot_id)
    if pulled is None:
        raise ApiError(f"snapshot {snapshot_id} was not pulled from the API: nothing to re-derive")
    pages_dir = folder.with_name(folder.name + ".pages")
    try:
        kept = kept_pages(store, snapshot_id, pages_dir)
        load_pages(store, [p.path for p in kept])
        rows = write_bundle(store, folder, pulled.version)
        store.execute("DROP TABLE IF EXISTS api_objects")
    finally:
        shutil.rmtree(pages_dir, ignore_errors=True)
    return rows
