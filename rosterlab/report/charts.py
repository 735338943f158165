"""Charts where people would rather look than read, rendered offline to PNG with matplotlib.

A :class:`Chart` shows as an image in JupyterLab and is inlined as a ``data:`` URI in the HTML
report, so neither needs a network. Its text is a deterministic summary of the numbers drawn
(nbval compares it; the HTML report uses it as the image's alt text). Same data, same bytes.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from rosterlab import spec
from rosterlab.checks import FieldMatrix
from rosterlab.diff import DiffResult, HoldReason
from rosterlab.spec import plural
from rosterlab.store import Store

PALETTE = {
    "added": "#2da44e",
    "removed": "#cf222e",
    "changed": "#54aeff",
    "line": "#0969da",
    "hold": "#cf222e",
    "expected": "#bf8700",
    "absent": "#d0d7de",
    "muted": "#8c959f",
}


@dataclass(frozen=True)
class Chart:
    """A rendered chart: PNG bytes plus the text summary of what it shows."""

    title: str
    png: bytes
    summary: str

    def __repr__(self) -> str:
        return self.summary

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {
            "image/png": base64.b64encode(self.png).decode("ascii"),
            "text/plain": self.summary,
        }


def _render(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    # No Software/date metadata: the same data gives the same bytes.
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    fig.patch.set_facecolor("white")
    return fig


def counts_per_night(store: Store, district: str) -> pl.DataFrame:
    """Rows per entity per night of a district: ``seq, night (date), entity, rows``."""
    return store.query(
        "SELECT s.seq, s.taken_at::DATE AS night, e.entity, e.rows "
        "FROM snapshot_entities e JOIN snapshots s ON s.id = e.snapshot_id "
        "WHERE s.district = ? ORDER BY s.seq, e.entity",
        [district],
    )


def _entities_present(frame: pl.DataFrame) -> list[str]:
    """Entities with any rows, in spec order."""
    seen = set(frame.filter(pl.col("rows") > 0)["entity"].to_list())
    return [e for e in spec.ENTITIES if e in seen]


def record_counts_chart(
    counts: pl.DataFrame, district: str, not_processed: Collection[int] = ()
) -> Chart:
    """Small multiples: one panel per entity, records per night. A night Clever did not
    process (``not_processed``: its numbers) is a hollow grey point off the line: what it sent
    never replaced what Clever served, so the line does not drop to it."""
    fig, summary = record_counts_figure(counts, district, not_processed)
    nights = sorted(set(counts["seq"].to_list()))
    span = f"nights {nights[0]}–{nights[-1]}" if nights else "no nights"
    skipped = sorted(set(not_processed) & set(nights))
    return Chart(
        title=f"Records per night — {district}",
        png=_render(fig),
        summary=f"Chart: records per night, {district}, {span}: "
        + ", ".join(summary)
        + (
            f"; not processed by Clever: night {', '.join(map(str, skipped))} (off the line: "
            "Clever kept serving the night before)"
            if skipped
            else ""
        ),
    )


def record_counts_figure(
    counts: pl.DataFrame, district: str, not_processed: Collection[int] = ()
) -> tuple[Figure, list[str]]:
    """The records-per-night figure and its per-entity ``students 240→120`` summaries."""
    entities = _entities_present(counts)
    nights = sorted(set(counts["seq"].to_list()))
    columns = 4
    rows = max(1, -(-len(entities) // columns))
    fig = _figure(11, 2.3 * rows + 0.6)
    title = f"Records per night — {district}"
    if set(not_processed) & set(nights):
        title += " (hollow grey: a night Clever did not process)"
    fig.suptitle(title, fontsize=12, x=0.01, ha="left")
    summary: list[str] = []
    for i, entity in enumerate(entities):
        ax = fig.add_subplot(rows, columns, i + 1)
        series = counts.filter(pl.col("entity") == entity).sort("seq")
        applied = series.filter(~pl.col("seq").is_in(list(not_processed)))
        ax.plot(
            applied["seq"].to_list(),
            applied["rows"].to_list(),
            marker="o",
            ms=3.5,
            color=PALETTE["line"],
        )
        held_back = series.filter(pl.col("seq").is_in(list(not_processed)))
        if held_back.height:
            ax.plot(
                held_back["seq"].to_list(),
                held_back["rows"].to_list(),
                linestyle="none",
                marker="o",
                ms=4.5,
                markerfacecolor="white",
                markeredgecolor=PALETTE["muted"],
                clip_on=False,
            )
        ax.set_title(entity, fontsize=10, loc="left")
        ax.set_xticks(nights)
        ax.tick_params(labelsize=8)
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        values = series["rows"].to_list()
        summary.append(f"{entity} {values[0]:,}→{values[-1]:,}" if values else f"{entity} -")
    fig.supxlabel("night", fontsize=9)
    return fig, summary


def churn_frame(results: Sequence[DiffResult]) -> pl.DataFrame:
    """Added / removed / changed records per entity per ``to`` night, from consecutive diffs.

    A night Clever does not process changes nothing: its counts are 0.
    """
    applied = {r.to_snapshot.seq: not r.not_processed for r in results}
    return pl.DataFrame(
        [
            {
                "seq": r.to_snapshot.seq,
                "entity": e.entity,
                "added": e.added if applied[r.to_snapshot.seq] else 0,
                "removed": e.removed if applied[r.to_snapshot.seq] else 0,
                "changed": e.changed if applied[r.to_snapshot.seq] else 0,
            }
            for r in results
            for e in r.entities
        ],
        schema={
            "seq": pl.Int64,
            "entity": pl.String,
            "added": pl.Int64,
            "removed": pl.Int64,
            "changed": pl.Int64,
        },
    )


def _hold_label(reason: HoldReason) -> str:
    return f"{reason.entity} {reason.kind}" + (" (expected)" if reason.expected else "")


def churn_chart(results: Sequence[DiffResult], district: str) -> Chart:
    """Per entity: records added, removed and changed each night; predicted holds marked."""
    nights = [r.to_snapshot.seq for r in results]
    held = [
        f"night {r.to_snapshot.seq} ({', '.join(_hold_label(h) for h in r.hold_reasons)})"
        for r in results
        if r.hold_reasons
    ]
    span = f"nights {nights[0]}–{nights[-1]}" if nights else "no nights"
    skipped = [str(r.to_snapshot.seq) for r in results if r.not_processed]
    return Chart(
        title=f"Churn per night — {district}",
        png=_render(churn_figure(results, district)),
        summary=f"Chart: churn per night, {district}, {span}; holds predicted: "
        + ("; ".join(held) if held else "none")
        + (f"; not processed by Clever: night {', '.join(skipped)}" if skipped else ""),
    )


def churn_figure(results: Sequence[DiffResult], district: str) -> Figure:
    """The churn figure: its legend above the panels, where it hides no bar or hold mark; a
    night Clever did not process is labelled so in every panel (its empty column is not a
    quiet night)."""
    frame = churn_frame(results)
    touched = set(
        frame.filter(pl.col("added") + pl.col("removed") + pl.col("changed") > 0)["entity"]
    )
    entities = [e for e in spec.ENTITIES if e in touched]
    nights = [r.to_snapshot.seq for r in results]
    skipped = [r.to_snapshot.seq for r in results if r.not_processed]
    holds = {(r.to_snapshot.seq, h.entity): h for r in results for h in r.hold_reasons}
    columns = 4
    rows = max(1, -(-len(entities) // columns))
    fig = _figure(11, 2.4 * rows + 1.0)
    fig.suptitle(
        f"Churn per night — {district} (red: Clever hold predicted; amber: expected hold)",
        fontsize=12,
        x=0.01,
        ha="left",
    )
    for i, entity in enumerate(entities):
        ax = fig.add_subplot(rows, columns, i + 1)
        series = frame.filter(pl.col("entity") == entity).sort("seq")
        x = series["seq"].to_list()
        bottom = [0] * len(x)
        for kind in ("added", "removed", "changed"):
            values = series[kind].to_list()
            ax.bar(x, values, bottom=bottom, color=PALETTE[kind], label=kind, width=0.7)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        top = max(bottom, default=0) or 1
        for seq, total in zip(x, bottom, strict=True):
            hold = holds.get((seq, entity))
            if hold is not None:
                colour = PALETTE["expected"] if hold.expected else PALETTE["hold"]
                ax.annotate(
                    "hold",
                    (seq, total),
                    xytext=(0, 2),
                    textcoords="offset points",
                    ha="center",
                    fontsize=8,
                    color=colour,
                    fontweight="bold",
                )
                ax.bar([seq], [total], width=0.7, fill=False, edgecolor=colour, linewidth=1.6)
        for seq in skipped:
            ax.annotate(
                "not processed",
                (seq, 0),
                xytext=(0, 3),
                textcoords="offset points",
                rotation=90,
                ha="center",
                va="bottom",
                fontsize=7,
                color=PALETTE["muted"],
            )
        ax.set_ylim(0, top * 1.18)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(entity, fontsize=10, loc="left")
        ax.set_xticks(nights)
        ax.tick_params(labelsize=8)
        ax.grid(axis="y", alpha=0.3)
        if i == 0:
            fig.legend(*ax.get_legend_handles_labels(), loc="outside upper right", ncols=3,
                       fontsize=8, frameon=False)  # fmt: skip
    fig.supxlabel("night", fontsize=9)
    return fig


def fill_rate_heatmap(matrix: FieldMatrix) -> Chart:
    """Field × night fill rates: absent columns grey, flagged cells marked with a red ring."""
    rows = matrix.fields
    nights = [s.seq for s in matrix.snapshots]
    grid = np.full((len(rows), len(nights)), np.nan)
    for i, row in enumerate(rows):
        for j, rate in enumerate(row.fill_rate):
            if row.present[j]:
                grid[i, j] = rate if rate is not None else 0.0
    column = {s.id: j for j, s in enumerate(matrix.snapshots)}
    index = {(r.entity, r.field): i for i, r in enumerate(rows)}
    flagged = sorted(
        {
            (index[key], column[snapshot_id])
            for snapshot_id, f in matrix.flags
            if f.severity != "info" and (key := (f.entity or "", f.field or f.value or "")) in index
        }
    )
    fig = _figure(7.5, 0.16 * len(rows) + 1.4)
    ax = fig.add_subplot(1, 1, 1)
    cmap = colormaps["YlGnBu"].with_extremes(bad=PALETTE["absent"])
    image = ax.imshow(
        np.ma.masked_invalid(grid),
        aspect="auto",
        cmap=cmap,
        vmin=0,
        vmax=1,
        interpolation="nearest",
    )
    if flagged:
        ax.scatter(
            [j for _, j in flagged],
            [i for i, _ in flagged],
            s=60,
            facecolors="none",
            edgecolors=PALETTE["hold"],
            linewidths=1.4,
        )
    ax.set_xticks(range(len(nights)), [str(n) for n in nights], fontsize=8)
    ax.set_yticks(range(len(rows)), [f"{r.file} · {r.field}" for r in rows], fontsize=6.5)
    ax.set_xlabel("night", fontsize=9)
    ax.set_title(
        f"Fill rate per field and night — {matrix.district} (grey: column absent; ring: flagged)",
        fontsize=10,
        loc="left",
    )
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, label="fill rate")
    absent = sum(1 for r in rows if not all(r.present))
    return Chart(
        title=f"Fill rate per field and night — {matrix.district}",
        png=_render(fig),
        summary=(
            f"Chart: fill rate per field and night, {matrix.district}, {len(rows)} fields × "
            f"{len(nights)} nights; {plural(absent, 'field')} absent on some night; "
            f"{plural(len(flagged), 'flagged cell')}"
        ),
    )
