"""The discovery memo: what a warm run replays is exactly what a fresh discovery finds.

A repository with every kind of outcome (targets with pins, update modes, cleared
declines, named policies; line markers; frozen workloads; broken YAML; a bad policy) is
discovered twice: the second pass parses only the policy files and gives equal sources,
skip rows and errors. Changes that must be seen are seen: a file's bytes, a named policy
in another file, the clock for `frozen-until`, and a memo written by other code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import astuple
from datetime import UTC, datetime
from pathlib import Path

import pytest

from imageupdater import cachefile
from imageupdater.discovery import Discovered, discover_repository
from imageupdater.discovery import memo as memo_module
from imageupdater.discovery.memo import DiscoveryMemo
from imageupdater.report import Report
from imageupdater.yamledit import load as load_module
from tests.e2e.conftest import BROKEN, deployment, manifests

NOW = datetime(2026, 6, 1, tzinfo=UTC)
REG = "127.0.0.1:9"

NAMED = """\
apiVersion: imageupdater.io/v1
kind: ImagePolicy
metadata:
  name: stable
  namespace: shop
spec:
  policy:
    semver: {range: "~1.2"}
"""

EXTRA = {
    "named/policy.yaml": NAMED,
    "named/user.yaml": deployment("user", f"{REG}/named/user:1.2.0", "@shop/stable"),
    "helm/values.yaml": (
        "image:\n"
        f'  repository: {REG}/helm/app # {{"$imagepolicy": "shop:stable:name"}}\n'
        '  tag: 1.2.0 # {"$imagepolicy": "shop:stable:tag"}\n'
    ),
    "held/pinned.yaml": deployment("pinned", f"{REG}/held/app:1.0.0", "semver:^1").replace(
        "    imageupdater.io/policy:",
        "    imageupdater.io/pin: 1.0.1\n"
        "    imageupdater.io/pin-reason: incident 42\n"
        "    imageupdater.io/update: pr\n"
        "    imageupdater.io/declined-cleared: 2026-01-01T00:00:00Z\n"
        "    imageupdater.io/policy:",
    ),
    "held/thaws.yaml": deployment("thaws", f"{REG}/held/thaws:1.0.0", "semver:^1").replace(
        "    imageupdater.io/policy:",
        "    imageupdater.io/frozen-until: 2026-07-01\n    imageupdater.io/policy:",
    ),
}


def write(root: Path, files: dict[str, str]) -> None:
    for relpath, text in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    write(root, {**manifests(REG), **BROKEN, **EXTRA})
    return root


def outcome(found: Discovered, report: Report) -> tuple[object, ...]:
    """Everything discovery hands on, as comparable values (policies by their type and
    expression: two parses of one expression are equal policies, not one object)."""
    sources = [
        (
            s.path,
            s.relpath,
            s.data,
            s.text,
            [(*astuple(t)[:5], type(t.policy), *astuple(t)[6:]) for t in s.targets],
            s.markers,
        )
        for s in found.sources
    ]
    report.sort()
    return (sources, report.skipped, report.errors, sorted(found.book.policies))


def discover(root: Path, memo: DiscoveryMemo, now: datetime = NOW) -> tuple[object, ...]:
    report = Report()
    return outcome(discover_repository(root, report, now, memo), report)


def test_a_warm_run_replays_exactly_what_a_fresh_run_finds(repo: Path) -> None:
    fresh = discover(repo, DiscoveryMemo())
    memo = DiscoveryMemo()
    assert discover(repo, memo) == fresh
    misses = load_module._cache.misses
    load_module.clear_cache()  # any parse now would miss: only the policy files may
    warm = discover(repo, memo)
    assert warm == fresh
    assert load_module._cache.misses - misses <= 2  # named/policy.yaml, held/thaws.yaml
    assert memo.hits >= len(EXTRA) + 5
    sources = {relpath: targets for _, relpath, _, _, targets, _ in fresh[0]}  # type: ignore[index]
    assert {"named/user.yaml", "helm/values.yaml", "held/pinned.yaml"} <= set(sources)
    assert "held/thaws.yaml" not in sources  # frozen until July


def test_a_changed_file_is_discovered_again(repo: Path) -> None:
    memo = DiscoveryMemo()
    discover(repo, memo)
    web = repo / "named" / "user.yaml"
    web.write_text(web.read_text().replace("name: user", "name: renamed"))
    assert discover(repo, memo) == discover(repo, DiscoveryMemo())
    assert "Deployment/renamed" in repr(discover(repo, memo))


def test_a_named_policy_changed_elsewhere_reaches_its_users(repo: Path) -> None:
    memo = DiscoveryMemo()
    before = discover(repo, memo)
    (repo / "named" / "policy.yaml").write_text(NAMED.replace("name: stable", "name: other"))
    after = discover(repo, memo)
    assert after == discover(repo, DiscoveryMemo())
    assert after != before
    assert any("no named policy 'shop/stable'" in str(e) for e in after[2])  # type: ignore[attr-defined]


def test_frozen_until_follows_the_clock(repo: Path) -> None:
    memo = DiscoveryMemo()
    discover(repo, memo)
    later = datetime(2026, 8, 1, tzinfo=UTC)
    thawed = discover(repo, memo, later)
    assert thawed == discover(repo, DiscoveryMemo(), later)
    assert "held/thaws.yaml" in {source[1] for source in thawed[0]}  # type: ignore[attr-defined]


def test_the_memo_survives_a_process_only_for_the_same_code(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    first = DiscoveryMemo()
    fresh = discover(repo, first)
    first.save(state)
    assert (state / memo_module.FILE_NAME).is_file()

    second = DiscoveryMemo()
    assert second.load(state)
    assert len(second) == len(first)
    assert discover(repo, second) == fresh
    assert second.misses <= 1  # held/thaws.yaml is never remembered

    monkeypatch.setattr(memo_module.yamledit, "code_version", lambda: "other code")
    assert not DiscoveryMemo().load(state)


@pytest.mark.parametrize("content", [b"", b"\x00garbage", None])
def test_an_unusable_file_is_ignored(repo: Path, tmp_path: Path, content: bytes | None) -> None:
    if content is not None:
        (tmp_path / memo_module.FILE_NAME).write_bytes(content)
    memo = DiscoveryMemo()
    assert not memo.load(tmp_path)
    assert discover(repo, memo) == discover(repo, DiscoveryMemo())


def test_entries_that_do_not_rebuild_are_discovered_afresh(repo: Path, tmp_path: Path) -> None:
    memo = DiscoveryMemo()
    fresh = discover(repo, memo)
    memo.save(tmp_path)
    rows = cachefile.read(tmp_path / memo_module.FILE_NAME, memo_module.yamledit.code_version())
    assert isinstance(rows, list)
    damaged = [(key, (*entry[:2], (("not", "a", "target"),), *entry[3:])) for key, entry in rows]
    cachefile.write(tmp_path / memo_module.FILE_NAME, memo_module.yamledit.code_version(), damaged)
    reloaded = DiscoveryMemo()
    assert reloaded.load(tmp_path)
    assert discover(repo, reloaded) == fresh


def test_the_memo_is_bounded() -> None:
    memo = DiscoveryMemo(max_entries=3)
    entry: memo_module.Entry = (False, b"", (), (), (), ())
    for i in range(5):
        memo.put(bytes([i]), entry)
    assert len(memo) == 3
    assert memo.get(bytes([0])) is None
    assert memo.get(bytes([4])) == entry


# --- the forked half (`discovery.parallel`) ------------------------------------------------

FORKED = """
import json, sys
from datetime import UTC, datetime
from pathlib import Path
from imageupdater.discovery import discover_repository, parallel, repository
from imageupdater.discovery.memo import DiscoveryMemo
from imageupdater.report import Report
from tests.engine.test_discovery_memo import outcome

