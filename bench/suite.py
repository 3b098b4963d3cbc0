"""The benchmark suite of issue 8: every scenario, one table.

    python bench/suite.py            # everything (about 5 minutes on 2 cores; 10 with the peer)
    python bench/suite.py --quick    # (a), (c), (d), (e), (f) only, no peer
    python bench/suite.py --no-peer  # skip Renovate

Scenarios:

(a) `plan`, 500 files / 1,000 refs / 100 images x 50 tags (child process, as a user runs it);
(b) `plan`, 10,000 files / 20,000 refs / 1,000 images x 100 tags: cold; cold again filling
    a `--state-dir`; warm (the same `--state-dir`, nothing changed, median of 3); plus the
    growth curve for 1k / 2k / 5k / 10k files;
(c) one image with 10,000 tags: the policy ranking alone, in-process, per policy kind;
(d) `apply` of 1,000 changes in one commit (child process, Git repository);
(e) 100 PRs against the fake forge (`bench/pr_mode.py`);
(f) a daemon cycle with nothing to do: one automation over a `file://` bare repository of
    300 files whose 600 references are all up to date; the daemon runs in-process (as
    `run --once` would, but twice: the second cycle is the one timed, CPU of the process).

Registry requests are counted from the local registry's own access log (the suite starts
the registry with a config that turns it on), so they are what the server saw. The peer is
Renovate in offline mode (`--platform=local`) on scenario (a), installed with npm under
~/.cache/imageupdater-bench/peer together with a Node 24 binary (the npm package `node`);
when that is not possible the suite says why and goes on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import run as plan_bench  # noqa: E402  (bench/run.py)

from imageupdater import app, daemon  # noqa: E402
from imageupdater.config import load_automations  # noqa: E402
from imageupdater.devtools.localregistry import TMPFS, registry_binary  # noqa: E402
from imageupdater.devtools.seed import seed_storage  # noqa: E402
from imageupdater.policy import parse_policy  # noqa: E402
from imageupdater.policy.base import clear_rank_memo  # noqa: E402

PEER_DIR = Path.home() / ".cache" / "imageupdater-bench" / "peer"
REQUEST = re.compile(r'"(GET|HEAD|POST|PUT|PATCH|DELETE) (/v2/[^ "]*)')


@dataclass
class Row:
    scenario: str
    wall: str = "-"
    cpu: str = "-"
    rss: str = "-"
    requests: str = "-"
    peer: str = "-"
    notes: list[str] = field(default_factory=list)


# --- a registry whose access log we can read ---------------------------------------------


class LoggedRegistry:
    """Debian's docker-registry with its access log on, over a storage directory that
    `seed_storage` writes directly."""

    def __init__(self, work: Path) -> None:
        work.mkdir(parents=True)
        # on tmpfs when there is one, like devtools.start_registry: 100,000 seeded tags are
        # slow to write and very slow to delete on a disk that discards freed blocks
        base = TMPFS if os.access(TMPFS, os.W_OK) else str(work)
        self.root = Path(tempfile.mkdtemp(prefix="imageupdater-suite-registry-", dir=base))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.host = f"127.0.0.1:{port}"
        config = {
            "version": "0.1",
            "log": {"level": "warn", "accesslog": {"disabled": False}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.root)},
                "cache": {"blobdescriptor": "inmemory"},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": self.host, "secret": "bench"},
        }
        config_path = work / "registry.json"
        config_path.write_text(json.dumps(config))
        self.log_path = work / "registry.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [registry_binary(), "serve", str(config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1):
                    break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(self.log_path.read_text(errors="replace")) from None
                time.sleep(0.05)
        self.mark()

    def mark(self) -> None:
        self._offset = self.log_path.stat().st_size

    def requests(self) -> list[tuple[str, str]]:
        """(method, path) of every request since the last `mark`, in the order served."""
        time.sleep(0.2)  # the registry writes its access log asynchronously
        with self.log_path.open("rb") as log:
            log.seek(self._offset)
            text = log.read().decode(errors="replace")
        self.mark()
        return [(m.group(1), m.group(2)) for m in REQUEST.finditer(text)]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def describe_requests(requests: list[tuple[str, str]], images: int) -> tuple[str, str]:
    """The table cell, and a note proving one tags/list walk per image."""
    walks = Counter(
        path.split("/tags/list")[0]
        for _, path in requests
        if "/tags/list" in path and "last=" not in path
    )
    pages = sum(1 for _, path in requests if "/tags/list" in path)
    manifests = sum(1 for _, path in requests if "/manifests/" in path)
    cell = f"{len(requests)} ({pages} tags/list, {manifests} manifests)"
    per_image = sorted(set(walks.values()))
    note = (
        f"tags/list walks: {len(walks)} images walked (of {images}), walks per image "
        f"{per_image}, {pages} pages"
    )
    return cell, note


# --- running things -----------------------------------------------------------------------


def timed(command: list[str], cwd: Path | None = None) -> tuple[float, float, int, bytes]:
    """Wall s, CPU s, peak RSS MiB and stdout of a child process (rusage from wait4)."""
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL, cwd=cwd, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read()
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024, output


def imageupdater(verb: str, repo: Path, host: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "imageupdater", verb, str(repo), "--format", "json",
            "--insecure-registry", host, *extra]  # fmt: skip


def seed(registry: LoggedRegistry, first: int, images: int, tags: int) -> None:
    names = plan_bench.tag_names(tags)
    for i in range(first, images):
        seed_storage(str(registry.root), f"bench/app-{i}", names)


def plan_row(
    name: str, registry: LoggedRegistry, repo: Path, images: int, runs: int = 1, *extra: str
) -> tuple[Row, dict[str, object]]:
    results = []
    for _ in range(runs):
        registry.mark()
        wall, cpu, rss, out = timed(imageupdater("plan", repo, registry.host, *extra))
        results.append((wall, cpu, rss, out, registry.requests()))
    results.sort(key=lambda r: r[0])
    wall, cpu, rss, out, requests = results[len(results) // 2]
    report = json.loads(out)
    cell, note = describe_requests(requests, images)
    row = Row(name, f"{wall:.2f} s", f"{cpu:.2f} s", f"{rss} MiB", cell)
    median = f"median of {runs}, " if runs > 1 else ""
    row.notes.append(
        f"{median}{len(report['updates'])} updates, {len(report['skipped'])} skipped, "
        f"{len(report['errors'])} errors; {note}"
    )
    return row, report


def scenario_c() -> list[Row]:
    """Ranking 10,000 tags of one image, per policy kind (the fetch is not timed)."""
    versions = [f"{a}.{b}.{c}" for a in range(1, 5) for b in range(50) for c in range(50)][:9_990]
    versions += ["latest", "main-3f2a1c", *(f"build-{i}" for i in range(8))]
    builds = [f"build-{i}" for i in range(10_000)]
    rows = []
    keyed = ("numerical:^build-(\\d+)$", "alphabetical:^build-(.*)$")
    for expression in ("semver:^1.0", "major", "minor", "patch", *keyed):
        policy = parse_policy(expression)
        current = "build-100" if expression in keyed else "1.0.0"
        tags = builds if expression in keyed else versions
        times = []
        for _ in range(7):
            clear_rank_memo()  # time the ranking, not the memo of a plan's repeated rankings
            started = time.perf_counter()
            start_cpu = time.process_time()
            ranking = policy.rank(tags, current)
            times.append((time.perf_counter() - started, time.process_time() - start_cpu))
        wall, cpu = sorted(times)[len(times) // 2]
        row = Row(f"(c) rank 10,000 tags: {expression}", f"{wall * 1000:.1f} ms",
                  f"{cpu * 1000:.1f} ms", "-", "0 (in-process)")  # fmt: skip
        best = ranking.upgrades[0] if ranking.upgrades else None
        row.notes.append(f"median of 7; best upgrade {best}")
        rows.append(row)
    return rows


def scenario_d(registry: LoggedRegistry, work: Path) -> Row:
    repo = work / "apply"
    plan_bench.make_repository(repo, registry.host, 1000, 1000, 100)
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "seed"], cwd=repo, check=True)
    registry.mark()
    env_git = {
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    os.environ.update(env_git)
    wall, cpu, rss, out = timed(imageupdater("apply", repo, registry.host, "--commit"))
    cell, _ = describe_requests(registry.requests(), 100)
    report = json.loads(out)
    commits = subprocess.run(["git", "rev-list", "--count", "HEAD"], cwd=repo, check=True,
                             capture_output=True, text=True).stdout.strip()  # fmt: skip
    changed = subprocess.run(["git", "diff", "--name-only", "HEAD~1"], cwd=repo, check=True,
                             capture_output=True, text=True).stdout.split()  # fmt: skip
    row = Row("(d) apply 1,000 changes, one commit", f"{wall:.2f} s", f"{cpu:.2f} s",
              f"{rss} MiB", cell)  # fmt: skip
    row.notes.append(
        f"{len(report['updates'])} updates in {len(changed)} files; {commits} commits after "
        f"(seed + 1); {len(report['errors'])} errors"
    )
    return row


def scenario_e() -> Row:
    command = [sys.executable, str(HERE / "pr_mode.py"), "--workloads", "100"]
    wall, cpu, rss, out = timed(command, cwd=HERE.parent)
    text = out.decode().strip()
    first = re.search(r"first run ([\d.]+) s", text)
    row = Row("(e) 100 PRs, fake GitHub", f"{first.group(1)} s" if first else "?",
              "-", f"{rss} MiB", "fake registry")  # fmt: skip
    row.notes.append(f"process total {wall:.1f} s wall / {cpu:.1f} s CPU; {text}")
    return row


IDLE_TAGS = ["1.0.0", "1.2.0", "1.4.0", "latest"]
IDLE_AUTOMATION = """\
apiVersion: imageupdater.io/v1
kind: Automation
metadata: {{name: idle}}
spec:
  git: {{url: "file://{remote}", branch: main}}
  interval: 5m
