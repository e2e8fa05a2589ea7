"""Downloaded repository files, kept in the Hugging Face cache layout so every tool shares them.

``HF_HUB_CACHE/models--owner--name/`` holds ``blobs/<etag>`` (the bytes, named by their SHA-256,
or git blob id for small files), ``snapshots/<commit>/<path>`` (links to the blobs),
``refs/<revision>`` (the commit a branch or tag pointed to) and ``blobs/<etag>.incomplete``
(an interrupted download). huggingface-hub reads and writes the same layout, so a file fetched
by ``hf_hub_download`` (or ``make models``) is reused here and the other way round, and either
resumes the other's ``.incomplete`` file. A blob is renamed into place only once its size and
hash match the listing; a reused blob is trusted by its name and size, as huggingface-hub does.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

from ..callbacks import CancelFn
from ..errors import Cancelled, HubError, HubUnreachableError
from .hub_client import HEX40, HubClient, RemoteFile, Snapshot

log = logging.getLogger(__name__)

CHUNK = 1 << 20
RETRIES = 3
LFS_POINTER = b"version https://git-lfs.github.com/spec/"

BytesFn = Callable[[int], None]


def _digest(path: Path, file: RemoteFile) -> str:
    """SHA-256 for an LFS file, the git blob id (sha1 of ``blob <size>\\0`` + bytes) otherwise."""
    digest = hashlib.sha256() if file.lfs else hashlib.sha1(f"blob {file.size}\0".encode())
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def is_lfs_pointer(path: Path) -> bool:
    """A small text file saying where a git-LFS object is, in place of the object itself."""
    if path.stat().st_size > 1024:
        return False
    with path.open("rb") as handle:
        return handle.read(len(LFS_POINTER)) == LFS_POINTER


def _link(blob: Path, entry: Path) -> None:
    """``snapshots/<commit>/<name>`` -> the blob: a relative symlink, else a hard link."""
    if entry.exists():
        return
    entry.parent.mkdir(parents=True, exist_ok=True)
    try:
        entry.symlink_to(os.path.relpath(blob, entry.parent))
    except OSError:
        try:
            os.link(blob, entry)
        except OSError as exc:  # the blob stays usable; only the named entry is missing
            log.warning("cannot link %s to %s (%s)", entry, blob, exc)


class HubCache:
    """The cache folder of one machine (``HF_HUB_CACHE`` unless given)."""

    def __init__(self, root: Path | None = None) -> None:
        from huggingface_hub import constants

        self.root = Path(root) if root is not None else Path(constants.HF_HUB_CACHE)

    def repo_dir(self, repo_id: str) -> Path:
        from huggingface_hub.file_download import repo_folder_name

        return self.root / repo_folder_name(repo_id=repo_id, repo_type="model")

    def blob(self, repo_id: str, file: RemoteFile) -> Path:
        return self.repo_dir(repo_id) / "blobs" / file.etag

    def entry(self, snapshot: Snapshot, name: str) -> Path:
        return self.repo_dir(snapshot.repo_id) / "snapshots" / snapshot.commit / name

    def missing_bytes(self, snapshot: Snapshot, names: list[str]) -> int:
        """Bytes still to download for ``names`` (partial files count what they hold)."""
        total = 0
        for name in names:
            file = snapshot.files[name]
            blob = self.blob(snapshot.repo_id, file)
            if blob.is_file() and blob.stat().st_size == file.size:
                continue
            part = blob.with_name(blob.name + ".incomplete")
            total += file.size - (min(part.stat().st_size, file.size) if part.is_file() else 0)
        return total

    def cached(self, repo_id: str, revision: str) -> Snapshot | None:
        """What the cache holds of ``repo_id`` at ``revision`` (offline), or None."""
        repo = self.repo_dir(repo_id)
        commit = revision.lower() if HEX40.fullmatch(revision.lower()) else None
        if commit is None:
            try:
                ref = (repo / "refs" / revision).resolve()
                if repo.resolve() in ref.parents:  # a revision never names a path outside
                    commit = ref.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                commit = None
        if commit is None or not HEX40.fullmatch(commit):
            return None
        folder = repo / "snapshots" / commit
        if not folder.is_dir():
            return None
        files: dict[str, RemoteFile] = {}
        for path in sorted(folder.rglob("*")):
            if not path.is_file():  # folders, and links to blobs that are gone
                continue
            name = path.relative_to(folder).as_posix()
            etag = Path(os.readlink(path)).name if path.is_symlink() else ""
            files[name] = RemoteFile(name, path.stat().st_size, etag, len(etag) == 64)
        return Snapshot(repo_id, revision, commit, files, from_cache=True)

    def fetch(self, client: HubClient | None, snapshot: Snapshot, name: str, on_bytes: BytesFn,
              cancel: CancelFn | None) -> Path:
        """The named path of ``name`` in the cache, downloaded (or resumed) if needed; without a
        client (offline) only a snapshot read from the cache can be served."""
        file = snapshot.files[name]
        if snapshot.from_cache:
            return self.entry(snapshot, name)
        if client is None:
            raise HubError(f"{snapshot.label}: {name} is not in the cache and there is no "
                           "connection to the hub (offline mode)")
        from filelock import FileLock

        blob = self.blob(snapshot.repo_id, file)
        locks = self.root / ".locks" / self.repo_dir(snapshot.repo_id).name
        locks.mkdir(parents=True, exist_ok=True)
        blob.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(locks / f"{file.etag}.lock")):
            if blob.is_file() and blob.stat().st_size == file.size:
                log.info("%s: %s already in the cache (%s)", snapshot.label, name, blob)
                on_bytes(file.size)
            else:
                self._download(client, snapshot, file, blob, on_bytes, cancel)
        self._record(snapshot, name, blob)
        return self.entry(snapshot, name) if self.entry(snapshot, name).is_file() else blob

    def _download(self, client: HubClient, snapshot: Snapshot, file: RemoteFile, blob: Path,
                  on_bytes: BytesFn, cancel: CancelFn | None) -> None:
        import requests

        part = blob.with_name(blob.name + ".incomplete")
        have = part.stat().st_size if part.is_file() else 0
        if have > file.size:
            part.unlink()
            have = 0
        last = ""
        for attempt in range(1, RETRIES + 1):
            if have == file.size:
                break
            try:
                with client.open(snapshot, file.name, start=have) as response:
                    if response.status_code == 416 or (have and response.status_code == 200):
                        log.info("%s: the server did not resume at byte %d; starting over",
                                 file.name, have)
                        part.unlink(missing_ok=True)
                        have = 0
                        if response.status_code == 416:
                            continue
                    with part.open("ab") as handle:
                        for chunk in response.iter_content(CHUNK):
                            if cancel is not None and cancel():
                                raise Cancelled(f"download of {snapshot.repo_id} cancelled; "
                                                f"{part.name} is kept and resumed next time")
                            handle.write(chunk)
                            have += len(chunk)
                            on_bytes(len(chunk))
            except (requests.ConnectionError, requests.Timeout, HubUnreachableError,
                    requests.exceptions.ChunkedEncodingError) as exc:
                last = f" (last: {type(exc).__name__}: {exc})"
                log.warning("%s: transfer cut at %d of %d bytes (attempt %d of %d: %s); "
                            "resuming", file.name, have, file.size, attempt, RETRIES,
                            type(exc).__name__)
        if have != file.size:
            raise HubError(f"{snapshot.label}: {file.name} stayed incomplete ({have} of "
                           f"{file.size} bytes) after {RETRIES} attempts{last}; the partial "
                           f"file is kept in {part.parent} and the next run resumes it")
        actual = _digest(part, file)
        if actual != file.etag:
            part.unlink()
            raise HubError(f"{snapshot.label}: {file.name} does not match the hub's "
                           f"{'SHA-256' if file.lfs else 'git blob id'} ({actual} instead of "
                           f"{file.etag}): corrupted transfer or a changed repository; run it "
                           "again")
        part.replace(blob)

    def _record(self, snapshot: Snapshot, name: str, blob: Path) -> None:
        """The snapshot entry and the revision's ref, as huggingface-hub writes them."""
        _link(blob, self.entry(snapshot, name))
        if snapshot.revision.lower() == snapshot.commit:
            return
        refs = self.repo_dir(snapshot.repo_id) / "refs"
        ref = refs / snapshot.revision
        try:
            if refs.resolve() in ref.resolve().parents:
                ref.parent.mkdir(parents=True, exist_ok=True)
                ref.write_text(snapshot.commit, encoding="utf-8")
        except OSError as exc:
            log.warning("cannot record %s -> %s in %s (%s)", snapshot.revision,
                        snapshot.commit, refs, exc)
