"""`drift`: the images Git declares versus the images the cluster runs (like kubediff).

GitOps promises that the cluster is what the branch says; drift is where it is not: a
reconciler that is stuck or suspended, a `kubectl set image` during an incident, a failed
rollout. The comparison is deliberately simple and explainable:

* **Git side** — every object with a pod template in the plain YAML under `DIR` (the same
  file walk and workload finder as `plan`, but *every* workload, not only opted-in ones:
  drift is about what runs, not about what we update). Manifests without a namespace are
  looked up in the context's namespace (or `--namespace`). Kustomize overlays and Helm
  charts are not rendered: point `DIR` at plain or pre-rendered manifests.
* **Cluster side** — the same objects' pod templates read through the API (`list` once per
  kind and namespace), i.e. the desired state the cluster holds, not individual pods.
* **Comparing** — references are normalised (`nginx:1.25` equals
  `docker.io/library/nginx:1.25`; no tag means `latest`). When only one side pins a digest
  (an admission controller resolved tags to digests), name and tag decide; when both pin
  one, the digests decide.

A list that fails (RBAC, outage) is an `errors` entry and its workloads are not compared:
an unreadable cluster is never reported as "no drift", nor as drift.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from imageupdater.errors import ConfigError, YamlParseError
from imageupdater.files import walk_yaml_files
from imageupdater.kube import KINDS, Cluster, KubeError
from imageupdater.registry import parse_reference
from imageupdater.report import ErrorEntry
from imageupdater.workloads import find_workload
from imageupdater.yamledit import Scalar, decode, load_documents

DRIFT_VERSION = 1
DriftReason = Literal["image-differs", "missing-in-cluster", "not-in-git"]


@dataclass(frozen=True, slots=True)
class GitContainer:
    workload: str  # display name as in the manifest (`Kind/ns/name` or `Kind/name`)
    kind: str
    namespace: str  # resolved: the manifest's, else the default namespace
    name: str
    container: str
    image: str | None
    file: str
    line: int | None


@dataclass(frozen=True, slots=True)
class DriftRow:
    workload: str
    container: str | None
    git: str | None
    cluster: str | None
    reason: DriftReason
    file: str
    line: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "container": self.container,
            "git": self.git,
            "cluster": self.cluster,
            "reason": self.reason,
            "file": self.file,
            "line": self.line,
        }


@dataclass(slots=True)
class DriftReport:
    context: str | None = None
    checked: int = 0  # containers compared
    drift: list[DriftRow] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    errors: list[ErrorEntry] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        self.drift.sort(key=lambda r: (r.workload, r.container or "", r.file))
        return {
            "version": DRIFT_VERSION,
            "context": self.context,
            "checked": self.checked,
            "drift": [row.to_json() for row in self.drift],
            "skipped": list(self.skipped),
            "errors": [e.to_json() for e in self.errors],
        }

    def exit_code(self, *, detailed: bool) -> int:
        """As `plan`: errors win (1); drift gives 2 only with `--detailed-exitcode`."""
        if self.errors:
            return 1
        return 2 if detailed and self.drift else 0


def git_containers(root: Path, default_namespace: str) -> Iterator[GitContainer | dict[str, str]]:
    """Every container of every pod-template object under `root`; dicts are skip rows."""
    for candidate in walk_yaml_files(root):
        if candidate.skip_reason is not None:
            continue
        try:
            data = candidate.path.read_bytes()
            if b"containers" not in data:  # cheap screen: no pod template here
                continue
            documents = load_documents(decode(data))
        except (OSError, YamlParseError):
            yield {"file": candidate.relpath, "reason": "unparseable-file"}
            continue
        for document in documents:
            workload = find_workload(document)
            if workload is None:
                continue
            if workload.kind not in KINDS:
                yield {
                    "file": candidate.relpath,
                    "workload": workload.display_name,
                    "reason": "unsupported-kind",
                }
                continue
            for container in workload.containers:
                value = container.image
                yield GitContainer(
                    workload=workload.display_name,
                    kind=workload.kind,
                    namespace=workload.namespace or default_namespace,
                    name=workload.name,
                    container=container.name,
                    image=value.value.strip() if isinstance(value, Scalar) else None,
                    file=candidate.relpath,
                    line=value.line if isinstance(value, Scalar) else None,
                )


def _pod_spec(kind: str, obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec: Any = obj.get("spec") or {}
    if kind == "CronJob":
        spec = (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get(
            "spec"
        )
    elif kind != "Pod":
        spec = (spec.get("template") or {}).get("spec")
    return spec if isinstance(spec, Mapping) else {}


def cluster_images(kind: str, obj: Mapping[str, Any]) -> dict[str, str | None]:
    """container name -> image of an object read from the API (initContainers too)."""
    spec = _pod_spec(kind, obj)
    images: dict[str, str | None] = {}
    for key in ("initContainers", "containers"):
        for item in spec.get(key) or []:
            if isinstance(item, Mapping) and item.get("name"):
                images[str(item["name"])] = item.get("image")
    return images


def same_image(git: str | None, cluster: str | None) -> bool:
    """Equal after normalisation (module docstring); unparseable values compare as text."""
    if git is None or cluster is None:
        return git == cluster
    try:
        a, b = parse_reference(git), parse_reference(cluster)
    except ConfigError:
        return git.strip() == cluster.strip()
    if a.canonical != b.canonical:
        return False
    if a.digest and b.digest:
        return a.digest == b.digest
    return (a.tag or "latest") == (b.tag or "latest")


def compare(cluster: Cluster, root: Path, namespace: str | None = None) -> DriftReport:
    """The drift report for the manifests under `root` against `cluster`."""
    report = DriftReport(context=cluster.context)
    default = namespace or cluster.namespace
    listed: dict[tuple[str, str], dict[str, dict[str, Any]] | None] = {}
    by_workload: dict[tuple[str, str, str], list[GitContainer]] = {}
    for item in git_containers(root, default):
        if isinstance(item, dict):
            report.skipped.append(item)
        else:
            by_workload.setdefault((item.kind, item.namespace, item.name), []).append(item)
    for (kind, ns, name), containers in sorted(by_workload.items()):
        if (kind, ns) not in listed:
            try:
                objects = cluster.list_workloads(kind, ns)
                listed[kind, ns] = {str(o.get("metadata", {}).get("name")): o for o in objects}
            except KubeError as exc:
                listed[kind, ns] = None
                report.errors.append(ErrorEntry("kubernetes", str(exc)))
        found = listed[kind, ns]
        if found is None:
            continue
        report.drift.extend(_compare_one(kind, found.get(name), containers, report))
    return report


def _compare_one(
    kind: str, obj: dict[str, Any] | None, containers: list[GitContainer], report: DriftReport
) -> Iterator[DriftRow]:
    first = containers[0]
    if obj is None:
        for c in containers:
            yield DriftRow(c.workload, c.container, c.image, None, "missing-in-cluster", c.file,
                           c.line)  # fmt: skip
        return
    running = cluster_images(kind, obj)
    for c in containers:
        report.checked += 1
        if c.container not in running:
            yield DriftRow(c.workload, c.container, c.image, None, "missing-in-cluster", c.file,
                           c.line)  # fmt: skip
        elif not same_image(c.image, running[c.container]):
            yield DriftRow(c.workload, c.container, c.image, running[c.container],
                           "image-differs", c.file, c.line)  # fmt: skip
    declared = {c.container for c in containers}
    for name in sorted(set(running) - declared):
        yield DriftRow(first.workload, name, None, running[name], "not-in-git", first.file, None)


class DriftGauge:
    """Drifted containers per automation, for the daemon's `imageupdater_drift` gauge.

    The daemon calls `record(automation, report)` after each drift check and its metrics
    collector reads `total()` or `by_automation()`; a lock makes that safe across threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def record(self, automation: str, report: DriftReport) -> None:
        with self._lock:
            self._counts[automation] = len(report.drift)

    def by_automation(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())


#: the process-wide gauge the daemon reads (one daemon per process)
DRIFT = DriftGauge()
