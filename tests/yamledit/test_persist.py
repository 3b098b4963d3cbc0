"""`yamledit.persist`: the parse and splice caches survive a process, and only for the same
code; what comes back from disk is exactly what a fresh parse and splice would give."""

from __future__ import annotations

from pathlib import Path

import pytest

from imageupdater.errors import RewriteError, YamlParseError
from imageupdater.yamledit import Edit, Scalar, apply_edits, clear_cache, load_documents, persist
from imageupdater.yamledit import load as load_module

TEXT = "a: 1  # one\nb: &x [x, 'y', \"z\"]\nc: |\n  block\nd: *x\n"
BROKEN = "a: [1, 2\n"


def image_scalar(text: str) -> Scalar:
    document = load_documents(text)[0]
    assert isinstance(document, dict)
    scalar = document["a"]
    assert isinstance(scalar, Scalar)
    return scalar


def outcomes() -> tuple[object, ...]:
    with pytest.raises(YamlParseError) as failed:
        load_documents(BROKEN)
    edited = apply_edits(TEXT, [Edit(image_scalar(TEXT), "2")])
    return (load_documents(TEXT), str(failed.value), failed.value.line, edited)


def test_round_trip_gives_the_same_results(tmp_path: Path) -> None:
    clear_cache()
    fresh = outcomes()
    persist.save_caches(tmp_path)
    clear_cache()
    assert persist.load_caches(tmp_path)
    hits = load_module._cache.hits
    assert outcomes() == fresh
    assert load_module._cache.hits > hits  # served from what the file held
    clear_cache()


def test_nothing_new_means_no_write(tmp_path: Path) -> None:
    clear_cache()
    outcomes()
    persist.save_caches(tmp_path)
    clear_cache()
    assert persist.load_caches(tmp_path)
    outcomes()  # all hits (the first reads the parse file)
    for name in (persist.PARSES_FILE, persist.SPLICES_FILE):
        (tmp_path / name).unlink()
    persist.save_caches(tmp_path)
    assert not list(tmp_path.iterdir())
    clear_cache()


@pytest.mark.parametrize("content", [b"", b"\x00garbage", None])
def test_unusable_files_are_ignored(tmp_path: Path, content: bytes | None) -> None:
    clear_cache()
    if content is not None:
        for name in (persist.PARSES_FILE, persist.SPLICES_FILE):
            (tmp_path / name).write_bytes(content)
    assert not persist.load_caches(tmp_path)
    assert outcomes()[0] == load_documents(TEXT)
    clear_cache()


def test_a_file_from_other_code_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clear_cache()
    outcomes()
    monkeypatch.setattr(persist, "code_version", lambda: "another version")
    persist.save_caches(tmp_path)
    monkeypatch.undo()
    clear_cache()
    assert not persist.load_caches(tmp_path)
    clear_cache()


def test_the_parse_file_is_read_only_when_a_parse_misses(tmp_path: Path) -> None:
    """A warm run whose discovery is remembered never parses: it need not read parses."""
    clear_cache()
    outcomes()
    persist.save_caches(tmp_path)
    clear_cache()
    assert persist.load_caches(tmp_path)
    hits, entries = load_module._cache.hits, len(load_module._cache._entries)
    assert entries == 0
    load_documents(TEXT)  # the first miss reads the file, then hits
    assert load_module._cache.hits == hits + 1
    assert len(load_module._cache._entries) > 0
    clear_cache()


def test_a_refused_splice_is_not_remembered() -> None:
    clear_cache()
    scalar = image_scalar(TEXT)
    moved = Scalar(scalar.value, scalar.start + 1, scalar.end + 1, scalar.line, scalar.style,
                   scalar.tag, scalar.alias)  # fmt: skip
    for _ in range(2):
        with pytest.raises(RewriteError):
            apply_edits(TEXT, [Edit(moved, "2")])
    clear_cache()
