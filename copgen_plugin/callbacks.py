"""The callback types every layer takes from its caller (one home: fill, engine and install
use the same three), so a door can pass one progress bar, one cancel flag and one log sink."""

from __future__ import annotations

from collections.abc import Callable

#: fraction done in [0, 1] and a short message
ProgressFn = Callable[[float, str], None]
#: true once the user asked to stop; polled between units of work
CancelFn = Callable[[], bool]
#: one line for the user's log
LogFn = Callable[[str], None]
