"""What `plan`/`apply` read and write, end to end (SPEC §4 options, §5 "Editing files").

Which names are YAML (`.yml`, extension-less `Kustomization`), what is skipped out loud
(over 10 MiB, symlinks leaving the root), byte-exact edits of BOM + CRLF files and
digest-pinned values, `--now` against freeze windows, a scan root below the repository
top, `--branch`, and a user's staged work.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from imageupdater.devtools import LocalRegistry
from imageupdater.devtools.seed import seed_storage
from tests.e2e.conftest import run_cli
from tests.gitenv import clone_pair, git, make_hermetic

REPO = "files/app"
TAGS = ["1.0.0", "1.1.0", "1.2.0"]


@pytest.fixture(scope="module")
def digests(registry: LocalRegistry) -> dict[str, str]:
    """Every tag gets its own build time, so its own digest."""
    return seed_storage(
        registry.root, REPO, TAGS, created=lambda tag: f"2024-0{tag[2]}-01T00:00:00Z"
    )


def deployment(name: str, image: str, *, annotations: str = "", nl: str = "\n") -> str:
    text = f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  annotations:
    imageupdater.io/policy: "semver:^1"
{annotations}spec:
  template:
    spec:
      containers:
        - name: {name}
          image: {image}
"""
    return text.replace("\n", nl)


@dataclass
class Checkout:
    host: str
    remote: Path
    work: Path

    @property
    def image(self) -> str:
        return f"{self.host}/{REPO}"

    def cli(self, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
        code = run_cli([*argv, "--format", "json"], capsys)
        return code, json.loads(capsys.readouterr().out)

    def committed(self, name: str, rev: str = "HEAD") -> bytes:
        """The exact bytes git stored (no text decoding, no newline handling)."""
        return subprocess.run(
            ["git", "cat-file", "blob", f"{rev}:{name}"],
            cwd=self.work,
            capture_output=True,
            check=True,
        ).stdout


def make_checkout(
    registry: LocalRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]
) -> Checkout:
    make_hermetic(tmp_path, monkeypatch)
    remote, work = clone_pair(tmp_path, files)
    return Checkout(registry.host, remote, work)


