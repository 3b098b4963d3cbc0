"""`imageupdater drift`: manifests in a directory versus a (fake) cluster, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from imageupdater.cli import main
from imageupdater.drift import DRIFT, DriftGauge, DriftReport, compare, same_image
from imageupdater.kube import Cluster
from tests.kube.fakeapi import FakeApi

REPO = {
    "apps/web.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: ghcr.io/acme/web:1.2.0
      containers:
        - name: web
          image: ghcr.io/acme/web:1.2.0
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {ports: [{port: 80}]}
""",
    "apps/db.yaml": """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  template:
    spec:
      containers:
        - {name: db, image: "postgres:16.1"}
""",
    "base/agent.yaml": """\
# no namespace: a kustomize base; looked up in the context's namespace
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  template:
    spec:
      containers:
        - {name: agent, image: "quay.io/acme/agent:2.0.0@sha256:%s"}
"""
    % ("a" * 64),
    "jobs/backup.yaml": """\
apiVersion: batch/v1
kind: CronJob
metadata: {name: backup, namespace: ops}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - {name: backup, image: "restic/restic:0.16.0"}
""",
    "jobs/new.yaml": """\
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: ops}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - {name: report, image: "acme/report:1.0"}
""",
    "crd/rollout.yaml": """\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: canary, namespace: shop}
spec:
  template:
    spec:
      containers:
        - {name: app, image: "acme/app:1.0"}
""",
    "helm/templates/deploy.yaml": "kind: Deployment\n{{ .Values.x }}\n",
    "notes.txt": "not yaml",
}


def pod_template(containers: dict[str, str], init: dict[str, str] | None = None) -> dict:
    spec: dict[str, Any] = {"containers": [{"name": n, "image": i} for n, i in containers.items()]}
    if init:
        spec["initContainers"] = [{"name": n, "image": i} for n, i in init.items()]
    return {"metadata": {"labels": {"app": "x"}}, "spec": spec}


def workload(kind: str, name: str, ns: str, template: dict) -> dict:
    if kind == "CronJob":
        spec: dict[str, Any] = {
            "schedule": "0 3 * * *",
            "jobTemplate": {"spec": {"template": template}},
        }
    else:
        spec = {"selector": {"matchLabels": {"app": "x"}}, "template": template}
    return {"metadata": {"name": name, "namespace": ns, "uid": name}, "kind": kind, "spec": spec}


def populate(api: FakeApi) -> None:
    """The cluster: web's container was `kubectl set image`d, db matches (normalised),
    agent runs the digest only, backup has an extra sidecar, report was never applied."""
    add = api.state.add_workload
    add(
        workload(
            "Deployment",
            "web",
            "shop",
            pod_template(
                {"web": "ghcr.io/acme/web:1.3.0-hotfix"}, {"migrate": "ghcr.io/acme/web:1.2.0"}
            ),
        )
    )
    add(
        workload(
            "StatefulSet", "db", "shop", pod_template({"db": "docker.io/library/postgres:16.1"})
        )
    )
    add(
        workload(
            "DaemonSet",
            "agent",
            "imageupdater",
            pod_template({"agent": "quay.io/acme/agent:2.0.0@sha256:" + "a" * 64}),
        )
    )
    add(
        workload(
            "CronJob",
            "backup",
            "ops",
            pod_template({"backup": "restic/restic:0.16.0", "debug": "busybox:1.36"}),
        )
    )
    add(workload("Deployment", "unrelated", "shop", pod_template({"x": "nginx"})))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for name, text in REPO.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "helm" / "Chart.yaml").write_text("name: x\n")
    return root


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    captured = capsys.readouterr()
    code = exited.value.code
    out: Any = captured.out
    if "--format" in argv:
        out = json.loads(captured.out)
    return code if isinstance(code, int) else 0, out, captured.err


def test_drift_json(api: FakeApi, repo: Path, capsys: pytest.CaptureFixture[str]):
    populate(api)
    code, document, _ = run(
        capsys, "drift", str(repo), "--kubeconfig", str(api.kubeconfig), "--format", "json"
    )
    assert code == 0  # drift without --detailed-exitcode is not a failure
    assert document["version"] == 1
    assert document["context"] is None
    assert document["errors"] == []
    assert document["checked"] == 5
    assert document["drift"] == [
        {
            "workload": "CronJob/ops/backup",
            "container": "debug",
            "git": None,
            "cluster": "busybox:1.36",
            "reason": "not-in-git",
            "file": "jobs/backup.yaml",
            "line": None,
        },
        {
            "workload": "CronJob/ops/report",
            "container": "report",
            "git": "acme/report:1.0",
            "cluster": None,
            "reason": "missing-in-cluster",
            "file": "jobs/new.yaml",
            "line": 10,
        },
        {
            "workload": "Deployment/shop/web",
            "container": "web",
            "git": "ghcr.io/acme/web:1.2.0",
            "cluster": "ghcr.io/acme/web:1.3.0-hotfix",
            "reason": "image-differs",
            "file": "apps/web.yaml",
            "line": 12,
        },
    ]
    assert document["skipped"] == [
        {
            "file": "crd/rollout.yaml",
            "workload": "Rollout/shop/canary",
            "reason": "unsupported-kind",
        }
    ]
    # one list per kind and namespace; nothing but reads
    methods = {method for method, _ in api.state.requests}
    assert methods == {"GET"}
    lists = [path for _, path in api.state.requests]
    assert lists.count("/apis/batch/v1/namespaces/ops/cronjobs") == 1


