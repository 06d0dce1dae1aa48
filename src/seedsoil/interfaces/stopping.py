"""Stopping a run on a signal at a safe point: SIGINT and SIGTERM set a flag that the run loops
(simulation, waiting for workers, merging parts) look at, instead of an exception raised inside
library code, so cancelling, ending the workers and keeping the finished parts always complete."""

from __future__ import annotations

import signal
import threading


class Interrupted(Exception):
    """The run was asked to stop (SIGINT or SIGTERM through :func:`stop_on_signals`)."""


_STOP = threading.Event()
POLL_S = 0.2
"""How often a waiting run looks whether it was asked to stop (seconds)."""


def stop_on_signals() -> None:
    """Make SIGINT and SIGTERM ask the run to stop at its next safe point (between blocks or
    while waiting for workers) instead of raising inside library code, so that cancelling,
    ending the workers and leaving the finished parts always completes."""
    _STOP.clear()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: _STOP.set())


def check_stop() -> None:
    """Raise :class:`Interrupted` if a stop was asked for."""
    if _STOP.is_set():
        raise Interrupted()
