"""Flux image-automation-controller vectors (`flux-iac-setters.json`) through our markers.

Every table is run here or listed in NOT_APPLICABLE with the reason; rows where SPEC differs
on purpose are asserted with SPEC's answer and the reason next to them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from imageupdater.engine import make_plan
from imageupdater.markers import LatestRef, find_markers, setter_value
from imageupdater.registry import parse_reference
from imageupdater.yamledit import Edit, apply_edits, load_documents
from tests.engine.fakeoci import FakeOCI
from tests.policy.vectors import load

SETTERS: dict[str, Any] = load("flux-iac-setters.json")
METADATA = {"source", "marker_grammar"}
TESTED = {"UpdateWithSetters", "ApplyPolicies", "image_ref_parsing", "legacy_formatting_fixtures"}
NOT_APPLICABLE = {
    "commit_message": "Flux commit templates are Go text/template; SPEC §6 uses Jinja2 "
    "(tests/workspace covers ours)",
}
DOCKER_HUB = (
    "Flux normalises Docker Hub to index.docker.io; SPEC §7 uses docker.io "
    "(the same registry, one spelling)"
)
RE_INDENTS = (
    "the 2020 kyaml rewrite re-indented block sequences; SPEC §5 changes only the scalar's "
    "bytes, so our output is the original with the value replaced"
)


def test_every_table_is_run_or_explained() -> None:
    assert set(SETTERS) - METADATA == TESTED | set(NOT_APPLICABLE)


def run_setters(name: str, text: str, latest: dict[tuple[str, str], LatestRef]) -> str:
    """What one file becomes: every marker naming a known policy gets the policy's value."""
    documents = load_documents(text)
    markers, problems = find_markers(name, text, list(documents))
    assert problems == []
    edits = []
    for marker in markers:
        ref = latest.get(marker.policy_key)
        if ref is None:
            continue  # out of scope, as in Flux: left alone
        value = setter_value(marker, ref, with_digest=ref.digest is not None)
        if value is not None and value != marker.scalar.value:
            edits.append(Edit(marker.scalar, value))
    return apply_edits(text, edits) if edits else text


def test_update_with_setters() -> None:
    table = SETTERS["UpdateWithSetters"]
    latest = {
        (p["namespace"], p["name"]): LatestRef(
            p["latestRef"]["name"], p["latestRef"]["tag"], p["latestRef"].get("digest")
        )
        for p in table["policies"]
    }
    written = {}
    for name, text in table["input_files"].items():
        if not isinstance(text, str):
            continue  # the dangling symlink: tests/e2e covers how the walker skips it
        after = run_setters(name, text, latest)
        if after != text:
            written[name] = after
    assert written == table["expected_written_files"]
    # `Kustomization` (no extension) is read too (SPEC §5); otherns/unmarked are not written
    assert "Kustomization" in written


@pytest.mark.parametrize(
    "case", SETTERS["ApplyPolicies"]["cases"], ids=lambda c: c["name"].replace(" ", "-")
)
def test_apply_policies(case: dict[str, Any]) -> None:
    fixtures = SETTERS["ApplyPolicies"]["fixtures"]
    if case.get("expect_error"):
        # the update strategy belongs to Flux's ImageUpdateAutomation; ours has one strategy
        assert case["update"] in (None, {"strategy": "foo"})
        return
    policy = case["marker_policy"]
    marker = json.dumps({"$imagepolicy": f"test-ns:{policy}"})
    latest = {}
    for name, ref in case["policies"].items():
        image, _, tag = ref.partition(":")
        latest[("test-ns", name)] = LatestRef(image, tag)
    source = case["input"].rsplit("/", 1)[-1]
    expected = case["expected"].rsplit("/", 1)[-1]
    scope = case["update"].get("path", ".").removeprefix("./")
    for path, text in fixtures.items():
        if not path.startswith(source + "/"):
            continue
        relative = path.removeprefix(source + "/")
        text = text.replace("SETTER_SITE", marker)
        want = fixtures[f"{expected}/{relative}"].replace("SETTER_SITE", marker)
        in_scope = scope == "." or relative.startswith(scope + "/")  # the scan root
        got = run_setters(relative, text, latest) if in_scope else text
        assert got == want, path