def test_detailed_exitcode_and_text(api: FakeApi, repo: Path, capsys: pytest.CaptureFixture[str]):
    populate(api)
    code, out, _ = run(
        capsys, "drift", str(repo), "--kubeconfig", str(api.kubeconfig), "--detailed-exitcode"
    )
    assert code == 2
    assert "Deployment/shop/web" in out
    assert "image-differs" in out
    clean = repo / "apps"
    (clean / "web.yaml").unlink()
    code, out, _ = run(
        capsys, "drift", str(clean), "--kubeconfig", str(api.kubeconfig), "--detailed-exitcode"
    )
    assert code == 0
    assert "No drift (1 containers compared)." in out


def test_namespace_option_and_context(api: FakeApi, repo: Path, capsys: pytest.CaptureFixture[str]):
    populate(api)
    base = repo / "base"
    # context "other" has no namespace: "default", where no agent runs
    code, document, _ = run(
        capsys,
        "drift",
        str(base),
        "--kubeconfig",
        str(api.kubeconfig),
        "--context",
        "other",
        "--format",
        "json",
    )
    assert code == 0
    assert document["context"] == "other"
    assert [row["reason"] for row in document["drift"]] == ["missing-in-cluster"]
    code, document, _ = run(
        capsys,
        "drift",
        str(base),
        "--kubeconfig",
        str(api.kubeconfig),
        "--context",
        "other",
        "-n",
        "imageupdater",
        "--format",
        "json",
    )
    assert document["drift"] == []
    assert document["checked"] == 1


def test_an_unreadable_cluster_is_an_error_never_no_drift(
    api: FakeApi, repo: Path, capsys: pytest.CaptureFixture[str]
):
    populate(api)
    api.state.faults["/namespaces/shop/"] = 403  # RBAC does not reach namespace shop
    code, document, _ = run(
        capsys,
        "drift",
        str(repo),
        "--kubeconfig",
        str(api.kubeconfig),
        "--format",
        "json",
        "--detailed-exitcode",
    )
    assert code == 1
    assert {e["kind"] for e in document["errors"]} == {"kubernetes"}
    assert any("HTTP 403" in e["message"] for e in document["errors"])
    # shop's workloads are neither drift nor "in sync"; the other namespaces still are compared
    assert {row["workload"] for row in document["drift"]} == {
        "CronJob/ops/backup",
        "CronJob/ops/report",
    }


def test_connection_problems_are_errors(
    api: FakeApi, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    code, document, _ = run(
        capsys,
        "drift",
        str(repo),
        "--kubeconfig",
        str(api.kubeconfig),
        "--context",
        "missing",
        "--format",
        "json",
    )
    assert code == 1
    assert document["errors"][0]["kind"] == "kubernetes"
    assert "context missing" in document["errors"][0]["message"]
    code, document, _ = run(
        capsys,
        "drift",
        str(repo),
        "--kubeconfig",
        str(api.kubeconfig),
        "--context",
        "nobody",
        "--format",
        "json",
    )
    assert code == 1
    assert "HTTP 401" in document["errors"][0]["message"]
    assert "wrong" not in json.dumps(document)  # the token never shows
    code, _, err = run(capsys, "drift", str(tmp_path / "nope"), "--kubeconfig", str(api.kubeconfig))
    assert code == 1
    assert "not a directory" in err


@pytest.mark.parametrize(
    ("git", "cluster", "same"),
    [
        ("nginx:1.25", "docker.io/library/nginx:1.25", True),
        ("nginx", "nginx:latest", True),
        ("nginx:1.25", "nginx:1.26", False),
        ("ghcr.io/a/b:1.0", "docker.io/a/b:1.0", False),
        ("a/b:1.0", "a/b:1.0@sha256:" + "1" * 64, True),  # an admission controller pinned it
        ("a/b:1.0@sha256:" + "1" * 64, "a/b:1.0@sha256:" + "2" * 64, False),
        ("a/b:1.0@sha256:" + "1" * 64, "a/b:other@sha256:" + "1" * 64, True),
        ("Not A Ref", "Not A Ref", True),
        ("a/b:1.0", None, False),
    ],
)
def test_image_comparison(git: str, cluster: str | None, same: bool):
    assert same_image(git, cluster) is same


def test_the_gauge_counts_drift_per_automation(api: FakeApi, cluster: Cluster, repo: Path):
    populate(api)
    report = compare(cluster, repo)
    gauge = DriftGauge()
    gauge.record("prod", report)
    gauge.record("staging", DriftReport())
    assert gauge.by_automation() == {"prod": 3, "staging": 0}
    assert gauge.total() == 3
    assert isinstance(DRIFT, DriftGauge)
