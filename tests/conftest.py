"""Shared fixtures. Keep this file small: fixtures used by one package live in that package.

`registry` is one real registry (Debian's docker-registry, plain HTTP on 127.0.0.1) for
the whole session; tests use their own repository names so they never see each other's
images. Without the binary, the tests that need it are skipped with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, settings

from imageupdater.devtools import LocalRegistry, Pusher, RegistryNotInstalled, start_registry
from imageupdater.devtools.localregistry import registry_binary

# Property tests must not flake on a loaded 2-core CI machine: no per-example deadline.
settings.register_profile(
    "imageupdater", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("imageupdater")


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    try:
        registry_binary()
    except RegistryNotInstalled as exc:
        if os.environ.get("CI"):  # CI installs the registry: a missing binary is a failure there
            raise
        pytest.skip(str(exc))
    with start_registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


@pytest.fixture(scope="session")
def pusher(registry: LocalRegistry) -> Iterator[Pusher]:
    """Pushes images into `registry` over HTTP; `seed_storage(registry.root, …)` for volume."""
    with httpx.Client(base_url=registry.url, timeout=30) as client:
        yield Pusher(client)


@pytest.fixture(autouse=True)
def _outside_any_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that run in a pod (a CI runner on Kubernetes) must not make the daemon join
    that cluster: `run` connects when it sees a service account (`kube.in_cluster`)."""
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
