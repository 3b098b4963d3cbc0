"""Leader election and sharding against the fake API server (real client, real JSON).

Time is a hand-moved clock: expiry, renew deadlines and rebalancing are tested without
sleeping. One test runs the background thread for real.
"""

from __future__ import annotations

import itertools
import os
import random
import time
from datetime import datetime

import pytest

from imageupdater.kube import (
    Cluster,
    LeaderElector,
    ShardLeases,
    Standalone,
    Timing,
    coordinator,
    default_identity,
    shard_of,
)
from tests.kube.conftest import Clock
from tests.kube.fakeapi import FakeApi

TIMING = Timing(lease_duration=15, renew_deadline=10, retry_period=2)
NS = "imageupdater"


def elector(cluster: Cluster, identity: str, clock: Clock) -> LeaderElector:
    return LeaderElector(cluster, identity, timing=TIMING, clock=clock, wall=clock.wall)


def lease(api: FakeApi, name: str = "imageupdater") -> dict:
    return api.state.leases[NS, name]


def test_first_replica_creates_the_lease_and_leads(api: FakeApi, cluster: Cluster, clock: Clock):
    a, b = elector(cluster, "pod-a", clock), elector(cluster, "pod-b", clock)
    a.tick()
    b.tick()
    assert a.is_leader
    assert a.owns("prod")
    assert a.owns("staging")
    assert not b.is_leader
    assert not b.owns("prod")
    spec = lease(api)["spec"]
    assert spec["holderIdentity"] == "pod-a"
    assert spec["leaseDurationSeconds"] == 15
    assert spec["leaseTransitions"] == 0
    assert datetime.fromisoformat(spec["renewTime"]) == clock.wall().replace(microsecond=1)
    assert ("POST", f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases") in api.state.requests


def test_renewals_keep_the_leader_and_followers_wait(api: FakeApi, cluster: Cluster, clock: Clock):
    a, b = elector(cluster, "pod-a", clock), elector(cluster, "pod-b", clock)
    a.tick()
    acquired = lease(api)["spec"]["acquireTime"]
    for _ in range(20):  # 40 s of renewals: longer than a lease duration
        clock.advance(2)
        a.tick()
        b.tick()
        assert a.is_leader
        assert not b.is_leader
    assert lease(api)["spec"]["acquireTime"] == acquired
    assert lease(api)["spec"]["renewTime"] > acquired


def test_a_dead_leader_is_replaced_after_the_lease_duration(
    api: FakeApi, cluster: Cluster, clock: Clock
):
    a, b = elector(cluster, "pod-a", clock), elector(cluster, "pod-b", clock)
    a.tick()
    b.tick()  # b observes a's lease now
    clock.advance(14)
    b.tick()
    assert not b.is_leader  # not expired yet by b's own observation
    # a stopped renewing 14 s ago: past its renew deadline it no longer claims leadership
    assert not a.is_leader
    clock.advance(2)
    b.tick()
    assert b.is_leader
    assert lease(api)["spec"]["holderIdentity"] == "pod-b"
    assert lease(api)["spec"]["leaseTransitions"] == 1
    a.tick()  # a comes back: b holds a fresh lease, a stays a follower
    assert not a.is_leader


def test_stop_releases_so_the_next_replica_takes_over_at_once(
    api: FakeApi, cluster: Cluster, clock: Clock
):
    a, b = elector(cluster, "pod-a", clock), elector(cluster, "pod-b", clock)
    a.tick()
    b.tick()
    a.stop()
    assert not a.is_leader
    assert lease(api)["spec"]["holderIdentity"] == ""
    b.tick()
    assert b.is_leader


def test_a_lost_race_is_a_409_and_the_winner_keeps_the_lease(
    api: FakeApi, cluster: Cluster, clock: Clock
):
    a, b = elector(cluster, "pod-a", clock), elector(cluster, "pod-b", clock)
    a.tick()
    b.tick()
    clock.advance(16)  # a's lease has expired for b
    # between b's GET and PUT, a renews: b's write carries a stale resourceVersion
    api.state.before_put = lambda ns, name: api.state.bump_lease(ns, name, "pod-a")
    b.tick()
    assert not b.is_leader
    assert lease(api)["spec"]["holderIdentity"] == "pod-a"


def test_an_outage_keeps_the_leader_only_until_its_renew_deadline(
    api: FakeApi, cluster: Cluster, clock: Clock
):
    a = elector(cluster, "pod-a", clock)
    a.tick()
    api.state.faults["/leases"] = 500
    clock.advance(4)
    a.tick()
    assert a.is_leader  # renewed 4 s ago: still safe to act
    clock.advance(6.5)
    a.tick()
    assert not a.is_leader  # past the renew deadline, before anyone else could take over
    api.state.faults.clear()
    a.tick()
    assert a.is_leader  # still its own lease: renewed at once


def test_timing_must_leave_a_safety_margin():
    with pytest.raises(ValueError, match="renew_deadline"):
        Timing(lease_duration=10, renew_deadline=10, retry_period=2)


def test_the_thread_runs_rounds_until_stopped(api: FakeApi, cluster: Cluster):
    fast = Timing(lease_duration=3, renew_deadline=2, retry_period=0.05)
    a = LeaderElector(cluster, "pod-a", timing=fast)
    a.start()
    try:
        assert a.is_leader  # the first round ran inside start()
        first = lease(api)["metadata"]["resourceVersion"]
        deadline = time.monotonic() + 5
        while lease(api)["metadata"]["resourceVersion"] == first:
            assert time.monotonic() < deadline, "no renewal"
            time.sleep(0.02)
    finally:
        a.stop()
    assert lease(api)["spec"]["holderIdentity"] == ""


# ------------------------------------------------------------------------------ sharding


def shards_of(cluster: Cluster, identity: str, clock: Clock, shards: int = 6) -> ShardLeases:
    return ShardLeases(cluster, identity, shards, timing=TIMING, clock=clock, wall=clock.wall)


def settle(replicas: list[ShardLeases], clock: Clock, rounds: int = 4) -> None:
    for _ in range(rounds):
        for replica in replicas:
            replica.tick()
            assert_exclusive(replicas)
        clock.advance(2)


def assert_exclusive(replicas: list[ShardLeases]) -> None:
    """Never two replicas on one shard, at any moment."""
    for x, y in itertools.combinations(replicas, 2):
        assert not (x.held() & y.held()), (x.identity, y.identity)


AUTOMATIONS = [f"automation-{i}" for i in range(40)]


def owners(replicas: list[ShardLeases], automation: str) -> list[str]:
    return [r.identity for r in replicas if r.owns(automation)]


def test_shards_are_spread_evenly_and_every_automation_has_one_owner(
    api: FakeApi, cluster: Cluster, clock: Clock
):
    replicas = [shards_of(cluster, f"pod-{c}", clock) for c in "abc"]
    settle(replicas, clock)
    assert sorted(len(r.held()) for r in replicas) == [2, 2, 2]
    for automation in AUTOMATIONS:
        assert len(owners(replicas, automation)) == 1
    names = {name for (_, name) in api.state.leases}
    assert {f"imageupdater-shard-{i}" for i in range(6)} <= names
    assert {"imageupdater-member-pod-a", "imageupdater-member-pod-b"} <= names


def test_a_dead_replica_s_shards_move_to_the_survivors(
    api: FakeApi, cluster: Cluster, clock: Clock
):
    a, b, c = (shards_of(cluster, f"pod-{x}", clock) for x in "abc")
    settle([a, b, c], clock)
    orphaned = c.held()
    # c dies without releasing: a and b go on, c's leases expire by their clocks
    for _ in range(12):
        for replica in (a, b):
            replica.tick()
        clock.advance(2)
        assert_exclusive([a, b])
    assert sorted(len(r.held()) for r in (a, b)) == [3, 3]
    assert orphaned <= a.held() | b.held()
    for automation in AUTOMATIONS:
        assert len(owners([a, b], automation)) == 1


def test_a_new_replica_gets_its_share_without_overlap(api: FakeApi, cluster: Cluster, clock: Clock):
    a = shards_of(cluster, "pod-a", clock)
    settle([a], clock, rounds=1)
    assert len(a.held()) == 6
    b = shards_of(cluster, "pod-b", clock)
    settle([a, b], clock)
    assert sorted(len(r.held()) for r in (a, b)) == [3, 3]


def test_stopping_a_replica_hands_its_shards_over_at_once(
    api: FakeApi, cluster: Cluster, clock: Clock
):
    a, b = shards_of(cluster, "pod-a", clock), shards_of(cluster, "pod-b", clock)
    settle([a, b], clock)
    b.stop()
    assert b.held() == frozenset()
    settle([a], clock, rounds=2)  # b's member lease is released: a counts itself alone
    assert len(a.held()) == 6


def test_shard_of_is_stable_and_in_range():
    assert shard_of("prod", 6) == shard_of("prod", 6)
    assert {shard_of(name, 4) for name in AUTOMATIONS} == {0, 1, 2, 3}
    assert shard_of("prod", 1) == 0


def test_coordinator_picks_the_shape(cluster: Cluster, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("POD_NAME", "imageupdater-7d9f-abcde")
    assert isinstance(coordinator(None), Standalone)
    assert coordinator(None).owns("anything")
    elector = coordinator(cluster)
    assert isinstance(elector, LeaderElector)
    assert elector.identity == "imageupdater-7d9f-abcde"
    sharded = coordinator(cluster, shards=4, identity="x")
    assert isinstance(sharded, ShardLeases)
    assert sharded.shards == 4
    monkeypatch.delenv("POD_NAME")
    assert default_identity().endswith(f"-{os.getpid()}")


def test_random_joins_deaths_and_restarts_never_overlap_and_converge(
    api: FakeApi, cluster: Cluster, clock: Clock
):
    """A seeded random schedule of replicas joining, dying silently and stopping cleanly:
    at no moment do two live replicas hold one shard, and once things calm down every
    shard has exactly one owner and the load is even."""
    rng = random.Random(7)
    alive: list[ShardLeases] = [shards_of(cluster, "pod-0", clock)]
    born = 1
    for _ in range(30):
        event = rng.random()
        if event < 0.2 and len(alive) < 4:
            alive.append(shards_of(cluster, f"pod-{born}", clock))
            born += 1
        elif event < 0.3 and len(alive) > 1:
            alive.pop(rng.randrange(len(alive)))  # dies without a word
        elif event < 0.35 and len(alive) > 1:
            alive.pop(rng.randrange(len(alive))).stop()
        for replica in alive:
            replica.tick()
            assert_exclusive(alive)
        clock.advance(2)
    settle(alive, clock, rounds=12)
    held = [r.held() for r in alive]
    assert frozenset().union(*held) == frozenset(range(6))
    assert max(map(len, held)) - min(map(len, held)) <= 1
