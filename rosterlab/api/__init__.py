"""Clever's Data API: pull a district into the history store, and a local stand-in server.

The only room that imports the HTTP client (httpx). See ``docs/api.md`` for the mapping.
The names below load on first use: reconcile and the reports read this package's SQL and
schemas without loading httpx, the puller or the stand-in server.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rosterlab.api.pull import PullResult, pull_district, rederive
    from rosterlab.api.served import ServedDistrict
    from rosterlab.api.standin import Fault, StandIn, StandInSettings
    from rosterlab.api.target import (
        ApiTarget,
        api_target_from_table,
        api_token,
        load_api_target,
    )

_HOMES = {
    "PullResult": "pull",
    "pull_district": "pull",
    "rederive": "pull",
    "ServedDistrict": "served",
    "Fault": "standin",
    "StandIn": "standin",
    "StandInSettings": "standin",
    "ApiTarget": "target",
    "api_target_from_table": "target",
    "api_token": "target",
    "load_api_target": "target",
}

__all__ = [
    "ApiTarget",
    "Fault",
    "PullResult",
    "ServedDistrict",
    "StandIn",
    "StandInSettings",
    "api_target_from_table",
    "api_token",
    "load_api_target",
    "pull_district",
    "rederive",
]


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` when it is first asked for."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
