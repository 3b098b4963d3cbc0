"""devtools: starting and stopping local registries, and seeding them."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from imageupdater.devtools import (
    LocalRegistry,
    RegistryNotInstalled,
    TokenAuth,
    seed_storage,
    start_registry,
)
from imageupdater.devtools.localregistry import REGISTRY_BIN_ENV
from imageupdater.devtools.seed import make_config, make_layer, make_manifest, sha256_digest


def test_missing_binary_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REGISTRY_BIN_ENV, str(tmp_path / "no-registry-here"))
    with pytest.raises(
        RegistryNotInstalled, match=f"apt-get install docker-registry.*{REGISTRY_BIN_ENV}"
    ):
        start_registry(tmp_path)


def test_one_auth_method_at_a_time(tmp_path: Path) -> None:
    token = TokenAuth("http://127.0.0.1:1/token", "s", "i", "/x.crt")
    with pytest.raises(ValueError, match="one auth method"):
        start_registry(tmp_path, htpasswd=("a", "b"), token_auth=token)


@pytest.mark.registry
def test_start_answers_and_stop_cleans_up(tmp_path: Path) -> None:
    started = time.perf_counter()
    with start_registry(tmp_path) as running:
        assert time.perf_counter() - started < 5
        assert running.url == f"http://{running.host}"
        assert running.host.startswith("127.0.0.1:")
        assert httpx.get(running.url + "/v2/").status_code == 200
        process, root = running.process, running.root
    assert process.poll() is not None
    assert not os.path.exists(root)


@pytest.mark.registry
def test_two_registries_run_side_by_side(tmp_path: Path, registry: LocalRegistry) -> None:
    with start_registry(tmp_path) as other:
        assert other.host != registry.host
        seed_storage(other.root, "only/here", ["1"])
        assert httpx.get(f"{other.url}/v2/only/here/tags/list").json()["tags"] == ["1"]
        assert httpx.get(f"{registry.url}/v2/only/here/tags/list").status_code == 404


@pytest.mark.registry
def test_caller_owned_storage_survives_a_restart(tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    storage.mkdir()
    seed_storage(storage, "keep/app", ["1.0"])
    with start_registry(tmp_path, storage_root=str(storage)) as running:
        assert httpx.get(f"{running.url}/v2/keep/app/tags/list").json()["tags"] == ["1.0"]
    assert (storage / "docker").is_dir()


def test_seed_storage_layout_and_digests(tmp_path: Path) -> None:
    digests = seed_storage(tmp_path, "team/app", ["1.0", "1.1"], created="2024-05-01T00:00:00Z")
    layer, diff_id = make_layer()
    body, _ = make_manifest(make_config("2024-05-01T00:00:00Z", diff_id), layer)
    assert digests == {"1.0": sha256_digest(body), "1.1": sha256_digest(body)}
    v2 = tmp_path / "docker" / "registry" / "v2"
    hexdigest = digests["1.0"][7:]
    assert (v2 / "blobs" / "sha256" / hexdigest[:2] / hexdigest / "data").read_bytes() == body
    tag_link = (
        v2 / "repositories" / "team" / "app" / "_manifests" / "tags" / "1.1" / "current" / "link"
    )
    assert tag_link.read_text() == digests["1.0"]


def test_seed_storage_scales_linearly(tmp_path: Path) -> None:
    """A loose guard against accidental quadratic work; real figures are in the benchmark.

    Shared tags cost a few link files, distinct build times a config and a manifest more.
    """
    started = time.perf_counter()
    seed_storage(tmp_path, "bulk/shared", [f"1.{j}.0" for j in range(200)])
    for i in range(2):
        tags = [f"1.{j}.0" for j in range(50)]
        seed_storage(tmp_path, f"bulk/app{i}", tags, created=lambda tag: f"{tag}Z")
    elapsed = time.perf_counter() - started
    assert elapsed < 3.0, f"300 tags took {elapsed:.2f}s"


@pytest.mark.parametrize(
    ("repo", "tag"), [("Team/app", "1"), ("../app", "1"), ("team/app", "../1"), ("a", "-x")]
)
def test_seed_storage_rejects_names_outside_the_grammar(
    tmp_path: Path, repo: str, tag: str
) -> None:
    with pytest.raises(ValueError, match="invalid"):
        seed_storage(tmp_path, repo, [tag])
