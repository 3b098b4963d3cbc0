"""A daemon under test: `python -m imageupdater run` as a real subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cret-for-tests"

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: shop
  annotations:
    imageupdater.io/policy: "semver:^1"
spec:
  template:
    spec:
      containers:
        - name: {name}
          image: {image}:{tag}   # keep this comment
"""


def automation(name: str, remote: Path, interval: str, extra: str = "") -> str:
    return f"""\
apiVersion: imageupdater.io/v1
kind: Automation
metadata: {{name: {name}}}
spec:
  git:
    url: file://{remote}
    branch: main
    author: {{name: bot, email: bot@example.com}}
  interval: {interval}
{extra}"""


def wait_for(check: Callable[[], bool], timeout: float, what: str, step: float = 0.05) -> float:
    """Seconds until `check()` held; AssertionError after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class DaemonProcess:
    def __init__(
        self,
        config: Path,
        state_dir: Path,
        *,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ):
        self.lines: list[str] = []
        self.port: int | None = None
        full_env = {**os.environ, "PYTHONPATH": str(ROOT), "IMAGEUPDATER_WEBHOOK_SECRET": SECRET}
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "imageupdater", "run", "--config", str(config),
             "--listen", "127.0.0.1:0", "--state-dir", str(state_dir), *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=full_env, text=True,
        )  # fmt: skip
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        wait_for(lambda: self.port is not None or self.proc.poll() is not None, 20, "listening")
        if self.port is None:
            raise AssertionError("daemon exited:\n" + self.log())

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            found = re.search(r"listening on [^ ]+:(\d+)", line)
            if found:
                self.port = int(found.group(1))

    def log(self) -> str:
        return "".join(self.lines)

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def post(self, path: str, body: object, headers: dict[str, str] | None = None) -> int:
        data = json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method="POST",
            headers={"Content-Type": "application/json", **(headers or {})},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=5) as r:
                return int(r.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    def ready(self) -> bool:
        return self.get("/readyz")[0] == 200

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """Kill -9 (if still running) and release the pipe."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._reader.join(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
