"""Clever's Data API: pull a district into the history store, and a local stand-in server.

The only room that imports the HTTP client (httpx). See ``docs/api.md`` for the mapping.
"""

from rosterlab.api.pull import PullResult, pull_district, rederive
from rosterlab.api.served import ServedDistrict
from rosterlab.api.standin import Fault, StandIn, StandInSettings
from rosterlab.api.target import ApiTarget, api_target_from_table, api_token, load_api_target

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
