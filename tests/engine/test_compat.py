"""Drop-in compatibility: Flux v2, Flux v1 and Keel repositories, before and after migrate.

The fixture repositories under tests/data/compat are set up as each tool documents; the
registry serves the same images to all three, so the choices can be compared directly.
"""

from __future__ import annotations

import difflib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from imageupdater.cli import main
from imageupdater.commands import migrate
from imageupdater.engine import Plan, make_plan
from tests.engine.fakeoci import FakeOCI

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
FIXTURES = Path(__file__).resolve().parent.parent / "data" / "compat"

WEB = {"1.0.0": "01", "1.1.0": "02", "1.2.0": "03", "1.3.0-rc.1": "04", "2.0.0": "05"}
API = {"main-aaa111-1700000100": "01", "main-ccc333-1700000200": "02",
       "main-bbb222-1700000300": "03", "main-ddd444-1700000400-debug": "04"}  # fmt: skip
WORKER = {"3.1.0": "01", "3.2.0": "02", "3.2.1": "03", "4.0.0": "04"}


def registry() -> FakeOCI:
    """Build times follow the versions, so build-time and version policies agree."""
    oci = FakeOCI()
    for repo, tags in (("acme/web", WEB), ("acme/api", API), ("acme/worker", WORKER)):
        for tag, month in tags.items():
            digest = oci.image(f"2026-{month}-01T00:00:00Z", seed=f"{repo}:{tag}")
            oci.tag(repo, tag, digest)
    return oci


