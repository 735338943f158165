"""The committed sample districts (``data/samples/``): two small histories that tell a story.

``python -m rosterlab.synth samples [--out DIR]`` regenerates them byte-identically, README
included (it is rendered from the incidents' own results, so the keys it names are exact).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from rosterlab.synth.district import Churn, District, Night, generate_district
from rosterlab.synth.incidents import INCIDENTS
from rosterlab.synth.write import write_district_toml, write_night

README = "README.md"
SHOWN_KEYS = 12


@dataclass(frozen=True)
class Sample:
    """One sample district: how it is generated and what each night is about."""

    district: str
    name: str
    sync_type: str
    students: int
    seed: int
    newline: str
    extensions: bool
    incidents: dict[int, tuple[str, ...]]
    story: dict[int, str]
    nights: int = 8
    thresholds: dict[str, float] = field(default_factory=dict)
    provenance: str = ""  # where the nights come from, when not the district's own uploads

    def make(self) -> District:
        return generate_district(
            self.district,
            students=self.students,
            seed=self.seed,
            start=date(2026, 9, 1),
            churn=0.02,
            class_size=28,
            extensions=self.extensions,
            newline=self.newline,
            incidents=self.incidents,
        )


DROPPED = "dropped-column"
EXT = "added-ext-column"

SAMPLES: tuple[Sample, ...] = (
    Sample(
        district="maple",
        name="Maple Grove Unified School District",
        sync_type="sftp",
        students=240,
        seed=2026,
        newline="\n",
        extensions=True,
        incidents={
            3: ("section-missing-teacher", "orphan-enrollments"),
            5: ("rekeyed-teacher", DROPPED),
            6: ("grade-format-shift", "excel-damage", DROPPED),
            7: ("term-rollover", DROPPED),
            8: ("truncated-export", DROPPED),
        },
        story={
            1: "First night of the school year: a clean export.",
            2: "Normal nightly churn only.",
            3: (
                "A section went to a new hire before HR exported the hire, and a section created "
                "after the sections export already has students: two kinds of broken references."
            ),
            4: (
                "Fixed: the new hire is in teachers.csv and the phantom section's enrollments "
                "are gone."
            ),
            5: (
                "An SIS migration re-keyed a teacher, and the district's edited export no longer "
                "sends Student_email (it stays dropped from now on)."
            ),
            6: (
                "Someone opened students.csv in Excel and the SIS started zero-padding grades: "
                "nearly every student looks updated."
            ),
            7: (
                "Term rollover: the Summer Bridge term ended on 09/04/2026, its sections and "
                "enrollments leave the export — the expected hold."
            ),
            8: "The SIS export was cut off halfway: a mass deletion Clever would hold.",
        },
    ),
    Sample(
        district="cedar",
        name="Cedar Falls Public Schools",
        sync_type="clever-managed",
        students=200,
        seed=7,
        newline="\r\n",
        extensions=False,
        incidents={
            2: ("bom",),
            3: (EXT,),
            4: ("utf16-file", EXT),
            5: ("unquoted-comma", EXT),
            6: ("duplicate-ids", "shared-staff-id", EXT),
            7: ("misnamed-file", EXT),
            8: ("school-id-is-number", "blank-teacher-id", EXT),
        },
        story={
            1: "First night: a clean hand export (CRLF line endings).",
            2: "students.csv arrives with a UTF-8 byte-order mark.",
            3: (
                "Clever Support added the custom field ext.bus_route at the district's request "
                "(it stays from now on)."
            ),
            4: "teachers.csv arrives as UTF-16 from an old Windows tool.",
            5: "A last name with a comma is written without quotes: malformed rows.",
            6: (
                "The SIS reused a Student_id for a second student, and two staff members share a "
                "Staff_id."
            ),
            7: "students.csv is saved as students.csv.txt, which Clever's file rules do not match.",
            8: (
                "One school's rows use its School_number instead of its School_id, and a section "
                "lost its teacher."
            ),
        },
        thresholds={"hold_deletion_threshold": 0.05},
        provenance=(
            "A Clever-managed district uploads no files: Clever's Data API is its only automatic "
            "window. These nights are hand exports (CSV files in the SFTP format that a district "
            "admin saved from the SIS each night with Windows tools), not something Clever "
            "received. `make demo` shows the auto-sync path: it serves cedar's last night through "
            "the local stand-in Data API, pulls it (`rosterlab api pull`, a snapshot of origin "
            "`api`) and reconciles the pull with the hand export."
        ),
    ),
)


def write_samples(dest: str | Path) -> list[Path]:
    """Write every sample district and the README into ``dest``; return the written paths."""
    root = Path(dest)
    written: list[Path] = []
    sections: list[str] = []
    for sample in SAMPLES:
        district = sample.make()
        folder = root / sample.district
        written.append(
            write_district_toml(
                folder, sample.name, sample.sync_type, sample.thresholds, sample.provenance
            )
        )
        nights: list[tuple[Night, Churn | None]] = []
        for k in range(1, sample.nights + 1):
            night = district.night(k)
            written += write_night(night, folder / night.folder)
            nights.append((night, district.churn_of(k)))
        sections.append(_describe(sample, nights))
    readme = root / README
    readme.write_text(_HEADER + "\n".join(sections), encoding="utf-8")
    return sorted([*written, readme])


_HEADER = """\
# Sample districts

