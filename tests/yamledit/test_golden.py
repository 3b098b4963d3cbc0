"""Golden files: `apply_edits` must turn original.yaml into expected.yaml byte for byte.

Each case folder holds original.yaml, edits.json (which scalars to change, by document
index and path, and the new value) and expected.yaml, or an `error` the edit must raise.
The expected files were written by literal byte replacement, not by this editor.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from imageupdater.errors import RewriteError, YamlParseError
from imageupdater.yamledit import Edit, apply_edits, decode, encode, load_documents

from .paths import lookup

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "golden"
CASES = sorted(path for path in GOLDEN.iterdir() if path.is_dir())
ERRORS: dict[str, type[Exception]] = {
    "RewriteError": RewriteError,
    "YamlParseError": YamlParseError,
}


def _spec(case: Path) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((case / "edits.json").read_text(encoding="utf-8"))
    return spec


def _edits(text: str, spec: dict[str, Any]) -> list[Edit]:
    documents = load_documents(text)
    return [
        Edit(lookup(documents[item["document"]], item["path"]), item["value"])
        for item in spec["edits"]
    ]


def test_golden_corpus_is_there() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_golden(case: Path) -> None:
    spec = _spec(case)
    original = (case / "original.yaml").read_bytes()
    if "error" in spec:
        with pytest.raises(ERRORS[spec["error"]]) as info:
            apply_edits(decode(original), _edits(decode(original), spec))
        assert "line" in str(info.value)
        return
    text = decode(original)
    result = encode(apply_edits(text, _edits(text, spec)))
    assert result == (case / "expected.yaml").read_bytes()


@pytest.mark.parametrize(
    "case", [case for case in CASES if "error" not in _spec(case)], ids=lambda case: case.name
)
def test_golden_expected_reads_the_new_values(case: Path) -> None:
    spec = _spec(case)
    documents = load_documents(decode((case / "expected.yaml").read_bytes()))
    for item in spec["edits"]:
        value = lookup(documents[item["document"]], item["path"]).value
        assert value.rstrip("\n") == item["value"].rstrip("\n")


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_golden_no_edits_is_identity(case: Path) -> None:
    original = (case / "original.yaml").read_bytes()
    assert encode(apply_edits(decode(original), [])) == original
