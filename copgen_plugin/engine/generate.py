"""One footprint (or several independent ones, ``generate_many``): normalise and encode the
conditions once, sample N, decode, de-normalise.

This is the official ``CopgenModel.generate`` order of operations (COPGEN_REFERENCE.md 4.3)
with the engine's choices made explicit:

* conditions are encoded to the **posterior mean x scale factor** by default (deterministic;
  the official code draws one posterior sample, available as ``condition_latent="sample"``);
  the result's ``condition_latent`` field says which was used;
* modalities neither given nor requested are generated jointly and discarded (official CLI),
  or fed fresh noise at t = 0 (official API) with ``other_modalities="noise"``;
* partly observed targets are held by latent inpainting (``inpaint``), and each decoded
  sample is harmonised with the observation at the gap's edge (``harmonise``);
* sample i always draws its noise from its own generator, seeded from (seed, i), so the same
  seed gives the same samples whatever the batch size, and different seeds differ;
* independent footprints may share denoiser calls (``batches``): the same samples as one
  call per footprint.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..callbacks import CancelFn
from ..errors import Cancelled, InputError
from .batches import Piece, make_pieces, pack, solve_group
from .harmonise import harmonic_offset
from .inpaint import HeldLatent, latent_observed_mask
from .joint import LatentLayout
from .modalities import (
    ModalitySpec,
    denormalise,
    invert_code_remap,
    normalise,
)
from .package import ModelPackage, load_package
from .requests import (
    CONDITION_LATENTS,
    OTHER_MODALITIES,
    GenerationRequest,
    GenerationResult,
    PartialObservation,
)
from .runtime import DenoiserSession, OnnxModel, RuntimeOptions
from .sampler import DPMSolver
from .schedule import NoiseSchedule
from .tokenizer import Tokenizer
from .variants import VariantChoice, initial_choice, open_denoiser

logger = logging.getLogger(__name__)

#: solver progress: (evaluations done, total); not the fill's (fraction, message) ProgressFn
StepProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class _Plan:
    """Roles of the modalities in one request, each in network order."""

    outputs: tuple[str, ...]  # returned: targets and partial keys
    generated: tuple[str, ...]  # in the joint state: outputs (+ others in "generate" mode)
    conditions: tuple[str, ...]
    noise_others: tuple[str, ...]  # fed fresh noise ("noise" mode)


def _fresh_seed() -> int:
    """A seed from the OS entropy, for requests that give none."""
    entropy = np.random.SeedSequence().entropy
    assert isinstance(entropy, int)  # generated entropy is one int
    return entropy


def _condition_generator(seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(0,))))


class CopgenEngine:
    """A model package with its ONNX Runtime sessions (created lazily, then reused)."""

    def __init__(self, package: ModelPackage, options: RuntimeOptions | None = None) -> None:
        self.package = package
        self.options = options or RuntimeOptions()
        self.schedule = NoiseSchedule.from_settings(package.schedule)
        self._denoiser: DenoiserSession | None = None
        self._tokenizers: dict[str, Tokenizer] = {}
        self._variant: VariantChoice | None = None

    @classmethod
    def open(cls, path: str | Path, options: RuntimeOptions | None = None, *,
             verify: str = "cached") -> CopgenEngine:
        return cls(load_package(path, verify=verify), options)

    # -- sessions --------------------------------------------------------------------------

    @property
    def variant(self) -> VariantChoice:
        """The graph variant in use: the denoiser's once it is open (the device it actually
        got), else the one expected for the requested device."""
        if self._variant is None:
            self._variant = initial_choice(self.package, self.options)
        return self._variant

    @property
    def variant_line(self) -> str:
        """The variant for the run report, with a CUDA graph refusal at run time if any."""
        note = self._denoiser.cuda_graphs_note if self._denoiser is not None else ""
        return (replace(self.variant, cuda_graphs=note) if note else self.variant).describe()

    def denoiser(self) -> DenoiserSession:
        if self._denoiser is None:
            pkg = self.package
            model, self._variant = open_denoiser(pkg, self.options)
            shapes = {f"z_{k}": pkg.modalities[k].latent_shape for k in pkg.network_order}
            times = {f"t_{k}": () for k in pkg.network_order}
            outs = {f"eps_{k}": pkg.modalities[k].latent_shape for k in pkg.network_order}
            model.check_interface({**shapes, **times}, outs)
            path, name = model.path, model.name
            self._denoiser = DenoiserSession(
                model, pkg.network_order,
                reopen=lambda: OnnxModel(path, self.options, name=name))
        return self._denoiser

    def tokenizer(self, key: str) -> Tokenizer:
        if key not in self._tokenizers:
            spec = self.package.spec(key)
            if not spec.is_image or spec.encoder is None or spec.decoder is None:
                raise InputError(f"{key} is a scalar modality: it has no tokenizer")
            variant = self.variant.variant.name
            enc_file = self.package.variant_file(variant, f"encoder:{key}")
            dec_file = self.package.variant_file(variant, f"decoder:{key}")
            enc = OnnxModel(self.package.path(enc_file), self.options, name=enc_file)
            dec = OnnxModel(self.package.path(dec_file), self.options, name=dec_file)
            self._tokenizers[key] = Tokenizer(spec, enc, dec)
        return self._tokenizers[key]

    def close(self) -> None:
        """Drop the sessions (their memory is freed once nothing else holds them)."""
        self._denoiser = None
        self._tokenizers.clear()
        self._variant = None

    @property
    def providers(self) -> dict[str, list[str]]:
        """Providers each created session actually runs on."""
        out = {} if self._denoiser is None else {"denoiser": self._denoiser.model.providers}
        for key, tok in self._tokenizers.items():
            out[f"encoder_{key}"] = tok.encoder.providers
            out[f"decoder_{key}"] = tok.decoder.providers
        return out

    # -- one footprint ---------------------------------------------------------------------

    def _plan(self, req: GenerationRequest) -> _Plan:
        pkg = self.package
        for key in [*req.targets, *req.conditions, *req.partial]:
            pkg.spec(key)  # ModalityError naming the known keys
        if req.other_modalities not in OTHER_MODALITIES:
            raise InputError(f"other_modalities must be one of {OTHER_MODALITIES}")
        if req.condition_latent not in CONDITION_LATENTS:
            raise InputError(f"condition_latent must be one of {CONDITION_LATENTS}")
        if req.n_samples < 1 or req.batch_size < 1:
            raise InputError("n_samples and batch_size must be >= 1")
        both = (set(req.targets) | set(req.partial)) & set(req.conditions)
        if both:
            raise InputError(f"modalities both given and generated: {sorted(both)}")
        scalar_partial = [k for k in req.partial if not pkg.modalities[k].is_image]
        if scalar_partial:
            raise InputError(f"scalar modalities cannot be partly observed: {scalar_partial}")
        wanted = set(req.targets) | set(req.partial)
        if not wanted:
            raise InputError("nothing to generate: give at least one target modality")
        order = pkg.network_order
        rest = [k for k in order if k not in wanted and k not in req.conditions]
        generate_rest = req.other_modalities == "generate"
        return _Plan(
            outputs=tuple(k for k in order if k in wanted),
            generated=tuple(k for k in order if k in wanted or (generate_rest and k in rest)),
            conditions=tuple(k for k in order if k in req.conditions),
            noise_others=() if generate_rest else tuple(rest),
        )

    def _to_network(self, spec: ModalitySpec, value: Any, req: GenerationRequest) -> np.ndarray:
        """Physical (or already normalised) value -> network-space array with a batch axis 1."""
        if req.inputs_normalised:
            x = np.asarray(value, dtype=np.float32)
        else:
            remap = req.lulc_code_remap if spec.family == "LULC" else None
            x = normalise(spec, value, s1_in_db=req.s1_in_db, code_remap=remap)
        x = x.reshape(1, *spec.image_shape) if x.ndim == 3 else x
        if x.shape != (1, *spec.image_shape):
            raise InputError(f"{spec.key}: expected one footprint {spec.image_shape}, got "
                             f"{x.shape}")
        if not np.isfinite(x).all():
            raise InputError(f"{spec.key}: the input holds NaN or infinite values (nodata?); "
                             "give gaps as a partial observation with a mask")
        return x

    def _encode_condition(self, key: str, value: Any, req: GenerationRequest,
                          rng: np.random.Generator) -> np.ndarray:
        spec = self.package.spec(key)
        x = self._to_network(spec, value, req)
        if not spec.is_image:
            return x
        eps = None
        if req.condition_latent == "sample":
            eps = rng.standard_normal((1, *spec.latent_shape), dtype=np.float32)
        return self.tokenizer(key).encode(x, eps)

    def _held_latent(self, key: str, obs: PartialObservation, req: GenerationRequest
                     ) -> tuple[HeldLatent, np.ndarray]:
        """Encode the observation (shared, or one per sample) with its gaps made neutral;
        also the observation in network space (1 or N, C, H, W; gap pixels made harmless),
        normalised this once, for the harmonisation of the decoded samples."""
        spec = self.package.spec(key)
        observed = np.asarray(obs.observed, dtype=bool)
        if observed.shape != spec.image_shape[1:]:
            raise InputError(f"{key}: observed mask {observed.shape}, expected "
                             f"{spec.image_shape[1:]}")
        values = np.array(obs.values, copy=True)
        per_sample = values.ndim == 4
        if values.ndim not in (3, 4) or values.shape[-2:] != observed.shape or (
                per_sample and values.shape[0] != req.n_samples):
            raise InputError(f"{key}: partial values must be (C, H, W) or (n_samples, C, H, W) "
                             f"on the {observed.shape} grid, got {values.shape}")
        stack = values if per_sample else values[None]
        if not req.inputs_normalised:  # gap pixels may hold nodata or NaN: make them harmless
            stack[:, :, ~observed] = 0
        x = np.concatenate([self._to_network(spec, v, req) for v in stack])
        network = x.copy()
        for c in range(x.shape[1]):  # gaps -> mean of the observed pixels (keeps the encoder calm)
            gap = x[:, c][:, ~observed]
            fill = x[:, c][:, observed].mean(axis=1, keepdims=True) if observed.any() else 0.0
            x[:, c][:, ~observed] = np.broadcast_to(fill, gap.shape)
        cells = latent_observed_mask(observed, spec.latent_shape[1:], margin=req.inpaint_margin)
        latent = self.tokenizer(key).encode(x) if cells.any() else np.zeros(
            (len(x), *spec.latent_shape), np.float32)
        logger.info("%s: %d of %d latent cells held by inpainting%s", key, int(cells.sum()),
                    cells.size, " (one observation per sample)" if per_sample else "")
        return HeldLatent(latent, cells), network

    def generate(self, req: GenerationRequest, *, progress: StepProgressFn | None = None,
                 cancel: CancelFn | None = None) -> GenerationResult:
        """Generate ``req.n_samples`` samples of the requested modalities for one footprint."""
        return self.generate_many([req], progress=progress, cancel=cancel)[0]

    def generate_many(self, requests: Sequence[GenerationRequest], *,
                      max_rows: int | None = None, progress: StepProgressFn | None = None,
                      cancel: CancelFn | None = None) -> list[GenerationResult]:
        """Several independent footprints, their sample batches sharing denoiser calls.

        Each request is split into its sample batches (``batch_size``) exactly as alone, and
        each batch draws its noise from its own samples' generators; ``batches.pack`` puts
        compatible batches of several requests together into one solver run of at most
        ``max_rows`` rows (None: every batch alone, the one-footprint path). The solver and
        the inpainting act row by row, and every batch is decoded and harmonised alone, so
        the samples are those of one ``generate`` per request wherever the denoiser gives
        each row the same result whatever rows share its call (ONNX Runtime's CPU provider
        does; tests/engine/test_batches.py holds it to that).
        """
        jobs = [self._job(req) for req in requests]
        pieces = [p for j, job in enumerate(jobs) for p in job.pieces(j)]
        groups = pack(pieces, [job.signature for job in jobs], max_rows)
        total = sum(jobs[g[0].job].steps for g in groups)
        done = 0

        def on_eval(_: int, __: int) -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, total)
            if cancel is not None and cancel():
                raise Cancelled(f"cancelled after {done} of {total} solver steps")

        denoiser = self.denoiser()
        for group in groups:
            if cancel is not None and cancel():
                raise Cancelled(f"cancelled after {done} of {total} solver steps")
            job = jobs[group[0].job]
            states = solve_group(group, job.solver, job.layout, denoiser, self.package.specs,
                                 num_train_timesteps=self.schedule.num_train_timesteps,
                                 on_eval=on_eval)
            for piece, x in zip(group, states, strict=True):
                jobs[piece.job].out.add(job.layout.unpack(x), piece.rows)
        return [job.out.result(job.seed, job.steps, denoiser.model.device, self.providers)
                for job in jobs]

    def _job(self, req: GenerationRequest) -> _Job:
        """One request made ready to sample: plan, solver, encoded conditions, held latents."""
        plan = self._plan(req)
        pkg = self.package
        steps = req.steps or pkg.solver.steps
        solver = DPMSolver(self.schedule, steps=steps, t_start=pkg.solver.t_start,
                           t_end=pkg.solver.t_end)
        seed = int(req.seed) if req.seed is not None else _fresh_seed()
        cond_rng = _condition_generator(seed)
        conditions = {k: self._encode_condition(k, req.conditions[k], req, cond_rng)
                      for k in plan.conditions}
        observations = {k: self._held_latent(k, req.partial[k], req) for k in plan.outputs
                        if k in req.partial}
        held = {k: h for k, (h, _) in observations.items()}
        layout = LatentLayout(pkg.specs, plan.generated)
        out = _Outputs(self, plan, req, held, {k: x for k, (_, x) in observations.items()})
        return _Job(self, req, plan, steps, seed, solver, conditions, held, layout, out)


@dataclass
class _Job:
    """One request ready to sample; its sample batches become :class:`Piece` s."""

    engine: CopgenEngine
    req: GenerationRequest
    plan: _Plan
    steps: int
    seed: int
    solver: DPMSolver
    conditions: dict[str, np.ndarray]
    held: dict[str, HeldLatent]
    layout: LatentLayout
    out: _Outputs

    @property
    def signature(self) -> tuple[object, ...]:
        """Jobs with equal signatures may share a solver run (same state layout, inputs,
        solver times)."""
        return (self.plan.generated, self.plan.conditions, self.plan.noise_others, self.steps)

    def pieces(self, job: int) -> list[Piece]:
        """The request's sample batches, as the one-footprint path always cut them."""
        req = self.req
        return make_pieces(job, seed=self.seed, n_samples=req.n_samples,
                           batch_size=req.batch_size, layout=self.layout,
                           conditions=self.conditions, held=self.held,
                           schedule=self.engine.schedule,
                           other_noise=bool(self.plan.noise_others))


