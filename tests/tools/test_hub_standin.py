"""The hub stand-in (tests/hub_standin.py) speaks the Hugging Face hub's file API as the real
client reads it: huggingface_hub 0.36 lists, resolves and downloads through it, and its errors
become the library's own exceptions. Everything here talks to 127.0.0.1 only."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hub_standin import GITATTRIBUTES, HubStandin, git_blob_id

REPO = "lambda-nlp-test/albert-tiny-qa"
DATASET = "lambda-nlp-test/squad-tiny"
SQUAD = {
    "version": "v2.0",
    "data": [
        {
            "title": "Ada_Lovelace",
            "paragraphs": [
                {
                    "context": "Ada Lovelace was born in London in 1815.",
                    "qas": [
                        {
                            "id": "q1",
                            "question": "Where was Ada Lovelace born?",
                            "answers": [{"text": "London", "answer_start": 25}],
                            "is_impossible": False,
                        }
                    ],
                }
            ],
        }
    ],
}


@pytest.fixture(autouse=True)
def online_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The in-process client online whatever the environment said at its import (HF_HUB_OFFLINE
    is read once, and its sessions mount an adapter that refuses every request)."""
    from huggingface_hub import constants
    from huggingface_hub.utils import reset_sessions

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    reset_sessions()
    yield
    reset_sessions()


@pytest.fixture(scope="module")
def hub(tiny_hf_dir: Path) -> Iterator[HubStandin]:
    with HubStandin() as standin:
        standin.add_repo(REPO, tiny_hf_dir)
        standin.add_repo(
            DATASET,
            {
                "squad/dev.json": json.dumps(SQUAD).encode(),
                "squad/dev.parquet": bytes(range(256)) * 4,
                "README.md": b"---\nlicense: cc-by-sa-4.0\n---\n",
            },
            repo_type="dataset",
        )
        yield standin


