"""The headless CLI, and the import rules that let QGIS load the plugin under its own name."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_cli_diagnostics_writes_report(tmp_path: Path) -> None:
    out = tmp_path / "d.md"
    proc = subprocess.run([sys.executable, "-m", "copgen_plugin", "diagnostics", "--device",
                           "cpu", "--output", str(out)], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text(encoding="utf-8")
    assert "| ort_provider_used | CPUExecutionProvider |" in text
    assert "| ort_requested_providers | CPUExecutionProvider |" in text


def test_cli_rejects_unknown_device() -> None:
    proc = subprocess.run([sys.executable, "-m", "copgen_plugin", "diagnostics", "--device",
                           "tpu"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def _imports(path: Path) -> list[tuple[int, str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, node.module or "", node.level))
    return found


#: the QGIS-free layers (and the neutral modules they share)
QGIS_FREE = ("engine", "geo", "fill", "scale", "install", "arrays.py", "errors.py",
             "callbacks.py")
#: layer -> the layers above it, which it must never import (imports point down)
LOWER = {"engine": ("geo", "fill", "scale", "install"), "geo": ("engine", "fill", "scale"),
         "fill": ("scale",), "install": ("geo", "fill", "scale")}


def test_package_imports_itself_relatively_and_engine_stays_pure() -> None:
    """QGIS imports the plugin as `copgen.copgen_plugin`: absolute self-imports would break."""
    problems = []
    for path in sorted((REPO / "copgen_plugin").rglob("*.py")):
        rel = path.relative_to(REPO)
        for lineno, module, level in _imports(path):
            top = module.split(".")[0]
            if level == 0 and top in ("copgen_plugin", "models"):
                problems.append(f"{rel}:{lineno} absolute import of {module}")
            if top == "torch":
                problems.append(f"{rel}:{lineno} imports torch")
            if rel.parts[1] in QGIS_FREE and top in ("qgis", "processing", "cli"):
                problems.append(f"{rel}:{lineno} imports {module} ({rel.parts[1]} is QGIS-free)")
            below = LOWER.get(rel.parts[1], ())
            if level >= 2 and top in below:
                problems.append(f"{rel}:{lineno} imports {module} ({rel.parts[1]} sits below it)")
    assert problems == []
