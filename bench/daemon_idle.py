"""Idle cost of `imageupdater run` with many automations: CPU share and resident memory.

    python bench/daemon_idle.py                       # 50 automations, interval 5m, 30 s window
    python bench/daemon_idle.py --automations 100 --interval 10m --window 60

Everything is local: Debian's docker-registry on 127.0.0.1 (seeded through its storage),
one bare Git repository per automation over file://, each with one workload whose image
is up to date. The daemon runs as a child process (`python -m imageupdater run`), exactly
as in production. The bench waits until every automation has finished its first cycle
(startup cost, reported separately), then samples the daemon's own CPU time
(/proc/<pid>/stat utime+stime) and VmRSS over the window, in which no cycle is due.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from imageupdater.devtools import start_registry  # noqa: E402
from imageupdater.devtools.seed import seed_storage  # noqa: E402

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  annotations:
    imageupdater.io/policy: "semver:^1"
spec:
  template:
    spec:
      containers:
        - name: app
          image: {host}/idle/app-{image}:1.4.0
"""

AUTOMATION = """\
---
apiVersion: imageupdater.io/v1
kind: Automation
metadata: {{name: auto-{i}}}
spec:
  git: {{url: "file://{remote}", branch: main}}
  interval: {interval}
"""


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_repos(work: Path, host: str, count: int, interval: str) -> Path:
    env_ok = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b",
              "GIT_COMMITTER_EMAIL": "b@x"}  # fmt: skip
    os.environ.update(env_ok)
    docs = []
    for i in range(count):
        remote, seed = work / f"r{i}.git", work / f"seed{i}"
        git(work, "init", "-q", "--bare", "-b", "main", str(remote))
        git(work, "init", "-q", "-b", "main", str(seed))
        (seed / "app.yaml").write_text(MANIFEST.format(i=i, host=host, image=i % 10))
        git(seed, "add", "-A")
        git(seed, "commit", "-q", "-m", "init")
        git(seed, "push", "-q", str(remote), "main")
        docs.append(AUTOMATION.format(i=i, remote=remote, interval=interval))
    config = work / "automations.yaml"
    config.write_text("".join(docs))
    return config


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    found = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(found.group(1)) / 1024 if found else 0.0


def metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--automations", type=int, default=50)
    parser.add_argument("--interval", default="5m")
    parser.add_argument("--window", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="imageupdater-idle-") as tmp:
        work = Path(tmp)
        with start_registry(work / "registry") as registry:
            for n in range(10):
                seed_storage(registry.root, f"idle/app-{n}", ["1.0.0", "1.2.0", "1.4.0"])
            config = make_repos(work, registry.host, args.automations, args.interval)
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            started = time.monotonic()
            proc = subprocess.Popen(
                [sys.executable, "-m", "imageupdater", "run", "--config", str(config),
                 "--listen", "127.0.0.1:0", "--state-dir", str(work / "state")],
                stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True,
            )  # fmt: skip
            try:
                assert proc.stderr is not None
                port = 0
                while not port:
                    line = proc.stderr.readline()
                    if not line:
                        raise SystemExit("the daemon exited before listening")
                    found = re.search(r"listening on [^ ]+:(\d+)", line)
                    port = int(found.group(1)) if found else 0
                # drain stderr so the daemon never blocks on a full pipe
                threading.Thread(target=proc.stderr.read, daemon=True).start()
                while metric(port, "imageupdater_cycles_total") < args.automations:
                    time.sleep(0.2)
                first_cycles = time.monotonic() - started
                startup_cpu = cpu_seconds(proc.pid)
                ok = metric(port, 'imageupdater_cycles_total{automation="auto-0",result="ok"}')
                time.sleep(1.0)  # let the last cycle's threads settle
                cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
                peak = 0.0
                while time.monotonic() - t0 < args.window:
                    peak = max(peak, rss_mb(proc.pid))
                    time.sleep(1.0)
                cpu1, t1 = cpu_seconds(proc.pid), time.monotonic()
                rss = rss_mb(proc.pid)
            finally:
                proc.terminate()
                code = proc.wait(30)
    share = 100 * (cpu1 - cpu0) / (t1 - t0)
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}"
    )
    print(
        f"automations: {args.automations} (interval {args.interval}), first cycle of all "
        f"done in {first_cycles:.1f}s using {startup_cpu:.1f}s CPU (auto-0 ok: {ok == 1})"
    )
    print(
        f"idle over {t1 - t0:.0f}s: CPU {share:.2f}% of one core, "
        f"RSS {rss:.1f} MB (peak {peak:.1f} MB)"
    )
    print(f"SIGTERM exit code: {code}")


if __name__ == "__main__":
    main()
