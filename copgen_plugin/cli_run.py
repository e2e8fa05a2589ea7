"""What every command of the CLI does around its work: the progress bar, the stop signals, and
turning an error or a stop into one ``error: ...`` line and an exit status (one home, so the
doors of gapfill, gapfill-batch and download answer alike)."""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from typing import TextIO, TypeVar

from .errors import Cancelled, CopgenError

T = TypeVar("T")

STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))


class TextProgress:
    """A dependency-free progress bar: redrawn in place on a terminal, one line per 5 % when
    the stream is a file or pipe (logs stay readable)."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.last_pct = -1
        self.drawn = False

    def __call__(self, fraction: float, message: str) -> None:
        pct = int(100 * fraction)
        filled = int(self.width * fraction)
        bar = f"[{'#' * filled}{'.' * (self.width - filled)}] {pct:3d}% {message}"
        if self.tty:
            self.stream.write("\r" + bar[:120].ljust(120))
            self.drawn = True
        elif pct >= self.last_pct + 5 or (pct == 100 and self.last_pct < 100):
            self.stream.write(bar + "\n")
            self.last_pct = pct
        self.stream.flush()

    def message(self, text: str) -> None:
        """A log line that does not tear the bar."""
        self.end()
        self.stream.write(text + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.drawn = False


class Terminated(KeyboardInterrupt):
    """A stop signal arrived; raised in the main thread like Ctrl-C's KeyboardInterrupt, so
    the same clean-up runs (partial files and created folders removed)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def stop_signals_as_interrupts() -> Iterator[Callable[[], bool]]:
    """SIGTERM/SIGHUP raise ``Terminated``; once one arrived, later ones (and Ctrl-C) are
    ignored so that the clean-up itself is not interrupted. Yields a cancel check for the run:
    the raise lands wherever the main thread is, and code that swallows it (an extension
    module's import turned it into "not installed" and the run went on) would lose the stop,
    so the check raises it again at the run's next footprint or solver step."""
    arrived: list[int] = []

    def handler(signum: int, frame: object) -> None:
        for s in (*STOP_SIGNALS, signal.SIGINT):
            signal.signal(s, signal.SIG_IGN)
        arrived.append(signum)
        raise Terminated(signum)

    def stopped() -> bool:
        if arrived:
            raise Terminated(arrived[0])
        return False

    previous = {s: signal.getsignal(s) for s in (*STOP_SIGNALS, signal.SIGINT)}
    for s in STOP_SIGNALS:
        signal.signal(s, handler)
    try:
        yield stopped
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def run_command(work: Callable[[], T], bar: TextProgress | None, *, interrupted: str,
                errors: tuple[type[Exception], ...] = ()) -> tuple[int, T | None]:
    """``(0, result)``, or the exit status after one ``error:`` line on stderr: 128 + the
    signal for SIGTERM/SIGHUP, 1 for Ctrl-C, a cancel or a ``CopgenError`` (or ``errors``).
    ``interrupted`` says what a stop left behind (e.g. "no output was written")."""
    end = bar.end if bar is not None else (lambda: None)
    failures: tuple[type[Exception], ...] = (CopgenError, *errors)
    try:
        result = work()
    except Terminated as exc:
        end()
        print(f"error: stopped by {exc}; {interrupted}", file=sys.stderr)
        return 128 + exc.signum, None
    except (Cancelled, KeyboardInterrupt):
        end()
        print(f"error: cancelled; {interrupted}", file=sys.stderr)
        return 1, None
    except failures as exc:
        end()
        print(f"error: {exc}", file=sys.stderr)
        return 1, None
    end()
    return 0, result
