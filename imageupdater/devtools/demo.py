"""The main job end to end on this machine: `python -m imageupdater.devtools.demo`.

It starts a local registry, pushes a few images, creates a small GitOps repository with
a bare remote, then runs `imageupdater plan` and `imageupdater apply --push` exactly as a
user would and shows the resulting commit. Everything lives in a temporary directory
(or `--workdir`) and the registry is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from imageupdater.devtools.localregistry import start_registry
from imageupdater.devtools.seed import Pusher

IMAGES = {
    "demo/web": ["1.4.0", "1.4.2", "1.5.0", "2.0.0", "1.6.0-rc.1"],
    "demo/api": ["3.1.0", "3.1.7", "3.2.0"],
    "demo/worker": ["1.25.3-alpine", "1.27.1-alpine", "1.27.1"],
}

WEB = """\
# The shop's web front end. Comments, quotes and layout survive every update.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  annotations:
    imageupdater.io/policy: "semver:^1.4"   # any 1.x from 1.4 on, no pre-releases
spec:
  replicas: 3
  template:
    spec:
      containers:
        - name: web
          image: "{registry}/demo/web:1.4.0"
          ports: [{{containerPort: 8080}}]
"""

API = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
  annotations:
    imageupdater.io/policy: patch          # only 3.1.x
    imageupdater.io/policy.migrate: never  # migrations move by hand
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: {registry}/demo/api:3.1.0
      containers:
        - name: api
          image: {registry}/demo/api:3.1.0
"""

WORKER = """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: worker
  namespace: jobs
  annotations: {{imageupdater.io/policy: minor}}   # keeps the -alpine variant
spec:
  template:
    spec:
      containers:
      - name: worker
        image: {registry}/demo/worker:1.25.3-alpine
"""

UNTOUCHED = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: not-opted-in}}
spec:
  template:
    spec:
      containers: [{{name: app, image: {registry}/demo/web:1.4.0}}]
"""


def sh(*command: str, cwd: Path | None = None, check: bool = True) -> int:
    print(f"\n$ {' '.join(command)}", flush=True)
    return subprocess.run(command, cwd=cwd, check=check).returncode


def git_env(home: Path) -> None:
    """A self-contained Git identity so the demo runs on a machine with no git config."""
    os.environ.setdefault("GIT_AUTHOR_NAME", "Demo User")
    os.environ.setdefault("GIT_AUTHOR_EMAIL", "demo@example.com")
    os.environ.setdefault("GIT_COMMITTER_NAME", "Demo User")
    os.environ.setdefault("GIT_COMMITTER_EMAIL", "demo@example.com")
    os.environ["GIT_CONFIG_GLOBAL"] = str(home / "gitconfig")
    (home / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n")


def make_repository(work: Path, registry: str) -> Path:
    remote = work / "fleet.git"
    checkout = work / "fleet"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    subprocess.run(["git", "clone", "-q", f"file://{remote}", str(checkout)], check=True)
    files = {
        "apps/web.yaml": WEB,
        "apps/api.yaml": API,
        "apps/worker.yaml": WORKER,
        "apps/other.yaml": UNTOUCHED,
    }
    for name, template in files.items():
        path = checkout / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(registry=registry))
    subprocess.run(["git", "add", "-A"], cwd=checkout, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "Initial manifests"], cwd=checkout, check=True)
    subprocess.run(["git", "push", "-q", "origin", "HEAD:main"], cwd=checkout, check=True)
    return checkout


def run(work: Path) -> int:
    git_env(work)
    with start_registry(work / "registry") as registry:
        print(f"Local registry on {registry.url}")
        with httpx.Client(base_url=registry.url, timeout=30) as client:
            pusher = Pusher(client)
            for repo, tags in IMAGES.items():
                for tag in tags:
                    pusher.push_image(repo, tag)
                print(f"  pushed {repo}: {', '.join(tags)}")
        checkout = make_repository(work, registry.host)
        cli = [sys.executable, "-m", "imageupdater"]
        sh(*cli, "tags", f"{registry.host}/demo/web")
        sh(*cli, "plan", str(checkout), "--diff", check=False)
        code = sh(*cli, "apply", str(checkout), "--push", check=False)
        sh("git", "--no-pager", "log", "-1", "--stat", cwd=checkout)
        sh("git", "--no-pager", "show", "--format=", "--", "apps", cwd=checkout)
        final = sh(*cli, "plan", str(checkout), "--detailed-exitcode", check=False)
        print(f"\napply exited {code}; the second plan exited {final} (0: nothing left to do)")
        return 0 if code == 0 and final == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="keep everything here instead of a temp dir")
    args = parser.parse_args()
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        return run(args.workdir.resolve())
    with tempfile.TemporaryDirectory(prefix="imageupdater-demo-") as work:
        return run(Path(work))


if __name__ == "__main__":
    sys.exit(main())
