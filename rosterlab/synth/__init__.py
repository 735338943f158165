"""Deterministic synthetic Clever districts with named incidents (samples, tests, benchmarks).

>>> district = generate_district("maple", students=300, incidents={3: ["orphan-enrollments"]})
>>> night = district.night(3)
>>> night.results[0].keys  # the exact enrollments that point at a missing section
>>> write_night(night, "out/maple/" + night.folder)

Same arguments, same bytes. ``python -m rosterlab.synth --help`` writes histories from the shell;
``python -m rosterlab.synth samples`` regenerates ``data/samples/``.
"""

from rosterlab.synth.district import Churn, District, Night, generate_district
from rosterlab.synth.incidents import (
    INCIDENTS,
    FileEdit,
    Incident,
    IncidentContext,
    IncidentResult,
    Outcome,
)
from rosterlab.synth.write import write_district_toml, write_night

__all__ = [
    "INCIDENTS",
    "Churn",
    "District",
    "FileEdit",
    "Incident",
    "IncidentContext",
    "IncidentResult",
    "Night",
    "Outcome",
    "generate_district",
    "write_district_toml",
    "write_night",
]
