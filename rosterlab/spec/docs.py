"""Generate docs/findings.md from the catalogue (``make docs``)."""

from __future__ import annotations

from rosterlab.spec.findings import CATALOGUE_ENTRIES, GROUPS, ROOT_CAUSES

GROUP_TITLES = {
    "file": "File",
    "header": "Header",
    "row": "Row and cell",
    "cross-file": "Cross-file (broken enrollments and friends)",
    "history": "History (this snapshot against the district's previous one)",
    "reconcile": "Reconcile (what the district uploaded against what Clever's API serves)",
}


def _row(*cells: str) -> str:
    """One markdown table row; a ``|`` inside a cell escaped."""
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def render_catalogue() -> str:
    """The findings catalogue as Markdown, one table per group."""
    lines = [
        "# Findings catalogue",
        "",
        "Generated from `rosterlab/spec/findings.py` by `make docs`; do not edit by hand.",
        "A finding is a record (code, severity, entity, key, field, value, row, message, hint,",
        "cause). `error` = the upload is not processed, rows are skipped, or records are linked",
        "or identified wrongly (where Clever does not say what it then does, the finding says",
        "so); `warning` = processed, but likely not what the district means; `info` = advice.",
        "*What Clever does* quotes its source: Clever's SFTP Instructions v2.1.1 or help centre.",
        "",
        "Findings count records: a finding also has `count` (records), `rows` (rows of the file)",
        "and `sample_keys`. A record repeated over rows (a student over its contact rows) is one",
        "finding; a value problem repeated over a column is one aggregated finding (key blank,",
        "count, the first records' keys), its rows kept in the store (`check --details`, CSV,",
        "the findings browser). Aggregated codes: "
        + ", ".join(f"`{e.code}`" for e in CATALOGUE_ENTRIES if e.many)
        + ".",
    ]
    for group in GROUPS:
        lines += [
            "",
            f"## {GROUP_TITLES[group]}",
            "",
            "| code | severity | when | what Clever does | hint |",
            "| --- | --- | --- | --- | --- |",
        ]
        for entry in CATALOGUE_ENTRIES:
            if entry.group == group:
                hint = entry.hint.replace("|", "\\|")
                cells = (f"`{entry.code}`", entry.severity, entry.when, entry.clever, hint)
                lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Served records (a snapshot pulled from the Data API)",
        "",
        "A pull is what Clever serves, already applied: nothing in it is skipped or held. A",
        "finding on it describes a served record, and these codes are worded so there:",
        "",
        "| code | message on a pull | hint on a pull |",
        "| --- | --- | --- |",
    ]
    lines += [_row(f"`{e.code}`", e.served, e.served_hint) for e in CATALOGUE_ENTRIES if e.served]
    lines += [
        "",
        "## References Clever does not follow",
        "",
        "Clever serves an enrollment with its section's school (docs/api.md), so a broken",
        "School_id in enrollments.csv does not skip the row: the upload's outcome does not count",
        "it, and the enrollment is not served only when its student or section is skipped (it is",
        "then carried with that record). These codes are worded so on an enrollment's School_id:",
        "",
        "| code | message on an enrollment |",
        "| --- | --- |",
    ]
    lines += [_row(f"`{e.code}`", e.unfollowed) for e in CATALOGUE_ENTRIES if e.unfollowed]
    lines += [
        "",
        "## Optional files",
        "",
        "staff.csv and admins.csv are optional: an upload without them is processed (v2.1.1",
        "stops an upload only for a missing required file). These codes are worded so, and do",
        "this, on an optional file:",
        "",
        "| code | message on an optional file | what Clever does |",
        "| --- | --- | --- |",
    ]
    lines += [
        _row(f"`{e.code}`", e.optional, e.optional_clever) for e in CATALOGUE_ENTRIES if e.optional
    ]
    lines += [
        "",
        "## Root causes",
        "",
        "Findings one mistake explains share a cause (`schools/00054`,",
        "`excel-round-trip/students.csv`) and are listed together, the cause breaking the most",
        "records first. A group is of the first kind below that leads one of its codes, and",
        "carries that kind's one hint (`{key}` is the cause's key, `{file}` its file).",
        "",
        "| kind | title | led by | hint |",
        "| --- | --- | --- | --- |",
    ]
    for kind in ROOT_CAUSES:
        codes = ", ".join(f"`{code}`" for code in kind.codes)
        hint = kind.hint.replace("|", "\\|")
        lines.append(f"| `{kind.kind}` | {kind.title} | {codes} | {hint} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_catalogue(), end="")
