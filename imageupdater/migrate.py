"""`imageupdater migrate`: Flux v1 / Keel annotations and Flux v2 policies made native.

The goal is a diff a reviewer can read in a minute and that changes no choice: `plan`
before and after picks the same tags (tests/engine/test_compat.py checks this on the
fixture repositories).

* Flux v1: `fluxcd.io/tag.<c>: <pattern>` becomes `imageupdater.io/policy.<c>: <expr>`
  on the same line; `fluxcd.io/automated: "true"` becomes `imageupdater.io/policy:
  glob:*` when some container has no pattern (Flux v1's default), else its line goes;
  `fluxcd.io/locked` / `locked_msg` become `imageupdater.io/frozen` / `frozen-reason`.
* Keel: `keel.sh/policy: <p>` becomes `imageupdater.io/policy: <expr>`; Keel's other
  annotations (`keel.sh/trigger`, ...) are left for Keel.
* Flux v2: markers are already native syntax (SPEC §2.2) and stay. Each Flux ImagePolicy
  (with its ImageRepository's image and exclusions) gets a native twin in a new file next
  to it, `<name>.imageupdater.yaml`; a native policy shadows the Flux one of the same
  namespace/name, so Flux's objects can stay until Flux is removed.

A workload that already has native policy annotations, or whose compat policy is invalid,
is left as it is (the latter is reported). Nothing is committed: the user reviews the diff.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from imageupdater.compat import (
    FLUX_AUTOMATED,
    FLUX_LOCKED,
    FLUX_LOCKED_MSG,
    FLUX_TAG,
    KEEL_POLICY,
    flux_v1_expression,
    is_true,
    keel_expression,
)
from imageupdater.errors import PolicyError, RewriteError, YamlParseError
from imageupdater.files import walk_yaml_files
from imageupdater.namedpolicies import native_policies
from imageupdater.policy import parse_policy
from imageupdater.report import ErrorEntry, Report
from imageupdater.workloads import FROZEN, FROZEN_REASON, POLICY, Workload, find_workload
from imageupdater.yamledit import Node, decode, encode, load_documents, screen
from imageupdater.yamledit.annotations_migrate import EntryChange, rewrite_entries

ANNOTATIONS = ("metadata", "annotations")
GENERATED_SUFFIX = ".imageupdater.yaml"


@dataclass(frozen=True, slots=True)
class Migration:
    """One changed line (or one created policy), for the user and for JSON."""

    file: str
    line: int
    workload: str | None
    before: str
    after: str

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "workload": self.workload,
            "from": self.before,
            "to": self.after,
        }


@dataclass(frozen=True, slots=True)
class MigratedFile:
    path: Path
    relpath: str
    before_text: str
    after_text: str
    created: bool

    def unified_diff(self) -> str:
        lines = difflib.unified_diff(
            self.before_text.splitlines(keepends=True),
            self.after_text.splitlines(keepends=True),
            fromfile="/dev/null" if self.created else f"a/{self.relpath}",
            tofile=f"b/{self.relpath}",
        )
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


@dataclass(slots=True)
class MigrationPlan:
    changes: list[Migration] = field(default_factory=list)
    files: list[MigratedFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    report: Report = field(default_factory=Report)

    def write(self) -> None:
        for migrated in self.files:
            migrated.path.write_bytes(encode(migrated.after_text))


def _valid(expression: str) -> None:
    parse_policy(expression)  # PolicyError for an invalid compat policy


def _has_native_policy(workload: Workload) -> bool:
    return any(key == POLICY or key.startswith(POLICY + ".") for key in workload.annotations)


def _entry(
    index: int, workload: Workload, key: str, new_key: str | None, new_value: str | None = None
) -> EntryChange:
    return EntryChange(index, ANNOTATIONS, key, workload.annotations[key], new_key, new_value)


def _workload_changes(index: int, workload: Workload) -> list[EntryChange]:
    """The annotation changes of one workload (validated), or [] when it has none to make."""
    if _has_native_policy(workload):
        return []
    changes: list[EntryChange] = []
    notes = workload.annotations
    if is_true(notes.get(FLUX_AUTOMATED)):
        lacking = False
        for container in workload.containers:
            key = FLUX_TAG + container.name
            if key in notes:
                expression = flux_v1_expression(notes[key].value)
                _valid(expression)
                changes.append(_entry(index, workload, key, f"{POLICY}.{container.name}",
                                      expression))  # fmt: skip
            else:
                lacking = True
        if lacking:
            changes.append(_entry(index, workload, FLUX_AUTOMATED, POLICY, "glob:*"))
        else:
            changes.append(_entry(index, workload, FLUX_AUTOMATED, None))
    elif KEEL_POLICY in notes:
        expression = keel_expression(notes[KEEL_POLICY].value)
        _valid(expression)
        changes.append(_entry(index, workload, KEEL_POLICY, POLICY, expression))
    if is_true(notes.get(FLUX_LOCKED)) and FROZEN not in notes:
        changes.append(_entry(index, workload, FLUX_LOCKED, FROZEN))
        if FLUX_LOCKED_MSG in notes and FROZEN_REASON not in notes:
            changes.append(_entry(index, workload, FLUX_LOCKED_MSG, FROZEN_REASON))
    return changes


def _describe(relpath: str, workload: Workload, change: EntryChange) -> Migration:
    before = f"{change.key}: {change.value.value}"
    if change.new_key is None:
        after = "(removed)"
    else:
        value = change.value.value if change.new_value is None else change.new_value
        after = f"{change.new_key}: {value}"
    return Migration(relpath, change.value.line, workload.display_name, before, after)


def _line(row: Migration) -> int:
    return row.line


def plan_migration(root: Path) -> MigrationPlan:
    """Everything `migrate` would change under `root`; nothing is written."""
    result = MigrationPlan()
    parsed: list[tuple[str, Path, str, list[Node | None]]] = []
    for candidate in walk_yaml_files(root):
        if candidate.skip_reason is not None:
            continue
        try:
            data = candidate.path.read_bytes()
            if not screen(data):
                continue
            text = decode(data)
            documents = load_documents(text)
        except (OSError, YamlParseError):
            continue  # `plan` reports unreadable files; migrate only converts
        parsed.append((candidate.relpath, candidate.path, text, documents))
    for relpath, path, text, documents in parsed:
        _migrate_file(result, relpath, path, text, documents)
    _flux_v2(result, root, parsed)
    return result


def _migrate_file(
    result: MigrationPlan, relpath: str, path: Path, text: str, documents: list[Node | None]
) -> None:
    changes: list[EntryChange] = []
    rows: list[Migration] = []
    for index, document in enumerate(documents):
        workload = find_workload(document)
        if workload is None:
            continue
        try:
            found = _workload_changes(index, workload)
        except PolicyError as exc:
            line = min((s.line for s in workload.annotations.values()), default=None)
            message = f"{workload.display_name} not migrated: {exc}"
            result.report.add_error(ErrorEntry("config", message, file=relpath, line=line))
            continue
        changes.extend(found)
        rows.extend(sorted((_describe(relpath, workload, c) for c in found), key=_line))
    if not changes:
        return
    try:
        after = rewrite_entries(text, changes)
    except RewriteError as exc:
        result.report.add_error(ErrorEntry("rewrite", str(exc), file=relpath))
        return
    result.changes.extend(rows)
    result.files.append(MigratedFile(path, relpath, text, after, created=False))


def _flux_v2(
    result: MigrationPlan, root: Path, parsed: Iterable[tuple[str, Path, str, list[Node | None]]]
) -> None:
    items = [(relpath, doc) for relpath, _, _, docs in parsed for doc in docs if doc]
    by_file: dict[str, list[str]] = {}
    for native in native_policies(items):
        by_file.setdefault(native.file, []).append(native.text)
        key = f"{native.namespace + '/' if native.namespace else ''}{native.name}"
        target = _generated_name(native.file)
        result.changes.append(
            Migration(
                target,
                0,
                None,
                f"Flux ImagePolicy {key} ({native.file}:{native.line})",
                f"ImagePolicy {key} (imageupdater.io/v1)",
            )
        )
        result.notes.extend(f"{key}: {note}" for note in native.notes)
    for source, texts in by_file.items():
        relpath = _generated_name(source)
        path = root / relpath
        if path.exists():
            result.report.add_error(
                ErrorEntry("config", f"{relpath} exists; not overwritten", file=relpath)
            )
            continue
        header = (
            f"# Native ImagePolicies migrated from the Flux objects in {Path(source).name} by\n"
            "# `imageupdater migrate`; they take precedence over the Flux ones of the same\n"
            "# namespace/name, which may be deleted once Flux no longer automates images.\n"
        )
        result.files.append(
            MigratedFile(path, relpath, "", header + "---\n".join(texts), created=True)
        )


def _generated_name(relpath: str) -> str:
    path = Path(relpath)
    return str(path.with_name(path.name.split(".")[0] + GENERATED_SUFFIX))