def checkout(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    shutil.copytree(FIXTURES / name, root)
    return root


def plan(root: Path, oci: FakeOCI | None = None) -> Plan:
    with (oci or registry()).client() as client:
        return make_plan(root, client, NOW)


def choices(result: Plan) -> set[tuple[str | None, str | None, str, str]]:
    return {(u.workload, u.container, u.image, u.to_tag) for u in result.report.updates}


def test_flux_v2_markers_and_image_policies(tmp_path: Path) -> None:
    oci = registry()
    result = plan(checkout(tmp_path, "flux2"), oci)
    report = result.report
    assert report.errors == []
    worker_digest = oci.tags["acme/worker"]["3.2.1"]
    rows = {(u.file, u.line): u for u in report.updates}
    assert {key: (u.workload, u.container, u.from_tag, u.to_tag) for key, u in rows.items()} == {
        ("apps/web.yaml", 11): ("Deployment/shop/web", None, "1.0.0", "1.2.0"),
        ("apps/kustomization.yaml", 8): (
            None,  # no metadata.name: not a Kubernetes object
            None,
            "main-aaa111-1700000100",
            "main-bbb222-1700000300",  # -debug excluded by the ImageRepository
        ),
        ("apps/values.yaml", 6): (None, None, "3.1.0", "3.2.1"),
        ("apps/values.yaml", 7): (None, None, f"sha256:{'0' * 64}", worker_digest),
    }
    assert rows[("apps/values.yaml", 7)].digest == worker_digest
    texts = {c.relpath: c.after_text for c in result.changes}
    assert (
        'image: reg.test/acme/web:1.2.0 # {"$imagepolicy": "flux-system:web"}\n'
        in texts["apps/web.yaml"]
    )
    assert 'tag: "3.2.1" # {' in texts["apps/values.yaml"]  # the quotes stay
    # name markers already hold the name: up to date, not rewritten
    assert sorted(s.reason for s in report.skipped) == ["up-to-date", "up-to-date"]


def test_flux_v1_annotations(tmp_path: Path) -> None:
    result = plan(checkout(tmp_path, "flux1"))
    assert result.report.errors == []
    assert choices(result) == {
        ("Deployment/shop/web", "web", "reg.test/acme/web", "1.2.0"),
        # glob: newest build matching main-*, which here is the -debug build
        ("Deployment/shop/web", "api", "reg.test/acme/api", "main-ddd444-1700000400-debug"),
        ("Deployment/shop/worker", "worker", "reg.test/acme/worker", "3.2.1"),
        # automated without a tag pattern: Flux v1's default, the newest build of any tag
        ("Deployment/shop/sidecar", "sidecar", "reg.test/acme/api", "main-ddd444-1700000400-debug"),
    }
    skipped = {(s.workload, s.reason, s.detail) for s in result.report.skipped}
    assert ("Deployment/shop/batch", "frozen", "locked (fluxcd.io/locked): incident 42") in skipped


def test_keel_annotations(tmp_path: Path) -> None:
    result = plan(checkout(tmp_path, "keel"))
    assert result.report.errors == []
    assert choices(result) == {
        ("Deployment/shop/web", "web", "reg.test/acme/web", "1.2.0"),
        ("Deployment/shop/api", "api", "reg.test/acme/api", "main-ddd444-1700000400-debug"),
        ("StatefulSet/shop/worker", "worker", "reg.test/acme/worker", "3.2.1"),
    }
    assert [(s.workload, s.reason) for s in result.report.skipped] == [
        ("Deployment/shop/legacy", "never")
    ]


@pytest.mark.parametrize(
    ("annotations", "reason"),
    [
        ({"keel.sh/policy": "force"}, "unknown policy kind 'keel'"),
        ({"fluxcd.io/automated": "true", "fluxcd.io/tag.web": "regexp:("}, "invalid regular"),
    ],
)
def test_invalid_compat_policies_name_file_and_line(
    tmp_path: Path, annotations: dict[str, str], reason: str
) -> None:
    notes = "".join(f"    {k}: {v!r}\n" for k, v in annotations.items())
    (tmp_path / "web.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations:\n"
        f"{notes}spec:\n  template:\n    spec:\n      containers:\n"
        "        - name: web\n          image: reg.test/acme/web:1.0.0\n"
    )
    report = plan(tmp_path).report
    (error,) = report.errors
    assert (error.kind, error.file, error.line) == ("config", "web.yaml", 5 + len(annotations))
    assert reason in error.message
    assert [s.reason for s in report.skipped] == ["invalid-policy"]


# --- migrate --------------------------------------------------------------------------


def changed_lines(before: str, after: str) -> int:
    diff = difflib.ndiff(before.splitlines(), after.splitlines())
    return sum(1 for line in diff if line.startswith("- "))


@pytest.mark.parametrize("name", ["flux2", "flux1", "keel"])
def test_migrate_then_plan_gives_the_same_choices(tmp_path: Path, name: str) -> None:
    root = checkout(tmp_path, name)
    before = choices(plan(root))
    texts = {p: p.read_text() for p in root.rglob("*.yaml")}
    result = migrate(root, write=True)
    assert result.report.errors == []
    after = choices(plan(root))
    assert after == before
    assert migrate(root, write=False).changes == []  # idempotent
    for path, text in texts.items():
        new = path.read_text()
        assert "fluxcd.io/tag." not in new
        assert "keel.sh/policy" not in new
        assert changed_lines(text, new) <= text.count("fluxcd.io/") + text.count("keel.sh/policy")
    if name == "flux2":
        # the native twins decide now: Flux's objects can go
        (root / "flux-system" / "images.yaml").unlink()
        assert choices(plan(root)) == before


def test_migrate_diff_is_minimal_and_keeps_comments(tmp_path: Path) -> None:
    root = checkout(tmp_path, "flux1")
    path = root / "apps" / "deployments.yaml"
    text = path.read_text()
    result = migrate(root, write=False)
    assert path.read_text() == text  # dry run
    (migrated,) = result.files
    after = migrated.after_text
    assert (
        "    # the worker follows 3.2 builds\n    imageupdater.io/policy.worker: regex:^3\\.2\\.\n"
        in after
    )
    assert '    imageupdater.io/frozen: "true"\n' in after  # the quotes of the value stay
    rows = [
        (c.line, c.before, c.after) for c in result.changes if c.workload == "Deployment/shop/web"
    ]
    assert rows == [
        (7, "fluxcd.io/automated: true", "(removed)"),
        (8, "fluxcd.io/tag.web: semver:^1.0", "imageupdater.io/policy.web: semver:^1.0"),
        (9, "fluxcd.io/tag.api: glob:main-*", "imageupdater.io/policy.api: glob:main-*"),
    ]


def test_migrate_leaves_invalid_and_native_workloads_alone(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\n  annotations:\n"
        "    keel.sh/policy: force\nspec:\n  template:\n    spec:\n      containers:\n"
        "        - name: a\n          image: reg.test/acme/web:1.0.0\n"
        "---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: b\n  annotations:\n"
        "    keel.sh/policy: minor\n    imageupdater.io/policy: patch\nspec:\n  template:\n"
        "    spec:\n      containers:\n        - name: b\n          image: reg.test/acme/web:1\n"
    )
    result = migrate(tmp_path, write=True)
    assert result.changes == []
    assert [(e.kind, e.file, e.line) for e in result.report.errors] == [("config", "a.yaml", 6)]


def test_migrate_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = checkout(tmp_path, "keel")
    with pytest.raises(SystemExit) as exited:
        main(["migrate", str(root), "--format", "json", "--dry-run", "--diff"])
    assert exited.value.code == 0
    document = json.loads(capsys.readouterr().out)
    assert document["written"] is False
    assert [c["to"] for c in document["changes"]] == [
        "imageupdater.io/policy: minor",
        "imageupdater.io/policy: glob:main-*",
        "imageupdater.io/policy: patch",
        "imageupdater.io/policy: never",
    ]
    assert "+    imageupdater.io/policy: minor\n" in document["diff"]
    with pytest.raises(SystemExit) as exited:
        main(["migrate", str(root)])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert (
        "apps/deployments.yaml:7  keel.sh/policy: minor  ->  imageupdater.io/policy: minor" in out
    )


def test_markers_respect_freezes_and_annotations(tmp_path: Path) -> None:
    root = checkout(tmp_path, "flux2")
    (root / "apps" / "more.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: frozen\n  annotations:\n"
        "    imageupdater.io/frozen: 'true'\nspec:\n  template:\n    spec:\n      containers:\n"
        "        - name: a\n"
        '          image: reg.test/acme/web:1.0.0 # {"$imagepolicy": "flux-system:web"}\n'
        "---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: annotated\n  annotations:\n"
        "    imageupdater.io/policy: patch\nspec:\n  template:\n    spec:\n      containers:\n"
        "        - name: b\n"
        '          image: reg.test/acme/web:1.0.0 # {"$imagepolicy": "flux-system:web"}\n'
    )
    report = plan(root).report
    rows = {(s.workload, s.reason) for s in report.skipped if s.file == "apps/more.yaml"}
    assert rows == {("Deployment/frozen", "frozen"), ("Deployment/annotated", "up-to-date")}
    assert not [u for u in report.updates if u.file == "apps/more.yaml"]


def test_plan_subsets_carry_marker_edits_only_when_asked(tmp_path: Path) -> None:
    result = plan(checkout(tmp_path, "flux2"))
    assert len(result.marker_edits) == 4
    without = result.subset(lambda d: True)
    assert without.report.updates == []
    assert without.changes == []
    kept = result.subset(lambda d: True, markers=True)
    assert sorted(u.line for u in kept.report.updates) == [6, 7, 8, 11]
    assert {c.relpath for c in kept.changes} == {c.relpath for c in result.changes}


def test_one_tag_walk_per_repository_for_annotations_and_markers(tmp_path: Path) -> None:
    root = checkout(tmp_path, "flux2")
    (root / "apps" / "annotated.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: other\n  annotations:\n"
        "    imageupdater.io/policy: minor\nspec:\n  template:\n    spec:\n      containers:\n"
        "        - name: other\n          image: reg.test/acme/web:1.0.0\n"
    )
    oci = registry()
    result = plan(root, oci)
    assert ("Deployment/other", "other", "reg.test/acme/web", "1.2.0") in choices(result)
    assert oci.gets("tags/list") == 3  # web, api, worker: once each
