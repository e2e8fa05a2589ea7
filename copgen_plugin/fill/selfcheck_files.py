"""The self-check's files beside the outputs: JSON (everything), CSV (one row per band and
distance band) and a small chart PNG.

Each is written to a temporary name and renamed when complete. The chart needs matplotlib
(QGIS ships it on Windows and macOS and most Linux packages pull it in); without it the JSON
and CSV are still written and the report says the chart was skipped.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

#: the CSV's columns after band and distance
COLUMNS = ("pixels", "mae", "rmse", "gdal_mae", "coverage_5_95", "coverage_25_75",
           "spread_skill", "crps")


def paths_for(filled: Path) -> dict[str, Path]:
    """``<filled stem>_selfcheck.json / .csv / .png`` in the filled raster's folder."""
    stem = filled.parent / f"{filled.stem}_selfcheck"
    return {ext: stem.with_suffix(f".{ext}") for ext in ("json", "csv", "png")}


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _rows(result: Mapping[str, Any]) -> list[list[object]]:
    rows: list[list[object]] = []
    scopes = [("all", result), *list(result["bands"].items())]
    for name, scope in scopes:
        rows.append([name, "all", *(scope[c] for c in COLUMNS)])
        dists = result["distances"] if name == "all" else scope["distances"]
        rows += [[name, d, *(v[c] for c in COLUMNS)] for d, v in dists.items()]
    return rows


def write_files(result: Mapping[str, Any], filled: Path) -> tuple[dict[str, str], str | None]:
    """Write the files; (written paths by kind, a note when the chart was skipped)."""
    paths = paths_for(filled)

    def json_to(p: Path) -> None:
        p.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")

    def csv_to(p: Path) -> None:
        with p.open("w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["band", "distance", *COLUMNS])
            out.writerows(_rows(result))

    _atomic(paths["json"], json_to)
    _atomic(paths["csv"], csv_to)
    written = {"json": str(paths["json"]), "csv": str(paths["csv"])}
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return written, "self-check chart skipped: matplotlib is not installed"
    _atomic(paths["png"], lambda p: chart(result, p))
    written["png"] = str(paths["png"])
    return written, None


def chart(result: Mapping[str, Any], path: Path) -> None:
    """Two panels by distance from the nearest observed pixel: MAE of the ensemble mean beside
    GDAL FillNodata's, and coverage of the two intervals beside their expected values.
    (matplotlib's object API, never pyplot: safe in a Processing worker thread.)"""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dists = result["distances"]
    labels = list(dists)
    x = list(range(len(labels)))
    fig = Figure(figsize=(8, 3.2), dpi=100)
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    width = 0.38
    ax1.bar([i - width / 2 for i in x], [_num(dists[d]["mae"]) for d in labels], width,
            label="ensemble mean")
    ax1.bar([i + width / 2 for i in x], [_num(dists[d]["gdal_mae"]) for d in labels], width,
            label="GDAL FillNodata")
    ax1.set_title("MAE on hidden pixels", fontsize=9)
    ax2.plot(x, [100 * _num(dists[d]["coverage_5_95"]) for d in labels], "o-", label="5-95 %")
    ax2.plot(x, [100 * _num(dists[d]["coverage_25_75"]) for d in labels], "s-",
             label="25-75 %")
    for key, style in (("coverage_5_95", "--"), ("coverage_25_75", ":")):
        ax2.axhline(100 * result["expected"][key], color="grey", linestyle=style, linewidth=1)
    ax2.set_ylim(0, 100)
    ax2.set_title(f"coverage (%), grey: expected for N = {result['n_samples']}", fontsize=9)
    for ax in (ax1, ax2):
        ax.set_xticks(x)
        ax.set_xticklabels(labels, fontsize=7)
        ax.set_xlabel("distance from the nearest observed pixel", fontsize=8)
        ax.legend(fontsize=7)
    fig.suptitle(f"self-check: {result['hidden_pixels']} hidden pixels in "
                 f"{len(result['footprints'])} footprint(s)", fontsize=10)
    fig.tight_layout()
    fig.savefig(str(path), format="png")


def _num(v: object) -> float:
    f = float(v)  # type: ignore[arg-type]
    return 0.0 if math.isnan(f) else f
