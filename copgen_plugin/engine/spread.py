"""Per-pixel statistics over the N samples of one footprint (the one home of the spread).

A pure function of the samples *as written* (after the cast to the output type), so the
filled raster is the rounded mean (or the mode) of the sample files and the spread their
statistic, pixel for pixel. Class codes get the mode and the share of samples disagreeing with
it instead, because a mean class code means nothing.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..errors import InputError

Statistic = Literal["std", "range", "iqr"]


def sample_statistics(samples: np.ndarray, *, statistic: str, categorical: bool
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(centre, spread) over the first axis of ``samples`` (N, C, h, w).

    * continuous: the mean (float64) and the ``statistic`` (float32): ``std`` (ddof 1; 0 for
      one sample), ``range`` (max - min) or ``iqr`` (75th - 25th percentile);
    * ``categorical``: the mode (the samples' dtype; ties to the smallest code) and the share
      of samples disagreeing with it (float32).
    """
    if categorical:
        codes = np.unique(samples)
        counts = np.stack([(samples == c).sum(axis=0) for c in codes])
        best = np.argmax(counts, axis=0)  # ties: the smallest code
        mode = codes[best]
        agree = np.take_along_axis(counts, best[None], axis=0)[0] / samples.shape[0]
        return mode, (1.0 - agree).astype(np.float32)
    x = samples.astype(np.float64)
    n = x.shape[0]
    if statistic == "std":
        spread = x.std(axis=0, ddof=1) if n > 1 else np.zeros(x.shape[1:])
    elif statistic == "range":
        spread = x.max(axis=0) - x.min(axis=0)
    elif statistic == "iqr":
        q25, q75 = np.percentile(x, [25.0, 75.0], axis=0)
        spread = q75 - q25
    else:  # requests are validated before a run
        raise InputError(f"unknown spread statistic {statistic!r}")
    return x.mean(axis=0), spread.astype(np.float32)
