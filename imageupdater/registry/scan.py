"""Scan many images at once: one `tags/list` walk per distinct repository, concurrently.

Many workloads usually share few repositories, so refs are grouped by
`ImageRef.canonical` before any request. A failure is returned as the value for that
repository, never raised and never turned into an empty list: the engine must report an
outage as an error for the images it serves, not as "no new tag".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from imageupdater.errors import ImageUpdaterError, RegistryError
from imageupdater.model import ImageRef

from .client import RegistryClient

log = logging.getLogger(__name__)


def scan_tags(
    client: RegistryClient, images: Iterable[ImageRef], *, workers: int = 16
) -> dict[str, list[str] | ImageUpdaterError]:
    """`canonical -> tags or error`, in the order the repositories were first seen."""
    distinct: dict[str, ImageRef] = {}
    for image in images:
        distinct.setdefault(image.canonical, image)
    if not distinct:
        return {}
    with ThreadPoolExecutor(
        max_workers=max(1, min(workers, len(distinct))), thread_name_prefix="registry-scan"
    ) as pool:
        futures = {key: pool.submit(_list, client, image) for key, image in distinct.items()}
        return {key: future.result() for key, future in futures.items()}


def _list(client: RegistryClient, image: ImageRef) -> list[str] | ImageUpdaterError:
    try:
        return client.list_tags(image)
    except ImageUpdaterError as exc:
        return exc
    except Exception as exc:  # a bug must not hide the other repositories' results
        log.exception("unexpected error listing tags of %s", image.canonical)
        return RegistryError(f"unexpected error listing tags ({type(exc).__name__})")
