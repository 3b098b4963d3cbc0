"""Holding workloads still, end to end: real Git, the real registry, the real CLI.

The scripted scenario of issue 5: apply -> a human rolls back -> plan proposes nothing ->
a new tag -> plan proposes it; freeze --until before and after expiry; a change window
that blocks and then allows; and the bad inputs that must leave every file untouched.
"""

from __future__ import annotations

import json
import socket
import uuid
from pathlib import Path

import pytest

from imageupdater.devtools import LocalRegistry
from imageupdater.devtools.seed import seed_storage
from tests.e2e.conftest import run_cli
from tests.gitenv import clone_pair, git, make_hermetic

MONDAY_10 = "2026-11-23T10:00:00Z"  # a Monday


def app_yaml(image: str) -> str:
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: shop
  annotations:
    imageupdater.io/policy: "semver:^1"
spec:
  template:
    spec:
      containers:
        - name: app
          image: {image}:1.0.0
        - name: proxy
          image: {image}:1.0.0
"""


def db_yaml(image: str) -> str:
    return f"""\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  namespace: shop
spec:
  template:
    spec:
      containers:
        - name: db
          image: {image}:1.0.0
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app, namespace: other, annotations: {{imageupdater.io/policy: minor}}}}
spec:
  template:
    spec:
      containers: [{{name: app, image: '{image}:1.0.0'}}]
