"""glob:/regex: (newest build), digest, and the metadata they fetch (SPEC §3.1, §7)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from imageupdater.engine import Plan, make_plan
from tests.engine.fakeoci import FakeOCI
from tests.engine.test_engine import deployment, write

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
REPO = "acme/web"
IMAGE = f"reg.test/{REPO}"


def plan(root: Path, registry: FakeOCI) -> Plan:
    with registry.client() as client:
        return make_plan(root, client, NOW)


@pytest.fixture
def registry() -> FakeOCI:
    oci = FakeOCI()
    old = oci.image("2026-01-01T00:00:00Z", seed="old")
    new = oci.image("2026-03-01T10:00:00.123456789Z", seed="new")
    multi = oci.index("2026-02-01T00:00:00Z", ["linux/amd64", "linux/arm64/v8"])
    oci.tag(REPO, "main-aaa", old)
    oci.tag(REPO, "main-bbb", new)  # newest build, not the greatest name
    oci.tag(REPO, "main-ccc", multi)
    oci.tag(REPO, "main-zzz", old)  # the same image as main-aaa: one fetch for both
    oci.tag(REPO, "latest", new)
    oci.tag(REPO, "pr-999", oci.image("2026-06-01T00:00:00Z", seed="pr"))  # never a candidate
    oci.tag(REPO, "1.0", old)
    return oci


def test_glob_picks_the_newest_build_not_the_greatest_name(
    tmp_path: Path, registry: FakeOCI
) -> None:
    write(tmp_path, "web.yaml", deployment("web", f"{IMAGE}:main-aaa", {
        "imageupdater.io/policy": "glob:main-*"}))  # fmt: skip
    result = plan(tmp_path, registry)
    assert [(u.from_tag, u.to_tag) for u in result.report.updates] == [("main-aaa", "main-bbb")]
    assert f"image: {IMAGE}:main-bbb\n" in result.changes[0].after_text


def test_metadata_only_for_candidates_and_once_per_digest(
    tmp_path: Path, registry: FakeOCI
) -> None:
    for i in range(5):
        write(tmp_path, f"w{i}.yaml", deployment(f"w{i}", f"{IMAGE}:main-aaa", {
            "imageupdater.io/policy": "regex:^main-"}))  # fmt: skip
    result = plan(tmp_path, registry)
    assert {u.to_tag for u in result.report.updates} == {"main-bbb"}
    heads = {ref for (method, kind, ref), _ in registry.requests.items() if method == "HEAD"}
    # only the four matching tags are looked at: not `latest`, `pr-999` or `1.0`
    assert heads == {"main-aaa", "main-bbb", "main-ccc", "main-zzz"}
    assert all(n == 1 for (method, _, _), n in registry.requests.items() if method == "HEAD")
    # three distinct digests: old (manifest + config), new (manifest + config),
    # multi (index + amd64 manifest + its config) = 7 GETs, whatever the number of workloads
    assert registry.gets("manifests") + registry.gets("blobs") == 7
    assert all(n == 1 for (method, _, _), n in registry.requests.items() if method == "GET")
    assert registry.gets("tags/list") == 1


def test_an_older_build_is_never_an_update(tmp_path: Path, registry: FakeOCI) -> None:
    write(tmp_path, "web.yaml", deployment("web", f"{IMAGE}:main-bbb", {
        "imageupdater.io/policy": "glob:main-*"}))  # fmt: skip
    result = plan(tmp_path, registry)
    assert result.report.updates == []
    assert [s.reason for s in result.report.skipped] == ["up-to-date"]


def test_from_a_non_matching_current_tag(tmp_path: Path, registry: FakeOCI) -> None:
    write(tmp_path, "web.yaml", deployment("web", f"{IMAGE}:1.0", {
        "imageupdater.io/policy": "glob:main-*"}))  # fmt: skip
    result = plan(tmp_path, registry)
    assert [u.to_tag for u in result.report.updates] == ["main-bbb"]


def test_digest_policy_writes_the_tags_current_digest(tmp_path: Path, registry: FakeOCI) -> None:
    newest = registry.tags[REPO]["latest"]
    write(tmp_path, "a.yaml", deployment("a", f"{IMAGE}:latest@sha256:{'0' * 64}", {
        "imageupdater.io/policy": "digest"}))  # fmt: skip
    write(tmp_path, "b.yaml", deployment("b", IMAGE, {"imageupdater.io/policy": "digest"}))
    write(tmp_path, "c.yaml", deployment("c", f"{IMAGE}:latest@{newest}", {
        "imageupdater.io/policy": "digest"}))  # fmt: skip
    result = plan(tmp_path, registry)
    rows = {u.workload: u for u in result.report.updates}
    assert set(rows) == {"Deployment/a", "Deployment/b"}
    assert rows["Deployment/a"].digest == newest
    assert (rows["Deployment/a"].from_tag, rows["Deployment/a"].to_tag) == ("latest", "latest")
    texts = {c.relpath: c.after_text for c in result.changes}
    assert f"image: {IMAGE}:latest@{newest}\n" in texts["a.yaml"]
    assert f"image: {IMAGE}@{newest}\n" in texts["b.yaml"]  # no tag written: it was not there
    assert [s.reason for s in result.report.skipped] == ["up-to-date"]
    assert registry.gets("manifests") == 0  # the HEAD is enough
    assert registry.gets("blobs") == 0


def test_platform_and_created_from_an_index(registry: FakeOCI) -> None:
    digest = registry.tags[REPO]["main-ccc"]
    from imageupdater.model import ImageRef

    with registry.client() as client:
        meta = client.metadata(ImageRef(IMAGE, "reg.test", REPO), digest)
    assert meta is not None
    assert meta.platforms == ("linux/amd64", "linux/arm64/v8")  # no unknown/unknown
    assert meta.created == datetime(2026, 2, 1, tzinfo=UTC)
