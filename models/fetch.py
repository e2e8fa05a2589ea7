"""Download COP-GEN weights from the Hugging Face hub into its cache, then export a package.

CLI: ``python -m models.fetch copgen-base --out packages/copgen-base`` (what ``make models`` runs).

* Files go to the hub cache (``HF_HUB_CACHE`` / ``HF_HOME``, or ``--cache-dir``); an interrupted
  download resumes from its ``.incomplete`` file, within the run (a few retries) or on the next.
* ``HF_HUB_OFFLINE=1`` (or ``--offline``) never touches the network and uses the cache only; with
  nothing cached the error says so. ``HF_ENDPOINT`` / ``--endpoint`` select the hub server.
* The file names in the repositories were not visible when this was written; the layouts of
  :mod:`models.locate` are accepted and a mismatch names the files that were found.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import huggingface_hub
import requests
from huggingface_hub import HfApi, constants, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from models.configs import ModalityConfig, select_modalities
from models.export import (
    DEFAULT_PROVENANCE,
    Provenance,
    SourceFile,
    add_export_options,
    export_from_files,
    options_from_args,
)
from models.locate import LayoutError, choose_files, list_tree

log = logging.getLogger(__name__)

RETRIES = 3


@dataclass(frozen=True)
class HubModel:
    """A fetchable model: backbone repository, VAE repository, export config, provenance."""

    backbone_repo: str
    vae_repo: str
    config: str
    provenance: Provenance


MODELS: dict[str, HubModel] = {
    "copgen-base": HubModel("mespinosami/copgen-base", "mespinosami/copgen-vaes", "base",
                            DEFAULT_PROVENANCE["base"]),
}


class FetchError(RuntimeError):
    """Files could not be obtained (offline without cache, unreachable hub, unknown layout)."""


@dataclass(frozen=True)
class HubSettings:
    endpoint: str | None = None  # None: HF_ENDPOINT or huggingface.co
    cache_dir: Path | None = None  # None: the hub cache of the environment
    revision: str = "main"
    offline: bool = False

    @property
    def endpoint_url(self) -> str:
        return self.endpoint or constants.ENDPOINT

    @property
    def cache_path(self) -> Path:
        return Path(self.cache_dir or constants.HF_HUB_CACHE)


def offline_requested() -> bool:
    """HF_HUB_OFFLINE as the hub library read it at import, or as the environment says now."""
    env = os.environ.get("HF_HUB_OFFLINE", "").strip().upper()
    return bool(constants.HF_HUB_OFFLINE) or env in {"1", "ON", "YES", "TRUE"}


def _cached_snapshot(repo: str, hub: HubSettings) -> Path | None:
    try:
        return Path(snapshot_download(repo, revision=hub.revision, cache_dir=hub.cache_dir,
                                      local_files_only=True))
    except (LocalEntryNotFoundError, OSError):
        return None


def list_repo(repo: str, hub: HubSettings) -> tuple[list[str], Path | None]:
    """File names of ``repo``: from the hub, or (offline / unreachable) from the cache.

    Returns the listing and, when it came from the cache, the snapshot folder holding the files.
    """
    if not hub.offline:
        try:
            info = HfApi(endpoint=hub.endpoint).model_info(repo, revision=hub.revision)
            return sorted(s.rfilename for s in info.siblings or []), None
        except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
            raise FetchError(f"{repo}@{hub.revision} does not exist on {hub.endpoint_url}: "
                             f"{exc}") from exc
        except (requests.ConnectionError, requests.Timeout, OfflineModeIsEnabled,
                requests.HTTPError) as exc:
            log.warning("cannot list %s on %s (%s); trying the local cache", repo,
                        hub.endpoint_url, exc)
            reason = f"cannot reach {hub.endpoint_url} ({type(exc).__name__})"
    else:
        reason = "offline mode (HF_HUB_OFFLINE)"
    snapshot = _cached_snapshot(repo, hub)
    if snapshot is None:
        raise FetchError(f"{reason} and no cached copy of {repo}@{hub.revision} in "
                         f"{hub.cache_path}; run once online (unset HF_HUB_OFFLINE) first")
    files = list_tree(snapshot)
    log.info("using the cached snapshot %s (%d files)", snapshot, len(files))
    return files, snapshot


def download(repo: str, filename: str, hub: HubSettings, snapshot: Path | None) -> Path:
    """One file into the hub cache; transient failures retry and resume from the partial file."""
    if snapshot is not None:
        return snapshot / filename
    for attempt in range(1, RETRIES + 1):
        try:
            return Path(hf_hub_download(repo, filename, revision=hub.revision,
                                        cache_dir=hub.cache_dir, endpoint=hub.endpoint))
        except LocalEntryNotFoundError as exc:  # hub unreachable and not cached yet
            error: Exception = exc
        except (EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError) as exc:
            raise FetchError(f"{repo}: {filename} is listed but cannot be downloaded: {exc}") \
                from exc
        except (requests.RequestException, OSError) as exc:  # cut transfer, size mismatch
            error = exc
        if attempt == RETRIES:
            raise FetchError(f"downloading {repo}/{filename} failed {RETRIES} times "
                             f"(the partial file is kept; run again to resume): {error}") \
                from error
        log.warning("download of %s/%s interrupted (%s); resuming", repo, filename, error)
        time.sleep(min(1.0 * attempt, 3.0))
    raise AssertionError("unreachable")


def fetch_checkpoints(model: HubModel, hub: HubSettings,
                      specs: Sequence[ModalityConfig] | None = None
                      ) -> tuple[SourceFile, dict[str, SourceFile]]:
    """Backbone and VAE files of ``model`` as local paths in the hub cache."""
    specs = list(specs or select_modalities(None))
    nnet_files, nnet_snap = list_repo(model.backbone_repo, hub)
    vae_files, vae_snap = list_repo(model.vae_repo, hub)
    try:
        nnet_sel = choose_files(nnet_files, [], where=model.backbone_repo)
        vae_sel = choose_files(vae_files, specs, denoiser=False, where=model.vae_repo)
    except LayoutError as exc:
        raise FetchError(str(exc)) from exc

    def origin(repo: str) -> dict[str, str]:
        return {"repository": repo, "revision": hub.revision}

    name = str(nnet_sel.denoiser)
    nnet = SourceFile(download(model.backbone_repo, name, hub, nnet_snap),
                      name, origin=origin(model.backbone_repo))
    vaes = {}
    for key, rel in vae_sel.vaes.items():
        vaes[key] = SourceFile(download(model.vae_repo, rel, hub, vae_snap), rel,
                               training=key in vae_sel.training, origin=origin(model.vae_repo))
    missing = [s.name for s in [nnet, *vaes.values()] if not s.path.is_file()]
    if missing:
        raise FetchError(f"cached snapshot is incomplete, missing {missing}")
    return nnet, vaes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.fetch",
                                     description="Fetch COP-GEN weights and export a package.")
    parser.add_argument("model", choices=sorted(MODELS))
    parser.add_argument("--out", required=True, type=Path, help="package folder to write")
    parser.add_argument("--revision", default="main")
    parser.add_argument("--endpoint", default=None, help="hub URL (default: HF_ENDPOINT)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="hub cache folder (default: HF_HUB_CACHE / HF_HOME)")
    parser.add_argument("--offline", action="store_true",
                        help="use the cache only (also HF_HUB_OFFLINE=1)")
    parser.add_argument("--download-only", action="store_true",
                        help="fill the cache, do not export")
    parser.add_argument("--config", default=None, help=argparse.SUPPRESS)  # tests: tiny weights
    add_export_options(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    model = MODELS[args.model]
    config = args.config or model.config
    hub = HubSettings(args.endpoint, args.cache_dir, args.revision,
                      args.offline or offline_requested())
    log.info("huggingface_hub %s, endpoint %s, cache %s%s", huggingface_hub.__version__,
             hub.endpoint_url, hub.cache_path, ", offline" if hub.offline else "")
    try:
        nnet, vaes = fetch_checkpoints(model, hub)
        if args.download_only:
            print(nnet.path.parent)
            return 0
        out = export_from_files(nnet, vaes, config, args.out, model.provenance,
                                options_from_args(args), gpu_variant=args.gpu_variant)
    except (FetchError, FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
