"""What every rosterlab widget shares: a full text repr, HTML in the scoped stylesheet, a pager.

nbval compares a widget's ``text/plain`` output, so each widget's ``__repr__`` says what it shows
(deterministically); ipywidgets would cut it at 110 characters, :class:`Panel` does not.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from rosterlab.report.html import WIDGET_STYLE

PAGE_SIZE = 25


def html_box(content: str = "") -> widgets.HTML:
    """An HTML widget whose content sits inside the scoped stylesheet."""
    return widgets.HTML(value=wrap(content))


def wrap(content: str) -> str:
    return f'{WIDGET_STYLE}<div class="rl">{content}</div>'


class Panel(widgets.VBox):
    """A widget that shows its full ``__repr__`` as its text output (nbval compares it)."""

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is not None:
            bundle["text/plain"] = repr(self)
        return bundle


class Pager(widgets.HBox):
    """Previous / next buttons and a "rows a–b of n" label for a table served a page at a time
    (``rows`` names what a row is where a count beside it counts something else)."""

    def __init__(self, on_page: Any, page_size: int = PAGE_SIZE, rows: str = "rows") -> None:
        self.page_size = page_size
        self.rows = rows
        self.offset = 0
        self.total = 0
        self._on_page = on_page
        self.previous = widgets.Button(description="◀ previous", layout={"width": "110px"})
        self.next = widgets.Button(description="next ▶", layout={"width": "110px"})
        self.label = widgets.Label()
        self.previous.on_click(lambda _: self.go(self.offset - self.page_size))
        self.next.on_click(lambda _: self.go(self.offset + self.page_size))
        super().__init__([self.previous, self.label, self.next])

    def reset(self, total: int) -> None:
        self.total = total
        self.offset = 0
        self._update()

    def go(self, offset: int) -> None:
        last = max(0, (self.total - 1) // self.page_size * self.page_size)
        self.offset = min(max(0, offset), last)
        self._update()
        self._on_page()

    def describe(self) -> str:
        if not self.total:
            return f"no {self.rows}"
        end = min(self.offset + self.page_size, self.total)
        return f"{self.rows} {self.offset + 1:,}–{end:,} of {self.total:,}"

    def _update(self) -> None:
        self.label.value = self.describe()
        self.previous.disabled = self.offset == 0
        self.next.disabled = self.offset + self.page_size >= self.total
