"""Find opted-in containers in parsed YAML documents (SPEC §2.1).

A document is a workload when it has a pod template: `spec` of a Pod,
`spec.jobTemplate.spec.template.spec` of a CronJob, `spec.template.spec` of every other
kind (including unknown CRDs that follow the convention). Only the annotations decide
whether a container takes part; the image value is located, not interpreted, here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from imageupdater.yamledit import Node, Scalar

ANNOTATION_PREFIX = "imageupdater.io/"
POLICY = ANNOTATION_PREFIX + "policy"
PIN = ANNOTATION_PREFIX + "pin"
FROZEN = ANNOTATION_PREFIX + "frozen"
FROZEN_UNTIL = ANNOTATION_PREFIX + "frozen-until"
FROZEN_REASON = ANNOTATION_PREFIX + "frozen-reason"
PIN_REASON = ANNOTATION_PREFIX + "pin-reason"
DECLINED_CLEARED = ANNOTATION_PREFIX + "declined-cleared"
UPDATE_MODE = ANNOTATION_PREFIX + "update"
CONTAINER_LISTS = ("initContainers", "containers")


@dataclass(frozen=True, slots=True)
class Container:
    name: str
    image: Node | None  # the `image` value as located (a Scalar when editable)


@dataclass(frozen=True, slots=True)
class Workload:
    kind: str
    name: str
    namespace: str | None
    annotations: dict[str, Scalar]
    containers: tuple[Container, ...]

    @property
    def display_name(self) -> str:
        """`Kind/namespace/name`, or `Kind/name` for manifests without a namespace."""
        if self.namespace:
            return f"{self.kind}/{self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"

    def annotation(self, key: str) -> str | None:
        scalar = self.annotations.get(key)
        return scalar.value if scalar is not None else None

    def policy_for(self, container: str) -> Scalar | None:
        """The per-container annotation wins over the workload-wide one."""
        return self.annotations.get(f"{POLICY}.{container}", self.annotations.get(POLICY))

    def pin_for(self, container: str) -> Scalar | None:
        return self.annotations.get(f"{PIN}.{container}", self.annotations.get(PIN))

    def pin_key(self, container: str) -> str | None:
        """The annotation that pins `container`, when one does."""
        for key in (f"{PIN}.{container}", PIN):
            if key in self.annotations:
                return key
        return None

    def for_container(self, key: str, container: str) -> str | None:
        """`key.<container>` when set, else `key`: the per-container override rule."""
        return self.annotation(f"{key}.{container}") or self.annotation(key)


def _get(node: Node | None, *path: str) -> Node | None:
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _text(node: Node | None) -> str | None:
    return node.value if isinstance(node, Scalar) else None


def pod_spec(document: Node | None) -> Node | None:
    kind = _text(_get(document, "kind"))
    if kind is None:
        return None
    if kind == "Pod":
        spec = _get(document, "spec")
    elif kind == "CronJob":
        spec = _get(document, "spec", "jobTemplate", "spec", "template", "spec")
    else:
        spec = _get(document, "spec", "template", "spec")
    if isinstance(spec, dict) and isinstance(spec.get("containers"), list):
        return spec
    return None


def _containers(spec: Node) -> Iterator[Container]:
    for list_key in CONTAINER_LISTS:
        items = _get(spec, list_key)
        if not isinstance(items, list):
            continue
        for item in items:
            name = _text(_get(item, "name"))
            if name is not None and isinstance(item, dict):
                yield Container(name, item.get("image"))


def _annotations(document: Node) -> dict[str, Scalar]:
    node = _get(document, "metadata", "annotations")
    if not isinstance(node, dict):
        return {}
    return {k: v for k, v in node.items() if isinstance(v, Scalar)}


def find_workload(document: Node | None) -> Workload | None:
    """The workload a document declares, or None when it has no pod template."""
    spec = pod_spec(document)
    if spec is None or document is None:
        return None
    kind = _text(_get(document, "kind")) or ""
    return Workload(
        kind=kind,
        name=_text(_get(document, "metadata", "name")) or "",
        namespace=_text(_get(document, "metadata", "namespace")),
        annotations=_annotations(document),
        containers=tuple(_containers(spec)),
    )


def is_opted_in(workload: Workload, container: str) -> bool:
    """Nothing is touched unless a policy or a pin names it (SPEC §2)."""
    return workload.policy_for(container) is not None or workload.pin_for(container) is not None
