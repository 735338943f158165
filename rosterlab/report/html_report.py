"""Run a notebook with parameters and export it as ONE self-contained HTML page.

The page is what support emails to a district: no code cells, no scripts, no network needed to
view it (charts are inline ``data:`` PNGs, the stylesheet is inline). HTML outputs come from
rosterlab's own renderers, which escape everything taken from file data; plain-text outputs are
escaped here. Parameters are injected papermill-style: a cell tagged ``injected-parameters`` is
inserted after the cell tagged ``parameters`` (a few lines, so no papermill dependency).
"""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbconvert.filters import markdown2html_mistune

import rosterlab
from rosterlab import spec
from rosterlab.checks import CheckResult, FieldMatrix, finding_groups
from rosterlab.errors import ReportError, cannot_write, disk_full
from rosterlab.report.destination import report_destination
from rosterlab.report.diff import MASK, key_secrets, mask_cause, scrub, sensitive
from rosterlab.report.findings_csv import (
    csv_download_link,
    finding_line,
    findings_csv,
    findings_filename,
)
from rosterlab.report.html import PAGE_STYLE, esc, html_table
from rosterlab.report.snapshots import summary_text
from rosterlab.spec import Finding, plural
from rosterlab.spec.lines import LineBreaks
from rosterlab.store.outcomes import API_ORIGIN, SERVED_REASON

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
REPORT_NOTEBOOK = "district_report.ipynb"
Parameter = str | int | float | bool | None | tuple[Any, ...]


def notebooks_dir() -> Path:
    """The workbench notebooks of this checkout (``notebooks/`` beside the package)."""
    folder = Path(rosterlab.__file__).resolve().parent.parent / "notebooks"
    if not folder.is_dir():
        raise ReportError(f"no notebooks folder at {folder}: run rosterlab from a source checkout")
    return folder


def _assignment(name: str, value: Parameter) -> str:
    if not name.isidentifier():
        raise ReportError(f"parameter name {name!r} is not a Python identifier")
    if not isinstance(value, str | int | float | bool | tuple | type(None)):
        raise ReportError(f"parameter {name} has unsupported type {type(value).__name__}")
    return f"{name} = {value!r}"


def inject_parameters(
    nb: nbformat.NotebookNode, parameters: Mapping[str, Parameter]
) -> nbformat.NotebookNode:
    """A copy of ``nb`` with a cell assigning ``parameters`` right after its parameters cell."""
    result = copy.deepcopy(nb)
    cells = result.cells
    where = next(
        (i for i, c in enumerate(cells) if PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])),
        None,
    )
    if where is None:
        raise ReportError("the notebook has no cell tagged 'parameters': tag its first code cell")
    source = "# Parameters injected by rosterlab\n" + "\n".join(
        _assignment(name, value) for name, value in parameters.items()
    )
    injected = nbformat.v4.new_code_cell(source, metadata={"tags": [INJECTED_TAG]})
    injected.id = INJECTED_TAG
    cells.insert(where + 1, injected)
    return result


def execute_notebook(
    path: Path, parameters: Mapping[str, Parameter], *, timeout: int = 600
) -> nbformat.NotebookNode:
    """Run the notebook at ``path`` (in its own folder) with ``parameters`` injected."""
    if not path.is_file():
        raise ReportError(f"notebook {path} not found: run rosterlab from a source checkout")
    nb = inject_parameters(nbformat.read(path, as_version=4), parameters)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
    )
    try:
        # The kernel's own log (a transport warning at start) is not the report's business:
        # what a cell raises arrives as a CellExecutionError, a dead kernel as DeadKernelError.
        client.execute(stderr=subprocess.DEVNULL)
    except CellTimeoutError as exc:
        raise ReportError(
            f"{path.name} took longer than {timeout} s in one cell: retry, or narrow the nights"
        ) from exc
    except (DeadKernelError, RuntimeError) as exc:
        raise ReportError(
            f"the notebook kernel for {path.name} failed ({exc}): check the environment with "
            "rosterlab lab and retry"
        ) from exc
    except CellExecutionError as exc:
        raise ReportError(
            f"{path.name} failed: {exc.ename}: {exc.evalue} (open it in rosterlab lab to see why)"
        ) from exc
    return nb


def _markdown(source: str) -> str:
    return str(markdown2html_mistune(source))


