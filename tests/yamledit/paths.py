"""Test helpers: address scalars of a Node tree by path, and list them all."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from imageupdater.yamledit import Node, Scalar

PathPart = str | int


def parse_path(path: str | Sequence[PathPart]) -> tuple[PathPart, ...]:
    """`spec.containers.0.image` -> ("spec", "containers", 0, "image"); lists pass through."""
    if isinstance(path, str):
        return tuple(int(part) if part.isdigit() else part for part in path.split("."))
    return tuple(path)


def lookup(node: Node | None, path: str | Sequence[PathPart]) -> Scalar:
    current: Node | None = node
    for part in parse_path(path):
        if isinstance(current, dict) and isinstance(part, str):
            current = current[part]
            continue
        if isinstance(current, list) and isinstance(part, int):
            current = current[part]
            continue
        raise KeyError(f"{path!r}: cannot step into {part!r}")
    assert isinstance(current, Scalar), f"{path!r} is not a scalar"
    return current


def walk(
    node: Node | None, path: tuple[PathPart, ...] = ()
) -> Iterator[tuple[tuple[PathPart, ...], Scalar]]:
    """Every scalar under `node` with its path, in document order."""
    if isinstance(node, Scalar):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, index))
