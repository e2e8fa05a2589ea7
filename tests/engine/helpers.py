"""Test helpers: the official COP-GEN modality table as a manifest, and the parity kit."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

KIT = Path(__file__).resolve().parents[1] / "fixtures" / "parity"

S1 = {"kind": "log_db_minmax", "min_db": -55.787186, "max_db": 40.2258,
      "min_positive": 2.6380407689430285e-06}
DEM = {"kind": "log1p_minmax", "min_db": 6e-06, "max_db": 9.088,
       "min_positive": 5.899129519093549e-06}
REFL = {"kind": "reflectance", "scale": 10000}
LULC = {"kind": "onehot", "codes": [0, 1, 2, 4, 5, 7, 8, 9, 10, 11],
        "names": ["None/NoData", "Water", "Trees", "Flooded Vegetation", "Crops",
                  "Built-up Areas", "Bare Ground", "Snow/Ice", "Clouds", "Rangeland"]}
CLOUD = {"kind": "onehot", "codes": [0, 1, 2, 3], "names": ["Clear", "Thick", "Thin", "Shadow"]}

# key: (family, bands, image C,H,W, latent h, pixel m, scale factor, normalisation)
_IMAGES: dict[str, tuple[Any, ...]] = {
    "DEM_DEM": ("DEM", ["DEM"], (1, 64, 64), 8, 30.0, 0.404247, DEM),
    "LULC_LULC": ("LULC", ["LULC"], (10, 192, 192), 24, 10.0, 0.464794, LULC),
    "S1RTC_vh_vv": ("S1RTC", ["vv", "vh"], (2, 192, 192), 24, 10.0, 0.633804, S1),
    "S2L1C_B01_B09_B10": ("S2L1C", ["B01", "B09", "B10"], (3, 32, 32), 4, 60.0, 0.565812,
                          REFL),
    "S2L1C_B02_B03_B04_B08": ("S2L1C", ["B04", "B03", "B02", "B08"], (4, 192, 192), 24, 10.0,
                              0.772514, REFL),
    "S2L1C_B05_B06_B07_B11_B12_B8A": ("S2L1C", ["B05", "B06", "B07", "B8A", "B11", "B12"],
                                      (6, 96, 96), 12, 20.0, 0.765817, REFL),
    "S2L1C_cloud_mask": ("cloud_mask", ["cloud_mask"], (4, 192, 192), 24, 10.0, 0.557045,
                         CLOUD),
    "S2L2A_B01_B09": ("S2L2A", ["B01", "B09"], (2, 32, 32), 4, 60.0, 0.571367, REFL),
    "S2L2A_B02_B03_B04_B08": ("S2L2A", ["B04", "B03", "B02", "B08"], (4, 192, 192), 24, 10.0,
                              0.853416, REFL),
    "S2L2A_B05_B06_B07_B11_B12_B8A": ("S2L2A", ["B05", "B06", "B07", "B8A", "B11", "B12"],
                                      (6, 96, 96), 12, 20.0, 0.567267, REFL),
}

ORDER = sorted([*_IMAGES, "3d_cartesian_lat_lon", "mean_timestamps"])
FAKE_SHA = "0" * 64


def official_manifest() -> dict[str, Any]:
    """A manifest with the official 12-modality table (file entries are placeholders)."""
    modalities: dict[str, Any] = {
        "3d_cartesian_lat_lon": {"kind": "scalar", "family": "lat_lon", "bands": ["x", "y", "z"],
                                 "image_shape": [1, 1, 3], "latent_shape": [1, 1, 3],
                                 "normalisation": {"kind": "latlon_xyz"}},
        "mean_timestamps": {"kind": "scalar", "family": "timestamps",
                            "bands": ["sin_doy", "cos_doy", "year"],
                            "image_shape": [1, 1, 3], "latent_shape": [1, 1, 3],
                            "normalisation": {"kind": "date_sincos_year", "year_min": 1950,
                                              "year_max": 2050}},
    }
    files = {"denoiser.onnx": {"sha256": FAKE_SHA, "bytes": 1}}
    for key, (family, bands, shape, h, px, sf, norm) in _IMAGES.items():
        modalities[key] = {
            "kind": "image", "family": family, "bands": bands, "image_shape": list(shape),
            "pixel_size_m": px, "latent_shape": [8, h, h], "scale_factor": sf,
            "normalisation": copy.deepcopy(norm),
            "encoder": f"encoder_{key}.onnx", "decoder": f"decoder_{key}.onnx",
        }
        files[f"encoder_{key}.onnx"] = {"sha256": FAKE_SHA, "bytes": 1}
        files[f"decoder_{key}.onnx"] = {"sha256": FAKE_SHA, "bytes": 1}
    return {
        "format": "copgen-model-package", "format_version": 1, "model_id": "test-table",
        "model_version": "0", "title": "official table", "demo": False, "licence": "none",
        "precision": "fp32", "footprint_m": 1920, "network_order": list(ORDER),
        "modalities": modalities,
        "schedule": {"kind": "discrete_scaled_linear", "beta_start": 0.00085, "beta_end": 0.012,
                     "num_train_timesteps": 1000},
        "solver": {"name": "dpm_solver", "predict_x0": True, "order": 3, "method": "fast",
                   "skip_type": "time_uniform", "t_start": 1.0, "t_end": 0.001, "steps": 50},
        "denoiser": "denoiser.onnx", "files": files,
    }


def load_cases() -> Any:
    return np.load(KIT / "cases.npz")


def cpu_denoiser_providers() -> list[str]:
    """What the engine's denoiser should report on this machine's CPU by default: OpenVINO
    (bf16 where /proc/cpuinfo lists bf16 units) when openvino imports, else ONNX Runtime."""
    import importlib.util
    import os

    if os.environ.get("COPGEN_CPU_BACKEND", "auto").strip().lower() == "onnxruntime" or \
            importlib.util.find_spec("openvino") is None:
        return ["CPUExecutionProvider"]
    return [f"OpenVINO CPU {'bf16' if cpu_has_bf16_units() else 'fp32'}"]


def cpu_has_bf16_units() -> bool:
    """Whether this CPU has bf16 units, from /proc/cpuinfo (independent of OpenVINO's view)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags
