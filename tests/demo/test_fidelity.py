"""The S2 tokenizer's round-trip figures (issue 19): RMSE in DN and the gradient ratio."""

from __future__ import annotations

import numpy as np
import pytest

from models.demo import fidelity
from models.demo.data import HELD_OUT_SEED
from models.demo.world import generate_scene


def _box_blur(images: np.ndarray) -> np.ndarray:
    padded = np.pad(images, [(0, 0)] * (images.ndim - 2) + [(1, 1), (1, 1)], mode="edge")
    h, w = images.shape[-2:]
    return sum(padded[..., i:i + h, j:j + w] for i in range(3) for j in range(3)) / 9.0


def test_held_back_footprints_are_the_benchmarks_scenes() -> None:
    truth = fidelity.held_back_s2(2)
    assert fidelity.TOKENIZER_SEED >= HELD_OUT_SEED  # never a training scene
    assert truth.shape == (2, 4, 48, 48) and truth.dtype == np.float32
    np.testing.assert_array_equal(truth[1], generate_scene(fidelity.TOKENIZER_SEED + 1).s2)


def test_figures_of_a_perfect_an_offset_and_a_blurred_round_trip() -> None:
    truth = fidelity.held_back_s2(2)
    assert fidelity.roundtrip_figures(truth, truth) == (0.0, 1.0)
    rmse, ratio = fidelity.roundtrip_figures(truth, truth + 100.0)
    assert rmse == pytest.approx(100.0) and ratio == pytest.approx(1.0)
    rmse, ratio = fidelity.roundtrip_figures(truth, _box_blur(truth))
    assert rmse > 20.0 and 0.2 < ratio < 0.8  # a blur keeps the mean and loses the edges


def test_gradient_magnitude_is_the_forward_difference_norm() -> None:
    image = np.zeros((3, 3))
    image[:, 2] = 4.0  # a vertical edge
    image[2, :] += 3.0
    grad = fidelity.gradient_magnitude(image)
    np.testing.assert_allclose(grad, [[0.0, 4.0], [3.0, 5.0]])


def test_shapes_must_match() -> None:
    with pytest.raises(ValueError, match="shapes differ"):
        fidelity.roundtrip_figures(np.zeros((1, 4, 8, 8)), np.zeros((1, 4, 8, 7)))
