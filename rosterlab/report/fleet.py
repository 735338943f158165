"""Renderers for ``rosterlab fleet status``: text, a JSON-ready dict, one self-contained HTML page.

Text and HTML list the grid rows and error trends that need a look (a district with any night
not processed, any error); the JSON dict has every district. Everything a district's files or
its failure can carry (ids, reasons) is escaped: ``shown`` in text, ``html.escape`` in HTML.
"""

from __future__ import annotations

import html
from datetime import date
from typing import Any

from rosterlab import spec
from rosterlab.report.diff import RATIO_DIGITS
from rosterlab.report.html import PAGE_STYLE
from rosterlab.report.text import shown
from rosterlab.store.fleet_results import ApiPullNight, ErrorTrend, FleetStatus
from rosterlab.store.outcomes import PROCESSED, SERVED

NO_RESULT = "—"
OUTCOME_STYLE = """
td.processed, td.served { color: #1a7f37; }
td.held { background: #fff8c5; }
td.not-processed, td.failed { background: #ffebe9; font-weight: 600; }
td.no-upload { color: #656d76; font-style: italic; }
"""


def status_dict(status: FleetStatus) -> dict[str, Any]:
    """The JSON contract of ``fleet status --format json`` (docs/cli.md)."""
    return {
        "root": status.root,
        "night": status.night.isoformat(),
        "nights": [n.isoformat() for n in status.nights],
        "districts": status.configured,
        "tonight": dict(status.tonight),
        "not_run": list(status.not_run),
        "unconfigured": list(status.unconfigured),
        "call_first": [
            {"rank": c.rank, "district": c.district, "tier": c.tier, "why": c.why}
            for c in status.call_first
        ],
        "holds": [
            {
                "district": h.district,
                "entity": h.entity,
                "kind": h.kind,
                "count": h.count,
                "base": h.base,
                "ratio": round(h.ratio, RATIO_DIGITS),  # as diff's JSON says it
                "threshold": h.threshold,
            }
            for h in status.holds
        ],
        "grid": [
            {"district": d, "outcomes": list(row)}
            for d, row in zip(status.districts, status.grid, strict=True)
        ],
        "trends": [
            {"district": t.district, "errors": list(t.errors), "climbing": t.climbing}
            for t in status.trends
        ],
        "api_pulls": [
            {
                "district": p.district,
                "snapshot_id": p.snapshot_id,
                "unchanged": p.unchanged,
                "pulled_by": p.pulled_by,
                "pages_fetched": p.pages,
                "events_applied_to": p.events_applied_to,
                "events_not_applied": p.events_not_applied,
            }
            for p in status.api_pulls
        ],
    }


def pulled_text(
    snapshot_id: int | None,
    unchanged: bool,
    by: str,
    pages: int,
    applied_to: int | None,
    not_applied: str | None,
) -> str:
    """How a Data API district's night was pulled, in one line (``fleet run`` and ``fleet
    status`` say it alike): the snapshot it made, or unchanged (the served data is the newest
    snapshot's: no new night), then by events (applied to which snapshot, how many pages) or
    by a full pull and why the events were not applied."""
    if by == "events":
        how = f"by events: {spec.plural(pages, 'event page')} applied to snapshot {applied_to}"
    else:
        why = f"; events not applied: {not_applied}" if not_applied else ""
        how = f"by a full pull of {spec.plural(pages, 'page')}{why}"
    if unchanged:
        return f"unchanged, the served data is snapshot {snapshot_id}'s ({how})"
    return f"snapshot {snapshot_id} {how}"


def _pulled(pull: ApiPullNight) -> str:
    return pulled_text(
        pull.snapshot_id,
        pull.unchanged,
        pull.pulled_by,
        pull.pages,
        pull.events_applied_to,
        pull.events_not_applied,
    )


def _day(night: date) -> str:
    return night.strftime("%m-%d")


def _attention(status: FleetStatus) -> list[tuple[str, tuple[str | None, ...]]]:
    """Grid rows with any night not processed (no result counts as not processed; a Data API
    district's pull is served, as good as processed)."""
    return [
        (d, row)
        for d, row in zip(status.districts, status.grid, strict=True)
        if any(cell not in (PROCESSED, SERVED) for cell in row)
    ]


