"""The command line as users and scripts call it (SPEC §4): `tags`, `policy select`, usage
errors, exit codes, `plan --diff --format json`, and `python -m imageupdater` in a process.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from imageupdater.devtools import LocalRegistry
from imageupdater.devtools.seed import seed_storage
from tests.e2e.conftest import deployment, run_cli
from tests.gitenv import clone_pair, git, make_hermetic

WEB = "cli/web"
WEB_TAGS = ["1.0.0", "1.1.0", "1.2.0", "2.0.0", "latest", "1.1.0.sig"]
CURRENT = "cli/current"  # already at its newest tag


@pytest.fixture(scope="module")
def cli_registry(registry: LocalRegistry) -> LocalRegistry:
    seed_storage(registry.root, WEB, WEB_TAGS)
    seed_storage(registry.root, CURRENT, ["3.0.0"])
    return registry


@pytest.fixture(autouse=True)
def no_local_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No `~/.docker/config.json` or `$DOCKER_AUTH_CONFIG` of the machine running the tests."""
    make_hermetic(tmp_path, monkeypatch)
    for var in ("DOCKER_CONFIG", "DOCKER_AUTH_CONFIG"):
        monkeypatch.delenv(var, raising=False)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run_cli(argv, capsys)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- tags -----------------------------------------------------------------------------------


def test_tags_text_prints_one_tag_per_line(
    cli_registry: LocalRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["tags", f"{cli_registry.host}/{WEB}"], capsys)
    assert code == 0, err
    assert sorted(out.splitlines()) == sorted(WEB_TAGS)  # all of them, unfiltered
    assert out.endswith("\n")
    assert err == ""


def test_tags_json(cli_registry: LocalRegistry, capsys: pytest.CaptureFixture[str]) -> None:
    image = f"{cli_registry.host}/{WEB}"
    code, out, _ = run(["tags", image, "--format", "json"], capsys)
    assert code == 0
    document = json.loads(out)
    assert set(document) == {"version", "image", "tags"}
    assert document["version"] == 1
    assert document["image"] == image
    assert sorted(document["tags"]) == sorted(WEB_TAGS)


def test_tags_of_a_tagged_reference_lists_the_repository(
    cli_registry: LocalRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["tags", f"{cli_registry.host}/{WEB}:1.0.0"], capsys)
    assert code == 0
    assert sorted(out.splitlines()) == sorted(WEB_TAGS)


def test_tags_of_an_unknown_repository_is_a_registry_error(
    cli_registry: LocalRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    image = f"{cli_registry.host}/cli/absent"
    code, out, _ = run(["tags", image, "--format", "json"], capsys)
    assert code == 1
    errors = json.loads(out)["errors"]
    assert [e["kind"] for e in errors] == ["registry"]
    assert "cli/absent" in errors[0]["message"]

    code, out, err = run(["tags", image], capsys)
    assert code == 1
    assert out == ""
    assert "error (registry)" in err
    assert "not found" in err


@pytest.mark.parametrize("image", ["Acme/Web", "ghcr.io/acme/web::1", "web@sha256:zz", ""])
def test_tags_of_a_malformed_reference_fails_clearly(
    image: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["tags", image], capsys)
    assert code in (1, 64)
    assert out == ""
    assert "invalid image reference" in err
    assert "Traceback" not in err
    code, out, _ = run(["tags", image, "--format", "json"], capsys)
    assert code in (1, 64)
    assert json.loads(out)["errors"][0]["kind"] == "config"


# -- policy select --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["semver:^1", "1.0.0", "1.2.0", "2.0.0", "1.3.0-rc.1"], "1.2.0\n"),
        (["semver:^1", "--current", "1.0.0", "1.0.0", "1.2.0", "2.0.0"], "1.2.0\n"),
        (["minor", "--current", "1.25.3-alpine", "1.27.0", "1.27.0-alpine"], "1.27.0-alpine\n"),
        (["major", "--current", "v1.0.0", "1.0.0", "v2.0.0", "2.0.0"], "v2.0.0\n"),
        (["semver:^1", "--current", "1.2.0", "1.0.0", "1.2.0", "2.0.0"], ""),  # up to date
        (["semver:^1", "--current", "1.9.0", "1.0.0", "1.2.0"], ""),  # never a downgrade
        (["semver:^3", "1.0.0", "2.0.0"], ""),  # no candidate
        (["semver:^1"], ""),  # no tags at all
        (["never", "1.0.0", "2.0.0"], ""),
    ],
)
def test_policy_select_with_tags_as_arguments(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["policy", "select", *argv], capsys)
    assert (code, out, err) == (0, expected, "")


def test_policy_select_reads_a_tags_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = tmp_path / "tags.txt"
    listing.write_text("1.0.0\n  1.4.0  \n\n2.0.0\r\n1.3.9\n")
    code, out, _ = run(
        ["policy", "select", "semver:~1.3 || ~1.4", "--tags-file", str(listing)], capsys
    )
    assert (code, out) == (0, "1.4.0\n")
    # tags on the command line and in the file are one list
    code, out, _ = run(
        ["policy", "select", "semver:^1", "1.9.0", "--tags-file", str(listing)], capsys
    )
    assert (code, out) == (0, "1.9.0\n")


def test_policy_select_reads_tags_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("2.0.0\n2.1.0\n2.1.1\n3.0.0\n"))
    code, out, _ = run(
        ["policy", "select", "patch", "--current", "2.1.0", "--tags-file", "-"], capsys
    )
    assert (code, out) == (0, "2.1.1\n")


