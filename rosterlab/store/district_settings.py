"""A district's settings, read the same way by every command, widget and report.

Precedence (first found wins, per district):

1. ``[districts.<id>]`` in rosterlab.toml (``--config``, ``ROSTERLAB_CONFIG``, ``rosterlab.toml``);
2. the district folder's ``district.toml``, recorded in the store when the folder was ingested;
3. the defaults of :class:`~rosterlab.config.DistrictSettings` (Clever's published thresholds),
   with the name and sync type the store recorded at ingest.

Each checked snapshot also records the settings it was checked with (``snapshot_outcomes``).
"""

from __future__ import annotations

import json
from dataclasses import asdict

from rosterlab.config import DistrictSettings, Settings, district_settings
from rosterlab.store.store import Store


def record_district_settings(store: Store, known: DistrictSettings) -> bool:
    """Keep a district folder's ``district.toml`` with the district (after its first ingest);
    whether it changed what was kept (a night with the same district.toml writes nothing)."""
    values = {k: v for k, v in asdict(known).items() if k != "district" and v is not None}
    return bool(
        store.written(
            "UPDATE districts SET settings = $1 WHERE district = $2 "
            "AND settings IS DISTINCT FROM $1",
            [json.dumps(values, sort_keys=True), known.district],
        )
    )


def settings_for_district(store: Store, settings: Settings, district: str) -> DistrictSettings:
    """The district's settings, in the documented precedence (module docstring)."""
    if district in settings.districts:
        return settings.districts[district]
    rows = store.rows(
        "SELECT name, sync_type, settings FROM districts WHERE district = ?", [district]
    )
    if not rows:
        return settings.district(district)
    name, sync_type, recorded = rows[0]
    if recorded:
        return district_settings(
            district, json.loads(recorded), f"the district.toml recorded for {district}"
        )
    return DistrictSettings(district=district, name=name, sync_type=sync_type)


def settings_for_ingest(store: Store, settings: Settings, district: str) -> DistrictSettings | None:
    """The settings a new night of ``district`` is ingested and checked with: as
    :func:`settings_for_district` once the district has a snapshot (its recorded district.toml
    counts), else rosterlab.toml's ``[districts.<id>]`` (None: the defaults)."""
    if store.snapshots(district):
        return settings_for_district(store, settings, district)
    return settings.districts.get(district)
