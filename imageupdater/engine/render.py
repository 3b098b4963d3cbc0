"""Render: decisions -> byte splices per file; a file failing verification is left alone."""

from __future__ import annotations

from collections.abc import Sequence

from imageupdater.discovery import SourceFile
from imageupdater.errors import RewriteError
from imageupdater.progress import RENDER, Progress, tally
from imageupdater.report import ErrorEntry, Report, Update
from imageupdater.yamledit import Edit, apply_edits, encode

from .results import Decision, FileChange, MarkerEdit


def render(
    sources: Sequence[SourceFile],
    decisions: Sequence[Decision],
    report: Report,
    marker_edits: Sequence[MarkerEdit] = (),
    progress: Progress | None = None,
) -> list[FileChange]:
    """Plan stage: splice decisions into each file; a file failing verification is left alone."""
    by_file: dict[str, list[Decision]] = {}
    for decision in decisions:
        by_file.setdefault(decision.target.file, []).append(decision)
    markers_by_file: dict[str, list[MarkerEdit]] = {}
    for marker_edit in marker_edits:
        markers_by_file.setdefault(marker_edit.marker.file, []).append(marker_edit)
    counted = tally(progress, RENDER) if by_file or markers_by_file else None
    if counted is not None:
        counted.add(len(by_file.keys() | markers_by_file.keys()))
    changes: list[FileChange] = []
    for source in sources:
        chosen = by_file.get(source.relpath, [])
        marked = markers_by_file.get(source.relpath, [])
        if not chosen and not marked:
            continue
        edits = [
            Edit(d.target.scalar, d.value or d.target.ref.with_tag(d.tag, d.digest)) for d in chosen
        ]
        edits.extend(Edit(m.marker.scalar, m.value) for m in marked)
        try:
            # every scalar was discovered in this very text (parsed, or remembered by it)
            after_text = apply_edits(source.text, edits, loaded_from_text=True)
        except RewriteError as exc:
            report.add_error(ErrorEntry("rewrite", str(exc), file=source.relpath))
            for d in chosen:
                report.skipped.append(d.target.skip("unsupported-value", f"file not edited: {exc}"))
            for m in marked:
                report.skipped.append(m.skip("unsupported-value", f"file not edited: {exc}"))
            continue
        finally:
            if counted is not None:
                counted.finish()
        changes.append(
            FileChange(
                source.path,
                source.relpath,
                source.data,
                encode(after_text),
                source.text,
                after_text,
            )
        )
        report.updates.extend(_update_row(d) for d in chosen)
        report.updates.extend(m.update for m in marked)
    return changes


def _update_row(decision: Decision) -> Update:
    target = decision.target
    return Update(
        file=target.file,
        line=target.scalar.line,
        workload=target.workload,
        container=target.container,
        image=target.ref.name,
        from_tag=target.current,
        to_tag=decision.tag,
        policy=decision.policy,
        digest=decision.digest,
    )
