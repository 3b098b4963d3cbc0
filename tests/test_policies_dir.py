"""`policies/`: the example named policies load cleanly and select what their comments say.

The files are read the way a scan reads them (`load_documents`, then `load_policies`);
selection goes through `policy_explain`, the function behind `policy select --dir`, and
through the command line itself for the example in `policies/README.md`. The policies
that need registry metadata (build times, platforms, digests) are tried against an
in-process registry.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from imageupdater import app
from imageupdater.cli import main
from imageupdater.commands import policy_explain
from imageupdater.errors import PolicyError
from imageupdater.namedpolicies import PolicyBook, holds_policy_documents, load_policies
from imageupdater.policy.base import metadata_policy
from imageupdater.policy.named import FilteredPolicy
from imageupdater.report import Report
from imageupdater.yamledit import Node, load_documents
from tests.engine.fakeoci import FakeOCI

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
NATIVE = {
    "platform/stable-semver",
    "platform/minor",
    "platform/patch-only",
    "platform/main-builds",
    "platform/minio-releases",
    "platform/nightly-soaked",
    "platform/minor-after-a-week",
    "platform/multi-arch",
    "platform/digest-pinned",
}
FLUX = {"flux-system/podinfo"}
NEEDS_REGISTRY = [
    "@platform/nightly-soaked",
    "@platform/minor-after-a-week",
    "@platform/multi-arch",
    "@platform/digest-pinned",
]


def policy_files() -> list[Path]:
    return sorted(p for p in POLICIES.rglob("*") if p.suffix in (".yaml", ".yml"))


def documents(path: Path) -> list[Node]:
    return [d for d in load_documents(path.read_text()) if d is not None]


def load() -> tuple[PolicyBook, Report]:
    report = Report()
    found = [
        (path.relative_to(ROOT).as_posix(), document)
        for path in policy_files()
        for document in documents(path)
    ]
    return load_policies(found, report), report


def test_every_file_loads_without_errors() -> None:
    assert policy_files()
    book, report = load()
    assert [(e.file, e.line, e.message) for e in report.errors] == []
    assert book.invalid == {}


@pytest.mark.parametrize("path", policy_files(), ids=lambda p: p.name)
def test_every_file_holds_policies_and_explains_them(path: Path) -> None:
    assert holds_policy_documents(documents(path))
    assert path.read_text().startswith("# ")  # when to use it comes first


def test_the_expected_policies_are_present() -> None:
    book, _ = load()
    assert set(book.policies) == NATIVE | FLUX
    for key in NATIVE:
        assert not book.policies[key].flux, key
    podinfo = book.find("flux-system", "podinfo")
    assert (podinfo.flux, podinfo.image) == (True, "ghcr.io/stefanprodan/podinfo")
    assert book.find("platform", "minio-releases").image == "quay.io/minio/minio"


def test_every_policy_is_listed_in_the_readme() -> None:
    readme = (POLICIES / "README.md").read_text()
    for key in NATIVE | FLUX:
        assert f"`{key}`" in readme, key
    for path in policy_files():
        assert f"`{path.name}`" in readme, path.name


def test_registry_policies_are_what_their_comments_say() -> None:
    book, _ = load()
    multi = book.find("platform", "multi-arch").policy
    assert isinstance(multi, FilteredPolicy)
    assert multi.platforms == ("linux/amd64", "linux/arm64")
    week = book.find("platform", "minor-after-a-week").policy
    assert isinstance(week, FilteredPolicy)
    assert week.min_age == timedelta(days=7)
    nightly = book.find("platform", "nightly-soaked").policy
    assert isinstance(nightly, FilteredPolicy)
    assert nightly.min_age == timedelta(hours=24)
    for expression in NEEDS_REGISTRY[:3]:
        assert metadata_policy(book.parse(expression)) is not None, expression
    assert getattr(book.parse("@platform/digest-pinned"), "tracks_digest", False)


MAIN_BUILDS = [
    "main-3f2a1c9-1718445600",
    "main-9b8e7d6-1718532000",
    "main-0a1b2c3-1718500000",
    "feature-x-1a2b3c4-1718600000",  # another branch, even if newer
    "1.4.0",
    "latest",
]
MINIO = [
    "RELEASE.2024-05-10T01-41-38Z",
    "RELEASE.2024-06-04T19-20-08Z",
    "RELEASE.2024-06-13T22-53-53Z",
    "RELEASE.2024-06-13T22-53-53Z.fips",
    "RELEASE.2024-06-13T22-53-53Z-cpuv1",
    "latest",
]


@pytest.mark.parametrize(
    ("expression", "current", "tags", "selected"),
    [
        ("@platform/stable-semver", None,
         ["1.2.0", "1.3.1", "1.3.2-debug", "1.4.0-rc.1", "2.0.0", "latest"], "1.3.1"),
        ("@platform/stable-semver", "1.25.3-alpine",
         ["1.25.3-alpine", "1.27.0", "1.27.0-alpine", "1.27-alpine", "2.0.0-alpine"],
         "1.27.0-alpine"),
        ("@platform/minor", "1.4.2", ["1.4.2", "1.4.9", "1.7.0", "1.8.0-rc.1", "2.0.0"], "1.7.0"),
        ("@platform/minor", "1.5.0-rc.1", ["1.4.9", "1.5.0-rc.2", "1.6.0-rc.1"], "1.5.0-rc.2"),
        ("@platform/patch-only", "1.4.2", ["1.4.2", "1.4.9", "1.5.0", "2.0.0"], "1.4.9"),
        ("@platform/patch-only", "1.4.9", ["1.4.2", "1.4.9", "1.5.0", "2.0.0"], None),
        ("@platform/main-builds", MAIN_BUILDS[0], MAIN_BUILDS, "main-9b8e7d6-1718532000"),
        ("@platform/main-builds", "main-9b8e7d6-1718532000", MAIN_BUILDS, None),
        ("@platform/minio-releases", MINIO[0], MINIO, "RELEASE.2024-06-13T22-53-53Z"),
        ("@flux-system/podinfo", None, ["5.0.0", "5.0.3", "5.1.0", "6.0.0"], "5.0.3"),
    ],
)  # fmt: skip
def test_selection(
    expression: str, current: str | None, tags: list[str], selected: str | None
) -> None:
    selection = policy_explain(expression, tags, current, policies_dir=POLICIES)
    assert selection.selected == selected


def test_explain_names_the_filters() -> None:
    tags = ["1.2.0", "1.3.1", "1.3.2-debug", "1.4.0-rc.1", "2.0.0"]
    reasons = policy_explain(
        "@platform/stable-semver", tags, None, policies_dir=POLICIES, explain=True
    ).reasons
    assert reasons["1.3.2-debug"] == "excluded by '-debug$'"
    assert reasons["2.0.0"] == "outside the range >=1.0.0 <2.0.0"
    reasons = policy_explain(
        "@platform/main-builds", MAIN_BUILDS, None, policies_dir=POLICIES, explain=True
    ).reasons
    assert reasons["feature-x-1a2b3c4-1718600000"].startswith("does not match filterTags")


def test_the_readme_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tags = tmp_path / "tags.txt"
    tags.write_text("1.2.0\n1.3.1\n1.3.2-debug\n1.4.0-rc.1\n2.0.0\nlatest\n")
    argv = ["policy", "select", "@platform/stable-semver", "--dir", str(POLICIES)]
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--tags-file", str(tags)])
    assert exited.value.code == 0
    assert capsys.readouterr().out == "1.3.1\n"
    with pytest.raises(SystemExit) as exited:
        main(["policy", "select", "@platform/main-builds", "--dir", str(POLICIES),
              "--current", *MAIN_BUILDS[:3], "1.4.0"])  # fmt: skip
    assert exited.value.code == 0
    assert capsys.readouterr().out == "main-9b8e7d6-1718532000\n"


@pytest.mark.parametrize("expression", NEEDS_REGISTRY)
def test_registry_policies_ask_for_an_image(expression: str) -> None:
    with pytest.raises(PolicyError, match="--image"):
        policy_explain(expression, ["1.0.0", "1.1.0"], "1.0.0", policies_dir=POLICIES)


NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
IMAGE = "reg.test/acme/web"


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> FakeOCI:
    oci = FakeOCI()
    both = ["linux/amd64", "linux/arm64/v8"]
    for tag, digest in [
        ("1.0.0", oci.index("2026-01-01T00:00:00Z", both)),
        ("1.3.0", oci.image("2026-10-20T00:00:00Z", seed="1.3.0")),  # amd64 only, a month old
        ("1.4.0", oci.index("2026-11-21T00:00:00Z", both)),  # two days old
        ("1.5.0", oci.image("2026-11-22T00:00:00Z", seed="1.5.0")),  # amd64 only, a day old
        ("2.0.0", oci.index("2026-10-01T00:00:00Z", both)),
        ("nightly-20261120", oci.image("2026-11-20T02:00:00Z", seed="n20")),
        ("nightly-20261121", oci.image("2026-11-21T02:00:00Z", seed="n21")),
        ("nightly-20261123", oci.image("2026-11-23T02:00:00Z", seed="n23")),  # ten hours old
        ("nightly-20261123-debug", oci.image("2026-11-23T03:00:00Z", seed="n23d")),
    ]:
        oci.tag("acme/web", tag, digest)
    monkeypatch.setattr(app, "registry_client", lambda options: oci.client())
    return oci


@pytest.mark.parametrize(
    ("expression", "image", "selected"),
    [
        # 1.5.0 lacks arm64; 1.4.0 has it (as linux/arm64/v8); 2.0.0 is another major
        ("@platform/multi-arch", f"{IMAGE}:1.0.0", "1.4.0"),
        # 1.5.0 and 1.4.0 are younger than a week
        ("@platform/minor-after-a-week", f"{IMAGE}:1.0.0", "1.3.0"),
        # nightly-20261123 is ten hours old; the -debug build does not match
        ("@platform/nightly-soaked", f"{IMAGE}:nightly-20261120", "nightly-20261121"),
        ("@platform/digest-pinned", f"{IMAGE}:1.4.0", "1.4.0"),
    ],
)
def test_registry_policies_against_a_registry(
    registry: FakeOCI, expression: str, image: str, selected: str
) -> None:
    selection = policy_explain(
        expression, [], None, image=image, options=app.Options(now=NOW), policies_dir=POLICIES
    )
    assert selection.selected == selected
    assert selection.digest == registry.tags["acme/web"][selected]
