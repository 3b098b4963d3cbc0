"""The editor on YAML nobody on the team wrote.

For every file: load all documents, edit every scalar whose key is `image`, and check that
the output differs from the input only inside the edited spans (byte comparison of
everything between them), that it reads back with the new values, and that every other
scalar is unchanged. The corpus (270 files from 18 public repositories) is read where it
lives, `../shared/corpus/realworld` next to the repository, and never copied into the
project; without it these tests are skipped and the golden corpus still runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from imageupdater.errors import RewriteError, YamlParseError
from imageupdater.yamledit import Edit, Scalar, apply_edits, decode, encode, load_documents
from imageupdater.yamledit.events import Event, Kind, Stream, parse

from .paths import PathPart, walk

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "corpus" / "realworld"


def _files(root: Path) -> list[Path]:
    return sorted((root / "files").glob("*/*")) if (root / "files").is_dir() else []


def _params(root: Path, label: str) -> list[object]:
    files = _files(root)
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{root} is not there"))]
    return [pytest.param(path, id=f"{label}/{path.parent.name}/{path.name}") for path in files]


ALL = _params(SHARED, "shared")
Scalars = dict[tuple[int, tuple[PathPart, ...]], Scalar]


def _scalars(text: str) -> Scalars:
    return {
        (index, path): scalar
        for index, document in enumerate(load_documents(text))
        for path, scalar in walk(document)
    }


def _bump(value: str) -> str:
    """A realistic new value: the same repository with another tag (digest dropped)."""
    name = value.split("@", 1)[0]
    repository, _, tag = name.rpartition(":")
    if not repository or "/" in tag:
        repository = name
    return f"{repository}:9.9.9-test"


def _hostile(value: str) -> str:
    """A value that needs quoting in every style: `: `, ` #`, both quote characters."""
    return f'{value} #x: it\'s "quoted"'


def _check_edit(text: str, before: Scalars, new_value: object) -> None:
    targets = {
        key: scalar
        for key, scalar in before.items()
        if key[1] and key[1][-1] == "image" and not scalar.alias
    }
    for key, scalar in before.items():
        if key[1] and key[1][-1] == "image" and scalar.alias:
            with pytest.raises(RewriteError, match="alias"):
                apply_edits(text, [Edit(scalar, "x")])
    if not targets:
        return
    assert callable(new_value)
    wanted = {key: new_value(scalar.value) for key, scalar in targets.items()}
    edits = [
        Edit(targets[key], wanted[key]) for key in sorted(targets, key=lambda k: targets[k].start)
    ]
    result = apply_edits(text, edits)
    after = _scalars(result)

    assert after.keys() == before.keys()
    for key, scalar in before.items():
        expected = wanted.get(key, scalar.value)
        if scalar.style in ("|", ">") and key in wanted:
            expected += scalar.value[len(scalar.value.rstrip("\n")) :]
        assert after[key].value == expected, key

    # outside the edited spans, old and new text are the same bytes
    spans = sorted(
        {(targets[k].start, targets[k].end, after[k].start, after[k].end) for k in targets}
    )
    old_pos = new_pos = 0
    for old_start, old_end, new_start, new_end in spans:
        assert encode(result[new_pos:new_start]) == encode(text[old_pos:old_start])
        old_pos, new_pos = old_end, new_end
    assert encode(result[new_pos:]) == encode(text[old_pos:])


@pytest.mark.parametrize("path", ALL)
def test_edit_every_image(path: Path) -> None:
    data = path.read_bytes()
    text = decode(data)
    assert encode(text) == data
    try:
        before = _scalars(text)
    except YamlParseError:
        assert b"{{" in data, "only templates may fail to parse"
        return
    assert apply_edits(text, []) == text
    _check_edit(text, before, _bump)
    _check_edit(text, before, _hostile)


def _comparable(stream: Stream) -> list[Event]:
    """Events without what the two parsers legitimately place differently: the position
    of an empty plain scalar and the line of an end event at a file without final newline."""
    out = []
    for event in stream.events:
        if event.kind == Kind.SCALAR and event.start == event.end and event.style == "":
            event = event._replace(start=0, end=0, line=0)
        elif event.kind not in (Kind.SCALAR, Kind.ALIAS):
            event = event._replace(line=0)
        out.append(event)
    return out


@pytest.mark.parametrize("path", ALL)
def test_c_and_pure_parsers_agree(path: Path) -> None:
    """The C parser's marks are used as str offsets; the pure parser is the reference."""
    from imageupdater.yamledit import events

    text = decode(path.read_bytes())
    fast = events._try_c(text)
    reference = Stream(events._convert(events._pure_events(text), 0), "pure")
    if fast is None:  # the C parser may refuse (old libyaml); then the pure one is used
        assert parse(text).parser == "pure"
        return
    assert _comparable(fast) == _comparable(reference)