"""


def scenario_f(registry: LoggedRegistry, work: Path, files: int = 300) -> Row:
    """One warm daemon cycle over an up-to-date repository: CPU of the process (all threads)."""
    for i in range(10):
        seed_storage(str(registry.root), f"idle/app-{i}", IDLE_TAGS)
    seed_dir, remote = work / "f-seed", work / "f-remote.git"
    plan_bench.make_repository(seed_dir, registry.host, files, 2 * files, 10)
    for path in seed_dir.rglob("*.yaml"):  # every reference at the newest tag already
        text = path.read_text().replace("/bench/app-", "/idle/app-").replace(":1.0.0", ":1.4.0")
        path.write_text(text)
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=seed_dir, check=True)
    subprocess.run(["git", "add", "-A"], cwd=seed_dir, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "seed"], cwd=seed_dir, check=True)
    subprocess.run(["git", "push", "-q", str(remote), "main"], cwd=seed_dir, check=True)
    config = work / "f-automation.yaml"
    config.write_text(IDLE_AUTOMATION.format(remote=remote))
    options = app.Options(insecure_registries=(registry.host,))
    runner = daemon.Daemon(load_automations(config), work / "f-state", options)
    try:
        timings = []
        for _ in range(4):  # a cold cycle (clone, walks), then warm ones
            registry.mark()
            started, cpu = time.perf_counter(), time.process_time()
            results = runner.scheduler.run_once()
            timings.append((time.process_time() - cpu, time.perf_counter() - started))
            requests = registry.requests()
        outcome = runner.state.outcome("idle")
    finally:
        runner.close()
    (cold_cpu, cold_wall), warm = timings[0], sorted(timings[1:])
    cpu, wall = warm[len(warm) // 2]
    cell, _ = describe_requests(requests, 10)
    row = Row(f"(f) daemon cycle, nothing to do ({files} files)", f"{wall:.2f} s",
              f"{cpu:.3f} s", "-", cell)  # fmt: skip
    updates = outcome.updates if outcome else "?"
    row.notes.append(
        f"median of 3 warm cycles (CPU of the whole process, every thread); cold first cycle "
        f"{cold_wall:.2f} s wall / {cold_cpu:.2f} s CPU; ok {results}, {updates} updates"
    )
    return row


# --- the peer -----------------------------------------------------------------------------


def peer_binaries() -> tuple[Path, Path] | str:
    """(node, renovate entry point), or why the peer cannot run."""
    node = PEER_DIR / "node_modules" / "node" / "bin" / "node"
    entry = PEER_DIR / "node_modules" / "renovate" / "dist" / "renovate.js"
    if not (node.exists() and entry.exists()):
        if not shutil.which("npm"):
            return "npm not found"
        PEER_DIR.mkdir(parents=True, exist_ok=True)
        if not (PEER_DIR / "package.json").exists():
            (PEER_DIR / "package.json").write_text('{"private": true}\n')
        try:
            subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "renovate@44", "node@24"],
                cwd=PEER_DIR, capture_output=True, timeout=900, check=True,
            )  # fmt: skip
        except (subprocess.SubprocessError, OSError) as exc:
            return f"npm install renovate@44 node@24 failed: {str(exc)[:200]}"
        if not (node.exists() and entry.exists()):
            return "npm installed renovate/node but the binaries are not where expected"
    try:
        version = subprocess.run([str(node), "--version"], capture_output=True, text=True,
                                 timeout=30, check=True).stdout.strip()  # fmt: skip
    except (subprocess.SubprocessError, OSError) as exc:
        return f"the Node 24 binary from npm does not run here: {str(exc)[:200]}"
    if not version.startswith(("v22", "v24", "v25")):
        return f"Node {version} is too old for Renovate 44"
    return node, entry


RENOVATE_CONFIG = {
    "onboarding": False,
    "requireConfig": "ignored",
    "dryRun": "lookup",
    "enabledManagers": ["kubernetes"],
    "kubernetes": {"managerFilePatterns": ["/\\.yaml$/"]},
    "hostRules": [{"matchHost": "127.0.0.1", "insecureRegistry": True}],
}


def peer_row(repo: Path, registry: LoggedRegistry, work: Path) -> Row:
    found = peer_binaries()
    if isinstance(found, str):
        return Row("peer: Renovate (a)", notes=[f"skipped: {found}"])
    node, entry = found
    config = work / "renovate-config.json"
    config.write_text(json.dumps(RENOVATE_CONFIG))
    env = {
        **os.environ,
        "RENOVATE_CONFIG_FILE": str(config),
        "RENOVATE_BASE_DIR": str(work / "renovate-base"),
        "LOG_LEVEL": "warn",
        "RENOVATE_X_IGNORE_NODE_WARN": "true",
    }
    registry.mark()
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen([str(node), str(entry), "--platform=local"], cwd=repo,
                                stdout=out, stderr=subprocess.STDOUT, env=env)  # fmt: skip
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except KeyboardInterrupt:
            proc.kill()
            raise
        wall = time.perf_counter() - start
        out.seek(0)
        tail = out.read().decode(errors="replace").strip().splitlines()[-3:]
    code = os.waitstatus_to_exitcode(status)
    cell, note = describe_requests(registry.requests(), 100)
    row = Row("peer: Renovate 44 (a), --platform=local", f"{wall:.2f} s",
              f"{usage.ru_utime + usage.ru_stime:.2f} s", f"{usage.ru_maxrss // 1024} MiB",
              cell)  # fmt: skip
    row.notes.append(f"exit {code}; {note}; last output: {' | '.join(tail)[:300]}")
    return row


# --- the table ----------------------------------------------------------------------------


def seconds(cell: str) -> float | None:
    match = re.match(r"([\d.]+) s$", cell)
    return float(match.group(1)) if match else None


def print_table(rows: list[Row]) -> None:
    header = ("scenario", "wall", "CPU", "peak RSS", "registry requests", "vs peer")
    table = [header, *((r.scenario, r.wall, r.cpu, r.rss, r.requests, r.peer) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("| " + " | ".join("-" * w for w in widths) + " |")
    for line in table[1:]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")
    print()
    for r in rows:
        for note in r.notes:
            print(f"{r.scenario}: {note}")


@contextmanager
def registry_in(work: Path) -> Iterator[LoggedRegistry]:
    registry = LoggedRegistry(work / "registry")
    try:
        yield registry
    finally:
        registry.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="(a), (c), (d), (e), (f); no peer")
    parser.add_argument("--no-peer", action="store_true", help="do not run Renovate")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    plan_bench.compile_package()  # child processes load it like an installed copy
    print(
        f"{date.today()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; command: python bench/suite.py"
        + (" --quick" if args.quick else "")
    )
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory(prefix="imageupdater-suite-") as tmp,
        registry_in(Path(tmp)) as registry,
    ):
        work = Path(tmp)
        seed(registry, 0, 100, 50)
        repo_a = work / "a"
        plan_bench.make_repository(repo_a, registry.host, 500, 1000, 100)
        row_a, _ = plan_row("(a) plan 500 files / 1k refs / 100x50", registry, repo_a, 100, 5)
        rows.append(row_a)
        if not (args.quick or args.no_peer):
            peer = peer_row(repo_a, registry, work)
            rows.append(peer)
            mine, theirs = seconds(row_a.wall), seconds(peer.wall)
            if mine and theirs:
                row_a.peer = f"{theirs / mine:.0f}x faster"
        rows.extend(scenario_c())
        rows.append(scenario_d(registry, work))
        rows.append(scenario_e())
        rows.append(scenario_f(registry, work))
        if not args.quick:
            seed(registry, 0, 1000, 100)  # app-0..99 grow from 50 to 100 tags
            for files in (1_000, 2_000, 5_000, 10_000):
                repo = work / f"b{files}"
                plan_bench.make_repository(repo, registry.host, files, 2 * files, files // 10)
                label = "(b) cold" if files == 10_000 else "(b) growth"
                name = f"{label}: plan {files:,} files / {2 * files:,} refs / {files // 10} images"
                row, cold = plan_row(name, registry, repo, files // 10)
                rows.append(row)
                if files == 10_000:
                    state = ("--state-dir", str(work / "b-state"))
                    fill, _ = plan_row(
                        "(b) cold, filling --state-dir", registry, repo, 1000, 1, *state
                    )
                    rows.append(fill)
                    warm, again = plan_row(
                        "(b) warm: --state-dir, nothing changed", registry, repo, 1000, 3, *state
                    )
                    same = "same report as without a state dir" if again == cold else "DIFFERS"
                    warm.notes.append(
                        f"tag lists and manifest lookups from the state store (--cache-ttl 5m), "
                        f"every file's discovery from the memo (nothing parsed); {same}"
                    )
                    rows.append(warm)
        print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
