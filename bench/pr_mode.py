"""Benchmark PR mode: N workloads -> N branches and N pull requests against a fake forge.

    python bench/pr_mode.py                   # 100 workloads, fake GitHub
    python bench/pr_mode.py --workloads 300 --forge gitea

Everything is local: a bare Git repository over file://, the test suite's stateful fake
forge over HTTP on 127.0.0.1 (validating every request against the official OpenAPI
description, as in the tests) and the in-process fake registry. The timed part is
`commands.apply` with `--mode pr`, the code the CLI runs: plan, fetch, build N commits with
plumbing, one push, N forge round trips on threads. A second run shows the idle cost.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imageupdater import app, commands
from tests.engine.fakeregistry import FakeRegistry
from tests.forge.conftest import deployment
from tests.forge.fakes import FAKES, REPO, TOKEN, serve


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workloads", type=int, default=100)
    parser.add_argument("--forge", default="github", choices=sorted(FAKES))
    args = parser.parse_args()
    n = args.workloads
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        remote, seed, work = root / "remote.git", root / "seed", root / "work"
        git(root, "init", "-q", "--bare", "-b", "main", str(remote))
        git(root, "init", "-q", "-b", "main", str(seed))
        for i in range(n):
            path = seed / "apps" / f"w{i:04}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(deployment(f"w{i:04}", "1.0.0"))
        git(seed, "add", "-A")
        git(seed, "-c", "user.name=b", "-c", "user.email=b@x", "commit", "-q", "-m", "seed")
        git(seed, "push", "-q", f"file://{remote}", "HEAD:main")
        git(root, "clone", "-q", f"file://{remote}", str(work))
        registry = FakeRegistry(tags={f"acme/w{i:04}": ["1.0.0", "1.1.0"] for i in range(n)})
        app.registry_client = lambda options: registry.client()
        os.environ["IMAGEUPDATER_FORGE_TOKEN"] = TOKEN
        fake = FAKES[args.forge](remote, page_size=100)
        with serve(fake):
            pr = commands.PullRequestRequest(forge=args.forge, repo=REPO, url=fake.url)
            request = commands.ApplyRequest(mode="pr", pr=pr)
            timings = []
            for _ in range(2):
                started = time.perf_counter()
                report = commands.apply(work, app.Options(), request)
                timings.append(time.perf_counter() - started)
                assert not report.errors, report.errors
            assert len(fake.open_prs()) == n, len(fake.open_prs())
            assert not fake.violations, fake.violations[:3]
    print(
        f"{n} workloads -> {n} PRs ({args.forge} fake): first run {timings[0]:.1f} s, "
        f"re-run (nothing to do) {timings[1]:.1f} s; {len(fake.seen)} forge requests; "
        f"{platform.node()} {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )


if __name__ == "__main__":
    main()
