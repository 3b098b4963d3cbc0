"""Renaming annotation entries in place (`migrate`): one line per entry, nothing else."""

from __future__ import annotations

import pytest

from imageupdater.errors import RewriteError
from imageupdater.yamledit import Scalar, load_documents
from imageupdater.yamledit.annotations_migrate import EntryChange, rewrite_entries

PATH = ("metadata", "annotations")


def change(text: str, key: str, new_key: str | None, new_value: str | None = None) -> str:
    (document,) = load_documents(text)
    assert isinstance(document, dict)
    notes = document["metadata"]["annotations"]  # type: ignore[index,call-overload]
    value = notes[key]
    assert isinstance(value, Scalar)
    return rewrite_entries(text, [EntryChange(0, PATH, key, value, new_key, new_value)])


def doc(entries: str, nl: str = "\n") -> str:
    return f"metadata:\n  name: a\n  annotations:\n{entries}spec: {{}}\n".replace("\n", nl)


def test_rename_keeps_value_bytes_and_comment() -> None:
    text = doc('    "fluxcd.io/locked": "true"   # ops\n')
    assert change(text, "fluxcd.io/locked", "imageupdater.io/frozen") == doc(
        '    imageupdater.io/frozen: "true"   # ops\n'
    )


@pytest.mark.parametrize(
    ("value", "written"),
    [("glob:*", "glob:*"), ("regex:^3\\.2\\.", "regex:^3\\.2\\."), ("a #b", '"a #b"'),
     ("true", '"true"'), ("semver:>=1 <2", "semver:>=1 <2")],
)  # fmt: skip
def test_new_values_are_quoted_only_when_needed(value: str, written: str) -> None:
    text = doc("    keel.sh/policy: minor\n")
    after = change(text, "keel.sh/policy", "imageupdater.io/policy", value)
    assert after == doc(f"    imageupdater.io/policy: {written}\n")


def test_delete_keeps_a_comment_and_crlf() -> None:
    text = doc("    fluxcd.io/automated: 'true'  # why\n    other: x\n", nl="\r\n")
    after = change(text, "fluxcd.io/automated", None)
    assert after == doc("    # why\n    other: x\n", nl="\r\n")


def test_flow_mappings_are_refused() -> None:
    text = "metadata:\n  annotations: {keel.sh/policy: minor, other: x}\n"
    with pytest.raises(RewriteError):
        change(text, "keel.sh/policy", None)