Two small synthetic districts, several nights each, that the notebooks and tests use. They are
generated, not hand-made: `python -m rosterlab.synth samples` rewrites this folder
byte-identically (a test compares it with a fresh generation), this README included — every key
below comes from the incidents' own results.

Layout: `<district>/district.toml` (name, sync type, optional hold thresholds) and one folder per
night, `<district>/<YYYY-MM-DD>/`, holding that night's files (an SFTP district's upload as Clever
receives it; for cedar, a hand export: see its section). Nights are
taken at 02:00 UTC; file modification times are set to it when generated (git does not keep
them, so ingest takes taken_at from the folder name). All people, schools and towns are
fictional.

Every night also has ordinary churn: a few students leave, arrive or change (an address, an
email, a name, an ELL or IEP flag), a contact changes phone number, a few enrollments move to
another section, a teacher's title or a section's period changes.

"""


def _keys(keys: Sequence[str]) -> str:
    shown = ", ".join(f"`{k}`" for k in keys[:SHOWN_KEYS])
    more = f" … ({len(keys)} in all)" if len(keys) > SHOWN_KEYS else ""
    return shown + more


def _describe(sample: Sample, nights: list[tuple[Night, Churn | None]]) -> str:
    lines = [
        f"## {sample.district} — {sample.name}",
        "",
        f"Sync type `{sample.sync_type}`; {sample.students} students on the first night; "
        f"line endings {'CRLF' if sample.newline == chr(13) + chr(10) else 'LF'}"
        + ("; `ext.*` columns on students.csv and sections.csv." if sample.extensions else ".")
        + (
            " Thresholds: "
            + ", ".join(f"`{k} = {v}`" for k, v in sorted(sample.thresholds.items()))
            + "."
            if sample.thresholds
            else ""
        ),
        "",
        *([sample.provenance, ""] if sample.provenance else []),
    ]
    first_seen: dict[str, int] = {}
    for night, churn in nights:
        lines += [f"### Night {night.number} — {night.folder}", "", sample.story[night.number], ""]
        for result in night.results:
            if result.incident in first_seen:
                since = first_seen[result.incident]
                lines.append(f"- **{result.incident}** ({result.file}) as on night {since}.")
                continue
            first_seen[result.incident] = night.number
            lines.append(f"- **{result.incident}** ({result.file}): {result.detail}.")
            if result.keys:
                lines.append(f"  Keys: {_keys(result.keys)}.")
            if result.related:
                lines.append(f"  Related: {_keys(result.related)}.")
            if result.rows:
                lines.append(f"  Data rows: {', '.join(str(r) for r in result.rows)}.")
            lines.append(f"  Clever: {INCIDENTS[result.incident].clever}")
        if churn is not None:
            lines.append(
                f"- churn: removed {_keys(churn.students_removed) or 'none'}; "
                f"added {_keys(churn.students_added) or 'none'}; "
                f"changed {_keys(churn.students_changed) or 'none'}; "
                f"{churn.contacts_changed} contact phone(s), "
                f"{churn.enrollments_moved} enrollment move(s), "
                f"teacher titles {_keys(churn.teachers_changed) or 'none'}, "
                f"section periods {_keys(churn.sections_changed) or 'none'}."
            )
        if night.results or churn is not None:
            lines.append("")
    return "\n".join(lines)
