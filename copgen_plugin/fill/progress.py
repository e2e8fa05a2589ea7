"""Progress, cancel and user messages of one run, in one place.

The caller's progress callback receives a fraction that never goes back (0..1) and a short
message; phases get fixed shares so the bar moves evenly: planning and the copy of the
observed pixels, then footprints x solver steps, then the final commit.
"""

from __future__ import annotations

import logging

from ..callbacks import CancelFn, LogFn, ProgressFn
from ..errors import Cancelled

_log = logging.getLogger("copgen_plugin.fill")


#: fraction of the bar reached after planning + copying, and before the commit
PREPARED = 0.05
GENERATED = 0.97


class RunFeedback:
    """Monotonic progress, cancel checks and messages for one run."""

    def __init__(self, progress: ProgressFn | None, cancel: CancelFn | None,
                 log: LogFn | None) -> None:
        self._progress = progress
        self._cancel = cancel
        self._log = log
        self.fraction = 0.0

    def cancelled(self) -> bool:
        return bool(self._cancel is not None and self._cancel())

    def check(self, where: str) -> None:
        """Raise the engine's ``Cancelled`` when the caller asked to stop."""
        if self.cancelled():
            raise Cancelled(f"cancelled {where}")

    def report(self, fraction: float, message: str) -> None:
        f = min(1.0, max(self.fraction, float(fraction)))
        self.fraction = f
        if self._progress is not None:
            self._progress(f, message)

    def footprint(self, index: int, total: int, within: float, message: str) -> None:
        """Progress inside footprint ``index`` (0-based) of ``total``; ``within`` in [0, 1]."""
        span = GENERATED - PREPARED
        self.report(PREPARED + span * (index + min(max(within, 0.0), 1.0)) / max(total, 1),
                    message)

    def footprints(self, done: int, count: int, total: int, within: float, message: str
                   ) -> None:
        """Progress inside a batch of ``count`` footprints after ``done`` finished ones."""
        span = GENERATED - PREPARED
        within = min(max(within, 0.0), 1.0)
        self.report(PREPARED + span * (done + count * within) / max(total, 1), message)

    def info(self, message: str) -> None:
        _log.info("%s", message)
        if self._log is not None:
            self._log(message)
