"""The daemon connected to Kubernetes (fake API server): Leases decide which replica runs an
automation, pull secrets become registry credentials, drift lands on `/metrics`."""

from __future__ import annotations

import base64
import json
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from imageupdater import app, commands, daemon, kube
from imageupdater.config import load_automations
from imageupdater.daemon import Daemon
from imageupdater.registry import parse_reference
from imageupdater.report import Report
from tests.daemon.harness import DaemonProcess, automation, wait_for
from tests.gitenv import clone_pair, make_hermetic
from tests.kube.fakeapi import FakeApi, fake_api
from tests.registry.fakes import client as fake_registry
from tests.registry.fakes import tags_response

NS = "imageupdater"  # the fake kubeconfig's namespace: Leases and Secrets live here

# No policy annotation: a cycle plans nothing and needs no registry.
PLAIN = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    spec:
      containers:
        - name: web
          image: example.com/acme/web:1.0.0
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return datetime(2026, 11, 23, tzinfo=UTC) + timedelta(seconds=self.now)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[FakeApi]:
    with fake_api(tmp_path) as running:
        yield running


@pytest.fixture
def cluster(api: FakeApi) -> Iterator[kube.Cluster]:
    connected = kube.Cluster.connect(kubeconfig=api.kubeconfig)
    yield connected
    connected.close()


def _config(tmp_path: Path, *docs: str) -> Path:
    remote, _ = clone_pair(tmp_path, {"apps/web.yaml": PLAIN})
    config = tmp_path / "automations.yaml"
    config.write_text("---\n".join(d.replace("@REMOTE@", str(remote)) for d in docs))
    return config


def _doc(name: str, extra: str = "") -> str:
    return automation(name, Path("@REMOTE@"), "1h", extra)


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _add_pull_secret(api: FakeApi, name: str, auths: dict[str, Any]) -> None:
    document = base64.b64encode(json.dumps({"auths": auths}).encode()).decode()
    api.state.secrets[NS, name] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NS, "resourceVersion": "1"},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": document},
    }


def _cycles(d: Daemon, name: str) -> float:
    value = d.metrics.registry.get_sample_value(
        "imageupdater_cycles_total", {"automation": name, "result": "ok"}
    )
    return value or 0.0


# ----------------------------------------------------------------------- coordination


