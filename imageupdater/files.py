"""Which files under a scan root are read, and which are skipped out loud (SPEC §5).

The walk never leaves the root: a symlink whose target resolves outside it is reported
and not followed. Directory order is sorted so every run visits files in the same order.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

MAX_FILE_BYTES = 10 * 1024 * 1024
YAML_SUFFIXES = (".yaml", ".yml")
EXTENSIONLESS_NAMES = frozenset({"Kustomization"})
SKIPPED_DIRS = frozenset({".git"})


@dataclass(frozen=True, slots=True)
class Candidate:
    """A file to screen and parse, or one to report as skipped (`skip_reason` set)."""

    path: Path
    relpath: str
    skip_reason: Literal["ignored-file", "unparseable-file"] | None = None
    detail: str = ""


def is_yaml_name(name: str) -> bool:
    return name.endswith(YAML_SUFFIXES) or name in EXTENSIONLESS_NAMES


def _inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except (ValueError, OSError):
        return False
    return True


def walk_yaml_files(root: Path) -> Iterator[Candidate]:
    """Every YAML file under `root`, directories and files in sorted order, each
    directory's files before its subdirectories (`os.scandir`: one system call per
    directory, and the file type and size come with the listing)."""
    root = root.resolve()
    yield from _walk(root, str(root), "", in_templates=False)


def _walk(root: Path, directory: str, prefix: str, *, in_templates: bool) -> Iterator[Candidate]:
    try:
        with os.scandir(directory) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError:
        return  # as os.walk: a directory that vanished or cannot be listed is passed over
    subdirs: list[os.DirEntry[str]] = []
    files: list[os.DirEntry[str]] = []
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if is_dir:
            if entry.name not in SKIPPED_DIRS:
                subdirs.append(entry)
        else:
            files.append(entry)
    followed: list[os.DirEntry[str]] = []
    for entry in subdirs:
        if not entry.is_symlink():
            followed.append(entry)
        elif not _inside(root, Path(entry.path)):
            yield Candidate(Path(entry.path), prefix + entry.name, "ignored-file",
                            "symlink leaves the scan root")  # fmt: skip
    # a Helm chart's `templates/` holds Go templates, never plain YAML
    chart = any(entry.name == "Chart.yaml" for entry in files)
    for entry in files:
        if is_yaml_name(entry.name):
            yield _candidate(root, entry, prefix + entry.name, in_templates=in_templates)
    for entry in followed:
        below = in_templates or (chart and entry.name == "templates")
        yield from _walk(root, entry.path, f"{prefix}{entry.name}/", in_templates=below)


def _candidate(root: Path, entry: os.DirEntry[str], rel: str, *, in_templates: bool) -> Candidate:
    path = Path(entry.path)
    if entry.is_symlink() and not _inside(root, path):
        return Candidate(path, rel, "ignored-file", "symlink leaves the scan root")
    try:
        size = entry.stat().st_size
    except OSError as exc:
        return Candidate(path, rel, "ignored-file", f"cannot read: {exc.strerror}")
    if size > MAX_FILE_BYTES:
        return Candidate(path, rel, "ignored-file", f"larger than {MAX_FILE_BYTES} bytes")
    if in_templates:
        return Candidate(path, rel, "unparseable-file", "Helm chart template")
    return Candidate(path, rel)
