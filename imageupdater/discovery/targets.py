"""One file -> opted-in containers and markers, with every skip reported.

A screened file is parsed once and turned into `Target`s: one per opted-in container
whose image value can be edited. Anything that cannot be handled becomes a `skipped` row
(and, for bad annotations, an `errors` entry) so that one bad file or workload never
stops the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from imageupdater.compat import locked, policy_source
from imageupdater.errors import ConfigError, PolicyError, YamlParseError
from imageupdater.holds import Freeze, freeze_of, parse_time
from imageupdater.markers import Marker, find_markers
from imageupdater.model import ImageRef
from imageupdater.namedpolicies import PolicyBook
from imageupdater.policy import TagPolicy
from imageupdater.registry import parse_reference
from imageupdater.report import ErrorEntry, Report, Skip, SkipReason
from imageupdater.workloads import (
    DECLINED_CLEARED,
    FROZEN_UNTIL,
    PIN_REASON,
    UPDATE_MODE,
    Container,
    Workload,
    find_workload,
    is_opted_in,
)
from imageupdater.yamledit import Node, Scalar, decode, load_documents, screen


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
    markers: list[Marker] = field(default_factory=list)


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


def _policy(
    workload: Workload, container: str, relpath: str, report: Report, book: PolicyBook
) -> TagPolicy | None:
    source = policy_source(workload, container)
    if source is None:
        return None
    scalar = source.scalar
    try:
        return book.parse(source.expression)
    except PolicyError as exc:
        report.add_error(ErrorEntry("config", str(exc), file=relpath, line=scalar.line))
        raise


def _targets_of(
    workload: Workload, relpath: str, now: datetime, report: Report, book: PolicyBook
) -> list[Target]:
    targets: list[Target] = []
    freeze = _freeze(workload, now)
    for container in workload.containers:
        source = policy_source(workload, container.name)
        if source is None and not is_opted_in(workload, container.name):
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
            policy = _policy(workload, container.name, relpath, report, book)
        except PolicyError as exc:
            skip("invalid-policy", str(exc))
            continue
        targets.append(
            Target(
                file=relpath,
                workload=workload.display_name,
                container=container.name,
                scalar=value,
                ref=ref,
                policy=policy,
                policy_text=source.expression if source else "",
                pin=pin.value.strip() if pin is not None else None,
                update_mode=(workload.annotation(UPDATE_MODE) or "").strip().lower() or None,
                pin_reason=(workload.for_container(PIN_REASON, container.name) or "").strip(),
                declines_cleared=_cleared(workload, container.name),
            )
        )
    return targets


@dataclass(slots=True)
class Parsed:
    path: Path
    relpath: str
    data: bytes
    text: str
    documents: list[Node | None]


def read_screened(path: Path, relpath: str, report: Report) -> bytes | None:
    """The file's bytes when it may hold something for us; None otherwise."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        report.skipped.append(Skip(relpath, "ignored-file", f"cannot read: {exc.strerror}"))
        return None
    return data if screen(data) else None


def parse_file(path: Path, relpath: str, data: bytes, report: Report) -> Parsed | None:
    """Decode and parse screened bytes; None (and an `unparseable-file` row) when broken."""
    try:
        text = decode(data)
        documents = load_documents(text, remember=False)  # the memo keeps the outcome
    except YamlParseError as exc:
        where = f"line {exc.line}: " if exc.line else ""
        report.skipped.append(Skip(relpath, "unparseable-file", f"{where}{exc}"))
        return None
    return Parsed(path, relpath, data, text, list(documents))


def read_and_parse(path: Path, relpath: str, report: Report) -> Parsed | None:
    """`read_screened`, then `parse_file`: one file, read from disk."""
    data = read_screened(path, relpath, report)
    return None if data is None else parse_file(path, relpath, data, report)


def _freeze(workload: Workload, now: datetime) -> Freeze | None:
    lock = locked(workload)
    return freeze_of(workload, now) or (Freeze(lock) if lock else None)


def build_source(
    parsed: Parsed, report: Report, now: datetime, book: PolicyBook
) -> tuple[SourceFile, bool]:
    """The file's targets and markers, and whether they depend on `now` (a workload with
    `frozen-until`: the answer changes when it thaws, so it must not be remembered)."""
    source = SourceFile(parsed.path, parsed.relpath, parsed.data, parsed.text)
    clock = False
    for document in parsed.documents:
        workload = find_workload(document)
        clock = clock or (workload is not None and FROZEN_UNTIL in workload.annotations)
        markers, problems = find_markers(parsed.relpath, parsed.text, [document])
        for line, message in problems:
            report.add_error(ErrorEntry("config", message, file=parsed.relpath, line=line))
        if workload is None:
            source.markers.extend(markers)
            continue
        source.targets.extend(_targets_of(workload, parsed.relpath, now, report, book))
        freeze = _freeze(workload, now)
        # a marker in a workload is delivered as the workload asks (`imageupdater.io/update`)
        mode = (workload.annotation(UPDATE_MODE) or "").strip().lower() or None
        # a container opted in by annotation is decided by its annotation, not by a marker
        # on the same value: one value gets one decision
        annotated = {
            c.image.start
            for c in workload.containers
            if isinstance(c.image, Scalar)
            and (policy_source(workload, c.name) is not None or is_opted_in(workload, c.name))
        }
        for marker in markers:
            if marker.scalar.start in annotated:
                continue
            if freeze is not None:  # frozen: no change of any kind, markers included
                skip = Skip(parsed.relpath, "frozen", freeze.detail, marker.workload)
                report.skipped.append(replace(skip, line=marker.scalar.line))
                continue
            source.markers.append(replace(marker, update_mode=mode) if mode else marker)
    return source, clock
