"""Official checkpoints + a graph template -> an installed model package, without torch.

The package is written into a fresh hidden staging folder beside ``dest``: graphs are filled one
tensor at a time (flat memory), every source tensor is checked against the template (missing and
extra keys, shapes) before any graph is written, every graph is opened with a real ONNX Runtime
session, the manifest records the SHA-256 of every source and package file, the engine's package
parser reads the result, and only then is the staging folder renamed to ``dest``. On any error
or cancel the staging folder is removed and ``dest`` is untouched.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from ..engine.verify import sha256_of
from ..errors import Cancelled, CheckpointError, InstallError
from .checkpoints import StateDict, open_state_dict
from .templates import BACKBONE, Template, TensorSlot, fill_graph, load_template

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
MANIFEST = "manifest.json"


def required_vaes(template: str | Path) -> list[str]:
    """The VAE folder names (as in models/configs.py) whose weights ``template`` needs."""
    return load_template(template).vae_folders


def check_sources(template: Template, opened: Mapping[str, StateDict]) -> None:
    """Every source tensor against the template: missing/extra keys and shapes, all named."""
    problems = []
    for source, expected in template.sources.items():
        sd = opened[source]
        got = sd.tensors
        missing = sorted(set(expected) - set(got))
        extra = sorted(set(got) - set(expected))
        if missing:
            problems.append(f"{sd.path}: missing {len(missing)} keys {missing[:6]}")
        if extra:
            problems.append(f"{sd.path}: {len(extra)} unexpected keys {extra[:6]}")
        bad = [f"{k} {list(got[k].shape)} (expected {list(shape)})"
               for k, shape in expected.items() if k in got and got[k].shape != shape]
        if bad:
            problems.append(f"{sd.path}: wrong shapes: {'; '.join(bad[:6])}")
        nonfloat = [f"{k} ({got[k].dtype})" for k in expected if k in got and not got[k].is_float]
        if nonfloat:
            problems.append(f"{sd.path}: not floating point: {nonfloat[:6]}")
    if problems:
        raise CheckpointError(
            f"the weight files do not fit template {template.template_id} "
            f"({template.config}): " + "; ".join(problems))


def install_from_checkpoints(
    template: str | Path,
    backbone: Path,
    vaes: Mapping[str, Path],
    dest: Path,
    *,
    sources: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    precision: str = "fp32",
    verify_sessions: bool = True,
) -> Path:
    """Fill ``template`` from ``backbone`` and ``vaes`` (VAE folder name -> weight file) into
    the new package folder ``dest``; returns ``dest``.

    ``sources`` maps a file path to its provenance (e.g. ``URL@revision``) for the manifest;
    ``precision`` picks the template variant (``fp32`` for CPUs, ``fp16`` for CUDA).
    """
    tpl = load_template(template)
    graphs = tpl.graphs(precision)
    dest = Path(dest).expanduser().absolute()
    if dest.exists() or dest.is_symlink():
        raise InstallError(f"{dest} already exists: choose a new package folder (nothing was "
                           "changed)")
    wanted = tpl.vae_folders
    missing = [f for f in wanted if f not in vaes]
    if missing:
        raise InstallError(f"template {tpl.template_id} needs the VAE folders {missing} "
                           f"(given {sorted(vaes)})")
    files = {BACKBONE: Path(backbone), **{f: Path(vaes[f]) for f in wanted}}
    for role, path in files.items():
        if not path.is_file():
            raise InstallError(f"{role}: weight file {path} does not exist")
    report = progress or (lambda _f, _m: None)
    stop = cancel or (lambda: False)

    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.partial-"))
    try:
        with ExitStack() as stack:
            opened = {role: stack.enter_context(open_state_dict(p)) for role, p in files.items()}
            check_sources(tpl, opened)
            total = sum(s.length for g in graphs for s in g.tensors) or 1
            done = 0

            def between(slot: TensorSlot) -> None:
                nonlocal done
                if stop():
                    raise Cancelled("model installation cancelled")
                report(0.85 * done / total, f"writing {slot.name} ({slot.source}: {slot.key})")
                done += slot.length

            def values(source: str, key: str) -> np.ndarray:
                return opened[source].tensors[key].read()

            for graph in graphs:
                fill_graph(tpl, precision, graph, staging, values, between)
                log.info("filled %s (%d tensors)", graph.file, len(graph.tensors))
        weights = {}
        roles = weight_roles(tpl, precision)
        for i, (source, path) in enumerate(sorted(files.items())):
            if stop():
                raise Cancelled("model installation cancelled")
            report(0.85 + 0.05 * i / len(files), f"hashing {path.name}")
            record: dict[str, Any] = {"file": str(path), "sha256": sha256_of(path),
                                      "bytes": path.stat().st_size}
            if sources and str(path) in sources:
                record["source"] = sources[str(path)]
            weights[roles.get(source, source)] = record
        report(0.9, "writing the manifest")
        write_manifest(tpl, precision, staging, weights)
        report(0.92, "verifying the package")
        verify_package(staging, graphs=[g.file for g in graphs] if verify_sessions else [],
                       cancel=stop)
        staging.chmod(0o755)
        os.rename(staging, dest)  # atomic; fails if dest appeared meanwhile
        report(1.0, f"installed {tpl.manifest.get('model_id')} in {dest}")
        return dest
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def weight_roles(tpl: Template, precision: str) -> dict[str, str]:
    """Source -> role in the manifest's ``weights`` (as models.export writes it): ``denoiser``
    for the backbone, the modality key for a VAE folder (from its ``encoder_<key>.onnx``)."""
    roles = {BACKBONE: "denoiser"}
    for graph in tpl.graphs(precision):
        if graph.file.startswith("encoder_") and graph.tensors:
            roles[graph.tensors[0].source] = graph.file[len("encoder_"):-len(".onnx")]
    return roles


def write_manifest(tpl: Template, precision: str, package: Path,
                   weights: Mapping[str, Any]) -> Path:
    """Template manifest skeleton + precision + source weights + every package file's hash."""
    manifest = copy.deepcopy(dict(tpl.manifest))
    manifest["precision"] = precision
    manifest["exported_by"] = f"copgen_plugin install.convert (template {tpl.template_id})"
    manifest["weights"] = dict(weights)
    manifest["files"] = {
        p.name: {"sha256": sha256_of(p), "bytes": p.stat().st_size}
        for p in sorted(package.iterdir()) if p.is_file() and p.name != MANIFEST}
    path = package / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def verify_package(package: Path, graphs: list[str],
                   cancel: Callable[[], bool] | None = None) -> None:
    """The engine's parser reads the package; each graph opens in a real ORT session."""
    import onnxruntime as ort

    from ..engine.package import load_package

    load_package(package, verify="size")  # the hashes were computed a moment ago
    for name in graphs:
        if cancel is not None and cancel():
            raise Cancelled("model installation cancelled")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        try:
            session = ort.InferenceSession(str(package / name), opts,
                                           providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own exception types
            raise InstallError(f"{name}: ONNX Runtime cannot load the filled graph: {exc}"
                               ) from exc
        del session
