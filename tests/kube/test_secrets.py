"""Image-pull secrets read from the cluster become registry credentials."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import httpx
import pytest

from imageupdater.config import load_automations
from imageupdater.errors import ConfigError
from imageupdater.kube import (
    Cluster,
    KubeError,
    docker_config_file,
    read_pull_secrets,
    secret_ref,
)
from imageupdater.registry import parse_reference
from imageupdater.registry.credentials import CredentialStore
from tests.kube.fakeapi import FakeApi
from tests.registry.fakes import client as fake_registry
from tests.registry.fakes import tags_response

NS = "imageupdater"


def encode(document: object) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def add_secret(api: FakeApi, name: str, kind: str, key: str, document: object, ns: str = NS):
    api.state.secrets[ns, name] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns, "resourceVersion": "7"},
        "type": kind,
        "data": {key: encode(document)},
    }


def test_dockerconfigjson_secrets_merge_into_a_private_config_file(api: FakeApi, cluster: Cluster):
    add_secret(
        api,
        "ghcr",
        "kubernetes.io/dockerconfigjson",
        ".dockerconfigjson",
        {"auths": {"ghcr.io": {"auth": basic("bot", "s3cret-ghcr")}}},
    )
    add_secret(
        api,
        "legacy",
        "kubernetes.io/dockercfg",
        ".dockercfg",
        {"quay.io": {"auth": basic("robot", "s3cret-quay")}},
        ns="tools",
    )
    config = read_pull_secrets(cluster, ["ghcr", "tools/legacy"])
    assert set(config["auths"]) == {"ghcr.io", "quay.io"}
    with docker_config_file(config) as path:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        store = CredentialStore(path)
        ghcr, quay = store.lookup("ghcr.io"), store.lookup("quay.io")
        assert ghcr is not None
        assert (ghcr.username, ghcr.password) == ("bot", "s3cret-ghcr")
        assert quay is not None
        assert quay.password == "s3cret-quay"
        assert store.lookup("docker.io") is None
    assert not path.exists()
    # `get` by name only: RBAC grants secrets by resourceName, never `list`
    methods = {(m, p) for m, p in api.state.requests if "/secrets" in p}
    assert methods == {
        ("GET", f"/api/v1/namespaces/{NS}/secrets/ghcr"),
        ("GET", "/api/v1/namespaces/tools/secrets/legacy"),
    }


def test_a_mounted_config_stays_underneath_the_secrets(
    api: FakeApi, cluster: Cluster, tmp_path: Path
):
    base = tmp_path / "config.json"
    base.write_text(
        json.dumps(
            {
                "auths": {
                    "ghcr.io": {"auth": basic("old", "x")},
                    "registry.local:5000": {"auth": basic("l", "y")},
                }
            }
        )
    )
    add_secret(
        api,
        "ghcr",
        "kubernetes.io/dockerconfigjson",
        ".dockerconfigjson",
        {"auths": {"ghcr.io": {"auth": basic("bot", "new")}}},
    )
    with docker_config_file(read_pull_secrets(cluster, ["ghcr"]), base=base) as path:
        store = CredentialStore(path)
        ghcr, local = store.lookup("ghcr.io"), store.lookup("registry.local:5000")
        assert ghcr is not None
        assert ghcr.username == "bot"
        assert local is not None
        assert local.username == "l"


def test_problems_name_the_secret_never_its_content(api: FakeApi, cluster: Cluster):
    api.state.secrets[NS, "opaque"] = {
        "metadata": {"name": "opaque", "namespace": NS},
        "type": "Opaque",
        "data": {"password": encode("hunter2")},
    }
    with pytest.raises(ConfigError, match="secret imageupdater/opaque has type 'Opaque'"):
        read_pull_secrets(cluster, ["opaque"])
    api.state.secrets[NS, "broken"] = {
        "metadata": {"name": "broken", "namespace": NS},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64.b64encode(b"hunter2{").decode()},
    }
    with pytest.raises(ConfigError, match="not base64-encoded JSON") as caught:
        read_pull_secrets(cluster, ["broken"])
    assert "hunter2" not in str(caught.value)
    with pytest.raises(KubeError, match='secrets "missing" not found') as missing:
        read_pull_secrets(cluster, ["missing"])
    assert missing.value.status == 404
    api.state.faults["/secrets/"] = 403
    with pytest.raises(KubeError, match="HTTP 403") as denied:
        read_pull_secrets(cluster, ["opaque"])
    assert denied.value.status == 403


def test_secret_references():
    assert secret_ref("regcred", "imageupdater") == ("imageupdater", "regcred")
    assert secret_ref("apps/regcred", "imageupdater") == ("apps", "regcred")
    with pytest.raises(ConfigError, match="NAMESPACE/NAME"):
        secret_ref("a/b/c", "x")


def test_the_automation_config_names_pull_secrets(tmp_path: Path):
    config = tmp_path / "config.yaml"
    config.write_text(
        "apiVersion: imageupdater.io/v1\nkind: Automation\nmetadata: {name: prod}\n"
        "spec:\n  registries:\n    pullSecrets: [regcred, apps/ghcr]\n"
    )
    (automation,) = load_automations(config)
    assert automation.raw["spec"]["registries"]["pullSecrets"] == ["regcred", "apps/ghcr"]


def test_wrong_credentials_are_an_auth_failure_not_a_crash(api: FakeApi):
    cluster = Cluster.connect(kubeconfig=api.kubeconfig, context="nobody")
    with pytest.raises(KubeError, match="HTTP 401") as caught:
        cluster.get_secret(NS, "x")
    assert caught.value.status == 401
    cluster.close()


def test_kubeconfig_from_the_environment_and_in_cluster_fallback(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'absent'}:{api.kubeconfig}")
    cluster = Cluster.connect()
    assert cluster.namespace == "imageupdater"
    cluster.close()
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config either
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(KubeError, match="no usable Kubernetes configuration"):
        Cluster.connect()


def test_the_registry_client_authenticates_with_a_pull_secret(api: FakeApi, cluster: Cluster):
    """End to end: Secret in the cluster -> config file -> Basic auth on the registry."""
    add_secret(
        api,
        "regcred",
        "kubernetes.io/dockerconfigjson",
        ".dockerconfigjson",
        {"auths": {"registry.example.com": {"auth": basic("bot", "s3cret")}}},
    )
    wanted = "Basic " + basic("bot", "s3cret")

    def registry(request: httpx.Request) -> httpx.Response:
        if request.headers.get("Authorization") != wanted:
            return httpx.Response(
                401, headers={"WWW-Authenticate": 'Basic realm="registry"'}, json={"errors": []}
            )
        return tags_response("acme/web", ["1.0.0", "1.1.0"])

    with docker_config_file(read_pull_secrets(cluster, ["regcred"])) as path:
        client, recorder, _ = fake_registry(registry, docker_config=str(path))
        with client:
            tags = client.list_tags(parse_reference("registry.example.com/acme/web:1.0.0"))
    assert tags == ["1.0.0", "1.1.0"]
    assert recorder.requests[-1].headers["Authorization"] == wanted
