"""Where and how long a demo run trained: the package README and manifest say so (issue 19).

Stage seconds accumulate in ``<workdir>/timings.json`` across resumed sessions, so a run spread
over several sessions still reports what it cost; the machine is read at export time (the run
and its export happen on the same machine).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

TIMINGS = "timings.json"


def stage_times(workdir: Path) -> dict[str, Any]:
    path = workdir / TIMINGS
    return json.loads(path.read_text()) if path.is_file() else {}


def add_stage_time(workdir: Path, stage: str, seconds: float, threads: int) -> None:
    """Add ``seconds`` of wall time at ``threads`` torch threads to ``stage``'s record."""
    timings = stage_times(workdir)
    entry = timings.get(stage, {"seconds": 0.0, "threads": []})
    entry["seconds"] = round(entry["seconds"] + seconds, 3)
    entry["threads"] = sorted(set(entry["threads"]) | {threads})
    timings[stage] = entry
    path = workdir / TIMINGS
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(timings, indent=2))
    tmp.replace(path)


@contextlib.contextmanager
def timed_stage(workdir: Path, stage: str, threads: int) -> Iterator[None]:
    """Records the stage's wall time when it completes (an interrupted stage's time is lost
    with its unsaved steps; the resumed run records its own)."""
    started = time.perf_counter()
    yield
    add_stage_time(workdir, stage, time.perf_counter() - started, threads)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> dict[str, Any]:
    """The training machine, as a reader needs it to judge the run's cost."""
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "gpu": False,
            "system": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "torch": torch.__version__}


def describe_machine(trained_on: Mapping[str, Any] | None) -> str:
    if not trained_on:
        return "not recorded"
    return (f"{trained_on['cpu']}, {trained_on['cores']} cores, {trained_on['system']}, "
            f"Python {trained_on['python']}, torch {trained_on['torch']}")


def describe(times: Mapping[str, Any]) -> str:
    """One line per stage, e.g. ``S2L2A_B02_B03_B04_B08 2209 s at 1 thread``."""
    parts = []
    for stage, entry in times.items():
        threads = "/".join(map(str, entry["threads"]))
        plural = "" if threads == "1" else "s"
        parts.append(f"{stage} {entry['seconds']:.0f} s at {threads} thread{plural}")
    return "; ".join(parts) if parts else "not recorded"
