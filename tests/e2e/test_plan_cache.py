"""`plan --state-dir`: tag lists and manifest lookups from the cache never change a decision.

The same report with and without a state directory; a tag pushed after the cache was
filled is seen with `--refresh`, with `--cache-ttl 0`, and once the cached entries are
older than the TTL (the store's clock is the wall clock, so the entries are aged in SQLite).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from imageupdater import discovery, yamledit
from imageupdater.devtools import LocalRegistry
from imageupdater.devtools.seed import seed_storage
from imageupdater.discovery.memo import FILE_NAME as MEMO_FILE
from imageupdater.yamledit.persist import PARSES_FILE, SPLICES_FILE
from tests.e2e.conftest import deployment, run_cli

REPO = "cache/app"


def write_repo(root: Path, host: str) -> None:
    root.mkdir()
    for policy, name in (("semver:^1", "a"), ("minor", "b"), ("digest", "c")):
        (root / f"{name}.yaml").write_text(deployment(name, f"{host}/{REPO}:1.0.0", policy))


def plan(root: Path, host: str, capsys: pytest.CaptureFixture[str], *extra: str) -> Any:
    capsys.readouterr()
    run_cli(["plan", str(root), "--format", "json", "--insecure-registry", host, *extra], capsys)
    return json.loads(capsys.readouterr().out)


def age(state: Path, seconds: float) -> None:
    with sqlite3.connect(state / "state.sqlite") as db:
        db.execute("UPDATE tags SET fetched = fetched - ?", (seconds,))
        db.execute("UPDATE manifests SET fetched = fetched - ?", (seconds,))


def tags_of(report: Any) -> list[tuple[str, str]]:
    return sorted((u["file"], u["to"]) for u in report["updates"])


def test_cache_never_changes_a_decision(
    registry: LocalRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_storage(registry.root, REPO, ["1.0.0", "1.1.0", "1.2.0"])
    root, state = tmp_path / "repo", tmp_path / "state"
    write_repo(root, registry.host)
    cached = ("--state-dir", str(state))

    without = plan(root, registry.host, capsys)
    cold = plan(root, registry.host, capsys, *cached)
    warm = plan(root, registry.host, capsys, *cached)
    assert without == cold == warm
    assert ("a.yaml", "1.2.0") in tags_of(warm)
    with sqlite3.connect(state / "state.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM tags").fetchone()[0] == 1
        assert db.execute("SELECT COUNT(*) FROM manifests").fetchone()[0] >= 1

    seed_storage(registry.root, REPO, ["1.0.0", "1.1.0", "1.2.0", "1.3.0"])
    fresh = plan(root, registry.host, capsys)
    assert ("a.yaml", "1.3.0") in tags_of(fresh)
    # within the TTL the cache answers (at most one TTL late, like the daemon's cycles)
    assert plan(root, registry.host, capsys, *cached) == warm
    # every way of bypassing or outliving the cache gives the fresh decision
    assert plan(root, registry.host, capsys, *cached, "--cache-ttl", "0") == fresh
    assert plan(root, registry.host, capsys, *cached, "--refresh") == fresh
    seed_storage(registry.root, REPO, ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"])
    newest = plan(root, registry.host, capsys)
    age(state, 301)
    assert plan(root, registry.host, capsys, *cached) == newest
    assert plan(root, registry.host, capsys, *cached, "--cache-ttl", "1h") == newest


def test_bad_cache_ttl_is_a_usage_error(
    registry: LocalRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "repo"
    write_repo(root, registry.host)
    argv = ["plan", str(root), "--state-dir", str(tmp_path / "s"), "--cache-ttl", "soon"]
    assert run_cli(argv, capsys) == 64  # usage error


def test_parse_and_splice_cache_follow_the_file_contents(
    registry: LocalRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_storage(registry.root, "cache/files", ["1.0.0", "1.1.0", "2.0.0"])
    root, state = tmp_path / "repo", tmp_path / "state"
    write_repo(root, registry.host)
    for path in root.iterdir():
        path.write_text(path.read_text().replace(REPO, "cache/files"))
    cached = ("--state-dir", str(state))
    first = plan(root, registry.host, capsys, *cached)
    assert (state / MEMO_FILE).is_file()  # parses and splices only when one was kept
    assert plan(root, registry.host, capsys, *cached) == first == plan(root, registry.host, capsys)
    # a changed file is parsed and spliced again; the unchanged ones come from the cache
    a = root / "a.yaml"
    a.write_text(a.read_text().replace(":1.0.0", ":1.1.0").replace("semver:^1", "major"))
    (root / "d.yaml").write_text((root / "b.yaml").read_text().replace("name: b", "name: d"))
    changed = plan(root, registry.host, capsys, *cached)
    assert changed == plan(root, registry.host, capsys)
    assert changed != first
    assert ("a.yaml", "2.0.0") in tags_of(changed)
    assert ("d.yaml", "1.1.0") in tags_of(changed)
    # unreadable cache files are ignored (and replaced)
    for name in (MEMO_FILE, PARSES_FILE, SPLICES_FILE):
        (state / name).write_bytes(b"\x00garbage")
    discovery.forget()  # as in a new process: only the files could answer
    yamledit.clear_cache()
    assert plan(root, registry.host, capsys, *cached) == changed
