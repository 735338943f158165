"""API targets: the typed, validated form of an ``[api.NAME]`` table in rosterlab.toml.

A token is never written in rosterlab.toml: it comes from the environment variable named by
``token_env``, else from the keyring (``keyring set rosterlab api.NAME``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from rosterlab.api.schemas import VERSIONS
from rosterlab.config import Settings
from rosterlab.errors import ConfigError

KEYRING_SERVICE = "rosterlab"
_KEYS = ("base_url", "version", "token_env", "timeout", "retries", "backoff", "page_limit")
MAX_PAGE_LIMIT = 10000
_SECRET_KEYS = ("token", "client_secret", "password")
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class ApiTarget:
    """Where and how to read one district's Data API; the token is only named, never stored.

    ``base_url`` is the API's origin (``https://api.clever.com``); the version path is added.
    ``retries`` bounds the retries per page on 5xx, dropped connections and malformed bodies;
    ``backoff`` is the first wait (seconds), doubled on each retry. ``page_limit`` is the
    page size asked for (Clever's maximum, 10000, unless a proxy needs smaller pages).
    """

    name: str
    base_url: str
    version: str = "3.1"
    token_env: str | None = None
    timeout: float = 60.0
    retries: int = 5
    backoff: float = 1.0
    page_limit: int = MAX_PAGE_LIMIT

    @property
    def root(self) -> str:
        """The versioned base, e.g. ``https://api.clever.com/v3.1``."""
        return f"{self.base_url}/v{self.version}"


def api_target_from_table(name: str, table: Any, where: str | None = None) -> ApiTarget:
    """Validate one ``[api.NAME]`` table (already parsed)."""
    where = where or f"[api.{name}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table of settings")
    secrets = sorted(set(table) & set(_SECRET_KEYS))
    if secrets:
        raise ConfigError(
            f"{where}: {secrets[0]} must not be written in rosterlab.toml: remove it and set "
            'token_env = "VARIABLE" naming an environment variable that holds the token'
        )
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_KEYS)}"
        )
    base_url = table.get("base_url")
    if not isinstance(base_url, str) or not base_url.strip():
        raise ConfigError(
            f'{where}: base_url is required, e.g. base_url = "https://api.clever.com"'
        )
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}: base_url {base_url!r} must be an http(s) URL")
    if parts.scheme == "http" and parts.hostname not in _LOCAL_HOSTS:
        raise ConfigError(
            f"{where}: base_url {base_url!r} would send the token unencrypted: use https "
            "(plain http is only for a stand-in on 127.0.0.1)"
        )
    if parts.path.rstrip("/") not in ("",):
        raise ConfigError(
            f"{where}: base_url {base_url!r} must be the API's origin without a path "
            "(the version path comes from version)"
        )
    version = str(table.get("version", "3.1"))
    if version not in VERSIONS:
        raise ConfigError(f"{where}: version {version!r} must be one of {', '.join(VERSIONS)}")
    token_env = table.get("token_env")
    if token_env is not None and (not isinstance(token_env, str) or not token_env.strip()):
        raise ConfigError(f"{where}: token_env must name an environment variable")
    timeout = table.get("timeout", 60.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError(f"{where}: timeout must be a positive number of seconds")
    retries = table.get("retries", 5)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 20:
        raise ConfigError(f"{where}: retries must be a whole number from 0 to 20")
    backoff = table.get("backoff", 1.0)
    if isinstance(backoff, bool) or not isinstance(backoff, int | float) or backoff < 0:
        raise ConfigError(f"{where}: backoff must be a number of seconds, at least 0")
    page_limit = table.get("page_limit", MAX_PAGE_LIMIT)
    if isinstance(page_limit, bool) or not isinstance(page_limit, int):
        raise ConfigError(f"{where}: page_limit must be a whole number from 1 to {MAX_PAGE_LIMIT}")
    if not 1 <= page_limit <= MAX_PAGE_LIMIT:
        raise ConfigError(f"{where}: page_limit must be a whole number from 1 to {MAX_PAGE_LIMIT}")
    return ApiTarget(
        name=name,
        base_url=base_url.strip().rstrip("/"),
        version=version,
        token_env=token_env,
        timeout=float(timeout),
        retries=retries,
        backoff=float(backoff),
        page_limit=page_limit,
    )


def load_api_target(settings: Settings, name: str) -> ApiTarget:
    """The validated target ``name`` from the settings' ``[api.*]`` tables."""
    tables = settings.raw.get("api") or {}
    if not isinstance(tables, dict) or name not in tables:
        configured = ", ".join(sorted(tables)) if isinstance(tables, dict) else ""
        where = settings.config_path or "rosterlab.toml"
        raise ConfigError(
            f"unknown API target {name!r} (configured: {configured or 'none'}): "
            f"add [api.{name}] to {where}"
        )
    return api_target_from_table(name, tables[name])


def api_token(target: ApiTarget) -> str:
    """The bearer token: from ``token_env`` when named, else the keyring."""
    if target.token_env is not None:
        value = os.environ.get(target.token_env)
        if not value:
            raise ConfigError(
                f"environment variable {target.token_env} (token_env of [api.{target.name}]) is "
                "not set: export the district-app token in it before running"
            )
        return value
    secret = _keyring_token(target)
    if not secret:
        raise ConfigError(
            f"no token for [api.{target.name}]: set token_env in rosterlab.toml or store it "
            f"with `keyring set {KEYRING_SERVICE} api.{target.name}`"
        )
    return secret


def _keyring_token(target: ApiTarget) -> str | None:
    try:
        import keyring
    except ImportError:
        return None
    try:
        secret = keyring.get_password(KEYRING_SERVICE, f"api.{target.name}")
    except keyring.errors.KeyringError:
        return None
    return secret if isinstance(secret, str) else None
