"""Install the pinned run-time packages into the plugin's own folder for QGIS's Python.

Two pip runs with the real interpreter behind QGIS (interpreter.find_python):

1. ``pip install --dry-run --report`` resolves the pinned requirements against what QGIS's
   Python already has, with its numpy pinned, so only missing or too old packages are listed
   and numpy is never replaced (QGIS's GDAL bindings are built against it);
2. ``pip install --target <staging> --no-deps NAME==VERSION...`` installs exactly that list
   into a fresh staging folder, never into the system's site-packages.

The staging folder is then verified by importing every run-time module in a subprocess with
the same interpreter and the folder first on its path, marked with the requirement hash, and
swapped in atomically (sitedir). A failure or cancel removes the staging folder and leaves the
previous install as it was.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..callbacks import ProgressFn
from ..errors import CopgenError
from .deps import RUNTIME_MODULES, parse_version
from .interpreter import PythonInfo, find_python
from .pip_runner import CancelFn, LogFn, PipError, explain, run_pip
from .plan import Plan, make_plan
from .sitedir import SiteDir, deps_root

logger = logging.getLogger(__name__)
DEFAULT_INDEX = "https://pypi.org/simple"
VERIFY_TIMEOUT_S = 180
MIN_PIP = (22, 2)  # pip install --dry-run --report


class InstallError(CopgenError):
    """The dependencies could not be installed; the message says why and what to do."""


@dataclass(frozen=True)
class InstallOptions:
    """Choices of one install. `find_links` alone is the only index (offline install)."""

    flavour: str = "auto"
    index_url: str | None = None
    find_links: Path | None = None
    python: Path | None = None
    force: bool = False
    retries: int = 2


@dataclass(frozen=True)
class InstallResult:
    """What an install did: `status` is installed, already installed or restart needed."""

    status: str
    folder: Path
    flavour: str
    reason: str
    packages: tuple[str, ...]
    python: Path
    seconds: float


def index_args(options: InstallOptions) -> list[str]:
    """pip's index options: a wheel folder alone means --no-index (nothing else is asked)."""
    args = ["--retries", str(options.retries)]
    if options.index_url:
        args += ["--index-url", options.index_url]
    elif options.find_links:
        args.append("--no-index")
    if options.find_links:
        args += ["--find-links", str(options.find_links)]
    return args


