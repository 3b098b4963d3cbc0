"""Composition root: the only place that picks concrete adapters for a command.

Commands receive an `Options` value and ask this module for a registry client, so tests
and the daemon can swap transports without touching the command code.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from imageupdater.model import ImageMetadata, ImageRef, ManifestInfo
from imageupdater.registry import RegistryClient
from imageupdater.state import State

if TYPE_CHECKING:  # the forges are imported by PR mode only (start-up time of `plan`)
    from imageupdater.forge import Forge, ForgeHttp

#: the environment variable the forge token is read from (never a flag: flags leak into `ps`)
FORGE_TOKEN_ENV = "IMAGEUPDATER_FORGE_TOKEN"  # noqa: S105 (a name, not a secret)


@dataclass(frozen=True, slots=True)
class Options:
    """Settings shared by every command that talks to registries."""

    registry_config: str | None = None
    insecure_registries: Sequence[str] = ()
    state_dir: Path | None = None
    now: datetime | None = None
    workers: int = 16
    #: the daemon's store: tag lists younger than `tag_ttl` seconds and metadata by digest
    state: State | None = None
    tag_ttl: float = 0.0
    rate_limits: Mapping[str, float] = field(default_factory=dict)
    #: registry retries: tries per request and the first backoff (tests make it short)
    max_attempts: int = 4
    backoff: float = 0.5
    #: told, when a client closes, the requests it made and the images it listed
    observer: Callable[[dict[tuple[str, int], int], frozenset[str]], None] | None = None

    def clock(self) -> datetime:
        return self.now if self.now is not None else datetime.now(UTC)


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "imageupdater"


def registry_client(options: Options) -> RegistryClient:
    if options.state is None and options.observer is None and not options.rate_limits:
        return RegistryClient(
            docker_config=options.registry_config,
            insecure_hosts=tuple(options.insecure_registries),
        )
    return CachedRegistryClient(options)


class CachedRegistryClient(RegistryClient):
    """The daemon's client: tag lists and metadata through the state store, and a record of
    which images a cycle looked at (so a webhook knows which automations to wake)."""

    def __init__(self, options: Options) -> None:
        super().__init__(
            docker_config=options.registry_config,
            insecure_hosts=tuple(options.insecure_registries),
            rate_limits=dict(options.rate_limits),
            max_attempts=options.max_attempts,
            backoff=options.backoff,
        )
        self._state = options.state
        self._ttl = options.tag_ttl
        self._observer = options.observer
        self._seen: set[str] = set()
        self._seen_lock = threading.Lock()

    def list_tags(self, image: ImageRef) -> list[str]:
        with self._seen_lock:
            self._seen.add(image.canonical)
        if self._state is not None and self._ttl > 0:
            cached = self._state.cached_tags(image.canonical, self._ttl)
            if cached is not None:
                return cached
        tags = super().list_tags(image)
        if self._state is not None:
            self._state.store_tags(image.canonical, tags)
        return tags

    def manifest(self, image: ImageRef, reference: str) -> ManifestInfo | None:
        if self._state is None:
            return super().manifest(image, reference)
        if self._ttl > 0:
            hit, cached = self._state.cached_manifest(image.canonical, reference, self._ttl)
            if hit:
                return ManifestInfo(digest=cached[0], media_type=cached[1]) if cached else None
        found = super().manifest(image, reference)
        self._state.store_manifest(
            image.canonical, reference, (found.digest, found.media_type) if found else None
        )
        return found

    def metadata(self, image: ImageRef, digest: str) -> ImageMetadata | None:
        if self._state is not None:
            cached = self._state.cached_metadata(digest)
            if cached is not None:
                return cached
        found = super().metadata(image, digest)
        if found is not None and self._state is not None:
            self._state.store_metadata(found)
        return found

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._observer is not None:
            with self._seen_lock:
                seen = frozenset(self._seen)
            self._observer(self.request_counts(), seen)
        super().__exit__(exc_type, exc, tb)


def forge(
    kind: str, url: str | None, repo: str, *, token_env: str | None = None
) -> tuple[Forge, ForgeHttp]:
    """The forge adapter for PR mode, authenticated with ``$IMAGEUPDATER_FORGE_TOKEN`` (or
    the variable an automation's ``update.pr.tokenEnv`` names)."""
    from imageupdater.forge import connect

    return connect(kind, url, repo, os.environ.get(token_env or FORGE_TOKEN_ENV) or None)