@pytest.mark.parametrize("row", SETTERS["image_ref_parsing"], ids=lambda r: r["ref"].split("@")[0])
def test_image_ref_parsing(row: dict[str, Any]) -> None:
    ref = parse_reference(row["ref"])
    assert ref.repository == row["Repository"]
    registry = row["Registry"]
    if registry == "index.docker.io":
        assert ref.registry == "docker.io", DOCKER_HUB
    else:
        assert ref.registry == registry
    identifier = row["Identifier"]
    assert identifier in (ref.tag, ref.digest)


def test_legacy_formatting_fixtures() -> None:
    fixtures = SETTERS["legacy_formatting_fixtures"]
    original = fixtures["replace/original/deployment.yaml"]
    replaced = original.replace("used:v1.0.0", "used:v1.1.0")
    assert replaced == fixtures["replace/expected/deployment.yaml"]  # the same as Flux
    for name, old, new in (
        ("replace/commented", "used:v1.0.0", "used:v1.1.0"),
        ("leave/original", "", ""),
    ):
        text = fixtures[f"{name}/deployment.yaml"]
        documents = load_documents(text)
        scalar = documents[0]["spec"]["template"]["spec"]["containers"][0]["image"]  # type: ignore[index,call-overload]
        value = new or scalar.value
        after = apply_edits(text, [Edit(scalar, value)])
        assert after == (text.replace(old, new) if old else text), RE_INDENTS
        expected_name = (
            name.replace("original", "expected") if "leave" in name else (name + "-expected")
        )
        assert after != fixtures[f"{expected_name}/deployment.yaml"], RE_INDENTS


FLUX_OBJECTS = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: updated, namespace: automation-ns}
spec: {image: index.repo.fake/updated}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: image, namespace: automation-ns}
spec: {image: image}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: policy, namespace: automation-ns}
spec: {imageRepositoryRef: {name: updated}, policy: {semver: {range: ">=1.0.0"}}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: unchanged, namespace: automation-ns}
spec: {imageRepositoryRef: {name: image}, policy: {semver: {range: "1.0.x"}}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: policy-with-digest, namespace: automation-ns}
spec:
  imageRepositoryRef: {name: image}
  policy: {semver: {range: "1.0.x"}}
  digestReflectionPolicy: Always
"""


def test_update_with_setters_through_the_whole_pipeline(tmp_path: Path) -> None:
    """The same table, with the policies resolved from Flux objects and a registry."""
    table = SETTERS["UpdateWithSetters"]
    digest = table["policies"][2]["latestRef"]["digest"]
    oci = FakeOCI()
    oci.tag("updated", "v1.0.1", oci.image("2026-01-01T00:00:00Z", seed="updated"))
    oci.tag("updated", "v0.9.0", oci.image("2025-01-01T00:00:00Z", seed="old"))
    oci.tags.setdefault("library/image", {})["v1.0.0"] = digest
    oci.blobs[digest] = oci.blobs[oci.image("2026-01-01T00:00:00Z", seed="image")]
    for name, text in table["input_files"].items():
        if isinstance(text, str):
            (tmp_path / name).write_text(text)
        else:
            (tmp_path / name).symlink_to(tmp_path / text["symlink_to"])  # dangling
    (tmp_path / "flux-system.yaml").write_text(FLUX_OBJECTS)
    with oci.client() as client:
        result = make_plan(tmp_path, client, datetime(2026, 11, 23, tzinfo=UTC))
    written = {change.relpath: change.after_text for change in result.changes}
    assert written == table["expected_written_files"]
    # Flux leaves a marker for a policy outside its namespace alone; ours says why (SPEC)
    assert [(e.kind, e.file) for e in result.report.errors] == [("config", "otherns.yaml")]
