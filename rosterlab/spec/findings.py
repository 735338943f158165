"""The findings catalogue: every problem rosterlab reports, as a record with a stable code.

Bad data never raises; it becomes a :class:`Finding`. The codes are a public interface (JSON,
notebooks, reports): add freely, never rename or drop. ``docs/findings.md`` is generated from
:data:`CATALOGUE` (``python -m rosterlab.spec.docs``) and a test fails when they drift.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal, get_args

from rosterlab.spec.format import ENTITIES, FILES, KEY_SEPARATOR, follows

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
# Most severe first: sort keys and ``--fail-on`` gates compare ranks.
SEVERITY_RANK: dict[str, int] = {severity: rank for rank, severity in enumerate(SEVERITIES)}
GROUPS: tuple[str, ...] = ("file", "header", "row", "cross-file", "history", "reconcile")


@dataclass(frozen=True)
class FindingType:
    """A catalogue entry: what the code means and how its message and hint are worded.

    Templates use ``str.format`` fields taken from the finding (``entity``, ``key``, ``field``,
    ``value``, ``row``, ``cause``) plus any extra context the check passes. ``hint_by_sync_type``
    words the hint for how the district makes its files (sftp, clever-managed, sis-managed).
    ``clever`` says what Clever does, and on whose word: upload not processed or row skipped
    (SFTP Instructions v2.1.1), or a consequence Clever does not state. ``served`` and
    ``served_hint`` word a finding on a record as Clever serves it (a snapshot pulled from the
    Data API), where the upload's wording would be untrue: the record *was* served.
    ``unfollowed`` words it on a reference Clever does not follow (an enrollment's School_id,
    :func:`~rosterlab.spec.format.follows`): the row is not skipped for it. ``optional`` and
    ``optional_clever`` word it, and say what Clever does, on an optional file (staff.csv,
    admins.csv), whose absence does not stop the upload.
    """

    code: str
    severity: Severity
    group: str
    title: str
    when: str
    message: str
    hint: str
    hint_by_sync_type: tuple[tuple[str, str], ...] = ()
    clever: str = ""  # what Clever does (NOT_PROCESSED, ROW_SKIPPED, UNCONFIRMED, ...)
    # The message of one finding standing for the same problem on several records (a value
    # repeated over a column); codes with it are aggregated (``{count}``, ``{samples}``).
    many: str = ""
    served: str = ""
    served_hint: str = ""
    unfollowed: str = ""
    optional: str = ""
    optional_clever: str = ""

    def hint_for(self, sync_type: str | None) -> str:
        return dict(self.hint_by_sync_type).get(sync_type or "", self.hint)


@dataclass(frozen=True)
class Finding:
    """One problem in one place: a record, never an exception.

    A finding counts records: ``count`` records (entity keys) carry it over ``rows`` rows of the
    received file (a student's contact rows repeat its values). A value problem repeated over a
    column is one aggregated finding: ``key`` is None, ``row`` its first row, ``sample_keys``
    the first few records' keys in file order; its rows are kept in the store (``details``).
    """

    code: str
    severity: str
    entity: str | None
    key: str | None
    field: str | None
    value: str | None
    row: int | None
    message: str
    hint: str
    cause: str | None = None
    count: int = 1
    rows: int = 1
    sample_keys: tuple[str, ...] = ()

    @property
    def aggregated(self) -> bool:
        """Whether this finding stands for several records (or rows): its rows are kept."""
        return self.count > 1 or self.rows > 1

    def to_dict(self) -> dict[str, Any]:
        fields = asdict(self)
        fields["sample_keys"] = list(self.sample_keys)
        return fields


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """``{"error": n, "warning": n, "info": n}``: findings (an aggregated one counts once;
    :func:`record_counts` counts the records they stand for)."""
    counts: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        counts[f.severity] += 1
    return counts


def severity_records(findings: Iterable[Finding]) -> dict[str, int]:
    """``{"error": n, "warning": n, "info": n}``: the records the findings stand for (an
    aggregated finding counts its ``count``)."""
    records: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        records[f.severity] += f.count
    return records


def findings_summary(findings: Iterable[Finding]) -> dict[str, Any]:
    """Counts per severity and ``by_code`` (codes most severe first, then by name): the shape
    of ``check``'s JSON summary and of a corrected bundle's manifest."""
    findings = list(findings)
    by_code = Counter(f.code for f in findings)
    order = sorted(by_code, key=lambda c: (SEVERITY_RANK[CATALOGUE[c].severity], c))
    return {**severity_counts(findings), "by_code": {code: by_code[code] for code in order}}


def record_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Records per code (an aggregated finding counts its ``count``), codes in summary order."""
    records: Counter[str] = Counter()
    for f in findings:
        records[f.code] += f.count
    order = sorted(records, key=lambda c: (SEVERITY_RANK[CATALOGUE[c].severity], c))
    return {code: records[code] for code in order}


SAMPLE_KEYS = 5  # keys an aggregated finding names


def plural(count: int, word: str) -> str:
    """``1 record``, ``3 records``, ``1,200 records``."""
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def samples_text(sample_keys: Iterable[str], count: int) -> str:
    """``S-1, S-2, S-3 …`` (``…`` when more records than samples)."""
    keys = list(sample_keys)
    return ", ".join(keys) + (" …" if count > len(keys) else "")


class _SafeDict(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def finding(
    code: str,
    *,
    entity: str | None = None,
    key: str | None = None,
    field: str | None = None,
    value: str | None = None,
    row: int | None = None,
    cause: str | None = None,
    sync_type: str | None = None,
    count: int = 1,
    rows: int = 1,
    sample_keys: tuple[str, ...] = (),
    **context: Any,
) -> Finding:
    """Build a finding from the catalogue, formatting its message and hint.

    ``count`` > 1 (with ``sample_keys``) is one finding for several records: the catalogue's
    ``many`` message words it.
    """
    kind = CATALOGUE[code]
    values = _template_values(entity, key, field, value, row, cause, count, sample_keys, context)
    message = kind.many if count > 1 and kind.many else kind.message
    if kind.unfollowed and not follows(entity, field):
        message = kind.unfollowed
    if kind.optional and not _required(entity):
        message = kind.optional
    return Finding(
        code=code,
        severity=kind.severity,
        entity=entity,
        key=key,
        field=field,
        value=value,
        row=row,
        message=message.format_map(values),
        hint=kind.hint_for(sync_type).format_map(values),
        cause=cause,
        count=count,
        rows=rows,
        sample_keys=sample_keys,
    )


def _template_values(
    entity: str | None,
    key: str | None,
    field: str | None,
    value: str | None,
    row: int | None,
    cause: str | None,
    count: int,
    sample_keys: tuple[str, ...],
    context: dict[str, Any],
) -> _SafeDict:
    """What a catalogue template may name (a name it does not know stays as written)."""
    return _SafeDict(
        entity=entity,
        key=key,
        field=field,
        value=value,
        row=row,
        cause=cause,
        count=count,
        samples=samples_text(sample_keys, count),
        **context,
    )


def _required(entity: str | None) -> bool:
    """Whether ``entity``'s file is required (a finding on no entity counts as required)."""
    known = ENTITIES.get(entity or "")
    return known is None or FILES[known.file].required


def consequence(f: Finding) -> str:
    """What Clever does with ``f``'s problem: the catalogue's ``clever``, or on an optional
    file its ``optional_clever`` where the catalogue words one."""
    kind = CATALOGUE[f.code]
    if kind.optional_clever and not _required(f.entity):
        return kind.optional_clever
    return kind.clever


def for_sync_type(f: Finding, sync_type: str | None) -> Finding:
    """``f`` with its hint worded for the district's sync type where the catalogue words it so:
    a bundle's file findings are made before the district, and so its sync type, is known."""
    kind = CATALOGUE[f.code]
    if not kind.hint_by_sync_type:
        return f
    values = _template_values(
        f.entity, f.key, f.field, f.value, f.row, f.cause, f.count, f.sample_keys, {}
    )
    return replace(f, hint=kind.hint_for(sync_type).format_map(values))


def as_served(f: Finding) -> Finding:
    """``f`` worded for a record as Clever serves it (a snapshot pulled from the Data API),
    where the catalogue words its code so (``served``); else ``f`` itself."""
    kind = CATALOGUE[f.code]
    if not kind.served:
        return f
    values = _template_values(
        f.entity, f.key, f.field, f.value, f.row, f.cause, f.count, f.sample_keys, {}
    )
    return replace(
        f, message=kind.served.format_map(values), hint=kind.served_hint.format_map(values)
    )


# What Clever does with a problem (the catalogue's ``clever``), each on its source's word.
NOT_PROCESSED = "upload not processed (v2.1.1)"
# Ours: Clever does not say what it does with a file that is not text at all; it cannot read a
# row of it, so it is taken as absent, and an absent required file stops the upload (v2.1.1).
NOT_READ = (
    "upload not processed (ours: Clever cannot read the file; a missing file stops it, v2.1.1)"
)
# Ours: an optional file Clever cannot read is taken as not sent; only a missing required file
# stops an upload (v2.1.1), so the rest is processed.
NOT_READ_OPTIONAL = (
    "the rest of the upload processed as if the file were not sent (ours: Clever cannot read "
    "it; only a missing required file stops an upload, v2.1.1)"
)
ROWS_SKIPPED = "every row of the file skipped (v2.1.1)"
ROW_SKIPPED = "row skipped (v2.1.1)"
SECTION_SKIPPED = "section not processed (v2.1.1)"
UNCONFIRMED = "consequence unconfirmed: Clever does not say"
# Unconfirmed, but the rows are not what Clever can serve (a broken link, a repeated ID): the
# upload's outcome counts them as rows that may be skipped, the stand-in skips them, and
# reconcile shows what Clever did.
ROWS_MAY_BE_SKIPPED = UNCONFIRMED + "; the rows may be skipped"
IGNORED = "ignored: Clever does not read it"
PROCESSED = "processed as sent; likely not what the district means"
READ = "read and processed (names and headers match case-insensitively)"
HELD = "sync held until the district approves it (Clever's published thresholds)"
FIRST_ROW = "only the first row processed (help centre)"
ADVICE = "nothing: advice only"
OBSERVED = "observed in what Clever serves (Data API)"


# A School_id Clever does not follow (an enrollment's; docs/api.md): what the row's fate is.
UNFOLLOWED_SCHOOL = (
    "Clever serves an enrollment with its section's school, not this School_id: the row is "
    "served if its student and section are."
)


def _t(**fields: Any) -> FindingType:
    """A catalogue entry, its fields named (see :class:`FindingType`)."""
    return FindingType(**fields)


_SYNC_COLUMN_HINTS = {
    "column-dropped": (
        (
            "sftp",
            "Add {field} back to the export that builds {file}, or record the change in "
            "the customization ledger if it is on purpose.",
        ),
        (
            "clever-managed",
            "Ask Clever Support to include {field} in the sync again, or record "
            "the change in the customization ledger if it is on purpose.",
        ),
        (
            "sis-managed",
            "Ask your SIS vendor to include {field} in the nightly export again, or "
            "record the change in the customization ledger if it is on purpose.",
        ),
    ),
    "column-emptied": (
        (
            "sftp",
            "Check the export that fills {field}: a renamed or misspelled source column "
            "often empties it.",
        ),
        ("clever-managed", "Ask Clever Support why {field} stopped arriving from the SIS."),
        ("sis-managed", "Ask your SIS vendor why {field} stopped arriving in the export."),
    ),
}

CATALOGUE_ENTRIES: tuple[FindingType, ...] = (
    # --- file ---
    _t(
        code="missing-file",
        severity="error",
        group="file",
        title="Required file missing",
        when="a required file is absent from the bundle",
        message="{value} is missing from the bundle; Clever will not process this upload.",
        hint="Upload all five required files together: schools, students, teachers, sections, "
        "enrollments.",
        hint_by_sync_type=(
            (
                "clever-managed",
                "Export all five required files together: schools, students, teachers, "
                "sections, enrollments. Clever's own sync reads the SIS: if {value} is missing "
                "there too, ask Clever Support to check the sync.",
            ),
            (
                "sis-managed",
                "Export all five required files together: schools, students, teachers, "
                "sections, enrollments. Your SIS vendor sends Clever the nightly files: if "
                "their export leaves out {value} too, ask them to include it.",
            ),
        ),
        clever=NOT_PROCESSED,
    ),
    _t(
        code="misnamed-file",
        severity="error",
        group="file",
        title="Misnamed file",
        when="a file Clever will not pick up but that is clearly meant to be a spec file: another "
        "suffix (students.csv.txt, students.txt), a subfolder, a misspelling",
        message="{value} will not be picked up by Clever; it looks like {expected}.",
        hint="Rename {value} to {expected} (.csv, in the top folder of the upload).",
        clever=IGNORED,
    ),
    _t(
        code="file-name-case",
        severity="warning",
        group="file",
        title="File name in another case",
        when=(
            "a spec file named in another case (Students.csv, students.CSV): read, stored and "
            "checked as that file"
        ),
        message=(
            "{value} is read as {expected}; Clever's instructions write the file names in lower "
            "case."
        ),
        hint=(
            "Rename {value} to {expected} to match the instructions; rosterlab fix writes "
            "{expected}."
        ),
        clever=READ,
    ),
    _t(
        code="unexpected-file",
        severity="info",
        group="file",
        title="Unexpected file",
        when="a file that is not part of the format",
        message="{value} is not part of the Clever format and is ignored.",
        hint="Remove it from the upload unless another tool needs it.",
        clever=IGNORED,
    ),
    _t(
        code="deprecated-file",
        severity="warning",
        group="file",
        title="Deprecated file",
        when="admins.csv",
        message="{value} has been deprecated since 2019; only older integrations read it.",
        hint="Move administrators to staff.csv.",
        clever=PROCESSED,
    ),
    _t(
        code="empty-file",
        severity="error",
        group="file",
        title="Empty file",
        when="no header row",
        message="{value} has no header row.",
        hint="Export the file again with its header row; an empty file deletes every record.",
        clever=UNCONFIRMED,
    ),
    _t(
        code="unreadable-file",
        severity="error",
        group="file",
        title="Unreadable file",
        when="not text at all (a spreadsheet, archive or image saved under the file's name); "
        "an optional file (staff.csv, admins.csv) is taken as not sent",
        message=(
            "{value} is not text (a spreadsheet or other binary file saved under its name): "
            "Clever cannot read a row of it, so the upload counts as not processed, as with a "
            "missing file."
        ),
        hint="Export the file again as CSV (in Excel: Save As, CSV UTF-8) and upload the bundle "
        "again.",
        hint_by_sync_type=(
            (
                "clever-managed",
                "Export the file again as CSV (in Excel: Save As, CSV UTF-8) and check it "
                "again; Clever's own sync reads the SIS, not this export.",
            ),
            (
                "sis-managed",
                "Export the file again as CSV (in Excel: Save As, CSV UTF-8) and check it "
                "again; if your SIS vendor's nightly files arrive like this, ask them for CSV.",
            ),
        ),
        clever=NOT_READ,
        optional=(
            "{value} is not text (a spreadsheet or other binary file saved under its name): "
            "Clever cannot read a row of it. The file is optional, so the rest of the upload is "
            "processed as if it were not sent: its records count as deleted."
        ),
        optional_clever=NOT_READ_OPTIONAL,
    ),
    _t(
        code="encoding-not-utf8",
        severity="error",
        group="file",
        title="Not UTF-8",
        when="not valid UTF-8 (UTF-16, Windows-1252, …); value names the detected encoding",
        message=(
            "{file} is encoded as {value}, not UTF-8; Clever may show its accented letters garbled."
        ),
        hint="Save the file as UTF-8 (in Excel: CSV UTF-8); rosterlab fix writes UTF-8.",
        clever=UNCONFIRMED,
    ),
    _t(
        code="bom-present",
        severity="warning",
        group="file",
        title="Byte-order mark",
        when="UTF-8 byte-order mark",
        message="{file} starts with a UTF-8 byte-order mark.",
        hint="Save as UTF-8 without BOM; some importers read the mark into the first header.",
        clever=UNCONFIRMED,
    ),
    _t(
        code="malformed-row",
        severity="error",
        group="file",
        title="Malformed row",
        when="wrong number of fields, unclosed quote; row points at it",
        message="{file} row {row} cannot be parsed: {detail}.",
        hint="Quote values that contain commas, quotes or line breaks, and check the row has one "
        "value per header column.",
        clever=UNCONFIRMED,
    ),
    _t(
        code="query-tool-line",
        severity="error",
        group="file",
        title="Query tool's line as a row",
        when=(
            "a line a query tool prints for people where a record belongs, which no record "
            "reads: sqlcmd's '(N rows affected)', SQL*Plus's 'N rows selected.', the dashes "
            "under the column names (when they parse as a record: underline-row)"
        ),
        message="{file} row {row} is {value!r}, {printed}, not a record.",
        hint="Leave it out in the export script ({switch}) and export again.",
        clever=UNCONFIRMED,
    ),
    _t(
        code="too-many-columns",
        severity="error",
        group="file",
        title="Too many columns",
        when="more columns than rosterlab reads in one file (max_columns); value is the count",
        message=(
            "{file} has {value} columns, more than the {limit} rosterlab reads: its rows were not "
            "read."
        ),
        hint="Drop the extra columns (a spreadsheet that grew sideways?); if they are real, raise "
        "max_columns in rosterlab.toml's [limits].",
        clever=UNCONFIRMED,
    ),
    _t(
        code="invalid-utf8-bytes",
        severity="error",
        group="file",
        title="Bytes that are not UTF-8",
        when=(
            "a UTF-8 file with a few bytes that are not UTF-8 (one finding per place, the first "
            "100)"
        ),
        message="{file} line {line}, column {column}: {value} is not UTF-8; read as Windows-1252 "
        "({text!r}).",
        hint="Fix that value at the source and save the file as UTF-8; the rest of the file was "
        "read as UTF-8.",
        clever=UNCONFIRMED,
    ),
    _t(
        code="doubled-carriage-return",
        severity="warning",
        group="file",
        title="Lines ending CR CR LF",
        when=(
            "every line ends with CR CR LF, so an empty line follows each row (one finding for "
            "the file, not a blank-row per line)"
        ),
        message="{file} ends every line with CR CR LF: a reader that splits lines on CR sees an "
        "empty line after each row ({value} empty lines).",
        hint="Python's csv.writer on Windows writes CR CR LF when the file is opened without "
        "newline='': open it with open(path, 'w', newline='') and export again.",
        clever=UNCONFIRMED,
    ),
    _t(
        code="blank-row",
        severity="warning",
        group="file",
        title="Blank row",
        when="an empty line inside the data",
        message="{file} has an empty line at row {row}.",
        hint="Remove blank lines from the export.",
        clever=UNCONFIRMED,
    ),
    # --- header ---
    _t(
        code="missing-column",
        severity="error",
        group="header",
        title="Required column missing",
        when="a required column is absent",
        message=(
            "{file} has no {field} column, which is required; Clever skips every row of {file}."
        ),
        hint="Add the {field} column to {file}.",
        clever=ROWS_SKIPPED,
    ),
    _t(
        code="type-information-line",
        severity="error",
        group="header",
        title="PowerShell type line",
        when=(
            "the file starts with the #TYPE line Windows PowerShell 5.1's Export-Csv writes unless "
            "-NoTypeInformation is given: Clever reads it as the header"
        ),
        message=(
            "{file} starts with PowerShell's type line {value!r}; Clever reads it as the header, "
            "so no column matches and every row of {file} is skipped."
        ),
        hint="Export with Export-Csv -NoTypeInformation (PowerShell 7 omits the line by default).",
        clever=ROWS_SKIPPED,
    ),
    _t(
        code="misspelled-column",
        severity="warning",
        group="header",
        title="Misspelled column",
        when="an unknown column that is a near miss of a spec column; hint names the spec column",
        message="{file} column {value!r} looks like a misspelling of {field}; Clever ignores it.",
        hint="Rename the column {value!r} to {field}.",
        clever=IGNORED,
    ),
    _t(
        code="unnamed-column",
        severity="warning",
        group="header",
        title="Columns without a name",
        when="header cells that are empty (a comma at the end of every line, Excel's empty "
        "columns): one finding for the file",
        message="{file} has {value} column(s) without a name in its header (a comma at the end "
        "of each line?); Clever cannot match them to a field and ignores their values.",
        hint="Remove the trailing commas or empty columns from the export.",
        clever=IGNORED,
    ),
    _t(
        code="unknown-column",
        severity="warning",
        group="header",
        title="Unknown column",
        when="any other column that is neither in the spec nor ext.*",
        message="{file} column {value} is not in the Clever format and is ignored.",
        hint="Remove it, or rename it to ext.{value} to send it as a custom field.",
        clever=IGNORED,
    ),
    _t(
        code="duplicate-column",
        severity="error",
        group="header",
        title="Duplicate column",
        when="the same header twice",
        message="{file} has the column {value} more than once.",
        hint="Keep one {value} column.",
        clever=UNCONFIRMED,
    ),
    _t(
        code="extension-column",
        severity="info",
        group="header",
        title="Extension column",
        when="an ext.* column (a field customization)",
        message="{file} sends the custom field {value}.",
        hint="Custom fields reach only apps that ask for them; nothing to do if it is intended.",
        clever=READ,
    ),
    _t(
        code="missing-column-unconfirmed",
        severity="warning",
        group="header",
        title="Possibly required column missing",
        when=(
            "a column the format lists as required, where Clever's own text does not confirm it, "
            "is absent"
        ),
        message=(
            "{file} has no {field} column; it is listed as required, though Clever does not "
            "confirm it."
        ),
        hint="Add the {field} column to {file} to be safe.",
        clever=UNCONFIRMED,
    ),
    _t(
        code="extension-not-allowed",
        severity="warning",
        group="header",
        title="Custom field not allowed",
        when="an ext.* column in a file that takes no custom fields (enrollments.csv, admins.csv)",
        message="{file} column {value} is ignored: {file} takes no custom fields.",
        hint="Remove the column {value} from {file}.",
        clever=IGNORED,
    ),
    # --- row and cell ---
    _t(
        code="missing-value",
        severity="error",
        group="row",
        title="Required value blank",
        when="a required field is blank: empty, or only spaces",
        message="{entity} {key}: {field} is blank but required; Clever skips this row.",
        hint="Fill {field} for this record; a skipped row reads as a deletion of the record.",
        clever=ROW_SKIPPED,
        served=(
            "{entity} {key}: {field} is blank but required; Clever serves the record without it."
        ),
        served_hint=(
            "Clever serves these records with {field} blank. If {field} names another record, "
            "Clever may have skipped that one (reconcile with the upload says why); else fill "
            "{field} at the source."
        ),
    ),
    _t(
        code="white-space-only",
        severity="warning",
        group="row",
        title="Required value of only white space",
        when=(
            "a required field holds only white space other than spaces — a tab, a no-break space "
            "(Excel's CSV export writes U+00A0) — blank to rosterlab and its stand-in (ours: "
            "v2.1.1 calls a value of only spaces blank, and says nothing of other white space)"
        ),
        message=(
            "{entity} {key}: {field} holds only white space (a tab or no-break space); Clever may "
            "read it as blank and skip the row."
        ),
        hint="Empty {field} or fill it in the export: the value looks blank but is not empty.",
        clever=ROWS_MAY_BE_SKIPPED,
    ),
    _t(
        code="duplicate-id",
        severity="error",
        group="row",
        title="Duplicate ID",
        when="a key repeats; for students: the same Student_id with different student-level values",
        message="{entity} {key} appears more than once; Clever does not say which row it keeps.",
        hint="Give each record its own ID, or remove the repeated row.",
        clever=ROWS_MAY_BE_SKIPPED,
    ),
    _t(
        code="invalid-value",
        severity="warning",
        group="row",
        title="Value outside vocabulary",
        when="a value outside its vocabulary; hint gives the canonical value where one exists",
        message="{entity} {key}: {field} {value!r} is not a recognised value.",
        hint="Use {suggestion}.",
        many="{count:,} {entity} ({samples}): {field} {value!r} is not a recognised value.",
        clever=PROCESSED,
    ),
    _t(
        code="letters-lost",
        severity="warning",
        group="row",
        title="Letters written as '?'",
        when="a name with '?' against a letter ('Zo?', 'N??ez'): an ASCII export (Windows "
        "PowerShell 5.1's Export-Csv default) wrote '?' for each letter it could not encode",
        message="{entity} {key}: {field} {value!r} has '?' where a letter belongs.",
        hint="The export wrote ASCII and replaced the letters it could not encode: export as "
        "UTF-8 (Export-Csv -Encoding UTF8 in Windows PowerShell 5.1) and upload again.",
        many="{count:,} {entity} ({samples}): {field} {value!r} has '?' where a letter belongs.",
        clever=PROCESSED,
    ),
    _t(
        code="invalid-date",
        severity="warning",
        group="row",
        title="Invalid date",
        when="a date not in MM/DD/YYYY, or impossible",
        message="{entity} {key}: {field} {value!r} is not a valid MM/DD/YYYY date.",
        hint="Write {suggestion}: in the export's query, format the date with CONVERT(varchar, "
        "date, 101) (SQL Server) or TO_CHAR(date, 'MM/DD/YYYY') (Oracle).",
        many="{count:,} {entity} ({samples}): {field} {value!r} is not a valid MM/DD/YYYY date.",
        clever=PROCESSED,
    ),
    _t(
        code="invalid-email",
        severity="warning",
        group="row",
        title="Invalid email",
        when="an email that cannot be one",
        message="{entity} {key}: {field} {value!r} is not an email address.",
        hint="Correct the address; SSO needs it.",
        many="{count:,} {entity} ({samples}): {field} {value!r} is not an email address.",
        clever=PROCESSED,
    ),
    _t(
        code="excel-damage",
        severity="warning",
        group="row",
        title="Excel damage",
        when="scientific-notation IDs, zips that lost a leading zero, dates rewritten to M/D/YY",
        message="{entity} {key}: {field} {value!r} looks rewritten by a spreadsheet ({detail}).",
        hint="Export straight from the SIS, or format the column as Text before saving.",
        many=(
            "{count:,} {entity} ({samples}): {field} {value!r} looks rewritten by a spreadsheet "
            "({detail})."
        ),
        clever=PROCESSED,
    ),
    _t(
        code="padded-id",
        severity="warning",
        group="row",
        title="Padded ID",
        when="leading/trailing whitespace in an ID",
        message="{entity} {key}: {field} has leading or trailing spaces.",
        hint="Trim the ID; Clever treats ' 123' and '123' as different records.",
        clever=PROCESSED,
    ),
    _t(
        code="repeated-header",
        severity="warning",
        group="row",
        title="Header repeated as a row",
        when=(
            "a record whose ID is its own column name (any case): the header line again, as "
            "SQL*Plus prints it on every page, or as joined exports carry it"
        ),
        message="{file} repeats its header line as a row ({field} {value!r}); Clever reads it "
        "as one more record.",
        hint="Write the header once: SQL*Plus repeats it on every page unless SET PAGESIZE 0 "
        "(write the header with PROMPT); when joining exports, drop every part's header but the "
        "first.",
        clever=PROCESSED,
    ),
    _t(
        code="underline-row",
        severity="warning",
        group="row",
        title="Header underline as a row",
        when=(
            "a record whose ID is only dashes: the line sqlcmd and SQL*Plus print under the "
            "column names"
        ),
        message="{file} has the dashes a query tool prints under the header as a row ({field} "
        "{value!r}); Clever reads it as one more record.",
        hint="Leave the underline out: sqlcmd -h -1 (then write the header line yourself), "
        "SQL*Plus SET UNDERLINE OFF or SET PAGESIZE 0.",
        clever=PROCESSED,
    ),
    _t(
        code="null-marker",
        severity="warning",
        group="row",
        title="NULL written as text",
        when=(
            "a value that is a database's NULL spelled out — 'NULL' (sqlcmd) or '\\N' (MySQL's "
            "SELECT … INTO OUTFILE) — where the export meant an empty value (ours: v2.1.1 reads "
            "every value as text)"
        ),
        message="{entity} {key}: {field} is '{value}', a database NULL written as text; Clever "
        "reads the text.",
        hint="Write NULL as an empty value: wrap the column in COALESCE(…, '') in the export's "
        "query (MySQL's INTO OUTFILE writes \\N, or NULL with ESCAPED BY ''; sqlcmd prints "
        "NULL).",
        many="{count:,} {entity} ({samples}): {field} is '{value}', a database NULL written as "
        "text; Clever reads the text.",
        clever=PROCESSED,
    ),
    _t(
        code="too-many-contacts",
        severity="info",
        group="row",
        title="Too many contacts",
        when="more than 5 contacts for one student (a limit of ours: v2.1.1 states none)",
        message="student {key} has {contacts} contacts; many apps show at most 5.",
        hint=(
            "Nothing Clever requires; send the five contacts that matter most if apps show too few."
        ),
        clever=ADVICE,
    ),
    _t(
        code="incomplete-contact",
        severity="warning",
        group="row",
        title="Incomplete contact",
        when="contact columns filled without Contact_type or Contact_name",
        message=(
            "student {key}: a contact has {field} blank while other contact columns are filled."
        ),
        hint="Fill Contact_type and Contact_name, or clear the contact columns.",
        many=(
            "{count:,} students ({samples}): a contact has {field} blank while other contact "
            "columns are filled."
        ),
        clever=UNCONFIRMED,
    ),
    _t(
        code="missing-value-unconfirmed",
        severity="warning",
        group="row",
        title="Possibly required value blank",
        when=(
            "a field the format lists as required, where Clever's own text does not confirm it, is "
            "blank"
        ),
        message=(
            "{entity} {key}: {field} is blank; it is listed as required, though Clever does not "
            "confirm it."
        ),
        hint="Fill {field} for this record to be safe.",
        many=(
            "{count:,} {entity} ({samples}): {field} is blank; it is listed as required, though "
            "Clever does not confirm it."
        ),
        clever=UNCONFIRMED,
    ),
    _t(
        code="invalid-phone",
        severity="warning",
        group="row",
        title="Invalid phone number",
        when="a phone number that is not 10 or 11 digits, digits only (v2.1.1)",
        message="{entity} {key}: {field} {value!r} is not 10 or 11 digits, digits only.",
        hint=(
            "Write the number as digits only, with its area code (10 digits, or 11 with the "
            "leading 1): 5551234567."
        ),
        many=(
            "{count:,} {entity} ({samples}): {field} {value!r} is not 10 or 11 digits, digits only."
        ),
        clever=PROCESSED,
    ),
    _t(
        code="invalid-zip",
        severity="warning",
        group="row",
        title="Invalid ZIP",
        when="a ZIP that is not 5 or 9 letters or digits without punctuation (v2.1.1)",
        message="{entity} {key}: {field} {value!r} is not 5 or 9 characters without punctuation.",
        hint="Write the ZIP as 5 or 9 characters, no hyphen or space ({suggestion}).",
        many=(
            "{count:,} {entity} ({samples}): {field} {value!r} is not 5 or 9 characters without "
            "punctuation."
        ),
        clever=PROCESSED,
    ),
    _t(
        code="invalid-state",
        severity="warning",
        group="row",
        title="Invalid state",
        when="a state that is not a two-letter abbreviation (v2.1.1)",
        message="{entity} {key}: {field} {value!r} is not a two-letter state abbreviation.",
        hint="Write the state's two-letter postal abbreviation (MA, TX).",
        many=(
            "{count:,} {entity} ({samples}): {field} {value!r} is not a two-letter state "
            "abbreviation."
        ),
        clever=PROCESSED,
    ),
    _t(
        code="unlisted-contact-value",
        severity="info",
        group="row",
        title="Contact type or relationship off the help-centre list",
        when="Contact_type or Contact_relationship outside the help centre's current list (v2.1.1 "
        "takes free text); hint suggests the listed value",
        message="{entity} {key}: {field} {value!r} is not on Clever's current list.",
        hint=(
            "Nothing Clever requires (v2.1.1 takes free text); the listed value would be "
            "{suggestion}."
        ),
        many="{count:,} {entity} ({samples}): {field} {value!r} is not on Clever's current list.",
        clever=PROCESSED,
    ),
    _t(
        code="duplicate-unique-value",
        severity="warning",
        group="row",
        title="Value not unique",
        when=(
            "Student_number, Teacher_number, Staff_email or Admin_email shared by two records; "
            "v2.1.1 requires them unique in the district"
        ),
        message="{entity} {key}: {field} {value!r} is also used by {entity} {other}.",
        hint="Give each record its own {field}; it must be unique in the district.",
        clever=UNCONFIRMED,
    ),
    _t(
        code="teacher-several-schools",
        severity="warning",
        group="row",
        title="Teacher listed at several schools",
        when=(
            "a Teacher_id on several rows of teachers.csv (staff.csv, by contrast, repeats one row "
            "per school)"
        ),
        message=(
            "teacher {key}: Teacher_id {value!r} is already listed at school {other} on an earlier "
            "row; Clever processes only the first row."
        ),
        hint=(
            "List the teacher once, with the primary school; sections at other schools still work."
        ),
        clever=FIRST_ROW,
    ),
    # --- cross-file ---
    _t(
        code="unknown-school",
        severity="error",
        group="cross-file",
        title="Unknown school",
        when="a School_id not in schools.csv",
        message=(
            "{entity} {key}: School_id {value!r} is not in schools.csv; what Clever does with the "
            "broken link is not stated."
        ),
        hint="Add school {value} to schools.csv or correct the School_id.",
        clever=ROWS_MAY_BE_SKIPPED,
        unfollowed=(
            "{entity} {key}: School_id {value!r} is not in schools.csv; " + UNFOLLOWED_SCHOOL
        ),
    ),
    _t(
        code="enrollment-unknown-student",
        severity="error",
        group="cross-file",
        title="Enrollment of unknown student",
        when="enrollment → student not in students.csv",
        message=(
            "enrollment {key}: student {value!r} is not in students.csv; what Clever does with the "
            "broken link is not stated."
        ),
        hint="Add the student to students.csv or drop the enrollment.",
        clever=ROWS_MAY_BE_SKIPPED,
    ),
    _t(
        code="enrollment-unknown-section",
        severity="error",
        group="cross-file",
        title="Enrollment in unknown section",
        when="enrollment → section not in sections.csv",
        message=(
            "enrollment {key}: section {value!r} is not in sections.csv; what Clever does with the "
            "broken link is not stated."
        ),
        hint="Add the section to sections.csv or drop its enrollments.",
        clever=ROWS_MAY_BE_SKIPPED,
    ),
    _t(
        code="enrollment-school-mismatch",
        severity="warning",
        group="cross-file",
        title="Enrollment school mismatch",
        when="enrollment School_id differs from its section's School_id",
        message="enrollment {key}: School_id {value!r} differs from its section's school.",
        hint="Use the section's School_id in enrollments.csv.",
        clever=UNCONFIRMED,
    ),
    _t(
        code="duplicate-enrollment",
        severity="warning",
        group="cross-file",
        title="Duplicate enrollment",
        when="the same (section, student) twice",
        message="enrollment {key} appears more than once.",
        hint="Remove the repeated enrollment row.",
        clever=UNCONFIRMED,
    ),
    _t(
        code="section-unknown-teacher",
        severity="error",
        group="cross-file",
        title="Section with unknown teacher",
        when="Teacher_id or Teacher_N_id not in teachers.csv",
        message=(
            "section {key}: {field} {value!r} is not in teachers.csv; what Clever does with the "
            "broken link is not stated."
        ),
        hint="Add the teacher to teachers.csv (a new hire not yet exported?) or correct {field}.",
        clever=UNCONFIRMED,
    ),
    _t(
        code="section-without-students",
        severity="warning",
        group="cross-file",
        title="Section without students",
        when="a section nobody is enrolled in",
        message=(
            "section {key} has no enrollments; Clever does not process a section without students."
        ),
        hint="Check enrollments.csv, or drop the section if it is not taught.",
        clever=SECTION_SKIPPED,
        served="section {key} has no enrollments; Clever serves it without students.",
        served_hint=(
            "Clever serves the section with no students: check its enrollments at the source "
            "(reconcile with the upload shows any Clever did not serve)."
        ),
    ),
    _t(
        code="student-without-enrollments",
        severity="info",
        group="cross-file",
        title="Student without enrollments",
        when="a student in no section",
        message="student {key} is in no section.",
        hint="Enroll the student, or ignore if expected (e.g. a new arrival).",
        clever=ADVICE,
    ),
    _t(
        code="teacher-without-sections",
        severity="info",
        group="cross-file",
        title="Teacher without sections",
        when="a teacher who teaches no section",
        message="teacher {key} teaches no section.",
        hint="Nothing to do unless the teacher should have sections.",
        clever=ADVICE,
    ),
    _t(
        code="school-id-is-number",
        severity="error",
        group="cross-file",
        title="School number used as School_id",
        when="IDs in other files match a school's School_number instead of its School_id",
        message="{entity} {key}: School_id {value!r} is the School_number of school {school_id}.",
        hint="Use School_id {school_id} instead of the school number.",
        clever=ROWS_MAY_BE_SKIPPED,
        unfollowed=(
            "{entity} {key}: School_id {value!r} is the School_number of school {school_id}; "
            + UNFOLLOWED_SCHOOL
        ),
    ),
    _t(
        code="shared-staff-id",
        severity="error",
        group="cross-file",
        title="ID shared by different people",
        when="one Staff_id (or Teacher_id) used by different people",
        message="{entity} {key}: {field} {value!r} is used by different people.",
        hint="Give each person their own ID.",
        clever=UNCONFIRMED,
    ),
    _t(
        code="section-teacher-other-school",
        severity="info",
        group="cross-file",
        title="Section teacher at another school",
        when="retired: a section's teacher listed in teachers.csv at another school only; the help "
        "centre allows it (a teacher is listed once, at a primary school), so it is not reported",
        message="section {key}: {field} {value!r} is listed in teachers.csv at another school than "
        "{school_id}.",
        hint=(
            "Nothing to do: a teacher is listed once, at a primary school, and may teach sections "
            "at other schools (help centre)."
        ),
        clever=ADVICE,
    ),
    # --- history ---
    _t(
        code="hold-mass-deletion",
        severity="warning",
        group="history",
        title="Hold: mass deletion",
        when="more than 10 % of an entity deleted: Clever will hold the sync",
        message=(
            "{ratio:.0%} of {entity} would be deleted (threshold {threshold:.0%}); Clever will "
            "hold the sync."
        ),
        hint="Check the export is complete; if the deletions are real, approve the hold in Clever.",
        hint_by_sync_type=(
            (
                "clever-managed",
                "Check the SIS still holds these {entity}: Clever's own sync reads it, so ask "
                "Clever Support to check the sync if it does; if the deletions are real, approve "
                "the hold in Clever.",
            ),
            (
                "sis-managed",
                "Ask your SIS vendor whether their nightly export is complete; if the deletions "
                "are real, approve the hold in Clever.",
            ),
        ),
        clever=HELD,
    ),
    _t(
        code="hold-mass-update",
        severity="warning",
        group="history",
        title="Hold: mass update",
        when="more than 75 % of an entity updated: Clever will hold the sync",
        message=(
            "{ratio:.0%} of {entity} would be updated (threshold {threshold:.0%}); Clever will "
            "hold the sync."
        ),
        hint="Check what changed in bulk; if intended, approve the hold in Clever.",
        clever=HELD,
    ),
    _t(
        code="term-rollover",
        severity="info",
        group="history",
        title="Term rollover",
        when="the removed sections belong to a term that has ended: an expected hold",
        message=(
            "{sections} removed sections belong to term {value!r}, which ended; an expected hold."
        ),
        hint="Approve the hold in Clever once the new term's sections are in.",
        clever=HELD,
    ),
    _t(
        code="id-rekeyed",
        severity="warning",
        group="history",
        title="Re-keyed ID",
        when="a record removed and re-added under a new ID (same person/section by natural key)",
        message=(
            "{entity} {old_key} came back as {key} (matched on {matched_on}); apps lose its "
            "history."
        ),
        hint="Keep IDs stable: restore {old_key} unless the change is intended.",
        clever=PROCESSED,
    ),
    _t(
        code="id-restored",
        severity="info",
        group="history",
        title="ID restored",
        when=(
            "a record is back under the ID it had before a re-key (a correction, not a new problem)"
        ),
        message="{entity} {old_key} is back as {key}, the ID it had before night {restored_from}.",
        hint="Nothing to undo: this restores an earlier ID. Keep {key} from now on.",
        clever=PROCESSED,
    ),
    _t(
        code="column-dropped",
        severity="warning",
        group="history",
        title="Column dropped",
        when="a column the district sent before is gone (a field customization changed)",
        message="{file} no longer sends {field}.",
        hint="Restore {field} in the export, or record the change if it is on purpose.",
        hint_by_sync_type=_SYNC_COLUMN_HINTS["column-dropped"],
        clever=PROCESSED,
    ),
    _t(
        code="column-added",
        severity="info",
        group="history",
        title="Column added",
        when="a new column arrived",
        message="{file} now sends {field}.",
        hint="Nothing to do if intended; apps may start using it.",
        clever=READ,
    ),
    _t(
        code="column-emptied",
        severity="warning",
        group="history",
        title="Column emptied",
        when="a column's fill rate fell sharply (e.g. emails stopped arriving)",
        message="{file} {field} fill rate fell from {before:.0%} to {after:.0%}.",
        hint="Check the source of {field}.",
        hint_by_sync_type=_SYNC_COLUMN_HINTS["column-emptied"],
        clever=PROCESSED,
    ),
    _t(
        code="format-shift",
        severity="warning",
        group="history",
        title="Format shift",
        when="a column's value pattern changed (DOB MM/DD/YYYY → YYYY-MM-DD, Grade 9 → 09)",
        message="{file} {field} changed format from {before} to {after}.",
        hint="Restore the previous format; apps may misread the new one.",
        clever=PROCESSED,
    ),
    _t(
        code="format-restored",
        severity="info",
        group="history",
        title="Format restored",
        when="a column is back to the value pattern it had before a format shift (a correction)",
        message=(
            "{file} {field} is back to its earlier format {after} (it was {before} for a while)."
        ),
        hint="Nothing to undo: this restores the earlier format. Keep it from now on.",
        clever=PROCESSED,
    ),
    _t(
        code="override-reverted",
        severity="warning",
        group="history",
        title="Override reverted",
        when="this upload undoes a customization in the district's ledger",
        message=(
            "{entity} {key}: {field} is back to {value!r}, undoing the kept override {override!r}."
        ),
        hint="Re-apply the override with rosterlab fix, or retire it from the ledger.",
        clever=PROCESSED,
    ),
    # Reconcile: one finding per difference (records) or per entity, field and cause (values);
    # ``value`` holds the count where a finding stands for many records.
    _t(
        code="served-skipped",
        severity="warning",
        group="reconcile",
        title="Uploaded, not served: Clever skipped it",
        when=(
            "an uploaded record Clever does not serve, explained by an error finding of the upload "
            "(blank required value, duplicate ID, broken reference), its own or that of a record "
            "it goes with (field, value: the reference to a skipped record that carries it)"
        ),
        message=(
            "{entity} {key} was uploaded but is not served: Clever skipped it{carried} "
            "({cause}{origin}{unconfirmed})."
        ),
        hint=(
            "Fix the upload's {cause} finding for {holder}; Clever serves it after the next sync."
        ),
        clever=OBSERVED,
    ),
    _t(
        code="upload-held",
        severity="warning",
        group="reconcile",
        title="Upload held: not served until approved",
        when=(
            "the upload reconciled is held (a predicted hold): Clever serves it only once the "
            "district approves the hold, and the state before it until then"
        ),
        message=(
            "upload snapshot {key} is held for {reason}: Clever serves it only once the district "
            "approves the hold, and {live} until then: a difference that state explains is "
            "listed as served-held."
        ),
        hint=("Approve or discard the hold in Clever's dashboard; while it is pending, {compare}."),
        clever=HELD,
    ),
    _t(
        code="served-held",
        severity="info",
        group="reconcile",
        title="Served as before the held upload",
        when=(
            "the upload reconciled is held and Clever serves what the live state before it has "
            "(a record it adds not served, one it removes still served, a value it changes "
            "served unchanged); value = count"
        ),
        message=(
            "{what} as in snapshot {live_snapshot} (the state Clever serves until the district "
            "approves the hold): {cause}: {value}."
        ),
        hint=(
            "Nothing to fix in these records: approve or discard the hold in Clever's dashboard; "
            "reconcile --upload {live_snapshot} compares what Clever serves meanwhile."
        ),
        clever=HELD,
    ),
    _t(
        code="served-missing",
        severity="error",
        group="reconcile",
        title="Uploaded, not served, unexplained",
        when="an uploaded record Clever does not serve and no finding of the upload explains",
        message=(
            "{entity} {key} was uploaded but is not served, and nothing in the upload explains why."
        ),
        hint="Check the app's sharing rules for this record's school or section, then ask Clever "
        "support with the record's ID.",
        clever=OBSERVED,
    ),
    _t(
        code="served-stale",
        severity="warning",
        group="reconcile",
        title="Served, no longer uploaded",
        when="a record Clever serves that this upload dropped but an earlier upload had",
        message=(
            "{entity} {key} is served but not in this upload (last uploaded in snapshot {value}): "
            "Clever still serves an older night."
        ),
        hint="Check whether the sync is held or this upload was not processed yet (rosterlab diff, "
        "the district's Clever dashboard).",
        clever=OBSERVED,
    ),
    _t(
        code="served-not-uploaded",
        severity="warning",
        group="reconcile",
        title="Served, never uploaded",
        when="a record Clever serves that no upload of the district ever had",
        message="{entity} {key} is served but was never uploaded: shared from another source or "
        "created in Clever.",
        hint="Check the district's other sync sources and records created in the Clever dashboard.",
        clever=OBSERVED,
    ),
    _t(
        code="field-not-served",
        severity="info",
        group="reconcile",
        title="Field not served",
        when="an uploaded field the API does not serve (never exposed, not in this API version, or "
        "outside the app's sharing scope); value = uploaded records with a value",
        message="{entity} {field} is not served ({cause}); uploaded records with a value: {value}.",
        hint="Nothing to fix for the sync: {remedy}.",
        clever=OBSERVED,
    ),
    _t(
        code="value-normalised",
        severity="info",
        group="reconcile",
        title="Value normalised by Clever",
        when="Clever serves an uploaded value in its own form (race codes as names, DOB without "
        "leading zeros, frl Y/N as Other/Paid, off-vocabulary values dropped); value = count",
        message="{entity} {field}: values served normalised: {value} ({cause}).",
        hint=(
            "Nothing to fix unless the app needs the exact value; send Clever's spelling to avoid "
            "it."
        ),
        clever=OBSERVED,
    ),
    _t(
        code="reference-not-served",
        severity="warning",
        group="reconcile",
        title="Reference served empty",
        when=(
            "an uploaded reference (a section's teacher, a student's school) to a record Clever "
            "does not serve, so the reference is served empty; value = count"
        ),
        message="{entity} {field}: references served empty: {value} ({cause}).",
        hint="Fix the upload so the referenced record exists and is valid; Clever then serves the "
        "reference.",
        clever=OBSERVED,
    ),
    _t(
        code="value-differs",
        severity="warning",
        group="reconcile",
        title="Served value differs, unexplained",
        when=(
            "a field whose served value differs from the upload's with no documented normalisation"
        ),
        message="{entity} {key} {field}: uploaded {uploaded!r}, served {served!r}.",
        hint="Check whether Clever has processed this upload (held sync) or another source "
        "overrides the field.",
        clever=OBSERVED,
    ),
    _t(
        code="served-rekeyed",
        severity="warning",
        group="reconcile",
        title="Re-keyed: a new Clever ID",
        when="a changed sis_id made Clever serve the record under a new Clever id (apps lose its "
        "history)",
        message=(
            "{entity} {old_key} is served as {key} with a new Clever id {value} (was {old_id})."
        ),
        hint="Keep sis_ids stable: restore {old_key} unless the change is intended.",
        clever=OBSERVED,
    ),
)

CATALOGUE: dict[str, FindingType] = {entry.code: entry for entry in CATALOGUE_ENTRIES}


@dataclass(frozen=True)
class RootCause:
    """A kind of root-cause group (findings one mistake explains) and its one hint.

    A group is of the first kind, in :data:`ROOT_CAUSES` order, that leads one of its codes.
    The hint uses ``str.format`` fields from the group: ``cause`` (``sections/SEC-77``), its
    ``entity`` and ``key`` (``sections``, ``SEC-77``) and the entity's ``file``.
    """

    kind: str
    codes: tuple[str, ...]
    title: str
    hint: str

    def hint_for(self, cause: str) -> str:
        entity, _, key = cause.partition(KEY_SEPARATOR)
        file = ENTITIES[entity].file if entity in ENTITIES else entity
        values = _SafeDict(cause=cause, entity=entity, key=key, file=file)
        return self.hint.format_map(values)


ROOT_CAUSES: tuple[RootCause, ...] = (
    # A query tool's lines read as records (cause ``query-tool/<file>``): their findings are
    # column names or dashes read as values, so the one hint is the tool's setting, as the
    # line's own finding words it. First, so a broken link on the line does not make the group a
    # missing record; the header first, as a tool that repeats it repeats the underline too
    # (SQL*Plus's pages, sqlcmd -h N) and the setting that leaves one out leaves both.
    RootCause(
        "query-tool-header",
        ("repeated-header",),
        "Header repeated as a record",
        "Every finding listed is {key}'s header line again, which Clever reads as one more "
        "record: its column names are not values to correct. "
        + CATALOGUE["repeated-header"].hint
        + " sqlcmd prints the header and its underline again every -h rows: -h -1 leaves them "
        "out.",
    ),
    RootCause(
        "query-tool-underline",
        ("underline-row",),
        "Header underline as a record",
        "Every finding listed is the line of dashes a query tool printed under {key}'s header, "
        "which Clever reads as one more record: its dashes are not values to correct. "
        + CATALOGUE["underline-row"].hint,
    ),
    RootCause(
        "school-number-as-id",
        ("school-id-is-number",),
        "School_number used as School_id",
        "One export mistake breaks every record listed: {key} is a school's School_number, sent "
        "where its School_id belongs. Correct the export's School_id column and they are all "
        "right again, re-keys included; do not restore records one by one.",
    ),
    RootCause(
        "excel-round-trip",
        ("excel-damage",),
        "Excel round trip",
        "{key} was opened and saved in a spreadsheet, which rewrote the values listed (and the "
        "formats that shifted with them). Export it again straight from the SIS, or format "
        "every column as Text before saving; do not correct values one by one.",
    ),
    RootCause(
        "term-rollover",
        ("term-rollover",),
        "Term rollover",
        "A term that ended explains these holds: once the new term's sections and enrollments "
        "are in the export, approve the hold in Clever; nothing to undo.",
    ),
    RootCause(
        "missing-record",
        (
            "unknown-school",
            "enrollment-unknown-student",
            "enrollment-unknown-section",
            "section-unknown-teacher",
        ),
        "A referenced record is missing",
        "Every record listed points at {key}, which {file} lacks: add {key} to {file} (an "
        "export that ran before the others?) or correct the references; one change fixes them "
        "all.",
    ),
    RootCause(
        "school-mismatch",
        ("enrollment-school-mismatch",),
        "Section and enrollments disagree on the school",
        "Enrollments of section {key} name another school than the section does: make the "
        "section's School_id and its enrollments' agree in the export.",
    ),
    RootCause(
        "repeated-record",
        ("duplicate-id", "duplicate-enrollment"),
        "A record on several rows",
        "{key} is on more than one row of {file}: keep one row per record in the export "
        "(Clever does not say which row it keeps).",
    ),
    RootCause(
        "shared-id",
        ("shared-staff-id",),
        "One ID, several people",
        "Different people share ID {key} in {file}: give each person their own ID in the SIS, "
        "then export again.",
    ),
    RootCause(
        "shared-value",
        ("duplicate-unique-value",),
        "A unique value used twice",
        "{key} is used by more than one record of {file} but must be unique in the district: "
        "give each record its own value in the SIS.",
    ),
    RootCause(
        "teacher-several-schools",
        ("teacher-several-schools",),
        "A teacher listed at several schools",
        "List teacher {key} once in {file}, with the primary school; sections at other "
        "schools still work.",
    ),
    RootCause(
        "unreferenced-record",
        ("section-without-students", "student-without-enrollments", "teacher-without-sections"),
        "Nothing refers to a record",
        "Nothing in the upload refers to {key} of {file}: check the export of the file that "
        "should (enrollments, sections), or drop the record if that is intended.",
    ),
)


def root_cause(codes: Iterable[str]) -> RootCause | None:
    """The kind of a root-cause group with these codes (None if no kind leads them)."""
    present = set(codes)
    return next((kind for kind in ROOT_CAUSES if present.intersection(kind.codes)), None)


# Codes no check emits any more (the rule proved wrong); kept so stored findings still render.
RETIRED_CODES = frozenset({"section-teacher-other-school"})