def _with_errors(status: FleetStatus) -> list[ErrorTrend]:
    """Trends with any error, climbing ones first, then most errors tonight."""
    trends = [t for t in status.trends if any(e for e in t.errors)]
    return sorted(trends, key=lambda t: (not t.climbing, -(t.errors[-1] or 0), t.district))


def headline_text(status: FleetStatus) -> str:
    counts = [f"{n:,} {outcome}" for outcome, n in status.tonight if n]
    if status.not_run:
        counts.append(f"{len(status.not_run):,} not run")
    tonight = " · ".join(counts)
    return (
        f"fleet status for {status.night.isoformat()}: "
        f"{spec.plural(status.configured, 'district')} "
        f"({tonight or 'no results tonight'}){shown(_unconfigured(status))}"
    )


def _unconfigured(status: FleetStatus) -> str:
    """The districts whose results are shown though the fleet no longer has them ("" if none)."""
    if not status.unconfigured:
        return ""
    return (
        f"; results shown also of {spec.plural(len(status.unconfigured), 'district')} no "
        f"longer in the fleet's config: {', '.join(status.unconfigured)}"
    )


def not_run_text(status: FleetStatus) -> str:
    """The districts without a result tonight and the command that runs them ("" if none)."""
    if not status.not_run:
        return ""
    return (
        f"not run tonight ({len(status.not_run):,}: the run was stopped or has not reached "
        f"them): {', '.join(status.not_run)}; `rosterlab fleet run --night "
        f"{status.night.isoformat()}` runs them (a district done is not run again)"
    )


def _nobody(status: FleetStatus) -> str:
    if status.not_run:
        return "nobody among the districts with a result tonight"
    return "nobody: every district was processed tonight without skipped rows"


def call_first_text(status: FleetStatus) -> str:
    width = max((len(c.district) for c in status.call_first), default=0)
    lines = [
        f"  {c.rank:>2}. {shown(c.district):<{width}}  {c.tier:<15}  {shown(c.why)}"
        for c in status.call_first
    ] or [f"  {_nobody(status)}"]
    told = not_run_text(status)
    return "\n".join(["call first:", *lines, *([f"  {shown(told)}"] if told else [])])


def holds_text(status: FleetStatus) -> str:
    lines = [
        f"  {shown(h.district)}  {h.entity} {h.kind}: {h.count:,} of {h.base:,} "
        f"({h.ratio:.1%}, threshold {h.threshold:.0%})"
        for h in status.holds
    ] or ["  none"]
    return "\n".join(["predicted holds tonight:", *lines])


def grid_text(status: FleetStatus) -> str:
    rows = _attention(status)
    width = max([len("district"), *(len(d) for d, _ in rows)])
    lines = [f"outcomes, {status.nights[0]} to {status.nights[-1]}:"]
    if rows:
        days = "".join(f"  {_day(n):<13}" for n in status.nights)
        lines.append(f"  {'district':<{width}}{days}".rstrip())
        lines += [
            f"  {shown(d):<{width}}" + "".join(f"  {c or NO_RESULT:<13}" for c in row).rstrip()
            for d, row in rows
        ]
    clean = len(status.districts) - len(rows)
    lines.append(f"  {clean:,} district{'' if clean == 1 else 's'} processed every night shown")
    return "\n".join(lines)


def trends_text(status: FleetStatus) -> str:
    trends = _with_errors(status)
    lines = ["errors per night (districts with any):"]
    if not trends:
        return "\n".join([*lines, "  none"])
    width = max([len("district"), *(len(t.district) for t in trends)])
    lines.append(f"  {'district':<{width}}" + "".join(f"  {_day(n):>5}" for n in status.nights))
    lines += [
        f"  {shown(t.district):<{width}}"
        + "".join(f"  {NO_RESULT if e is None else f'{e:,}':>5}" for e in t.errors)
        + ("  climbing" if t.climbing else "")
        for t in trends
    ]
    return "\n".join(lines)


def api_pulls_text(status: FleetStatus) -> str:
    """How each Data API district's night was pulled."""
    width = max((len(p.district) for p in status.api_pulls), default=0)
    lines = [f"  {shown(p.district):<{width}}  {shown(_pulled(p))}" for p in status.api_pulls] or [
        "  none"
    ]
    return "\n".join(["pulled from the Data API tonight:", *lines])


