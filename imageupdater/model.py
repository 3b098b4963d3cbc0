"""Plain values shared by every layer: no I/O, no third-party types.

Each stage of the pipeline (discover, scan, select, plan, deliver) hands the next one
these frozen dataclasses, so stages can be tested alone and a report can be built from
them without reaching back into a library object.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A parsed image value such as `ghcr.io/acme/web:1.2.0@sha256:...`.

    `name` is the repository exactly as written in the file (what JSON output calls
    `image`); `registry` and `repository` are normalised (`nginx` ->
    `docker.io` + `library/nginx`) so that one repository is scanned once however it is
    spelled.
    """

    name: str
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def canonical(self) -> str:
        return f"{self.registry}/{self.repository}"

    def with_tag(self, tag: str, digest: str | None = None) -> str:
        """The value to write for `tag`, keeping the written name (and digest style)."""
        text = f"{self.name}:{tag}"
        return f"{text}@{digest}" if digest else text


@dataclass(frozen=True, slots=True)
class ManifestInfo:
    """What a manifest HEAD tells: the content digest and the stored media type."""

    digest: str
    media_type: str


@dataclass(frozen=True, slots=True)
class ImageMetadata:
    """What build-time policies need to know about one image, keyed by its manifest digest.

    Immutable for a digest (the digest names the content), so it is cached forever.
    `created` is the image config's build time (None when the image does not say);
    `platforms` are `os/arch[/variant]` that the image runs on: every entry of a
    multi-arch index, or the one platform of a single manifest.
    """

    digest: str
    created: datetime | None
    platforms: tuple[str, ...]


#: how PR mode groups updates into pull requests (SPEC: one per workload, image or all)
Grouping = Literal["workload", "image", "all"]
GROUPINGS: tuple[Grouping, ...] = ("workload", "image", "all")
