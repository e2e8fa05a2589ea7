"""Per-pixel statistics over the N samples of one footprint.

The mean and standard deviation are accumulated online (Welford, float64) as samples arrive;
the minimum, maximum and interquartile range need every sample of a pixel, so the samples of
the footprint are kept (N is small: a handful to a few dozen). Statistics are float32 and only
defined where the model generated the pixel; elsewhere they hold ``nodata`` (NaN by default),
so observed pixels never show a spurious zero spread.

Categorical modalities (class codes) get the per-pixel mode and the share of samples that agree
with it instead, because a mean class code means nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError


@dataclass(frozen=True)
class Spread:
    """Per-pixel statistics, each (C, H, W) float32; ``nodata`` outside the generated mask."""

    count: int
    mean: np.ndarray
    std: np.ndarray
    minimum: np.ndarray
    maximum: np.ndarray
    iqr: np.ndarray
    nodata: float

    @property
    def range(self) -> np.ndarray:
        return self.maximum - self.minimum


@dataclass(frozen=True)
class CategoricalSpread:
    """Per-pixel mode (1, H, W) int64 and agreement in [0, 1] (1, H, W) float32."""

    count: int
    mode: np.ndarray
    agreement: np.ndarray
    nodata_code: int
    nodata: float


class OnlineSpread:
    """Accumulate samples (C, H, W) of one modality one at a time.

    ``generated``: (H, W) bool, True where the pixel was generated (None = everywhere).
    ``ddof``: 1 (default) gives the sample standard deviation; it is 0 while count <= ddof.
    """

    def __init__(
        self, shape: tuple[int, int, int], *, generated: np.ndarray | None = None,
        nodata: float = float("nan"), ddof: int = 1,
    ) -> None:
        self.shape = tuple(shape)
        if generated is not None and np.shape(generated) != self.shape[1:]:
            raise InputError(f"generated mask {np.shape(generated)} != sample grid "
                             f"{self.shape[1:]}")
        self.generated = None if generated is None else np.asarray(generated, dtype=bool)
        self.nodata = nodata
        self.ddof = ddof
        self.count = 0
        self._mean = np.zeros(self.shape, dtype=np.float64)
        self._m2 = np.zeros(self.shape, dtype=np.float64)
        self._samples: list[np.ndarray] = []

    def update(self, sample: np.ndarray) -> None:
        sample = np.asarray(sample)
        if sample.shape != self.shape:
            raise InputError(f"sample of shape {sample.shape}, expected {self.shape}")
        x = sample.astype(np.float64)
        self.count += 1
        delta = x - self._mean
        self._mean += delta / self.count
        self._m2 += delta * (x - self._mean)
        self._samples.append(sample.astype(np.float32))

    def _masked(self, values: np.ndarray) -> np.ndarray:
        out = values.astype(np.float32)
        if self.generated is not None:
            out[:, ~self.generated] = np.float32(self.nodata)
        return out

    def result(self) -> Spread:
        if self.count == 0:
            raise InputError("no samples were added to the spread")
        var = (self._m2 / (self.count - self.ddof) if self.count > self.ddof
               else np.zeros_like(self._m2))
        stack = np.stack(self._samples)
        q25, q75 = np.percentile(stack, [25.0, 75.0], axis=0)
        return Spread(
            count=self.count, mean=self._masked(self._mean), std=self._masked(np.sqrt(var)),
            minimum=self._masked(stack.min(axis=0)), maximum=self._masked(stack.max(axis=0)),
            iqr=self._masked(q75 - q25), nodata=self.nodata,
        )


def compute_spread(
    samples: np.ndarray, *, generated: np.ndarray | None = None,
    nodata: float = float("nan"), ddof: int = 1,
) -> Spread:
    """Statistics of stacked samples (N, C, H, W) (the same numbers as :class:`OnlineSpread`)."""
    samples = np.asarray(samples)
    acc = OnlineSpread(samples.shape[1:], generated=generated, nodata=nodata, ddof=ddof)
    for sample in samples:
        acc.update(sample)
    return acc.result()


def categorical_spread(
    samples: np.ndarray, *, generated: np.ndarray | None = None, nodata_code: int = -1,
    nodata: float = float("nan"),
) -> CategoricalSpread:
    """Mode and agreement of class codes (N, 1, H, W); ties go to the smallest code."""
    samples = np.asarray(samples)
    if samples.ndim != 4 or samples.shape[1] != 1:
        raise InputError(f"class samples must be (N, 1, H, W), got {samples.shape}")
    codes = np.unique(samples)
    counts = np.stack([(samples == c).sum(axis=0) for c in codes])  # (K, 1, H, W)
    best = np.argmax(counts, axis=0)  # first (smallest) code on ties
    mode = codes[best].astype(np.int64)
    agreement = (np.take_along_axis(counts, best[None], axis=0)[0] / len(samples))
    agreement = agreement.astype(np.float32)
    if generated is not None:
        mode[:, ~np.asarray(generated, dtype=bool)] = nodata_code
        agreement[:, ~np.asarray(generated, dtype=bool)] = np.float32(nodata)
    return CategoricalSpread(len(samples), mode, agreement, nodata_code, nodata)
