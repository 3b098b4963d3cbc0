"""A content-addressed in-process OCI registry: tags -> manifests/indexes -> config blobs.

For build-time and platform policies: every GET and HEAD is counted by (kind, reference)
so tests can assert that metadata is fetched only for the tags a policy needs, and at most
once per digest.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field

import httpx

from imageupdater.registry import RegistryClient

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
PATH = re.compile(r"^/v2/(?P<repo>.+)/(?P<what>tags/list|manifests|blobs)(?:/(?P<ref>[^/]+))?$")


def _digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


@dataclass
class FakeOCI:
    tags: dict[str, dict[str, str]] = field(default_factory=dict)  # repo -> tag -> digest
    blobs: dict[str, bytes] = field(default_factory=dict)  # digest -> body (all repos)
    requests: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def image(self, created: str, platform: str = "linux/amd64", seed: str = "") -> str:
        """Store a single-platform image; returns its manifest digest."""
        os_name, arch = platform.split("/")[:2]
        config = json.dumps(
            {"created": created, "os": os_name, "architecture": arch, "seed": seed}
        ).encode()
        config_digest = _digest(config)
        self.blobs[config_digest] = config
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"digest": config_digest, "size": len(config)},
                "layers": [],
            }
        ).encode()
        digest = _digest(manifest)
        self.blobs[digest] = manifest
        return digest

    def index(self, created: str, platforms: list[str]) -> str:
        """Store a multi-arch index (plus an attestation entry); returns its digest."""
        entries = []
        for platform in platforms:
            child = self.image(created, platform, seed=platform)
            os_name, arch, *variant = platform.split("/")
            described = {"os": os_name, "architecture": arch}
            if variant:
                described["variant"] = variant[0]
            entries.append({"mediaType": OCI_MANIFEST, "digest": child, "platform": described})
        attestation = self.image(created, "unknown/unknown", seed="att")
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": attestation,
                "platform": {"os": "unknown", "architecture": "unknown"},
            }
        )
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
        digest = _digest(body.encode())
        self.blobs[digest] = body.encode()
        return digest

    def tag(self, repo: str, tag: str, digest: str) -> None:
        self.tags.setdefault(repo, {})[tag] = digest

    def __call__(self, request: httpx.Request) -> httpx.Response:
        match = PATH.match(request.url.path)
        if match is None:
            return httpx.Response(404)
        repo, what, ref = match["repo"], match["what"], match["ref"] or ""
        with self._lock:
            self.requests[(request.method, what, ref)] += 1
        if repo not in self.tags:
            return httpx.Response(404, json={"errors": [{"code": "NAME_UNKNOWN"}]})
        if what == "tags/list":
            return httpx.Response(200, json={"name": repo, "tags": list(self.tags[repo])})
        digest = self.tags[repo].get(ref, ref)
        body = self.blobs.get(digest)
        if body is None:
            return httpx.Response(404)
        media = json.loads(body).get("mediaType", "application/json") if what != "blobs" else ""
        headers = {"Docker-Content-Digest": digest, "Content-Type": media or "application/json"}
        content = b"" if request.method == "HEAD" else body
        return httpx.Response(200, headers=headers, content=content)

    def client(self) -> RegistryClient:
        return RegistryClient(
            transport=httpx.MockTransport(self), sleep=lambda _: None, max_attempts=2
        )

    def gets(self, what: str) -> int:
        return sum(
            n for (method, kind, _), n in self.requests.items() if (method, kind) == ("GET", what)
        )
