"""`manifests/` and the Dockerfile: valid against the Kubernetes schemas, and least privilege.

Schemas come from kubernetes-validate's bundled copies (no download at test time). The
structural rules are the ones a security review asks about: non-root, read-only root
filesystem, no privilege escalation, probes on the daemon's health paths, RBAC without
wildcards and without any way to enumerate Secrets.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from imageupdater.config import load_automations
from imageupdater.kube import KINDS

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = ROOT / "manifests"
K8S_VERSION = "1.33"
KUSTOMIZATION = "kustomize.config.k8s.io/v1beta1"


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def kustomize(directory: Path) -> list[dict[str, Any]]:
    """The objects a kustomization lists, recursively (no transformers: not a kustomize)."""
    (kustomization,) = documents(directory / "kustomization.yaml")
    assert kustomization["apiVersion"] == KUSTOMIZATION
    objects: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        path = (directory / resource).resolve()
        objects.extend(kustomize(path) if path.is_dir() else documents(path))
    return objects


BASE = kustomize(MANIFESTS)
WITH_DRIFT = kustomize(MANIFESTS / "drift")


def one(kind: str, objects: list[dict[str, Any]] = BASE) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind]
    return found


def test_every_file_is_listed_by_a_kustomization():
    listed = {str(p) for p in MANIFESTS.rglob("*.yaml") if p.name != "kustomization.yaml"}
    used: set[str] = set()
    for directory in (MANIFESTS, MANIFESTS / "drift"):
        (k,) = documents(directory / "kustomization.yaml")
        used |= {str((directory / r).resolve()) for r in k["resources"]}
    assert listed <= used


@pytest.mark.parametrize("obj", WITH_DRIFT, ids=lambda o: f"{o['kind']}/{o['metadata']['name']}")
def test_objects_validate_against_the_kubernetes_schema(obj: dict[str, Any]):
    kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_everything_namespaced_lives_in_the_controller_namespace():
    (k,) = documents(MANIFESTS / "kustomization.yaml")
    for obj in BASE:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == k["namespace"], obj["kind"]


def test_the_pod_runs_unprivileged_on_a_read_only_root():
    pod = one("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] >= 1000
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod.get("hostNetwork") is not True
    (container,) = pod["containers"]
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert "privileged" not in sc
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert "memory" in container["resources"]["limits"]


def test_a_rollout_does_not_wait_for_a_lease_the_old_pod_holds():
    assert one("Deployment")["spec"]["strategy"] == {"type": "Recreate"}


def test_the_daemon_args_are_real_run_flags():
    """Every flag the Deployment passes is one `run` has (`run --help` lists them)."""
    (container,) = one("Deployment")["spec"]["template"]["spec"]["containers"]
    usage = subprocess.run(
        [sys.executable, "-m", "imageupdater", "run", "--help"],
        capture_output=True, text=True, check=True, env={**os.environ, "COLUMNS": "200"},
    ).stdout  # fmt: skip
    flags = [a for a in container["args"] if a.startswith("--")]
    assert "--shards" in flags
    assert [f for f in flags if f not in usage] == []


def test_the_daemon_args_probes_and_state_volume():
    pod = one("Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == [
        "run", "--config", "/etc/imageupdater/config.yaml", "--listen", "0.0.0.0:8080",
        "--state-dir", "/var/lib/imageupdater", "--shards", "1",
    ]  # fmt: skip
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    (port,) = container["ports"]
    assert port["containerPort"] == 8080
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/var/lib/imageupdater"]]
    assert "emptyDir" in volumes[mounts["/tmp"]]  # temp files with a read-only root
    config = volumes[mounts["/etc/imageupdater"]]["configMap"]["name"]
    assert config == one("ConfigMap")["metadata"]["name"]
    env = {e["name"] for e in container["env"]}
    assert {"POD_NAME", "POD_NAMESPACE"} <= env


def test_the_service_reaches_the_pod():
    deployment, service = one("Deployment"), one("Service")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == "http"


def test_the_example_config_loads_and_its_secrets_are_granted(tmp_path: Path):
    config = tmp_path / "config.yaml"
    config.write_text(one("ConfigMap")["data"]["config.yaml"])
    (automation,) = load_automations(config)
    wanted = set(automation.raw["spec"]["registries"]["pullSecrets"])
    granted = {
        name
        for rule in one("Role")["rules"]
        if "secrets" in rule["resources"]
        for name in rule["resourceNames"]
    }
    assert wanted <= granted


RBAC_KINDS = ("Role", "ClusterRole")


def rules(objects: list[dict[str, Any]] = WITH_DRIFT) -> list[tuple[str, dict[str, Any]]]:
    return [(o["kind"], r) for o in objects if o["kind"] in RBAC_KINDS for r in o["rules"]]


def test_rbac_has_no_wildcards_and_no_secret_enumeration():
    for _, rule in rules():
        for field in ("apiGroups", "resources", "verbs", "resourceNames"):
            assert "*" not in rule.get(field, []), rule
        assert not {"escalate", "bind", "impersonate", "patch"} & set(rule["verbs"])
        if "secrets" in rule["resources"]:
            assert rule["verbs"] == ["get"]
            assert rule["resourceNames"], "secrets only by name"


def test_rbac_grants_exactly_what_the_code_uses():
    namespaced = {(tuple(r["apiGroups"]), tuple(r["resources"])): set(r["verbs"])
                  for kind, r in rules(BASE)}  # fmt: skip
    assert namespaced == {
        (("coordination.k8s.io",), ("leases",)): {"get", "list", "create", "update", "delete"},
        (("",), ("secrets",)): {"get"},
    }
    assert not [r for kind, r in rules(BASE) if kind == "ClusterRole"]
    cluster = [r for kind, r in rules() if kind == "ClusterRole"]
    assert {verb for r in cluster for verb in r["verbs"]} == {"list"}
    plural = {
        "Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets",
        "ReplicaSet": "replicasets", "CronJob": "cronjobs", "Job": "jobs", "Pod": "pods",
    }  # fmt: skip
    assert {res for r in cluster for res in r["resources"]} == {plural[k] for k in KINDS}
    for binding in ("RoleBinding", "ClusterRoleBinding"):
        (subject,) = one(binding, WITH_DRIFT)["subjects"]
        assert subject["name"] == one("ServiceAccount")["metadata"]["name"]


def test_dockerfile_builds_a_non_root_image():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    assert re.search(r"pip install --no-cache-dir \.", text)
    user = re.search(r"^USER (\d+)", text, re.M)
    assert user is not None
    pod = one("Deployment")["spec"]["template"]["spec"]
    assert int(user[1]) == pod["securityContext"]["runAsUser"]
