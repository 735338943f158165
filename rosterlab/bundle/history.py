"""A district history folder: ``<district>/<YYYY-MM-DD>/<files>`` plus ``district.toml``.

This is how data/samples is laid out and how a support engineer keeps a district's nights;
``rosterlab ingest FOLDER`` ingests every night in date order, taken at 02:00 UTC that day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path

from rosterlab.config import DistrictSettings, district_settings, load_toml

NIGHT_TIME = time(2, 0)
DISTRICT_FILE = "district.toml"


@dataclass(frozen=True)
class Night:
    taken_at: datetime
    path: Path


@dataclass(frozen=True)
class HistoryFolder:
    district: str
    settings: DistrictSettings | None
    nights: tuple[Night, ...]


def _night_date(name: str) -> datetime | None:
    try:
        day = datetime.strptime(name, "%Y-%m-%d")
    except ValueError:
        return None
    return datetime.combine(day.date(), NIGHT_TIME)


def read_history_folder(path: Path) -> HistoryFolder | None:
    """The folder as a district history, or None when it is a plain bundle folder."""
    if not path.is_dir() or any(p.suffix.lower() == ".csv" for p in path.iterdir()):
        return None
    nights = sorted(
        (
            Night(when, child)
            for child in path.iterdir()
            if child.is_dir() and (when := _night_date(child.name)) is not None
        ),
        key=lambda night: night.taken_at,
    )
    settings_file = path / DISTRICT_FILE
    if not nights and not settings_file.is_file():
        return None
    district = path.resolve().name
    settings = (
        district_settings(district, load_toml(settings_file), str(settings_file))
        if settings_file.is_file()
        else None
    )
    return HistoryFolder(district, settings, tuple(nights))
