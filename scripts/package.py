"""Build the installable plugin ZIP: top folder `copgen`, runtime files only, no weights
(the graph templates of resources/templates/ are weightless ONNX graphs)."""

from __future__ import annotations

import argparse
import configparser
import logging
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP_FOLDER = "copgen"
#: What an installed plugin needs; models/ (torch export side), tests, tooling and the demo
#: model and scene (weights are never shipped; `make demo` runs from a checkout) stay out.
INCLUDE = ("__init__.py", "metadata.txt", "LICENSE", "README.md", "copgen_plugin", "resources",
           # the pins the dependency installer reads (dev.txt is the developer's only)
           "requirements/runtime.txt", "requirements/runtime-cpu.txt",
           "requirements/runtime-gpu.txt", "requirements/constraints.txt",
           # the optional OpenVINO pin (the CPU backend; docs/PERFORMANCE.md)
           "requirements/openvino.txt")
EXCLUDED_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache", "models", "demo"}
EXCLUDED_SUFFIXES = {".pyc", ".pyo", ".onnx", ".pth", ".pt", ".ckpt", ".safetensors", ".partial"}
#: graph templates (weightless ONNX graphs + template.json) are filled at install time: shipped
TEMPLATES = Path("resources/templates")

log = logging.getLogger("package")


def plugin_files(root: Path = ROOT) -> list[Path]:
    """Files of the ZIP, relative to the repository root, sorted for reproducible archives."""
    files: list[Path] = []
    for name in INCLUDE:
        path = root / name
        if path.is_file():
            files.append(Path(name))
            continue
        for item in sorted(path.rglob("*")):
            rel = item.relative_to(root)
            if item.is_dir() or any(part in EXCLUDED_DIRS for part in rel.parts[1:]):
                continue
            if item.name.startswith(".") or (item.suffix in EXCLUDED_SUFFIXES and not (
                    item.suffix == ".onnx" and rel.is_relative_to(TEMPLATES))):
                continue
            files.append(rel)
    return files


def build(out_dir: Path, root: Path = ROOT) -> Path:
    """Write `<out_dir>/copgen-<version>.zip` and return its path."""
    meta = configparser.ConfigParser()
    meta.read(root / "metadata.txt", encoding="utf-8")
    version = meta["general"]["version"]
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{TOP_FOLDER}-{version}.zip"
    tmp = target.with_suffix(".zip.partial")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for rel in plugin_files(root):
            archive.write(root / rel, f"{TOP_FOLDER}/{rel.as_posix()}")
    tmp.replace(target)
    log.info("wrote %s (%.1f kB)", target, target.stat().st_size / 1024)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build(args.out)


if __name__ == "__main__":
    main()
