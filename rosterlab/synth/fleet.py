"""A synthetic sample fleet: many districts' drop folders and the ``rosterlab.toml`` naming them.

District sizes follow a realistic spread: most districts have a few thousand students (a
log-normal around 2,500), and about one in seventy is a big city district of 100,000 to 250,000
(at least one as soon as the fleet has 40 districts). ``max_students`` scales every size down
proportionally (smallest 30) so a test fleet keeps the same shape in miniature.

Each district gets ``nights`` nightly uploads in ``drops/<ID>/YYYY-MM-DD/`` with ordinary churn;
the last night is *tonight*. The incidents are fixed by district position (so tests and the
notebook can name them), each on tonight unless said otherwise:

* ``d002`` held: a truncated export deletes half the students (a mass deletion: Clever holds it);
* ``d003`` not processed: students.csv arrives as ``students.csv.txt`` (a required file missing);
* ``d004`` errors climbing: ``2 × (night - 1)`` enrollments in a missing section, night over night;
* ``d005`` a hostile bundle: tonight is a zip whose entry escapes the folder (``../``) and whose
  name is HTML, so the district's task fails and every view must escape the reason;
* ``d006`` rows skipped: a section without its required Teacher_id;
* ``d007`` no upload tonight (the folder of the last night is absent).

Same arguments, same bytes (the hostile zip's entry times are fixed too).
"""

from __future__ import annotations

import math
import random
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from rosterlab.synth.district import TAKEN_AT, generate_district
from rosterlab.synth.incidents import INCIDENTS, Incident
from rosterlab.synth.words import TOWNS
from rosterlab.synth.write import toml_string, write_district_toml, write_night

CONFIG = "rosterlab.toml"
FLEET_ROOT = "fleet"
DROPS = "drops"
TYPICAL_STUDENTS = 2500
SPREAD = 0.9  # sigma of the log-normal: most districts between ~1,000 and ~6,000 students
SMALLEST = 200
BIG_EVERY = 70  # about one district in seventy is a big city district
BIG_RANGE = (100_000, 250_000)
SCALED_SMALLEST = 30
MIN_CHANGES = 2.5  # churn touches at least ~2.5 students a night, even in a tiny district
HOSTILE_ENTRY = '../<img src=x onerror="alert(1)">.csv'

HELD, NOT_PROCESSED, CLIMBING, HOSTILE, SKIPPED, NO_UPLOAD = (
    "d002",
    "d003",
    "d004",
    "d005",
    "d006",
    "d007",
)
STORIES = {
    HELD: "held tonight: a truncated export deletes half the students",
    NOT_PROCESSED: "not processed tonight: students.csv uploaded as students.csv.txt",
    CLIMBING: "errors climbing: 2 more enrollments in a missing section every night",
    HOSTILE: "hostile bundle tonight: a zip entry escaping the folder, named with HTML",
    SKIPPED: "rows skipped tonight: a section without its Teacher_id",
    NO_UPLOAD: "no upload tonight",
}


@dataclass(frozen=True)
class FleetDistrict:
    """One district of a sample fleet: its size and what happens on which night."""

    district: str
    name: str
    students: int
    seed: int
    incidents: dict[int, tuple[Incident, ...]]
    hostile_night: int | None = None  # that night is a hostile zip instead of a folder
    missing_night: int | None = None  # no upload that night
    story: str = "clean"


@dataclass(frozen=True)
class SampleFleet:
    """A sample fleet's plan: its districts, its nights (``tonight`` is the last one)."""

    districts: tuple[FleetDistrict, ...]
    nights: int
    start: date
    seed: int

    def night_date(self, k: int) -> date:
        return self.start + timedelta(days=k - 1)

    @property
    def tonight(self) -> date:
        return self.night_date(self.nights)


def district_sizes(count: int, seed: int = 0, max_students: int | None = None) -> list[int]:
    """``count`` student counts with the fleet's size spread, deterministic per ``seed``."""
    rng = random.Random(f"fleet-sizes:{seed}")
    sizes = [
        max(SMALLEST, round(rng.lognormvariate(math.log(TYPICAL_STUDENTS), SPREAD)))
        for _ in range(count)
    ]
    big = max(1, round(count / BIG_EVERY)) if count >= 40 else round(count / BIG_EVERY)
    for index in rng.sample(range(count), big):
        sizes[index] = rng.randint(*BIG_RANGE)
    if max_students is not None and max_students < max(sizes):
        factor = max_students / max(sizes)
        sizes = [max(SCALED_SMALLEST, round(s * factor)) for s in sizes]
    return sizes


