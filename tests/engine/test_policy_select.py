"""`policy select --image` asks the registry; `--explain` says why each tag lost (SPEC §4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imageupdater import app
from imageupdater.cli import main
from imageupdater.commands import policy_explain
from imageupdater.errors import PolicyError
from tests.engine.fakeoci import FakeOCI

IMAGE = "reg.test/acme/web"


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> FakeOCI:
    oci = FakeOCI()
    for tag, month in (("1.2.0", "01"), ("1.3.0", "02"), ("1.3.1-rc.1", "03"), ("2.0.0", "04"),
                       ("1.4.0-alpine", "05"), ("main-1", "06"), ("main-2", "07")):  # fmt: skip
        oci.tag("acme/web", tag, oci.image(f"2026-{month}-01T00:00:00Z", seed=tag))
    oci.tags["acme/web"]["sha256-abc.sig"] = oci.image("2026-08-01T00:00:00Z", seed="sig")
    oci.tags["acme/web"]["1.5.0"] = "sha256:" + "f" * 64  # listed, but no manifest
    monkeypatch.setattr(app, "registry_client", lambda options: oci.client())
    return oci


def test_image_lists_tags_and_checks_the_winner(registry: FakeOCI) -> None:
    selection = policy_explain("semver:^1.2", [], None, image=f"{IMAGE}:1.2.0", explain=True)
    assert selection.current == "1.2.0"  # the image's own tag
    assert selection.selected == "1.3.0"  # 1.5.0 is dangling
    assert selection.digest == registry.tags["acme/web"]["1.3.0"]
    assert selection.reasons == {
        "1.2.0": "the current tag",
        "1.3.0": "selected",
        "1.3.1-rc.1": "a pre-release, and no constraint of the range carries one",
        "1.4.0-alpine": "variant 'alpine' differs from the current tag's ''",
        "1.5.0": "a candidate, but older than the selected tag",
        "2.0.0": "outside the range ^1.2",
        "main-1": "not a version",
        "main-2": "not a version",
        "sha256-abc.sig": "default exclusion (cosign signature, attestation or SBOM tag)",
    }


def test_build_time_policies_need_the_image(registry: FakeOCI) -> None:
    with pytest.raises(PolicyError, match="--image"):
        policy_explain("glob:main-*", ["main-1", "main-2"], None)
    selection = policy_explain("glob:main-*", [], "main-1", image=IMAGE, explain=True)
    assert selection.selected == "main-2"
    assert selection.reasons["1.3.0"] == "does not match glob:main-*"
    assert selection.reasons["main-1"] == "the current tag"


def test_cli_text_and_json(registry: FakeOCI, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["policy", "select", "minor", "--image", f"{IMAGE}:1.2.0", "--explain"])
    assert exited.value.code == 0
    captured = capsys.readouterr()
    assert captured.out == "1.3.0\n"
    assert "  2.0.0: minor stays on 1\n" in captured.err
    with pytest.raises(SystemExit):
        main(["policy", "select", "digest", "--image", f"{IMAGE}:1.3.0"])
    assert capsys.readouterr().out == f"1.3.0@{registry.tags['acme/web']['1.3.0']}\n"
    with pytest.raises(SystemExit):
        main(["policy", "select", "semver:>=2", "--image", IMAGE, "--format", "json", "--explain"])
    document = json.loads(capsys.readouterr().out)
    assert document["selected"] == "2.0.0"
    assert {"tag": "1.3.0", "reason": "outside the range >=2"} in document["tags"]


def test_explain_without_registry(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["policy", "select", "patch", "1.2.0", "1.2.5", "1.3.0", "--current", "1.2.0",
              "--explain"])  # fmt: skip
    captured = capsys.readouterr()
    assert captured.out == "1.2.5\n"
    assert "  1.3.0: patch stays on 1.2\n" in captured.err


def test_named_policy_from_a_checkout(
    registry: FakeOCI, capsys: pytest.CaptureFixture[str]
) -> None:
    fixture = Path(__file__).resolve().parent.parent / "data" / "compat" / "flux2"
    with pytest.raises(SystemExit) as exited:
        main(["policy", "select", "@flux-system/web", "--dir", str(fixture), "--current", "1.2.0",
              "--explain"])  # fmt: skip
    assert exited.value.code == 0
    captured = capsys.readouterr()
    assert captured.out == "1.3.0\n"  # the Flux ImageRepository names the image
    assert "  2.0.0: outside the range >=1.0.0 <2.0.0\n" in captured.err
    with pytest.raises(SystemExit) as exited:
        main(["policy", "select", "@flux-system/nope", "--dir", str(fixture)])
    assert exited.value.code == 64
