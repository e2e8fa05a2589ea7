"""Sample batches of several footprints in one solver run: one denoiser call per step.

A footprint's samples are split into batches (``GenerationRequest.batch_size``); each batch is
a :class:`Piece`: its initial noise, its clean conditions tiled to its rows, its samples' own
generators (for the "other" modalities' fresh noise) and its inpainting constraint. Pieces of
independent footprints (one wavefront of the footprint scan) are packed into groups of at most
``max_rows`` rows and solved together: the solver's update is elementwise per row, the
constraint is applied piece by piece to its own rows and each generator draws what it would
draw alone, in the same order, so every row sees the arithmetic of its own batch; the only
shared operation is the denoiser call itself.

The budget: :func:`default_rows` turns a memory budget per denoiser call into rows, from the
backbone's tokens and width (an estimate of the activations one row holds at the peak).
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .inpaint import HeldLatent, LatentInpainting
from .joint import JointNoiseModel, LatentLayout, NoiseSource
from .modalities import ModalitySpec
from .package import ModelPackage
from .runtime import DenoiserSession
from .sampler import Constraint, DPMSolver, EvalCallback
from .schedule import NoiseSchedule

logger = logging.getLogger(__name__)

#: memory one denoiser call may hold for activations, per device (bytes): a 2-core CPU box
#: has a few GB to spare beside QGIS; a CUDA card at least 8 GB beside the weights
MEMORY_BUDGET = {"cpu": 2 * 2**30, "cuda": 6 * 2**30}
#: rows per call are capped: beyond this a CUDA kernel is saturated and only latency grows
MAX_ROWS = 256
#: the backbone COP-GEN base has, used when a package does not say (a conservative guess)
BASE_WIDTH, BASE_HEADS, BASE_MLP_RATIO = 1024, 16, 4.0


@dataclass
class Piece:
    """One sample batch of one request (``job``): ``rows`` are its sample indices."""

    job: int
    rows: np.ndarray
    x0: np.ndarray  # (b, D) initial state
    conditions: dict[str, np.ndarray]  # key -> (b, C, h, w) clean latents
    rngs: list[np.random.Generator]  # one per row: the sample's own generator
    constraint: Constraint | None
    other_noise: bool  # the "other" modalities are fed fresh noise from ``rngs``

    @property
    def size(self) -> int:
        return len(self.rows)


def sample_generator(seed: int, index: int) -> np.random.Generator:
    """The generator of sample ``index``: independent of batching."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(1, index))))


def make_pieces(job: int, *, seed: int, n_samples: int, batch_size: int, layout: LatentLayout,
                conditions: Mapping[str, np.ndarray], held: Mapping[str, HeldLatent],
                schedule: NoiseSchedule, other_noise: bool) -> list[Piece]:
    """One request's sample batches of ``batch_size``, each with its samples' initial noise
    drawn from their own generators (``sample_generator(seed, i)``)."""
    out = []
    for start in range(0, n_samples, batch_size):
        rows = np.arange(start, min(start + batch_size, n_samples))
        rngs = [sample_generator(seed, int(i)) for i in rows]
        x0 = layout.pack({k: np.stack([r.standard_normal(layout.specs[k].latent_shape,
                                                         dtype=np.float32) for r in rngs])
                          for k in layout.keys})
        b = len(rngs)
        tiled = {k: np.ascontiguousarray(np.broadcast_to(v, (b, *v.shape[1:])))
                 for k, v in conditions.items()}
        held_here = {k: HeldLatent(h.latent if len(h.latent) == 1 else h.latent[rows], h.cells)
                     for k, h in held.items()}
        constraint = LatentInpainting(schedule, layout, held_here, x0) if held else None
        out.append(Piece(job=job, rows=rows, x0=x0, conditions=tiled, rngs=rngs,
                         constraint=constraint, other_noise=other_noise))
    return out


