"""The plugin's install path runs end to end in a Python where torch and onnx cannot import."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from models.locate import NNET_FILE
from tests.install.conftest import vae_files

SCRIPT = textwrap.dedent("""
    import importlib.abc, json, sys
    from pathlib import Path

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "onnx", "models", "safetensors"):
                raise ImportError(f"{name} is blocked in this test")
            return None

    sys.meta_path.insert(0, Block())
    from copgen_plugin.install.convert import install_from_checkpoints
    from copgen_plugin.engine.package import load_package

    args = json.loads(sys.argv[1])
    dest = install_from_checkpoints(args["template"], Path(args["backbone"]),
                                    {k: Path(v) for k, v in args["vaes"].items()},
                                    Path(args["dest"]))
    load_package(dest, verify="full", cache_path=Path(args["dest"] + ".cache.json"))
    blocked = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "onnx", "models"))
    print(json.dumps({"dest": str(dest), "imported": blocked}))
""")


def test_install_runs_with_torch_blocked(tiny_template: Path, checkpoints: Path,
                                         tmp_path: Path, repo_root: Path) -> None:
    args = {"template": str(tiny_template), "backbone": str(checkpoints / NNET_FILE),
            "vaes": {k: str(v) for k, v in vae_files(checkpoints).items()},
            "dest": str(tmp_path / "pkg")}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(args)], cwd=repo_root,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"dest": str(tmp_path / "pkg"), "imported": []}
    assert (tmp_path / "pkg" / "denoiser.onnx.data").stat().st_size > 0