@pytest.fixture
def empty(
    registry: LocalRegistry,
    digests: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Checkout:
    return make_checkout(registry, tmp_path, monkeypatch, {"README.md": "fleet\n"})


def add_files(checkout: Checkout, files: dict[str, bytes | str]) -> None:
    for name, content in files.items():
        path = checkout.work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    git(checkout.work, "add", "-A")
    git(checkout.work, "commit", "-q", "-m", "add manifests")


def test_yml_and_extensionless_kustomization_are_read_other_names_are_not(
    empty: Checkout, capsys: pytest.CaptureFixture[str]
) -> None:
    image = f"{empty.image}:1.0.0"
    add_files(
        empty,
        {
            "a/deploy.yml": deployment("yml", image),
            "b/Kustomization": deployment("kust", image),
            "c/deploy.json": deployment("json", image),
            "c/deploy.yaml.orig": deployment("orig", image),
            "c/Dockerfile": deployment("docker", image),
            "c/kustomization": deployment("lower", image),  # kustomize's name is capitalised
        },
    )
    code, report = empty.cli(capsys, "apply", str(empty.work))
    assert code == 0, report
    assert [(u["file"], u["workload"], u["to"]) for u in report["updates"]] == [
        ("a/deploy.yml", "Deployment/yml", "1.2.0"),
        ("b/Kustomization", "Deployment/kust", "1.2.0"),
    ]
    assert report["skipped"] == []  # other names are ignored silently
    changed = git(empty.work, "show", "--name-only", "--format=", "HEAD").splitlines()
    assert changed == ["a/deploy.yml", "b/Kustomization"]


def test_file_over_10_mib_is_reported_as_ignored(
    empty: Checkout, capsys: pytest.CaptureFixture[str]
) -> None:
    big = deployment("big", f"{empty.image}:1.0.0") + "#" * (10 * 1024 * 1024) + "\n"
    just_fits = deployment("fits", f"{empty.image}:1.0.0")
    just_fits += "#" * (10 * 1024 * 1024 - len(just_fits) - 1) + "\n"
    assert len(just_fits.encode()) == 10 * 1024 * 1024
    add_files(empty, {"apps/big.yaml": big, "apps/fits.yaml": just_fits})

    code, report = empty.cli(capsys, "plan", str(empty.work))

    assert code == 0
    assert [u["file"] for u in report["updates"]] == ["apps/fits.yaml"]
    assert [(s["file"], s["reason"]) for s in report["skipped"]] == [
        ("apps/big.yaml", "ignored-file")
    ]
    assert "workload" not in report["skipped"][0]  # a file-level row


def test_symlink_leaving_the_root_is_reported_and_not_followed(
    empty: Checkout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text(deployment("outside", f"{empty.image}:1.0.0"))
    (empty.work / "apps").mkdir()
    (empty.work / "apps/link.yaml").symlink_to(outside / "secret.yaml")
    (empty.work / "linkdir").symlink_to(outside, target_is_directory=True)
    git(empty.work, "add", "-A")
    git(empty.work, "commit", "-q", "-m", "links")

    code, report = empty.cli(capsys, "apply", str(empty.work))

    assert code == 0, report
    assert report["updates"] == []
    assert sorted((s["file"], s["reason"]) for s in report["skipped"]) == [
        ("apps/link.yaml", "ignored-file"),
        ("linkdir", "ignored-file"),
    ]
    assert "1.0.0" in (outside / "secret.yaml").read_text()  # never written through


def test_bom_and_crlf_file_is_edited_byte_exactly(
    empty: Checkout, capsys: pytest.CaptureFixture[str]
) -> None:
    body = deployment(
        "crlf",
        f"{empty.image}:1.0.0   # trailing comment\t",
        annotations="    note: 'tabs\tand  spaces '  \n",
        nl="\r\n",
    )
    original = "\ufeff# BOM first\r\n".encode() + body.encode()
    add_files(empty, {"apps/crlf.yaml": original})

    code, report = empty.cli(capsys, "apply", str(empty.work))

    assert code == 0, report
    assert [(u["line"], u["to"]) for u in report["updates"]] == [(14, "1.2.0")]
    expected = original.replace(b"/files/app:1.0.0 ", b"/files/app:1.2.0 ")
    assert expected != original
    assert (empty.work / "apps/crlf.yaml").read_bytes() == expected
    assert empty.committed("apps/crlf.yaml") == expected


def test_digest_pinned_value_keeps_its_style_with_the_new_digest(
    empty: Checkout, digests: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    add_files(
        empty,
        {
            "apps/pinned.yaml": deployment("pinned", f"{empty.image}:1.0.0@{digests['1.0.0']}"),
            "apps/bare.yaml": deployment("bare", empty.image),
        },
    )

    code, report = empty.cli(capsys, "apply", str(empty.work))

    assert code == 0, report
    (update,) = report["updates"]
    assert (update["file"], update["from"], update["to"]) == ("apps/pinned.yaml", "1.0.0", "1.2.0")
    assert update["image"] == empty.image  # no tag, no digest
    assert update["digest"] == digests["1.2.0"]
    assert digests["1.2.0"] != digests["1.0.0"]
    text = (empty.work / "apps/pinned.yaml").read_text()
    assert f"image: {empty.image}:1.2.0@{digests['1.2.0']}\n" in text
    # a value without a tag is `latest`: only digest policies may move it
    assert [(s["file"], s["reason"]) for s in report["skipped"]] == [
        ("apps/bare.yaml", "no-candidate")
    ]


def test_now_decides_whether_a_freeze_window_holds(
    empty: Checkout, capsys: pytest.CaptureFixture[str]
) -> None:
    freeze = (
        "    imageupdater.io/frozen-until: '2030-01-01T00:00:00Z'\n"
        "    imageupdater.io/frozen-reason: year-end freeze\n"
    )
    add_files(
        empty, {"apps/held.yaml": deployment("held", f"{empty.image}:1.0.0", annotations=freeze)}
    )

    code, report = empty.cli(capsys, "plan", str(empty.work), "--now", "2029-12-31T23:59:59Z")
    assert code == 0
    assert report["updates"] == []
    (skip,) = report["skipped"]
    assert skip["reason"] == "frozen"
    assert "2030-01-01" in skip["detail"]
    assert "year-end freeze" in skip["detail"]

    # the window ends at its instant, whatever offset --now is written in
    for now, frozen in [
        ("2030-01-01T00:59:59+01:00", True),
        ("2030-01-01T01:00:00+01:00", False),
        ("2030-01-02", False),
    ]:
        code, report = empty.cli(
            capsys, "plan", str(empty.work), "--now", now, "--detailed-exitcode"
        )
        assert (code, [s["reason"] for s in report["skipped"]]) == (
            (0, ["frozen"]) if frozen else (2, [])
        ), now
        assert [u["to"] for u in report["updates"]] == ([] if frozen else ["1.2.0"])


def test_scan_root_below_the_repository_top(
    empty: Checkout, capsys: pytest.CaptureFixture[str]
) -> None:
    add_files(
        empty,
        {
            "clusters/prod/app.yaml": deployment("prod", f"{empty.image}:1.0.0"),
            "clusters/dev/app.yaml": deployment("dev", f"{empty.image}:1.0.0"),
        },
    )

    code, report = empty.cli(capsys, "apply", str(empty.work / "clusters/prod"), "--push")

    assert code == 0, report
    assert [u["file"] for u in report["updates"]] == ["app.yaml"]  # relative to DIR
    assert report["pushed"] is True
    assert git(empty.remote, "rev-parse", "main") == report["commit"]
    changed = git(empty.work, "show", "--name-only", "--format=", "HEAD").splitlines()
    assert changed == ["clusters/prod/app.yaml"]
    assert "1.0.0" in (empty.work / "clusters/dev/app.yaml").read_text()


def test_branch_option_pushes_to_that_branch_only(
    empty: Checkout, capsys: pytest.CaptureFixture[str]
) -> None:
    add_files(empty, {"app.yaml": deployment("app", f"{empty.image}:1.0.0")})
    git(empty.work, "push", "-q", "origin", "main")
    main_before = git(empty.remote, "rev-parse", "main")

    code, report = empty.cli(capsys, "apply", str(empty.work), "--push", "--branch", "staging")

    assert code == 0, report
    assert report["pushed"] is True
    assert git(empty.remote, "rev-parse", "staging") == report["commit"]
    assert git(empty.remote, "rev-parse", "main") == main_before


def test_apply_keeps_a_users_staged_change_staged_and_out_of_the_commit(
    empty: Checkout, capsys: pytest.CaptureFixture[str]
) -> None:
    add_files(empty, {"app.yaml": deployment("app", f"{empty.image}:1.0.0")})
    (empty.work / "README.md").write_text("staged edit\n")
    git(empty.work, "add", "README.md")
    (empty.work / "scratch.txt").write_text("untracked\n")

    code, report = empty.cli(capsys, "apply", str(empty.work), "--detailed-exitcode")

    assert code == 2  # updates were made
    assert report["commit"] == git(empty.work, "rev-parse", "HEAD")
    assert git(empty.work, "show", "--name-only", "--format=", "HEAD").splitlines() == ["app.yaml"]
    status = sorted(git(empty.work, "status", "--porcelain").splitlines())
    assert status == ["?? scratch.txt", "M  README.md"]
    assert empty.committed("README.md") == b"fleet\n"


def test_apply_without_a_remote_commits_and_push_fails_with_partial_results(
    empty: Checkout, capsys: pytest.CaptureFixture[str]
) -> None:
    add_files(empty, {"app.yaml": deployment("app", f"{empty.image}:1.0.0")})
    git(empty.work, "remote", "remove", "origin")

    code, report = empty.cli(capsys, "apply", str(empty.work))
    assert code == 0
    assert report["commit"] == git(empty.work, "rev-parse", "HEAD")
    assert report["pushed"] is False

    # a second workload to update (moving `app` back by hand would decline 1.2.0)
    (empty.work / "app2.yaml").write_text(deployment("app2", f"{empty.image}:1.0.0"))
    git(empty.work, "add", "app2.yaml")
    git(empty.work, "commit", "-q", "-m", "add app2")
    code, report = empty.cli(capsys, "apply", str(empty.work), "--push")
    assert code == 1
    assert report["pushed"] is False
    assert [e["kind"] for e in report["errors"]] == ["git"]
    assert "origin" in report["errors"][0]["message"]
    # partial results: the local commit and its update are still reported
    assert report["commit"] == git(empty.work, "rev-parse", "HEAD")
    assert [(u["from"], u["to"]) for u in report["updates"]] == [("1.0.0", "1.2.0")]
