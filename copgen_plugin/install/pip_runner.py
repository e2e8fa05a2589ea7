"""Run pip in a subprocess, stream every line, and turn its failures into plain sentences.

pip's own output is long and technical; what a QGIS user needs is which of a handful of things
went wrong (no network, an index that refuses, no wheel for this Python, a conflict with
QGIS's own packages, a full disk) and what to do next. The full log stays available.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..callbacks import CancelFn, LogFn
from ..errors import Cancelled, CopgenError

#: Messages pip (and urllib3 under it) prints when the index cannot be reached at all.
_NO_NETWORK = ("Failed to establish a new connection", "Connection refused",
               "Temporary failure in name resolution", "Name or service not known",
               "Network is unreachable", "No route to host", "getaddrinfo failed",
               "Read timed out", "ConnectTimeoutError", "Could not fetch URL",
               "ProxyError", "Max retries exceeded")


class PipError(CopgenError):
    """pip failed; the message says what happened and what to do."""


@dataclass(frozen=True)
class PipRun:
    """A finished pip command: its exit status and every output line."""

    returncode: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def pip_env() -> dict[str, str]:
    """The environment of pip: the caller's, minus what would point it at another Python."""
    env = dict(os.environ)
    env.pop("PYTHONHOME", None)
    env["PYTHONUNBUFFERED"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


def run_pip(python: Path, args: Sequence[str], *, log: LogFn, cancel: CancelFn | None = None,
            env: dict[str, str] | None = None) -> PipRun:
    """`python -m pip ARGS`, each output line to `log` as it comes; Cancelled if `cancel()`."""
    cmd = [str(python), "-m", "pip", *args]
    log("$ " + " ".join(cmd))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True, encoding="utf-8",
                            errors="replace", env=env or pip_env(), bufsize=1)
    lines: list[str] = []
    stop = threading.Event()

    def watch() -> None:  # pip may sit silent for long (downloads): poll cancel meanwhile
        while not stop.wait(0.5):
            if cancel is not None and cancel() and proc.poll() is None:
                proc.terminate()
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip()
            if line:
                lines.append(line)
                log(line)
        returncode = proc.wait()
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if cancel is not None and cancel():
        raise Cancelled("the dependency installation was cancelled")
    return PipRun(returncode=returncode, lines=tuple(lines))


def probe_index(index: str, project: str) -> str | None:
    """Why `index` cannot serve `project` (unreachable, refused, unknown project), or None.

    pip reports an unreachable index and a missing project with the same "No matching
    distribution" line; one GET of the project page tells them apart.
    """
    url = index.rstrip("/") + "/" + re.sub(r"[-_.]+", "-", project).lower() + "/"
    try:
        with urllib.request.urlopen(url, timeout=15):
            return None
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return f"the package index {index} has no project {project} (HTTP 404)"
        return (f"the package index {index} refused the request (HTTP {exc.code}): check the "
                "index URL and its credentials, or install offline with a folder of wheels "
                "(find-links)")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return (f"pip could not reach the package index ({index}: {reason}): this computer "
                "seems to be offline or behind a proxy (set HTTPS_PROXY). " + OFFLINE_HINT)


OFFLINE_HINT = ("Install offline with --find-links DIR: on a machine with internet run `pip "
                "download -d DIR --only-binary :all: --python-version X.Y <the requirements "
                "the log shows>`, copy DIR here and give it as the wheel folder.")


def explain(run: PipRun, *, index: str, find_links: Path | None) -> str:
    """One plain paragraph for a failed pip run: what went wrong and what to do next."""
    text = run.text
    where = f"the package folder {find_links}" if find_links and not index else index
    if "No module named pip" in text:
        return ("this Python has no pip. On Debian/Ubuntu: `sudo apt install python3-pip`; on "
                "Windows run the OSGeo4W setup and add python3-pip; then try again.")
    if "No space left on device" in text:
        return "the disk is full: free space where the dependency folder lives and try again."
    refused = re.search(r"HTTP error (\d{3})|(\d{3}) Client Error|status code (\d{3})", text)
    if refused:
        code = next(g for g in refused.groups() if g)
        return (f"the package index {where} refused the request (HTTP {code}): check the "
                "index URL and its credentials, or install offline with a folder of wheels "
                "(find-links).")
    if "CERTIFICATE_VERIFY_FAILED" in text or "SSLError" in text:
        return (f"the TLS certificate of {where} was not accepted (a proxy?): set PIP_CERT to "
                "your organisation's certificate bundle, or install offline with a folder of "
                "wheels (find-links).")
    if any(marker in text for marker in _NO_NETWORK):
        return (f"pip could not reach the package index ({where}): this computer seems to "
                "be offline or behind a proxy (set HTTPS_PROXY). " + OFFLINE_HINT)
    if "ResolutionImpossible" in text or "conflicting dependencies" in text:
        return ("the pinned requirements conflict with packages this QGIS ships (its numpy is "
                "never replaced): see the log for the conflict; a newer plugin version may "
                "pin compatible versions.")
    missing = re.search(r"No matching distribution found for (\S+)", text)
    if missing and index.startswith(("http://", "https://")):
        project = re.split(r"[=<>!~\[ ;]", missing.group(1), maxsplit=1)[0]
        why = probe_index(index, project)
        if why is not None:
            return why + "."
    if missing:
        return (f"{where} has no {missing.group(1)} for this Python (version, platform): "
                "check the index, or download a wheel for it into the wheel folder.")
    if "Permission denied" in text:
        return ("pip was not allowed to write the dependency folder: check its permissions "
                "(or set COPGEN_DEPS_DIR to a folder you own).")
    tail = " | ".join(run.lines[-3:]) or "no output"
    return f"pip failed (exit status {run.returncode}): {tail}"
