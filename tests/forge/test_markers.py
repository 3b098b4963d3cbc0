"""PR mode delivers Flux-style line markers (SPEC §2.2) like container updates (SPEC §6).

A Helm values file and a kustomization (no Kubernetes object around their markers) get one
PR per file; a marker inside a Deployment shares the Deployment's PR. Every branch holds
the base's file with only the marked values changed, byte for byte.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from imageupdater import app, commands
from imageupdater.commands import mark_open_pull_requests, status_rows
from imageupdater.devtools import LocalRegistry
from imageupdater.devtools.seed import seed_storage
from imageupdater.engine import make_plan
from imageupdater.prmode import read_marker
from tests.e2e.conftest import run_cli
from tests.forge.conftest import KINDS, NOW, Env, deployment, make_env
from tests.forge.fakes import PR, REPO, TOKEN
from tests.gitenv import git

POLICIES = """\
apiVersion: imageupdater.io/v1
kind: ImagePolicy
metadata: {name: api, namespace: shop}
spec: {image: reg.test/acme/api, policy: {semver: {range: '^1'}}}
---
apiVersion: imageupdater.io/v1
kind: ImagePolicy
metadata: {name: web, namespace: shop}
spec: {image: reg.test/acme/web, policy: {semver: {range: '^1'}}}
"""

VALUES = """\
# Helm values of the api chart.  Keep the comments.
replicaCount: 2

image:
  repository: reg.test/acme/api   # {"$imagepolicy": "shop:api:name"}
  tag: "1.0.0"   # {"$imagepolicy": "shop:api:tag"}
  pullPolicy: IfNotPresent   \n\
resources: {limits: {cpu: 500m}}
"""

KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../apps
images:
  - name: web
    newName: reg.test/acme/old-web # {"$imagepolicy": "shop:web:name"}
    newTag: '1.0.0' # {"$imagepolicy": "shop:web:tag"}
"""

WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  annotations:
    imageupdater.io/policy.web: "semver:^1"
spec:
  template:
    spec:
      containers:
        - name: web
          image: reg.test/acme/web:1.0.0
        - name: api-sidecar
          image: reg.test/acme/api:1.0.0 # {"$imagepolicy": "shop:api"}
