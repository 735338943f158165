"""SFTP targets: the typed, validated form of a ``[targets.NAME]`` table in rosterlab.toml."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rosterlab.config import Settings
from rosterlab.errors import ConfigError

_KEYS = (
    "host",
    "port",
    "username",
    "key_file",
    "known_hosts",
    "remote_dir",
    "password_env",
    "timeout",
)
_SECRET_KEYS = ("password", "passphrase")


@dataclass(frozen=True)
class Target:
    """Where and how to reach one SFTP drop; secrets are never stored here, only where to find them.

    ``known_hosts`` pins the server's host key(s) and is required. ``password_env`` names the
    environment variable holding the password or the key's passphrase. ``timeout`` (seconds)
    bounds connecting and every wait for the server.
    """

    name: str
    host: str
    username: str
    known_hosts: Path
    port: int = 22
    key_file: Path | None = None
    remote_dir: str = "/"
    password_env: str | None = None
    timeout: float = 30.0

    @property
    def address(self) -> str:
        """``host:port`` as shown in messages."""
        return f"{self.host}:{self.port}"


def _optional(table: dict[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ConfigError(f"{where}: {key} must be a non-empty string")
    return value


def _required(table: dict[str, Any], key: str, where: str) -> str:
    value = _optional(table, key, where)
    if value is None:
        raise ConfigError(f'{where}: {key} is required: add {key} = "..." to the table')
    return value


def target_from_table(name: str, table: dict[str, Any], where: str | None = None) -> Target:
    """Validate one ``[targets.NAME]`` table (already parsed) into a Target."""
    where = where or f"[targets.{name}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table of settings")
    secrets = sorted(set(table) & set(_SECRET_KEYS))
    if secrets:
        raise ConfigError(
            f"{where}: {secrets[0]} must not be written in rosterlab.toml: remove it and set "
            f'password_env = "VARIABLE" naming an environment variable that holds it'
        )
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_KEYS)}"
        )
    port = table.get("port", 22)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError(f"{where}: port must be a whole number between 1 and 65535")
    timeout = table.get("timeout", 30.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError(f"{where}: timeout must be a positive number of seconds")
    key_file = _optional(table, "key_file", where)
    return Target(
        name=name,
        host=_required(table, "host", where),
        username=_required(table, "username", where),
        known_hosts=Path(_required(table, "known_hosts", where)).expanduser(),
        port=port,
        key_file=Path(key_file).expanduser() if key_file else None,
        remote_dir=_optional(table, "remote_dir", where) or "/",
        password_env=_optional(table, "password_env", where),
        timeout=float(timeout),
    )


def load_target(settings: Settings, name: str) -> Target:
    """The validated target ``name`` from the settings' ``[targets.*]`` tables."""
    if name not in settings.targets:
        configured = ", ".join(sorted(settings.targets)) or "none"
        where = settings.config_path or "rosterlab.toml"
        raise ConfigError(
            f"unknown target {name!r} (configured: {configured}): add [targets.{name}] to {where}"
        )
    return target_from_table(name, settings.targets[name])
