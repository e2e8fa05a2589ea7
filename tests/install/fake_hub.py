"""A stand-in for the Hugging Face hub on 127.0.0.1 that answers as the real hub does.

Two servers: the hub, and a second port standing for the LFS file server ("CDN") the hub
redirects large files to. What the real hub sends (read by huggingface-hub 0.36's
``hf_raise_for_status`` and ``get_hf_file_metadata``), and so this one:

* ``GET /api/models/{repo}[/revision/{rev}][?blobs=true]`` -> JSON ``id``, ``sha``, ``private``,
  ``gated`` and ``siblings`` (with ``blobs``: ``size``, ``blobId`` and, for LFS files,
  ``lfs: {sha256, size, pointerSize}``);
* a missing repository, or a private one without its token -> 401, ``X-Error-Code:
  RepoNotFound``; a gated one: 401 (no token) / 403 (a token without access) ``GatedRepo`` on
  file requests, while its listing stays public; an unknown token -> 401 ``X-Error-Message:
  Invalid credentials in Authorization header``; a missing revision -> 404
  ``RevisionNotFound``; a missing file -> 404 ``EntryNotFound`` (with ``X-Repo-Commit``);
* ``HEAD``/``GET /{repo}/resolve/{rev}/{path}``: small files are served directly (``ETag`` = git
  blob id); LFS files (weights by extension, or over 10 MB) answer 302 to the CDN with
  ``X-Linked-Etag`` (the SHA-256), ``X-Linked-Size`` and ``X-Repo-Commit``;
* a renamed repository: 307 to the same path under its new name (relative ``Location``);
* the CDN serves ``Range`` (206, 416 past the end), ``ETag`` = SHA-256 and, like S3 with a
  signed URL, refuses a request that carries an Authorization header (400).

``cut_once`` names files ("repo/path") whose next GET sends half its body and drops the
connection. Every request on either server is logged with its headers of interest.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

LFS_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".safetensors", ".onnx", ".data", ".tif")
LFS_POINTER = b"version https://git-lfs.github.com/spec/"
Files = dict[str, bytes]


@functools.cache
def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@functools.cache
def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(data: bytes) -> bytes:
    """The text git-LFS commits in place of a file."""
    return (b"version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n"
            % (sha256_hex(data).encode(), len(data)))


def is_lfs(name: str, data: bytes) -> bool:
    return not data.startswith(LFS_POINTER) and (name.endswith(LFS_SUFFIXES)
                                                 or len(data) > 10_000_000)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up: fine
            super().handle_error(request, client_address)


@dataclass
class Request:
    method: str
    path: str
    range: str | None
    authorization: str | None
    server: str  # "hub" or "cdn"
    file: str | None = None  # "repo/path" of a file request


@dataclass
class FakeHub:
    repos: dict[str, Files]  # each repository's files on its main branch
    cut_once: set[str] = field(default_factory=set)
    revisions: dict[str, dict[str, Files]] = field(default_factory=dict)  # repo -> tag -> files
    private: dict[str, str] = field(default_factory=dict)  # repo -> the token that may read it
    gated: dict[str, str] = field(default_factory=dict)  # repo -> the token granted access
    tokens: set[str] = field(default_factory=set)  # other valid tokens (no special access)
    renamed: dict[str, str] = field(default_factory=dict)  # old repo id -> its new id
    log: list[Request] = field(default_factory=list)
    bytes_sent: dict[str, int] = field(default_factory=dict)

    # -- repository model --------------------------------------------------------------------
    def _revs(self, repo: str) -> dict[str, Files]:
        return {"main": self.repos[repo], **self.revisions.get(repo, {})}

    def commit(self, repo: str, rev: str = "main") -> str:
        files = self._revs(repo)[rev]
        digest = hashlib.sha1(f"{repo}@{rev}".encode())
        for name in sorted(files):
            digest.update(name.encode() + bytes.fromhex(sha256_hex(files[name])))
        return digest.hexdigest()

    def _files_at(self, repo: str, rev: str) -> Files | None:
        for name, files in self._revs(repo).items():
            if rev in (name, self.commit(repo, name)):
                return files
        return None

    # -- servers -----------------------------------------------------------------------------
    def start(self) -> str:
        self._servers = [self._serve("hub"), self._serve("cdn")]
        self.cdn = f"http://127.0.0.1:{self._servers[1].server_address[1]}"
        return f"http://127.0.0.1:{self._servers[0].server_address[1]}"

    def _serve(self, kind: str) -> ThreadingHTTPServer:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                hub._handle(self, kind, head=False)

            def do_HEAD(self) -> None:
                hub._handle(self, kind, head=True)

        server = _Server(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
        return server

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers = []

    def stop_cdn(self) -> None:
        """The file server goes away while the hub still answers."""
        cdn = self._servers.pop()
        cdn.shutdown()
        cdn.server_close()

    # -- hub ---------------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, kind: str, head: bool) -> None:
        url = urlsplit(h.path)
        req = Request(h.command, unquote(url.path), h.headers.get("Range"),
                      h.headers.get("Authorization"), kind)
        self.log.append(req)
        if kind == "cdn":
            return self._cdn(h, req, parse_qs(url.query), head)
        raw = url.path.lstrip("/").split("/")
        parts = [unquote(p) for p in raw]
        token = (req.authorization or "").removeprefix("Bearer ") or None
        known = self.tokens | set(self.private.values()) | set(self.gated.values())
        if token is not None and token not in known:
            return self._error(h, 401, None, "Invalid credentials in Authorization header")
        old = "/".join(parts[2:4] if parts[:2] == ["api", "models"] else parts[:2])
        if old in self.renamed:  # the hub's answer for a renamed repository: a relative 307
            new = self.renamed[old]
            h.send_response(307)
            h.send_header("Location", url.path.replace(quote(old), quote(new), 1)
                          + (f"?{url.query}" if url.query else ""))
            h.send_header("Content-Length", "0")
            h.end_headers()
            return None
        if parts[:2] == ["api", "models"] and len(parts) >= 4:
            repo = "/".join(parts[2:4])
            rev = parts[5] if len(parts) >= 6 and parts[4] == "revision" else "main"
            return self._api(h, repo, rev, token, "true" in url.query.lower())
        if len(parts) >= 5 and parts[2] == "resolve":
            repo, rev, name = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
            req.file = f"{repo}/{name}"
            return self._resolve(h, repo, rev, name, token, head)
        return self._error(h, 404, None, "Not Found")

    def _visible(self, repo: str, token: str | None) -> bool:
        return repo in self.repos and self.private.get(repo, token) == token

    def _api(self, h: BaseHTTPRequestHandler, repo: str, rev: str, token: str | None,
             blobs: bool) -> None:
        if not self._visible(repo, token):
            return self._error(h, 401, "RepoNotFound", "Repository not found")
        files = self._files_at(repo, rev)
        if files is None:
            return self._error(h, 404, "RevisionNotFound", f"Invalid rev id: {rev}")
        siblings = []
        for name in sorted(files):
            entry: dict[str, Any] = {"rfilename": name}
            if blobs:
                data = files[name]
                pointer = lfs_pointer(data)
                stored = pointer if is_lfs(name, data) else data
                entry |= {"size": len(data), "blobId": git_blob_id(stored)}
                if is_lfs(name, data):
                    entry["lfs"] = {"sha256": sha256_hex(data),
                                    "size": len(data), "pointerSize": len(pointer)}
            siblings.append(entry)
        commit = next(self.commit(repo, r) for r, f in self._revs(repo).items() if f is files)
        self._json(h, {"_id": commit[:24], "id": repo, "modelId": repo, "sha": commit,
                       "private": repo in self.private,
                       "gated": "manual" if repo in self.gated else False, "disabled": False,
                       "lastModified": "2025-01-01T00:00:00.000Z", "siblings": siblings})

    def _resolve(self, h: BaseHTTPRequestHandler, repo: str, rev: str, name: str,
                 token: str | None, head: bool) -> None:
        if not self._visible(repo, token):
            return self._error(h, 401, "RepoNotFound", "Repository not found")
        if repo in self.gated and self.gated[repo] != token:
            message = (f"Access to model {repo} is restricted. You must have access to it and "
                       "be authenticated to access it. Please log in.")
            return self._error(h, 401 if token is None else 403, "GatedRepo", message)
        files = self._files_at(repo, rev)
        if files is None:
            return self._error(h, 404, "RevisionNotFound", f"Invalid rev id: {rev}")
        commit = next(self.commit(repo, r) for r, f in self._revs(repo).items() if f is files)
        if name not in files:
            return self._error(h, 404, "EntryNotFound", "Entry not found", commit)
        data = files[name]
        if is_lfs(name, data):
            sha = sha256_hex(data)
            h.send_response(302)
            h.send_header("Location", f"{self.cdn}/repos/{sha[:2]}/{sha[2:4]}/{sha}?"
                          f"response-content-disposition={quote(name)}&x-amz-signature=fake")
            h.send_header("X-Repo-Commit", commit)
            h.send_header("X-Linked-Etag", f'"{sha}"')
            h.send_header("X-Linked-Size", str(len(data)))
            h.send_header("ETag", f'"{git_blob_id(lfs_pointer(data))}"')
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        self._body(h, f"{repo}/{name}", data, git_blob_id(data), head, commit)

    # -- CDN ---------------------------------------------------------------------------------
    def _cdn(self, h: BaseHTTPRequestHandler, req: Request, query: dict[str, list[str]],
             head: bool) -> None:
        sha = req.path.rsplit("/", 1)[-1]
        found = [(f"{repo}/{name}", data) for repo, revs in
                 ((r, self._revs(r)) for r in self.repos) for files in revs.values()
                 for name, data in files.items() if sha256_hex(data) == sha]
        if req.authorization:  # S3: a signed URL and an Authorization header together
            body = (b"<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism "
                    b"allowed</Message></Error>")
            return self._raw(h, 400, body, "application/xml")
        if not found:
            return self._raw(h, 404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml")
        name = unquote(query.get("response-content-disposition", [""])[0])
        key = next((k for k, _ in found if k.endswith("/" + name)), found[0][0])
        req.file = key
        self._body(h, key, found[0][1], sha, head, None)

    # -- responses ---------------------------------------------------------------------------
    def _body(self, h: BaseHTTPRequestHandler, key: str, data: bytes, etag: str, head: bool,
              commit: str | None) -> None:
        start, status = 0, 200
        rng = h.headers.get("Range")
        if rng:
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                h.send_response(416)
                h.send_header("Content-Range", f"bytes */{len(data)}")
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            status = 206
        h.send_response(status)
        if commit:
            h.send_header("X-Repo-Commit", commit)
        h.send_header("ETag", f'"{etag}"')
        h.send_header("Accept-Ranges", "bytes")
        h.send_header("Content-Length", str(len(data) - start))
        if status == 206:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.end_headers()
        if head:
            return
        body = memoryview(data)[start:]  # no copy of a large file per request
        if key in self.cut_once:
            self.cut_once.discard(key)
            body = body[: len(body) // 2]
            h.wfile.write(body)
            h.wfile.flush()
            h.close_connection = True
            self.bytes_sent[key] = self.bytes_sent.get(key, 0) + len(body)
            h.connection.shutdown(2)  # drop mid-transfer: the client sees a short body
            return
        h.wfile.write(body)
        self.bytes_sent[key] = self.bytes_sent.get(key, 0) + len(body)

    def _json(self, h: BaseHTTPRequestHandler, obj: Any) -> None:
        self._raw(h, 200, json.dumps(obj).encode(), "application/json")

    @staticmethod
    def _raw(h: BaseHTTPRequestHandler, code: int, body: bytes, ctype: str) -> None:
        h.send_response(code)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    @staticmethod
    def _error(h: BaseHTTPRequestHandler, code: int, kind: str | None, message: str,
               commit: str | None = None) -> None:
        body = json.dumps({"error": message}).encode()
        h.send_response(code)
        if kind:
            h.send_header("X-Error-Code", kind)
        h.send_header("X-Error-Message", message)
        if commit:
            h.send_header("X-Repo-Commit", commit)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)
