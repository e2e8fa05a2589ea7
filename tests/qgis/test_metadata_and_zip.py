"""metadata.txt keys and the plugin ZIP against the official plugin repository's rules."""

from __future__ import annotations

import configparser
import importlib.util
import re
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REQUIRED = ("name", "description", "version", "qgisMinimumVersion", "author", "email", "about",
            "tracker", "repository")
RECOMMENDED = ("hasProcessingProvider", "category", "tags", "icon", "homepage", "changelog")


def _metadata() -> configparser.SectionProxy:
    parser = configparser.ConfigParser()
    parser.read(REPO / "metadata.txt", encoding="utf-8")
    return parser["general"]


def test_metadata_has_every_key() -> None:
    meta = _metadata()
    for key in REQUIRED + RECOMMENDED:
        assert meta.get(key, "").strip(), key
    assert meta["qgisMinimumVersion"] == "3.22"
    assert meta["hasProcessingProvider"] == "yes"
    assert (REPO / meta["icon"]).is_file()
    assert re.fullmatch(r"\d+\.\d+\.\d+", meta["version"])
    for dep in ("onnxruntime", "rasterio", "huggingface-hub"):
        assert dep in meta["about"], dep
    spec = importlib.util.spec_from_file_location("_v", REPO / "copgen_plugin" / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.__version__ == meta["version"]


def test_zip_follows_repository_rules(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "package.py"), "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    (archive,) = tmp_path.glob("*.zip")
    assert archive.stat().st_size < 25 * 1024 * 1024
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        assert zf.testzip() is None
        tops = {n.split("/")[0] for n in names}
        assert len(tops) == 1
        (top,) = tops
        assert top.isidentifier()
        for needed in ("metadata.txt", "__init__.py", "LICENSE", "resources/icon.svg",
                       "copgen_plugin/plugin.py", "copgen_plugin/processing/provider.py",
                       "resources/templates/copgen-base/template.json",
                       "resources/templates/copgen-base/fp32/denoiser.onnx",
                       "requirements/runtime.txt", "requirements/runtime-cpu.txt",
                       "requirements/runtime-gpu.txt", "requirements/constraints.txt",
                       "requirements/openvino.txt"):
            assert f"{top}/{needed}" in names, needed
        meta = configparser.ConfigParser()
        meta.read_string(zf.read(f"{top}/metadata.txt").decode("utf-8"))
        assert meta["general"]["version"] == _metadata()["version"]
    for name in names:
        parts = name.split("/")
        assert "__pycache__" not in parts and ".git" not in parts and "__MACOSX" not in parts
        assert not name.endswith((".pyc", ".pth", ".pt", ".ckpt", "manifest.json")), name
        if name.endswith(".onnx"):  # weightless graph templates only, never a package graph
            assert parts[1:3] == ["resources", "templates"], name
        assert not any(p.startswith(".") for p in parts), name
        assert "tests" not in parts[1:2] and "models" not in parts[1:2], name