"""


class Repo:
    def __init__(self, registry: LocalRegistry, tmp_path: Path) -> None:
        self.registry = registry
        self.repo = f"holds/{uuid.uuid4().hex[:10]}"
        self.image = f"{registry.host}/{self.repo}"
        seed_storage(registry.root, self.repo, ["1.0.0", "1.1.0", "1.2.0"])
        self.remote, self.work = clone_pair(
            tmp_path, {"apps/app.yaml": app_yaml(self.image), "apps/db.yaml": db_yaml(self.image)}
        )

    def cli(self, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = run_cli(list(args), capsys)
        return code, capsys.readouterr().out

    def plan(self, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
        code, out = self.cli(capsys, "plan", str(self.work), "--format", "json", *extra)
        assert code == 0, out
        result: dict[str, object] = json.loads(out)
        return result

    def snapshot(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in (self.work / "apps").iterdir()}


@pytest.fixture
def repo(registry: LocalRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    make_hermetic(tmp_path, monkeypatch)
    return Repo(registry, tmp_path)


def _moves(plan: dict[str, object]) -> list[tuple[str, str, str]]:
    updates = plan["updates"]
    assert isinstance(updates, list)
    return [(u["workload"], u["container"], u["to"]) for u in updates]


def _skips(plan: dict[str, object], reason: str) -> list[tuple[str, str]]:
    skipped = plan["skipped"]
    assert isinstance(skipped, list)
    return [(s["workload"], s["container"]) for s in skipped if s["reason"] == reason]


def test_rollback_is_respected_until_a_newer_tag(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = repo.cli(capsys, "apply", str(repo.work), "--now", MONDAY_10)
    assert code == 0
    assert "Image-Update: Deployment/shop/app app 1.0.0 -> 1.2.0" in git(
        repo.work, "log", "-1", "--format=%B"
    )
    # a human rolls the app container (only) back to 1.1.0
    path = repo.work / "apps/app.yaml"
    text = path.read_text()
    first = text.index(":1.2.0")
    path.write_text(text[:first] + ":1.1.0" + text[first + len(":1.2.0") :])
    git(repo.work, "commit", "-qam", "Roll app back: 1.2.0 leaks memory")

    plan = repo.plan(capsys)
    assert _moves(plan) == []
    assert ("Deployment/shop/app", "app") in _skips(plan, "declined")
    assert ("Deployment/shop/app", "proxy") in _skips(plan, "up-to-date")
    declined = next(s for s in plan["skipped"] if s["reason"] == "declined")  # type: ignore[attr-defined]
    assert "1.2.0 and older declined" in declined["detail"]

    code, out = repo.cli(capsys, "status", str(repo.work), "--format", "json")
    rows = {(r["workload"], r["container"]): r for r in json.loads(out)["rows"]}
    assert rows[("Deployment/shop/app", "app")]["state"] == "declined"
    assert rows[("Deployment/shop/app", "app")]["current"] == "1.1.0"
    assert rows[("Deployment/shop/app", "proxy")]["state"] == "up-to-date"

    seed_storage(repo.registry.root, repo.repo, ["1.3.0"])
    plan = repo.plan(capsys)
    assert ("Deployment/shop/app", "app", "1.3.0") in _moves(plan)


def test_clear_declined_proposes_the_rolled_back_version_again(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert repo.cli(capsys, "apply", str(repo.work))[0] == 0
    code, out = repo.cli(
        capsys, "pin", "shop/app", "--container", "app", "--tag", "1.0.0", "-C", str(repo.work)
    )
    assert code == 0, out
    body = git(repo.work, "log", "-1", "--format=%B")
    assert "Image-Update:" not in body
    assert "Image-Hold: pin Deployment/shop/app app 1.0.0" in body
    text = (repo.work / "apps/app.yaml").read_text()
    assert "imageupdater.io/pin.app: 1.0.0" in text
    assert f"{repo.image}:1.0.0" in text
    plan = repo.plan(capsys)
    assert ("Deployment/shop/app", "app") in _skips(plan, "pinned")

    assert repo.cli(capsys, "unpin", "Deployment/shop/app", "-C", str(repo.work))[0] == 0
    plan = repo.plan(capsys)
    assert ("Deployment/shop/app", "app") in _skips(plan, "declined")

    code, _ = repo.cli(
        capsys, "unpin", "shop/app", "--container", "app", "--clear-declined", "-C",
        str(repo.work),
    )  # fmt: skip
    assert code == 0
    assert "imageupdater.io/declined-cleared.app:" in (repo.work / "apps/app.yaml").read_text()
    plan = repo.plan(capsys)
    assert ("Deployment/shop/app", "app", "1.2.0") in _moves(plan)


def test_freeze_until_holds_then_thaws(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = repo.cli(
        capsys, "freeze", "Deployment/shop/app", "--until", "2026-12-01", "--reason",
        "release week", "--now", MONDAY_10, "-C", str(repo.work),
    )  # fmt: skip
    assert code == 0, out
    diff = git(repo.work, "show", "--format=", "HEAD")
    added = [line for line in diff.splitlines() if line.startswith("+") and "+++" not in line]
    assert added == [
        '+    imageupdater.io/frozen-until: "2026-12-01"',  # quoted: YAML 1.1 reads a date
        "+    imageupdater.io/frozen-reason: release week",
    ]
    before = repo.plan(capsys, "--now", "2026-11-30T23:59:00Z")
    assert _moves(before) == [("Deployment/other/app", "app", "1.2.0")]
    frozen = [s for s in before["skipped"] if s["reason"] == "frozen"]  # type: ignore[attr-defined]
    assert {s["detail"] for s in frozen} == {"until 2026-12-01: release week"}
    after = repo.plan(capsys, "--now", "2026-12-01T00:00:00Z")
    assert ("Deployment/shop/app", "app", "1.2.0") in _moves(after)

    assert repo.cli(capsys, "unfreeze", "Deployment/shop/app", "-C", str(repo.work))[0] == 0
    assert (repo.work / "apps/app.yaml").read_text() == app_yaml(repo.image)


def test_change_window_blocks_then_allows(
    repo: Repo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "automation.yaml"
    config.write_text(
        "apiVersion: imageupdater.io/v1\nkind: Automation\nmetadata: {name: prod}\n"
        "spec:\n  schedule:\n    windows: ['Mon-Fri 09:00-16:00']\n"
        "    timezone: Europe/Berlin\n"
    )
    head = git(repo.work, "rev-parse", "HEAD")
    saturday = "2026-11-28T10:00:00Z"
    plan = repo.plan(capsys, "--config", str(config), "--now", saturday)
    assert _moves(plan) == []
    assert "outside the change window" in plan["notes"][0]  # type: ignore[index]
    assert len(_skips(plan, "frozen")) == 3
    code, _ = repo.cli(capsys, "apply", str(repo.work), "--config", str(config), "--now", saturday)
    assert code == 0
    assert git(repo.work, "rev-parse", "HEAD") == head
    assert git(repo.work, "status", "--porcelain") == ""

    # 15:30 UTC on a Monday is 16:30 in Berlin: still closed; 14:30 UTC is open
    assert _moves(repo.plan(capsys, "--config", str(config), "--now", "2026-11-23T15:30:00Z")) == []
    code, _ = repo.cli(
        capsys, "apply", str(repo.work), "--config", str(config), "--now", "2026-11-23T14:30:00Z"
    )
    assert code == 0
    assert git(repo.work, "rev-parse", "HEAD") != head


def test_suspend_commits_nothing(
    repo: Repo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "automation.yaml"
    config.write_text(
        "apiVersion: imageupdater.io/v1\nkind: Automation\nmetadata: {name: prod}\n"
        "spec: {suspend: true}\n"
    )
    head = git(repo.work, "rev-parse", "HEAD")
    code, out = repo.cli(capsys, "apply", str(repo.work), "--config", str(config))
    assert code == 0
    assert "suspended" in out
    assert git(repo.work, "rev-parse", "HEAD") == head


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["pin", "nothere"], 1, "no workload named 'nothere'"),
        (["pin", "app"], 1, "is ambiguous"),
        (["freeze", "shop/app", "--until", "next tuesday"], 64, "--until"),
        (["freeze", "shop/app", "--until", "2020-01-01"], 64, "not in the future"),
        (["pin", "shop/app", "--container", "sidecar"], 1, "has no container 'sidecar'"),
        (["pin", "shop/app"], 64, "name one with --container"),
        (["pin", "shop/db", "--tag", "bad tag!"], 64, "not a valid image tag"),
        (["unfreeze", "Deployment/shop/app/extra"], 64, "not a workload name"),
    ],
)
def test_bad_input_is_a_clear_error_and_touches_nothing(
    repo: Repo,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    message: str,
) -> None:
    before = repo.snapshot()
    head = git(repo.work, "rev-parse", "HEAD")
    capsys.readouterr()
    got = run_cli([*args, "-C", str(repo.work)], capsys)
    captured = capsys.readouterr()
    assert got == code
    assert message in captured.out + captured.err
    assert repo.snapshot() == before
    assert git(repo.work, "rev-parse", "HEAD") == head


def test_ambiguous_name_lists_the_matches(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = repo.cli(capsys, "pin", "app", "-C", str(repo.work), "--format", "json")
    assert code == 1
    message = json.loads(out)["errors"][0]["message"]
    assert "Deployment/shop/app (apps/app.yaml)" in message
    assert "Deployment/other/app (apps/db.yaml)" in message


def test_pin_no_commit_stages_and_push_pushes(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = repo.cli(capsys, "pin", "StatefulSet/shop/db", "--no-commit", "-C", str(repo.work))
    assert code == 0
    assert git(repo.work, "status", "--porcelain") == "M  apps/db.yaml"
    git(repo.work, "reset", "-q", "--hard")
    code, out = repo.cli(
        capsys, "pin", "db", "--reason", "incident 42", "--push", "-C", str(repo.work),
        "--format", "json",
    )  # fmt: skip
    result = json.loads(out)
    assert code == 0
    assert result["pushed"] is True
    assert result["set"] == {
        "imageupdater.io/pin": "1.0.0",
        "imageupdater.io/pin-reason": "incident 42",
    }
    assert git(repo.remote, "rev-parse", "main") == result["commit"]
    # the db document had no annotations at all: they are created in its own indentation
    assert (
        "  annotations:\n    imageupdater.io/pin: 1.0.0\n"
        in (repo.work / "apps/db.yaml").read_text()
    )
    plan = repo.plan(capsys)
    detail = [s["detail"] for s in plan["skipped"] if s["reason"] == "pinned"]  # type: ignore[attr-defined]
    assert detail == ["pinned to 1.0.0: incident 42"]


def test_status_text_shows_every_state(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    assert repo.cli(capsys, "pin", "db", "-C", str(repo.work))[0] == 0
    code, _ = repo.cli(
        capsys, "freeze", "Deployment/other/app", "--until", "2026-12-01T00:00:00Z",
        "--now", MONDAY_10, "-C", str(repo.work),
    )  # fmt: skip
    assert code == 0
    code, out = repo.cli(capsys, "status", str(repo.work), "--now", MONDAY_10)
    assert code == 0
    for word in ("pending", "pinned", "frozen", "until 2026-12-01T00:00:00Z", "1.2.0"):
        assert word in out
    code, out = repo.cli(capsys, "status", str(repo.work), "--now", MONDAY_10, "--format", "json")
    rows = {(r["workload"], r["container"]): r for r in json.loads(out)["rows"]}
    assert rows[("StatefulSet/shop/db", "db")] == {
        "workload": "StatefulSet/shop/db", "container": "db", "image": repo.image,
        "current": "1.0.0", "policy": "pin", "newest": "1.0.0", "state": "pinned",
        "detail": "pinned to 1.0.0",
    }  # fmt: skip
    assert rows[("Deployment/shop/app", "app")]["state"] == "pending"
    assert rows[("Deployment/shop/app", "app")]["newest"] == "1.2.0"
    assert rows[("Deployment/other/app", "app")]["state"] == "frozen"
    assert rows[("Deployment/other/app", "app")]["current"] == "1.0.0"


def test_pin_push_after_someone_else_pushed_rebases_and_pushes(
    repo: Repo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", f"file://{repo.remote}", str(other))
    (other / "README.md").write_text("someone else's change\n")
    git(other, "add", "README.md")
    git(other, "commit", "-qm", "docs")
    git(other, "push", "-q", "origin", "HEAD:main")

    code, out = repo.cli(
        capsys, "freeze", "db", "--reason", "migration", "--push", "-C", str(repo.work),
        "--format", "json",
    )  # fmt: skip
    result = json.loads(out)
    assert code == 0
    assert result["pushed"] is True
    assert git(repo.remote, "rev-parse", "main") == result["commit"]
    assert git(repo.remote, "log", "--format=%s", "main").splitlines()[:2] == [
        "Freeze StatefulSet/shop/db",
        "docs",
    ]


# ------------------------------------------------------------------ digest-pinned rollback


def pinned_yaml(image: str, digest: str) -> str:
    return f"""\
