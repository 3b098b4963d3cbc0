"""Put small, real images into a local registry: by HTTP push, or straight into storage.

* `Pusher` speaks the push protocol (blob upload, manifest PUT) with httpx: OCI and
  Docker v2 images, OCI indexes and Docker manifest lists, each with a `created` time in
  its config so build-time policies have something to order. It keeps the registry's own
  validation in the loop; use it for realism.
* `seed_storage` writes Distribution's filesystem layout directly, thousands of tags per
  second, for volume (the benchmark's 100 images x 50 tags). It bypasses validation, so
  the suite keeps some HTTP pushes too. New tags are visible to a running registry at once.

Images are deterministic: the same inputs give the same digests, run after run.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from imageupdater.errors import ConfigError
from imageupdater.registry import mediatypes as mt
from imageupdater.registry.reference import is_tag, parse_reference

DEFAULT_CREATED = "2024-01-01T00:00:00Z"


@dataclass(frozen=True, slots=True)
class Platform:
    architecture: str = "amd64"
    os: str = "linux"
    variant: str | None = None

    def as_json(self) -> dict[str, str]:
        out = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            out["variant"] = self.variant
        return out


DEFAULT_PLATFORMS = (Platform("amd64"), Platform("arm64", variant="v8"))


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@functools.cache
def make_layer(content: bytes = b"hello\n", name: str = "hello.txt") -> tuple[bytes, str]:
    """A deterministic tar.gz layer -> (gzip bytes, diff_id of the uncompressed tar)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(content), 0, 0o644
        tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0), sha256_digest(raw.getvalue())


def make_config(created: str, diff_id: str, platform: Platform = Platform()) -> bytes:
    config = {
        **platform.as_json(),
        "created": created,
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": "imageupdater devtools"}],
    }
    return _json(config)


def make_manifest(config: bytes, layer: bytes, *, docker: bool = False) -> tuple[bytes, str]:
    """Image manifest -> (body, media type)."""
    media_type = mt.DOCKER_MANIFEST if docker else mt.OCI_MANIFEST
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": mt.DOCKER_CONFIG if docker else mt.OCI_CONFIG,
            "digest": sha256_digest(config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": mt.DOCKER_LAYER if docker else mt.OCI_LAYER,
                "digest": sha256_digest(layer),
                "size": len(layer),
            }
        ],
    }
    return _json(manifest), media_type


def make_index(
    children: Sequence[tuple[bytes, str, Platform]], *, docker: bool = False
) -> tuple[bytes, str]:
    """OCI index / Docker manifest list over (manifest body, media type, platform)."""
    media_type = mt.DOCKER_LIST if docker else mt.OCI_INDEX
    entries = [
        {
            "mediaType": child_type,
            "digest": sha256_digest(body),
            "size": len(body),
            "platform": platform.as_json(),
        }
        for body, child_type, platform in children
    ]
    return _json({"schemaVersion": 2, "mediaType": media_type, "manifests": entries}), media_type


