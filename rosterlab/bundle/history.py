"""A district history folder: ``<district>/<YYYY-MM-DD>/<files>`` plus ``district.toml``.

This is how data/samples is laid out and how a support engineer keeps a district's nights;
``rosterlab ingest FOLDER`` ingests every night in date order, taken at 02:00 UTC that day.
Night folders are checked up front, before anything is ingested: a name that looks like a date
but is not an exact, real ``YYYY-MM-DD`` (``2026-9-01``, ``2026-02-30``), and a night that links
out of the history folder, are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path, PurePath

from rosterlab.config import DistrictSettings, district_settings, load_toml
from rosterlab.errors import BundleError

NIGHT_TIME = time(2, 0)
DISTRICT_FILE = "district.toml"
_DATE_LIKE = re.compile(r"\d{1,4}-\d{1,2}-\d{1,2}")
_NIGHT = re.compile(r"\d{4}-\d{2}-\d{2}")
# A date in a bundle's name, optionally with a time: maple-2026-09-03, 2026-09-03T0215.zip.
_NAME_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?:[T_ ](\d{2})(\d{2}))?(?!\d)")


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
    """The night a folder name is (exactly YYYY-MM-DD, a real date), else None."""
    if not _NIGHT.fullmatch(name):
        return None
    try:
        day = datetime.strptime(name, "%Y-%m-%d")
    except ValueError:
        return None
    return datetime.combine(day.date(), NIGHT_TIME)


def date_in_name(source: str | PurePath) -> datetime | None:
    """The night a bundle's folder or zip name gives (``YYYY-MM-DD`` at 02:00, or ``THHMM``).

    The last valid date in the name wins (``export-2026-09-03`` → 2026-09-03 02:00); a name
    without one (or with an impossible one, 2026-13-01) gives None.
    """
    name = PurePath(source).name
    if name.lower().endswith(".zip"):
        name = name[:-4]
    found = None
    for match in _NAME_DATE.finditer(name):
        year, month, day, hour, minute = match.groups()
        try:
            found = datetime(
                int(year), int(month), int(day), int(hour or NIGHT_TIME.hour), int(minute or 0)
            )
        except ValueError:
            continue
    return found


def read_history_folder(path: Path) -> HistoryFolder | None:
    """The folder as a district history, or None when it is a plain bundle folder."""
    if not path.is_dir() or any(p.suffix.lower() == ".csv" for p in path.iterdir()):
        return None
    folders = sorted(child for child in path.iterdir() if child.is_dir())
    nights = sorted(
        (Night(when, child) for child in folders if (when := _night_date(child.name)) is not None),
        key=lambda night: night.taken_at,
    )
    if not nights and not (path / DISTRICT_FILE).is_file():
        return None
    _check_nights(path, folders)
    district = path.resolve().name
    return HistoryFolder(district, folder_settings(path, district), tuple(nights))


def folder_settings(folder: Path, district: str) -> DistrictSettings | None:
    """The settings of the folder's ``district.toml`` for ``district`` (None: no such file)."""
    path = folder / DISTRICT_FILE
    if not path.is_file():
        return None
    return district_settings(district, load_toml(path), str(path))


def _check_nights(path: Path, folders: list[Path]) -> None:
    """Refuse date-like names that are not nights, and nights linking out of ``path``."""
    bad = [f.name for f in folders if _DATE_LIKE.fullmatch(f.name) and not _night_date(f.name)]
    if bad:
        raise BundleError(
            f"{path} has night folders that are not real YYYY-MM-DD dates "
            f"({', '.join(repr(name) for name in bad)}): rename them (e.g. 2026-09-01); "
            "nothing was ingested"
        )
    ahead = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)
    future = [f.name for f in folders if (when := _night_date(f.name)) and when > ahead]
    if future:
        raise BundleError(
            f"{path} has night folders more than a day after today ({', '.join(future)}): "
            "rename them to the nights they are (or ingest them one by one with --allow-future); "
            "nothing was ingested"
        )
    inside = path.resolve()
    for folder in folders:
        if _night_date(folder.name) and not folder.resolve().is_relative_to(inside):
            raise BundleError(
                f"{path} holds night {folder.name!r}, a link to {folder.resolve()} outside the "
                "district folder: copy the night in instead of linking it; nothing was ingested"
            )
