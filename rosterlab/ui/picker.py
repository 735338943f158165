"""The snapshot picker: a district and a from/to night, the input of the diff-based widgets."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ipywidgets as widgets

from rosterlab.config import DistrictSettings
from rosterlab.diff import LIVE, HoldThresholds, NoLiveStateError, live_from
from rosterlab.report.diff import night_text
from rosterlab.store import SnapshotInfo, Store
from rosterlab.store.outcomes import PROCESSED, outcomes
from rosterlab.ui.base import Panel
from rosterlab.ui.session import NightRef, Workbench

# wide enough for "night 12 · 2026-09-12 (#1234) · not processed"
NIGHT_BOX = {"width": "400px"}


def night_label(snap: SnapshotInfo, outcome: str = PROCESSED) -> str:
    """``night 7 · 2026-09-07 (#15) · not processed``: what Clever did with a night, unless
    it processed it, so that no held or unprocessed night is picked as an ordinary one."""
    said = "" if outcome == PROCESSED else f" · {outcome.replace('-', ' ')}"
    return f"night {snap.seq} · {snap.taken_at:%Y-%m-%d} (#{snap.id}){said}"


def night_options(store: Store, district: str) -> list[tuple[str, int]]:
    """A night dropdown's options: each night's label and snapshot id."""
    done = outcomes(store, district)
    return [(night_label(s, done[s.id].outcome), s.id) for s in store.snapshots(district)]


class SnapshotPicker(Panel):
    """District, from-night and to-night dropdowns; ``on_change`` callbacks get no arguments.

    The from-night is chosen as ``diff`` chooses it: by default (and whenever the to-night
    moves) the state Clever served when the to-night arrived, ``live``; when ``diff`` would
    refuse that default (a district's first pull), ``refused`` says why in its words."""

    def __init__(self, bench: Workbench, nights: Sequence[NightRef] | None = None) -> None:
        self.bench = bench
        self._callbacks: list[Callable[[], None]] = []
        self._quiet = False
        self.refused: str | None = None
        self.district_box = widgets.Dropdown(
            description="district", options=bench.store.districts(), value=bench.district
        )
        self.from_box = widgets.Dropdown(description="from", layout=NIGHT_BOX)
        self.to_box = widgets.Dropdown(description="to", layout=NIGHT_BOX)
        self.refresh_button = widgets.Button(
            description="refresh", tooltip="see the nights ingested since the store was opened"
        )
        self.refresh_note = widgets.Label()
        self._fill(bench.district, nights)
        self.district_box.observe(self._district_changed, "value")
        self.from_box.observe(self._from_changed, "value")
        self.to_box.observe(self._to_changed, "value")
        self.refresh_button.on_click(lambda _: self.refresh())
        super().__init__(
            [
                widgets.HBox(
                    [
                        self.district_box,
                        self.from_box,
                        self.to_box,
                        self.refresh_button,
                        self.refresh_note,
                    ]
                )
            ]
        )

    # --- state -----------------------------------------------------------------------------
    @property
    def district(self) -> str:
        return str(self.district_box.value)

    @property
    def snapshots(self) -> list[SnapshotInfo]:
        return self.bench.store.snapshots(self.district)

    @property
    def pair(self) -> tuple[SnapshotInfo, SnapshotInfo]:
        """The chosen (from, to) snapshots."""
        store = self.bench.store
        return store.snapshot(int(self.from_box.value)), store.snapshot(int(self.to_box.value))

    @property
    def settings(self) -> DistrictSettings:
        if self.district == self.bench.district:
            return self.bench.settings
        return self.bench.config.district(self.district)

    @property
    def thresholds(self) -> HoldThresholds:
        return HoldThresholds.of(self.settings)

    def on_change(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    def refresh(self) -> None:
        """Reopen the store (``bench.refresh()``) and move to its last two nights."""
        self.refresh_note.value = self.bench.refresh()
        self._fill(self.district, None)
        self._notify()

    # --- handlers --------------------------------------------------------------------------
    def _fill(self, district: str, nights: Sequence[NightRef] | None) -> None:
        history = self.bench.store.snapshots(district)
        options = night_options(self.bench.store, district)
        self.refused = None
        if len(history) >= 2:
            refs = tuple(nights) if nights is not None else (LIVE, "latest")
            new = self.bench.store.resolve(refs[1], district)
            old = self._from_for(new, refs[0])
        else:
            old = new = history[-1]
        self._quiet = True
        try:
            self.from_box.options = options
            self.to_box.options = options
            self.from_box.value = old.id
            self.to_box.value = new.id
        finally:
            self._quiet = False

    def _district_changed(self, _: object) -> None:
        self._fill(self.district, None)
        self._notify()

    def _from_for(self, new: SnapshotInfo, ref: NightRef) -> SnapshotInfo:
        """The from-night of ``ref`` (previous: the night before ``new``); ``live`` refused
        is ``new`` itself: nothing compared (``refused`` says why) until a night is picked."""
        store = self.bench.store
        if ref != LIVE:
            return store.resolve_from(ref, new)
        try:
            return live_from(store, new)
        except NoLiveStateError as exc:
            self.refused = self._refusal(exc)
            return new

    def _refusal(self, exc: NoLiveStateError) -> str:
        """``diff``'s refusal in the widget's words: a night to pick in "from", no flags."""
        to = exc.to
        before = [s for s in self.bench.store.snapshots(to.district) if s.seq < to.seq]
        kind = "upload" if exc.first_pull else "night"
        pick = (
            f'pick the {kind} before it, {night_text(before[-1])}, in "from"'
            if before
            else 'pick a night in "from"'
        )
        if exc.first_pull:
            return (
                f"{night_text(to)} is {to.district}'s first pull from the Data API, and the state "
                f"before a pull is the previous pull: {pick}, or compare it with an upload in "
                "the reconcile view (ui.ReconcileView)"
            )
        return f"{night_text(to)} has no processed upload before it to compare with: {pick}"

    def _from_changed(self, _: object) -> None:
        if not self._quiet:
            self.refused = None  # a night picked by hand, as diff --from N
            self._notify()

    def _to_changed(self, _: object) -> None:
        if self._quiet:
            return
        self.refused = None
        old = self._from_for(self.bench.store.snapshot(int(self.to_box.value)), LIVE)
        self._quiet = True
        try:
            self.from_box.value = old.id
        finally:
            self._quiet = False
        self._notify()

    def _notify(self) -> None:
        for callback in self._callbacks:
            callback()

    def __repr__(self) -> str:
        old, new = self.pair
        return (
            f"SnapshotPicker: district {self.district}, {night_text(old)} → {night_text(new)} "
            f"({len(self.snapshots)} snapshots)"
        )
