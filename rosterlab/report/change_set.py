"""A change set as a CSV a support engineer can hand over: one row per record.

``diff --entity students --change removed --format csv`` lists, say, the 120 students a
truncated night dropped: entity, key, change, what changed (for a changed record), then the
record's fields in spec order (a removed record's last values, an added or changed one's new).
Values from files are spreadsheet-safe; ``redact`` masks personal data as the diff does.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from rosterlab import spec
from rosterlab.report.diff import mask_key, mask_value
from rosterlab.report.findings_csv import spreadsheet_safe

CHANGE_SET_LEAD = ("entity", "key", "change", "changed_fields")


def selected_changes(
    changes: Iterable[Mapping[str, Any]], entities: Collection[str], kinds: Collection[str]
) -> list[Mapping[str, Any]]:
    """The tidy changes of the chosen entities and kinds (empty collections: all)."""
    return [
        c
        for c in changes
        if (not entities or c["entity"] in entities) and (not kinds or c["change"] in kinds)
    ]


def change_set_csv(changes: Iterable[Mapping[str, Any]], *, redact: bool = False) -> str:
    """CSV text (CRLF rows) of the records in tidy ``changes`` (entity, key, change, field,
    old, new rows, in the diff's order)."""
    records: dict[tuple[str, str, str], dict[str, str | None]] = {}
    changed: dict[tuple[str, str, str], list[str]] = {}
    fields: dict[str, None] = {}
    for c in changes:
        entity, field = c["entity"], c["field"]
        ident = (entity, mask_key(entity, c["key"], redact), c["change"])
        old = mask_value(entity, field, c["old"], redact)
        new = mask_value(entity, field, c["new"], redact)
        records.setdefault(ident, {})[field] = old if c["change"] == "removed" else new
        fields.setdefault(field, None)
        if c["change"] == "changed":
            changed.setdefault(ident, []).append(f"{field}: {old or ''} → {new or ''}")
    order = {name: i for e in spec.ENTITIES.values() for i, name in enumerate(e.columns)}
    columns = sorted(fields, key=lambda name: (order.get(name, len(order)), name))
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow([*CHANGE_SET_LEAD, *columns])
    for ident, values in records.items():
        cells = [*ident, "; ".join(changed.get(ident, [])), *(values.get(c) for c in columns)]
        writer.writerow(["" if cell is None else spreadsheet_safe(cell) for cell in cells])
    return stream.getvalue()
