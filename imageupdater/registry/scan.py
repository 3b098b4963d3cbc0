"""Scan many images at once: one `tags/list` walk per distinct repository, concurrently.

Many workloads usually share few repositories, so refs are grouped by
`ImageRef.canonical` before any request. A failure is returned as the value for that
repository, never raised and never turned into an empty list: the engine must report an
outage as an error for the images it serves, not as "no new tag".

`TagScan` starts a walk the moment a repository is first named (`want`) and keeps it, so
later requests for the same repository share it. The engine names the repositories as
discovery ends; naming them while files were still being parsed was measured slower (the
walks' threads and the parser contend for the GIL).

With a `progress` callback a scan reports each repository named and each walk finished
(stage `registry`); without one it counts nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from types import TracebackType

from imageupdater.errors import ImageUpdaterError, RegistryError
from imageupdater.model import ImageRef
from imageupdater.progress import REGISTRY, Progress, Tally, tally

from .client import RegistryClient

log = logging.getLogger(__name__)


def scan_tags(
    client: RegistryClient, images: Iterable[ImageRef], *, workers: int = 16
) -> dict[str, list[str] | ImageUpdaterError]:
    """`canonical -> tags or error`, in the order the repositories were first seen."""
    with TagScan(client, workers=workers) as scan:
        return scan.results(images)


class TagScan:
    """Tag-list walks started as repositories are named (`want`), gathered by `results`.

    Each distinct repository is walked once per scan, however often it is named. Closing
    the scan cancels the walks nobody asked the results of and waits for the running ones.
    """

    def __init__(
        self, client: RegistryClient, *, workers: int = 16, progress: Progress | None = None
    ) -> None:
        self._client = client
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers),
                                        thread_name_prefix="registry-scan")  # fmt: skip
        self._walks: dict[str, Future[list[str] | ImageUpdaterError]] = {}
        self._tally = tally(progress, REGISTRY)

    def want(self, image: ImageRef) -> None:
        """Start walking `image`'s repository unless it already is (call from one thread)."""
        if image.canonical not in self._walks:
            if self._tally is None:
                self._walks[image.canonical] = self._pool.submit(_list, self._client, image)
                return
            self._tally.add()
            walk = self._pool.submit(_list, self._client, image)
            walk.add_done_callback(partial(_walked, self._tally))
            self._walks[image.canonical] = walk

    def results(self, images: Iterable[ImageRef]) -> dict[str, list[str] | ImageUpdaterError]:
        """`canonical -> tags or error` for `images`, in the order first seen here."""
        wanted: dict[str, None] = {}
        for image in images:
            self.want(image)
            wanted[image.canonical] = None
        return {key: self._walks[key].result() for key in wanted}

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> TagScan:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _list(client: RegistryClient, image: ImageRef) -> list[str] | ImageUpdaterError:
    try:
        return client.list_tags(image)
    except ImageUpdaterError as exc:
        return exc
    except Exception as exc:  # a bug must not hide the other repositories' results
        log.exception("unexpected error listing tags of %s", image.canonical)
        return RegistryError(f"unexpected error listing tags ({type(exc).__name__})")


def _walked(counted: Tally, walk: Future[list[str] | ImageUpdaterError]) -> None:
    """A walk ended (a cancelled one, when the scan closes early, is not counted)."""
    if not walk.cancelled():
        counted.finish()