class Pusher:
    """Push synthetic images over HTTP with a client whose `base_url` is the registry."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self._uploaded: set[tuple[str, str]] = set()

    def push_blob(self, repo: str, data: bytes) -> str:
        digest = sha256_digest(data)
        if (repo, digest) in self._uploaded:
            return digest
        started = self.client.post(f"/v2/{repo}/blobs/uploads/")
        _expect(started, 202, f"start blob upload to {repo}")
        location = started.headers["Location"]  # absolute, with ?_state=…
        # httpx >= 0.28 *replaces* a URL's query when params= is given, which would drop
        # `_state` (404 BLOB_UPLOAD_INVALID): the digest is appended by hand.
        separator = "&" if "?" in location else "?"
        finished = self.client.put(
            f"{location}{separator}digest={digest}",
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        _expect(finished, 201, f"finish blob upload to {repo}")
        self._uploaded.add((repo, digest))
        return digest

    def put_manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> str:
        response = self.client.put(
            f"/v2/{repo}/manifests/{reference}", content=body, headers={"Content-Type": media_type}
        )
        _expect(response, 201, f"put manifest {repo}:{reference}")
        digest = sha256_digest(body)
        if response.headers.get("Docker-Content-Digest") != digest:
            raise RuntimeError(f"registry stored {repo}:{reference} under another digest")
        return digest

    def push_image(
        self,
        repo: str,
        tag: str,
        *,
        created: str = DEFAULT_CREATED,
        platform: Platform = Platform(),
        docker: bool = False,
    ) -> str:
        """One single-platform image; returns its manifest digest."""
        body, media_type = self._push_parts(repo, created, platform, docker)
        return self.put_manifest(repo, tag, body, media_type)

    def push_index(
        self,
        repo: str,
        tag: str,
        *,
        created: str = DEFAULT_CREATED,
        platforms: Sequence[Platform] = DEFAULT_PLATFORMS,
        docker: bool = False,
    ) -> str:
        """A multi-platform image (children pushed by digest first); returns the index digest."""
        children = []
        for platform in platforms:
            body, media_type = self._push_parts(repo, created, platform, docker)
            self.put_manifest(repo, sha256_digest(body), body, media_type)
            children.append((body, media_type, platform))
        index, media_type = make_index(children, docker=docker)
        return self.put_manifest(repo, tag, index, media_type)

    def _push_parts(
        self, repo: str, created: str, platform: Platform, docker: bool
    ) -> tuple[bytes, str]:
        layer, diff_id = make_layer()
        config = make_config(created, diff_id, platform)
        self.push_blob(repo, layer)
        self.push_blob(repo, config)
        return make_manifest(config, layer, docker=docker)


def seed_storage(
    root: str | os.PathLike[str],
    repo: str,
    tags: Iterable[str],
    *,
    created: str | Callable[[str], str] = DEFAULT_CREATED,
    docker: bool = False,
) -> dict[str, str]:
    """Write `tags` of `repo` into the registry storage at `root`; returns tag -> digest.

    Tags with the same `created` share one manifest, so only their tag links are written;
    `created` may be a function of the tag to give every tag its own build time.
    """
    try:
        valid = parse_reference(f"localhost/{repo}").repository == repo
    except ConfigError:
        valid = False
    if not valid:  # the name becomes a path under `root`: never let `..` through
        raise ValueError(f"invalid repository name {repo!r}")
    storage = _Storage(Path(root), repo)
    layer, diff_id = make_layer()
    storage.link_layer(layer)
    by_created: dict[str, str] = {}
    result: dict[str, str] = {}
    for tag in tags:
        if not is_tag(tag):
            raise ValueError(f"invalid tag {tag!r}")
        when = created(tag) if callable(created) else created
        digest = by_created.get(when)
        if digest is None:
            config = make_config(when, diff_id)
            storage.link_layer(config)
            digest = storage.manifest(make_manifest(config, layer, docker=docker)[0])
            by_created[when] = digest
        storage.tag(tag, digest)
        result[tag] = digest
    return result


class _Storage:
    """Distribution 2.x filesystem layout; every link file holds `sha256:<hex>`, no newline.

    blobs/sha256/<hh>/<hex>/data, repositories/<repo>/_layers/sha256/<hex>/link (layers and
    configs), _manifests/revisions/sha256/<hex>/link, _manifests/tags/<tag>/current/link and
    _manifests/tags/<tag>/index/sha256/<hex>/link.
    """

    def __init__(self, root: Path, repo: str) -> None:
        v2 = root / "docker" / "registry" / "v2"
        self._blobs = v2 / "blobs" / "sha256"
        self._repo = v2 / "repositories" / repo

    def link_layer(self, data: bytes) -> str:
        digest = self._blob(data)
        _write(self._repo / "_layers" / "sha256" / digest[7:] / "link", digest.encode())
        return digest

    def manifest(self, body: bytes) -> str:
        digest = self._blob(body)
        revision = self._repo / "_manifests" / "revisions" / "sha256" / digest[7:] / "link"
        _write(revision, digest.encode())
        return digest

    def tag(self, tag: str, digest: str) -> None:
        base = self._repo / "_manifests" / "tags" / tag
        _write(base / "current" / "link", digest.encode())
        _write(base / "index" / "sha256" / digest[7:] / "link", digest.encode())

    def _blob(self, data: bytes) -> str:
        digest = sha256_digest(data)
        path = self._blobs / digest[7:9] / digest[7:] / "data"
        if not path.exists():
            _write(path, data)
        return digest


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def _expect(response: httpx.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise RuntimeError(f"{what}: HTTP {response.status_code} {response.text[:200]}")
