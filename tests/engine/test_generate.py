"""generate() on a tiny random-weight package: seeds, batching, roles, cancel, progress."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from copgen_plugin.engine.modalities import normalise
from copgen_plugin.engine.requests import GenerationRequest
from copgen_plugin.errors import Cancelled, InputError, ModalityError
from tests.engine.helpers import cpu_denoiser_providers

STEPS = 6
S1_LINEAR = np.full((2, 192, 192), 0.05, dtype=np.float32)
CONDITIONS = {"3d_cartesian_lat_lon": (55.95, -3.19), "mean_timestamps": dt.date(2021, 6, 1),
              "S1RTC_vh_vv": S1_LINEAR}


def _request(**overrides) -> GenerationRequest:
    base = {"targets": ["DEM_DEM", "S2L2A_B01_B09"], "conditions": CONDITIONS, "n_samples": 3,
            "steps": STEPS, "seed": 7, "batch_size": 3}
    base.update(overrides)
    return GenerationRequest(**base)


@pytest.fixture(scope="module")
def reference(engine):
    return engine.generate(_request())


def test_result_shapes_units_and_report(engine, reference):
    r = reference
    assert r.samples["DEM_DEM"].shape == (3, 1, 64, 64)
    assert r.samples["S2L2A_B01_B09"].shape == (3, 2, 32, 32)
    assert r.latents["DEM_DEM"].shape == (3, 8, 8, 8)
    assert set(r.samples) == {"DEM_DEM", "S2L2A_B01_B09"}  # others generated and discarded
    dem = r.samples["DEM_DEM"]
    assert dem.min() >= 5.899129519093549e-06 and dem.max() <= 8847.5  # metres, clamped
    assert r.condition_latent == "posterior_mean" and r.seed == 7 and r.steps == STEPS
    assert r.device == "cpu" and r.providers["denoiser"] == cpu_denoiser_providers()
    assert r.generated["DEM_DEM"].all()


def test_same_seed_is_identical_and_independent_of_batching(engine, reference):
    same = engine.generate(_request())
    for key, value in reference.samples.items():
        np.testing.assert_array_equal(same.samples[key], value)
        np.testing.assert_array_equal(same.latents[key], reference.latents[key])
    # another batch size: the same noise per sample; only batched kernels may round differently
    rebatched = engine.generate(_request(batch_size=2))
    for key, value in reference.latents.items():
        np.testing.assert_allclose(rebatched.latents[key], value, rtol=1e-4, atol=1e-3)


def test_different_seeds_and_different_samples_differ(engine, reference):
    other = engine.generate(_request(seed=8))
    z, z_other = reference.latents["DEM_DEM"], other.latents["DEM_DEM"]
    assert np.abs(z - z_other).mean() > 0.1
    assert np.abs(z[0] - z[1]).mean() > 0.1  # samples within one request differ too


def test_conditions_change_the_result(engine, reference):
    dry = dict(CONDITIONS, S1RTC_vh_vv=S1_LINEAR * 100)
    moved = engine.generate(_request(conditions=dry))
    assert np.abs(moved.latents["DEM_DEM"] - reference.latents["DEM_DEM"]).mean() > 1e-3


def test_normalised_inputs_give_the_same_result(engine, reference):
    table = engine.package
    normalised = {k: normalise(table.spec(k), v) for k, v in CONDITIONS.items()}
    same = engine.generate(_request(conditions=normalised, inputs_normalised=True))
    np.testing.assert_array_equal(same.latents["DEM_DEM"], reference.latents["DEM_DEM"])


def test_posterior_sample_and_noise_mode_are_options(engine, reference):
    sampled = engine.generate(_request(condition_latent="sample"))
    assert sampled.condition_latent == "posterior_sample"
    assert np.abs(sampled.latents["DEM_DEM"] - reference.latents["DEM_DEM"]).mean() > 1e-4
    noise = engine.generate(_request(other_modalities="noise"))
    assert noise.other_modalities == "noise"
    assert np.abs(noise.latents["DEM_DEM"] - reference.latents["DEM_DEM"]).mean() > 1e-3


def test_scalar_targets_come_back_in_degrees_and_dates(engine):
    r = engine.generate(GenerationRequest(
        targets=["3d_cartesian_lat_lon", "mean_timestamps"],
        conditions={"S1RTC_vh_vv": S1_LINEAR}, n_samples=2, steps=3, seed=1))
    latlon, date = r.samples["3d_cartesian_lat_lon"], r.samples["mean_timestamps"]
    assert latlon.shape == (2, 1, 1, 2) and np.all(np.abs(latlon[..., 0]) <= 90)
    assert date.shape == (2, 1, 1, 3) and date.dtype == np.int64
    assert np.all((date[..., 1] >= 1) & (date[..., 1] <= 12))
    assert "3d_cartesian_lat_lon" not in r.generated  # images only


def test_progress_reports_every_step_and_cancel_stops_within_one(engine):
    seen: list[tuple[int, int]] = []
    r = engine.generate(_request(n_samples=2, batch_size=1), progress=lambda d, t: seen.append(
        (d, t)))
    assert seen == [(i, 2 * STEPS) for i in range(1, 2 * STEPS + 1)]
    assert r.n_samples == 2

    calls: list[int] = []
    with pytest.raises(Cancelled):
        engine.generate(_request(n_samples=2, batch_size=1),
                        progress=lambda d, t: calls.append(d), cancel=lambda: len(calls) >= 3)
    assert calls == [1, 2, 3]  # no network evaluation after the cancel was seen


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"targets": ["S2L1C_B01_B09_B10"]}, ModalityError, "unknown modality"),
        ({"targets": ["S1RTC_vh_vv"]}, InputError, "both given and generated"),
        ({"targets": []}, InputError, "nothing to generate"),
        ({"conditions": {"S1RTC_vh_vv": np.zeros((3, 192, 192))}}, InputError, "expected"),
        ({"other_modalities": "zeros"}, InputError, "other_modalities"),
        ({"n_samples": 0}, InputError, "n_samples"),
        ({"conditions": {"S1RTC_vh_vv": np.full((2, 192, 192), np.nan)}}, InputError, "NaN"),
    ],
)
def test_invalid_requests_name_the_problem(engine, overrides, error, message):
    with pytest.raises(error, match=message):
        engine.generate(_request(**overrides))
