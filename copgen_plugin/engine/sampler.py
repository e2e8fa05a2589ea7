"""The official DPM-Solver as COP-GEN drives it (COPGEN_REFERENCE.md section 4.2).

"fast" method, order 3, data prediction (DPM-Solver++ style), ``time_uniform`` grid from
t = 1 to t = 0.001 with S + 1 points, no thresholding and no final denoise step, so the number
of network evaluations equals ``steps``. The object holds the schedule and the update rule only;
the noise model is passed in as ``eps_fn(x, t_continuous) -> eps`` (diffusers style), which
keeps the solver testable with a toy model and independent of ONNX Runtime.

An optional :class:`Constraint` lets inpainting reset part of the state before every network
evaluation and at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..errors import InputError
from .schedule import NoiseSchedule

EpsFn = Callable[[np.ndarray, float], np.ndarray]
#: called after every network evaluation with (evaluations done, total); may raise Cancelled
EvalCallback = Callable[[int, int], None]


class Constraint(Protocol):
    """A projection of the solver state, e.g. RePaint-style replacement of observed latents."""

    def apply(self, x: np.ndarray, t: float) -> np.ndarray:
        """Return the state to evaluate at continuous time ``t``."""
        ...

    def finish(self, x: np.ndarray) -> np.ndarray:
        """Return the final (clean) state."""
        ...


def solver_orders(steps: int) -> list[int]:
    """Per-update orders of the "fast" method; they sum to ``steps``."""
    if steps < 1:
        raise InputError(f"steps must be >= 1, got {steps}")
    k = steps // 3 + 1
    if steps % 3 == 0:
        return [3] * (k - 2) + [2, 1]
    if steps % 3 == 1:
        return [3] * (k - 1) + [1]
    return [3] * (k - 1) + [2]


def time_grid(steps: int, t_start: float = 1.0, t_end: float = 1e-3) -> np.ndarray:
    """The ``time_uniform`` grid: S + 1 points from t_start down to t_end."""
    return np.linspace(t_start, t_end, steps + 1, dtype=np.float64)


@dataclass(frozen=True)
class SolverUpdate:
    """One multistage update from grid index i to i + order, with its stage times."""

    order: int
    t_s: float
    t_t: float
    stage_times: tuple[float, ...]  # the times evaluated (s, s1, s2 as the order needs)
    r1: float | None
    r2: float | None


class DPMSolver:
    """Sample x(t_end) from x(t_start) ~ N(0, I) with ``steps`` network evaluations."""

    def __init__(
        self,
        schedule: NoiseSchedule,
        *,
        steps: int = 50,
        t_start: float = 1.0,
        t_end: float = 1e-3,
    ) -> None:
        self.schedule = schedule
        self.steps = int(steps)
        self.orders = solver_orders(self.steps)
        self.grid = time_grid(self.steps, t_start, t_end)
        self.updates = self._plan()

    def _plan(self) -> list[SolverUpdate]:
        ns, grid = self.schedule, self.grid
        lam = ns.lambda_(grid)
        updates, i = [], 0
        for order in self.orders:
            h = lam[i + order] - lam[i]
            r1 = float((lam[i + 1] - lam[i]) / h) if order >= 2 else None
            r2 = float((lam[i + 2] - lam[i]) / h) if order >= 3 else None
            times = [float(grid[i])]
            for r in (r1, r2)[: order - 1]:
                times.append(float(ns.inverse_lambda(lam[i] + r * h)))
            updates.append(SolverUpdate(order, float(grid[i]), float(grid[i + order]),
                                        tuple(times), r1, r2))
            i += order
        return updates

    @property
    def evaluation_times(self) -> list[float]:
        """Continuous times of every network evaluation, in call order (len == steps)."""
        return [t for u in self.updates for t in u.stage_times]

    def sample(
        self,
        x: np.ndarray,
        eps_fn: EpsFn,
        *,
        constraint: Constraint | None = None,
        on_eval: EvalCallback | None = None,
    ) -> np.ndarray:
        """Run the solver from the initial state ``x`` (any shape, batch first)."""
        ns = self.schedule
        done = 0

        def data_pred(x_in: np.ndarray, t: float) -> np.ndarray:
            nonlocal done
            if constraint is not None:
                x_in = constraint.apply(x_in, t)
            eps = eps_fn(x_in, t)
            done += 1
            if on_eval is not None:
                on_eval(done, self.steps)
            a, s = float(ns.alpha(t)), float(ns.sigma(t))
            return ((x_in - s * eps) / a).astype(x_in.dtype, copy=False)

        for u in self.updates:
            if constraint is not None:
                x = constraint.apply(x, u.t_s)
            x = self._update(x, u, data_pred)
        if constraint is not None:
            x = constraint.finish(x)
        return x

    def _update(
        self, x: np.ndarray, u: SolverUpdate, data_pred: Callable[[np.ndarray, float], np.ndarray]
    ) -> np.ndarray:
        ns = self.schedule
        s, t = u.t_s, u.t_t
        lam_s, lam_t = float(ns.lambda_(s)), float(ns.lambda_(t))
        h = lam_t - lam_s
        sig_s = float(ns.sigma(s))
        sig_t, a_t = float(ns.sigma(t)), float(ns.alpha(t))
        phi_1 = float(np.expm1(-h))
        d0 = data_pred(x, s)
        if u.order == 1:
            return (sig_t / sig_s) * x - (a_t * phi_1) * d0
        assert u.r1 is not None
        s1 = u.stage_times[1]
        sig_s1, a_s1 = float(ns.sigma(s1)), float(ns.alpha(s1))
        phi_11 = float(np.expm1(-u.r1 * h))
        x1 = (sig_s1 / sig_s) * x - (a_s1 * phi_11) * d0
        d1 = data_pred(x1, s1)
        if u.order == 2:
            return (
                (sig_t / sig_s) * x - (a_t * phi_1) * d0 - (0.5 / u.r1) * (a_t * phi_1) * (d1 - d0)
            )
        assert u.r2 is not None
        s2 = u.stage_times[2]
        sig_s2, a_s2 = float(ns.sigma(s2)), float(ns.alpha(s2))
        phi_12 = float(np.expm1(-u.r2 * h))
        phi_22 = phi_12 / (u.r2 * h) + 1.0
        phi_2 = phi_1 / h + 1.0
        x2 = (
            (sig_s2 / sig_s) * x
            - (a_s2 * phi_12) * d0
            + (u.r2 / u.r1) * (a_s2 * phi_22) * (d1 - d0)
        )
        d2 = data_pred(x2, s2)
        return (sig_t / sig_s) * x - (a_t * phi_1) * d0 + (1.0 / u.r2) * (a_t * phi_2) * (d2 - d0)