def _files(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _raw(
    method: str, url: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request with urllib (no redirects followed), whatever the status."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


def test_standin_model_info_names_the_commit_and_the_files(
    hub: HubStandin, tiny_hf_dir: Path
) -> None:
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.endpoint)
    info = api.model_info(REPO)
    assert info.id == REPO and info.author == REPO.split("/")[0]
    assert info.sha is not None and re.fullmatch(r"[0-9a-f]{40}", info.sha)
    assert info.siblings is not None
    names = sorted(s.rfilename for s in info.siblings)
    assert names == sorted([".gitattributes", *_files(tiny_hf_dir)])
    assert "model.safetensors" in names and "spiece.model" in names
    # The revision main and the commit itself are the same commit.
    assert api.model_info(REPO, revision="main").sha == info.sha
    assert api.model_info(REPO, revision=info.sha).sha == info.sha
    # With files_metadata (?blobs=true): sizes, blob ids and the LFS data of the weights.
    detailed = {s.rfilename: s for s in api.model_info(REPO, files_metadata=True).siblings or []}
    weights = (tiny_hf_dir / "model.safetensors").read_bytes()
    assert detailed["model.safetensors"].size == len(weights)
    assert detailed["model.safetensors"].lfs is not None
    assert detailed["model.safetensors"].lfs.sha256 == hashlib.sha256(weights).hexdigest()
    config = (tiny_hf_dir / "config.json").read_bytes()
    assert detailed["config.json"].lfs is None
    assert detailed["config.json"].blob_id == git_blob_id(config)


def test_standin_file_metadata_is_what_hf_hub_download_reads(
    hub: HubStandin, tiny_hf_dir: Path
) -> None:
    """HEAD of resolve: X-Repo-Commit, ETag, Content-Length, after the hub's relative redirect to
    its resolve-cache URL; for an LFS file a redirect with X-Linked-Etag (sha256), X-Linked-Size
    and Location, which the client downloads from."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    sha = hub.repos[("model", REPO)].sha
    config = (tiny_hf_dir / "config.json").read_bytes()
    meta = get_hf_file_metadata(hf_hub_url(REPO, "config.json", endpoint=hub.endpoint))
    assert (meta.commit_hash, meta.etag, meta.size) == (sha, git_blob_id(config), len(config))
    cached = f"/api/resolve-cache/models/{REPO}/{sha}/config.json"
    # The client follows the redirect's path (not its query) and downloads from there.
    assert meta.location == f"{hub.endpoint}{cached}"
    status, headers, _ = _raw("HEAD", f"{hub.endpoint}/{REPO}/resolve/main/config.json")
    assert status == 307 and headers["Location"].startswith(f"{cached}?")
    assert headers["X-Repo-Commit"] == sha
    status, headers, body = _raw("GET", meta.location)
    assert status == 200 and body == config and headers["ETag"] == f'"{git_blob_id(config)}"'

    weights = (tiny_hf_dir / "model.safetensors").read_bytes()
    url = hf_hub_url(REPO, "model.safetensors", revision=sha, endpoint=hub.endpoint)
    meta = get_hf_file_metadata(url)
    assert meta.commit_hash == sha and meta.size == len(weights)
    assert meta.etag == hashlib.sha256(weights).hexdigest()
    assert meta.location.startswith(f"{hub.endpoint}/cdn-lfs/{meta.etag}")

    status, headers, body = _raw("GET", url)
    assert status == 302 and headers["Location"] == meta.location
    assert headers["X-Linked-Size"] == str(len(weights))
    status, headers, body = _raw("GET", meta.location)
    assert status == 200 and body == weights
    assert 'filename="model.safetensors"' in headers["Content-Disposition"]


def test_standin_snapshot_download_fetches_the_checkpoint_byte_for_byte(
    hub: HubStandin, tiny_hf_dir: Path, tmp_path: Path
) -> None:
    from huggingface_hub import snapshot_download

    before = len(hub.requests)
    path = snapshot_download(REPO, endpoint=hub.endpoint, cache_dir=tmp_path)
    sha = hub.repos[("model", REPO)].sha
    assert Path(path) == tmp_path / "models--lambda-nlp-test--albert-tiny-qa" / "snapshots" / sha
    assert _files(Path(path)) == {**_files(tiny_hf_dir), ".gitattributes": GITATTRIBUTES.encode()}
    asked = hub.requests[before:]
    assert asked[0] == ("GET", f"/api/models/{REPO}/revision/main")
    # Every file is resolved at the commit; the LFS ones are then fetched from the "CDN".
    assert ("HEAD", f"/{REPO}/resolve/{sha}/spiece.model") in asked
    assert sum(path.startswith("/cdn-lfs/") for _, path in asked) == 2  # weights, spiece.model
    # A second call finds everything in its cache (one listing, no download).
    again = len(hub.requests)
    assert snapshot_download(REPO, endpoint=hub.endpoint, cache_dir=tmp_path) == path
    assert not any(p.startswith("/cdn-lfs/") for _, p in hub.requests[again:])


def test_standin_without_resolve_cache_answers_resolve_at_once(
    tiny_hf_dir: Path, tmp_path: Path
) -> None:
    """The hub as it answered before its resolve-cache redirect."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url, snapshot_download

    with HubStandin(resolve_cache=False) as plain:
        plain.add_repo(REPO, tiny_hf_dir)
        url = hf_hub_url(REPO, "config.json", endpoint=plain.endpoint)
        status, headers, body = _raw("HEAD", url)
        config = (tiny_hf_dir / "config.json").read_bytes()
        assert status == 200 and body == b"" and headers["Content-Length"] == str(len(config))
        meta = get_hf_file_metadata(url)
        assert meta.location == url and meta.etag == git_blob_id(config)
        path = Path(snapshot_download(REPO, endpoint=plain.endpoint, cache_dir=tmp_path))
        assert (path / "config.json").read_bytes() == config
        assert not any("resolve-cache" in p for _, p in plain.requests)


def test_standin_errors_are_the_hubs(hub: HubStandin, tmp_path: Path) -> None:
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    def download(repo: str, filename: str, revision: str | None = None) -> str:
        return hf_hub_download(
            repo, filename, revision=revision, endpoint=hub.endpoint, cache_dir=tmp_path
        )

    with pytest.raises(RepositoryNotFoundError):
        download("nobody/nothing", "config.json")
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=hub.endpoint).model_info("nobody/nothing")
    with pytest.raises(EntryNotFoundError):
        download(REPO, "pytorch_model.bin")
    with pytest.raises(RevisionNotFoundError):
        download(REPO, "config.json", revision="v2")

    sha = hub.repos[("model", REPO)].sha
    for url, code in [
        ("/nobody/nothing/resolve/main/config.json", "RepoNotFound"),
        (f"/{REPO}/resolve/main/nothing.json", "EntryNotFound"),
        (f"/{REPO}/resolve/v2/config.json", "RevisionNotFound"),
        (f"/api/models/{REPO}/revision/v2", "RevisionNotFound"),
        (f"/api/datasets/{REPO}", "RepoNotFound"),  # a model is not a dataset
    ]:
        status, headers, body = _raw("GET", hub.endpoint + url)
        assert (status, headers.get("X-Error-Code")) == (404, code), url
        assert json.loads(body)["error"] == headers["X-Error-Message"]
        if code == "EntryNotFound":  # the client caches the absence at this commit
            assert headers["X-Repo-Commit"] == sha
    status, _, _ = _raw("POST", f"{hub.endpoint}/api/models/{REPO}")
    assert status == 405


