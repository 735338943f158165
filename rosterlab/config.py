"""Settings, found in one documented order.

Store path: ``--store``, else ``ROSTERLAB_STORE``, else ``store`` in rosterlab.toml, else
``./rosterlab.duckdb``. Config file: ``--config``, else ``ROSTERLAB_CONFIG``, else
``./rosterlab.toml`` (optional). Per-district settings live under ``[districts.<id>]``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rosterlab.errors import ConfigError
from rosterlab.spec import SYNC_TYPES

DEFAULT_STORE = "rosterlab.duckdb"
DEFAULT_CONFIG = "rosterlab.toml"


@dataclass(frozen=True)
class DistrictSettings:
    """What rosterlab knows about one district beyond its data."""

    district: str
    name: str | None = None
    sync_type: str = "sftp"
    hold_deletion_threshold: float = 0.10
    hold_update_threshold: float = 0.75


@dataclass(frozen=True)
class Settings:
    """Resolved settings for one run."""

    store: Path
    config_path: Path | None
    districts: dict[str, DistrictSettings] = field(default_factory=dict)
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    def district(self, district: str) -> DistrictSettings:
        return self.districts.get(district, DistrictSettings(district=district))


def load_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file, turning every problem into a one-line ConfigError."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found: create it or drop --config") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}): fix the file") from None


def district_settings(district: str, table: dict[str, Any], where: str) -> DistrictSettings:
    """Validate one ``[districts.X]`` table (or a sample's district.toml)."""
    known = {"name", "sync_type", "hold_deletion_threshold", "hold_update_threshold"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {sorted(known)}")
    sync_type = table.get("sync_type", "sftp")
    if sync_type not in SYNC_TYPES:
        raise ConfigError(
            f"{where}: sync_type {sync_type!r} must be one of {', '.join(SYNC_TYPES)}"
        )
    thresholds = {}
    for key in ("hold_deletion_threshold", "hold_update_threshold"):
        if key in table:
            value = table[key]
            if not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ConfigError(f"{where}: {key} must be a number between 0 and 1")
            thresholds[key] = float(value)
    return DistrictSettings(
        district=district, name=table.get("name"), sync_type=sync_type, **thresholds
    )


def load_settings(store: str | None = None, config: str | None = None) -> Settings:
    """Resolve settings from arguments, environment and rosterlab.toml, in the documented order."""
    config_arg = config or os.environ.get("ROSTERLAB_CONFIG")
    config_path: Path | None
    if config_arg:
        config_path = Path(config_arg).expanduser()
        raw = load_toml(config_path)
    else:
        default = Path(DEFAULT_CONFIG)
        config_path = default if default.is_file() else None
        raw = load_toml(default) if config_path else {}
    store_value = store or os.environ.get("ROSTERLAB_STORE") or raw.get("store") or DEFAULT_STORE
    districts = {
        name: district_settings(name, table, f"[districts.{name}]")
        for name, table in (raw.get("districts") or {}).items()
    }
    return Settings(
        store=Path(store_value).expanduser(),
        config_path=config_path,
        districts=districts,
        targets=dict(raw.get("targets") or {}),
        raw=raw,
    )
