"""Reading the public test vectors copied into `tests/data/vectors/` (see its README).

Every row of a table becomes one pytest param, named `<table>-<index>` so a failure points
at the row. Rows where SPEC deliberately differs are listed by each test module in a
`DIFFERENCES` dict; `params` turns the ones the module asks for into strict xfails.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from imageupdater.policy.tags import parse_tag

VECTORS = Path(__file__).resolve().parent.parent / "data" / "vectors"

Key = tuple[str, int]


@cache
def load(name: str) -> dict[str, Any]:
    """One vector file, parsed."""
    with (VECTORS / name).open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def params(
    table: str,
    rows: Sequence[Any],
    xfail: Mapping[Key, str] | None = None,
    raises: type[BaseException] | None = None,
) -> list[Any]:
    """`(table, index, row)` params; rows listed in `xfail` are strict xfails with the reason."""
    result = []
    for index, row in enumerate(rows):
        reason = (xfail or {}).get((table, index))
        marks = [pytest.mark.xfail(strict=True, reason=reason, raises=raises)] if reason else []
        result.append(pytest.param(table, index, row, id=f"{table}-{index}", marks=marks))
    return result


def is_semver_version(tag: str) -> bool:
    """What `semver:` accepts as a version: a tag read as one to three numeric parts."""
    parsed = parse_tag(tag)
    return parsed is not None and parsed.is_semver
