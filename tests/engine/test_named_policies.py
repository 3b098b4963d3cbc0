"""Named policies (`kind: ImagePolicy`, SPEC §3.2) referenced as `@namespace/name`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from imageupdater.engine import Plan, make_plan
from imageupdater.errors import PolicyError
from imageupdater.namedpolicies import PolicyBook, load_policies
from imageupdater.report import Report
from imageupdater.yamledit import load_documents
from tests.engine.fakeoci import FakeOCI
from tests.engine.test_engine import deployment, write

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
IMAGE = "reg.test/acme/web"


def plan(root: Path, registry: FakeOCI) -> Plan:
    with registry.client() as client:
        return make_plan(root, client, NOW)


def policy(spec: str, name: str = "web") -> str:
    return (
        "apiVersion: imageupdater.io/v1\nkind: ImagePolicy\n"
        f"metadata: {{name: {name}, namespace: shop}}\nspec:\n{spec}"
    )


@pytest.fixture
def registry() -> FakeOCI:
    oci = FakeOCI()
    both = ["linux/amd64", "linux/arm64/v8"]
    oci.tag("acme/web", "1.0.0", oci.index("2026-01-01T00:00:00Z", both))
    oci.tag("acme/web", "1.1.0", oci.index("2026-06-01T00:00:00Z", both))
    oci.tag("acme/web", "1.2.0", oci.image("2026-09-01T00:00:00Z", seed="amd64 only"))
    oci.tag("acme/web", "1.3.0", oci.index("2026-11-23T06:00:00Z", both))  # six hours old
    oci.tag("acme/web", "1.3.1-debug", oci.index("2026-11-01T00:00:00Z", both))
    for ts in ("1700000100", "1700000300", "1700000200"):
        oci.tag("acme/web", f"main-abc-{ts}", oci.image("2026-01-01T00:00:00Z", seed=ts))
    return oci


def test_platforms_and_min_age_skip_unfit_candidates(tmp_path: Path, registry: FakeOCI) -> None:
    write(tmp_path, "policies/web.yaml", policy(
        "  policy: {semver: {range: '>=1.0.0'}}\n"
        "  platforms: [linux/amd64, linux/arm64]\n"
        "  minAge: 24h\n"))  # fmt: skip
    write(tmp_path, "web.yaml", deployment("web", f"{IMAGE}:1.0.0", {
        "imageupdater.io/policy": "@shop/web"}))  # fmt: skip
    report = plan(tmp_path, registry).report
    # 1.3.0 is too young, 1.2.0 lacks arm64: 1.1.0
    assert [(u.to_tag, u.policy) for u in report.updates] == [("1.1.0", "@shop/web")]
    # metadata only for 1.3.0, 1.2.0 and 1.1.0: never for 1.0.0 or the main-* tags
    heads = {ref for (method, _, ref) in registry.requests if method == "HEAD"}
    assert heads == {"1.3.0", "1.2.0", "1.1.0"}


def test_filter_tags_extract_and_exclude(tmp_path: Path, registry: FakeOCI) -> None:
    write(tmp_path, "policies.yaml", policy(
        "  image: reg.test/acme/web\n"
        "  policy: {numerical: {order: asc}}\n"
        "  filterTags: {pattern: '^main-[a-f0-9]+-(?P<ts>[0-9]+)$', extract: '$ts'}\n"
        "  exclude: ['-1700000300$']\n"))  # fmt: skip
    write(tmp_path, "web.yaml", deployment("web", f"{IMAGE}:main-abc-1700000100", {
        "imageupdater.io/policy": "@shop/web"}))  # fmt: skip
    report = plan(tmp_path, registry).report
    assert [u.to_tag for u in report.updates] == ["main-abc-1700000200"]


def test_invalid_policy_is_a_config_error_with_file_and_line(
    tmp_path: Path, registry: FakeOCI
) -> None:
    write(tmp_path, "policies.yaml", "# comment\n" + policy("  policy: {semver: {range: '*-*'}}\n"))
    write(tmp_path, "web.yaml", deployment("web", f"{IMAGE}:1.0.0", {
        "imageupdater.io/policy": "@shop/web"}))  # fmt: skip
    write(tmp_path, "api.yaml", deployment("api", f"{IMAGE}:1.0.0", {
        "imageupdater.io/policy": "minor"}))  # fmt: skip
    report = plan(tmp_path, registry).report
    errors = [(e.kind, e.file, e.line) for e in report.errors]
    assert ("config", "policies.yaml", 3) in errors
    assert [(s.workload, s.reason) for s in report.skipped] == [
        ("Deployment/web", "invalid-policy")
    ]
    assert [u.workload for u in report.updates] == ["Deployment/api"]  # the rest goes on


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("  policy: {}\n", "exactly one of"),
        ("  policy: {semver: {range: '^1'}, alphabetical: {}}\n", "exactly one of"),
        ("  policy: {alphabetical: {order: sideways}}\n", "asc or desc"),
        ("  policy: {relative: minor}\n  colour: blue\n", "unknown field"),
        ("  policy: {relative: minor}\n  minAge: soon\n", "invalid duration"),
        ("  policy: {relative: minor}\n  platforms: [amd64]\n", "os/arch"),
        ("  policy: {relative: minor}\n  filterTags: {pattern: '('}\n", "invalid regular"),
        ("  policy: {digest: {}}\n  exclude: [x]\n", "digest follows one tag"),
    ],
)
def test_validation(tmp_path: Path, registry: FakeOCI, spec: str, message: str) -> None:
    write(tmp_path, "policies.yaml", policy(spec))
    report = plan(tmp_path, registry).report
    (error,) = report.errors
    assert message in error.message
    assert (error.file, error.line) == ("policies.yaml", 2)


def test_unknown_reference(tmp_path: Path, registry: FakeOCI) -> None:
    write(tmp_path, "web.yaml", deployment("web", f"{IMAGE}:1.0.0", {
        "imageupdater.io/policy": "@shop/nope"}))  # fmt: skip
    report = plan(tmp_path, registry).report
    assert "no named policy 'shop/nope'" in report.errors[0].message
    assert [s.reason for s in report.skipped] == ["invalid-policy"]


def load(text: str) -> tuple[PolicyBook, Report]:
    report = Report()
    documents = [d for d in load_documents(text) if d is not None]
    return load_policies([("p.yaml", d) for d in documents], report), report


FLUX_REPO = (
    "apiVersion: image.toolkit.fluxcd.io/{api}\nkind: ImageRepository\n"
    "metadata: {{name: web{ns}}}\nspec: {{image: ghcr.io/acme/web}}\n---\n"
)
FLUX_POLICY = (
    "apiVersion: image.toolkit.fluxcd.io/{api}\nkind: ImagePolicy\n"
    "metadata: {{name: web, namespace: flux-system}}\n"
    "spec: {{imageRepositoryRef: {{name: web}}, policy: {{semver: {{range: '^1'}}}}}}\n"
)


@pytest.mark.parametrize("api", ["v1beta2", "v1"])
@pytest.mark.parametrize("ns", ["", ", namespace: flux-system", ", namespace: elsewhere"])
def test_flux_policy_finds_its_repository(api: str, ns: str) -> None:
    book, report = load(FLUX_REPO.format(api=api, ns=ns) + FLUX_POLICY.format(api=api))
    assert report.errors == []
    named = book.find("flux-system", "web")
    assert (named.image, named.flux, named.policy.expression) == (
        "ghcr.io/acme/web",
        True,
        "semver:^1",
    )


def test_flux_policy_without_repository_is_invalid() -> None:
    book, report = load(FLUX_POLICY.format(api="v1"))
    assert [(e.file, e.line) for e in report.errors] == [("p.yaml", 2)]
    assert "ImageRepository 'web' is not in the repository" in report.errors[0].message
    with pytest.raises(PolicyError, match="is invalid"):
        book.find("flux-system", "web")


def test_native_policy_shadows_flux_one() -> None:
    native = policy("  image: ghcr.io/acme/other\n  policy: {relative: minor}\n").replace(
        "namespace: shop", "namespace: flux-system"
    )
    book, report = load(FLUX_REPO.format(api="v1", ns="") + FLUX_POLICY.format(api="v1")
                        + "---\n" + native)  # fmt: skip
    assert report.errors == []
    named = book.find("flux-system", "web")
    assert (named.flux, named.image) == (False, "ghcr.io/acme/other")


def test_a_reference_to_the_only_policy_says_it_is_invalid() -> None:
    """With no valid policy at all, a reference still names the invalid one's reason."""
    book, report = load(
        "apiVersion: imageupdater.io/v1\nkind: ImagePolicy\n"
        "metadata: {name: web, namespace: shop}\nspec: {policy: {semver: {}}}\n"
    )
    assert report.errors
    with pytest.raises(PolicyError, match="'shop/web' is invalid"):
        book.parse("@shop/web")
