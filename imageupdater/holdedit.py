"""`pin`, `unpin`, `freeze`, `unfreeze`: hold a workload still by editing its annotations.

Each verb finds exactly one workload (SPEC §4 naming), works out the annotation lines to
set or remove, splices them into the file (`yamledit.set_annotation`: one line inserted or
changed where possible, verified by a re-parse) and commits only that file. `pin --tag`
also moves the image to that tag in the same commit: the one-command rollback. Because that
commit carries no `Image-Update:` trailer it is a human rollback for `declines`, so the
version rolled back from stays declined after `unpin`. A value that pins a digest
(`repo:1.0@sha256:...`) keeps that style with the digest of the new tag, which the caller's
`DigestLookup` finds; nothing else here asks a registry.

Everything is checked before anything is written: an unknown or ambiguous workload, a
missing container, a file with the user's own uncommitted changes are errors and no file
is touched.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from imageupdater.errors import (
    ConfigError,
    GitError,
    ImageUpdaterError,
    RegistryError,
    RewriteError,
    YamlParseError,
)
from imageupdater.files import walk_yaml_files
from imageupdater.holds import parse_time
from imageupdater.model import ImageRef
from imageupdater.registry import parse_reference
from imageupdater.workloads import (
    DECLINED_CLEARED,
    FROZEN,
    FROZEN_REASON,
    FROZEN_UNTIL,
    PIN,
    PIN_REASON,
    Workload,
    find_workload,
)
from imageupdater.workspace import NothingToCommit, PushRejected, Workspace
from imageupdater.yamledit import (
    Edit,
    Scalar,
    apply_edits,
    decode,
    encode,
    iter_documents,
    set_annotation,
)

MAX_PUSH_ATTEMPTS = 4
HOLD_TRAILER = "Image-Hold"

#: the manifest digest of a tag of the image's repository; None when the tag does not exist
DigestLookup = Callable[[ImageRef, str], str | None]


class UsageError(ConfigError):
    """A bad argument value (exit 64), as opposed to a state of the repository (exit 1)."""


@dataclass(frozen=True, slots=True)
class Located:
    path: Path
    relpath: str
    document: int
    workload: Workload
    data: bytes
    text: str


@dataclass(slots=True)
class HoldResult:
    action: str
    workload: str
    file: str
    set: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    #: {"container", "from", "to"} for pin --tag, and "digest" when the value pins one
    image: dict[str, str] | None = None
    commit: str | None = None
    staged: bool = False
    pushed: bool = False
    changed: bool = False
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "action": self.action,
            "workload": self.workload,
            "file": self.file,
            "changed": self.changed,
            "set": dict(self.set),
            "removed": list(self.removed),
            "image": self.image,
            "commit": self.commit,
            "staged": self.staged,
            "pushed": self.pushed,
        }


@dataclass(frozen=True, slots=True)
class Delivery:
    commit: bool | None = None  # None: commit inside a Git repository
    push: bool = False
    branch: str | None = None
    backoff: float = 0.5


# ------------------------------------------------------------------------------ naming


def matches(workload: Workload, name: str) -> bool:
    """`Kind/namespace/name`, `Kind/name`, `namespace/name` or `name` (SPEC §4)."""
    parts = name.split("/")
    if len(parts) == 1:
        return workload.name == parts[0]
    if len(parts) == 3:
        return (workload.kind, workload.namespace or "", workload.name) == tuple(parts)
    if len(parts) == 2:
        first, last = parts
        if workload.name != last:
            return False
        as_kind = workload.kind == first and workload.namespace is None
        as_namespace = workload.namespace == first
        # `Kind/name` also names a namespaced workload when that is unambiguous
        return as_kind or as_namespace or workload.kind == first
    return False


def locate(root: Path, name: str) -> Located:
    """The one workload called `name` under `root`; else a `ConfigError` listing matches."""
    if not name or name.count("/") > 2 or "" in name.split("/"):
        raise UsageError(f"{name!r} is not a workload name (Kind/namespace/name, ...)")
    found: list[Located] = []
    for candidate in walk_yaml_files(root):
        if candidate.skip_reason is not None:
            continue
        try:
            data = candidate.path.read_bytes()
            if b"kind" not in data:
                continue
            text = decode(data)
            documents = list(iter_documents(text))
        except (OSError, YamlParseError):
            continue
        for index, document in documents:
            workload = find_workload(document)
            if workload is not None and matches(workload, name):
                found.append(
                    Located(candidate.path, candidate.relpath, index, workload, data, text)
                )
    if len(found) == 1:
        return found[0]
    if not found:
        raise ConfigError(f"no workload named {name!r} under {root}")
    listed = ", ".join(f"{f.workload.display_name} ({f.relpath})" for f in found)
    raise ConfigError(f"{name!r} is ambiguous: it matches {listed}; use Kind/namespace/name")


def _container(located: Located, container: str | None) -> str | None:
    names = [c.name for c in located.workload.containers]
    if container is not None and container not in names:
        raise ConfigError(
            f"{located.workload.display_name} has no container {container!r} "
            f"(it has: {', '.join(names)})"
        )
    return container


# ------------------------------------------------------------------------------ editing


@dataclass
class _Change:
    located: Located
    action: str
    set: dict[str, str] = field(default_factory=dict)
    remove: list[str] = field(default_factory=list)
    image: tuple[Scalar, str, dict[str, str]] | None = None  # scalar, new value, row
    subject: str = ""
    body: list[str] = field(default_factory=list)

    def render(self) -> str:
        text = self.located.text
        if self.image is not None:
            text = apply_edits(text, [Edit(self.image[0], self.image[1])])
        present = self.located.workload.annotations
        for key, value in self.set.items():
            current = present.get(key)
            if current is None or current.value != value:
                text = set_annotation(text, self.located.document, key, value)
        for key in self.remove:
            if key in present:
                text = set_annotation(text, self.located.document, key, None)
        return text


def plan_pin(
    located: Located,
    container: str | None,
    tag: str | None,
    reason: str | None,
    lookup_digest: DigestLookup | None = None,
) -> _Change:
    """The pin annotation, and with a `tag` other than the current one the image moved there.

    `lookup_digest` is asked only when the value pins a digest and the tag changes; without
    one such a value is refused."""
    workload = located.workload
    name = _container(located, container)
    containers = workload.containers
    if name is None:
        if len(containers) != 1:
            names = ", ".join(c.name for c in containers)
            raise UsageError(
                f"{workload.display_name} has several containers ({names}): "
                "name one with --container"
            )
        name = containers[0].name
    item = next(c for c in containers if c.name == name)
    if not isinstance(item.image, Scalar) or item.image.alias:
        raise ConfigError(f"{workload.display_name} {name}: image is not a plain value here")
    ref = parse_reference(item.image.value.strip())
    current = ref.tag or "latest"
    wanted = tag if tag is not None else current
    if tag is not None:
        _check_tag(tag)
    key = workload.pin_key(name) or (f"{PIN}.{name}" if container is not None else PIN)
    if container is not None and key == PIN:
        key = f"{PIN}.{name}"
    change = _Change(located, "pin", {key: wanted})
    reason_key = key.replace(PIN, PIN_REASON, 1)
    if reason:
        change.set[reason_key] = reason
    elif reason_key in workload.annotations:
        change.remove.append(reason_key)
    subject = f"Pin {workload.display_name} {name} to {wanted}"
    if wanted != current:
        row = {"container": name, "from": current, "to": wanted}
        line = f"{ref.name}: {current} -> {wanted}"
        digest = None
        if ref.digest:
            digest = _digest_of(ref, wanted, f"{workload.display_name} {name}", lookup_digest)
            row["digest"] = digest
            line = f"{ref.name}: {current}@{ref.digest} -> {wanted}@{digest}"
        change.image = (item.image, ref.with_tag(wanted, digest), row)
        subject = f"Roll back {workload.display_name} {name} to {wanted} and pin it"
        change.body.append(line)
    change.subject = subject
    if reason:
        change.body.append(f"Reason: {reason}")
    change.body.append(f"{HOLD_TRAILER}: pin {workload.display_name} {name} {wanted}")
    return change


def _digest_of(ref: ImageRef, tag: str, what: str, lookup: DigestLookup | None) -> str:
    """The digest of `tag` in `ref`'s repository, for a value that pins a digest."""
    if lookup is None:
        raise ConfigError(
            f"{what}: the image pins a digest ({ref.digest}); the digest of {tag} "
            "needs a registry lookup"
        )
    try:
        digest = lookup(ref, tag)
    except ImageUpdaterError as exc:
        # the same kind (auth, registry, ...), told which pin it was for
        raise type(exc)(
            f"{what}: cannot look up the digest of {tag}: {exc}; nothing changed"
        ) from None
    if digest is None:
        raise RegistryError(
            f"{what}: tag {tag} does not exist in {ref.name}; the image pins a digest, "
            "so the tag must be in the registry (nothing changed)"
        )
    return digest


