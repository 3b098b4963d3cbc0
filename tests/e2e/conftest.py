"""A GitOps repository that mixes every case the SPEC names, against the real registry."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from imageupdater.cli import main
from imageupdater.devtools import LocalRegistry, Pusher
from imageupdater.devtools.seed import seed_storage
from tests.gitenv import clone_pair, make_hermetic

# tags per repository; `web` also gets two real HTTP pushes (OCI and Docker v2)
TAGS = {
    "e2e/web": ["1.2.0", "1.2.5", "1.3.0", "2.0.0", "1.4.0-rc.1", "latest", "1.3.1.sig"],
    "e2e/api": ["3.1.0", "3.1.4", "3.2.0", "v3.2.0"],
    "e2e/worker": ["1.25.3-alpine", "1.27.0-alpine", "1.27.0", "1.27-alpine", "1.28.0-alpine3.20"],
}
PUSHED = {"e2e/web": ["1.3.1"]}


def deployment(name: str, image: str, policy: str) -> str:
    """A Deployment with one container and one policy annotation."""
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  annotations:
    imageupdater.io/policy: "{policy}"
spec:
  template:
    spec:
      containers:
        - name: {name}
          image: {image}
"""


def manifests(reg: str) -> dict[str, str]:
    """The repository: keys are paths, values the exact file text."""
    return {
        "apps/web.yaml": f"""\
# Web front end.  Owned by team-shop.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  annotations:
    imageupdater.io/policy: "semver:^1.2"
    imageupdater.io/policy.migrate: patch
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: {reg}/e2e/web:1.2.0   # schema migrations
      containers:
        - name: web
          image: "{reg}/e2e/web:1.2.0"
        - name: sidecar   # no policy for the sidecar: same workload, still opted in via the default
          image: {reg}/e2e/api:3.1.0
""",
        "apps/api.yaml": f"""\
---
apiVersion: v1
kind: Service
metadata: {{name: api}}
spec:
  ports: [{{port: 80}}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  annotations: {{imageupdater.io/policy: minor}}
spec:
  template:
    spec:
      containers: [{{name: api, image: '{reg}/e2e/api:3.1.0'}}]
...
""",
        "apps/worker.yaml": (
            "apiVersion: apps/v1\r\nkind: StatefulSet\r\nmetadata:\r\n  name: worker\r\n"
            "  namespace: jobs\r\n  annotations:\r\n    imageupdater.io/policy: minor\r\n"
            "spec:\r\n  template:\r\n    spec:\r\n      containers:\r\n"
            f"      - name: worker\r\n        image: {reg}/e2e/worker:1.25.3-alpine\r\n"
        ),
        "apps/cron.yaml": f"""\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
  annotations:
    imageupdater.io/policy: "semver:~3.1"
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: report
              image: {reg}/e2e/api:3.1.0
""",
        "apps/plain.yaml": f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: plain}}
spec:
  template:
    spec:
      containers:
        - {{name: plain, image: {reg}/e2e/web:1.2.0}}
""",
        "apps/frozen.yaml": f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: frozen
  annotations:
    imageupdater.io/policy: "semver:^1"
    imageupdater.io/frozen: "true"
    imageupdater.io/frozen-reason: release week
spec:
  template:
    spec:
      containers:
        - name: frozen
          image: {reg}/e2e/web:1.2.0
""",
        "apps/never.yaml": f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: legacy
  annotations: {{imageupdater.io/policy: never}}
spec:
  template:
    spec:
      containers: [{{name: legacy, image: {reg}/e2e/web:1.2.0}}]
""",
        "apps/broken.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  annotations:
    imageupdater.io/policy: minor
  name: [unclosed
""",
        "charts/shop/Chart.yaml": "apiVersion: v2\nname: shop\nversion: 0.1.0\n",
        "charts/shop/templates/deploy.yaml": (
            "metadata:\n  annotations:\n    imageupdater.io/policy: minor\n"
            "  name: {{ .Release.Name }}\n"
        ),
        "docs/notes.md": "imageupdater.io/policy is documented elsewhere\n",
    }


BROKEN = {
    "apps/down.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: down
  annotations:
    imageupdater.io/policy: "semver:^1"
spec:
  template:
    spec:
      containers:
        - name: down
          image: 127.0.0.1:9/e2e/gone:1.0.0
""",
    "apps/badpolicy.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: odd
  annotations:
    imageupdater.io/policy: "semver:>>1.0"
spec:
  template:
    spec:
      containers:
        - name: odd
          image: ghcr.io/acme/odd:1.0.0
""",
}


@dataclass
class Fleet:
    registry: LocalRegistry
    remote: Path
    work: Path
    original: dict[str, str]

    def run(self, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
        code = run_cli(list(args), capsys)
        return code, capsys.readouterr().out

    def json(self, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
        code, out = self.run(*args, "--format", "json", capsys=capsys)
        return code, json.loads(out)


def run_cli(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> int:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    code = exited.value.code
    return code if isinstance(code, int) else 0


@pytest.fixture(scope="session")
def seeded(registry: LocalRegistry, pusher: Pusher) -> LocalRegistry:
    for repo, tags in TAGS.items():
        seed_storage(registry.root, repo, tags)
    for repo, tags in PUSHED.items():
        pusher.push_image(repo, tags[0])
        pusher.push_image(repo, "0.9.0", docker=True)
    return registry


@pytest.fixture
def fleet(seeded: LocalRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fleet:
    make_hermetic(tmp_path, monkeypatch)
    files = {**manifests(seeded.host), **BROKEN}
    remote, work = clone_pair(tmp_path, files)
    return Fleet(seeded, remote, work, files)
