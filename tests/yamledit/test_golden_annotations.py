"""Golden files for annotation edits (`pin`, `freeze`): one line inserted or changed.

Each folder of `tests/data/golden-annotations` holds `case.json` (document index, key,
value or null to remove, and `source` when the original is a file of the core corpus in
`tests/data/golden`, else `original.yaml` alongside) and `expected.yaml`, or an `error`
the edit must raise. The expected files were produced once by the editor and then checked
line by line against `diff` with the original (each differs by exactly the lines the
description names); they pin that behaviour down byte for byte: CRLF, BOM, tabs, comments,
flow and block styles, four-space indentation, files without a final newline.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import pytest

from imageupdater.errors import RewriteError
from imageupdater.yamledit import decode, encode, load_documents, set_annotation

DATA = Path(__file__).resolve().parent.parent / "data"
CASES = sorted(p for p in (DATA / "golden-annotations").iterdir() if p.is_dir())


def _spec(case: Path) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((case / "case.json").read_text(encoding="utf-8"))
    return spec


def _original(case: Path, spec: dict[str, Any]) -> bytes:
    if "source" in spec:
        return (DATA / "golden" / spec["source"] / "original.yaml").read_bytes()
    return (case / "original.yaml").read_bytes()


def test_annotation_corpus_covers_the_core_corpus() -> None:
    sources = {_spec(case).get("source") for case in CASES}
    assert len(sources - {None}) >= 13
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_golden_annotation(case: Path) -> None:
    spec = _spec(case)
    text = decode(_original(case, spec))
    if "error" in spec:
        with pytest.raises(RewriteError):
            set_annotation(text, spec["document"], spec["key"], spec["value"])
        return
    result = encode(set_annotation(text, spec["document"], spec["key"], spec["value"]))
    assert result == (case / "expected.yaml").read_bytes()


@pytest.mark.parametrize(
    "case", [c for c in CASES if "error" not in _spec(c)], ids=lambda case: case.name
)
def test_golden_annotation_is_a_minimal_diff(case: Path) -> None:
    """At most two lines change (a new `annotations:` and its entry), none is removed
    unless the case removes the key, and the expected file reads the new value."""
    spec = _spec(case)
    before = decode(_original(case, spec)).splitlines()
    after = decode((case / "expected.yaml").read_bytes()).splitlines()
    diff = [
        line
        for line in difflib.unified_diff(before, after, lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    if spec["value"] is None:
        assert all(line.startswith("-") for line in diff)
        assert 1 <= len(diff) <= 2
    else:
        assert 1 <= len([line for line in diff if line.startswith("+")]) <= 2
        assert len([line for line in diff if line.startswith("-")]) <= 1
    document = load_documents(decode((case / "expected.yaml").read_bytes()))[spec["document"]]
    assert isinstance(document, dict)
    metadata = document["metadata"]
    assert isinstance(metadata, dict)
    annotations = metadata.get("annotations")
    if spec["value"] is None:
        assert not isinstance(annotations, dict) or spec["key"] not in annotations
    else:
        assert isinstance(annotations, dict)
        value = annotations[spec["key"]]
        assert not isinstance(value, (dict, list))
        assert value.value == spec["value"]


@pytest.mark.parametrize(
    "case", [c for c in CASES if "error" not in _spec(c)], ids=lambda case: case.name
)
def test_setting_the_same_value_again_changes_nothing(case: Path) -> None:
    spec = _spec(case)
    expected = decode((case / "expected.yaml").read_bytes())
    assert set_annotation(expected, spec["document"], spec["key"], spec["value"]) == expected


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if "error" not in _spec(c) and _spec(c)["value"] is not None],
    ids=lambda case: case.name,
)
def test_insert_then_remove_round_trips(case: Path) -> None:
    spec = _spec(case)
    original = decode(_original(case, spec))
    keys = _keys(original, spec["document"])
    if keys is not None and (not keys or spec["key"] in keys):
        pytest.skip("empty annotations or the key existed: removal is not the inverse")
    inserted = set_annotation(original, spec["document"], spec["key"], spec["value"])
    assert set_annotation(inserted, spec["document"], spec["key"], None) == original


def _keys(text: str, document: int) -> set[str] | None:
    doc = load_documents(text)[document]
    assert isinstance(doc, dict)
    metadata = doc["metadata"]
    assert isinstance(metadata, dict)
    if "annotations" not in metadata:
        return None
    annotations = metadata["annotations"]
    return set(annotations) if isinstance(annotations, dict) else set()


def test_an_edit_that_would_change_anything_else_is_refused() -> None:
    text = "kind: Pod\nmetadata:\n  name: web\n  annotations: &a {x: y}\nother: *a\n"
    with pytest.raises(RewriteError, match="anchor"):
        set_annotation(text, 0, "imageupdater.io/pin", "1.0")


def test_value_that_yaml_would_read_as_another_type_is_quoted() -> None:
    text = "kind: Pod\nmetadata:\n  name: web\n"
    out = set_annotation(text, 0, "imageupdater.io/pin", "1.10")
    assert out.endswith('    imageupdater.io/pin: "1.10"\n')
    out = set_annotation(text, 0, "imageupdater.io/frozen-reason", "release: week #3")
    assert out.endswith('    imageupdater.io/frozen-reason: "release: week #3"\n')


REALWORLD = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "realworld"


def test_every_realworld_workload_takes_a_pin_and_gives_it_back() -> None:
    """Every workload document of the shared real-world corpus (when it is there) takes a
    new annotation and loses it again, byte for byte."""
    files = sorted((REALWORLD / "files").glob("*/*")) if (REALWORLD / "files").is_dir() else []
    if not files:
        pytest.skip(f"{REALWORLD} is not there")
    from imageupdater.workloads import find_workload
    from imageupdater.yamledit import iter_documents

    edited = 0
    for path in files:
        try:
            text = decode(path.read_bytes())
            documents = list(iter_documents(text))
        except Exception:
            continue
        for index, document in documents:
            if find_workload(document) is None:
                continue
            pinned = set_annotation(text, index, "imageupdater.io/pin.zz-test", "1.2.3")
            assert pinned != text, path
            assert set_annotation(pinned, index, "imageupdater.io/pin.zz-test", None) == text
            edited += 1
    assert edited > 0
