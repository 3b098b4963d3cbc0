"""Validate requests against the forges' official OpenAPI descriptions (testing/forge.md).

The descriptions are read where they live, ``shared/openapi`` beside the repository (or
beside the folder holding this worktree); they are not copied into the project.
"""

from __future__ import annotations

import json
import os
import re
import threading
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
CANDIDATES = [REPO.parent / "shared" / "openapi", REPO.parent.parent / "shared" / "openapi"]

# Branch names contain '/', which a {param} never matches: percent-encode the greedy tail.
GREEDY = [
    re.compile(r"^(/repos/[^/]+/[^/]+/(?:git/refs?|branches))/(.+)$"),
    re.compile(r"^(/api/v1/repos/[^/]+/[^/]+/(?:branches|pulls/[^/]+))/(.+)$"),
]

_lock = threading.Lock()


def openapi_dir() -> Path:
    for candidate in CANDIDATES:
        if (candidate / "github-pulls.json").is_file():
            return candidate
    message = f"the forge API descriptions are not at {' or '.join(map(str, CANDIDATES))}"
    if os.environ.get("CI"):
        raise AssertionError(message)
    pytest.skip(message)


@cache
def load(name: str, server: str) -> Any:
    from openapi_core import OpenAPI

    spec = json.loads((openapi_dir() / name).read_text())
    spec["servers"] = [{"url": server}]
    return OpenAPI.from_dict(spec)


def github_example(name: str) -> Any:
    """A fresh copy of one of GitHub's own examples (``components.examples``)."""
    return json.loads(json.dumps(_github_examples()[name]["value"]))


@cache
def _github_examples() -> dict[str, Any]:
    spec = json.loads((openapi_dir() / "github-pulls.json").read_text())
    examples: dict[str, Any] = spec["components"]["examples"]
    return examples


@cache
def example_pull_request() -> dict[str, Any]:
    spec = json.loads((openapi_dir() / "github-pulls.json").read_text())
    value: dict[str, Any] = spec["components"]["examples"]["pull-request"]["value"]
    value["requested_teams"] = []
    return value


def problems(
    api: Any, base: str, method: str, url: str, headers: dict[str, str], body: bytes | None
) -> list[str] | None:
    """None if the request conforms to the description, else a list of messages."""
    from openapi_core.testing import MockRequest

    u = urlsplit(url)
    path = u.path
    for rx in GREEDY:
        if m := rx.match(path):
            path = m.group(1) + "/" + quote(m.group(2), safe="")
    content_type = (headers.get("content-type") or "").split(";")[0] or None
    req = MockRequest(
        base,
        method.lower(),
        path,
        args=dict(parse_qsl(u.query)),
        headers=headers,
        data=body or None,
        content_type=content_type,
    )
    try:
        with _lock:
            api.validate_request(req)
    except Exception as e:
        errs = getattr(e.__cause__, "schema_errors", None)
        return [x.message for x in errs] if errs else [f"{type(e).__name__}: {e.__cause__ or e}"]
    return None


def response_problems(
    api: Any, base: str, method: str, url: str, status: int, body: bytes, headers: dict[str, str]
) -> list[str] | None:
    """None if the fake's answer conforms to the description, else a list of messages."""
    from openapi_core.testing import MockRequest, MockResponse

    u = urlsplit(url)
    path = u.path
    for rx in GREEDY:
        if m := rx.match(path):
            path = m.group(1) + "/" + quote(m.group(2), safe="")
    req = MockRequest(base, method.lower(), path, args=dict(parse_qsl(u.query)))
    resp = MockResponse(body, status_code=status, headers=headers, content_type="application/json")
    try:
        with _lock:
            api.validate_response(req, resp)
    except Exception as e:
        errs = getattr(e.__cause__, "schema_errors", None)
        return [x.message for x in errs] if errs else [f"{type(e).__name__}: {e.__cause__ or e}"]
    return None
