"""generate_many: footprints sharing denoiser calls give the samples of one call each."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from copgen_plugin.engine.batches import default_rows, pack, row_bytes
from copgen_plugin.engine.generate import CopgenEngine
from copgen_plugin.engine.package import load_package
from copgen_plugin.engine.requests import GenerationRequest, PartialObservation
from copgen_plugin.engine.runtime import RuntimeOptions
from copgen_plugin.errors import Cancelled

DEMO = Path(__file__).resolve().parents[2] / "resources" / "models" / "copgen-demo"
KEY = "S2L2A_B02_B03_B04_B08"
STEPS = 4


def _requests() -> list[GenerationRequest]:
    """Three footprints unlike each other: different gaps (one held per sample), conditions,
    seeds, sample counts and batch cuts; the last fully generated (no inpainting)."""
    rng = np.random.default_rng(11)
    out = []
    for j, (n, batch) in enumerate([(3, 2), (2, 2), (3, 1)]):
        observed = np.zeros((48, 48), bool)
        observed[:, : 12 * (j + 1)] = j < 2
        values = rng.integers(200, 3000, (n, 4, 48, 48) if j == 1 else (4, 48, 48))
        out.append(GenerationRequest(
            targets=[KEY], partial={KEY: PartialObservation(values.astype(np.uint16), observed)},
            conditions={"DEM_DEM": rng.uniform(100, 900, (1, 16, 16)).astype(np.float32)},
            n_samples=n, steps=STEPS, seed=100 + j, batch_size=batch))
    return out


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> CopgenEngine:
    """The demo package (real ONNX graphs, small enough for many footprints in seconds)."""
    cache = tmp_path_factory.mktemp("cache") / "verified.json"
    return CopgenEngine(load_package(DEMO, cache_path=cache),
                        RuntimeOptions(device="cpu", intra_op_threads=2))


@pytest.fixture(scope="module")
def alone(engine):
    return [engine.generate(r) for r in _requests()]


@contextlib.contextmanager
def counted_denoiser_calls(engine: CopgenEngine) -> Iterator[list[int]]:
    """The engine's real denoiser session, the batch size of each of its calls recorded."""
    calls: list[int] = []
    session = engine.denoiser()
    original = session.__call__

    class Counting:
        def __getattr__(self, name):
            return getattr(session, name)

        def __call__(self, z, t):
            calls.append(len(next(iter(z.values()))))
            return original(z, t)

    engine._denoiser = Counting()
    try:
        yield calls
    finally:
        engine._denoiser = session


def test_shared_denoiser_calls_give_bit_identical_samples(engine, alone):
    with counted_denoiser_calls(engine) as calls:
        together = engine.generate_many(_requests(), max_rows=8)
    # 8 rows: the batches (2, 1 | 2 | 1, 1, 1) of the three requests in one solver run
    assert calls == [8] * STEPS
    for a, b in zip(alone, together, strict=True):
        assert b.n_samples == a.n_samples and b.seed == a.seed
        for key in a.samples:
            assert np.array_equal(a.latents[key], b.latents[key]), key
            assert np.array_equal(a.samples[key], b.samples[key]), key


def test_the_row_budget_splits_the_runs(engine, alone):
    progress = []
    with counted_denoiser_calls(engine) as calls:
        together = engine.generate_many(_requests(), max_rows=3,
                                        progress=lambda d, t: progress.append((d, t)))
    # pieces 2,1 | 2 | 1,1,1 packed in order under 3 rows: [2,1] [2,1] [1,1]
    assert calls == [3] * STEPS + [3] * STEPS + [2] * STEPS
    assert max(calls) <= 3 and progress[-1] == (3 * STEPS, 3 * STEPS)
    for a, b in zip(alone, together, strict=True):
        assert np.array_equal(a.samples[KEY], b.samples[KEY])


def test_cancel_stops_between_steps(engine):
    asked = []

    def cancel() -> bool:  # true from the third question on: after two denoiser calls
        asked.append(1)
        return len(asked) > 2

    with pytest.raises(Cancelled, match=f"after 2 of {STEPS} solver steps"):
        engine.generate_many(_requests(), max_rows=8, cancel=cancel)


def test_pack_keeps_incompatible_requests_apart():
    from copgen_plugin.engine.batches import Piece

    def piece(job: int, size: int) -> Piece:
        return Piece(job=job, rows=np.arange(size), x0=np.zeros((size, 1), np.float32),
                     conditions={}, rngs=[], constraint=None, other_noise=False)

    pieces = [piece(0, 4), piece(1, 4), piece(2, 4), piece(3, 8), piece(4, 2)]
    groups = pack(pieces, ["a", "b", "a", "a", "a"], 8)
    assert [[(p.job, p.size) for p in g] for g in groups] == [
        [(0, 4), (2, 4)], [(1, 4)], [(3, 8)], [(4, 2)]]
    assert [len(g) for g in pack(pieces, ["a"] * 5, None)] == [1] * 5
    assert [[p.job for p in g] for g in pack(pieces, ["a"] * 5, 2)] == [[0], [1], [2], [3], [4]]


def test_default_rows_follow_the_model_size(engine, table):
    demo = engine.package
    # the official 12-modality base: width 1024 and 16 heads assumed (its manifest says none)
    base_row = row_bytes(table)
    assert 80 * 2**20 < base_row < 200 * 2**20  # ~1,000 tokens: ~0.1 GB of activations a row
    assert default_rows(table, "cpu") == 2 * 2**30 // base_row
    assert default_rows(table, "cuda") > default_rows(table, "cpu")
    assert row_bytes(demo) < base_row / 50  # 120 wide, 4 heads, 84 tokens
    assert default_rows(demo, "cpu") == 256  # capped
    assert default_rows(table, "cpu", {"cpu": 1}) == 1  # never below one row


def test_fresh_noise_of_other_modalities_is_drawn_per_sample_as_alone(engine):
    """"noise" mode: the ungiven modalities' noise comes from each sample's own generator at
    every step, in the same order whatever rows share the call."""
    reqs = [GenerationRequest(targets=[KEY], other_modalities="noise", n_samples=2,
                              steps=3, seed=s, batch_size=1) for s in (1, 2)]
    alone = [engine.generate(r) for r in reqs]
    together = engine.generate_many(reqs, max_rows=4)
    for a, b in zip(alone, together, strict=True):
        assert np.array_equal(a.samples[KEY], b.samples[KEY])
    assert not np.array_equal(alone[0].samples[KEY], alone[1].samples[KEY])