"""

FILES = {
    "policies.yaml": POLICIES,
    "charts/api/values.yaml": VALUES,
    "overlays/prod/kustomization.yaml": KUSTOMIZATION,
    "apps/web.yaml": WEB,
}

VALUES_BRANCH = "imageupdater/charts-api-values.yaml"
KUSTOMIZE_BRANCH = "imageupdater/overlays-prod-kustomization.yaml"
WEB_BRANCH = "imageupdater/deployment-shop-web"


@pytest.fixture(params=KINDS)
def menv(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Env]:
    yield from make_env(tmp_path, monkeypatch, request.param, FILES)


def show(remote: Path, branch: str, relpath: str) -> bytes:
    """The exact bytes of a file on a branch of the remote."""
    return subprocess.run(
        ["git", f"--git-dir={remote}", "show", f"{branch}:{relpath}"],
        capture_output=True,
        check=True,
    ).stdout


def key_data(pr: PR) -> dict[str, Any]:
    data = read_marker(pr.body)
    assert data is not None
    return data


def changed_files(remote: Path, branch: str) -> list[str]:
    return git(remote, "diff", "--name-only", "main", branch).split()


def pr_on(env: Env, branch: str) -> PR:
    (pr,) = [p for p in env.fake.open_prs() if p.head == branch]
    return pr


def test_markers_open_one_pr_per_file_and_share_their_workloads_pr(menv: Env) -> None:
    env = menv
    report = env.run(labels=("images",))
    assert not report.errors
    assert [(r["action"], r["branch"]) for r in report.pull_requests] == [
        ("opened", VALUES_BRANCH),
        ("opened", WEB_BRANCH),
        ("opened", KUSTOMIZE_BRANCH),
    ]
    assert not [s for s in report.skipped if s.reason == "unsupported-value"]
    assert sorted((u.file, u.line, u.workload, u.container, u.to_tag) for u in report.updates) == [
        ("apps/web.yaml", 13, "Deployment/shop/web", "web", "1.1.0"),
        ("apps/web.yaml", 15, "Deployment/shop/web", None, "1.0.1"),
        ("charts/api/values.yaml", 6, None, None, "1.0.1"),
        ("overlays/prod/kustomization.yaml", 7, None, None, "reg.test/acme/web"),
        ("overlays/prod/kustomization.yaml", 8, None, None, "1.1.0"),
    ]

    # each branch is one commit on main that changes only the marked values, byte for byte
    main = git(env.remote, "rev-parse", "main")
    for branch in (VALUES_BRANCH, KUSTOMIZE_BRANCH, WEB_BRANCH):
        assert git(env.remote, "rev-parse", f"{branch}~1") == main
    assert changed_files(env.remote, VALUES_BRANCH) == ["charts/api/values.yaml"]
    assert (
        show(env.remote, VALUES_BRANCH, "charts/api/values.yaml")
        == VALUES.replace('tag: "1.0.0"', 'tag: "1.0.1"').encode()
    )
    assert changed_files(env.remote, KUSTOMIZE_BRANCH) == ["overlays/prod/kustomization.yaml"]
    assert show(env.remote, KUSTOMIZE_BRANCH, "overlays/prod/kustomization.yaml") == (
        KUSTOMIZATION.replace("acme/old-web", "acme/web").replace("'1.0.0'", "'1.1.0'").encode()
    )
    # the marker in the Deployment rides in the Deployment's PR, next to its container
    assert changed_files(env.remote, WEB_BRANCH) == ["apps/web.yaml"]
    assert show(env.remote, WEB_BRANCH, "apps/web.yaml") == (
        WEB.replace("acme/web:1.0.0", "acme/web:1.1.0").replace("api:1.0.0", "api:1.0.1").encode()
    )
    message = git(env.remote, "log", "-1", "--format=%B", WEB_BRANCH)
    assert "Image-Update: Deployment/shop/web web 1.0.0 -> 1.1.0" in message
    assert "Image-Update: Deployment/shop/web - 1.0.0 -> 1.0.1" in message

    # titles, bodies (the update table) and the machine-readable key of each PR
    values_pr = pr_on(env, VALUES_BRANCH)
    assert values_pr.title == "Update charts/api/values.yaml reg.test/acme/api to 1.0.1"
    assert "| charts/api/values.yaml | - | reg.test/acme/api | 1.0.0 | **1.0.1** |" in (
        values_pr.body
    )
    assert key_data(values_pr) == {
        "key": "charts/api/values.yaml",
        "files": ["charts/api/values.yaml"],
        "updates": [["charts/api/values.yaml", "-", "1.0.1"]],
    }
    assert values_pr.labels == ["images"]
    web_pr = pr_on(env, WEB_BRANCH)
    assert web_pr.title == "Update Deployment/shop/web: web 1.1.0, reg.test/acme/api 1.0.1"
    data = key_data(web_pr)
    assert data["key"] == "Deployment/shop/web"
    assert data["updates"] == [["Deployment/shop/web", "-", "1.0.1"],
                               ["Deployment/shop/web", "web", "1.1.0"]]  # fmt: skip
    assert key_data(pr_on(env, KUSTOMIZE_BRANCH))["key"] == "overlays/prod/kustomization.yaml"
    assert git(env.work, "status", "--porcelain") == ""  # the checkout is untouched

    # a re-run finds every PR as it should be: no push, no API write
    posts, heads = env.fake.count("POST", r"(pulls|merge_requests)$"), env.fake.branches()
    again = env.run(labels=("images",))
    assert [r["action"] for r in again.pull_requests] == ["unchanged"] * 3
    assert env.fake.count("POST", r"(pulls|merge_requests)$") == posts
    assert env.fake.count("PATCH", "") + env.fake.count("PUT", "") == 0
    assert env.fake.branches() == heads


def test_a_newer_tag_updates_marker_prs_in_place(menv: Env) -> None:
    env = menv
    first = {r["branch"]: r["number"] for r in env.run().pull_requests}
    env.registry.tags["acme/api"].append("1.0.2")
    report = env.run()
    assert not report.errors
    assert {r["branch"]: (r["action"], r["number"]) for r in report.pull_requests} == {
        VALUES_BRANCH: ("updated", first[VALUES_BRANCH]),
        WEB_BRANCH: ("updated", first[WEB_BRANCH]),
        KUSTOMIZE_BRANCH: ("unchanged", first[KUSTOMIZE_BRANCH]),
    }
    assert len(env.fake.open_prs()) == 3
    assert (
        show(env.remote, VALUES_BRANCH, "charts/api/values.yaml")
        == VALUES.replace('tag: "1.0.0"', 'tag: "1.0.2"').encode()
    )
    assert git(env.remote, "rev-parse", f"{VALUES_BRANCH}~1") == git(
        env.remote, "rev-parse", "main"
    )
    assert pr_on(env, VALUES_BRANCH).title.endswith("to 1.0.2")
    assert "api-sidecar" not in pr_on(env, WEB_BRANCH).title
    assert "reg.test/acme/api 1.0.2" in pr_on(env, WEB_BRANCH).title


def test_a_marker_pr_no_longer_needed_is_closed_and_its_branch_deleted(menv: Env) -> None:
    env = menv
    opened = {r["branch"]: r["number"] for r in env.run().pull_requests}
    # the values change landed on main by other means; the kustomization lost its markers
    env.push_main("charts/api/values.yaml", VALUES.replace('"1.0.0"', '"1.0.1"'))
    unmarked = KUSTOMIZATION.replace(' # {"$imagepolicy": "shop:web:name"}', "")
    env.push_main(
        "overlays/prod/kustomization.yaml",
        unmarked.replace(' # {"$imagepolicy": "shop:web:tag"}', ""),
    )
    report = env.run()
    assert not report.errors
    assert sorted((r["action"], r["branch"]) for r in report.pull_requests) == [
        ("closed", VALUES_BRANCH),
        ("closed", KUSTOMIZE_BRANCH),
        ("unchanged", WEB_BRANCH),
    ]
    values_pr = env.fake.prs[opened[VALUES_BRANCH]]
    assert values_pr.state == "closed"
    assert "the marker at charts/api/values.yaml:6 is already up to date" in values_pr.comments[-1]
    kustomize_pr = env.fake.prs[opened[KUSTOMIZE_BRANCH]]
    assert "no longer annotated or marked" in kustomize_pr.comments[-1]
    assert VALUES_BRANCH not in env.fake.branches()
    assert KUSTOMIZE_BRANCH not in env.fake.branches()
    assert [p.head for p in env.fake.open_prs()] == [WEB_BRANCH]
    # closed by imageupdater is not a human's "no", and nothing reopens
    assert [r["action"] for r in env.run().pull_requests] == ["unchanged"]


def test_a_registry_outage_keeps_a_marker_pr_open(menv: Env) -> None:
    env = menv
    env.run()
    env.registry.failing["acme/api"] = 503
    report = env.run()
    assert [e.kind for e in report.errors] == ["registry"]
    assert not [r for r in report.pull_requests if r["action"] == "closed"]
    assert {p.head for p in env.fake.open_prs()} == {VALUES_BRANCH, WEB_BRANCH, KUSTOMIZE_BRANCH}
    assert VALUES_BRANCH in env.fake.branches()


def test_a_human_closed_marker_pr_is_declined_until_a_newer_version(menv: Env) -> None:
    env = menv
    env.run()
    values_pr = pr_on(env, VALUES_BRANCH)
    env.fake.close_unmerged(values_pr.number)
    report = env.run()
    assert VALUES_BRANCH not in [r["branch"] for r in report.pull_requests]
    declined = [s for s in report.skipped if s.reason == "declined"]
    assert [(s.file, s.line, s.workload) for s in declined] == [("charts/api/values.yaml", 6, None)]
    assert f"#{values_pr.number}" in declined[0].detail
    assert "charts/api/values.yaml" not in [u.file for u in report.updates]
    env.registry.tags["acme/api"].append("1.0.2")
    report = env.run()
    reopened = [r for r in report.pull_requests if r["branch"] == VALUES_BRANCH]
    assert [r["action"] for r in reopened] == ["opened"]
    assert env.fake.prs[reopened[0]["number"]].title.endswith("to 1.0.2")


@pytest.mark.parametrize("kind", ["github"])
def test_grouping_by_image_and_all_takes_markers_along(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for env in make_env(tmp_path, monkeypatch, kind, FILES):
        env.run()
        report = env.run(grouping="image")
        assert not report.errors
        actions = sorted((r["action"], r["branch"]) for r in report.pull_requests)
        assert actions == [
            ("closed", VALUES_BRANCH),
            ("closed", WEB_BRANCH),
            ("closed", KUSTOMIZE_BRANCH),
            ("opened", "imageupdater/reg.test-acme-api"),
            ("opened", "imageupdater/reg.test-acme-web"),
        ]
        closed = [
            env.fake.prs[r["number"]] for r in report.pull_requests if r["action"] == "closed"
        ]
        assert all("superseded by another pull request" in pr.comments[-1] for pr in closed)
        api = "imageupdater/reg.test-acme-api"
        assert changed_files(env.remote, api) == ["apps/web.yaml", "charts/api/values.yaml"]
        assert (
            show(env.remote, api, "apps/web.yaml") == WEB.replace("api:1.0.0", "api:1.0.1").encode()
        )
        web = "imageupdater/reg.test-acme-web"
        assert changed_files(env.remote, web) == [
            "apps/web.yaml",
            "overlays/prod/kustomization.yaml",
        ]
        assert key_data(pr_on(env, web))["key"] == "reg.test/acme/web"

        report = env.run(grouping="all")
        opened = [r for r in report.pull_requests if r["action"] == "opened"]
        assert [r["branch"] for r in opened] == ["imageupdater/all"]
        assert changed_files(env.remote, "imageupdater/all") == [
            "apps/web.yaml", "charts/api/values.yaml", "overlays/prod/kustomization.yaml"
        ]  # fmt: skip
        assert len(key_data(pr_on(env, "imageupdater/all"))["updates"]) == 5
        assert [p.head for p in env.fake.open_prs()] == ["imageupdater/all"]


def test_status_shows_marker_updates_waiting_in_open_prs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for env in make_env(tmp_path, monkeypatch, "gitea", FILES):
        opened = {r["branch"]: r["number"] for r in env.run().pull_requests}
        forge, http = env.forge()
        with http, env.registry.client() as client:
            rows = status_rows(make_plan(env.work, client, NOW).report)
            marked = mark_open_pull_requests(rows, forge.list_open(base="main", prefix=""))
        states = {(r.file, r.newest): (r.state, r.detail) for r in marked}
        state, detail = states[("charts/api/values.yaml", "1.0.1")]
        assert state == "pr-open"
        assert detail.startswith(f"PR #{opened[VALUES_BRANCH]} open: 1.0.0 -> 1.0.1")
        name_row = states[("overlays/prod/kustomization.yaml", "reg.test/acme/web")]
        assert name_row[0] == "pr-open"
        assert "-> reg.test/acme/web" in name_row[1]  # not the newTag's proposal
        assert states[("apps/web.yaml", "1.0.1")][0] == "pr-open"


def _cli_env(env: Env, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    client = env.registry.client
    monkeypatch.setattr(app, "registry_client", lambda options, make=client: make())
    monkeypatch.setenv("IMAGEUPDATER_FORGE_TOKEN", TOKEN)
    return [
        "apply", str(env.work), "--mode", "pr", "--forge", env.kind, "--forge-url",
        env.fake.url, "--forge-repo", REPO, "--format", "json",
    ]  # fmt: skip


def test_apply_mode_pr_delivers_line_markers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    values = 'tag: "1.0.0" # {"$imagepolicy": "shop:api:tag"}\n'
    files = {"apps/web.yaml": deployment("web", "1.0.0"), "policies.yaml": POLICIES,
             "values.yaml": values}  # fmt: skip
    for env in make_env(tmp_path, monkeypatch, "gitlab", files):
        argv = _cli_env(env, monkeypatch)
        code = run_cli(argv, capsys)
        document = json.loads(capsys.readouterr().out)
        assert code == 0, document
        assert sorted((r["action"], r["branch"]) for r in document["pull_requests"]) == [
            ("opened", "imageupdater/deployment-shop-web"),
            ("opened", "imageupdater/values.yaml"),
        ]
        assert [(u["file"], u["to"]) for u in document["updates"]] == [
            ("apps/web.yaml", "1.1.0"),
            ("values.yaml", "1.0.1"),
        ]
        assert not [s for s in document["skipped"] if s["file"] == "values.yaml"]
        assert show(env.remote, "imageupdater/values.yaml", "values.yaml") == (
            b'tag: "1.0.1" # {"$imagepolicy": "shop:api:tag"}\n'
        )
        assert "1.0.0" in git(env.remote, "show", "main:values.yaml")  # base untouched


def test_a_marker_in_a_workload_follows_its_update_annotation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    committed = WEB.replace(
        '    imageupdater.io/policy.web: "semver:^1"\n',
        '    imageupdater.io/policy.web: "semver:^1"\n    imageupdater.io/update: commit\n',
    )
    files = {**FILES, "apps/web.yaml": committed}
    for env in make_env(tmp_path, monkeypatch, "github", files):
        _cli_env(env, monkeypatch)
        pr = commands.PullRequestRequest(forge="github", repo=REPO, url=env.fake.url)
        report = commands.apply(env.work, app.Options(), commands.ApplyRequest(mode="pr", pr=pr))
        assert not report.errors
        # the Deployment asks for commits: its container and its marker went to main
        on_main = git(env.remote, "show", "main:apps/web.yaml")
        assert "acme/web:1.1.0" in on_main
        assert "acme/api:1.0.1" in on_main
        assert sorted(p.head for p in env.fake.open_prs()) == [VALUES_BRANCH, KUSTOMIZE_BRANCH]
        # the PR branches sit on top of that commit
        assert git(env.remote, "rev-parse", f"{VALUES_BRANCH}~1") == git(
            env.remote, "rev-parse", "main"
        )
        assert len(report.updates) == 5

    # and the other way round: plain `apply` sends an `update: pr` workload's marker to a PR
    asks_pr = committed.replace("update: commit", "update: pr")
    other = tmp_path / "other"
    other.mkdir()
    for env in make_env(other, monkeypatch, "github", {**FILES, "apps/web.yaml": asks_pr}):
        _cli_env(env, monkeypatch)
        pr = commands.PullRequestRequest(forge="github", repo=REPO, url=env.fake.url)
        request = commands.ApplyRequest(mode="commit", pr=pr, push=True)
        report = commands.apply(env.work, app.Options(), request)
        assert not report.errors
        assert [p.head for p in env.fake.open_prs()] == [WEB_BRANCH]
        assert "acme/api:1.0.1" in show(env.remote, WEB_BRANCH, "apps/web.yaml").decode()
        assert "acme/api:1.0.0" in git(env.remote, "show", "main:apps/web.yaml")
        assert 'tag: "1.0.1"' in git(env.remote, "show", "main:charts/api/values.yaml")


def test_markers_against_the_real_registry_from_the_cli(
    registry: LocalRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The whole path: a real registry's tags, the CLI, a fake GitHub, a bare remote."""
    seed_storage(registry.root, "prmarkers/api", ["1.0.0", "1.2.0", "2.0.0"])
    seed_storage(registry.root, "prmarkers/web", ["1.0.0", "1.0.3"])
    host = registry.host
    policies = POLICIES.replace("reg.test/acme/api", f"{host}/prmarkers/api").replace(
        "reg.test/acme/web", f"{host}/prmarkers/web"
    )
    values = VALUES.replace("reg.test/acme/api", f"{host}/prmarkers/api")
    kustomization = KUSTOMIZATION.replace("reg.test/acme/old-web", f"{host}/prmarkers/web")
    files = {
        "policies.yaml": policies,
        "charts/api/values.yaml": values,
        "overlays/prod/kustomization.yaml": kustomization,
    }
    for env in make_env(tmp_path, monkeypatch, "github", files):
        monkeypatch.setenv("IMAGEUPDATER_FORGE_TOKEN", TOKEN)
        argv = [
            "apply", str(env.work), "--mode", "pr", "--forge", "github", "--forge-url",
            env.fake.url, "--forge-repo", REPO, "--format", "json",
            "--state-dir", str(tmp_path / "state"),
        ]  # fmt: skip
        code = run_cli(argv, capsys)
        document = json.loads(capsys.readouterr().out)
        assert code == 0, document
        assert [(r["action"], r["branch"]) for r in document["pull_requests"]] == [
            ("opened", VALUES_BRANCH),
            ("opened", KUSTOMIZE_BRANCH),
        ]
        assert show(env.remote, VALUES_BRANCH, "charts/api/values.yaml") == (
            values.replace('tag: "1.0.0"', 'tag: "1.2.0"').encode()
        )
        assert show(env.remote, KUSTOMIZE_BRANCH, "overlays/prod/kustomization.yaml") == (
            kustomization.replace("'1.0.0'", "'1.0.3'").encode()
        )
        assert run_cli(argv, capsys) == 0
        again = json.loads(capsys.readouterr().out)
        assert [r["action"] for r in again["pull_requests"]] == ["unchanged", "unchanged"]


def test_freezing_the_workload_closes_the_pr_its_marker_shares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    only_marker = WEB.replace('    imageupdater.io/policy.web: "semver:^1"\n', "    team: shop\n")
    for env in make_env(tmp_path, monkeypatch, "gitlab", {**FILES, "apps/web.yaml": only_marker}):
        opened = {r["branch"]: r["number"] for r in env.run().pull_requests}
        assert key_data(env.fake.prs[opened[WEB_BRANCH]])["updates"] == [
            ["Deployment/shop/web", "-", "1.0.1"]
        ]
        frozen = only_marker.replace("    team: shop\n", '    imageupdater.io/frozen: "true"\n')
        env.push_main("apps/web.yaml", frozen)
        report = env.run()
        closed = [r for r in report.pull_requests if r["action"] == "closed"]
        assert [r["branch"] for r in closed] == [WEB_BRANCH]
        comment = env.fake.prs[opened[WEB_BRANCH]].comments[-1]
        assert "the marker at apps/web.yaml:15 in Deployment/shop/web is frozen" in comment
        assert {p.head for p in env.fake.open_prs()} == {VALUES_BRANCH, KUSTOMIZE_BRANCH}