def _output_html(output: Mapping[str, Any]) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        if output.get("name") != "stdout":
            return ""
        return f"<pre>{esc(str(output.get('text', '')))}</pre>"
    data = output.get("data", {})
    if "text/html" in data:
        return str(data["text/html"])
    if "image/png" in data:
        alt = esc(data.get("text/plain", "chart"))
        png = str(data["image/png"]).replace("\n", "")
        return f'<p><img alt="{alt}" src="data:image/png;base64,{png}"></p>'
    if "text/plain" in data:
        return f"<pre>{esc(str(data['text/plain']))}</pre>"
    return ""


def notebook_html(nb: nbformat.NotebookNode, *, title: str, footer: str = "") -> str:
    """One self-contained HTML page of the notebook's markdown and outputs (no code cells)."""
    parts: list[str] = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            parts.append(_markdown(cell.source))
        elif cell.cell_type == "code":
            parts.extend(filter(None, (_output_html(o) for o in cell.get("outputs", []))))
    note = f"<footer>{esc(footer)}</footer>" if footer else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{PAGE_STYLE}</style></head>\n<body>\n"
        + "\n".join(parts)
        + f"\n{note}\n</body></html>\n"
    )


def write_report(html_text: str, out: Path) -> Path:
    """Write the page atomically (a temp file renamed into place); returns the absolute path."""
    out = report_destination(out)
    partial = out.with_name(out.name + ".part")
    try:
        partial.write_text(html_text, encoding="utf-8")
        partial.replace(out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        full = disk_full(exc, str(partial), "no report was written")
        if full is not None:
            raise full from exc
        raise ReportError(f"{cannot_write(out, exc)}: give another --out") from exc
    return out


# --- findings and field flags, for the district report ----------------------------------------
LINES_PER_GROUP = 3  # in the text form; the HTML lists every finding


def _shown_value(f: Finding, redact: bool) -> str | None:
    """A finding's value, unless redacting and its field is not a known, non-PII spec field."""
    if not redact or f.value is None:
        return f.value
    if f.entity in spec.ENTITIES and f.field is not None and not sensitive(f.entity, f.field):
        return f.value
    return MASK


def _group_label(label: str, cause: str | None, redact: bool) -> str:
    """A findings group's label with its root cause masked as the causes table masks it."""
    if cause is None:
        return label
    return label.replace(cause, mask_cause(cause, redact) or "", 1)


def redacted(f: Finding, redact: bool) -> Finding:
    """The finding as a report shows it: personal data masked everywhere it could appear.

    A PII value (by the spec's PII flags) and a contact identity built from PII columns (in the
    key or the root cause) are masked in the key, value, message, hint and cause.
    """
    if not redact:
        return f
    value = _shown_value(f, redact)
    secrets = [f.value] if f.value is not None and value != f.value else []
    secrets += key_secrets(f.entity, f.key)
    for sample in f.sample_keys:  # an aggregated finding's first records
        secrets += key_secrets(f.entity, sample)
    if f.cause is not None and spec.KEY_SEPARATOR in f.cause:
        secrets += key_secrets(*f.cause.split(spec.KEY_SEPARATOR, 1))
    if not secrets:
        return f
    return replace(
        f,
        key=scrub(f.key, secrets),
        value=value,
        message=scrub(f.message, secrets) or "",
        hint=scrub(f.hint, secrets) or "",
        cause=scrub(f.cause, secrets),
        sample_keys=tuple(scrub(k, secrets) or "" for k in f.sample_keys),
    )


def _finding_line(f: Finding, breaks: Mapping[str, LineBreaks]) -> str:
    line = "" if f.row is None else f" {'from ' if f.key is None and f.aggregated else ''}line"
    at = finding_line(f, breaks)
    where = (f" {f.key}" if f.key else "") + (f"{line} {at}" if at is not None else "")
    return f"    {f.severity} {f.code}{where}: {f.message}"


def findings_fragment(
    result: CheckResult,
    *,
    redact: bool = False,
    lines_per_group: int = LINES_PER_GROUP,
    breaks: Mapping[str, LineBreaks] | None = None,
) -> tuple[str, str]:
    """(HTML, text) of one night's findings: counts, a CSV of them all, root causes, then every
    finding in a collapsed section per group (root cause, or code) and what to do per code.

    The text lists each group with its first ``lines_per_group`` findings; ``breaks`` (spec
    name → line breaks inside quoted values) places rows on the lines an editor shows."""
    breaks = breaks or {}
    snap = result.snapshot
    head = f"night {snap.seq} ({snap.taken_at:%Y-%m-%d}): " + summary_text(
        result.severity_counts(), spec.severity_records(result.findings)
    )
    causes = [
        (
            mask_cause(g.cause, redact),
            ", ".join(g.codes),
            g.count,
            g.severity,
            g.hint_for(mask_cause(g.cause, redact) or g.cause),
        )
        for g in result.groups
    ]
    # A finding of a root cause with its one hint is fixed by that hint (the table above):
    # its own would contradict it (cedar's re-keys: "restore T-1005/SCH-002" eight times
    # beside "do not restore records one by one").
    covered = {g.cause for g in result.groups if g.hint}
    hints = sorted(
        {(f.code, redacted(f, redact).hint) for f in result.findings if f.cause not in covered}
    )
    shown = [redacted(f, redact) for f in result.findings]
    groups = [
        (group, [redacted(f, redact) for f in result.findings if group.holds(f)])
        for group in finding_groups(result)
    ]
    download = csv_download_link(
        findings_csv(shown, {}, breaks), findings_filename(snap.district, snap.seq)
    )
    sections = "".join(
        f"<details><summary>{esc(_group_label(group.label, group.cause, redact))}"
        "</summary>"
        + html_table(
            ("severity", "code", "entity", "key", "field", "value", "line", "records", "message"),
            [
                (
                    f.severity,
                    f.code,
                    f.entity,
                    f.key if f.key else spec.samples_text(f.sample_keys, f.count) or None,
                    f.field,
                    f.value,
                    finding_line(f, breaks),
                    f.count,
                    f.message,
                )
                for f in found
            ],
            numeric=("line", "records"),
        )
        + "</details>"
        for group, found in groups
    )
    meaning = (
        "(what Clever serves, pulled from the Data API: each finding says what it means for "
        "the apps)"
        if snap.origin == API_ORIGIN
        else "(an error: Clever does not process the upload, skips rows, or may mislink "
        "records; each finding says which)"
    )
    page = (
        f"<p><b>{esc(head)}</b> {meaning} {download}</p>"
        + (
            "<h3>Root causes (fix these first)</h3>"
            + html_table(
                ("cause", "codes", "records broken", "severity", "what to do"),
                causes,
                numeric=("records broken",),
            )
            if causes
            else ""
        )
        + "<h3>Findings</h3>"
        + (sections or "<p>no findings</p>")
        + "<h3>What to do</h3>"
        + html_table(
            ("code", "hint"),
            hints,
            empty="the root causes above say it" if covered else "nothing to do",
        )
    )
    served = f" — in what Clever serves ({SERVED_REASON})" if snap.origin == API_ORIGIN else ""
    lines = [f"Findings: {snap.district} {head}{served}"]
    for cause, codes, records, _, hint in causes:
        lines.append(f"  cause {cause} breaks {plural(records, 'record')} ({codes})")
        if hint:
            lines.append(f"    what to do: {hint}")
    for group, found in groups:
        lines.append(f"  {group.label}")
        lines += [_finding_line(f, breaks) for f in found[:lines_per_group]]
        if len(found) > lines_per_group:
            lines.append(f"    … and {len(found) - lines_per_group:,} more (in the HTML and CSV)")
    return page, "\n".join(lines)


def flag_column(f: Finding) -> str:
    """The column a field flag is about (extension flags name it in ``value``)."""
    return f.field or f.value or ""


def flags_fragment(matrix: FieldMatrix, *, redact: bool = False) -> tuple[str, str]:
    """(HTML, text) of the field-customization flags (warnings and errors), night by night."""
    seq = {s.id: s.seq for s in matrix.snapshots}
    flags = [(seq[sid], redacted(f, redact)) for sid, f in matrix.flags if f.severity != "info"]
    page = html_table(
        ("night", "severity", "code", "entity", "field", "message", "hint"),
        [(n, f.severity, f.code, f.entity, flag_column(f), f.message, f.hint) for n, f in flags],
        numeric=("night",),
        empty="no field customization flags",
    )
    lines = [f"Field flags: {matrix.district}, {plural(len(flags), 'flag')}"]
    lines += [f"  night {n}: {f.code} {f.entity} {flag_column(f)}" for n, f in flags]
    return page, "\n".join(lines)