class _Outputs:
    """Decode, harmonise, de-normalise and composite, batch by batch.

    Observed pixels of a partial observation are put back on the native grid
    (``composite_observed``): a caller that resamples the samples onto another grid (the 20
    and 60 m groups onto a 10 m target) then blends the observation, not the decoder's
    version of it, into the gap pixels next to it. The guarantee that observed pixels of a
    *file* pass through bit for bit is the caller's writer (``geo.write``'s mask) alone.
    """

    def __init__(self, engine: CopgenEngine, plan: _Plan, req: GenerationRequest,
                 held: Mapping[str, HeldLatent], network: Mapping[str, np.ndarray]) -> None:
        self.engine, self.plan, self.req, self.held = engine, plan, req, held
        pkg = engine.package
        self.samples: dict[str, list[np.ndarray]] = {k: [] for k in plan.outputs}
        self.latents: dict[str, list[np.ndarray]] = {k: [] for k in plan.outputs}
        self.generated: dict[str, np.ndarray] = {}
        self.observed_values: dict[str, np.ndarray] = {}  # physical, for compositing
        self.observed_network: dict[str, np.ndarray] = {}  # network space, for harmonising
        for key in plan.outputs:
            spec = pkg.modalities[key]
            if not spec.is_image:
                continue
            part = req.partial.get(key)
            self.generated[key] = (np.ones(spec.image_shape[1:], bool) if part is None
                                   else ~np.asarray(part.observed, dtype=bool))
            if part is not None and req.composite_observed:
                values = np.asarray(part.values)
                stack = values if values.ndim == 4 else values[None]
                if req.inputs_normalised:
                    stack = denormalise(spec, stack.astype(np.float32))
                self.observed_values[key] = stack  # (1 or N, C_raw, H, W) physical
            if part is not None and req.harmonise and not spec.is_categorical:
                self.observed_network[key] = network[key]

    def add(self, latents: Mapping[str, np.ndarray], rows: np.ndarray) -> None:
        """One batch: ``rows`` are the sample indices of its rows."""
        pkg, req = self.engine.package, self.req
        for key in self.plan.outputs:
            spec = pkg.modalities[key]
            z = np.array(latents[key], dtype=np.float32)
            x = self.engine.tokenizer(key).decode(z) if spec.is_image else z
            if key in self.observed_network:
                held = self.observed_network[key]
                held = held if len(held) == 1 else held[rows]
                x = x + harmonic_offset(x, held, ~self.generated[key])
            remap = req.lulc_code_remap if spec.family == "LULC" else None
            phys = denormalise(spec, x, code_remap=invert_code_remap(remap) if remap else None)
            if key in self.observed_values:
                obs = ~self.generated[key]
                values = self.observed_values[key]
                values = values if len(values) == 1 else values[rows]
                phys[:, :, obs] = values[:, :, obs]
            self.latents[key].append(z)
            self.samples[key].append(phys)

    def result(self, seed: int, steps: int, device: str,
               providers: dict[str, list[str]]) -> GenerationResult:
        pkg, req = self.engine.package, self.req
        return GenerationResult(
            samples={k: np.concatenate(v) for k, v in self.samples.items()},
            latents={k: np.concatenate(v) for k, v in self.latents.items()},
            generated=self.generated,
            latent_held={k: h.cells for k, h in self.held.items()},
            condition_latent="posterior_mean" if req.condition_latent == "mean"
            else "posterior_sample",
            other_modalities=req.other_modalities, seed=seed, steps=steps,
            n_samples=req.n_samples, device=device, providers=providers,
            model_id=pkg.model_id, model_version=pkg.model_version,
        )
