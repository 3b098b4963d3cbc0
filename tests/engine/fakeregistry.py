"""A stateful in-process registry (httpx.MockTransport) for engine tests of faults.

It serves `tags/list` and manifest HEAD from a dict, can fail a repository with any
status, and counts every request so tests can assert "one walk per repository".
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import Counter
from dataclasses import dataclass, field

import httpx

from imageupdater.registry import RegistryClient

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
PATH = re.compile(r"^/v2/(?P<repo>.+)/(?P<what>tags/list|manifests/(?P<ref>[^/]+))$")


def digest_of(repo: str, tag: str) -> str:
    return "sha256:" + hashlib.sha256(f"{repo}:{tag}".encode()).hexdigest()


@dataclass
class FakeRegistry:
    tags: dict[str, list[str]] = field(default_factory=dict)
    dangling: set[tuple[str, str]] = field(default_factory=set)  # listed, but no manifest
    failing: dict[str, int] = field(default_factory=dict)  # repo -> HTTP status
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        match = PATH.match(request.url.path)
        if match is None:
            return httpx.Response(404)
        repo, ref = match["repo"], match["ref"]
        with self._lock:
            self.requests[(repo, "tags" if ref is None else f"manifest:{ref}")] += 1
        if repo in self.failing:
            return httpx.Response(self.failing[repo], json={"errors": [{"code": "UNAVAILABLE"}]})
        if repo not in self.tags:
            return httpx.Response(404, json={"errors": [{"code": "NAME_UNKNOWN"}]})
        if ref is None:
            return httpx.Response(200, json={"name": repo, "tags": self.tags[repo]})
        if ref not in self.tags[repo] or (repo, ref) in self.dangling:
            return httpx.Response(404)
        headers = {"Docker-Content-Digest": digest_of(repo, ref), "Content-Type": OCI_MANIFEST}
        return httpx.Response(200, headers=headers)

    def client(self) -> RegistryClient:
        return RegistryClient(
            transport=httpx.MockTransport(self), sleep=lambda _: None, max_attempts=2
        )

    def walks(self, repo: str) -> int:
        return self.requests[(repo, "tags")]
