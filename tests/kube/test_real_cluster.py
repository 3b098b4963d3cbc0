"""Against a real cluster, when one is given: `IMAGEUPDATER_TEST_KUBECONTEXT=<context>`.

The context's namespace must allow creating Leases. Everything else runs against the fake
API server; these tests only confirm that a real API server agrees with it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from imageupdater.drift import compare
from imageupdater.kube import Cluster, LeaderElector, Timing

pytestmark = pytest.mark.cluster

CONTEXT = os.environ.get("IMAGEUPDATER_TEST_KUBECONTEXT")


@pytest.fixture
def real() -> Iterator[Cluster]:
    if not CONTEXT:
        pytest.skip("no real cluster: set IMAGEUPDATER_TEST_KUBECONTEXT")
    cluster = Cluster.connect(context=CONTEXT)
    yield cluster
    cluster.close()


def test_leader_election_on_a_real_api_server(real: Cluster):
    name = f"imageupdater-test-{uuid.uuid4().hex[:8]}"
    timing = Timing(lease_duration=5, renew_deadline=4, retry_period=1)
    a = LeaderElector(real, "test-a", name=name, timing=timing)
    b = LeaderElector(real, "test-b", name=name, timing=timing)
    try:
        a.tick()
        b.tick()
        assert a.is_leader
        assert not b.is_leader
        a.stop()
        b.tick()
        assert b.is_leader
    finally:
        b.stop()
        real.delete_lease(real.namespace, name)


def test_drift_reads_a_real_cluster(real: Cluster, tmp_path: Path):
    report = compare(real, tmp_path)  # no manifests: nothing to compare, nothing fails
    assert report.errors == []
    assert report.drift == []
