"""Download a ready model package (manifest + ONNX files) from a Hugging Face repository.

huggingface-hub supplies the endpoint, URLs, auth headers, offline flag and HTTP session; the
bytes are streamed here so that progress is reported per chunk and a cancel stops within one
chunk. Files land in ``<dest>.partial/``, resume from their ``.part`` after an interruption,
are checked against the manifest's SHA-256, and the folder is renamed to ``<dest>`` only when
every file is complete: a cancelled or failed download never leaves a half package behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import Cancelled, CopgenError
from .model_store import user_models_dir

log = logging.getLogger(__name__)

#: Short ids -> Hugging Face repositories holding a package in the format of
#: docs/MODEL_PACKAGE.md (an export made with `python -m models.fetch`, uploaded as is).
KNOWN_MODELS: dict[str, str] = {
    "copgen-base": "copgen-plugin/copgen-base-onnx",
}
CHUNK = 1 << 20
RETRIES = 3

ProgressFn = Callable[[int, int], None]
CancelFn = Callable[[], bool]


class HubError(CopgenError):
    """A download problem a user can act on (offline, unknown repository, bad checksum)."""


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    repo_id: str
    revision: str
    downloaded_bytes: int
    reused: bool


def resolve_repo(model: str) -> str:
    """A known short id or an ``owner/name`` repository id."""
    if model in KNOWN_MODELS:
        return KNOWN_MODELS[model]
    if model.count("/") == 1 and all(model.split("/")):
        return model
    raise HubError(f"unknown model {model!r}: give a Hugging Face repository id (owner/name) "
                   f"holding a COP-GEN model package, or one of {sorted(KNOWN_MODELS)}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _complete(folder: Path) -> bool:
    """A folder holding a manifest whose files all exist with the listed sizes."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        files = manifest["files"]
        return all((folder / n).stat().st_size == int(e["bytes"]) for n, e in files.items())
    except (OSError, ValueError, KeyError, TypeError):
        return False


class _Fetcher:
    """One repository at one revision, streamed with huggingface-hub's session and headers."""

    def __init__(self, repo_id: str, revision: str, endpoint: str | None, token: str | None):
        from huggingface_hub import hf_hub_url
        from huggingface_hub.utils import build_hf_headers, get_session

        self.repo_id, self.revision = repo_id, revision
        self._url = lambda name: hf_hub_url(repo_id, name, revision=revision, endpoint=endpoint)
        self._headers = build_hf_headers(token=token)
        self._session = get_session()

    def get_bytes(self, name: str) -> bytes:
        response = self._session.get(self._url(name), headers=self._headers, timeout=60)
        self._raise_for(response, name)
        return response.content

    def stream_to(self, name: str, part: Path, on_bytes: Callable[[int], None],
                  cancel: CancelFn | None) -> None:
        """Append the rest of `name` to `part`, resuming from its current size."""
        have = part.stat().st_size if part.exists() else 0
        headers = dict(self._headers)
        if have:
            headers["Range"] = f"bytes={have}-"
        with self._session.get(self._url(name), headers=headers, stream=True,
                               timeout=60) as response:
            if have and response.status_code == 200:  # server ignored the range: start over
                have = 0
                part.unlink()
            elif response.status_code != 416:
                self._raise_for(response, name)
            with part.open("ab") as handle:
                for chunk in response.iter_content(CHUNK):
                    if cancel is not None and cancel():
                        raise Cancelled(f"download of {self.repo_id} cancelled")
                    handle.write(chunk)
                    on_bytes(len(chunk))

    def _raise_for(self, response: Any, name: str) -> None:
        if response.status_code == 404:
            raise HubError(f"{self.repo_id}@{self.revision}: {name} not found (is this a "
                           "COP-GEN model package repository?)")
        if response.status_code in (401, 403):
            raise HubError(f"{self.repo_id}: access denied ({response.status_code}); log in "
                           "with `huggingface-cli login` or set HF_TOKEN for private repositories")
        if response.status_code >= 400:
            raise HubError(f"{self.repo_id}: {name}: HTTP {response.status_code}")


def download_package(
    model: str,
    *,
    dest_root: Path | None = None,
    revision: str = "main",
    endpoint: str | None = None,
    token: str | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> DownloadResult:
    """Install the package of `model` as ``dest_root/<repo name>`` and return where it is.

    An already complete package is reused without network access; in offline mode
    (``HF_HUB_OFFLINE=1``) anything else is an error that says how to get the files.
    """
    from huggingface_hub import constants

    repo_id = resolve_repo(model)
    root = Path(dest_root) if dest_root is not None else user_models_dir()
    dest = root / repo_id.split("/")[1]
    if _complete(dest):
        log.info("model package already installed at %s", dest)
        return DownloadResult(dest, repo_id, revision, 0, reused=True)
    if constants.HF_HUB_OFFLINE:
        raise HubError(f"offline mode (HF_HUB_OFFLINE) is on and {repo_id} is not installed at "
                       f"{dest}: download it on a connected machine and copy the folder there")
    import requests

    fetcher = _Fetcher(repo_id, revision, endpoint, token)
    staging = dest.with_name(dest.name + ".partial")
    staging.mkdir(parents=True, exist_ok=True)
    try:
        manifest_bytes = fetcher.get_bytes("manifest.json")
        files = json.loads(manifest_bytes)["files"]
        total = sum(int(e["bytes"]) for e in files.values())
        done = 0

        def on_bytes(n: int) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress(done, total)

        for name, entry in sorted(files.items()):
            final, part = staging / name, staging / (name + ".part")
            final.parent.mkdir(parents=True, exist_ok=True)
            if final.exists() and final.stat().st_size == int(entry["bytes"]):
                on_bytes(int(entry["bytes"]))
                continue
            on_bytes(part.stat().st_size if part.exists() else 0)
            size = int(entry["bytes"])
            for attempt in range(1, RETRIES + 1):  # a dropped connection resumes where it was
                fetcher.stream_to(name, part, on_bytes, cancel)
                if part.stat().st_size >= size:
                    break
                log.warning("%s: transfer cut at %d of %d bytes (attempt %d), resuming", name,
                            part.stat().st_size, size, attempt)
            else:
                raise HubError(f"{repo_id}: {name} stayed incomplete after {RETRIES} attempts; "
                               f"partial files are kept in {staging}: run it again to resume")
            if _sha256(part) != entry["sha256"]:
                part.unlink()
                raise HubError(f"{repo_id}: {name} does not match its SHA-256 in the manifest "
                               "(corrupted transfer or changed repository); run it again")
            part.replace(final)
        (staging / "manifest.json").write_bytes(manifest_bytes)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise HubError(f"cannot reach the hub for {repo_id} ({exc}); partial files are kept in "
                       f"{staging} and the next run resumes them") from exc
    except Cancelled:
        log.info("cancelled; partial files kept in %s for a later resume", staging)
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise HubError(f"{repo_id}: manifest.json is not a model package manifest ({exc})") from exc
    if dest.exists():
        shutil.rmtree(dest)
    staging.replace(dest)
    log.info("installed %s (%d bytes) at %s", repo_id, total, dest)
    return DownloadResult(dest, repo_id, revision, done, reused=False)
