"""The committed copgen-base template agrees with the official key tables and its own graphs."""

from __future__ import annotations

import itertools
from pathlib import Path

import onnx
import pytest

from copgen_plugin.install.convert import required_vaes
from copgen_plugin.install.templates import BACKBONE, SHIPPED_DIR, load_template
from models.configs import IMAGE_KEYS, MODALITIES
from tests.models.conftest import key_table

pytestmark = pytest.mark.skipif(not (SHIPPED_DIR / "copgen-base").is_dir(),
                                reason="resources/templates/copgen-base not built")


def test_sources_are_the_official_checkpoints() -> None:
    tpl = load_template("copgen-base")
    assert tpl.config == "base" and tpl.manifest["model_id"] == "copgen-base"
    assert required_vaes("copgen-base") == sorted(str(MODALITIES[k].vae_folder)
                                                   for k in IMAGE_KEYS)
    assert dict(tpl.sources[BACKBONE]) == key_table("base_state_dict_keys.tsv")
    s2 = str(MODALITIES["S2L2A_B02_B03_B04_B08"].vae_folder)
    assert dict(tpl.sources[s2]) == key_table("vae_S2L2A_B02_B03_B04_B08_keys.tsv")


def test_graphs_reference_exactly_the_listed_external_tensors() -> None:
    tpl = load_template("copgen-base")
    assert "fp32" in tpl.variants
    for precision, graphs in tpl.variants.items():
        assert sorted(g.file for g in graphs) == sorted(
            ["denoiser.onnx"] + [f"{kind}_{k}.onnx" for k in IMAGE_KEYS
                                 for kind in ("encoder", "decoder")])
        for graph in graphs:
            model = onnx.load(str(tpl.root / precision / graph.file), load_external_data=False)
            external = {}
            for init in model.graph.initializer:
                if init.data_location == onnx.TensorProto.EXTERNAL:
                    info = {e.key: e.value for e in init.external_data}
                    external[init.name] = (info["location"], int(info["offset"]),
                                           int(info["length"]), tuple(init.dims))
            listed = {s.name: (graph.data_file, s.offset, s.length, s.shape)
                      for s in graph.tensors}
            assert external == listed, graph.file
            spans = sorted((s.offset, s.offset + s.length) for s in graph.tensors)
            assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
            assert spans[-1][1] == graph.data_bytes
            used = {s.key for s in graph.tensors}
            assert used <= set(tpl.sources[graph.tensors[0].source]), graph.file
    # every backbone key feeds the denoiser graph (nothing silently dropped)
    den = next(g for g in tpl.variants["fp32"] if g.file == "denoiser.onnx")
    assert {s.key for s in den.tensors} == set(tpl.sources[BACKBONE])


def test_shipped_template_is_small(repo_root: Path) -> None:
    size = sum(p.stat().st_size for p in (SHIPPED_DIR / "copgen-base").rglob("*"))
    assert size < 20 * 1024 * 1024
