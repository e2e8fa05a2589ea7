"""A minimal stand-in for the Hugging Face hub on 127.0.0.1, for huggingface-hub 0.36.

It serves the calls that ``HfApi.model_info`` and ``hf_hub_download`` make:

* ``GET /api/models/{repo}[/revision/{rev}]`` -> JSON with ``id``, ``sha`` and ``siblings``;
* ``HEAD``/``GET /{repo}/resolve/{rev}/{path}`` with ``X-Repo-Commit``, ``ETag``,
  ``Content-Length`` and ``Range`` support (206 + ``Content-Range``).

``cut_once`` names files whose first GET sends only half the body and then drops the
connection, to exercise resuming. Every request is logged for the tests to inspect.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit


@dataclass
class Request:
    method: str
    path: str
    range: str | None


@dataclass
class FakeHub:
    repos: dict[str, dict[str, bytes]]
    cut_once: set[str] = field(default_factory=set)
    log: list[Request] = field(default_factory=list)
    bytes_sent: dict[str, int] = field(default_factory=dict)

    def commit(self, repo: str) -> str:
        return hashlib.sha1(repo.encode()).hexdigest()

    def start(self) -> str:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                hub._handle(self, head=False)

            def do_HEAD(self) -> None:
                hub._handle(self, head=True)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- request handling -------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, head: bool) -> None:
        path = unquote(urlsplit(h.path).path)
        self.log.append(Request(h.command, path, h.headers.get("Range")))
        if path.startswith("/api/models/"):
            return self._api(h, path[len("/api/models/"):])
        parts = path.lstrip("/").split("/")
        if len(parts) >= 5 and parts[2] == "resolve":
            repo, filename = "/".join(parts[:2]), "/".join(parts[4:])
            return self._file(h, repo, filename, head)
        return self._error(h, 404, "RepoNotFound")

    def _api(self, h: BaseHTTPRequestHandler, rest: str) -> None:
        parts = rest.split("/")
        repo = "/".join(parts[:2])
        if repo not in self.repos:
            return self._error(h, 404, "RepoNotFound")
        body = json.dumps({
            "id": repo, "modelId": repo, "sha": self.commit(repo), "private": False,
            "siblings": [{"rfilename": name} for name in sorted(self.repos[repo])],
        }).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _file(self, h: BaseHTTPRequestHandler, repo: str, filename: str, head: bool) -> None:
        files = self.repos.get(repo)
        if files is None:
            return self._error(h, 404, "RepoNotFound")
        if filename not in files:
            return self._error(h, 404, "EntryNotFound", commit=self.commit(repo))
        data = files[filename]
        start = 0
        rng = h.headers.get("Range")
        status = 200
        if rng and not head:
            start = int(rng.removeprefix("bytes=").split("-")[0])
            status = 206
        h.send_response(status)
        h.send_header("X-Repo-Commit", self.commit(repo))
        h.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        h.send_header("Accept-Ranges", "bytes")
        h.send_header("Content-Length", str(len(data) - start))
        if status == 206:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.end_headers()
        if head:
            return
        body = data[start:]
        key = f"{repo}/{filename}"
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

    @staticmethod
    def _error(h: BaseHTTPRequestHandler, code: int, kind: str, commit: str | None = None) -> None:
        body = json.dumps({"error": kind}).encode()
        h.send_response(code)
        h.send_header("X-Error-Code", kind)
        if commit:
            h.send_header("X-Repo-Commit", commit)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