def test_policy_select_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        ["policy", "select", "minor", "--current", "1.0.0", "1.1.0", "--format", "json"], capsys
    )
    assert code == 0
    assert json.loads(out) == {
        "version": 1,
        "policy": "minor",
        "current": "1.0.0",
        "selected": "1.1.0",
    }
    code, out, _ = run(
        ["policy", "select", "minor", "--current", "1.1.0", "1.1.0", "--format", "json"], capsys
    )
    assert json.loads(out)["selected"] is None


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("semver:>>1", ">>1"),
        ("bogus:x", "bogus"),
        ("alphabetical:([a-z", "([a-z"),
        ("numerical:(?P<n>[0-9]+", "[0-9]+"),
    ],
)
def test_policy_select_invalid_expression_is_a_usage_error(
    expression: str, names: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["policy", "select", expression, "1.0.0"], capsys)
    assert code == 64
    assert out == ""
    assert names in err
    assert "Traceback" not in err


def test_policy_select_missing_tags_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        ["policy", "select", "minor", "--tags-file", str(tmp_path / "absent.txt")], capsys
    )
    assert (code, out) == (64, "")
    assert "--tags-file" in err
    assert "No such file" in err


# -- usage ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command", [[], ["plan"], ["apply"], ["tags"], ["policy"], ["policy", "select"]]
)
def test_help_of_every_command_exits_0(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run([*command, "--help"], capsys)
    assert code == 0
    assert out.startswith("Usage: imageupdater")


@pytest.mark.parametrize(
    "argv",
    [
        ["plan", "--bogus"],
        ["apply", ".", "--frobnicate"],
        ["tags"],  # missing IMAGE
        ["nosuchcommand"],
        ["plan", ".", "--now", "yesterday"],
        ["plan", ".", "--now", "2024-13-01"],
        ["apply", ".", "--now", "2024-06-01T12:00:00"],  # no offset
        ["apply", ".", "--mode", "carrier-pigeon"],
        ["plan", ".", "--format", "xml"],
        ["tags", "x/y", "--format", "yaml"],
    ],
)
def test_usage_errors_exit_64_with_a_message_on_stderr(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(argv, capsys)
    assert code == 64
    assert out == ""
    assert "Error" in err
    assert "Traceback" not in err


def test_bad_now_names_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    _, _, err = run(["plan", ".", "--now", "yesterday"], capsys)
    assert "--now" in err
    assert "yesterday" in err


# -- plan exit codes and output -------------------------------------------------------------


@pytest.fixture
def checkout(cli_registry: LocalRegistry, tmp_path: Path, no_local_credentials: None) -> Path:
    host = cli_registry.host
    files = {
        "apps/web.yaml": deployment("web", f"{host}/{WEB}:1.0.0", "semver:^1"),
        "apps/done.yaml": deployment("done", f"{host}/{CURRENT}:3.0.0", "semver:^3"),
    }
    _, work = clone_pair(tmp_path, files)
    return work


def test_plan_detailed_exitcode_0_1_2(
    checkout: Path, cli_registry: LocalRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["plan", str(checkout), "--detailed-exitcode"]
    code, out, _ = run(argv, capsys)
    assert code == 2
    assert "Updates pending" in out
    assert run(["plan", str(checkout)], capsys)[0] == 0  # pending is success without the flag

    (checkout / "apps/web.yaml").unlink()
    code, out, _ = run(argv, capsys)
    assert code == 0
    assert "No updates." in out

    absent = f"{cli_registry.host}/cli/absent:1.0.0"
    (checkout / "apps/absent.yaml").write_text(deployment("absent", absent, "semver:^1"))
    (checkout / "apps/web.yaml").write_text(
        deployment("web", f"{cli_registry.host}/{WEB}:1.0.0", "semver:^1")
    )
    code, out, _ = run([*argv, "--format", "json"], capsys)
    assert code == 1  # an error wins over pending updates
    report = json.loads(out)
    assert [e["kind"] for e in report["errors"]] == ["registry"]
    assert [u["to"] for u in report["updates"]] == ["1.2.0"]  # partial results still there
    assert git(checkout, "status", "--porcelain", "--untracked-files=no") == ""


def test_plan_diff_json_holds_the_unified_diff(
    checkout: Path, cli_registry: LocalRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (checkout / "apps/web.yaml").read_bytes()
    code, out, _ = run(["plan", str(checkout), "--diff", "--format", "json"], capsys)
    assert code == 0
    report = json.loads(out)
    image = f"{cli_registry.host}/{WEB}"
    assert report["diff"] == (
        "--- a/apps/web.yaml\n"
        "+++ b/apps/web.yaml\n"
        "@@ -9,4 +9,4 @@\n"
        "     spec:\n"
        "       containers:\n"
        "         - name: web\n"
        f"-          image: {image}:1.0.0\n"
        f"+          image: {image}:1.2.0\n"
    )
    assert [u["to"] for u in report["updates"]] == ["1.2.0"]
    assert (checkout / "apps/web.yaml").read_bytes() == before  # plan changes nothing
    # without --diff the JSON has no diff key
    code, out, _ = run(["plan", str(checkout), "--format", "json"], capsys)
    assert "diff" not in json.loads(out)


def test_python_m_imageupdater_prints_json_on_stdout_and_only_logs_on_stderr(
    checkout: Path, cli_registry: LocalRegistry, tmp_path: Path
) -> None:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    repo_root = Path(__file__).resolve().parents[2]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo_root), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "imageupdater", "plan", str(checkout), "--format", "json", "-vv"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    assert report["version"] == 1
    assert [(u["file"], u["workload"], u["from"], u["to"]) for u in report["updates"]] == [
        ("apps/web.yaml", "Deployment/web", "1.0.0", "1.2.0")
    ]
    assert report["commit"] is None
    log_line = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ")
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines, "-vv should log something"
    strays = [line for line in lines if not log_line.match(line)]
    assert strays == []
