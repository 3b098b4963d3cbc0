"""Flux-style line markers: `# {"$imagepolicy": "<ns>:<policy>[:tag|:name|:digest]"}`.

SPEC §2.2 adopts Flux's setter syntax so that a Flux repository works unchanged, in any
YAML (Helm values, kustomization `images:`, CRDs), not only in pod templates. As in
Flux's image-automation-controller, the comment after stripping `#` must be a JSON object
of strings with the key `$imagepolicy`; anything else is an ordinary comment. The marker
form says which part of the value the field holds:

* `<ns>:<policy>` — a whole reference `name:tag` (`name:tag@digest` when the policy
  reflects digests or the value already pins one);
* `:tag`, `:name`, `:digest` — only that part (kustomize `newTag` / `newName` /
  `newDigest`, Helm `image.tag`).

This module finds markers and computes the value each one should get from a policy's
result (`LatestRef`); choosing the result is the engine's job.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from imageupdater.errors import PolicyError
from imageupdater.yamledit import Node, Scalar, line_comment

MARKER_KEY = "$imagepolicy"
FIELDS = ("", "tag", "name", "digest")


@dataclass(frozen=True, slots=True)
class Marker:
    """One marked scalar. `workload` is the enclosing Kubernetes object, if any;
    `update_mode` is that workload's `imageupdater.io/update` (`commit` or `pr`), if set."""

    file: str
    scalar: Scalar
    namespace: str
    name: str
    field: str  # "" (whole reference), "tag", "name" or "digest"
    workload: str | None
    update_mode: str | None = None

    @property
    def setter(self) -> str:
        """The marker as written: `ns:name` or `ns:name:field`."""
        base = f"{self.namespace}:{self.name}"
        return f"{base}:{self.field}" if self.field else base

    @property
    def policy_key(self) -> tuple[str, str]:
        return self.namespace, self.name


@dataclass(frozen=True, slots=True)
class LatestRef:
    """A policy's result, as Flux's `status.latestRef`: repository name, tag, digest."""

    name: str
    tag: str
    digest: str | None = None


def parse_setter(comment: str) -> tuple[str, str, str] | None:
    """`(namespace, policy, field)` from a comment's text, None when it is no marker.

    Raises PolicyError for a marker whose value is not `ns:name[:field]`.
    """
    text = comment.lstrip("#").strip()
    if MARKER_KEY not in text or not text.startswith("{"):
        return None
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in document.items()
    ):
        return None
    value = document.get(MARKER_KEY)
    if value is None:
        return None
    parts = value.split(":")
    if len(parts) == 2:
        parts.append("")
    if len(parts) != 3 or not parts[0] or not parts[1] or parts[2] not in FIELDS:
        raise PolicyError(f"invalid $imagepolicy marker {value!r}: use ns:name[:tag|:name|:digest]")
    return parts[0], parts[1], parts[2]


def object_name(document: Node | None) -> str | None:
    """`Kind/namespace/name` (or `Kind/name`) of a Kubernetes object, else None."""
    if not isinstance(document, dict):
        return None
    kind, metadata = document.get("kind"), document.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(kind, Scalar) or not isinstance(name, Scalar) or not name.value:
        return None
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    if isinstance(namespace, Scalar) and namespace.value:
        return f"{kind.value}/{namespace.value}/{name.value}"
    return f"{kind.value}/{name.value}"


def _scalars(node: Node | None) -> Iterator[Scalar]:
    if isinstance(node, Scalar):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _scalars(value)
    elif isinstance(node, list):
        for item in node:
            yield from _scalars(item)


def find_markers(
    file: str, text: str, documents: list[Node | None]
) -> tuple[list[Marker], list[tuple[int, str]]]:
    """Markers of one parsed file, and `(line, message)` for malformed ones."""
    if MARKER_KEY not in text:
        return [], []
    lines = {n for n, line in enumerate(text.splitlines(), 1) if MARKER_KEY in line}
    markers: list[Marker] = []
    problems: list[tuple[int, str]] = []
    seen: set[int] = set()
    for document in documents:
        workload = object_name(document)
        for scalar in _scalars(document):
            if scalar.line not in lines or scalar.alias or scalar.start in seen:
                continue
            comment = line_comment(text, scalar)
            if comment is None:
                continue
            try:
                setter = parse_setter(comment)
            except PolicyError as exc:
                problems.append((scalar.line, str(exc)))
                continue
            if setter is not None:
                seen.add(scalar.start)
                markers.append(Marker(file, scalar, *setter, workload))
    return markers, problems


def setter_value(marker: Marker, latest: LatestRef, *, with_digest: bool) -> str | None:
    """The value the marked field should hold; None when there is nothing to write.

    `with_digest`: a whole-reference marker gets `@digest` (the policy reflects digests,
    or the value pins one already).
    """
    if marker.field == "tag":
        return latest.tag
    if marker.field == "name":
        return latest.name
    if marker.field == "digest":
        return latest.digest
    value = f"{latest.name}:{latest.tag}"
    return f"{value}@{latest.digest}" if with_digest and latest.digest else value