def test_standin_ranges_resume_a_download(hub: HubStandin, tiny_hf_dir: Path) -> None:
    weights = (tiny_hf_dir / "model.safetensors").read_bytes()
    cdn = f"{hub.endpoint}/cdn-lfs/{hashlib.sha256(weights).hexdigest()}"
    status, headers, body = _raw("GET", cdn, {"Range": "bytes=100-"})
    assert status == 206 and body == weights[100:]
    assert headers["Content-Range"] == f"bytes 100-{len(weights) - 1}/{len(weights)}"
    status, _, body = _raw("GET", cdn, {"Range": "bytes=10-19"})
    assert status == 206 and body == weights[10:20]
    status, _, body = _raw("GET", cdn, {"Range": "bytes=-5"})
    assert status == 206 and body == weights[-5:]
    status, headers, _ = _raw("GET", cdn, {"Range": f"bytes={len(weights)}-"})
    assert status == 416 and headers["Content-Range"] == f"bytes */{len(weights)}"
    status, headers, body = _raw("HEAD", cdn)
    assert status == 200 and body == b"" and headers["Content-Length"] == str(len(weights))


def test_standin_serves_dataset_repos(hub: HubStandin, tmp_path: Path) -> None:
    from huggingface_hub import HfApi, hf_hub_download, snapshot_download

    info = HfApi(endpoint=hub.endpoint).dataset_info(DATASET)
    assert info.id == DATASET and info.sha == hub.repos[("dataset", DATASET)].sha
    assert sorted(s.rfilename for s in info.siblings or []) == [
        ".gitattributes",
        "README.md",
        "squad/dev.json",
        "squad/dev.parquet",
    ]
    path = hf_hub_download(
        DATASET, "squad/dev.json", repo_type="dataset", endpoint=hub.endpoint, cache_dir=tmp_path
    )
    assert json.loads(Path(path).read_text()) == SQUAD
    snapshot = Path(
        snapshot_download(
            DATASET, repo_type="dataset", endpoint=hub.endpoint, cache_dir=tmp_path / "all"
        )
    )
    assert (snapshot / "squad" / "dev.parquet").read_bytes() == bytes(range(256)) * 4
    assert ("HEAD", f"/datasets/{DATASET}/resolve/main/squad/dev.json") in hub.requests
    # The same id as a model repo does not exist.
    status, headers, _ = _raw("HEAD", f"{hub.endpoint}/{DATASET}/resolve/main/squad/dev.json")
    assert (status, headers.get("X-Error-Code")) == (404, "RepoNotFound")


def test_standin_in_hang_mode_accepts_and_never_answers() -> None:
    with HubStandin(hang=True) as hung:
        assert hung.endpoint.startswith("http://127.0.0.1:")
        with socket.create_connection(("127.0.0.1", hung.port), timeout=5) as sock:
            sock.sendall(b"HEAD /a/b/resolve/main/config.json HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.settimeout(1.0)
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                sock.recv(1)
            assert time.monotonic() - started >= 0.9
            deadline = time.monotonic() + 5
            while hung.held < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert hung.held == 1 and hung.requests == []
            sock.settimeout(10)
            hung.close()  # releases the held connection: closed, never answered
            assert sock.recv(1) == b""


def test_standin_listens_on_loopback_only(hub: HubStandin) -> None:
    assert hub.endpoint == f"http://127.0.0.1:{hub.port}"
    with pytest.raises(ValueError, match="not a hub repo id"):
        hub.add_repo("../etc", {"a": b""})
