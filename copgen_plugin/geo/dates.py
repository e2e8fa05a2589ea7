"""Dates (one home): the acquisition date condition from a parameter, else from a layer's
metadata.

COP-GEN conditions on a date; a layer written by common EO tools often records it in a tag
(``datetime`` in the TerraMesh files, ``ACQUISITION_DATE``, ``SENSING_TIME``...). The TIFF
``DateTime`` tag is the file's write time, not the acquisition, and is never used.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import rasterio

_log = logging.getLogger(__name__)

# Tag names checked, in this order, case-insensitively (dataset tags, then band 1 tags).
DATE_TAGS: tuple[str, ...] = (
    "datetime", "acquisition_date", "acquisitiondate", "date_acquired", "sensing_time",
    "sensing_date", "product_start_time", "start_datetime", "start_time", "acquisition_time",
    "date",
)
_DATE_RE = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")


@dataclass(frozen=True)
class DateChoice:
    """The date used and where it came from (to report)."""

    date: dt.date
    source: str


def parse_date(text: str) -> dt.date:
    """A date from an ISO-like string ('2021-07-21', '2021-07-21T08:40:10Z', '20210721')."""
    m = _DATE_RE.search(text.strip())
    if not m:
        raise ValueError(f"not a date: {text!r}; use YYYY-MM-DD")
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError as e:
        raise ValueError(f"not a date: {text!r} ({e})") from None


def layer_date(path: str | Path) -> DateChoice | None:
    """The acquisition date recorded in a layer's tags, or None."""
    with rasterio.open(path) as src:
        tag_sets = [("dataset", src.tags())]
        if src.count >= 1:
            tag_sets.append(("band 1", src.tags(1)))
    for where, tags in tag_sets:
        lowered = {k.lower(): v for k, v in tags.items()}
        for key in DATE_TAGS:
            if key in lowered:
                try:
                    d = parse_date(lowered[key])
                except ValueError:
                    continue
                return DateChoice(d, f"{Path(path).name} {where} tag {key}")
    return None


def resolve_date(value: dt.date | str | None, *, paths: Sequence[str | Path] = (),
                 required: bool = True) -> DateChoice | None:
    """The date parameter when given, else the first date found in ``paths``' metadata;
    nothing found: ``ValueError`` when ``required``, else None (the date is then generated)."""
    if isinstance(value, dt.datetime):
        return DateChoice(value.date(), "parameter")
    if isinstance(value, dt.date):
        return DateChoice(value, "parameter")
    if isinstance(value, str) and value.strip():
        return DateChoice(parse_date(value), "parameter")
    for p in paths:
        found = layer_date(p)
        if found is not None:
            _log.info("date %s from %s", found.date.isoformat(), found.source)
            return found
    if not required:
        return None
    names = ", ".join(Path(p).name for p in paths) or "no layer"
    raise ValueError(f"no date given and none found in the metadata of {names}; "
                     "set the date parameter (YYYY-MM-DD)")
