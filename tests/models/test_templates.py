"""Tracing initializers back to state-dict tensors (models.templates.Matcher)."""

from __future__ import annotations

import numpy as np
import pytest

from models.templates import Matcher, TemplateBuildError


def test_transforms_are_found_and_signed_zeros_do_not_hide_a_match() -> None:
    rng = np.random.default_rng(0)
    qkv = rng.standard_normal((96, 32)).astype(np.float32)
    qkv[rng.random(qkv.shape) < 0.3] = 0.0
    qkv[rng.random(qkv.shape) < 0.3] = -0.0  # both zero signs, as fp16 casts produce
    conv = rng.standard_normal((16, 32, 1, 1)).astype(np.float32)
    norm = rng.standard_normal(32).astype(np.float32)
    matcher = Matcher({"attn.qkv.weight": qkv, "proj.weight": conv, "norm.weight": norm})
    assert matcher.match(qkv.T.astype(np.float16).copy()) == (
        "attn.qkv.weight", [{"op": "transpose", "perm": [1, 0]}])
    assert matcher.match(conv.reshape(16, 32).T.copy()) == (
        "proj.weight", [{"op": "transpose", "perm": [1, 0, 2, 3]},
                        {"op": "reshape", "shape": [32, 16]}])
    assert matcher.match(norm.reshape(32, 1, 1)) == (
        "norm.weight", [{"op": "reshape", "shape": [32, 1, 1]}])
    assert matcher.match(norm) == ("norm.weight", [])
    assert matcher.match(norm * 2) is None


def test_two_equal_tensors_are_ambiguous() -> None:
    w = np.arange(6, dtype=np.float32)
    with pytest.raises(TemplateBuildError, match="ambiguous"):
        Matcher({"a": w, "b": w.copy()}).match(w)
