"""The denoiser's bound path: fixed device buffers, bound once per batch shape, CUDA graphs.

What runs on CUDA (``DenoiserSession`` uses it when the session got the CUDA provider; tests
force it on the CPU, where the same ONNX Runtime calls run on host memory):

* per batch shape, one input buffer per graph input and one output buffer per output are
  allocated on the device once (``OrtValue.ortvalue_from_shape_and_type``) and bound once to
  an ``IOBinding``; every step copies the new solver state *into* those buffers
  (``update_inplace``, the address never changes) and reads the outputs back;
* inputs registered as constant (the clean condition latents of a footprint) are uploaded once
  per footprint and not again at each step;
* with CUDA graphs (``enable_cuda_graph`` on the session) each batch shape gets its own graph
  id (run option ``gpu_graph_id``): ONNX Runtime captures it on the first runs of that shape and
  replays it afterwards. Fixed addresses are what capture needs. A capture refused at run time
  is reported (:attr:`BoundRunner.note`) and the caller reopens the session without graphs.

The solver state itself crosses to the host once per step because the solver is NumPy: per
sample, the base model's latents are 12 x (8 x 24 x 24 .. 8 x 8 x 8) float32, about 0.2 MB each
way, which is well under a millisecond at PCIe speed against a 2.6-12 ms step
(docs/GPU.md gives the argument and the measurement plan).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InferenceError
from .runtime import OnnxModel, import_onnxruntime

logger = logging.getLogger(__name__)

#: batch shapes kept bound at once (each holds its buffers and, on CUDA, a captured graph)
MAX_SHAPES = 8


@dataclass
class _Slot:
    """The buffers and binding of one batch shape."""

    batch: int
    graph_id: int
    binding: Any
    inputs: dict[str, Any]
    outputs: list[Any]
    run_options: Any
    uploaded: dict[str, int] = field(default_factory=dict)  # constant name -> generation


class BoundRunner:
    """Runs ``model`` through fixed, bound buffers (see the module docstring)."""

    def __init__(self, model: OnnxModel) -> None:
        self.model = model
        self.device = model.device
        self.device_id = model.options.cuda_device_id
        self.graphs = model.cuda_graphs
        self.note = "on" if self.graphs else ""
        self._sample_shapes = {o.name: tuple(o.shape[1:]) for o in model.session.get_outputs()}
        bad = {n: s for n, s in self._sample_shapes.items()
               if not all(isinstance(d, int) for d in s)}
        if bad:
            raise InferenceError(f"{model.name}: outputs {bad} have symbolic axes besides the "
                                 "batch; fixed buffers need static shapes")
        self._slots: dict[int, _Slot] = {}
        self._next_graph_id = 0
        self._constants: dict[str, np.ndarray] = {}
        self._generation = 0

    @property
    def constants(self) -> dict[str, np.ndarray]:
        """The inputs registered by :meth:`keep_on_device` (to carry over to a new runner)."""
        return dict(self._constants)

    def keep_on_device(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Inputs (by graph input name) that stay the same until the next call: uploaded once
        per batch shape instead of at every step."""
        self._constants = dict(arrays)
        self._generation += 1

    def _slot(self, batch: int, feeds: Mapping[str, np.ndarray]) -> _Slot:
        slot = self._slots.get(batch)
        if slot is not None:
            return slot
        if len(self._slots) >= MAX_SHAPES:
            self._slots.pop(next(iter(self._slots)))
        ort = import_onnxruntime()
        binding = self.model.session.io_binding()
        inputs = {}
        for name, arr in feeds.items():
            value = ort.OrtValue.ortvalue_from_shape_and_type(
                list(arr.shape), arr.dtype, self.device, self.device_id)
            binding.bind_ortvalue_input(name, value)
            inputs[name] = value
        outputs = []
        for name in self.model.output_names:
            value = ort.OrtValue.ortvalue_from_shape_and_type(
                [batch, *self._sample_shapes[name]], np.float32, self.device, self.device_id)
            binding.bind_ortvalue_output(name, value)
            outputs.append(value)
        run_options = ort.RunOptions()
        if self.graphs:
            run_options.add_run_config_entry("gpu_graph_id", str(self._next_graph_id))
        slot = _Slot(batch, self._next_graph_id, binding, inputs, outputs, run_options)
        self._next_graph_id += 1
        self._slots[batch] = slot
        logger.debug("%s: bound buffers for batch %d (graph id %d)", self.model.name, batch,
                     slot.graph_id)
        return slot

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """One forward on host arrays (all float32, one batch size); outputs as host arrays."""
        batch = int(next(iter(feeds.values())).shape[0])
        slot = self._slot(batch, feeds)
        for name, arr in feeds.items():
            const = self._constants.get(name)
            if const is not None and const is arr and slot.uploaded.get(name) == self._generation:
                continue
            if arr.shape != tuple(slot.inputs[name].shape()):
                raise InferenceError(f"{self.model.name}: {name} has shape {arr.shape}, the "
                                     f"bound buffer {slot.inputs[name].shape()}")
            slot.inputs[name].update_inplace(np.ascontiguousarray(arr))
            if const is not None and const is arr:
                slot.uploaded[name] = self._generation
        try:
            self.model.session.run_with_iobinding(slot.binding, slot.run_options)
        except Exception as exc:
            raise InferenceError(f"{self.model.name}: ONNX Runtime failed: {exc}") from exc
        outs = [v.numpy() for v in slot.outputs]
        # host buffers are reused by the next step: hand out copies (CUDA's are fresh already)
        return [o.copy() for o in outs] if self.device == "cpu" else outs
