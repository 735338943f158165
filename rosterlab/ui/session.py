"""The workbench a notebook opens: a store, the district it is about, and which nights.

A notebook's parameters are ``district``, ``nights`` and ``store``. ``store=None`` means the
store ``rosterlab lab`` configured (``ROSTERLAB_STORE``), else a private store built from the
committed sample districts, so that the notebooks' stored outputs are reproducible anywhere.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import rosterlab
from rosterlab.bundle.history import HistoryFolder, read_history_folder
from rosterlab.checks import ingest_history
from rosterlab.config import DistrictSettings, Settings, load_settings
from rosterlab.errors import ConfigError, SnapshotNotFoundError
from rosterlab.store import SnapshotInfo, Store, published_path
from rosterlab.store.district_settings import settings_for_district

STORE_ENV = "ROSTERLAB_STORE"
SAMPLES_ENV = "ROSTERLAB_SAMPLES"
SAMPLES_ORIGIN = "samples"
# The sample run's settings (its SFTP target for the dry run), beside the notebooks.
SAMPLE_CONFIG = Path(rosterlab.__file__).parent.parent / "notebooks" / "sample-targets.toml"
NightRef = str | int


def samples_dir() -> Path:
    """The sample districts: ``ROSTERLAB_SAMPLES``, else ``data/samples`` of this checkout."""
    configured = os.environ.get(SAMPLES_ENV)
    folder = (
        Path(configured) if configured else Path(rosterlab.__file__).parent.parent / "data/samples"
    )
    if not folder.is_dir():
        raise ConfigError(
            f"no sample districts at {folder}: set {SAMPLES_ENV} or pass store= to a real store"
        )
    return folder


def _sample_history(district: str) -> HistoryFolder:
    history = read_history_folder(samples_dir() / district)
    if history is None or not history.nights:
        raise ConfigError(f"{district!r} is not a sample district: use one of {sample_districts()}")
    return history


def build_sample_store(path: Path, district: str) -> DistrictSettings:
    """Ingest one sample district night by night into a new store at ``path``, and check it.

    Only the one district is ingested, so its snapshot ids are its night numbers (1, 2, ...)
    whichever notebook builds it: the stored outputs stay the same.
    """
    history = _sample_history(district)
    with Store.open(path) as store:
        ingest_history(
            store,
            history,
            source=lambda night: f"{SAMPLES_ORIGIN}/{district}/{night.path.name}",
        )
    return history.settings or DistrictSettings(district=district)


def _fingerprint(district: str) -> str:
    """What a sample store depends on: the district's files and rosterlab's own code."""
    digest = hashlib.sha256()
    package = Path(rosterlab.__file__).parent
    sources = sorted((samples_dir() / district).rglob("*")) + sorted(
        p for p in package.rglob("*") if p.suffix in (".py", ".sql")
    )
    for path in sources:
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rosterlab"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def scratch_dir(purpose: str) -> Path:
    """A new folder for this process's throw-away files (a sample store, a corrected bundle).

    It lives in ``<cache>/work/<pid>-<purpose>-*`` and is removed at exit; a kernel killed
    without running its exit handlers (nbval stops kernels that way) leaves it behind, so
    folders of processes that are gone are swept away here first.
    """
    work = cache_dir() / "work"
    try:
        work.mkdir(parents=True, exist_ok=True)
        for leftover in work.iterdir():
            pid = leftover.name.split("-", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(leftover, ignore_errors=True)
        folder = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-{purpose}-", dir=work))
    except OSError:  # no writable cache: the system's temp folder
        folder = Path(tempfile.mkdtemp(prefix=f"rosterlab-{purpose}-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def sample_store(path: Path, district: str) -> DistrictSettings:
    """A store of one sample district at ``path``: a copy of a cached build when one matches.

    The cache (``$XDG_CACHE_HOME/rosterlab/samples``) is keyed by the sample files and
    rosterlab's code, so a changed night or a changed check rebuilds it (and the district's
    outdated build is removed); each caller gets its own copy, so notebooks never share a
    writable file.
    """
    cached = cache_dir() / "samples" / f"{district}-{_fingerprint(district)}.duckdb"
    try:
        if not cached.is_file():
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_name(f".{cached.name}.{os.getpid()}")
            build_sample_store(partial, district)
            published_path(partial).unlink(missing_ok=True)  # the copy gets its own
            for outdated in cached.parent.glob(f"{district}-*.duckdb"):
                outdated.unlink(missing_ok=True)
            partial.replace(cached)
        shutil.copyfile(cached, path)
    except OSError:  # no writable cache: build in place
        build_sample_store(path, district)
    history = _sample_history(district)
    return history.settings or DistrictSettings(district=district)


def sample_districts() -> list[str]:
    return sorted(p.name for p in samples_dir().iterdir() if p.is_dir())


@dataclass
class Workbench:
    """An open store and one district: what every notebook cell and widget works on.

    ``store`` reads the copy of the store the last writer published (see
    :mod:`rosterlab.store.files`): the nightly ingest never waits for a notebook, and the
    notebook keeps the state it opened until :meth:`refresh`.
    """

    store: Store
    district: str
    settings: DistrictSettings
    origin: str  # "samples" or the store's path
    config: Settings

    def refresh(self) -> str:
        """Reopen the store to see the nights ingested since; says what changed."""
        before = len(self.snapshots)
        self.store.close()
        self.store = _reader(self.store.path, self.config)
        after = len(self.snapshots)
        since = f" ({after - before:+d} since the last look)" if after != before else ""
        return f"{self.district}: {after} snapshots{since}"

    @contextmanager
    def writing(self) -> Iterator[Store]:
        """The store opened for writing, for one action (recording a push): waits for another
        writer up to ``store_wait`` seconds, publishes on close, then reads the new state."""
        path = self.store.path
        self.store.close()  # one process never holds the file both ways
        try:
            with Store.open(
                path,
                memory_limit=self.config.memory_limit,
                threads=self.config.threads,
                wait=self.config.store_wait,
            ) as store:
                yield store
        finally:
            self.store = _reader(path, self.config)

    @property
    def snapshots(self) -> list[SnapshotInfo]:
        return self.store.snapshots(self.district)

    def snapshot(self, ref: NightRef) -> SnapshotInfo:
        """A snapshot of this district from an id, ``latest`` or ``previous``."""
        return self.store.resolve(ref, self.district)

    def pair(self, nights: Sequence[NightRef] | None) -> tuple[SnapshotInfo, SnapshotInfo]:
        """The (from, to) snapshots a ``nights`` parameter names; None: previous → latest."""
        refs = tuple(nights) if nights is not None else ("previous", "latest")
        if len(refs) != 2:
            raise ConfigError(f"nights={refs!r} must name two snapshots: (from, to)")
        new = self.snapshot(refs[1])
        old = self.store.resolve_from(refs[0], new)  # previous: the night before new
        if old.seq > new.seq:
            raise SnapshotNotFoundError(
                f"nights {refs!r}: night {old.seq} comes after night {new.seq}; swap them"
            )
        return old, new

    def span(self, nights: Sequence[NightRef] | None) -> list[SnapshotInfo]:
        """Every snapshot from ``nights[0]`` to ``nights[1]`` (None: the whole history)."""
        history = self.snapshots
        if nights is None:
            return history
        old, new = self.pair(nights)
        return [s for s in history if old.seq <= s.seq <= new.seq]

    def until(self, nights: Sequence[NightRef] | None) -> tuple[int, int]:
        """The district's first night to ``nights``' to-night: a report's history charts end
        where the report does (``report --to 8`` charts no later night)."""
        return self.snapshots[0].id, self.pair(nights)[1].id

    def close(self) -> None:
        self.store.close()

    def __repr__(self) -> str:
        history = self.snapshots
        where = (
            "the sample districts (data/samples)"
            if self.origin == SAMPLES_ORIGIN
            else (self.origin)
        )
        name = f" — {self.settings.name}" if self.settings.name else ""
        if not history:
            return f"Workbench: district {self.district}{name}: no snapshots in {where}"
        first, last = history[0], history[-1]
        return (
            f"Workbench: district {self.district}{name} ({self.settings.sync_type})\n"
            f"  {len(history)} snapshots: night {first.seq} ({first.taken_at:%Y-%m-%d}) → "
            f"night {last.seq} ({last.taken_at:%Y-%m-%d})\n"
            f"  store: {where}"
        )


def _reader(path: Path, settings: Settings) -> Store:
    return Store.connect(
        path,
        read_only=True,
        memory_limit=settings.memory_limit,
        threads=settings.threads,
        wait=settings.store_wait,
    )


def open_workbench(store: str | Path | None = None, *, district: str) -> Workbench:
    """Open the store a notebook works on (see the module docstring for ``store=None``).

    Read-only, always: the workbench reads the published copy and never holds the store file.
    A real store comes with the settings of ``ROSTERLAB_CONFIG`` / ``./rosterlab.toml``; the
    sample run with ``notebooks/sample-targets.toml``, so that it is the same everywhere.
    """
    chosen = store or os.environ.get(STORE_ENV)
    if chosen:
        settings = load_settings()
        path = Path(chosen).expanduser()
        opened = _reader(path, settings)
        if not opened.snapshots(district):
            present = ", ".join(opened.districts()) or "none"
            opened.close()
            raise SnapshotNotFoundError(
                f"{path} has no snapshots of district {district!r} (districts: {present}): "
                "check the district parameter"
            )
        return Workbench(
            opened, district, settings_for_district(opened, settings, district), str(path), settings
        )
    settings = load_settings(config=str(SAMPLE_CONFIG))
    path = scratch_dir("samples") / f"{district}.duckdb"
    known = sample_store(path, district)
    bench = Workbench(_reader(path, settings), district, known, SAMPLES_ORIGIN, settings)
    atexit.register(bench.close)
    return bench
