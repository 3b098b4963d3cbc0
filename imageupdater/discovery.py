"""Discover: files -> opted-in containers, with every skip reported (pipeline stage 1).

Each file is read once as bytes, screened cheaply, parsed once, and turned into
`Target`s: one per opted-in container whose image value can be edited. Anything that
cannot be handled becomes a `skipped` row (and, for bad annotations, an `errors` entry)
so that one bad file or workload never stops the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from imageupdater.errors import ConfigError, PolicyError, YamlParseError
from imageupdater.files import walk_yaml_files
from imageupdater.holds import freeze_of, parse_time
from imageupdater.model import ImageRef
from imageupdater.policy import TagPolicy, parse_policy
from imageupdater.registry import parse_reference
from imageupdater.report import ErrorEntry, Report, Skip, SkipReason
from imageupdater.workloads import (
    DECLINED_CLEARED,
    PIN_REASON,
    UPDATE_MODE,
    Container,
    Workload,
    find_workload,
    is_opted_in,
)
from imageupdater.yamledit import Scalar, decode, load_documents, screen


@dataclass(frozen=True, slots=True)
class Target:
    """One container whose image the engine may move."""

    file: str
    workload: str
    container: str
    scalar: Scalar
    ref: ImageRef
    policy: TagPolicy | None
    policy_text: str
    pin: str | None
    #: ``imageupdater.io/update`` of the workload (``commit`` or ``pr``), if set
    update_mode: str | None = None
    pin_reason: str = ""
    declines_cleared: datetime | None = None  # `declined-cleared`: older rollbacks ignored

    @property
    def current(self) -> str:
        return self.ref.tag or "latest"

    def skip(self, reason: SkipReason, detail: str = "") -> Skip:
        return Skip(
            file=self.file,
            reason=reason,
            detail=detail,
            workload=self.workload,
            container=self.container,
            image=self.ref.name,
            line=self.scalar.line,
            current=self.current,
            policy=self.policy_text or ("pin" if self.pin is not None else None),
        )


@dataclass(slots=True)
class SourceFile:
    path: Path
    relpath: str
    data: bytes
    text: str
    targets: list[Target] = field(default_factory=list)


def _container_skip(
    relpath: str, workload: Workload, container: Container, reason: SkipReason, detail: str
) -> Skip:
    """A skip row before the value was checked; image and current tag when they read."""
    image = current = None
    if isinstance(container.image, Scalar):
        try:
            ref = parse_reference(container.image.value.strip())
            image, current = ref.name, ref.tag or "latest"
        except ConfigError:
            pass
    policy = workload.policy_for(container.name)
    return Skip(
        file=relpath,
        reason=reason,
        detail=detail,
        workload=workload.display_name,
        container=container.name,
        image=image,
        line=container.image.line if isinstance(container.image, Scalar) else None,
        current=current,
        policy=policy.value.strip() if policy is not None else None,
    )


def _cleared(workload: Workload, container: str) -> datetime | None:
    text = workload.for_container(DECLINED_CLEARED, container)
    if text is None:
        return None
    try:
        return parse_time(text)
    except ConfigError:
        return None


def _policy(workload: Workload, container: str, relpath: str, report: Report) -> TagPolicy | None:
    scalar = workload.policy_for(container)
    if scalar is None:
        return None
    try:
        return parse_policy(scalar.value.strip())
    except PolicyError as exc:
        report.add_error(ErrorEntry("config", str(exc), file=relpath, line=scalar.line))
        raise


def _targets_of(workload: Workload, relpath: str, now: datetime, report: Report) -> list[Target]:
    targets: list[Target] = []
    freeze = freeze_of(workload, now)
    for container in workload.containers:
        if not is_opted_in(workload, container.name):
            continue

        def skip(reason: SkipReason, detail: str, item: Container = container) -> None:
            report.skipped.append(_container_skip(relpath, workload, item, reason, detail))

        if freeze is not None:
            skip("frozen", freeze.detail)
            continue
        value = container.image
        if not isinstance(value, Scalar) or value.alias:
            skip("unsupported-value", "image is not a plain value in this document")
            continue
        try:
            ref = parse_reference(value.value.strip())
        except ConfigError as exc:
            skip("unsupported-value", str(exc))
            continue
        pin = workload.pin_for(container.name)
        try:
            policy = _policy(workload, container.name, relpath, report)
        except PolicyError as exc:
            skip("invalid-policy", str(exc))
            continue
        policy_scalar = workload.policy_for(container.name)
        targets.append(
            Target(
                file=relpath,
                workload=workload.display_name,
                container=container.name,
                scalar=value,
                ref=ref,
                policy=policy,
                policy_text=policy_scalar.value.strip() if policy_scalar else "",
                pin=pin.value.strip() if pin is not None else None,
                update_mode=(workload.annotation(UPDATE_MODE) or "").strip().lower() or None,
                pin_reason=(workload.for_container(PIN_REASON, container.name) or "").strip(),
                declines_cleared=_cleared(workload, container.name),
            )
        )
    return targets


def read_source(path: Path, relpath: str, report: Report, now: datetime) -> SourceFile | None:
    """Parse one screened file into targets; None when it holds nothing for us."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        report.skipped.append(Skip(relpath, "ignored-file", f"cannot read: {exc.strerror}"))
        return None
    if not screen(data):
        return None
    try:
        text = decode(data)
        documents = load_documents(text)
    except YamlParseError as exc:
        where = f"line {exc.line}: " if exc.line else ""
        report.skipped.append(Skip(relpath, "unparseable-file", f"{where}{exc}"))
        return None
    source = SourceFile(path, relpath, data, text)
    for document in documents:
        workload = find_workload(document)
        if workload is not None:
            source.targets.extend(_targets_of(workload, relpath, now, report))
    return source


def discover(root: Path, report: Report, now: datetime) -> list[SourceFile]:
    sources: list[SourceFile] = []
    for candidate in walk_yaml_files(root):
        if candidate.skip_reason is not None:
            if candidate.skip_reason != "unparseable-file" or _screens(candidate.path):
                report.skipped.append(
                    Skip(candidate.relpath, candidate.skip_reason, candidate.detail)
                )
            continue
        source = read_source(candidate.path, candidate.relpath, report, now)
        if source is not None and source.targets:
            sources.append(source)
    return sources


def _screens(path: Path) -> bool:
    """Templates are reported only when they mention us; the rest stay silent."""
    try:
        return screen(path.read_bytes())
    except OSError:
        return False
