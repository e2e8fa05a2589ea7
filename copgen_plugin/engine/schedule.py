"""The noise schedule COP-GEN samples with (COPGEN_REFERENCE.md section 4.1).

A discrete variance-preserving schedule with Stable-Diffusion "scaled linear" betas, made
continuous in t in (0, 1] by piecewise-linear interpolation of log alpha between the knots
t_k = (k+1)/N, with linear extrapolation beyond them, exactly as DPM-Solver's
``NoiseScheduleVP('discrete')``. All arithmetic is float64 (the official tables are float32;
the difference is below 1e-6 in alpha and sigma).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ManifestError

ArrayLike = float | np.ndarray


@dataclass(frozen=True)
class ScheduleSettings:
    """The manifest's ``schedule`` (defaults: COP-GEN's); parsed once by ``parse_manifest``."""

    kind: str = "discrete_scaled_linear"
    beta_start: float = 0.00085
    beta_end: float = 0.012
    num_train_timesteps: int = 1000


def parse_schedule(value: Any) -> ScheduleSettings:
    """The manifest's ``schedule`` object -> settings (only the discrete kind exists)."""
    if not isinstance(value, Mapping) or value.get("kind") != ScheduleSettings.kind:
        raise ManifestError(f"manifest: unsupported noise schedule {value!r}")
    d = ScheduleSettings()
    try:
        return ScheduleSettings(
            beta_start=float(value.get("beta_start", d.beta_start)),
            beta_end=float(value.get("beta_end", d.beta_end)),
            num_train_timesteps=int(value.get("num_train_timesteps", d.num_train_timesteps)))
    except (TypeError, ValueError) as exc:
        raise ManifestError(f"manifest: invalid noise schedule {dict(value)!r} ({exc})"
                            ) from None


def _interp(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Piecewise-linear interpolation with linear extrapolation (xp increasing)."""
    idx = np.clip(np.searchsorted(xp, x, side="left") - 1, 0, len(xp) - 2)
    x0, x1 = xp[idx], xp[idx + 1]
    y0, y1 = fp[idx], fp[idx + 1]
    return y0 + (x - x0) * (y1 - y0) / (x1 - x0)


class NoiseSchedule:
    """alpha(t), sigma(t), lambda(t) = log(alpha/sigma) and its inverse for t in (0, 1]."""

    def __init__(
        self,
        *,
        beta_start: float = ScheduleSettings.beta_start,
        beta_end: float = ScheduleSettings.beta_end,
        num_train_timesteps: int = ScheduleSettings.num_train_timesteps,
    ) -> None:
        n = int(num_train_timesteps)
        betas = np.linspace(beta_start**0.5, beta_end**0.5, n, dtype=np.float64) ** 2
        betas = betas.astype(np.float32).astype(np.float64)  # the official cast to float32
        self.num_train_timesteps = n
        self.t_knots = np.arange(1, n + 1, dtype=np.float64) / n
        self.log_alpha_knots = 0.5 * np.cumsum(np.log1p(-betas))

    @classmethod
    def from_settings(cls, settings: ScheduleSettings) -> NoiseSchedule:
        """The schedule a parsed package names."""
        return cls(beta_start=settings.beta_start, beta_end=settings.beta_end,
                   num_train_timesteps=settings.num_train_timesteps)

    def log_alpha(self, t: ArrayLike) -> np.ndarray:
        return _interp(np.asarray(t, dtype=np.float64), self.t_knots, self.log_alpha_knots)

    def alpha(self, t: ArrayLike) -> np.ndarray:
        return np.exp(self.log_alpha(t))

    def sigma(self, t: ArrayLike) -> np.ndarray:
        return np.sqrt(1.0 - np.exp(2.0 * self.log_alpha(t)))

    def lambda_(self, t: ArrayLike) -> np.ndarray:
        log_a = self.log_alpha(t)
        return log_a - 0.5 * np.log(1.0 - np.exp(2.0 * log_a))

    def inverse_lambda(self, lam: ArrayLike) -> np.ndarray:
        """t with lambda(t) = lam (log alpha from lam, then the reversed interpolation)."""
        log_a = -0.5 * np.logaddexp(0.0, -2.0 * np.asarray(lam, dtype=np.float64))
        return _interp(log_a, self.log_alpha_knots[::-1], self.t_knots[::-1])

    def network_time(self, t: ArrayLike) -> np.ndarray:
        """Continuous t -> the backbone's timestep scale (0..1000)."""
        return np.asarray(t, dtype=np.float64) * self.num_train_timesteps
