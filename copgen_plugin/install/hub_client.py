"""Talking to a Hugging Face hub the way huggingface-hub does, with a true message for each answer.

huggingface-hub supplies the endpoint (``HF_ENDPOINT``), the token and headers (``HF_TOKEN``),
the URLs, the HTTP session and the reading of the hub's error headers (``hf_raise_for_status``);
this module streams the bytes itself so that a caller sees every chunk (progress, cancel) and
can resume with a Range. What the hub answers and what the user is told:

* 401 + ``X-Error-Code: RepoNotFound``: no such repository, or a private one (same answer);
* 401/403 + ``GatedRepo``: the repository needs its conditions accepted and a token;
* 404 + ``RevisionNotFound`` / ``EntryNotFound``: no such branch, tag or commit / file;
* 401 + ``Invalid credentials in Authorization header``: the token itself is refused;
* large (LFS) files: a 302 to another host, followed without the Authorization header.

Every name the hub returns is checked with the package parser's rule before it is used in a path.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from ..engine.package import check_relative_name
from ..errors import HubError, HubUnreachableError, ManifestError

log = logging.getLogger(__name__)

TIMEOUT_S = 60
MAX_REDIRECTS = 5
HEX40 = re.compile(r"[0-9a-f]{40}")
HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class RemoteFile:
    """One file of a repository at one commit, as the hub lists it."""

    name: str
    size: int
    etag: str  # the LFS object's SHA-256, or the git blob id of a small file
    lfs: bool


@dataclass(frozen=True)
class Snapshot:
    """A repository at one commit: what it holds, and whether this came from the local cache."""

    repo_id: str
    revision: str
    commit: str
    files: dict[str, RemoteFile]
    from_cache: bool = False

    @property
    def label(self) -> str:
        return f"{self.repo_id}@{self.revision}"


def check_endpoint(endpoint: str) -> str:
    """An http(s) hub address without its trailing slash, or a HubError saying what is wrong."""
    parts = urlsplit(endpoint.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise HubError(f"hub endpoint {endpoint!r} is not an http(s) address: set HF_ENDPOINT "
                       "(or the endpoint option) to a hub such as https://huggingface.co or a "
                       "mirror, or leave it empty")
    return endpoint.strip().rstrip("/")


def check_repo_id(repo_id: str) -> str:
    """``owner/name`` as the hub allows it (huggingface-hub's own validator), or a HubError."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise HubError(f"{repo_id!r} is not a Hugging Face repository id: use owner/name "
                       f"(letters, digits, '-', '_', '.'); {exc}") from None
    if repo_id.count("/") != 1:
        raise HubError(f"{repo_id!r} is not a Hugging Face repository id: use owner/name")
    return repo_id


def _listed_file(repo_id: str, entry: Any) -> RemoteFile:
    where = f"{repo_id}: repository listing"
    if not isinstance(entry, dict):
        raise HubError(f"{where}: an entry is not an object ({entry!r})")
    try:
        name = check_relative_name(entry.get("rfilename"), where)
    except ManifestError as exc:
        raise HubError(f"{exc}; nothing was written") from None
    lfs = entry.get("lfs")
    if isinstance(lfs, dict):
        etag, size, is_lfs = str(lfs.get("sha256", "")).lower(), lfs.get("size"), True
        ok = bool(HEX64.fullmatch(etag))
    else:
        etag, size, is_lfs = str(entry.get("blobId", "")).lower(), entry.get("size"), False
        ok = bool(HEX40.fullmatch(etag))
    if not ok or not isinstance(size, int) or size < 0:
        raise HubError(f"{where}: {name} has no valid size and hash ({entry!r}); is "
                       "this a Hugging Face hub?")
    return RemoteFile(name, size, etag, is_lfs)


