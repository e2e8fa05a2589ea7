"""The batch report: one line per scene (status, device, worker, duration, error) and totals.

Written as ``batch_report.json`` in the output folder after every finished scene, so a
killed driver leaves the scenes it saw finish on record (their completion markers are the
authority on what is done).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPORT_NAME = "batch_report.json"
#: a scene's status: done now, skipped (complete before), failed (bad input, not retried),
#: cancelled, or lost (its worker died more often than the scheduler allows)
STATUSES = ("done", "skipped", "failed", "cancelled", "lost")


@dataclass
class SceneResult:
    name: str
    status: str
    folder: str = ""
    device: str = ""
    worker: str = ""
    pid: int = 0
    seconds: float = 0.0
    error: str = ""
    footprints_run: int = 0
    footprints_total: int = 0
    #: times the scheduler ran this scene's task again after losing the worker running it
    rescheduled: int = 0
    #: the same for its footprint tasks (``--split-scene`` on a cluster)
    rescheduled_footprints: int = 0


@dataclass
class BatchReport:
    scheduler: str
    split_scene: bool
    out_dir: str
    scenes: list[SceneResult] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for s in self.scenes if s.status == status)

    @property
    def rescheduled(self) -> int:
        return sum(s.rescheduled + s.rescheduled_footprints for s in self.scenes)

    @property
    def ok(self) -> bool:
        return all(s.status in ("done", "skipped") for s in self.scenes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["totals"] = {status: self.count(status) for status in STATUSES}
        data["totals"]["rescheduled_tasks"] = self.rescheduled
        return data

    def summary(self) -> list[str]:
        """Human-readable lines: one per scene, then the totals."""
        lines = []
        for s in self.scenes:
            where = f" on {s.device} by {s.worker}" if s.status == "done" else ""
            again = f", rescheduled {s.rescheduled}x after a lost worker" if s.rescheduled else ""
            fps = (f", {s.rescheduled_footprints} footprint task(s) rescheduled"
                   if s.rescheduled_footprints else "")
            error = f": {s.error}" if s.error else ""
            lines.append(f"scene {s.name}: {s.status}{where} ({s.seconds:.1f} s{again}{fps})"
                         f"{error}")
        totals = ", ".join(f"{self.count(st)} {st}" for st in STATUSES if self.count(st))
        lines.append(f"batch: {len(self.scenes)} scene(s): {totals or 'none'}; "
                     f"{self.rescheduled} task(s) rescheduled after a lost worker; "
                     f"{self.seconds:.1f} s with {self.scheduler}")
        return lines

    def write(self, out_dir: Path) -> Path:
        """Write ``batch_report.json`` atomically."""
        dest = out_dir / REPORT_NAME
        tmp = out_dir / f".{REPORT_NAME}.tmp-{os.getpid()}"
        tmp.write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
        os.replace(tmp, dest)
        return dest
