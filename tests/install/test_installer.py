"""The dependency installer against a local wheel folder, into a temporary dependency folder,
with Debian's Python (the one QGIS runs): real pip, real imports in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from copgen_plugin.errors import Cancelled
from copgen_plugin.install.installer import InstallOptions, install
from copgen_plugin.install.pip_runner import PipError
from copgen_plugin.install.sitedir import MARKER, SiteDir
from tests.install.pip_helpers import REPO, bare_python, clean_pip_environ, pip_clean, wheelhouse

__all__ = ["bare_python", "pip_clean", "wheelhouse"]  # fixtures used here

USE_FOLDER = """
import json, sys, numpy, onnxruntime, rasterio
from rasterio.transform import from_origin
sys.path.insert(0, sys.argv[1])
from copgen_plugin.onnx_probe import probe_providers
out = sys.argv[2]
data = numpy.arange(12, dtype='int16').reshape(1, 3, 4)
with rasterio.open(out, 'w', driver='GTiff', width=4, height=3, count=1, dtype='int16',
                   crs='EPSG:32631', transform=from_origin(500000, 5000000, 10, 10)) as dst:
    dst.write(data)
with rasterio.open(out) as src:
    back = src.read()
probe = probe_providers(['CPUExecutionProvider'])
print(json.dumps({'rasterio': rasterio.__file__, 'onnxruntime': onnxruntime.__file__,
                  'numpy': numpy.__file__, 'equal': bool((back == data).all()),
                  'crs': str(src.crs), 'probe_ok': probe['output_ok'], 'used': probe['used']}))
"""


def _run_with_folder(python: Path, folder: Path, tmp: Path) -> dict:
    env = clean_pip_environ()
    env["PYTHONPATH"] = str(folder)
    proc = subprocess.run([str(python), "-c", USE_FOLDER, str(REPO), str(tmp / "t.tif")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


def _kill_during_pip_install(python: Path, wheelhouse: Path) -> None:
    """`python -m copgen_plugin install-deps`, SIGKILLed while pip installs."""
    cmd = [str(python), "-m", "copgen_plugin", "install-deps", "--find-links", str(wheelhouse),
           "--python", str(python)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=clean_pip_environ(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("$ ") and "--target" in line:
            time.sleep(0.5)
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_install_repairs_a_killed_one_and_works_in_a_fresh_python(
        wheelhouse: Path, bare_python: Path, pip_clean: Path, tmp_path: Path) -> None:
    """A killed install leaves only its staging folder; a folder without its marker is never
    used; the next install clears both, ends complete, and its packages work in QGIS's Python
    with QGIS's own numpy. One real pip install (~5-20 s)."""
    _kill_during_pip_install(bare_python, wheelhouse)
    staging = list(pip_clean.glob("*.staging-*"))
    assert len(staging) == 1
    site = SiteDir(pip_clean, staging[0].name.split(".staging-")[0])
    assert site.state() == "absent" and not site.activate()
    site.path.mkdir()  # a folder that lost its marker (copied by hand, old version): not used
    (site.path / "rasterio").mkdir()
    assert site.state() == "incomplete" and not site.activate()

    lines: list[str] = []
    steps: list[float] = []
    result = install(InstallOptions(find_links=wheelhouse, python=bare_python),
                     log=lines.append, progress=lambda f, _m: steps.append(f))
    assert result.status == "installed" and result.flavour == "cpu"
    assert result.folder == site.path and site.state() == "ok"
    assert [p.name for p in pip_clean.iterdir()] == [site.path.name]  # no staging left
    assert "rasterio==1.4.4" in result.packages and "onnxruntime==1.32.0" in result.packages
    assert "huggingface_hub==0.36.2" in result.packages
    assert "openvino==2026.4.1" in result.packages  # the CPU's fast denoiser runtime
    assert not any(p.lower().startswith(("numpy", "onnxruntime-gpu")) for p in result.packages)
    assert not list(site.path.glob("numpy*")), "QGIS's numpy must never be installed"
    assert steps == sorted(steps) and steps[-1] == 1.0
    assert any("--dry-run" in ln for ln in lines) and any("--target" in ln for ln in lines)
    assert any(ln.startswith("Successfully installed") for ln in lines)  # pip's own lines
    assert any("dependency folder is incomplete" in ln for ln in lines)
    marker = json.loads((site.path / MARKER).read_text())
    assert marker["packages"] == list(result.packages) and marker["flavour"] == "cpu"
    assert marker["numpy"] and f"numpy=={marker['numpy']}" in marker["constraints"]

    used = _run_with_folder(bare_python, site.path, tmp_path)
    assert Path(used["rasterio"]).is_relative_to(site.path)
    assert Path(used["onnxruntime"]).is_relative_to(site.path)
    assert not Path(used["numpy"]).is_relative_to(site.path)
    assert used["equal"] and used["crs"] == "EPSG:32631"
    assert used["probe_ok"] and used["used"] == ["CPUExecutionProvider"]

    again = subprocess.run([str(bare_python), "-m", "copgen_plugin", "install-deps",
                            "--find-links", str(wheelhouse)], cwd=REPO, capture_output=True,
                           text=True, env=clean_pip_environ() | {"COPGEN_DEPS_DIR": str(pip_clean)},
                           timeout=120)
    assert again.returncode == 0, again.stderr[-2000:]
    n = len(result.packages)  # runtime.txt decides how many (dask and its needs included)
    assert again.stdout.startswith(f"already installed: {site.path} (cpu; {n} packages; ")
    assert "the dependencies are already installed and import" in again.stderr


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_index_gives_the_plain_message(bare_python: Path, pip_clean: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/simple"
    with pytest.raises(PipError) as info:
        install(InstallOptions(index_url=url, python=bare_python), log=lambda _: None)
    message = str(info.value)
    assert message.startswith(f"pip could not reach the package index ({url}")
    assert "--find-links DIR" in message
    assert not pip_clean.exists() or not any(pip_clean.iterdir())  # nothing left behind


class _Refuse(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(403)
        self.send_header("Content-Length", "9")
        self.end_headers()
        self.wfile.write(b"forbidden")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def refusing_index() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/simple"
    server.shutdown()
    server.server_close()


def test_refusing_index_says_so(bare_python: Path, pip_clean: Path,
                                refusing_index: str) -> None:
    with pytest.raises(PipError) as info:
        install(InstallOptions(index_url=refusing_index, python=bare_python),
                log=lambda _: None)
    assert str(info.value).startswith(f"the package index {refusing_index} refused the request "
                                      "(HTTP 403)")


def test_cancel_during_pip_stops_it_and_leaves_nothing(wheelhouse: Path, bare_python: Path,
                                                       pip_clean: Path) -> None:
    started: list[str] = []

    def log(line: str) -> None:
        if line.startswith("$ ") and "--target" in line:
            started.append(line)

    with pytest.raises(Cancelled, match="cancelled"):
        install(InstallOptions(find_links=wheelhouse, python=bare_python), log=log,
                cancel=lambda: bool(started))
    assert started  # it was pip's install run that got cancelled
    assert list(pip_clean.iterdir()) == []  # no staging folder, no active folder
