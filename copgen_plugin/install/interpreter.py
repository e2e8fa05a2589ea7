"""The real Python interpreter behind QGIS, and its identity (version, ABI, platform).

Inside QGIS ``sys.executable`` is often the QGIS binary (``qgis-bin.exe`` on Windows, the app
binary on macOS), so ``sys.executable -m pip`` would start a second QGIS. The candidates tried,
in order: ``$COPGEN_PYTHON``; ``sys.executable`` when it is a python; ``sys._base_executable``;
``python.exe`` / ``bin/python3.X`` under ``sys.base_prefix`` (Windows OSGeo4W and the
standalone installer keep it in ``apps/Python3X``; QGIS.app in ``Contents/MacOS/bin``); then
``python3.X``, ``python3``, ``python`` on PATH. Each candidate is run once with this file as a
script and accepted only when it reports the running interpreter's key (version + ABI +
platform) and base prefix, so packages are never installed for another Python.

Stdlib only: this file is also run as a script in the candidate interpreter.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

PROBE_TIMEOUT_S = 60


def python_key() -> str:
    """'cp311-cp311-linux_x86_64': the folder name of this Python's dependency folder."""
    version = f"{sys.version_info[0]}{sys.version_info[1]}"
    impl = "cp" if sys.implementation.name == "cpython" else sys.implementation.name[:2]
    abi = impl + version
    if hasattr(sys, "gettotalrefcount"):
        abi += "d"
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        abi += "t"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"{impl}{version}-{abi}-{platform}"


def facts() -> dict[str, str]:
    """What the installer needs to know about the Python running this code."""
    try:
        from importlib.metadata import version

        numpy = version("numpy")
    except Exception:  # no numpy at all: nothing to pin
        numpy = ""
    try:
        import pip

        pip_version = str(pip.__version__)
    except Exception:
        pip_version = ""
    return {"executable": sys.executable, "key": python_key(),
            "version": ".".join(map(str, sys.version_info[:3])),
            "base_prefix": os.path.normcase(os.path.realpath(sys.base_prefix)),
            "numpy": numpy, "pip": pip_version}


@dataclass(frozen=True)
class PythonInfo:
    """A Python interpreter that can run pip for the running QGIS."""

    executable: Path
    key: str
    version: str
    numpy: str
    pip: str


def _looks_like_python(path: str | None) -> bool:
    return bool(path) and Path(path).name.lower().startswith("python")  # type: ignore[arg-type]


def candidates() -> list[str]:
    """Interpreters to try, most likely first (see the module docstring)."""
    major_minor = f"{sys.version_info[0]}.{sys.version_info[1]}"
    found: list[str] = []
    env = os.environ.get("COPGEN_PYTHON")
    if env:
        found.append(env)
    if _looks_like_python(sys.executable):
        found.append(sys.executable)
    base_exe = getattr(sys, "_base_executable", "")
    if _looks_like_python(base_exe):
        found.append(base_exe)
    prefix = Path(sys.base_prefix)
    if sys.platform == "win32":
        found += [str(prefix / "python.exe"), str(prefix / "python3.exe")]
    else:
        found += [str(prefix / "bin" / f"python{major_minor}"), str(prefix / "bin" / "python3")]
    if sys.platform == "darwin":  # QGIS.app: Contents/MacOS/bin/python3
        found.append(str(Path(sys.executable).parent / "bin" / "python3"))
    for name in (f"python{major_minor}", "python3", "python"):
        which = shutil.which(name)
        if which:
            found.append(which)
    unique: list[str] = []
    for item in found:
        if item and item not in unique and Path(item).is_file():
            unique.append(item)
    return unique


def probe(executable: str | Path) -> dict[str, str] | None:
    """`executable`'s facts (this file run as a script there), or None if it cannot run."""
    env = dict(os.environ)
    env.pop("PYTHONHOME", None)  # QGIS on Windows sets it for its own interpreter layout
    try:
        proc = subprocess.run([str(executable), str(Path(__file__).resolve())],
                              capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, env=env,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    try:
        data = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
    return data if isinstance(data, dict) else None


def find_python(explicit: str | Path | None = None) -> tuple[PythonInfo | None, list[str]]:
    """The interpreter matching this one (or `explicit`, trusted as given), plus what was tried.

    The second value lists each rejected candidate with the reason, for the error message.
    """
    here = facts()
    tried: list[str] = []
    for cand in [str(explicit)] if explicit else candidates():
        info = probe(cand)
        if info is None:
            tried.append(f"{cand}: does not run")
            continue
        if not explicit and (info.get("key") != here["key"]
                             or info.get("base_prefix") != here["base_prefix"]):
            tried.append(f"{cand}: another Python ({info.get('key')}, {info.get('base_prefix')})")
            continue
        return PythonInfo(executable=Path(cand), key=str(info["key"]),
                          version=str(info["version"]), numpy=str(info.get("numpy", "")),
                          pip=str(info.get("pip", ""))), tried
    return None, tried


if __name__ == "__main__":
    print(json.dumps(facts()))
