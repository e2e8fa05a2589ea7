"""Full-sampler parity: the kit's tiny backbone exported to ONNX, run by the engine's solver.

The official outputs (sample_cond / sample_other / sample_uncond) were made with the official
``CopgenModel._sample_batch`` in float32 on the CPU; the engine must land within 1e-3 of them
when fed the same stored noise.
"""

from __future__ import annotations

import numpy as np
import pytest

from copgen_plugin.engine.joint import JointNoiseModel, LatentLayout
from copgen_plugin.engine.runtime import DenoiserSession, OnnxModel, RuntimeOptions
from copgen_plugin.engine.sampler import DPMSolver
from copgen_plugin.engine.schedule import NoiseSchedule

SAMPLE_ATOL = 1e-3
STEPS = 10  # the kit's sampling cases use 10 steps


@pytest.fixture(scope="module")
def kit_denoiser(kit_denoiser_onnx, table) -> DenoiserSession:
    model = OnnxModel(kit_denoiser_onnx, RuntimeOptions(device="cpu", intra_op_threads=2))
    return DenoiserSession(model, table.network_order)


def _run(table, denoiser, cases, prefix, generated, conditions, other_noise=None, extra=None):
    layout = LatentLayout(table.specs, generated)
    joint = JointNoiseModel(table.specs, layout, denoiser, conditions, other_noise=other_noise)
    noise = {k: cases[f"{prefix}__noise__{k}"] for k in layout.keys if k not in (extra or {})}
    x0 = layout.pack({**noise, **(extra or {})})
    out = DPMSolver(NoiseSchedule(), steps=STEPS).sample(x0, joint)
    return layout.unpack(out), joint


def _check_t_imgs(joint, table, expected):
    got = np.array([[call[k] for k in table.network_order] for call in joint.calls])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-3)
    np.testing.assert_array_equal(got == 0, expected == 0)  # zeros exactly where the kit has them


def test_conditional_sampling_matches_official(cases, table, kit_denoiser):
    generated = ["S1RTC_vh_vv", "S2L2A_B02_B03_B04_B08"]
    conds = {k: cases[f"sample_cond__cond__{k}"] for k in table.network_order
             if k not in generated}
    out, joint = _run(table, kit_denoiser, cases, "sample_cond", generated, conds)
    for key in generated:
        diff = np.abs(out[key] - cases[f"sample_cond__out__{key}"]).max()
        assert diff <= SAMPLE_ATOL, (key, diff)
    _check_t_imgs(joint, table, cases["sample_cond__t_imgs"])


def test_other_modality_quirk_matches_official(cases, table, kit_denoiser):
    """S2L1C_B01_B09_B10 neither given nor generated: fresh noise at t=0 on every call."""
    generated = ["S1RTC_vh_vv", "S2L2A_B02_B03_B04_B08"]
    other = "S2L1C_B01_B09_B10"
    conds = {k: cases[f"sample_cond__cond__{k}"] for k in table.network_order
             if k not in generated and k != other}
    per_call = iter(cases["sample_other__other_noise_per_call"])

    def other_noise(key: str, shape: tuple[int, ...]) -> np.ndarray:
        assert key == other
        noise = next(per_call)
        assert noise.shape == shape
        return noise

    out, joint = _run(table, kit_denoiser, cases, "sample_other", generated, conds, other_noise)
    for key in generated:
        diff = np.abs(out[key] - cases[f"sample_other__out__{key}"]).max()
        assert diff <= SAMPLE_ATOL, (key, diff)
    _check_t_imgs(joint, table, cases["sample_other__t_imgs"])
    # the quirk matters: with the other modality generated instead, the result moves
    extra = {other: cases["sample_other__other_final"]}
    out_gen, _ = _run(table, kit_denoiser, cases, "sample_other", [*generated, other], conds,
                      extra=extra)
    assert np.abs(out_gen["S1RTC_vh_vv"] - out["S1RTC_vh_vv"]).max() > 10 * SAMPLE_ATOL


def test_unconditional_sampling_matches_official(cases, table, kit_denoiser):
    out, joint = _run(table, kit_denoiser, cases, "sample_uncond", table.network_order, {})
    for key in table.network_order:
        diff = np.abs(out[key] - cases[f"sample_uncond__out__{key}"]).max()
        assert diff <= SAMPLE_ATOL, (key, diff)
    _check_t_imgs(joint, table, cases["sample_uncond__t_imgs"])
