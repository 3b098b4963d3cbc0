"""Image metadata (build time, platforms) read from manifests and config blobs (SPEC §7).

Only build-time policies (`glob:`, `regex:`, `newestBuild`) and named policies with
`platforms` or `minAge` need it, and only for their candidates, so it is never part of a
scan: the engine asks for the tags it needs, after their digests are known from the
manifest HEAD it does anyway. A digest names immutable content, so the answer is cached by
digest for the life of the client: two tags of one image, or one image used by many
workloads, cost one fetch.

Requests per digest not yet cached: a single-platform manifest costs a manifest GET and a
config blob GET; a multi-arch index costs the index GET (platforms), one platform
manifest GET and its config blob GET (build time of `linux/amd64`, or the first listed
platform: the platforms of one index are built from one source at about the same time).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from imageupdater.errors import RegistryUnavailable
from imageupdater.model import ImageMetadata, ImageRef

from .mediatypes import DOCKER_LIST, OCI_INDEX

#: (image, path, accept) -> response body; raises ImageUpdaterError, None on 404
Fetch = Callable[[ImageRef, str, str], bytes | None]

PREFERRED_PLATFORM = "linux/amd64"
_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def parse_created(value: object) -> datetime | None:
    """An image config's `created` (RFC 3339, nanoseconds allowed) as an aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    text = _FRACTION.sub(r"\1", value.strip(), count=1)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def platform_name(platform: object) -> str | None:
    """`os/arch[/variant]`, or None for the `unknown/unknown` attestation entries."""
    if not isinstance(platform, dict):
        return None
    os_name, arch = platform.get("os"), platform.get("architecture")
    if not isinstance(os_name, str) or not isinstance(arch, str) or os_name == "unknown":
        return None
    variant = platform.get("variant")
    return (
        f"{os_name}/{arch}/{variant}"
        if isinstance(variant, str) and variant
        else (f"{os_name}/{arch}")
    )


class MetadataCache:
    """Thread-safe `digest -> ImageMetadata`, filled through `Fetch`."""

    def __init__(self, fetch: Fetch, manifest_accept: str) -> None:
        self._fetch = fetch
        self._accept = manifest_accept
        self._known: dict[str, ImageMetadata] = {}
        self._lock = threading.Lock()
        self._per_digest: dict[str, threading.Lock] = {}

    def get(self, image: ImageRef, digest: str) -> ImageMetadata | None:
        """Metadata of the manifest `digest` in `image`'s repository; None if it is gone."""
        with self._lock:
            known = self._known.get(digest)
            if known is not None:
                return known
            gate = self._per_digest.setdefault(digest, threading.Lock())
        with gate:  # two threads asking for one digest: the second waits and reuses
            with self._lock:
                known = self._known.get(digest)
            if known is not None:
                return known
            found = self._load(image, digest)
            if found is not None:
                with self._lock:
                    self._known[digest] = found
            return found

    def _json(self, image: ImageRef, path: str, accept: str) -> dict[str, Any] | None:
        body = self._fetch(image, path, accept)
        if body is None:
            return None
        try:
            document = json.loads(body)
        except ValueError:
            raise RegistryUnavailable(f"invalid JSON from {image.registry} ({path})") from None
        if not isinstance(document, dict):
            raise RegistryUnavailable(f"unexpected answer from {image.registry} ({path})")
        return document

    def _load(self, image: ImageRef, digest: str) -> ImageMetadata | None:
        manifest = self._json(image, f"/v2/{image.repository}/manifests/{digest}", self._accept)
        if manifest is None:
            return None
        entries = manifest.get("manifests")
        if manifest.get("mediaType") in (OCI_INDEX, DOCKER_LIST) or isinstance(entries, list):
            return self._load_index(image, digest, entries if isinstance(entries, list) else [])
        created, platform = self._config(image, manifest)
        return ImageMetadata(digest, created, (platform,) if platform else ())

    def _load_index(self, image: ImageRef, digest: str, entries: list[Any]) -> ImageMetadata | None:
        platforms: list[tuple[str, str]] = []
        for entry in entries:
            name = platform_name(entry.get("platform")) if isinstance(entry, dict) else None
            child = entry.get("digest") if isinstance(entry, dict) else None
            if name is not None and isinstance(child, str):
                platforms.append((name, child))
        created = None
        if platforms:
            chosen = next((p for p in platforms if p[0] == PREFERRED_PLATFORM), platforms[0])
            child_manifest = self._json(
                image, f"/v2/{image.repository}/manifests/{chosen[1]}", self._accept
            )
            if child_manifest is not None:
                created, _ = self._config(image, child_manifest)
        return ImageMetadata(digest, created, tuple(sorted({name for name, _ in platforms})))

    def _config(self, image: ImageRef, manifest: dict[str, Any]) -> tuple[datetime | None, str]:
        config = manifest.get("config")
        blob = config.get("digest") if isinstance(config, dict) else None
        if not isinstance(blob, str):
            return None, ""
        document = self._json(image, f"/v2/{image.repository}/blobs/{blob}", "*/*")
        if document is None:
            return None, ""
        return parse_created(document.get("created")), platform_name(document) or ""