def test_two_daemons_share_one_automation_set_and_stopping_the_owner_hands_over(
    tmp_path: Path, api: FakeApi, cluster: kube.Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_hermetic(tmp_path, monkeypatch)
    config = _config(tmp_path, _doc("prod"), _doc("staging"))
    automations = load_automations(config)
    clock = Clock()
    timing = kube.Timing(lease_duration=15, renew_deadline=10, retry_period=2)
    electors = [
        kube.LeaderElector(cluster, who, timing=timing, clock=clock, wall=clock.wall)
        for who in ("replica-a", "replica-b")
    ]
    daemons = [
        Daemon(automations, tmp_path / f"state-{i}", owns=e.owns, cluster=cluster)
        for i, e in enumerate(electors)
    ]
    try:
        for elector in electors:  # a wins the election, b stands by
            elector.tick()
        for d in daemons:
            d.scheduler.run_once()
        assert [_cycles(d, "prod") for d in daemons] == [1, 0]
        assert [_cycles(d, "staging") for d in daemons] == [1, 0]

        electors[0].stop()  # the owner shuts down: the Lease is released, not left to expire
        assert api.state.leases[NS, "imageupdater"]["spec"]["holderIdentity"] == ""
        electors[1].tick()  # no waiting out the lease duration
        for d in daemons:
            d.scheduler.run_once()
        assert [_cycles(d, "prod") for d in daemons] == [1, 1]
        assert [_cycles(d, "staging") for d in daemons] == [1, 1]
    finally:
        for elector in electors:
            elector.stop()
        for d in daemons:
            d.close()


def test_shard_leases_give_every_automation_exactly_one_replica(
    tmp_path: Path, cluster: kube.Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_hermetic(tmp_path, monkeypatch)
    names = [f"app{i}" for i in range(6)]
    automations = load_automations(_config(tmp_path, *(_doc(n) for n in names)))
    clock = Clock()
    replicas = [
        kube.ShardLeases(cluster, who, 4, clock=clock, wall=clock.wall)
        for who in ("replica-a", "replica-b")
    ]
    daemons = [
        Daemon(automations, tmp_path / f"state-{i}", owns=r.owns, cluster=cluster)
        for i, r in enumerate(replicas)
    ]
    try:
        for _ in range(3):  # a takes all, b joins, a gives half back, b takes them
            for r in replicas:
                r.tick()
        for d in daemons:
            d.scheduler.run_once()
        for name in names:
            assert sorted(_cycles(d, name) for d in daemons) == [0, 1], name
        assert all(any(_cycles(d, n) for n in names) for d in daemons)  # both work
    finally:
        for r in replicas:
            r.stop()
        for d in daemons:
            d.close()


def test_shards_choose_the_coordinator_and_no_cluster_means_standalone(
    cluster: kube.Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(daemon.coordinator(None, 1), kube.Standalone)
    assert isinstance(daemon.coordinator(cluster, 0), kube.Standalone)
    assert isinstance(daemon.coordinator(cluster, 1), kube.LeaderElector)
    sharded = daemon.coordinator(cluster, 3)
    assert isinstance(sharded, kube.ShardLeases)
    assert sharded.shards == 3

    def refuse(*args: object, **kwargs: object) -> kube.Cluster:
        raise AssertionError("no Kubernetes call without a cluster")

    monkeypatch.setattr(kube.Cluster, "connect", refuse)
    monkeypatch.setattr(kube, "in_cluster", lambda: False)
    monkeypatch.setenv("KUBECONFIG", "/nonexistent")  # a kubeconfig in the env is not enough
    assert daemon.connect(None, None) is None


# ----------------------------------------------------------------------- pull secrets


def test_pull_secrets_become_registry_auth_refreshed_every_cycle_and_removed(
    tmp_path: Path, api: FakeApi, cluster: kube.Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_hermetic(tmp_path, monkeypatch)
    pull = "  registries:\n    pullSecrets: [regcred]\n"
    automations = load_automations(_config(tmp_path, _doc("prod", pull)))
    _add_pull_secret(api, "regcred", {"registry.example.com": {"auth": _basic("bot", "one")}})
    seen: list[tuple[str, str]] = []

    def apply(root: Path, options: app.Options, request: object) -> Report:
        assert options.registry_config is not None
        path = options.registry_config

        def registry(request: httpx.Request) -> httpx.Response:
            if not request.headers.get("Authorization"):
                return httpx.Response(
                    401, headers={"WWW-Authenticate": 'Basic realm="r"'}, json={"errors": []}
                )
            return tags_response("acme/web", ["1.0.0"])

        client, recorder, _ = fake_registry(registry, docker_config=path)
        with client:
            client.list_tags(parse_reference("registry.example.com/acme/web:1.0.0"))
        seen.append((path, recorder.requests[-1].headers["Authorization"]))
        return Report()

    monkeypatch.setattr(commands, "apply", apply)
    d = Daemon(automations, tmp_path / "state", cluster=cluster)
    try:
        assert d.cycle(automations[0])
        _add_pull_secret(api, "regcred", {"registry.example.com": {"auth": _basic("bot", "two")}})
        assert d.cycle(automations[0])  # rotated: the next cycle reads the Secret again
    finally:
        d.close()
    assert [auth for _, auth in seen] == [f"Basic {_basic('bot', p)}" for p in ("one", "two")]
    assert not any(Path(path).exists() for path, _ in seen)  # private file removed
    assert ("GET", f"/api/v1/namespaces/{NS}/secrets/regcred") in api.state.requests


def test_pull_secrets_without_a_cluster_fail_only_that_automation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_hermetic(tmp_path, monkeypatch)
    pull = "  registries:\n    pullSecrets: [regcred]\n"
    automations = load_automations(_config(tmp_path, _doc("secret", pull), _doc("plain")))
    d = Daemon(automations, tmp_path / "state")
    try:
        assert d.scheduler.run_once() == {"secret": False, "plain": True}
        outcome = d.state.outcome("secret")
        assert outcome is not None
        assert "pullSecrets needs a Kubernetes cluster" in outcome.errors[0]
        errors = d.metrics.registry.get_sample_value(
            "imageupdater_errors_total", {"automation": "secret", "kind": "config"}
        )
        assert errors == 1
    finally:
        d.close()


# ----------------------------------------------------------------------- drift


def test_drift_is_measured_after_a_cycle_and_cluster_errors_never_fail_it(
    tmp_path: Path, api: FakeApi, cluster: kube.Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_hermetic(tmp_path, monkeypatch)
    automations = load_automations(_config(tmp_path, _doc("prod")))
    api.state.add_workload(_deployment("example.com/acme/web:0.9.0"))
    d = Daemon(automations, tmp_path / "state", cluster=cluster)
    try:
        assert d.cycle(automations[0])
        assert _sample(d, "imageupdater_drift", "prod") == 1
        api.state.faults[r"/deployments$"] = 500  # the API server fails: the cycle does not
        assert d.cycle(automations[0])
        assert _sample(d, "imageupdater_errors_total", "prod", kind="kubernetes") == 1
        assert _sample(d, "imageupdater_drift", "prod") == 1  # last complete figure kept
    finally:
        d.close()


def test_run_in_a_cluster_holds_the_lease_shows_drift_and_releases_on_sigterm(
    tmp_path: Path, api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`imageupdater run --kubeconfig` as a process: the flags, the wiring, `/metrics`."""
    make_hermetic(tmp_path, monkeypatch)
    config = _config(tmp_path, automation("prod", Path("@REMOTE@"), "2s"))
    api.state.add_workload(_deployment("example.com/acme/web:0.9.0"))
    proc = DaemonProcess(
        config, tmp_path / "state", args=("--kubeconfig", str(api.kubeconfig), "--shards", "1")
    )
    try:
        wait_for(proc.ready, 20, "/readyz")
        lease = api.state.leases[NS, "imageupdater"]
        assert lease["spec"]["holderIdentity"]
        wait_for(lambda: b'imageupdater_drift{automation="prod"} 1.0' in proc.get("/metrics")[1],
                 10, "the drift gauge")  # fmt: skip
        assert proc.stop(signal.SIGTERM) == 0
        assert api.state.leases[NS, "imageupdater"]["spec"]["holderIdentity"] == ""
    finally:
        proc.kill()


def _deployment(image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}},
    }


def _sample(d: Daemon, metric: str, automation: str, **labels: str) -> float | None:
    return d.metrics.registry.get_sample_value(metric, {"automation": automation, **labels})
