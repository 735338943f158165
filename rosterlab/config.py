"""Settings, found in one documented order.

Store path: ``--store``, else ``ROSTERLAB_STORE``, else ``store`` in rosterlab.toml, else
``./rosterlab.duckdb``. Config file: ``--config``, else ``ROSTERLAB_CONFIG``, else
``./rosterlab.toml`` (optional). Per-district settings live under ``[districts.<id>]``.
DuckDB's memory limit and threads: ``ROSTERLAB_MEMORY_LIMIT`` / ``ROSTERLAB_THREADS``, else
``memory_limit`` / ``threads`` in rosterlab.toml, else DuckDB's defaults (80 % of RAM, one thread
per core); past the limit DuckDB spills to a ``.tmp`` folder beside the store. How long a writer
waits for another one holding the store: ``ROSTERLAB_STORE_WAIT``, else ``store_wait`` (seconds,
default 300). Bounds on what one bundle may cost (zip size and compression ratio, pulled bytes,
columns per file) live under ``[limits]`` in rosterlab.toml (see :class:`Limits`). A fleet (every
district's nightly source, one store each) lives under ``[fleet]`` (see :class:`FleetSettings`).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rosterlab.errors import ConfigError
from rosterlab.spec import SYNC_TYPES

DEFAULT_STORE = "rosterlab.duckdb"
DEFAULT_CONFIG = "rosterlab.toml"
_MEMORY = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)
_SIZE = re.compile(r"(\d+)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


@dataclass(frozen=True)
class Limits:
    """What one bundle may cost, so a hostile or broken one cannot take the machine down.

    Sizes are bytes (or a size text like "8GiB" in rosterlab.toml's ``[limits]``).
    """

    bundle_max_bytes: int = 8 * 2**30  # a zip's declared unpacked size
    zip_max_ratio: int = 200  # unpacked : packed, per member of 1 MiB or more
    zip_max_files: int = 1000
    pull_max_file_bytes: int = 4 * 2**30  # one pulled file
    pull_max_bytes: int = 8 * 2**30  # a pulled bundle
    max_columns: int = 512  # per file; a wider file is not parsed (too-many-columns)


@dataclass(frozen=True)
class DistrictSettings:
    """What rosterlab knows about one district beyond its data."""

    district: str
    name: str | None = None
    sync_type: str = "sftp"
    hold_deletion_threshold: float = 0.10
    hold_update_threshold: float = 0.75
    # Field-customization thresholds (see rosterlab.checks.model.CheckSettings).
    column_emptied_ratio: float = 0.5
    column_emptied_min_fill: float = 0.2
    format_shift_share: float = 0.5
    format_shift_min_values: int = 5


FLEET_SOURCES = ("drop", "pull", "api")
DEFAULT_FLEET_ROOT = "fleet"
# A fleet district's id names its store file: no separators, no leading dot.
_FLEET_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@dataclass(frozen=True)
class FleetDistrict:
    """One district of a fleet: where its nights come from, and its settings.

    ``source`` is ``drop`` (``folder``: a folder of nightly bundles, ``YYYY-MM-DD`` folders or
    zips), ``pull`` (``target``: an SFTP ``[targets.NAME]``) or ``api`` (``target``: an
    ``[api.NAME]`` Data API target).
    """

    district: str
    source: str
    settings: DistrictSettings
    folder: Path | None = None
    target: str | None = None
    # rosterlab.toml gives the district's settings ([districts.ID], or settings in its fleet
    # table): then they win over a drop folder's district.toml, as with ``rosterlab ingest``.
    configured: bool = False
    # An ``api`` district's nights go by events (``api pull --events``, which falls back to a
    # full pull itself, saying why); ``events = false`` forces full pulls: the setting's place.
    full_pulls: str | None = None


@dataclass(frozen=True)
class FleetSettings:
    """``[fleet]``: the root folder (stores and Parquet results) and the districts, by id."""

    root: Path
    districts: tuple[FleetDistrict, ...] = ()


@dataclass(frozen=True)
class Settings:
    """Resolved settings for one run."""

    store: Path
    config_path: Path | None
    districts: dict[str, DistrictSettings] = field(default_factory=dict)
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    memory_limit: str | None = None  # DuckDB size text, e.g. "2GB"; None = DuckDB's default
    threads: int | None = None
    limits: Limits = field(default_factory=Limits)
    store_wait: float = 300.0  # seconds a writer waits for another one holding the store
    fleet: FleetSettings | None = None  # [fleet], when rosterlab.toml has one

    def district(self, district: str) -> DistrictSettings:
        return self.districts.get(district, DistrictSettings(district=district))


def load_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file, turning every problem into a one-line ConfigError."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} not found: create it or drop --config") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"{path} is a folder, not a TOML file: give the file's path") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path} ({exc.strerror}): check the path") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path} is not UTF-8 ({_bad_byte(data, exc)}): save it as UTF-8"
        ) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}): fix the file") from exc


def _bad_byte(data: bytes, exc: UnicodeDecodeError) -> str:
    """Where a file stops being UTF-8: the byte, its line and the key set on that line."""
    before = data[: exc.start].split(b"\n")
    line = before[-1] + data[exc.start :].split(b"\n", 1)[0]
    where = f"byte 0x{data[exc.start]:02x} on line {len(before)}"
    key = line.split(b"=", 1)[0].strip() if b"=" in line else b""
    if key and key.isascii():
        tables = [row.strip() for row in before[:-1] if row.strip().startswith(b"[")]
        table = tables[-1].decode() + " " if tables and tables[-1].isascii() else ""
        where += f", in {table}{key.decode()}"
    return where


# Per-district settings that are a share between 0 and 1, and those that are a count.
SHARE_KEYS = (
    "hold_deletion_threshold",
    "hold_update_threshold",
    "column_emptied_ratio",
    "column_emptied_min_fill",
    "format_shift_share",
)
COUNT_KEYS = ("format_shift_min_values",)


def district_settings(district: str, table: dict[str, Any], where: str) -> DistrictSettings:
    """Validate one ``[districts.X]`` table (or a sample's district.toml)."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table of settings, not {type(table).__name__}")
    known = {"name", "sync_type", *SHARE_KEYS, *COUNT_KEYS}
    unknown = sorted(set(table) - known)
    if unknown:
        allowed = ", ".join(sorted(known))
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {allowed}")
    sync_type = table.get("sync_type", "sftp")
    if sync_type not in SYNC_TYPES:
        raise ConfigError(
            f"{where}: sync_type {sync_type!r} must be one of {', '.join(SYNC_TYPES)}"
        )
    thresholds: dict[str, Any] = {}
    for key in SHARE_KEYS:
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ConfigError(f"{where}: {key} must be a number between 0 and 1")
            thresholds[key] = float(value)
    for key in COUNT_KEYS:
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{where}: {key} must be a whole number of at least 1")
            thresholds[key] = value
    name = table.get("name")
    if name is not None and not isinstance(name, str):
        raise ConfigError(f'{where}: name {name!r} must be text, e.g. name = "Maple USD"')
    return DistrictSettings(district=district, name=name, sync_type=sync_type, **thresholds)


def load_settings(store: str | None = None, config: str | None = None) -> Settings:
    """Resolve settings from arguments, environment and rosterlab.toml, in the documented order."""
    config_arg = config or os.environ.get("ROSTERLAB_CONFIG")
    config_path: Path | None
    if config_arg:
        config_path = Path(config_arg).expanduser()
        raw = load_toml(config_path)
    else:
        default = Path(DEFAULT_CONFIG)
        config_path = default if default.exists() else None
        raw = load_toml(default) if config_path else {}
    where = config_path or DEFAULT_CONFIG
    configured = _store(raw, where)  # checked even when --store or the environment wins
    store_value = store or os.environ.get("ROSTERLAB_STORE") or configured
    district_tables = _table(raw, "districts", where)
    districts = {
        name: district_settings(name, table, f"{config_path} [districts.{name}]")
        for name, table in district_tables.items()
    }
    return Settings(
        store=Path(store_value).expanduser(),
        config_path=config_path,
        districts=districts,
        targets=_table(raw, "targets", where),
        raw=raw,
        memory_limit=_memory_limit(os.environ.get("ROSTERLAB_MEMORY_LIMIT"), raw, config_path),
        threads=_threads(os.environ.get("ROSTERLAB_THREADS"), raw, config_path),
        limits=_limits(raw.get("limits", {}), where),
        store_wait=_store_wait(os.environ.get("ROSTERLAB_STORE_WAIT"), raw, config_path),
        fleet=_fleet(raw, config_path, district_tables),
    )


def _store(raw: dict[str, Any], where: Path | str) -> str:
    """``store`` in rosterlab.toml: a path as text (else the default)."""
    value = raw.get("store", DEFAULT_STORE)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            f"{where}: store {value!r} must be a file path in quotes, "
            'e.g. store = "rosterlab.duckdb"'
        )
    return value


def _table(raw: dict[str, Any], key: str, where: Path | str) -> dict[str, Any]:
    """``[districts]`` or ``[targets]`` of rosterlab.toml: a table of ``[key.NAME]`` tables."""
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(
            f"{where}: {key} must be a table of [{key}.NAME] sections, not {type(value).__name__}"
        )
    return dict(value)


def _limits(table: Any, config: Path | str) -> Limits:
    """``[limits]`` of rosterlab.toml: whole numbers of at least 1 (sizes may carry a unit)."""
    if not isinstance(table, dict):
        raise ConfigError(f"{config}: limits must be a table of settings ([limits])")
    known = Limits.__dataclass_fields__
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ConfigError(
            f"{config} [limits]: unknown key(s) {', '.join(unknown)}; allowed: "
            f"{', '.join(sorted(known))}"
        )
    values = {}
    for key, value in table.items():
        found = _SIZE.fullmatch(value.strip()) if isinstance(value, str) else None
        if found and (key.endswith("_bytes") or not found.group(2)):
            value = int(found.group(1)) * _UNITS[(found.group(2) or "").lower()]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            unit = " (a size like '8GiB' is fine)" if key.endswith("_bytes") else ""
            raise ConfigError(
                f"{config} [limits]: {key} {value!r} must be a whole number of at least 1{unit}"
            )
        values[key] = value
    return Limits(**values)


def _memory_limit(env: str | None, raw: dict[str, Any], config: Path | None) -> str | None:
    """``ROSTERLAB_MEMORY_LIMIT``, else ``memory_limit`` in rosterlab.toml: a size like "2GB"."""
    value, where = (env, "ROSTERLAB_MEMORY_LIMIT") if env else (raw.get("memory_limit"), config)
    if value is None:
        return None
    if not isinstance(value, str) or not _MEMORY.fullmatch(value.strip()):
        raise ConfigError(f"{where}: memory_limit {value!r} must be a size like '2GB' or '512MB'")
    return value.strip()


def _threads(env: str | None, raw: dict[str, Any], config: Path | None) -> int | None:
    """``ROSTERLAB_THREADS``, else ``threads`` in rosterlab.toml: a positive whole number."""
    value: Any = env if env else raw.get("threads")
    where = "ROSTERLAB_THREADS" if env else config
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: threads {value!r} must be a whole number of at least 1")
    return value


def _store_wait(env: str | None, raw: dict[str, Any], config: Path | None) -> float:
    """``ROSTERLAB_STORE_WAIT``, else ``store_wait`` in rosterlab.toml: seconds, 0 or more."""
    value: Any = env if env else raw.get("store_wait")
    where = "ROSTERLAB_STORE_WAIT" if env else config
    if value is None:
        return Settings.store_wait
    try:
        seconds = float(value) if not isinstance(value, bool) else -1.0
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 86_400:
        raise ConfigError(f"{where}: store_wait {value!r} must be seconds from 0 to 86400")
    return seconds


def _fleet(
    raw: dict[str, Any], config: Path | None, district_tables: dict[str, Any]
) -> FleetSettings | None:
    """``[fleet]`` of rosterlab.toml: ``root`` and ``[fleet.districts.ID]`` tables.

    Paths are relative to the toml's folder. A district's settings are its ``[districts.ID]``
    keys overridden by the same keys in its fleet table.
    """
    table = raw.get("fleet")
    if table is None or config is None:
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"{config}: fleet must be a table ([fleet]), not {type(table).__name__}")
    unknown = sorted(set(table) - {"root", "districts", "events"})
    if unknown:
        raise ConfigError(
            f"{config} [fleet]: unknown key(s) {', '.join(unknown)}; allowed: districts, "
            "events, root"
        )
    events = _events(table, f"{config} [fleet]", True)
    base = config.parent
    root = table.get("root", DEFAULT_FLEET_ROOT)
    if not isinstance(root, str) or not root.strip():
        raise ConfigError(f'{config} [fleet]: root {root!r} must be a folder path, e.g. "fleet"')
    tables = table.get("districts", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{config} [fleet]: districts must be [fleet.districts.ID] tables")
    districts = tuple(
        _fleet_district(ident, tables[ident], raw, base, config, district_tables, events)
        for ident in sorted(tables)
    )
    _refuse_twice(districts, config)
    return FleetSettings(root=base / root, districts=districts)


def _refuse_twice(districts: tuple[FleetDistrict, ...], config: Path) -> None:
    """One district named twice: two ids reading one drop folder or target (a copied table
    whose folder was not changed would ingest one district's nights into both stores), or two
    ids differing only in case (one store file on macOS and Windows)."""
    seen: dict[tuple[str, str], str] = {}
    for district in districts:
        where = f"{config} [fleet.districts.{district.district}]"
        lowered = ("id", district.district.lower())
        if lowered in seen:
            raise ConfigError(
                f"{where}: the id differs from {seen[lowered]} only in case (one store file on "
                "macOS and Windows): rename one of them"
            )
        seen[lowered] = district.district
        if district.folder is not None:
            noun, told = "folder", f"folder {district.folder}"
            key = (noun, str(district.folder.resolve()))
        else:
            noun, told = "target", f"target {district.target!r}"
            key = (district.source, str(district.target))
        if key in seen:
            raise ConfigError(
                f"{where}: {told} is {seen[key]}'s too: give each district its own {noun}, or "
                "drop the table naming it twice"
            )
        seen[key] = district.district


def _fleet_district(
    ident: str,
    table: Any,
    raw: dict[str, Any],
    base: Path,
    config: Path,
    district_tables: dict[str, Any],
    fleet_events: bool,
) -> FleetDistrict:
    where = f"{config} [fleet.districts.{ident}]"
    if not _FLEET_ID.fullmatch(ident):
        raise ConfigError(
            f"{where}: the id must be letters, digits, '.', '_' or '-' (it names the district's "
            "store file): rename the table"
        )
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table of settings, not {type(table).__name__}")
    settings_keys = {"name", "sync_type", *SHARE_KEYS, *COUNT_KEYS}
    fleet_keys = {"source", "folder", "target", "events"}
    unknown = sorted(set(table) - fleet_keys - settings_keys)
    if unknown:
        allowed = ", ".join(sorted(fleet_keys | settings_keys))
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {allowed}")
    sources = ", ".join(FLEET_SOURCES)
    source = table.get("source")
    if source is None:
        raise ConfigError(f'{where}: source is missing: add source = "drop" (one of {sources})')
    if source not in FLEET_SOURCES:
        raise ConfigError(f"{where}: source {source!r} must be one of {sources}")
    wanted, unwanted = ("folder", "target") if source == "drop" else ("target", "folder")
    value = table.get(wanted)
    if not isinstance(value, str) or not value.strip():
        example = f"drops/{ident}" if wanted == "folder" else "NAME"
        raise ConfigError(
            f'{where}: source = "{source}" needs {wanted} = "{example}" (text), got {value!r}'
        )
    for meaningless in (unwanted, *(("events",) if source != "api" else ())):
        if meaningless in table:
            raise ConfigError(
                f'{where}: {meaningless} has no meaning with source = "{source}": drop it'
            )
    if source != "drop":
        kind = "targets" if source == "pull" else "api"
        known = raw.get(kind)
        if not isinstance(known, dict) or value not in known:
            raise ConfigError(f"{where}: target {value!r} is not configured: add [{kind}.{value}]")
    own = {k: v for k, v in table.items() if k in settings_keys}
    inherited = district_tables.get(ident, {})
    merged = {**inherited, **own} if isinstance(inherited, dict) else own
    settings = district_settings(ident, merged, where)
    configured = ident in district_tables or bool(own)
    if source == "drop":
        return FleetDistrict(ident, source, settings, folder=base / value, configured=configured)
    full_pulls = None
    if source == "api" and not _events(table, where, fleet_events):
        place = f"[fleet.districts.{ident}]" if "events" in table else "[fleet]"
        full_pulls = f"{place} events = false in {config.name}"
    return FleetDistrict(
        ident, source, settings, target=value, configured=configured, full_pulls=full_pulls
    )


def _events(table: dict[str, Any], where: str, default: bool) -> bool:
    """``events``: whether the fleet's ``api`` districts go by events (true, the default) or
    pull in full every night (false); a district's own key wins over ``[fleet]``'s."""
    value = table.get("events", default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: events {value!r} must be true or false")
    return value
