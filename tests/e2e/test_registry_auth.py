"""A registry behind htpasswd (Basic) auth, through the CLI (SPEC §4 options, §7, §8).

Credentials come from a docker `config.json` (`--registry-config`, or `$DOCKER_CONFIG`);
a wrong password is an `auth` error, and no secret ever shows up in stdout, stderr, logs,
the JSON, commit messages or files.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from imageupdater.devtools import LocalRegistry, Pusher, start_registry
from imageupdater.devtools.localregistry import RegistryNotInstalled, registry_binary
from tests.e2e.conftest import run_cli
from tests.gitenv import clone_pair, git, make_hermetic

USER = "alice"
PASSWORD = "s3cret-pass"
WRONG = "wr0ng-Pa55word"
REPO = "private/app"


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    try:
        registry_binary()
    except RegistryNotInstalled as exc:
        pytest.skip(str(exc))
    with start_registry(tmp_path_factory.mktemp("auth"), htpasswd=(USER, PASSWORD)) as running:
        with httpx.Client(base_url=running.url, auth=(USER, PASSWORD), timeout=30) as client:
            pusher = Pusher(client)
            for tag in ("1.0.0", "1.1.0", "2.0.0"):
                pusher.push_image(REPO, tag, created=f"2024-0{tag[2] or 1}-01T00:00:00Z")
        yield running


def secrets(*passwords: str) -> list[str]:
    """Each password, and its `user:password` base64 form as config.json stores it."""
    out = []
    for password in passwords:
        out += [password, base64.b64encode(f"{USER}:{password}".encode()).decode()]
    return out


def docker_config(path: Path, host: str, password: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"{USER}:{password}".encode()).decode()
    path.write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    return path


@dataclass
class Private:
    host: str
    remote: Path
    work: Path
    tmp: Path


@pytest.fixture
def private(
    auth_registry: LocalRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Private:
    make_hermetic(tmp_path, monkeypatch)
    for var in ("DOCKER_CONFIG", "DOCKER_AUTH_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    host = auth_registry.host
    manifest = f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  annotations:
    imageupdater.io/policy: "semver:^1"
spec:
  template:
    spec:
      containers:
        - name: app
          image: {host}/{REPO}:1.0.0
"""
    remote, work = clone_pair(tmp_path, {"apps/app.yaml": manifest})
    return Private(host, remote, work, tmp_path)


