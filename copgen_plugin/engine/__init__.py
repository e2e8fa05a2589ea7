"""The COP-GEN engine: QGIS-free, numpy + onnxruntime only.

Importing this package is cheap: onnxruntime is imported lazily by ``runtime`` when the first
session is created, so the QGIS plugin loads (and can explain what is missing) without it.

Modules, each with one job:

* ``errors``      the exception hierarchy (``CopgenError`` and subclasses, ``Cancelled``)
* ``modalities``  modality specs and the exact pre-/post-processing
* ``package``     the one manifest parser (``load_package``); ``verify`` checks the files
* ``schedule``    the discrete VP noise schedule; ``sampler`` the official DPM-Solver
* ``joint``       the joint latent of the generated modalities and its noise model
* ``inpaint``     latent masks and RePaint-style replacement for partly observed modalities
* ``runtime``     ONNX Runtime sessions with a verified device choice
* ``generate``    one footprint: encode, sample N, decode (``CopgenEngine``)
* ``spread``      per-pixel statistics over samples
"""

from __future__ import annotations
