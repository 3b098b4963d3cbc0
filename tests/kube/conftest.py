"""Fixtures for the Kubernetes tests: one fake API server per test, and a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from imageupdater.kube import Cluster
from tests.kube.fakeapi import FakeApi, fake_api


@pytest.fixture
def api(tmp_path: Path) -> Iterator[FakeApi]:
    with fake_api(tmp_path) as running:
        yield running


@pytest.fixture
def cluster(api: FakeApi) -> Iterator[Cluster]:
    connected = Cluster.connect(kubeconfig=api.kubeconfig)
    yield connected
    connected.close()


class Clock:
    """Monotonic and wall clocks the test moves by hand: expiry without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return datetime(2026, 11, 23, tzinfo=UTC) + timedelta(seconds=self.now)

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()
