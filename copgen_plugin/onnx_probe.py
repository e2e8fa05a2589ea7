"""A tiny ONNX graph written on the fly, to see which execution provider a session really gets.

The `onnx` package is a development dependency only, so the graph (y = x + x, float32 [1, 4])
is serialised here with a few lines of protobuf wire format.
"""

from __future__ import annotations

from typing import Any

_ELEM_FLOAT = 1


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field_bytes(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _field_int(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _tensor_value_info(name: str, shape: tuple[int, ...]) -> bytes:
    dims = b"".join(_field_bytes(1, _field_int(1, d)) for d in shape)
    tensor_type = _field_int(1, _ELEM_FLOAT) + _field_bytes(2, dims)
    return _field_bytes(1, name.encode()) + _field_bytes(2, _field_bytes(1, tensor_type))


def probe_model_bytes() -> bytes:
    """Serialised ModelProto (IR 8, opset 13) computing y = x + x."""
    node = (
        _field_bytes(1, b"x") + _field_bytes(1, b"x") + _field_bytes(2, b"y")
        + _field_bytes(3, b"add") + _field_bytes(4, b"Add")
    )
    graph = (
        _field_bytes(1, node)
        + _field_bytes(2, b"copgen_probe")
        + _field_bytes(11, _tensor_value_info("x", (1, 4)))
        + _field_bytes(12, _tensor_value_info("y", (1, 4)))
    )
    opset = _field_bytes(1, b"") + _field_int(2, 13)
    return (
        _field_int(1, 8)
        + _field_bytes(2, b"copgen_plugin")
        + _field_bytes(7, graph)
        + _field_bytes(8, opset)
    )


def probe_providers(requested: list[str]) -> dict[str, Any]:
    """Create a session asking for `requested` providers; return what ONNX Runtime really used.

    Returns ``{"requested", "available", "used", "output_ok"}``; ``used`` comes from
    ``session.get_providers()`` because a CUDA request can silently fall back to CPU.
    """
    import numpy as np
    import onnxruntime as ort

    available = list(ort.get_available_providers())
    asked = [p for p in requested if p in available] or ["CPUExecutionProvider"]
    if asked[0] != "CPUExecutionProvider":
        from .engine.runtime import preload_cuda_dlls

        preload_cuda_dlls(ort)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(probe_model_bytes(), sess_options=options, providers=asked)
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    (y,) = session.run(["y"], {"x": x})
    return {
        "requested": list(requested),
        "available": available,
        "used": list(session.get_providers()),
        "output_ok": bool(np.array_equal(y, x + x)),
    }