mode = sys.argv[2]
parallel.MIN_FILES = 1
forks = []
real_fork = parallel.fork
def counting_fork(work):
    forked = real_fork(work)
    forks.append(forked is not None)
    return forked
parallel.fork = counting_fork
parsed = []  # files parsed by this process (the child's parses happen in the child)
real_parse = repository.parse_file
def counting_parse(*args):
    parsed.append(args[1])
    return real_parse(*args)
repository.parse_file = counting_parse
if mode == "crash":
    def crash(items, now):
        raise RuntimeError("the child dies")
    repository._settle_in_child = crash
report = Report()
found = discover_repository(Path(sys.argv[1]), report, datetime(2026, 6, 1, tzinfo=UTC),
                            DiscoveryMemo())
print(json.dumps({"forks": forks, "parsed": len(parsed), "outcome": repr(outcome(found, report))}))
"""


@pytest.mark.parametrize("mode", ["ok", "crash"])
def test_a_forked_child_settles_half_the_files_with_the_same_outcome(repo: Path, mode: str) -> None:
    """Run in a fresh interpreter: only a single-threaded process may fork."""
    for i in range(30):  # enough new files for both halves
        write(
            repo, {f"bulk/app-{i}.yaml": deployment(f"app{i}", f"{REG}/bulk/app:1.0.{i}", "minor")}
        )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", FORKED, str(repo), mode],
        capture_output=True,
        text=True,
        cwd=root,
        check=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    result = json.loads(done.stdout)
    assert result["forks"] == [True]
    assert result["outcome"] == repr(discover(repo, DiscoveryMemo()))
    screened = len([p for p in repo.rglob("*.yaml") if b"imageupdater.io" in p.read_bytes()])
    if mode == "ok":  # the child's half came back settled: the parent parsed the rest only
        assert result["parsed"] < screened * 2 // 3
    else:  # nothing came back: the parent read every file itself
        assert result["parsed"] >= screened
