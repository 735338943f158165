"""Signals that stop a command: the one place that turns them into an exit code.

Ctrl-C (SIGINT) raises KeyboardInterrupt, but Python runs a signal's handler only between
bytecodes, and a DuckDB query runs without returning to Python: it would run to its end (minutes)
and then fail as ``RuntimeError: Query interrupted``. :func:`watching` gives the interpreter's
C-level handler a wake-up pipe; a thread reading it calls the stop callback (the CLI's: interrupt
every open store's running query) at once, so the main thread unwinds through its cleanups
(transactions roll back, temporary folders go) within a second. The command then exits
``128 + signal number`` (130 for SIGINT) with one line, whatever exception the unwinding raised.

SIGTERM (a scheduler's timeout, ``kill``) and SIGHUP (a closed terminal) stop a command the same
way: while :func:`watching`, a Python handler sets ``watch.signal`` and raises KeyboardInterrupt
(as SIGINT's default handler does), so the cleanups that handle Ctrl-C handle them too — a zip's
unpacked files (student PII) leave the temporary folder, the store stays as it was, ``rosterlab
lab`` stops its JupyterLab server — and the
exit code is ``128 + N`` (143, 129). Their old handlers come back on the way out.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

STOPPING: frozenset[int] = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
RAISING = (signal.SIGTERM, signal.SIGHUP)  # their default ends the process without cleanups


class Watch:
    """What the watcher saw: the stopping signal received (None: none yet), and what to call
    when one comes. (A plain class: this module loads before anything else, so it stays light.)"""

    def __init__(self) -> None:
        self.signal: int | None = None
        self.on_stop: list[Callable[[], None]] = []

    @property
    def exit_code(self) -> int:
        return 128 + (self.signal or signal.SIGINT)

    def stopped(self, number: int) -> None:
        self.signal = number
        for callback in list(self.on_stop):
            callback()


@contextmanager
def watching(watch: Watch) -> Iterator[None]:
    """Watch for stopping signals while the block runs (only the main thread can).

    Set up and torn down so that a signal at any moment leaves no wake-up pipe installed.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    read_fd, write_fd = os.pipe()
    previous: int | None = None
    handlers: list[tuple[int, Any]] = []  # the handlers ours replaced
    thread = threading.Thread(
        target=_read_signals, args=(read_fd, watch), name="rosterlab-signals", daemon=True
    )

    def stop(number: int, _frame: object) -> None:
        watch.signal = number
        raise KeyboardInterrupt

    try:
        os.set_blocking(write_fd, False)
        thread.start()
        previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        for raising in RAISING:
            handlers.append((raising, signal.signal(raising, stop)))
        yield
    finally:
        for replaced, handler in reversed(handlers):
            signal.signal(replaced, handler)
        if previous is not None:
            signal.set_wakeup_fd(previous)
        os.close(write_fd)  # the thread reads end-of-file and ends
        try:
            thread.join()
        except RuntimeError:  # its start was itself interrupted: leave its end of the pipe
            pass
        else:
            os.close(read_fd)


def _read_signals(read_fd: int, watch: Watch) -> None:
    while data := os.read(read_fd, 64):
        for number in data:
            if number in STOPPING:
                watch.stopped(number)
