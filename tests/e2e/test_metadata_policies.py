"""Build-time, platform and digest policies against a real Distribution registry (SPEC §3, §7).

The in-process fakes count requests; this checks that real manifests, indexes (OCI and
Docker) and config blobs are read as Distribution serves them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imageupdater.devtools import LocalRegistry, Pusher
from imageupdater.devtools.seed import Platform
from tests.e2e.conftest import run_cli

REPO = "meta/app"
BOTH = (Platform(), Platform("arm64", variant="v8"))


@pytest.fixture(scope="module")
def pushed(registry: LocalRegistry, pusher: Pusher) -> dict[str, str]:
    return {
        "main-aaa": pusher.push_image(REPO, "main-aaa", created="2026-01-01T00:00:00Z"),
        "main-zzz": pusher.push_image(REPO, "main-zzz", created="2026-02-01T00:00:00Z"),
        "main-mmm": pusher.push_index(
            REPO, "main-mmm", created="2026-03-01T00:00:00.5Z", platforms=BOTH, docker=True
        ),
        "1.0.0": pusher.push_index(REPO, "1.0.0", created="2026-01-01T00:00:00Z", platforms=BOTH),
        "1.1.0": pusher.push_image(REPO, "1.1.0", created="2026-02-01T00:00:00Z"),
        "1.2.0": pusher.push_index(REPO, "1.2.0", created="2026-11-22T23:00:00Z", platforms=BOTH),
    }


def manifest(name: str, image: str, annotations: dict[str, str]) -> str:
    notes = "".join(f"    {k}: {json.dumps(v)}\n" for k, v in annotations.items())
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  annotations:\n"
        f"{notes}spec:\n  template:\n    spec:\n      containers:\n"
        f"        - name: {name}\n          image: {image}\n"
    )


def test_plan_with_metadata_policies(
    tmp_path: Path,
    registry: LocalRegistry,
    pushed: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    image = f"{registry.host}/{REPO}"
    (tmp_path / "policies.yaml").write_text(
        "apiVersion: imageupdater.io/v1\nkind: ImagePolicy\n"
        "metadata: {name: multiarch, namespace: meta}\n"
        "spec:\n  policy: {semver: {range: '>=1.0.0'}}\n"
        "  platforms: [linux/amd64, linux/arm64]\n  minAge: 12h\n"
    )
    (tmp_path / "a.yaml").write_text(
        manifest("glob", f"{image}:main-aaa", {"imageupdater.io/policy": "glob:main-*"})
    )
    (tmp_path / "b.yaml").write_text(
        manifest("named", f"{image}:1.0.0", {"imageupdater.io/policy": "@meta/multiarch"})
    )
    (tmp_path / "c.yaml").write_text(
        manifest("digest", f"{image}:1.1.0@sha256:{'0' * 64}", {"imageupdater.io/policy": "digest"})
    )
    code = run_cli(
        ["plan", str(tmp_path), "--format", "json", "--now", "2026-11-23T00:00:00Z"], capsys
    )
    document = json.loads(capsys.readouterr().out)
    assert code == 0, document
    updates = {u["workload"]: u for u in document["updates"]}
    assert updates["Deployment/glob"]["to"] == "main-mmm"  # newest build, a Docker list
    # 1.2.0 is an hour old, 1.1.0 is amd64 only: nothing newer than 1.0.0 qualifies
    assert "Deployment/named" not in updates
    assert updates["Deployment/digest"]["digest"] == pushed["1.1.0"]
