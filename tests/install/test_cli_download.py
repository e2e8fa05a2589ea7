"""``python -m copgen_plugin download`` against the fake hub: exit status, one error line, the
package path on stdout; HF_ENDPOINT / HF_HUB_OFFLINE read from the environment."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.install.fake_hub import FakeHub
from tests.install.helpers import PACKAGE_REPO, demo_files

REPO = Path(__file__).resolve().parents[2]
Start = Callable[..., tuple[FakeHub, str]]


def cli_env(url: str, cache: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    return env | {"HF_ENDPOINT": url, "HF_HUB_CACHE": str(cache),
                  "HF_HOME": str(cache.parent / "hf-home")} | extra


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "copgen_plugin", "download", *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def test_cli_downloads_a_package_then_works_offline(start_hub: Start, tmp_path: Path) -> None:
    hub, url = start_hub({PACKAGE_REPO: demo_files()})
    cache, out = tmp_path / "cache", tmp_path / "pkg"
    proc = run_cli(cli_env(url, cache), PACKAGE_REPO, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    assert "100%" in proc.stderr and "MB downloaded" in proc.stderr
    assert (out / "denoiser.onnx").read_bytes() == demo_files()["denoiser.onnx"]
    hub.log.clear()
    offline = run_cli(cli_env(url, cache, HF_HUB_OFFLINE="1"), PACKAGE_REPO, "--out",
                      str(tmp_path / "again"))
    assert offline.returncode == 0, offline.stderr
    assert hub.log == [] and (tmp_path / "again" / "manifest.json").is_file()
    missing = run_cli(cli_env(url, cache), "someone/absent", "--out", str(tmp_path / "x"))
    assert missing.returncode == 1 and missing.stdout == ""
    assert missing.stderr.strip().splitlines()[-1] == (
        f"error: no repository someone/absent on {url} (or it is private: set HF_TOKEN)")
    bad = run_cli(cli_env("file:///srv/hub", cache), PACKAGE_REPO, "--out", str(tmp_path / "y"))
    assert bad.returncode == 1 and bad.stderr.splitlines()[-1].startswith(
        "error: hub endpoint 'file:///srv/hub' is not an http(s) address")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again", "cache", "pkg"]


def test_install_layer_imports_neither_qgis_nor_torch() -> None:
    """install/ is below the doors (DESIGN.md): no QGIS, and no torch on the run-time path."""
    found = []
    for path in sorted((REPO / "copgen_plugin" / "install").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.name}: {n}" for n in names
                      if n.split(".")[0] in ("qgis", "processing", "torch")]
    assert found == []
