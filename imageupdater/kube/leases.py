"""Coordinating replicas through `coordination.k8s.io/v1` Leases (SPEC §6, "Kubernetes").

Two shapes, one small API for the daemon: `start()`, `stop()`, `owns(automation) -> bool`.

* `LeaderElector` — one Lease; the replica holding it runs every automation, the others
  stand by. Enough when one replica can do all the work and a second one is for failover.
* `ShardLeases` — automations are hashed onto N shards, one Lease per shard, and the
  replicas share the shards. Each replica also keeps a *member* Lease renewed, so every
  replica can count the live ones and hold at most ceil(N / live) shards: a new replica makes
  the others give shards up, and when one dies its shard Leases expire and the survivors
  take them over. Use it when one replica is not enough.

Why the algorithm looks like client-go's leader election:

* Expiry is judged by *our* monotonic clock from the moment we saw a Lease change
  (its `resourceVersion`), never by comparing `renewTime` with our wall clock, so clock
  skew between nodes cannot make two replicas leaders at once.
* Every write carries the `resourceVersion` it read; the API server answers 409 to the
  loser of a race, so two replicas can never both take one Lease.
* A holder that cannot renew (API outage) stops claiming the Lease after `renew_deadline`,
  which is shorter than the lease duration others wait for: it gives up before anybody else
  may take over. Owning nothing during an outage is the safe failure: an automation that
  runs late is better than two replicas pushing to one branch.
* `stop()` releases what it holds (empty `holderIdentity`), so a rolling update hands over
  at once instead of after a lease duration.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from imageupdater.kube.api import Cluster, KubeError

log = logging.getLogger(__name__)

GROUP_LABEL = "imageupdater.io/lease-group"
ROLE_LABEL = "imageupdater.io/lease-role"


@dataclass(frozen=True, slots=True)
class Timing:
    """Durations in seconds; `renew_deadline` < `lease_duration` is what makes it safe."""

    lease_duration: int = 15
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError("need 0 < retry_period < renew_deadline < lease_duration")


def _microtime(now: datetime) -> str:
    """`MicroTime` as the API server writes it.

    The client (pydantic models since kubernetes 34) parses the string and re-serialises it
    with `isoformat()`, which drops a zero fraction; the server's RFC3339Micro parser wants
    six digits, so a whole second is nudged by one microsecond.
    """
    stamp = now.astimezone(UTC)
    if stamp.microsecond == 0:
        stamp = stamp.replace(microsecond=1)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _slug(text: str) -> str:
    """A Lease name part: lower-case DNS label characters only."""
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:40] or "x"


@dataclass(slots=True)
class _Lease:
    """One Lease as this replica sees it: who holds it, since when (by our clock)."""

    cluster: Cluster
    namespace: str
    name: str
    identity: str
    timing: Timing
    labels: dict[str, str]
    clock: Callable[[], float]
    wall: Callable[[], datetime]
    observed_version: str = ""
    observed_at: float = 0.0
    renewed_at: float | None = None  # our clock at our last successful write

    def held(self) -> bool:
        """True while our last renewal is recent enough to act on."""
        return self.renewed_at is not None and (
            self.clock() - self.renewed_at < self.timing.renew_deadline
        )

    def try_acquire(self) -> bool:
        """Take the Lease if it is free, expired or ours; renew it if ours. One round trip
        (two on a take-over); a 409 means somebody else won, an outage keeps `held()`
        true only until the renew deadline."""
        now = self.clock()
        try:
            lease = self.cluster.get_lease(self.namespace, self.name)
            if lease is None:
                self._store(self.cluster.create_lease(self.namespace, self._body(None)), now)
                return True
            self.observe(str(lease.get("metadata", {}).get("resourceVersion") or ""), now)
            spec = lease.get("spec") or {}
            holder = spec.get("holderIdentity") or ""
            duration = int(spec.get("leaseDurationSeconds") or self.timing.lease_duration)
            if holder and holder != self.identity and now < self.observed_at + duration:
                self.renewed_at = None
                return False
            self._store(self.cluster.replace_lease(self.namespace, self._body(lease)), now)
            return True
        except KubeError as exc:
            if exc.status == 409:  # a lost race: the winner's write is the truth
                self.renewed_at = None
                return False
            log.warning("lease %s/%s: %s", self.namespace, self.name, exc)
            return self.held()

    def observe(self, version: str, now: float) -> None:
        if version != self.observed_version:
            self.observed_version, self.observed_at = version, now

    def release(self) -> None:
        """Hand the Lease back (empty holder) so the next replica need not wait it out."""
        if self.renewed_at is None:
            return
        self.renewed_at = None
        try:
            lease = self.cluster.get_lease(self.namespace, self.name)
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            body = self._body(lease)
            body["spec"]["holderIdentity"] = ""
            body["spec"]["leaseDurationSeconds"] = 1
            self.cluster.replace_lease(self.namespace, body)
        except KubeError as exc:  # it will expire on its own
            log.info("releasing lease %s/%s: %s", self.namespace, self.name, exc)

    def _store(self, lease: dict[str, Any], now: float) -> None:
        self.observed_version = str(lease.get("metadata", {}).get("resourceVersion") or "")
        self.observed_at = self.renewed_at = now

    def _body(self, current: dict[str, Any] | None) -> dict[str, Any]:
        stamp = _microtime(self.wall())
        spec: dict[str, Any] = current.get("spec") or {} if current else {}
        ours = spec.get("holderIdentity") == self.identity
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        metadata["labels"] = {**((current or {}).get("metadata", {}).get("labels") or {})}
        metadata["labels"].update(self.labels)
        if current is not None:
            metadata["resourceVersion"] = current["metadata"]["resourceVersion"]
        transitions = int(spec.get("leaseTransitions") or 0)
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": self.timing.lease_duration,
                "acquireTime": spec.get("acquireTime") if ours else stamp,
                "renewTime": stamp,
                "leaseTransitions": transitions if ours or current is None else transitions + 1,
            },
        }


class _Runner:
    """The background thread both coordinators share: `tick()` every retry period."""

    timing: Timing

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        """Run the election in a daemon thread; the first round runs before returning, so
        `owns()` is meaningful at once."""
        if self._thread is not None:
            return
        self._stop.clear()
        self.tick()
        self._thread = threading.Thread(target=self._loop, name=type(self).__name__, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop renewing and release every Lease held (call after the last cycle ended)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timing.renew_deadline)
            self._thread = None
        self._release()

    def _loop(self) -> None:
        while not self._stop.wait(self.timing.retry_period):
            try:
                self.tick()
            except Exception:  # never let the election thread die silently
                log.exception("lease round failed")


class LeaderElector(_Runner):
    """One Lease named `name`; its holder owns every automation."""

    def __init__(
        self,
        cluster: Cluster,
        identity: str,
        *,
        name: str = "imageupdater",
        namespace: str | None = None,
        timing: Timing | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__()
        self.timing = timing or Timing()
        self.identity = identity
        labels = {GROUP_LABEL: _slug(name), ROLE_LABEL: "leader"}
        self._lease = _Lease(
            cluster, namespace or cluster.namespace, name, identity, self.timing, labels,
            clock, wall,
        )  # fmt: skip
        self._was_leader = False

    @property
    def is_leader(self) -> bool:
        return self._lease.held()

    def owns(self, automation: str) -> bool:
        """The leader owns every automation; a follower none."""
        return self.is_leader

    def tick(self) -> None:
        leader = self._lease.try_acquire()
        if leader != self._was_leader:
            log.warning("%s %s leadership", self.identity, "acquired" if leader else "lost")
            self._was_leader = leader

    def _release(self) -> None:
        self._lease.release()


def shard_of(automation: str, shards: int) -> int:
    """Stable across processes and Python versions (unlike `hash()`)."""
    digest = hashlib.sha256(automation.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shards


@dataclass(slots=True)
class _Member:
    version: str
    seen_at: float


class ShardLeases(_Runner):
    """N shard Leases `<name>-shard-<i>` spread over the live replicas (module docstring)."""

    def __init__(
        self,
        cluster: Cluster,
        identity: str,
        shards: int,
        *,
        name: str = "imageupdater",
        namespace: str | None = None,
        timing: Timing | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__()
        if shards < 1:
            raise ValueError("shards must be at least 1")
        self.cluster, self.identity, self.shards, self.name = cluster, identity, shards, name
        self.timing = timing or Timing()
        self.clock = clock
        self.namespace = namespace or cluster.namespace
        self._members: dict[str, _Member] = {}
        self._lock = threading.Lock()
        group = _slug(name)

        def lease(lease_name: str, role: str) -> _Lease:
            labels = {GROUP_LABEL: group, ROLE_LABEL: role}
            return _Lease(
                cluster, self.namespace, lease_name, identity, self.timing, labels, clock, wall
            )

        self._leases = [lease(f"{name}-shard-{i}", "shard") for i in range(shards)]
        self._member = lease(f"{name}-member-{_slug(identity)}", "member")

    def owns(self, automation: str) -> bool:
        return shard_of(automation, self.shards) in self.held()

    def held(self) -> frozenset[int]:
        """The shards this replica may work on right now."""
        return frozenset(i for i, lease in enumerate(self._leases) if lease.held())

    def tick(self) -> None:
        with self._lock:
            if not self._member.try_acquire():
                return  # cannot even announce ourselves: keep only what is still valid
            selector = f"{GROUP_LABEL}={_slug(self.name)}"
            try:
                listed = self.cluster.list_leases(self.namespace, selector)
            except KubeError as exc:  # not knowing who is alive: keep what we hold
                log.warning("listing leases: %s", exc)
                listed = None
            if listed is None:
                target = len(self.held())
            else:
                live = self._observe(listed)
                target = math.ceil(self.shards / max(live, 1))
            order = self._preference()
            mine = [i for i in order if self._leases[i].held()]
            for i in mine[target:]:  # too many: give the least preferred back
                self._leases[i].release()
            kept = [i for i in mine[:target] if self._leases[i].try_acquire()]
            for i in order:
                if len(kept) >= target:
                    break
                if i not in kept and self._leases[i].try_acquire():
                    kept.append(i)

    def _preference(self) -> list[int]:
        """Rendezvous order: each replica prefers different shards, so a rebalance moves few."""
        return sorted(
            range(self.shards),
            key=lambda i: hashlib.sha256(f"{self.identity}/{i}".encode()).digest(),
        )

    def _observe(self, listed: list[dict[str, Any]]) -> int:
        """Note every shard Lease's version (its expiry clock starts at the first sighting,
        so watching them all each round lets a dead replica's shards be taken one lease
        duration after it died) and count the members renewed within a lease duration."""
        now = self.clock()
        by_name = {lease.name: lease for lease in self._leases}
        live = 0
        seen: dict[str, _Member] = {}
        for lease in listed:
            meta = lease.get("metadata") or {}
            name, version = str(meta.get("name")), str(meta.get("resourceVersion") or "")
            if name in by_name:
                by_name[name].observe(version, now)
                continue
            if (meta.get("labels") or {}).get(ROLE_LABEL) != "member":
                continue
            known = self._members.get(name)
            member = known if known and known.version == version else _Member(version, now)
            seen[name] = member
            spec = lease.get("spec") or {}
            duration = int(spec.get("leaseDurationSeconds") or self.timing.lease_duration)
            if name == self._member.name or (
                spec.get("holderIdentity") and now - member.seen_at < duration
            ):
                live += 1
            elif now - member.seen_at > 4 * duration:  # long dead: tidy the namespace up
                self.cluster.delete_lease(self.namespace, name)
        self._members = seen
        return live

    def _release(self) -> None:
        with self._lock:
            for lease in self._leases:
                lease.release()
            self._member.release()


class Coordinator(Protocol):
    """What the daemon needs from either coordinator (and from `Standalone`)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def owns(self, automation: str) -> bool: ...


class Standalone:
    """One replica without a cluster (`run` on a laptop, in CI): it owns everything."""

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def owns(self, automation: str) -> bool:
        return True


def default_identity() -> str:
    """`$POD_NAME` (set by the Deployment from the downward API), else host name and PID:
    unique per process, and readable in `kubectl get lease -o yaml`."""
    return os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"


def coordinator(
    cluster: Cluster | None,
    *,
    shards: int = 0,
    identity: str | None = None,
    name: str = "imageupdater",
    timing: Timing | None = None,
) -> Coordinator:
    """`shards` 0: leader election; N > 0: N shard Leases; no cluster: standalone."""
    if cluster is None:
        return Standalone()
    who = identity or default_identity()
    if shards > 0:
        return ShardLeases(cluster, who, shards, name=name, timing=timing)
    return LeaderElector(cluster, who, name=name, timing=timing)