def status_text(status: FleetStatus) -> str:
    """Every view; the Data API pulls when the fleet pulled any tonight."""
    pulls = (api_pulls_text,) if status.api_pulls else ()
    parts = (headline_text, call_first_text, holds_text, *pulls, grid_text, trends_text)
    return "\n\n".join(part(status) for part in parts)


def _cell(value: Any, css: str = "") -> str:
    text = NO_RESULT if value is None else value if isinstance(value, str) else f"{value:,}"
    attribute = f' class="{html.escape(css, quote=True)}"' if css else ""
    return f"<td{attribute}>{html.escape(text)}</td>"


def _row(*cells: str) -> str:
    return "<tr>" + "".join(cells) + "</tr>"


def _table(header: list[str], rows: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def tonight_html(status: FleetStatus) -> str:
    return _table(
        [outcome for outcome, _ in status.tonight],
        [_row(*(_cell(n, "num") for _, n in status.tonight))],
    )


def call_first_html(status: FleetStatus) -> str:
    told = not_run_text(status)
    not_run = f'<p class="not-processed">{html.escape(told)}</p>' if told else ""
    if not status.call_first and not told:
        return '<p class="muted">Nobody: every district was processed tonight.</p>'
    if not status.call_first:
        return f'<p class="muted">Nobody among the districts with a result tonight.</p>{not_run}'
    return (
        _table(
            ["#", "district", "tier", "why"],
            [
                _row(_cell(c.rank, "num"), _cell(c.district), _cell(c.tier, c.tier), _cell(c.why))
                for c in status.call_first
            ],
        )
        + not_run
    )


def holds_html(status: FleetStatus) -> str:
    if not status.holds:
        return '<p class="muted">None.</p>'
    return _table(
        ["district", "entity", "kind", "count", "base", "ratio", "threshold"],
        [
            _row(
                _cell(h.district),
                _cell(h.entity),
                _cell(h.kind),
                _cell(h.count, "num"),
                _cell(h.base, "num"),
                _cell(f"{h.ratio:.1%}", "num"),
                _cell(f"{h.threshold:.0%}", "num"),
            )
            for h in status.holds
        ],
    )


def grid_html(status: FleetStatus) -> str:
    """Every district (the page is for reading, not for a terminal)."""
    return _table(
        ["district", *(n.isoformat() for n in status.nights)],
        [
            _row(_cell(d), *(_cell(c, c or "") for c in row))
            for d, row in zip(status.districts, status.grid, strict=True)
        ],
    )


def trends_html(status: FleetStatus) -> str:
    trends = _with_errors(status)
    if not trends:
        return '<p class="muted">No errors on any night shown.</p>'
    return _table(
        ["district", *(n.isoformat() for n in status.nights), "trend"],
        [
            _row(
                _cell(t.district),
                *(_cell(e, "num") for e in t.errors),
                _cell("climbing" if t.climbing else "", "hold" if t.climbing else ""),
            )
            for t in trends
        ],
    )


def api_pulls_html(status: FleetStatus) -> str:
    if not status.api_pulls:
        return '<p class="muted">None.</p>'
    return _table(
        ["district", "pulled"],
        [_row(_cell(p.district), _cell(_pulled(p))) for p in status.api_pulls],
    )


def status_html(status: FleetStatus) -> str:
    """One self-contained page (inline style, no scripts); every value escaped."""
    title = f"rosterlab fleet status — {status.night.isoformat()}"
    parts = [
        f"<p>{spec.plural(status.configured, 'district')}; nights {status.nights[0]} to "
        f"{status.nights[-1]}{html.escape(_unconfigured(status))}.</p>",
        "<h2>Tonight</h2>",
        tonight_html(status),
        "<h2>Call first</h2>",
        call_first_html(status),
        "<h2>Predicted holds tonight</h2>",
        holds_html(status),
        *(
            ["<h2>Pulled from the Data API tonight</h2>", api_pulls_html(status)]
            if status.api_pulls
            else []
        ),
        "<h2>Outcomes</h2>",
        grid_html(status),
        "<h2>Errors per night</h2>",
        trends_html(status),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}{OUTCOME_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>\n" + "\n".join(parts) + "\n</body></html>\n"
    )
