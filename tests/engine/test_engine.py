"""The pipeline's rules, checked against an in-process registry (faults, pins, freezes)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from imageupdater.engine import Plan, make_plan
from tests.engine.fakeregistry import FakeRegistry, digest_of

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def deployment(
    name: str, image: str, annotations: dict[str, str], container: str | None = None
) -> str:
    notes = "".join(f"    {k}: {v!r}\n" for k, v in annotations.items())
    return (
        "apiVersion: apps/v1\nkind: Deployment\n"
        f"metadata:\n  name: {name}\n  annotations:\n{notes}"
        "spec:\n  template:\n    spec:\n      containers:\n"
        f"        - name: {container or name}\n          image: {image}\n"
    )


def plan(root: Path, registry: FakeRegistry, now: datetime = NOW) -> Plan:
    with registry.client() as client:
        return make_plan(root, client, now)


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def registry() -> FakeRegistry:
    return FakeRegistry(
        tags={
            "acme/web": ["1.0.0", "1.1.0", "1.2.0", "2.0.0"],
            "acme/api": ["3.0.0", "3.0.1"],
        }
    )


def test_one_tag_walk_per_repository_however_many_workloads(
    tmp_path: Path, registry: FakeRegistry
) -> None:
    for i in range(30):
        write(tmp_path, f"w{i}.yaml", deployment(f"w{i}", "reg.test/acme/web:1.0.0", {
            "imageupdater.io/policy": "semver:^1"}))  # fmt: skip
    result = plan(tmp_path, registry)
    assert len(result.report.updates) == 30
    assert {u.to_tag for u in result.report.updates} == {"1.2.0"}
    assert registry.walks("acme/web") == 1
    assert registry.requests[("acme/web", "manifest:1.2.0")] == 1


def test_registry_outage_is_an_error_never_no_update(
    tmp_path: Path, registry: FakeRegistry
) -> None:
    registry.failing["acme/api"] = 503
    write(tmp_path, "api.yaml", deployment("api", "reg.test/acme/api:3.0.0", {
        "imageupdater.io/policy": "patch"}))  # fmt: skip
    write(tmp_path, "web.yaml", deployment("web", "reg.test/acme/web:1.0.0", {
        "imageupdater.io/policy": "minor"}))  # fmt: skip
    report = plan(tmp_path, registry).report
    assert [(u.workload, u.to_tag) for u in report.updates] == [("Deployment/web", "1.2.0")]
    assert [(e.kind, e.image) for e in report.errors] == [("registry", "reg.test/acme/api")]
    assert "503" in report.errors[0].message
    assert [(s.workload, s.reason) for s in report.skipped] == [
        ("Deployment/api", "registry-error")
    ]
    assert report.exit_code(detailed=True) == 1


def test_dangling_winner_falls_back_to_the_next_best(
    tmp_path: Path, registry: FakeRegistry
) -> None:
    registry.dangling.add(("acme/web", "1.2.0"))
    write(tmp_path, "web.yaml", deployment("web", "reg.test/acme/web:1.0.0", {
        "imageupdater.io/policy": "minor"}))  # fmt: skip
    report = plan(tmp_path, registry).report
    assert [u.to_tag for u in report.updates] == ["1.1.0"]


def test_digest_pinned_value_keeps_its_style(tmp_path: Path, registry: FakeRegistry) -> None:
    old = digest_of("acme/web", "1.0.0")
    path = write(tmp_path, "web.yaml", deployment("web", f"reg.test/acme/web:1.0.0@{old}", {
        "imageupdater.io/policy": "minor"}))  # fmt: skip
    result = plan(tmp_path, registry)
    new = digest_of("acme/web", "1.2.0")
    assert result.report.updates[0].digest == new
    (change,) = result.changes
    assert change.after == path.read_bytes().replace(
        f"web:1.0.0@{old}".encode(), f"web:1.2.0@{new}".encode()
    )


def test_pin_holds_the_pinned_tag_and_moves_to_it(tmp_path: Path, registry: FakeRegistry) -> None:
    write(tmp_path, "held.yaml", deployment("held", "reg.test/acme/web:1.1.0", {
        "imageupdater.io/policy": "minor", "imageupdater.io/pin": "1.1.0"}))  # fmt: skip
    write(tmp_path, "back.yaml", deployment("back", "reg.test/acme/web:1.2.0", {
        "imageupdater.io/policy": "minor", "imageupdater.io/pin.back": "1.0.0"}))  # fmt: skip
    report = plan(tmp_path, registry).report
    assert [(s.workload, s.reason) for s in report.skipped] == [("Deployment/held", "pinned")]
    assert [(u.workload, u.from_tag, u.to_tag, u.policy) for u in report.updates] == [
        ("Deployment/back", "1.2.0", "1.0.0", "pin")
    ]


def test_frozen_until_thaws_by_itself(tmp_path: Path, registry: FakeRegistry) -> None:
    write(tmp_path, "web.yaml", deployment("web", "reg.test/acme/web:1.0.0", {
        "imageupdater.io/policy": "minor",
        "imageupdater.io/frozen-until": "2026-12-01T00:00:00Z",
        "imageupdater.io/frozen-reason": "release freeze"}))  # fmt: skip
    report = plan(tmp_path, registry).report
    assert [(s.reason, s.detail) for s in report.skipped] == [
        ("frozen", "until 2026-12-01T00:00:00Z: release freeze")
    ]
    assert registry.walks("acme/web") == 0  # a frozen workload costs no registry request
    later = plan(tmp_path, registry, datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC)).report
    assert [u.to_tag for u in later.updates] == ["1.2.0"]


def test_unknown_kinds_with_a_pod_template_and_pods(tmp_path: Path, registry: FakeRegistry) -> None:
    rollout = deployment("r", "reg.test/acme/web:1.0.0", {"imageupdater.io/policy": "patch"})
    write(tmp_path, "rollout.yaml", rollout.replace("kind: Deployment", "kind: Rollout"))
    write(tmp_path, "pod.yaml", (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: ops\n"
        "  annotations: {imageupdater.io/policy: minor}\n"
        "spec:\n  containers:\n  - name: c\n    image: reg.test/acme/api:3.0.0\n"))  # fmt: skip
    report = plan(tmp_path, registry).report
    assert [(u.workload, u.to_tag) for u in report.updates] == [("Pod/ops/p", "3.0.1")]
    assert [(s.workload, s.reason) for s in report.skipped] == [("Rollout/r", "up-to-date")]


def test_value_without_tag_and_templated_values_are_skipped(
    tmp_path: Path, registry: FakeRegistry
) -> None:
    write(tmp_path, "a.yaml", deployment("a", "reg.test/acme/web", {
        "imageupdater.io/policy": "minor"}))  # fmt: skip
    write(tmp_path, "b.yaml", deployment("b", "reg.test/acme/web:{{ .Values.tag }}", {
        "imageupdater.io/policy": "minor"}).replace("image: reg", "image: 'reg") + "'")  # fmt: skip
    report = plan(tmp_path, registry).report
    assert report.updates == []
    assert {(s.workload, s.reason) for s in report.skipped} == {
        ("Deployment/a", "no-candidate"),
        ("Deployment/b", "unsupported-value"),
    }
    assert report.errors == []


def test_unparseable_file_does_not_stop_the_rest(tmp_path: Path, registry: FakeRegistry) -> None:
    write(tmp_path, "bad.yaml", "metadata:\n  annotations: {imageupdater.io/policy: minor\n")
    write(tmp_path, "web.yaml", deployment("web", "reg.test/acme/web:1.0.0", {
        "imageupdater.io/policy": "minor"}))  # fmt: skip
    write(tmp_path, "ignored.yaml", "kind: ConfigMap\n")  # screened out: silent
    report = plan(tmp_path, registry).report
    assert [u.to_tag for u in report.updates] == ["1.2.0"]
    assert [(s.file, s.reason) for s in report.skipped] == [("bad.yaml", "unparseable-file")]
    assert report.errors == []


def test_symlink_leaving_the_root_is_reported_not_followed(
    tmp_path: Path, registry: FakeRegistry
) -> None:
    outside = tmp_path / "outside"
    root = tmp_path / "root"
    write(outside, "web.yaml", deployment("web", "reg.test/acme/web:1.0.0", {
        "imageupdater.io/policy": "minor"}))  # fmt: skip
    root.mkdir()
    (root / "link.yaml").symlink_to(outside / "web.yaml")
    (root / "dir").symlink_to(outside)
    report = plan(root, registry).report
    assert report.updates == []
    assert sorted((s.file, s.reason) for s in report.skipped) == [
        ("dir", "ignored-file"),
        ("link.yaml", "ignored-file"),
    ]
