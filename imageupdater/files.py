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


def _chart_templates(dirpath: Path, dirnames: list[str], filenames: list[str]) -> set[str]:
    """A Helm chart's `templates/` holds Go templates, never plain YAML."""
    if "Chart.yaml" in filenames and "templates" in dirnames:
        return {"templates"}
    return set()


def walk_yaml_files(root: Path) -> Iterator[Candidate]:
    root = root.resolve()
    template_roots: list[Path] = []
    for dirpath_str, dirnames, filenames in os.walk(root, followlinks=False):
        dirpath = Path(dirpath_str)
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
        for linked in [d for d in dirnames if (dirpath / d).is_symlink()]:
            dirnames.remove(linked)
            if not _inside(root, dirpath / linked):
                rel = (dirpath / linked).relative_to(root).as_posix()
                yield Candidate(
                    dirpath / linked, rel, "ignored-file", "symlink leaves the scan root"
                )
        template_roots.extend(dirpath / t for t in _chart_templates(dirpath, dirnames, filenames))
        in_templates = any(dirpath == t or t in dirpath.parents for t in template_roots)
        for name in sorted(filenames):
            if not is_yaml_name(name):
                continue
            path = dirpath / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink() and not _inside(root, path):
                yield Candidate(path, rel, "ignored-file", "symlink leaves the scan root")
                continue
            try:
                size = path.stat().st_size
            except OSError as exc:
                yield Candidate(path, rel, "ignored-file", f"cannot read: {exc.strerror}")
                continue
            if size > MAX_FILE_BYTES:
                yield Candidate(path, rel, "ignored-file", f"larger than {MAX_FILE_BYTES} bytes")
            elif in_templates:
                yield Candidate(path, rel, "unparseable-file", "Helm chart template")
            else:
                yield Candidate(path, rel)
