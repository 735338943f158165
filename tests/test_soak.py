"""The soak run, short and seeded: three notebook processes and a cron loop share one store.

``python -m tests.soak --nights 60 --minutes 10 --students 2000`` is the long run whose numbers
are in docs/reliability.md; this is the same code with 8 nights of 300 students, back to back.
"""

from __future__ import annotations

from pathlib import Path

from tests.soak import soak


def test_notebooks_and_nightly_ingests_never_fail_each_other(tmp_path: Path) -> None:
    summary = soak(tmp_path, nights=8, students=300, readers=3, minutes=0, seed=17)

    assert (summary["ingested"], summary["failed_ingests"], summary["reader_errors"]) == (8, [], [])
    assert summary["worst_writer_wait"] == 0.0  # the notebooks never held the store file
    assert summary["doctor"][0] == 0, summary["doctor"]
    for observed, states in zip(summary["observations"], summary["states_seen"], strict=True):
        assert observed > 0
        assert states == sorted(set(states)) and states[-1] == 8  # refreshed up to the last night
        assert len(states) >= 2, states  # and saw nights arrive while it was open
