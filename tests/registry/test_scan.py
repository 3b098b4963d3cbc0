"""scan_tags: one walk per distinct repository, concurrent, failures isolated."""

from __future__ import annotations

import threading
from collections import Counter

import httpx

from imageupdater.errors import RegistryError, RegistryUnavailable
from imageupdater.registry import parse_reference, scan_tags

from .fakes import client, errors, tags_response


def by_repo(request: httpx.Request) -> httpx.Response:
    repo = request.url.path.removeprefix("/v2/").removesuffix("/tags/list")
    if repo == "team/missing":
        return errors(404, "NAME_UNKNOWN")
    if repo == "team/down":
        return httpx.Response(503)
    return tags_response(repo, [f"{repo}-1", f"{repo}-2"])


def test_one_walk_per_distinct_repository_however_many_refs_share_it() -> None:
    refs = [
        parse_reference(v)
        for v in ["nginx:1.25", "docker.io/library/nginx:1.27", "index.docker.io/nginx"]
    ]
    refs += [parse_reference(f"registry.test/team/app:{i}") for i in range(50)]
    refs += [parse_reference("registry.test/team/web")]
    registry, recorder, _ = client(by_repo)
    result = scan_tags(registry, refs)
    assert list(result) == [
        "docker.io/library/nginx",
        "registry.test/team/app",
        "registry.test/team/web",
    ]
    assert result["registry.test/team/app"] == ["team/app-1", "team/app-2"]
    walks = Counter(r.url.path for r in recorder.requests)
    assert set(walks.values()) == {1}
    assert len(walks) == 3


def test_a_failing_repository_does_not_affect_the_others() -> None:
    refs = [
        parse_reference(f"registry.test/team/{name}") for name in ["app", "missing", "down", "web"]
    ]
    registry, _, _ = client(by_repo)
    result = scan_tags(registry, refs)
    assert result["registry.test/team/app"] == ["team/app-1", "team/app-2"]
    assert result["registry.test/team/web"] == ["team/web-1", "team/web-2"]
    missing, down = result["registry.test/team/missing"], result["registry.test/team/down"]
    assert isinstance(missing, RegistryError)
    assert not isinstance(missing, RegistryUnavailable)
    assert isinstance(down, RegistryUnavailable)
    assert str(down) == "HTTP 503 after 4 tries"


def test_repositories_are_scanned_concurrently() -> None:
    barrier = threading.Barrier(4, timeout=5)

    def handler(request: httpx.Request) -> httpx.Response:
        barrier.wait()  # only passes when four walks are in flight at once
        return by_repo(request)

    refs = [parse_reference(f"registry.test/team/r{i}") for i in range(8)]
    registry, _, _ = client(handler)
    result = scan_tags(registry, refs, workers=4)
    assert all(isinstance(tags, list) for tags in result.values())


def test_an_unexpected_bug_is_contained_to_its_repository() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "broken" in request.url.path:
            raise ZeroDivisionError
        return by_repo(request)

    refs = [parse_reference("registry.test/team/broken"), parse_reference("registry.test/team/app")]
    registry, _, _ = client(handler)
    result = scan_tags(registry, refs)
    assert isinstance(result["registry.test/team/broken"], RegistryError)
    assert result["registry.test/team/app"] == ["team/app-1", "team/app-2"]


def test_nothing_to_scan() -> None:
    registry, recorder, _ = client(by_repo)
    assert scan_tags(registry, []) == {}
    assert recorder.requests == []
