"""A stand-in for the Hugging Face hub's file API, on 127.0.0.1 only (tests and manual runs).

It serves what ``huggingface_hub`` 0.36's downloads read (``HF_ENDPOINT`` points it here), for
model and dataset repos, as the hub does:

- ``GET /api/models/{repo}[/revision/{rev}]`` and ``GET /api/datasets/{repo}[/revision/{rev}]``:
  the repo's ``id``, its commit ``sha`` (40 hex digits) and ``siblings`` (``?blobs=true`` adds
  size, blob id and LFS data), which ``snapshot_download`` lists the files from;
- ``HEAD``/``GET /{repo}/resolve/{rev}/{file}`` (``/datasets/{repo}/resolve/...`` for datasets):
  a regular file answers with ``X-Repo-Commit``, ``ETag`` (its git blob id) and
  ``Content-Length``: as the hub does since 2025, through a 307 to a relative
  ``/api/resolve-cache/...`` URL at the commit, which the client follows (``resolve_cache=False``:
  a 200 at once, as the hub did before); an LFS file (weights, ``*.model``, parquet: the hub's
  default ``.gitattributes``) answers 302 to the stand-in's "CDN" with ``X-Linked-Etag`` (its
  sha256), ``X-Linked-Size`` and an absolute ``Location``, which the client does not follow but
  downloads from; every file honours ``Range`` (resumed downloads), and the CDN names the file in
  ``Content-Disposition`` (the progress bar's label);
- errors as the hub sends them, which ``hf_raise_for_status`` maps to its exceptions: 404 with
  ``X-Error-Code: RepoNotFound``, ``RevisionNotFound`` or ``EntryNotFound`` (this one with
  ``X-Repo-Commit``, which the client caches), and a JSON ``{"error": ...}`` body.

The revision ``main`` and the commit sha both resolve to the one commit; the sha is a hash of
the files, so other contents give another sha. Not served: uploads, ``/tree``, gated or private
repos (the real hub answers 401 to an anonymous request for one), and Xet storage (without its
headers the client downloads over plain HTTP, as from a repo that predates Xet).

``hang=True`` is a hub that accepts every connection and never answers: each request is held,
unread, until the stand-in closes.

    with HubStandin() as hub:
        hub.add_repo("org/albert-tiny-qa", checkpoint_dir)
        env["HF_ENDPOINT"] = hub.endpoint

    python -m tests.hub_standin --model org/name=DIR [--dataset org/name=DIR] [--hang]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import re
import sys
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

HOST = "127.0.0.1"
REPO_TYPES = ("model", "dataset")
#: Suffixes the hub's default ``.gitattributes`` stores with Git LFS (the ones a checkpoint or a
#: dataset uses); their resolve answers are redirects to the CDN, as on the hub.
LFS_SUFFIXES = (
    ".arrow",
    ".bin",
    ".ckpt",
    ".gz",
    ".h5",
    ".model",
    ".msgpack",
    ".npy",
    ".npz",
    ".onnx",
    ".ot",
    ".parquet",
    ".pickle",
    ".pkl",
    ".pt",
    ".pth",
    ".safetensors",
    ".tar",
    ".tflite",
    ".zip",
)
GITATTRIBUTES = "".join(
    f"*{suffix} filter=lfs diff=lfs merge=lfs -text\n" for suffix in LFS_SUFFIXES
)
#: When every repo was "committed" (the hub's timestamp format).
COMMIT_DATE = "2024-01-01T00:00:00.000Z"
#: A client that connects and sends nothing is dropped after this many seconds.
CLIENT_TIMEOUT = 30.0

_REPO_ID = r"[A-Za-z0-9][\w.-]*(?:/[\w.-]+)?"
_API = re.compile(
    rf"^/api/(?P<kind>models|datasets)/(?P<repo>{_REPO_ID})(?:/revision/(?P<rev>[^/]+))?$"
)
_RESOLVE = re.compile(
    rf"^/(?:(?P<kind>datasets)/)?(?P<repo>{_REPO_ID})/resolve/(?P<rev>[^/]+)/(?P<file>.+)$"
)
_CDN = re.compile(r"^/cdn-lfs/(?P<sha256>[0-9a-f]{64})$")
_RESOLVE_CACHE = re.compile(
    rf"^/api/resolve-cache/(?P<kind>models|datasets)/(?P<repo>{_REPO_ID})/(?P<sha>[0-9a-f]{{40}})/(?P<file>.+)$"
)
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def git_blob_id(content: bytes) -> str:
    """The git object id of a blob, which the hub sends as a regular file's ETag."""
    return hashlib.sha1(b"blob %d\x00" % len(content) + content).hexdigest()