def verify_imports(python: Path, folder: Path, *, qgis_numpy: bool = True) -> list[str]:
    """Import every run-time module in `python` with `folder` first on the path.

    Returns the problems (empty when all import); with `qgis_numpy` numpy must still be
    QGIS's own.
    """
    code = (
        "import importlib, json, sys\n"
        "out = {}\n"
        f"for name in {list(RUNTIME_MODULES)!r}:\n"
        "    try:\n"
        "        m = importlib.import_module(name)\n"
        "        out[name] = [getattr(m, '__version__', '?'), getattr(m, '__file__', '')]\n"
        "    except Exception as exc:\n"
        "        out[name] = ['FAILED', f'{type(exc).__name__}: {exc}']\n"
        "print(json.dumps(out))\n"
    )
    env = dict(os.environ)
    env.pop("PYTHONHOME", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(folder), env.get("PYTHONPATH")]))
    try:
        proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                              env=env, timeout=VERIFY_TIMEOUT_S, stdin=subprocess.DEVNULL)
        found = json.loads(proc.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        return [f"the import check did not run: {exc}"]
    problems = [f"import {name}: {info[1]}" for name, info in found.items()
                if info[0] == "FAILED"]
    numpy_file = found.get("numpy", ["", ""])[1]
    if qgis_numpy and numpy_file and Path(numpy_file).resolve().is_relative_to(folder.resolve()):
        problems.append("numpy was installed into the dependency folder (QGIS's must be used)")
    return problems


def _resolve(info: PythonInfo, plan: Plan, options: InstallOptions, log: LogFn,
             cancel: CancelFn | None) -> list[str]:
    """NAME==VERSION of every package pip would add to QGIS's Python (dry run)."""
    with tempfile.TemporaryDirectory(prefix="copgen-deps-") as tmp:
        reqs, cons, report = Path(tmp, "req.txt"), Path(tmp, "cons.txt"), Path(tmp, "r.json")
        reqs.write_text("\n".join(plan.requirements) + "\n", encoding="utf-8")
        cons.write_text(plan.constraints_text(), encoding="utf-8")
        run = run_pip(info.executable,
                      ["install", "--dry-run", "--report",
                       str(report), "--progress-bar", "off", "-c", str(cons), "-r", str(reqs),
                       *index_args(options)], log=log, cancel=cancel)
        if run.returncode != 0 or not report.is_file():
            raise PipError(explain(run, index=_index_text(options), find_links=options.find_links))
        items = json.loads(report.read_text(encoding="utf-8")).get("install", [])
    return [f"{i['metadata']['name']}=={i['metadata']['version']}" for i in items]


def _index_text(options: InstallOptions) -> str:
    if options.index_url:
        return options.index_url
    return "" if options.find_links else os.environ.get("PIP_INDEX_URL", DEFAULT_INDEX)


def install(options: InstallOptions, *, log: LogFn = logger.info,
            progress: ProgressFn | None = None, cancel: CancelFn | None = None) -> InstallResult:
    """Install (or repair, or confirm) the run-time packages; see the module docstring."""
    started = time.monotonic()

    def step(fraction: float, message: str) -> None:
        log(message)
        if progress is not None:
            progress(fraction, message)

    step(0.02, "looking for the Python interpreter of this QGIS")
    info, tried = find_python(options.python)
    if info is None:
        raise InstallError("no Python interpreter matching this QGIS was found to run pip ("
                           + "; ".join(tried or ["no candidate"]) + "): set COPGEN_PYTHON to "
                           "the python executable of this QGIS and try again")
    if not info.pip:
        raise InstallError(f"{info.executable} has no pip. On Debian/Ubuntu: `sudo apt install "
                           "python3-pip`; on Windows add python3-pip with the OSGeo4W setup")
    if parse_version(info.pip) < MIN_PIP:
        raise InstallError(f"the pip of {info.executable} is {info.pip}; the installer needs pip "
                           f"{'.'.join(map(str, MIN_PIP))} or newer (for --dry-run --report): "
                           "update QGIS, or pip with your system's package manager")
    plan = make_plan(options.flavour, numpy_version=info.numpy)
    site = SiteDir(deps_root(), info.key)
    step(0.05, f"Python {info.version} ({info.executable}), numpy {info.numpy or 'none'}; "
         f"ONNX Runtime flavour {plan.flavour}: {plan.reason}; folder {site.path}")
    state = site.state(plan.requirements_hash)
    if state == "ok" and not options.force:
        problems = verify_imports(info.executable, site.path, qgis_numpy=bool(info.numpy))
        if not problems:
            marker = site.marker() or {}
            step(1.0, "the dependencies are already installed and import")
            return InstallResult("already installed", site.path, plan.flavour, plan.reason,
                                 tuple(marker.get("packages", ())), info.executable,
                                 time.monotonic() - started)
        log("the installed folder does not work (" + "; ".join(problems) + "): reinstalling")
    elif state in ("incomplete", "outdated"):
        log(f"the dependency folder is {state}: reinstalling it")
    staging = site.new_staging()
    try:
        step(0.1, "resolving the pinned requirements against this QGIS's packages")
        pins = _resolve(info, plan, options, log, cancel)
        step(0.3, f"installing {len(pins)} packages: {' '.join(pins) or 'none'}")
        if pins:
            run = run_pip(info.executable,
                          ["install", "--target", str(staging), "--no-deps", "--no-compile",
                           "--progress-bar", "off",
                           *index_args(options), *pins], log=log, cancel=cancel)
            if run.returncode != 0:
                raise PipError(explain(run, index=_index_text(options),
                                       find_links=options.find_links))
        step(0.85, "checking that every run-time module imports")
        problems = verify_imports(info.executable, staging, qgis_numpy=bool(info.numpy))
        if problems:
            raise InstallError("the installed packages do not work: " + "; ".join(problems))
        site.write_marker(staging, {
            "requirements_hash": plan.requirements_hash, "flavour": plan.flavour,
            "reason": plan.reason, "requirements": list(plan.requirements),
            "constraints": list(plan.constraints), "packages": pins,
            "python": str(info.executable), "python_key": info.key,
            "python_version": info.version, "numpy": info.numpy, "pip": info.pip,
            "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        swapped = site.swap_in(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    status = "installed" if swapped else "restart needed"
    step(1.0, f"{status}: {site.path}" + ("" if swapped else " (QGIS holds the old folder: "
                                           "restart QGIS to use the new packages)"))
    return InstallResult(status, site.path, plan.flavour, plan.reason, tuple(pins),
                         info.executable, time.monotonic() - started)
