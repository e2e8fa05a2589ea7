"""The U-ViT re-implementation against the official outputs of the parity kit (tol 1e-5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from models.checkpoints import load_state_dict_file, load_strict
from models.configs import ALL_KEYS, BASE_PARAMETERS, get_size, select_modalities
from models.denoiser import CopgenUViT, count_parameters
from models.onnx_export import export_denoiser
from tests.models.conftest import key_table, max_abs, ort_session

BACKBONE_TOL = 1e-5  # do not loosen: a wrong LayerNorm eps shows up only 2.3x above it


@pytest.fixture(scope="module")
def kit_net(kit: Path, nnet_config: dict[str, Any]) -> CopgenUViT:
    net = CopgenUViT.from_official_kwargs(nnet_config["constructor_kwargs"])
    load_strict(net, load_state_dict_file(kit / "nnet_tiny.pth"), "nnet_tiny.pth")
    return net.eval()


def test_network_order_is_alphabetical_not_config_order(nnet_config: dict[str, Any],
                                                        cases: dict[str, Any]) -> None:
    net = CopgenUViT.from_official_kwargs(nnet_config["constructor_kwargs"])
    official = [str(m) for m in cases["meta__modality_order"]]
    assert net.config.keys == official == nnet_config["modality_order"] == ALL_KEYS
    assert net.config.num_tokens == 834


def test_kit_checkpoint_loads_strictly(kit_net: CopgenUViT, nnet_config: dict[str, Any]) -> None:
    assert count_parameters(kit_net) == nnet_config["derived"]["num_parameters"] == 361_538
    assert len(kit_net.state_dict()) == nnet_config["derived"]["state_dict_entries"]
    assert not any(k.startswith("time_img_embeds") for k in kit_net.state_dict())


def test_tiny_keys_are_base_keys(kit_net: CopgenUViT) -> None:
    assert set(kit_net.state_dict()) <= set(key_table("base_state_dict_keys.tsv"))


@pytest.mark.parametrize("pattern", [0, 1, 2])
def test_backbone_matches_official(kit_net: CopgenUViT, cases: dict[str, Any],
                                   pattern: int) -> None:
    order = kit_net.config.keys
    t = cases[f"backbone__t__p{pattern}"]
    with torch.no_grad():
        out = kit_net([torch.from_numpy(cases[f"backbone__z__{m}"]) for m in order],
                      [torch.from_numpy(t[:, j].copy()) for j in range(len(order))])
    diffs = {m: max_abs(o, cases[f"backbone__eps__p{pattern}__{m}"])
             for m, o in zip(order, out, strict=True)}
    assert max(diffs.values()) <= BACKBONE_TOL, diffs


def test_backbone_onnx_matches_official_and_torch(kit_net: CopgenUViT, cases: dict[str, Any],
                                                  tmp_path: Path) -> None:
    (path,) = export_denoiser(kit_net, tmp_path / "denoiser.onnx")
    sess = ort_session(path)
    order = kit_net.config.keys
    assert [i.name for i in sess.get_inputs()] == [f"z_{k}" for k in order] + [
        f"t_{k}" for k in order]
    assert [o.name for o in sess.get_outputs()] == [f"eps_{k}" for k in order]
    for pattern in range(3):
        t = cases[f"backbone__t__p{pattern}"]
        feeds = {f"z_{m}": cases[f"backbone__z__{m}"] for m in order}
        feeds |= {f"t_{m}": t[:, j].copy() for j, m in enumerate(order)}
        outs = sess.run(None, feeds)
        with torch.no_grad():
            ref = kit_net([torch.from_numpy(feeds[f"z_{m}"]) for m in order],
                          [torch.from_numpy(feeds[f"t_{m}"]) for m in order])
        for m, o, r in zip(order, outs, ref, strict=True):
            assert max_abs(o, cases[f"backbone__eps__p{pattern}__{m}"]) <= BACKBONE_TOL, m
            assert max_abs(o, r) <= 1e-4, m
    # dynamic batch: batch 1 and 3 run through the same graph
    for b in (1, 3):
        feeds = {f"z_{m}": cases[f"backbone__z__{m}"][[0] * b] for m in order}
        feeds |= {f"t_{m}": cases["backbone__t__p2"][[0] * b, j].copy()
                  for j, m in enumerate(order)}
        outs = sess.run(None, feeds)
        for m, o in zip(order, outs, strict=True):
            assert max_abs(o, cases[f"backbone__eps__p2__{m}"][[0] * b]) <= BACKBONE_TOL


def test_config_sizes_have_the_reference_parameter_counts() -> None:
    """Counted on the meta device: no memory is allocated for the big configs."""
    expected = {"base": BASE_PARAMETERS, "large": 501_092_674, "huge": 951_274_306}
    for name, count in expected.items():
        with torch.device("meta"):
            net = CopgenUViT(get_size(name).backbone(select_modalities(None)))
        assert count_parameters(net) == count, name
