from __future__ import annotations

import pytest

from imageupdater.errors import ConfigError
from imageupdater.model import ImageRef
from imageupdater.registry import parse_reference

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("nginx", ImageRef("nginx", "docker.io", "library/nginx")),
        ("nginx:1.25", ImageRef("nginx", "docker.io", "library/nginx", "1.25")),
        ("bitnami/redis:7", ImageRef("bitnami/redis", "docker.io", "bitnami/redis", "7")),
        ("docker.io/nginx", ImageRef("docker.io/nginx", "docker.io", "library/nginx")),
        (
            "index.docker.io/library/nginx:1",
            ImageRef("index.docker.io/library/nginx", "docker.io", "library/nginx", "1"),
        ),
        (
            "registry-1.docker.io/nginx",
            ImageRef("registry-1.docker.io/nginx", "docker.io", "library/nginx"),
        ),
        (
            f"ghcr.io/acme/web:1.2.0@{DIGEST}",
            ImageRef("ghcr.io/acme/web", "ghcr.io", "acme/web", "1.2.0", DIGEST),
        ),
        (
            f"ghcr.io/acme/web@{DIGEST}",
            ImageRef("ghcr.io/acme/web", "ghcr.io", "acme/web", None, DIGEST),
        ),
        (
            "127.0.0.1:5000/team/app:1.0",
            ImageRef("127.0.0.1:5000/team/app", "127.0.0.1:5000", "team/app", "1.0"),
        ),
        ("localhost/x:1", ImageRef("localhost/x", "localhost", "x", "1")),
        ("localhost:5000/a/b/c", ImageRef("localhost:5000/a/b/c", "localhost:5000", "a/b/c")),
        ("[::1]:5000/app:v1", ImageRef("[::1]:5000/app", "[::1]:5000", "app", "v1")),
        ("Quay.IO/org/app", ImageRef("Quay.IO/org/app", "quay.io", "org/app")),
        ("my_app__x--y.z", ImageRef("my_app__x--y.z", "docker.io", "library/my_app__x--y.z")),
        ("app:" + "a" * 128, ImageRef("app", "docker.io", "library/app", "a" * 128)),
    ],
)
def test_parses_and_normalises(value: str, expected: ImageRef) -> None:
    assert parse_reference(value) == expected


def test_spellings_of_one_hub_repository_share_the_canonical_name() -> None:
    spellings = ["nginx", "docker.io/nginx", "docker.io/library/nginx:1", "index.docker.io/nginx"]
    assert {parse_reference(s).canonical for s in spellings} == {"docker.io/library/nginx"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("Nginx", "lowercase"),
        ("acme/Web:1", "lowercase"),
        ("nginx:1.0.0+build.1", "tag '1.0.0+build.1'"),
        ("nginx:-x", "tag '-x'"),
        ("nginx:" + "a" * 129, "1-128 characters"),
        ("nginx:", "tag ''"),
        ("nginx@sha256:abc", "digest"),
        ("a//b", "component ''"),
        ("ghcr.io/", "component ''"),
        (":1.0", "no repository"),
        ("https://ghcr.io/acme/web", "URL scheme"),
        ("bad_host-.io:x/app", "registry host"),
        ("a/" + "b" * 260, "255"),
    ],
)
def test_rejects_invalid_references_with_a_clear_message(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match="invalid image reference") as info:
        parse_reference(value)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "value",
    ["https://bob:hunter2@ghcr.io/acme/web", "bob:hunter2@ghcr.io/acme/web", "bob:hunter2@ghcr"],
)
def test_credentials_in_a_reference_never_reach_the_message(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_reference(value)
    assert "hunter2" not in str(info.value)
    assert "***@" in str(info.value)
