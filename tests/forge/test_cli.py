"""`imageupdater apply --mode pr` end to end, the token's secrecy and the 100-PR figure."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from imageupdater import app
from tests.e2e.conftest import run_cli
from tests.engine.fakeregistry import FakeRegistry
from tests.forge.conftest import deployment, make_env
from tests.forge.fakes import REPO, TOKEN


def test_apply_mode_pr_from_the_cli_never_shows_the_token(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    files = {
        "apps/web.yaml": deployment("web", "1.0.0"),
        "apps/api.yaml": deployment("api", "1.0.0"),
    }
    for env in make_env(tmp_path, monkeypatch, "gitlab", files):
        registry = env.registry
        monkeypatch.setattr(app, "registry_client", lambda options: registry.client())
        monkeypatch.setenv("IMAGEUPDATER_FORGE_TOKEN", TOKEN)
        argv = [
            "apply", str(env.work), "--mode", "pr", "--forge", "gitlab", "--forge-url",
            env.fake.url, "--forge-repo", REPO, "--label", "images", "--reviewer", "42",
            "--format", "json", "-vv",
        ]  # fmt: skip
        caplog.set_level(logging.DEBUG)
        code = run_cli(argv, capsys)
        out, err = capsys.readouterr()
        document = json.loads(out)
        assert code == 0, document
        assert [r["action"] for r in document["pull_requests"]] == ["opened", "opened"]
        assert document["commit"] is None
        assert document["pushed"] is True
        assert {pr.reviewers[0] for pr in env.fake.open_prs()} == {"42"}
        assert {pr.labels[0] for pr in env.fake.open_prs()} == {"images"}

        # a refused token: the error names the failure, never the token
        monkeypatch.setenv("IMAGEUPDATER_FORGE_TOKEN", "wrong-" + TOKEN)
        env.registry.tags["acme/web"].append("1.2.0")
        code = run_cli(argv, capsys)
        out2, err2 = capsys.readouterr()
        assert code == 1
        assert json.loads(out2)["errors"][0]["kind"] == "auth"

        seen = [out, err, out2, err2, caplog.text]
        seen += [pr.body + pr.title + "".join(pr.comments) for pr in env.fake.prs.values()]
        seen += [s.raw.decode() + s.path + json.dumps(s.query) for s in env.fake.seen]
        assert not [text for text in seen if TOKEN in text]


def test_mode_pr_needs_a_forge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["apply", str(tmp_path), "--mode", "pr"], capsys) == 64
    assert "--forge" in capsys.readouterr().err


def test_100_workloads_give_100_prs_quickly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {f"apps/w{i:03}.yaml": deployment(f"w{i:03}", "1.0.0") for i in range(100)}
    for env in make_env(tmp_path, monkeypatch, "github", files):
        env.fake.page_size = 100
        env.registry = FakeRegistry(tags={f"acme/w{i:03}": ["1.0.0", "1.1.0"] for i in range(100)})
        started = time.perf_counter()
        report = env.run()
        elapsed = time.perf_counter() - started
        assert not report.errors
        assert len(env.fake.open_prs()) == 100
        assert len(env.fake.branches()) == 101
        assert elapsed < 30, elapsed
        started = time.perf_counter()
        again = env.run()
        assert {r["action"] for r in again.pull_requests} == {"unchanged"}
        assert time.perf_counter() - started < 30
