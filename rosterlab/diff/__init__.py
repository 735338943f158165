"""Snapshot diff, re-key detection, hold prediction and record timelines, from the history store.

>>> result = diff_snapshots(store, "maple")               # previous → latest
>>> history_findings(result, "sftp")                      # hold-*, term-rollover, id-rekeyed
>>> record_timeline(store, "maple", "students", "S-100017")
"""

from rosterlab.diff.hold import history_findings, hold_reasons
from rosterlab.diff.model import (
    CHANGE_COLUMNS,
    DiffResult,
    Duplicate,
    EntityDiff,
    HoldReason,
    HoldThresholds,
    Rekey,
    TermRollover,
    Timeline,
    TimelineEvent,
)
from rosterlab.diff.rekey import NATURAL_KEYS, NaturalKey
from rosterlab.diff.snapshots import LIVE, NoLiveStateError, diff_snapshots, live_from
from rosterlab.diff.timeline import record_timeline

__all__ = [
    "CHANGE_COLUMNS",
    "LIVE",
    "NATURAL_KEYS",
    "DiffResult",
    "Duplicate",
    "EntityDiff",
    "HoldReason",
    "HoldThresholds",
    "NaturalKey",
    "NoLiveStateError",
    "Rekey",
    "TermRollover",
    "Timeline",
    "TimelineEvent",
    "diff_snapshots",
    "history_findings",
    "hold_reasons",
    "live_from",
    "record_timeline",
]