def _check_tag(tag: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", tag):
        raise UsageError(f"--tag {tag!r} is not a valid image tag")


def plan_unpin(
    located: Located, container: str | None, clear_declined: bool, now: datetime
) -> _Change:
    workload = located.workload
    name = _container(located, container)
    change = _Change(located, "unpin")
    if name is not None:
        keys = [f"{PIN}.{name}", f"{PIN_REASON}.{name}"]
        whole = PIN in workload.annotations and f"{PIN}.{name}" not in workload.annotations
        if whole and not clear_declined:
            raise ConfigError(
                f"{workload.display_name} is pinned as a whole ({PIN}); "
                "unpin it without --container"
            )
    else:
        keys = [
            k
            for k in workload.annotations
            if k in (PIN, PIN_REASON) or k.startswith((f"{PIN}.", f"{PIN_REASON}."))
        ]
    change.remove = [k for k in dict.fromkeys(keys) if k in workload.annotations]
    what = f"{workload.display_name}{' ' + name if name else ''}"
    change.subject = f"Unpin {what}"
    if clear_declined:
        key = f"{DECLINED_CLEARED}.{name}" if name else DECLINED_CLEARED
        change.set[key] = now.isoformat().replace("+00:00", "Z")
        change.subject = (
            f"Unpin {what} and clear its declined versions"
            if change.remove
            else f"Clear declined versions of {what}"
        )
        change.action = "unpin --clear-declined"
    change.body.append(f"{HOLD_TRAILER}: {change.action} {what}")
    return change


def plan_freeze(located: Located, until: str | None, reason: str | None, now: datetime) -> _Change:
    workload = located.workload
    change = _Change(located, "freeze")
    if until is not None:
        try:
            moment = parse_time(until)
        except ConfigError as exc:
            raise UsageError(f"--until: {exc}") from None
        if moment <= now:
            raise UsageError(f"--until {until} is not in the future (now is {now.isoformat()})")
        change.set[FROZEN_UNTIL] = until.strip()
        change.remove.append(FROZEN)
        change.subject = f"Freeze {workload.display_name} until {until.strip()}"
    else:
        change.set[FROZEN] = "true"
        change.remove.append(FROZEN_UNTIL)
        change.subject = f"Freeze {workload.display_name}"
    if reason:
        change.set[FROZEN_REASON] = reason
        change.body.append(f"Reason: {reason}")
    change.body.append(f"{HOLD_TRAILER}: freeze {workload.display_name}")
    return change


def plan_unfreeze(located: Located) -> _Change:
    workload = located.workload
    change = _Change(located, "unfreeze")
    change.remove = [k for k in (FROZEN, FROZEN_UNTIL, FROZEN_REASON) if k in workload.annotations]
    change.subject = f"Unfreeze {workload.display_name}"
    change.body.append(f"{HOLD_TRAILER}: unfreeze {workload.display_name}")
    return change


# ------------------------------------------------------------------------------ delivery


def execute(change: _Change, delivery: Delivery) -> HoldResult:
    """Write the change and commit (and push) it; nothing is written when a check fails."""
    located = change.located
    result = HoldResult(change.action, located.workload.display_name, located.relpath)
    try:
        after = change.render()
    except RewriteError as exc:
        raise RewriteError(f"{located.relpath}: {exc}") from None
    result.set = {k: v for k, v in change.set.items() if located.workload.annotation(k) != v}
    result.removed = [k for k in change.remove if k in located.workload.annotations]
    if change.image is not None:
        result.image = change.image[2]
    if after == located.text:
        result.message = "nothing to change"
        return result
    workspace = Workspace.find(located.path)
    if delivery.commit and workspace is None:
        raise ConfigError(f"--commit needs a Git repository; {located.path} is not in one")
    commit = workspace is not None and delivery.commit is not False
    if workspace is not None and workspace.dirty_paths([located.path]):
        raise GitError(f"{located.relpath} has uncommitted changes; commit or stash them first")
    _write(located, encode(after))
    result.changed = True
    if workspace is None:
        return result
    if not commit:
        workspace.stage([located.path])
        result.staged = True
        return result
    message = "\n".join([change.subject, "", *change.body]) + "\n"
    try:
        result.commit = workspace.commit_files([located.path], message)
    except NothingToCommit:
        return result
    if delivery.push:
        _push(workspace, result, delivery)
    return result


def _write(located: Located, data: bytes) -> None:
    """Replace the file atomically, keeping its mode; refuse if it changed since it was read."""
    path = located.path
    if path.read_bytes() != located.data:
        raise GitError(f"{located.relpath} changed while editing; not written")
    mode = path.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".imageupdater-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _push(workspace: Workspace, result: HoldResult, delivery: Delivery) -> None:
    """Push; when someone else pushed first, put our commit on top of theirs and retry."""
    for attempt in range(1, MAX_PUSH_ATTEMPTS + 1):
        try:
            workspace.push(delivery.branch)
        except PushRejected:
            if attempt == MAX_PUSH_ATTEMPTS:
                raise GitError(f"push rejected {attempt} times; committed locally only") from None
            workspace.sync_with_remote(delivery.branch)
            result.commit = workspace.head()
            time.sleep(delivery.backoff * attempt)
            continue
        result.pushed = True
        return


def run(
    root: Path, name: str, build: Callable[[Located], _Change], delivery: Delivery
) -> HoldResult:
    """Locate the workload, build the change with `build(located)`, write and commit it."""
    located = locate(root, name)
    return execute(build(located), delivery)
