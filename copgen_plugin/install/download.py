"""Download a model and install it as a package: the official checkpoints, or a ready package.

Two kinds of source, chosen by what the repository holds:

* ``copgen-base`` (or a repository with a backbone checkpoint at its root): the official
  backbone and VAE repositories; only the files the graph template needs are downloaded, then
  :func:`install.convert.install_from_checkpoints` fills the template without torch;
* a repository with ``manifest.json`` at its root: a ready package (manifest + ONNX files),
  every name checked with the package parser's rule before anything is fetched.

Files go through the Hugging Face cache (:mod:`.hub_cache`: resume, reuse, offline); the package
is built in a fresh staging folder, validated by the engine's parser with every hash, and
renamed into place (:mod:`.staging`). ``HF_ENDPOINT``, ``HF_TOKEN`` and ``HF_HUB_OFFLINE`` act
as in huggingface-hub.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..callbacks import CancelFn, ProgressFn
from ..engine.package import load_package, parse_manifest
from ..errors import CopgenError, HubError, HubUnreachableError, ManifestError
from ..model_store import user_models_dir
from .hub_cache import HubCache, is_lfs_pointer
from .hub_client import HubClient, Snapshot, check_repo_id, decode_json
from .official import (
    OFFICIAL,
    OfficialModel,
    choose_backbone,
    choose_vaes,
    is_official_backbone_repo,
    is_weight_file,
)
from .staging import check_destination, publish, staging_folder

log = logging.getLogger(__name__)

InfoFn = Callable[[str], None]
DEFAULT_MODEL = "copgen-base"
MAX_MANIFEST_BYTES = 16 << 20


@dataclass(frozen=True)
class DownloadRequest:
    """What to install where; every field has the default a user gets without options."""

    model: str = DEFAULT_MODEL  # a known id (copgen-base) or owner/name of a repository
    dest: Path | None = None  # the package folder; default <models_dir>/<model name>
    models_dir: Path | None = None  # default: the per-user models folder
    revision: str = "main"  # of the backbone or package repository
    vae_revision: str | None = None  # of the VAE repository (default: revision)
    endpoint: str | None = None  # default: HF_ENDPOINT or https://huggingface.co
    token: str | None = None  # default: HF_TOKEN or the saved login
    backbone_repo: str | None = None
    vae_repo: str | None = None
    template: str | Path | None = None  # a template id or folder (default: the model's)
    cache_dir: Path | None = None  # default: HF_HUB_CACHE


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    kind: str  # "official" or "package"
    commits: dict[str, str]  # repository -> commit installed
    downloaded_bytes: int
    reused: bool  # the installed package was already up to date
    cache: Path
    notes: list[str] = field(default_factory=list)

    @property
    def repo_ids(self) -> str:
        return ", ".join(self.commits)


def destination(request: DownloadRequest) -> Path:
    """Where the package folder goes (no network, no disk access)."""
    if request.dest is not None:
        return Path(request.dest).expanduser()
    root = Path(request.models_dir).expanduser() if request.models_dir else user_models_dir()
    name = request.model if request.model in OFFICIAL else request.model.rpartition("/")[2]
    return root / name


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


class _Bytes:
    """Download progress over several files, mapped to [0, share) of the whole run."""

    def __init__(self, progress: ProgressFn | None, total: int, share: float) -> None:
        self.progress, self.total, self.share, self.done = progress, max(total, 1), share, 0
        self.label = ""

    def __call__(self, n: int) -> None:
        self.done += n
        if self.progress is not None:
            self.progress(self.share * min(self.done / self.total, 1.0),
                          f"{self.label} ({self.done / 1e6:.1f} of {self.total / 1e6:.1f} MB)")


class _Job:
    """One download: the snapshots of its repositories and the files wanted from each."""

    def __init__(self, request: DownloadRequest, progress: ProgressFn | None,
                 cancel: CancelFn | None, info: InfoFn | None) -> None:
        self.request, self.progress, self.cancel = request, progress, cancel
        self.info = info or (lambda text: log.info("%s", text))
        self.offline = _offline()
        self.client = None if self.offline else HubClient(request.endpoint, request.token)
        self.cache = HubCache(request.cache_dir)
        self.notes: list[str] = []
        self.downloaded = 0  # bytes received in this run
        self.share = 0.0  # the part of the progress bar the downloads took

    def snapshot(self, repo_id: str, revision: str) -> Snapshot:
        if self.client is not None:
            try:
                return self.client.snapshot(repo_id, revision)
            except HubUnreachableError as exc:
                cached = self.cache.cached(repo_id, revision)
                if cached is None:
                    raise HubError(f"{exc}; and the cache {self.cache.root} holds no copy of "
                                   f"{repo_id}@{revision}") from None
                self.notes.append(f"hub unreachable: using the cached {repo_id}@{revision}")
                log.warning("%s; using the cached copy of %s@%s", exc, repo_id, revision)
                return cached
        cached = self.cache.cached(repo_id, revision)
        if cached is None:
            raise HubError(f"offline mode (HF_HUB_OFFLINE=1): no cached copy of "
                           f"{repo_id}@{revision} in {self.cache.root}: run once with network "
                           "access (or copy a hub cache that holds it there)")
        return cached

    def fetch(self, wanted: list[tuple[Snapshot, str]], *, share: float = 0.5
              ) -> dict[tuple[str, str], Path]:
        """Every (snapshot, name) into the cache, reported on [0, share) of the progress bar
        when anything is to be downloaded; returns the local paths."""
        missing = [f"{s.repo_id}/{n}" for s, n in wanted if n not in s.files]
        if missing:  # only from the cache: an online listing chose from what exists
            why = "offline mode (HF_HUB_OFFLINE=1)" if self.offline else "hub unreachable"
            raise HubError(f"{why}: not in the cache {self.cache.root}: {', '.join(missing)}; "
                           "run once with network access to download them")
        todo = sum(self.cache.missing_bytes(s, [n]) for s, n in wanted if not s.from_cache)
        total = sum(s.files[n].size for s, n in wanted)
        share = share if todo else 0.0
        _check_space(self.cache.root, todo)
        if len(wanted) > 1 or todo:
            self.info(f"{len(wanted)} file(s), {total / 1e6:.1f} MB, of which "
                      f"{todo / 1e6:.1f} MB to download into {self.cache.root}")
        meter = _Bytes(self.progress, todo, share)
        paths: dict[tuple[str, str], Path] = {}
        for i, (snap, name) in enumerate(wanted, 1):
            meter.label = f"{snap.repo_id}/{name}, file {i} of {len(wanted)}"
            before = self.cache.missing_bytes(snap, [name]) if not snap.from_cache else 0
            path = self.cache.fetch(self.client, snap, name,
                                    meter if before else (lambda n: None), self.cancel)
            if is_weight_file(name) and is_lfs_pointer(path):
                raise HubError(f"{snap.label}: {name} is a git-LFS pointer "
                               f"({path.stat().st_size} bytes of text), not the file itself: the "
                               "repository was pushed without its LFS objects; its owner must "
                               "upload them (git lfs push --all)")
            paths[(snap.repo_id, name)] = path
        self.downloaded += meter.done
        self.share = max(self.share, share)
        return paths

    def stage_progress(self, start: float, end: float) -> ProgressFn | None:
        if self.progress is None:
            return None
        progress = self.progress
        return lambda f, msg: progress(start + (end - start) * min(max(f, 0.0), 1.0), msg)


def _check_space(folder: Path, needed: int) -> None:
    """Refuse a download the disk cannot hold, before its first byte."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    if needed > free:
        raise HubError(f"the download needs {needed / 1e9:.2f} GB in {folder}, which has "
                       f"{free / 1e9:.2f} GB free: free some space, or set HF_HUB_CACHE to a "
                       "folder on a larger disk")