def plan_fleet(
    districts: int,
    nights: int = 3,
    *,
    seed: int = 0,
    start: date = date(2026, 9, 1),
    max_students: int | None = None,
) -> SampleFleet:
    """The plan of a sample fleet (see the module docstring for its incidents)."""
    if districts < len(STORIES) + 1:
        raise ValueError(f"a sample fleet needs at least {len(STORIES) + 1} districts")
    if nights < 2:
        raise ValueError("a sample fleet needs at least 2 nights (a hold compares with the last)")
    tonight = nights
    members = []
    for index, students in enumerate(district_sizes(districts, seed, max_students)):
        district = f"d{index + 1:03d}"
        town = TOWNS[index % len(TOWNS)][0]
        round_ = index // len(TOWNS)
        name = f"{town} School District" + (f" {round_ + 1}" if round_ else "")
        incidents: dict[int, tuple[Incident, ...]] = {}
        hostile = missing = None
        if district == HELD:
            incidents = {tonight: (INCIDENTS["truncated-export"],)}
        elif district == NOT_PROCESSED:
            incidents = {tonight: (INCIDENTS["misnamed-file"],)}
        elif district == CLIMBING:
            orphans = INCIDENTS["orphan-enrollments"]
            incidents = {k: (orphans.with_params(count=2 * (k - 1)),) for k in range(2, nights + 1)}
        elif district == HOSTILE:
            hostile = tonight
        elif district == SKIPPED:
            incidents = {tonight: (INCIDENTS["blank-teacher-id"],)}
        elif district == NO_UPLOAD:
            missing = tonight
        members.append(
            FleetDistrict(
                district,
                name,
                students,
                seed * 1000 + index,
                incidents,
                hostile,
                missing,
                STORIES.get(district, "clean"),
            )
        )
    return SampleFleet(tuple(members), nights, start, seed)


def write_fleet(fleet: SampleFleet, dest: str | Path) -> Path:
    """Write every district's drop folder and ``rosterlab.toml`` under ``dest``; return the toml.

    The toml names the fleet root ``fleet`` and one ``drop`` source per district.
    """
    root = Path(dest)
    for member in fleet.districts:
        write_fleet_district(fleet, member, root / DROPS / member.district)
    config = root / CONFIG
    config.write_text(fleet_toml(fleet), encoding="utf-8")
    return config


def write_fleet_district(fleet: SampleFleet, member: FleetDistrict, folder: Path) -> None:
    """One district's drop folder: ``district.toml`` and its nights."""
    district = generate_district(
        member.district,
        students=member.students,
        seed=member.seed,
        start=fleet.start,
        churn=max(0.01, MIN_CHANGES / member.students),
        class_size=28,
        incidents=member.incidents,
    )
    write_district_toml(folder, member.name, "sftp")
    for k in range(1, fleet.nights + 1):
        night = district.night(k)
        if k == member.missing_night:
            continue
        if k == member.hostile_night:
            _write_hostile_zip(folder / f"{night.folder}.zip", fleet.night_date(k))
            continue
        write_night(night, folder / night.folder)


def _write_hostile_zip(path: Path, day: date) -> None:
    """A zip whose only entry climbs out of the folder, named with HTML (read refuses it)."""
    stamp = (day.year, day.month, day.day, TAKEN_AT.hour, TAKEN_AT.minute, 0)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo(HOSTILE_ENTRY, stamp), "School_id\nSCH-001\n")


def fleet_toml(fleet: SampleFleet) -> str:
    """``rosterlab.toml`` for the fleet: ``[fleet]`` and one ``[fleet.districts.<ID>]`` each."""
    lines = [
        "# A synthetic sample fleet (python -m rosterlab.synth fleet): "
        f"{len(fleet.districts)} districts, {fleet.nights} nights, seed {fleet.seed}.",
        "[fleet]",
        f"root = {toml_string(FLEET_ROOT)}",
    ]
    for member in fleet.districts:
        lines += [
            "",
            f"# {member.students:,} students; {member.story}",
            f"[fleet.districts.{member.district}]",
            'source = "drop"',
            f"folder = {toml_string(f'{DROPS}/{member.district}')}",
            f"name = {toml_string(member.name)}",
        ]
    return "\n".join(lines) + "\n"
