"""Where and how long a demo run trained: the package README and manifest say so (issue 19).

Stage seconds accumulate in ``<workdir>/timings.json`` across resumed sessions, so a run spread
over several sessions still reports what it cost; the machine is read at export time (the run
and its export happen on the same machine).
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import torch

TIMINGS = "timings.json"


def add_stage_time(workdir: Path, stage: str, seconds: float, threads: int) -> None:
    """Add ``seconds`` of wall time at ``threads`` torch threads to ``stage``'s record."""
    path = workdir / TIMINGS
    timings = json.loads(path.read_text()) if path.is_file() else {}
    entry = timings.get(stage, {"seconds": 0.0, "threads": []})
    entry["seconds"] = round(entry["seconds"] + seconds, 3)
    entry["threads"] = sorted(set(entry["threads"]) | {threads})
    timings[stage] = entry
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(timings, indent=2))
    tmp.replace(path)


def stage_times(workdir: Path) -> dict[str, Any]:
    path = workdir / TIMINGS
    return json.loads(path.read_text()) if path.is_file() else {}


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


def describe(times: dict[str, Any]) -> str:
    """One line per stage, e.g. ``S2L2A_B02_B03_B04_B08 2209 s at 1 thread``."""
    parts = []
    for stage, entry in times.items():
        threads = "/".join(map(str, entry["threads"]))
        plural = "" if threads == "1" else "s"
        parts.append(f"{stage} {entry['seconds']:.0f} s at {threads} thread{plural}")
    return "; ".join(parts) if parts else "not recorded"