def _record(kind: str, model: str, snapshots: list[Snapshot], names: dict[str, list[str]],
            template: str | None) -> dict[str, Any]:
    return {"kind": kind, "model": model, "template": template, "plugin_version": __version__,
            "installed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "repos": {s.repo_id: {"revision": s.revision, "commit": s.commit,
                                  "files": sorted(names[s.repo_id])} for s in snapshots}}


def _up_to_date(dest: Path, installed: dict[str, Any] | None, record: dict[str, Any]) -> bool:
    if installed is None or installed.get("template") != record["template"]:
        return False
    same = {r: (v["commit"], v["files"]) for r, v in record["repos"].items()}
    had = {r: (v.get("commit"), v.get("files")) for r, v in installed.get("repos", {}).items()}
    if same != had:
        return False
    try:
        load_package(dest, verify="size")
    except CopgenError as exc:
        log.warning("the installed %s is damaged (%s); installing it again", dest, exc)
        return False
    return True


def _place(src: Path, dst: Path) -> None:
    """A cached file into the staging package: a hard link when possible (no second copy)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src.resolve(), dst)
    except OSError:
        shutil.copyfile(src, dst)


def _package_files(job: _Job, snap: Snapshot) -> tuple[bytes, list[str]]:
    """The remote manifest, parsed by the engine (names, hashes, sizes) before any other file
    is fetched, and checked against the repository listing."""
    size = snap.files["manifest.json"].size
    if size > MAX_MANIFEST_BYTES:  # read whole below: a repository is untrusted input
        raise HubError(f"{snap.label}: manifest.json has {size} bytes, more than any package "
                       f"manifest ({MAX_MANIFEST_BYTES} at most): not a model package")
    manifest_path = job.fetch([(snap, "manifest.json")], share=0.0)[
        (snap.repo_id, "manifest.json")]
    raw = manifest_path.read_bytes()
    where = f"{snap.label}: manifest.json"
    try:
        package = parse_manifest(Path(snap.repo_id), decode_json(raw, where))
    except ManifestError as exc:
        raise HubError(f"{where} is not a valid package manifest: {exc}; nothing was "
                       "installed") from None
    for entry in package.files.values():
        listed = snap.files.get(entry.name)
        if listed is None and not snap.from_cache:
            raise HubError(f"{where} lists {entry.name}, which the repository does not hold")
        if listed is not None and (listed.size != entry.bytes
                                   or (listed.lfs and listed.etag != entry.sha256)):
            raise HubError(f"{where}: {entry.name} in the repository ({listed.size} bytes, "
                           f"{listed.etag}) differs from the manifest ({entry.bytes} bytes, "
                           f"{entry.sha256}): the repository is inconsistent")
    return raw, sorted(package.files)


def download_model(request: DownloadRequest, *, progress: ProgressFn | None = None,
                   cancel: CancelFn | None = None, info: InfoFn | None = None
                   ) -> DownloadResult:
    """Install ``request.model`` and return where; a failed or cancelled run installs nothing,
    leaves any existing folder as it was, and keeps partial downloads in the cache to resume."""
    official = OFFICIAL.get(request.model)
    if official is None:
        check_repo_id(request.model)
    job = _Job(request, progress, cancel, info)  # checks the endpoint before anything is written
    dest = destination(request)
    installed = check_destination(dest)
    base = official or OFFICIAL[DEFAULT_MODEL]
    if official is not None or request.backbone_repo:
        template = _template(request, base)  # a missing template is said before any request
        backbone_repo = check_repo_id(request.backbone_repo or base.backbone_repo)
        first = job.snapshot(backbone_repo, request.revision)
        return _install_official(job, first, base, template, dest, installed)
    first = job.snapshot(request.model, request.revision)
    if "manifest.json" in first.files:
        return _install_package(job, first, dest, installed)
    if is_official_backbone_repo(first):
        return _install_official(job, first, base, _template(request, base), dest, installed)
    shown = ", ".join(sorted(first.files)[:20]) or "no files"
    raise HubError(f"{first.label} holds neither a model package (manifest.json at the root) "
                   f"nor a COP-GEN backbone checkpoint (500000_nnet_ema.pth); found: {shown}")


def _template(request: DownloadRequest, base: OfficialModel) -> tuple[str | Path, list[str]]:
    """The graph template to fill and the VAE folders it needs."""
    from .convert import required_vaes

    template = request.template or base.template
    return template, list(required_vaes(template))


def _install_package(job: _Job, snap: Snapshot, dest: Path,
                     installed: dict[str, Any] | None) -> DownloadResult:
    raw, names = _package_files(job, snap)
    record = _record("package", job.request.model, [snap], {snap.repo_id: names}, None)
    if _up_to_date(dest, installed, record):
        return DownloadResult(dest, "package", {snap.repo_id: snap.commit}, 0, True,
                              job.cache.root, job.notes)
    paths = job.fetch([(snap, n) for n in names])
    with staging_folder(dest) as staging:
        package = staging / "package"
        for name in names:
            _place(paths[(snap.repo_id, name)], package / name)
        (package / "manifest.json").write_bytes(raw)
        _validate(job, package, job.share)
        publish(package, dest, record)
    log.info("installed %s at %s", snap.label, dest)
    return DownloadResult(dest, "package", {snap.repo_id: snap.commit}, job.downloaded, False,
                          job.cache.root, job.notes)


def _install_official(job: _Job, backbone: Snapshot, base: OfficialModel,
                      template: tuple[str | Path, list[str]], dest: Path,
                      installed: dict[str, Any] | None) -> DownloadResult:
    from .convert import install_from_checkpoints

    request = job.request
    template_ref, folders = template
    vae_snap = job.snapshot(check_repo_id(request.vae_repo or base.vae_repo),
                            request.vae_revision or request.revision)
    nnet = choose_backbone(backbone)
    vaes = choose_vaes(vae_snap, folders)
    names = {backbone.repo_id: [nnet], vae_snap.repo_id: sorted(vaes.values())}
    record = _record("official", request.model, [backbone, vae_snap], names, str(template_ref))
    commits = {backbone.repo_id: backbone.commit, vae_snap.repo_id: vae_snap.commit}
    if _up_to_date(dest, installed, record):
        return DownloadResult(dest, "official", commits, 0, True, job.cache.root, job.notes)
    wanted = [(backbone, nnet)] + [(vae_snap, vaes[f]) for f in sorted(vaes)]
    paths = job.fetch(wanted)
    endpoint = job.client.endpoint if job.client else "hf-cache:"
    sources = {str(paths[(s.repo_id, n)]): f"{endpoint}/{s.repo_id}/{n}@{s.commit}"
               for s, n in wanted}  # the manifest's provenance of each weight file
    with staging_folder(dest) as staging:
        package = staging / "package"
        install_from_checkpoints(
            template_ref, paths[(backbone.repo_id, nnet)],
            {f: paths[(vae_snap.repo_id, n)] for f, n in vaes.items()}, package,
            sources=sources, progress=job.stage_progress(job.share, 0.9), cancel=job.cancel)
        _validate(job, package, 0.9)
        publish(package, dest, record)
    log.info("installed %s from %s at %s", request.model, ", ".join(commits), dest)
    return DownloadResult(dest, "official", commits, job.downloaded, False, job.cache.root,
                          job.notes)


def _validate(job: _Job, package: Path, start: float) -> None:
    """The engine's own parser and every SHA-256, before the package becomes visible."""
    if job.progress is not None:
        job.progress(start, "verifying the package (every file's SHA-256)")
    try:
        load_package(package, verify="full")
    except CopgenError as exc:
        raise HubError(f"the downloaded package does not validate, nothing was installed: "
                       f"{exc}") from None
    if job.progress is not None:
        job.progress(1.0, "verified")