def cli(
    argv: list[str], capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> tuple[int, str, str]:
    """Run with debug logging on, so that logs are searched for secrets too."""
    caplog.set_level(logging.DEBUG)
    code = run_cli([*argv, "-vv"], capsys)
    captured = capsys.readouterr()
    return code, captured.out, captured.err + caplog.text


def assert_nowhere(needles: list[str], *haystacks: str) -> None:
    for needle in needles:
        for haystack in haystacks:
            assert needle not in haystack


def test_plan_with_registry_config_finds_the_update(
    private: Private, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    config = docker_config(private.tmp / "docker" / "config.json", private.host, PASSWORD)
    code, out, logs = cli(
        ["plan", str(private.work), "--registry-config", str(config), "--format", "json"],
        capsys,
        caplog,
    )
    assert code == 0, out
    report = json.loads(out)
    assert report["errors"] == []
    assert [(u["from"], u["to"]) for u in report["updates"]] == [("1.0.0", "1.1.0")]
    assert_nowhere(secrets(PASSWORD), out, logs)


def test_apply_with_credentials_never_writes_the_secret(
    private: Private, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    config = docker_config(private.tmp / "docker" / "config.json", private.host, PASSWORD)
    code, out, logs = cli(
        ["apply", str(private.work), "--registry-config", str(config), "--push"], capsys, caplog
    )
    assert code == 0, out
    assert "Committed" in out
    assert git(private.remote, "rev-parse", "main") == git(private.work, "rev-parse", "HEAD")
    history = git(private.work, "log", "--all", "-p", "--format=%H%n%B")
    assert f"{REPO}:1.1.0" in history
    files = "".join(
        p.read_text(errors="replace") for p in private.work.rglob("*") if p.is_file()
    )  # includes .git: config, logs, refs, index
    assert_nowhere(secrets(PASSWORD), out, logs, history, files)


def test_docker_config_env_is_the_default(
    private: Private,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = docker_config(private.tmp / "dockerdir" / "config.json", private.host, PASSWORD)
    monkeypatch.setenv("DOCKER_CONFIG", str(config.parent))
    code, out, _ = cli(["plan", str(private.work), "--format", "json"], capsys, caplog)
    assert code == 0, out
    assert [u["to"] for u in json.loads(out)["updates"]] == ["1.1.0"]


def test_wrong_password_is_an_auth_error_without_the_password(
    private: Private, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    config = docker_config(private.tmp / "docker" / "config.json", private.host, WRONG)
    argv = ["plan", str(private.work), "--registry-config", str(config)]

    code, out, logs = cli([*argv, "--format", "json"], capsys, caplog)

    assert code == 1
    report: dict[str, Any] = json.loads(out)
    assert report["errors"][0]["kind"] == "auth"
    assert report["errors"][0]["image"] == f"{private.host}/{REPO}"
    assert report["updates"] == []
    assert [(s["container"], s["reason"]) for s in report["skipped"]] == [("app", "registry-error")]
    assert_nowhere(secrets(WRONG, PASSWORD), out, logs)

    code, out, logs = cli(argv, capsys, caplog)  # text output too
    assert code == 1
    assert "auth" in out
    assert_nowhere(secrets(WRONG, PASSWORD), out, logs)


def test_wrong_password_apply_commits_nothing(
    private: Private, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    head = git(private.work, "rev-parse", "HEAD")
    config = docker_config(private.tmp / "docker" / "config.json", private.host, WRONG)
    code, out, logs = cli(
        [
            "apply",
            str(private.work),
            "--registry-config",
            str(config),
            "--push",
            "--format",
            "json",
        ],
        capsys,
        caplog,
    )
    assert code == 1
    report = json.loads(out)
    assert (report["commit"], report["pushed"]) == (None, False)
    assert git(private.work, "rev-parse", "HEAD") == head
    assert git(private.work, "status", "--porcelain") == ""
    assert_nowhere(secrets(WRONG), out, logs)


def test_no_credentials_is_an_auth_error(
    private: Private, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    code, out, _ = cli(["plan", str(private.work), "--format", "json"], capsys, caplog)
    assert code == 1
    assert [e["kind"] for e in json.loads(out)["errors"]] == ["auth"]


def test_tags_with_and_without_credentials(
    private: Private, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    config = docker_config(private.tmp / "docker" / "config.json", private.host, PASSWORD)
    image = f"{private.host}/{REPO}"
    code, out, logs = cli(["tags", image, "--registry-config", str(config)], capsys, caplog)
    assert code == 0
    assert sorted(out.splitlines()) == ["1.0.0", "1.1.0", "2.0.0"]
    assert_nowhere(secrets(PASSWORD), out, logs)

    code, out, _ = cli(["tags", image, "--format", "json"], capsys, caplog)
    assert code == 1
    assert [e["kind"] for e in json.loads(out)["errors"]] == ["auth"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "does not exist"),
        ("{not json", "not valid JSON"),
        ('{"auths": {"h": {"auth": "%%%not-base64"}}}', "invalid auth entry"),
    ],
)
def test_broken_registry_config_is_a_config_error(
    private: Private,
    content: str | None,
    problem: str,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = private.tmp / "broken.json"
    if content is not None:
        config.write_text(content)
    code, out, _ = cli(
        ["plan", str(private.work), "--registry-config", str(config), "--format", "json"],
        capsys,
        caplog,
    )
    assert code == 1
    errors = json.loads(out)["errors"]
    assert [e["kind"] for e in errors] == ["config"]
    assert problem in errors[0]["message"]
    assert "%%%not-base64" not in out


def _digest(registry: LocalRegistry, tag: str) -> str:
    with httpx.Client(base_url=registry.url, auth=(USER, PASSWORD), timeout=30) as client:
        response = client.head(
            f"/v2/{REPO}/manifests/{tag}",
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        )
    response.raise_for_status()
    return response.headers["Docker-Content-Digest"]


def _pin_digest_pinned(private: Private, registry: LocalRegistry) -> tuple[Path, str, str]:
    """The app at 1.1.0@digest, committed; returns the file, its text and 1.0.0's digest."""
    old, new = _digest(registry, "1.1.0"), _digest(registry, "1.0.0")
    assert old != new
    path = private.work / "apps/app.yaml"
    text = path.read_text().replace(f"{REPO}:1.0.0", f"{REPO}:1.1.0@{old}")
    path.write_text(text)
    git(private.work, "commit", "-qam", "pin by digest")
    return path, text, new


def test_pin_tag_looks_up_the_digest_with_the_registry_config(
    private: Private,
    auth_registry: LocalRegistry,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    path, _, new = _pin_digest_pinned(private, auth_registry)
    config = docker_config(private.tmp / "docker" / "config.json", private.host, PASSWORD)
    code, out, logs = cli(
        ["pin", "app", "--tag", "1.0.0", "--registry-config", str(config), "-C", str(private.work)],
        capsys,
        caplog,
    )
    assert code == 0, out
    assert f"image: {private.host}/{REPO}:1.0.0@{new}\n" in path.read_text()
    assert_nowhere(secrets(PASSWORD), out, logs, git(private.work, "log", "-1", "--format=%B"))


def test_pin_tag_with_a_wrong_password_is_an_auth_error_and_writes_nothing(
    private: Private,
    auth_registry: LocalRegistry,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    path, text, _ = _pin_digest_pinned(private, auth_registry)
    head = git(private.work, "rev-parse", "HEAD")
    config = docker_config(private.tmp / "docker" / "config.json", private.host, WRONG)
    argv = ["pin", "app", "--tag", "1.0.0", "--registry-config", str(config)]
    code, out, logs = cli([*argv, "-C", str(private.work), "--format", "json"], capsys, caplog)
    assert code == 1
    [error] = json.loads(out)["errors"]
    assert error["kind"] == "auth"
    assert error["message"].startswith("Deployment/app app: cannot look up the digest of 1.0.0")
    assert path.read_text() == text
    assert git(private.work, "rev-parse", "HEAD") == head
    assert git(private.work, "status", "--porcelain") == ""
    assert_nowhere(secrets(WRONG, PASSWORD), out, logs)