@dataclass(frozen=True)
class HubFile:
    path: str
    content: bytes

    @property
    def lfs(self) -> bool:
        return self.path.endswith(LFS_SUFFIXES)

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @cached_property
    def pointer(self) -> bytes:
        """The Git LFS pointer file git stores in place of an LFS file."""
        return (
            f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\n"
            f"size {len(self.content)}\n"
        ).encode()

    @cached_property
    def blob_id(self) -> str:
        """The git blob id: of the pointer for an LFS file, of the content otherwise."""
        return git_blob_id(self.pointer if self.lfs else self.content)


@dataclass
class HubRepo:
    repo_id: str
    repo_type: str
    files: dict[str, HubFile] = field(default_factory=dict)

    @cached_property
    def sha(self) -> str:
        """The commit: 40 hex digits that change whenever a file does."""
        digest = hashlib.sha1(f"{self.repo_type}:{self.repo_id}\n".encode())
        for path in sorted(self.files):
            digest.update(f"{self.files[path].blob_id} {path}\n".encode())
        return digest.hexdigest()

    def info(self, *, blobs: bool) -> dict[str, Any]:
        """The body of ``/api/{models,datasets}/{repo}/revision/{rev}``."""
        siblings: list[dict[str, Any]] = []
        for path in sorted(self.files):
            hub_file = self.files[path]
            sibling: dict[str, Any] = {"rfilename": path}
            if blobs:
                sibling.update(size=len(hub_file.content), blobId=hub_file.blob_id)
                if hub_file.lfs:
                    sibling["lfs"] = {
                        "sha256": hub_file.sha256,
                        "size": len(hub_file.content),
                        "pointerSize": len(hub_file.pointer),
                    }
            siblings.append(sibling)
        author = self.repo_id.split("/")[0] if "/" in self.repo_id else None
        info: dict[str, Any] = {
            "_id": self.sha[:24],
            "id": self.repo_id,
            "author": author,
            "sha": self.sha,
            "lastModified": COMMIT_DATE,
            "createdAt": COMMIT_DATE,
            "private": False,
            "gated": False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "siblings": siblings,
        }
        if self.repo_type == "model":
            info["modelId"] = self.repo_id
        return info


