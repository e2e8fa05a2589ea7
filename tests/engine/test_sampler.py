"""Schedule and DPM-Solver parity with the official sampler (kit schedule__*, solver_toy__*)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from copgen_plugin.engine.sampler import DPMSolver, solver_orders
from copgen_plugin.engine.schedule import NoiseSchedule
from copgen_plugin.errors import Cancelled
from tests.engine.helpers import KIT

STEPS = [1, 2, 3, 4, 5, 6, 7, 10, 20, 50]


def toy_eps(x: np.ndarray, t: float) -> np.ndarray:
    """The kit's toy noise model: tanh(0.5 x) * (0.3 + 1000 t / 2000)."""
    return (np.tanh(np.float32(0.5) * x) * np.float32(0.3 + 1000 * t / 2000)).astype(np.float32)


def test_schedule_matches_official_tables(cases):
    ns = NoiseSchedule()
    np.testing.assert_allclose(ns.t_knots, cases["schedule__t_discrete"], rtol=0, atol=1e-7)
    np.testing.assert_allclose(ns.log_alpha_knots, cases["schedule__log_alpha_discrete"],
                               rtol=0, atol=1e-6)
    solver = DPMSolver(ns, steps=10)
    np.testing.assert_allclose(solver.grid, cases["schedule__ts_S10"], rtol=0, atol=1e-6)
    ts = solver.grid
    np.testing.assert_allclose(ns.alpha(ts), cases["schedule__alpha_S10"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(ns.sigma(ts), cases["schedule__sigma_S10"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(ns.lambda_(ts), cases["schedule__lambda_S10"], rtol=0, atol=5e-5)


def test_schedule_matches_the_50_step_trace():
    trace = json.loads((KIT / "sampler_trace_50.json").read_text())
    ns = NoiseSchedule()
    grid = trace["grid"]
    t = np.array([g["t"] for g in grid])
    np.testing.assert_allclose(ns.alpha(t), [g["alpha"] for g in grid], atol=1e-6)
    np.testing.assert_allclose(ns.sigma(t), [g["sigma"] for g in grid], atol=1e-6)
    np.testing.assert_allclose(ns.lambda_(t), [g["lam"] for g in grid], atol=5e-5)
    times = np.array(DPMSolver(ns, steps=50).evaluation_times) * 1000
    np.testing.assert_allclose(times, trace["calls_t_net"], rtol=0, atol=1e-3)


def test_inverse_lambda_inverts_lambda():
    ns = NoiseSchedule()
    t = np.linspace(0.001, 1.0, 97)
    np.testing.assert_allclose(ns.inverse_lambda(ns.lambda_(t)), t, atol=1e-9)


@pytest.mark.parametrize("steps", STEPS)
def test_toy_solver_matches_official(cases, steps):
    solver = DPMSolver(NoiseSchedule(), steps=steps)
    calls: list[float] = []

    def eps(x: np.ndarray, t: float) -> np.ndarray:
        calls.append(t * 1000)
        return toy_eps(x, t)

    out = solver.sample(cases["solver_toy__x_init"].copy(), eps)
    assert sum(solver.orders) == steps and len(calls) == steps
    np.testing.assert_allclose(out, cases[f"solver_toy__out__S{steps}"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(calls, cases[f"solver_toy__t_net__S{steps}"], rtol=0, atol=1e-3)


def test_orders_follow_the_official_fast_method():
    assert solver_orders(50) == [3] * 16 + [2]
    assert solver_orders(10) == [3, 3, 3, 1]
    assert solver_orders(9) == [3, 3, 2, 1]
    assert solver_orders(1) == [1]


def test_a_raising_callback_stops_the_solver_within_one_evaluation(cases):
    solver = DPMSolver(NoiseSchedule(), steps=20)
    seen: list[int] = []

    def on_eval(done: int, total: int) -> None:
        seen.append(done)
        if done == 4:
            raise Cancelled("stop")

    with pytest.raises(Cancelled):
        solver.sample(cases["solver_toy__x_init"].copy(), toy_eps, on_eval=on_eval)
    assert seen == [1, 2, 3, 4]