def pack(pieces: Sequence[Piece], signatures: Sequence[Hashable], max_rows: int | None
         ) -> list[list[Piece]]:
    """Groups of pieces solved together, in the pieces' order: a group holds pieces of equal
    job ``signatures`` only, at most ``max_rows`` rows (a piece larger than that alone);
    ``None``: every piece alone."""
    if max_rows is None:
        return [[p] for p in pieces]
    groups: list[list[Piece]] = []
    open_: dict[Hashable, list[Piece]] = {}
    for p in pieces:
        sig = signatures[p.job]
        group = open_.get(sig)
        if group is None or sum(q.size for q in group) + p.size > max_rows:
            group = []
            groups.append(group)
            open_[sig] = group
        group.append(p)
    return groups


class _RowConstraints:
    """Each piece's constraint on its own rows of the joint state."""

    def __init__(self, group: Sequence[Piece]) -> None:
        self.parts: list[tuple[slice, Constraint]] = []
        start = 0
        for p in group:
            if p.constraint is not None:
                self.parts.append((slice(start, start + p.size), p.constraint))
            start += p.size

    def apply(self, x: np.ndarray, t: float) -> np.ndarray:
        x = x.copy()
        for rows, c in self.parts:
            x[rows] = c.apply(x[rows], t)
        return x

    def finish(self, x: np.ndarray) -> np.ndarray:
        x = x.copy()
        for rows, c in self.parts:
            x[rows] = c.finish(x[rows])
        return x


def _other_noise(group: Sequence[Piece]) -> NoiseSource:
    """The "other" modalities' fresh noise: each row from its own generator."""
    rngs = [r for p in group for r in p.rngs]

    def draw(key: str, shape: tuple[int, ...]) -> np.ndarray:
        return np.stack([r.standard_normal(shape[1:], dtype=np.float32) for r in rngs])

    return draw


def solve_group(group: Sequence[Piece], solver: DPMSolver, layout: LatentLayout,
                denoiser: DenoiserSession, specs: Sequence[ModalitySpec], *,
                num_train_timesteps: int, on_eval: EvalCallback | None = None
                ) -> list[np.ndarray]:
    """Solve the pieces of one group together; their final states, one per piece."""
    x0 = group[0].x0 if len(group) == 1 else np.concatenate([p.x0 for p in group])
    conditions = {k: (v if len(group) == 1 else np.concatenate([p.conditions[k] for p in group]))
                  for k, v in group[0].conditions.items()}
    joint = JointNoiseModel(specs, layout, denoiser, conditions,
                            other_noise=_other_noise(group) if group[0].other_noise else None,
                            num_train_timesteps=num_train_timesteps)
    denoiser.keep_on_device(joint.conditions)
    if len(group) == 1:
        constraint = group[0].constraint
    else:
        rows = _RowConstraints(group)
        constraint = rows if rows.parts else None
    x = solver.sample(x0, joint, constraint=constraint, on_eval=on_eval)
    if len(group) == 1:
        return [x]
    bounds = np.cumsum([0] + [p.size for p in group])
    return [x[int(a):int(b)] for a, b in itertools.pairwise(bounds)]


def row_bytes(package: ModelPackage) -> int:
    """Activation bytes one row of a denoiser call holds at its peak (an estimate, fp32):
    the attention scores of all heads (T^2 each, twice: scores and softmax) plus the token
    activations of one block (T x width x (mlp_ratio + 6)); T = all modalities' tokens
    (2 x 2 latent patches per token; one per scalar)."""
    tokens = 0
    for spec in package.specs:
        if spec.is_image:
            _, h, w = spec.latent_shape
            tokens += max(1, h // 2) * max(1, w // 2)
        else:
            tokens += 1
    arch = package.architecture
    width = int(arch.get("embed_dim") or BASE_WIDTH)
    heads = int(arch.get("num_heads") or BASE_HEADS)
    mlp = float(arch.get("mlp_ratio") or BASE_MLP_RATIO)
    return int(4 * (2 * heads * tokens * tokens + tokens * width * (mlp + 6)))


def default_rows(package: ModelPackage, device: str,
                 budget: Mapping[str, int] = MEMORY_BUDGET) -> int:
    """Rows per denoiser call that fit the device's memory budget (at least 1)."""
    per_row = row_bytes(package)
    rows = budget.get(device, budget["cpu"]) // max(per_row, 1)
    return int(min(MAX_ROWS, max(1, math.floor(rows))))
