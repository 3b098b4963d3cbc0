"""Registry look-ups shared by one selection: manifest HEADs once per (repository, tag),
and build-time metadata through them (`RegistryMetadata`, a `MetadataSource`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from imageupdater.errors import ImageUpdaterError
from imageupdater.model import ImageMetadata, ImageRef, ManifestInfo
from imageupdater.progress import MANIFESTS, Progress, tally
from imageupdater.registry import RegistryClient

ManifestKey = tuple[str, str]


ManifestResult = ManifestInfo | None | ImageUpdaterError


class ManifestChecker:
    """Checks that chosen tags exist, once per (repository, tag), concurrently."""

    def __init__(
        self, client: RegistryClient, workers: int, progress: Progress | None = None
    ) -> None:
        self._client = client
        self._workers = workers
        self._known: dict[ManifestKey, ManifestResult] = {}
        self._tally = tally(progress, MANIFESTS)

    def check(self, wanted: Iterable[tuple[ImageRef, str]]) -> None:
        todo: dict[ManifestKey, tuple[ImageRef, str]] = {}
        for ref, tag in wanted:
            key = (ref.canonical, tag)
            if key not in self._known:
                todo[key] = (ref, tag)
        if not todo:
            return
        if self._tally is not None:
            self._tally.add(len(todo))
        with ThreadPoolExecutor(max_workers=min(self._workers, len(todo))) as pool:
            results = pool.map(lambda item: self._head(*item), todo.values())
            self._known.update(zip(todo, results, strict=True))

    def _head(self, ref: ImageRef, tag: str) -> ManifestResult:
        try:
            return self._client.manifest(ref, tag)
        except ImageUpdaterError as exc:
            return exc
        finally:
            if self._tally is not None:
                self._tally.finish()

    def result(self, ref: ImageRef, tag: str) -> ManifestResult:
        return self._known[(ref.canonical, tag)]


class RegistryMetadata:
    """The engine's `MetadataSource` for one image: HEADs through the shared checker
    (so the winner's existence check is free later), then metadata by digest from the
    client's cache; the fetches for one lookup run concurrently."""

    def __init__(
        self,
        client: RegistryClient,
        manifests: ManifestChecker,
        ref: ImageRef,
        workers: int,
        now: datetime,
    ) -> None:
        self.now = now
        self.seen: dict[str, ImageMetadata | None] = {}  # what was looked up, for --explain
        self._client = client
        self._manifests = manifests
        self._ref = ref
        self._workers = workers

    def lookup(self, tags: Sequence[str]) -> dict[str, ImageMetadata | None]:
        wanted = list(dict.fromkeys(tags))
        self._manifests.check((self._ref, tag) for tag in wanted)
        digests: dict[str, str] = {}
        for tag in wanted:
            result = self._manifests.result(self._ref, tag)
            if isinstance(result, ImageUpdaterError):
                raise result
            if result is not None:
                digests[tag] = result.digest
        distinct = sorted(set(digests.values()))
        found: dict[str, ImageMetadata | None] = {}
        if distinct:
            with ThreadPoolExecutor(max_workers=min(self._workers, len(distinct))) as pool:
                fetched = pool.map(lambda d: self._client.metadata(self._ref, d), distinct)
                found = dict(zip(distinct, fetched, strict=True))
        answer = {tag: found.get(digests[tag]) if tag in digests else None for tag in wanted}
        self.seen.update(answer)
        return answer