def _files_of(source: Path | Mapping[str, bytes]) -> dict[str, HubFile]:
    if isinstance(source, Path):
        if not source.is_dir():
            raise ValueError(f"{source} is not a directory")
        contents = {
            path.relative_to(source).as_posix(): path.read_bytes()
            for path in sorted(source.rglob("*"))
            if path.is_file()
        }
    else:
        contents = dict(source)
    contents.setdefault(".gitattributes", GITATTRIBUTES.encode())
    return {path: HubFile(path, content) for path, content in contents.items()}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, standin: HubStandin, port: int) -> None:
        self.standin = standin
        super().__init__((HOST, port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as the hub: every answer has a Content-Length
    server_version = "hub-standin"
    timeout = CLIENT_TIMEOUT

    def handle(self) -> None:
        standin = self.server.standin
        if standin.hang:
            # Accepted by the kernel and by us; nothing is read and nothing is ever sent.
            with standin.lock:
                standin.held += 1
            standin.closing.wait()
            return
        super().handle()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._route()

    def do_GET(self) -> None:
        self._route()

    def _not_allowed(self) -> None:
        self.close_connection = True  # a body may follow, unread
        self._error(405, None, "Method not allowed")

    do_POST = do_PUT = do_DELETE = do_PATCH = _not_allowed

    def _route(self) -> None:
        """GET and HEAD alike; a HEAD's answer has the same headers and no body."""
        url = urlsplit(self.path)
        self.server.standin.requests.append((self.command, self.path))
        if match := _CDN.match(url.path):
            return self._cdn(match["sha256"], parse_qs(url.query))
        if match := _RESOLVE_CACHE.match(url.path):
            kind = match["kind"].removesuffix("s")
            return self._resolve_cache(kind, match["repo"], match["sha"], unquote(match["file"]))
        if match := _RESOLVE.match(url.path):
            kind = "dataset" if match["kind"] else "model"
            return self._resolve(kind, match["repo"], unquote(match["rev"]), unquote(match["file"]))
        if match := _API.match(url.path):
            kind = match["kind"].removesuffix("s")
            blobs = parse_qs(url.query).get("blobs", [""])[0].lower() in {"1", "true"}
            return self._api(kind, match["repo"], unquote(match["rev"] or "main"), blobs)
        return self._error(404, None, "Sorry, we can't find the page you are looking for.")

    def _repo(self, kind: str, repo_id: str, revision: str) -> HubRepo | None:
        repo = self.server.standin.repos.get((kind, repo_id))
        if repo is None:
            self._error(404, "RepoNotFound", "Repository not found")
            return None
        if revision not in ("main", repo.sha):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return None
        return repo

    def _api(self, kind: str, repo_id: str, revision: str, blobs: bool) -> None:
        repo = self._repo(kind, repo_id, revision)
        if repo is not None:
            body = json.dumps(repo.info(blobs=blobs)).encode()
            self._answer(200, {"Content-Type": "application/json; charset=utf-8"}, body)

    def _resolve(self, kind: str, repo_id: str, revision: str, path: str) -> None:
        repo = self._repo(kind, repo_id, revision)
        if repo is None:
            return
        hub_file = repo.files.get(path)
        if hub_file is None:
            self._error(404, "EntryNotFound", "Entry not found", {"X-Repo-Commit": repo.sha})
            return
        headers = {"X-Repo-Commit": repo.sha, "ETag": f'"{hub_file.blob_id}"'}
        if hub_file.lfs:
            name = quote(Path(path).name)
            location = f"{self.server.standin.endpoint}/cdn-lfs/{hub_file.sha256}?name={name}"
            body = f"Found. Redirecting to {location}".encode()
            headers.update(
                {
                    "Location": location,
                    "X-Linked-Etag": f'"{hub_file.sha256}"',
                    "X-Linked-Size": str(len(hub_file.content)),
                    "Content-Type": "text/plain; charset=utf-8",
                }
            )
            self._answer(302, headers, body)
            return
        if self.server.standin.resolve_cache:
            # As the hub answers since 2025: a relative redirect to a cacheable URL at the commit,
            # which the client follows (HEAD and GET) and the probe's urllib too.
            kinds = "models" if kind == "model" else "datasets"
            location = (
                f"/api/resolve-cache/{kinds}/{repo.repo_id}/{repo.sha}/{quote(path)}"
                f"?{quote(urlsplit(self.path).path, safe='')}=&etag=%22{hub_file.blob_id}%22"
            )
            headers.update({"Location": location, "Content-Type": "text/plain; charset=utf-8"})
            self._answer(307, headers, f"Temporary Redirect. Redirecting to {location}".encode())
            return
        self._file(hub_file, repo.sha, headers)

    def _resolve_cache(self, kind: str, repo_id: str, sha: str, path: str) -> None:
        repo = self._repo(kind, repo_id, sha)
        if repo is None:
            return
        hub_file = repo.files.get(path)
        if hub_file is None or hub_file.lfs:
            self._error(404, "EntryNotFound", "Entry not found", {"X-Repo-Commit": repo.sha})
            return
        self._file(hub_file, repo.sha, {"X-Repo-Commit": repo.sha})

    def _file(self, hub_file: HubFile, sha: str, headers: dict[str, str]) -> None:
        """A regular (not LFS) file's bytes, with its blob id as ETag."""
        headers.update({"X-Repo-Commit": sha, "ETag": f'"{hub_file.blob_id}"'})
        headers["Content-Type"] = (
            "application/json; charset=utf-8" if hub_file.path.endswith(".json") else "text/plain"
        )
        self._content(hub_file.content, headers)

    def _cdn(self, sha256: str, query: dict[str, list[str]]) -> None:
        hub_file = self.server.standin.blobs.get(sha256)
        if hub_file is None:
            self._error(404, None, "Not found")
            return
        name = query.get("name", [Path(hub_file.path).name])[0]
        headers = {
            "ETag": f'"{sha256}"',
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}; filename=\"{name}\";",
        }
        self._content(hub_file.content, headers)

    def _content(self, content: bytes, headers: dict[str, str]) -> None:
        """A file's bytes, or the part ``Range`` asks for (one range, as the client sends)."""
        headers["Accept-Ranges"] = "bytes"
        wanted = self.headers.get("Range")
        if wanted is None:
            self._answer(200, headers, content)
            return
        size = len(content)
        match = _RANGE.match(wanted.strip())
        first, last = match.groups() if match else ("", "")
        if first:
            start, end = int(first), (min(int(last), size - 1) if last else size - 1)
        elif last:
            start, end = max(size - int(last), 0), size - 1
        else:
            start, end = size, -1  # unparseable: unsatisfiable
        if start >= size or start > end:
            headers["Content-Range"] = f"bytes */{size}"
            self._error(416, None, "Range Not Satisfiable", headers)
            return
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        self._answer(206, headers, content[start : end + 1])

    def _error(
        self, status: int, code: str | None, message: str, headers: dict[str, str] | None = None
    ) -> None:
        extra = dict(headers or {})
        if code is not None:
            extra["X-Error-Code"] = code
        extra["X-Error-Message"] = message
        extra["Content-Type"] = "application/json; charset=utf-8"
        self._answer(status, extra, json.dumps({"error": message}).encode())

    def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        self.send_header("X-Request-Id", str(uuid.uuid4()))
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class HubStandin:
    """The stand-in, listening on 127.0.0.1 (a free port unless ``port`` is given)."""

    def __init__(self, *, hang: bool = False, resolve_cache: bool = True, port: int = 0) -> None:
        self.hang = hang
        self.resolve_cache = resolve_cache
        self.repos: dict[tuple[str, str], HubRepo] = {}
        self.blobs: dict[str, HubFile] = {}
        #: (method, path) of every request answered, in order of arrival.
        self.requests: list[tuple[str, str]] = []
        #: Connections accepted and held unanswered (``hang``).
        self.held = 0
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self._server = _Server(self, port)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="hub-standin", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def endpoint(self) -> str:
        """What ``HF_ENDPOINT`` is set to: the address the server is bound to."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def add_repo(
        self, repo_id: str, source: Path | Mapping[str, bytes], *, repo_type: str = "model"
    ) -> HubRepo:
        """Serve ``source`` (a directory, or path -> bytes) as ``repo_id``; a ``.gitattributes``
        with the hub's default LFS patterns is added unless the source has one."""
        if repo_type not in REPO_TYPES:
            raise ValueError(f"repo_type is {repo_type!r}, not one of {REPO_TYPES}")
        if not re.fullmatch(_REPO_ID, repo_id):
            raise ValueError(f"{repo_id!r} is not a hub repo id")
        repo = HubRepo(repo_id, repo_type, _files_of(source))
        self.repos[(repo_type, repo_id)] = repo
        self.blobs.update((f.sha256, f) for f in repo.files.values() if f.lfs)
        return repo

    def close(self) -> None:
        """Stop serving; requests held by ``hang`` are released (their connections close)."""
        if self.closing.is_set():
            return
        self.closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> HubStandin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _repo_arg(value: str) -> tuple[str, Path]:
    repo_id, sep, directory = value.partition("=")
    if not sep or not Path(directory).is_dir():
        raise argparse.ArgumentTypeError(f"{value!r}: expected REPO_ID=DIRECTORY")
    return repo_id, Path(directory)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.hub_standin", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--model", type=_repo_arg, action="append", default=[], metavar="ID=DIR")
    parser.add_argument("--dataset", type=_repo_arg, action="append", default=[], metavar="ID=DIR")
    parser.add_argument("--hang", action="store_true", help="accept connections, never answer")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    args = parser.parse_args(argv)
    with HubStandin(hang=args.hang, port=args.port) as hub:
        for kind, repos in (("model", args.model), ("dataset", args.dataset)):
            for repo_id, directory in repos:
                repo = hub.add_repo(repo_id, directory, repo_type=kind)
                print(f"{kind} {repo_id} at {repo.sha} ({len(repo.files)} files)", flush=True)
        print(f"HF_ENDPOINT={hub.endpoint}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