# web: digest-pinned by the release process
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  annotations:
    imageupdater.io/policy: "semver:^1"   # keep
spec:
  template:
    spec:
      containers:
        - name: web
          image: "{image}:1.2.0@{digest}"   # quoted on purpose
        - name: proxy
          image: {image}:1.2.0
"""


def commit_pinned(repo: Repo, image: str, digest: str) -> str:
    """`apps/web.yaml` as `pinned_yaml` writes it, committed; returns the text."""
    text = pinned_yaml(image, digest)
    (repo.work / "apps/web.yaml").write_text(text)
    git(repo.work, "add", "apps/web.yaml")
    git(repo.work, "commit", "-qm", "web")
    return text


@pytest.fixture
def digests(registry: LocalRegistry) -> dict[str, str]:
    """A repository whose tags each have their own build time, so their own digest."""
    repo = f"holds/{uuid.uuid4().hex[:10]}"
    found = seed_storage(
        registry.root,
        repo,
        ["1.0.0", "1.1.0", "1.2.0"],
        created=lambda t: f"2024-0{t[2]}-02T00:00:00Z",
    )
    assert len(set(found.values())) == 3
    return {"image": f"{registry.host}/{repo}", **found}


def test_pin_tag_rolls_a_digest_pinned_image_back_to_the_tags_digest(
    repo: Repo, digests: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    image = digests["image"]
    original = commit_pinned(repo, image, digests["1.2.0"])
    path = repo.work / "apps/web.yaml"

    code, out = repo.cli(
        capsys, "pin", "shop/web", "--container", "web", "--tag", "1.0.0", "--reason", "INC-7",
        "-C", str(repo.work), "--format", "json",
    )  # fmt: skip
    assert code == 0, out
    result = json.loads(out)
    assert result["image"] == {
        "container": "web", "from": "1.2.0", "to": "1.0.0", "digest": digests["1.0.0"],
    }  # fmt: skip
    expected = original.replace(
        '    imageupdater.io/policy: "semver:^1"   # keep\n',
        '    imageupdater.io/policy: "semver:^1"   # keep\n'
        "    imageupdater.io/pin.web: 1.0.0\n"
        "    imageupdater.io/pin-reason.web: INC-7\n",
    ).replace(f"{image}:1.2.0@{digests['1.2.0']}", f"{image}:1.0.0@{digests['1.0.0']}")
    assert path.read_bytes() == expected.encode()  # the proxy's 1.2.0 and every byte else kept
    assert git(repo.work, "status", "--porcelain") == ""
    assert git(repo.work, "rev-parse", "HEAD") == result["commit"]
    message = git(repo.work, "log", "-1", "--format=%B")
    assert message.splitlines()[0] == "Roll back Deployment/shop/web web to 1.0.0 and pin it"
    assert f"{image}: 1.2.0@{digests['1.2.0']} -> 1.0.0@{digests['1.0.0']}" in message
    assert "Image-Hold: pin Deployment/shop/web web 1.0.0" in message
    assert "Image-Update:" not in message

    plan = repo.plan(capsys)
    assert ("Deployment/shop/web", "web") in _skips(plan, "pinned")


def test_pin_tag_text_output_names_the_new_digest(
    repo: Repo, digests: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    image = digests["image"]
    commit_pinned(repo, image, digests["1.2.0"])
    code, out = repo.cli(
        capsys, "pin", "web", "--container", "web", "--tag", "1.1.0", "-C", str(repo.work)
    )
    assert code == 0, out
    assert f"image 1.2.0 -> 1.1.0@{digests['1.1.0']}" in out


def test_pin_tag_missing_from_the_registry_is_an_error_for_a_digest_pinned_image(
    repo: Repo, digests: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    image = digests["image"]
    commit_pinned(repo, image, digests["1.2.0"])
    before, head = repo.snapshot(), git(repo.work, "rev-parse", "HEAD")

    code, out = repo.cli(
        capsys, "pin", "shop/web", "--container", "web", "--tag", "0.9.0", "-C", str(repo.work),
        "--format", "json",
    )  # fmt: skip
    assert code == 1
    [error] = json.loads(out)["errors"]
    assert error["kind"] == "registry"
    assert error["message"].startswith(
        f"Deployment/shop/web web: tag 0.9.0 does not exist in {image}"
    )
    capsys.readouterr()
    assert (
        run_cli(
            ["pin", "web", "--container", "web", "--tag", "0.9.0", "-C", str(repo.work)], capsys
        )
        == 1
    )
    assert (
        "error (registry): Deployment/shop/web web: tag 0.9.0 does not exist"
        in capsys.readouterr().err
    )
    assert repo.snapshot() == before
    assert git(repo.work, "rev-parse", "HEAD") == head
    assert git(repo.work, "status", "--porcelain") == ""


def test_pin_tag_on_a_digest_pinned_image_with_the_registry_down_changes_nothing(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    down = f"127.0.0.1:{_closed_port()}/shop/web"
    commit_pinned(repo, down, "sha256:" + "a" * 64)
    before, head = repo.snapshot(), git(repo.work, "rev-parse", "HEAD")
    code, out = repo.cli(
        capsys, "pin", "shop/web", "--container", "web", "--tag", "1.0.0", "-C", str(repo.work),
        "--format", "json",
    )  # fmt: skip
    assert code == 1
    [error] = json.loads(out)["errors"]
    assert error["kind"] == "registry"
    assert "Deployment/shop/web web: cannot look up the digest of 1.0.0" in error["message"]
    assert repo.snapshot() == before
    assert git(repo.work, "rev-parse", "HEAD") == head


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_pin_tag_without_a_digest_never_asks_a_registry(
    repo: Repo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[object] = []
    monkeypatch.setattr("imageupdater.app.registry_client", lambda options: opened.append(options))
    unreachable = "registry.invalid:5000/shop/web"
    commit_pinned(repo, unreachable, "sha256:" + "b" * 64)

    # the plain proxy image moves without any registry, even an unreachable insecure one
    code, out = repo.cli(
        capsys, "pin", "shop/web", "--container", "proxy", "--tag", "1.0.0",
        "--insecure-registry", "registry.invalid:5000", "-C", str(repo.work),
    )  # fmt: skip
    assert code == 0, out
    after = (repo.work / "apps/web.yaml").read_text()
    assert f"image: {unreachable}:1.0.0\n" in after
    # pinning a digest-pinned container at its current tag needs no lookup either
    code, out = repo.cli(capsys, "pin", "shop/web", "--container", "web", "-C", str(repo.work))
    assert code == 0, out
    assert "imageupdater.io/pin.web: 1.2.0" in (repo.work / "apps/web.yaml").read_text()
    assert f'"{unreachable}:1.2.0@sha256:{"b" * 64}"' in (repo.work / "apps/web.yaml").read_text()
    assert opened == []
