"""COP-GEN in the project's own PyTorch code and its export to ONNX model packages.

Torch lives only here (and in tests/models); the plugin's run-time side reads the packages with
numpy + onnxruntime. Entry points: ``python -m models.export``, ``python -m models.fetch``,
``python -m models.tiny``; Python API: :func:`models.package.export_package`,
:func:`models.tiny.build_tiny_package`.
"""