class HubClient:
    """One endpoint and token; every request goes through huggingface-hub's session."""

    def __init__(self, endpoint: str | None = None, token: str | None = None) -> None:
        from huggingface_hub import constants
        from huggingface_hub.utils import build_hf_headers

        self.endpoint = check_endpoint(endpoint or constants.ENDPOINT)
        self.headers = build_hf_headers(token=token)
        self.has_token = "authorization" in {k.lower() for k in self.headers}

    def _get(self, url: str, headers: dict[str, str], *, redirects: bool = False,
             **kwargs: Any) -> Any:
        import requests
        from huggingface_hub.utils import get_session

        try:
            return get_session().get(url, headers=headers, timeout=TIMEOUT_S,
                                     allow_redirects=redirects, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            host = "{0.scheme}://{0.netloc}".format(urlsplit(url))  # the hub or its file server
            raise HubUnreachableError(
                f"cannot reach {host} ({type(exc).__name__}: {_short(exc)}): check the "
                "network, the proxy or HF_ENDPOINT; HF_HUB_OFFLINE=1 uses the local cache only"
            ) from None

    def snapshot(self, repo_id: str, revision: str) -> Snapshot:
        """The files of ``repo_id`` at ``revision`` (branch, tag or commit), with sizes and hashes.

        The same call as ``HfApi.model_info(files_metadata=True)``; the commit it names pins
        every later file request, so all files come from one commit even if the branch moves.
        """
        url = (f"{self.endpoint}/api/models/{repo_id}/revision/{quote(revision, safe='')}"
               "?blobs=true")
        # a renamed repository answers with a redirect to its new name (requests drops the
        # token should it lead to another host)
        response = self._get(url, dict(self.headers), redirects=True)
        self.raise_for(response, repo_id, revision)
        try:
            info = response.json()
            commit = str(info["sha"]).lower()
            siblings = info["siblings"]
        except (ValueError, KeyError, TypeError):
            raise HubError(f"{self.endpoint} did not answer the listing of {repo_id} as a "
                           "Hugging Face hub does (no JSON with sha and siblings): is "
                           "HF_ENDPOINT a hub?") from None
        if not HEX40.fullmatch(commit) or not isinstance(siblings, list):
            raise HubError(f"{repo_id}: the hub's listing has no valid commit ({commit!r})")
        files = [_listed_file(repo_id, s) for s in siblings]
        return Snapshot(repo_id, revision, commit, {f.name: f for f in files})

    @contextmanager
    def open(self, snapshot: Snapshot, name: str, start: int = 0) -> Iterator[Any]:
        """A streaming response for ``name`` from byte ``start`` (200, 206 or 416).

        Redirects are followed here: a relative one (a renamed repository) keeps the headers,
        one to another host (the LFS file server) drops the Authorization header, as
        huggingface-hub does, so the token never leaves the hub.
        """
        from huggingface_hub import hf_hub_url

        url = hf_hub_url(snapshot.repo_id, name, revision=snapshot.commit,
                         endpoint=self.endpoint)
        headers = dict(self.headers)
        if start:
            headers["Range"] = f"bytes={start}-"
        for _ in range(MAX_REDIRECTS + 1):
            response = self._get(url, headers, stream=True)
            if response.status_code not in (301, 302, 303, 307, 308):
                break
            target = urljoin(url, response.headers.get("Location", ""))
            response.close()
            if urlsplit(target).netloc != urlsplit(url).netloc:
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            if urlsplit(target).scheme not in ("http", "https"):
                raise HubError(f"{snapshot.label}: {name} redirects to {target!r}, which is "
                               "not an http(s) address")
            url = target
        else:
            raise HubError(f"{snapshot.label}: {name}: more than {MAX_REDIRECTS} redirects")
        try:
            if response.status_code != 416:
                self.raise_for(response, snapshot.repo_id, snapshot.revision, name)
            yield response
        finally:
            response.close()

    def raise_for(self, response: Any, repo_id: str, revision: str,
                  name: str | None = None) -> None:
        """Turn the hub's answer into a HubError with a true message (nothing on success)."""
        from huggingface_hub.errors import (
            DisabledRepoError,
            EntryNotFoundError,
            GatedRepoError,
            HfHubHTTPError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )
        from huggingface_hub.utils import hf_raise_for_status

        where, repo_url = f"{repo_id}@{revision}", f"{self.endpoint}/{repo_id}"
        status = response.status_code
        try:
            hf_raise_for_status(response)
        except GatedRepoError:
            raise HubError(f"{repo_id} on {self.endpoint} is gated: accept its conditions at "
                           f"{repo_url} with your account, then set HF_TOKEN to a token of "
                           "that account" + (" (the token given has no access yet)"
                                             if self.has_token else "")) from None
        except RepositoryNotFoundError:
            if status == 401 and response.headers.get("X-Error-Message") == (
                    "Invalid credentials in Authorization header"):
                raise HubError(_bad_token(self.endpoint)) from None
            hint = ("the token given (HF_TOKEN) has no access to it" if self.has_token
                    else "set HF_TOKEN")
            raise HubError(f"no repository {repo_id} on {self.endpoint} (or it is private: "
                           f"{hint})") from None
        except RevisionNotFoundError:
            raise HubError(f"{repo_id} has no revision {revision!r} (branch, tag or commit) "
                           f"on {self.endpoint}: see {repo_url}/tree/main") from None
        except EntryNotFoundError:
            raise HubError(f"{where} has no file {name!r} on {self.endpoint}") from None
        except DisabledRepoError:
            raise HubError(f"{repo_id} has been disabled on {self.endpoint}") from None
        except HfHubHTTPError as exc:
            raise HubError(_other_status(status, where, name, self.endpoint,
                                         exc.server_message, self.has_token)) from None


def _bad_token(endpoint: str) -> str:
    return (f"{endpoint} refused the token (HF_TOKEN or the saved login) as invalid or expired: "
            f"make a new one at {endpoint}/settings/tokens, or unset it for public repositories")


def _other_status(status: int, where: str, name: str | None, endpoint: str,
                  server: str | None, has_token: bool) -> str:
    what = f"{where}: {name}" if name else f"the listing of {where}"
    said = f" ({server})" if server else ""
    if status == 401:
        return _bad_token(endpoint) if has_token else (
            f"{endpoint} needs a token for {what} (HTTP 401{said}): set HF_TOKEN")
    if status == 403:
        return f"{endpoint} refused access to {what} (HTTP 403{said}): the token lacks permission"
    if status == 429:
        return f"{endpoint} is limiting requests (HTTP 429) for {what}: wait a while and run again"
    if status >= 500:
        return (f"{endpoint} failed (HTTP {status}) for {what}: the hub is having trouble; run "
                "again later (finished and partial files are kept and reused)")
    return f"{endpoint} answered HTTP {status} for {what}{said}: is HF_ENDPOINT a Hugging Face hub?"


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 160 else text[:157] + "..."


def decode_json(data: bytes, where: str) -> Any:
    """JSON from the hub (a manifest), or a HubError naming the file."""
    try:
        return json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HubError(f"{where} is not JSON ({exc})") from None
