"""Challenge auth against in-process fakes: Bearer tokens, Basic, Docker Hub, config sources."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import httpx
import pytest

from imageupdater.errors import AuthError, ConfigError, RegistryUnavailable
from imageupdater.registry import parse_reference
from imageupdater.registry.auth import parse_challenges
from imageupdater.registry.credentials import CredentialStore

from .fakes import client, errors, tags_response, token_response, write_docker_config

APP = parse_reference("registry.test/team/app")
WEB = parse_reference("registry.test/team/web")
PASSWORD = "hunter2-secret"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class BearerRegistry:
    """registry.test whose token service is https://auth.test/token.

    Tokens are `t<n>|<scope>`; the registry accepts a token for the repository's pull scope
    unless it was revoked. `users`: Basic credentials the token service requires.
    """

    def __init__(self, users: dict[str, str] | None = None, expires_in: int | None = 300) -> None:
        self.users = users
        self.expires_in = expires_in
        self.issued: list[httpx.Request] = []
        self.revoked: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.test":
            return self.token(request)
        repo = request.url.path.removeprefix("/v2/").rsplit("/", 2)[0]
        scope = f"repository:{repo}:pull"
        auth = request.headers.get("Authorization", "")
        if (
            auth.startswith("Bearer ")
            and auth.endswith(f"|{scope}")
            and auth[7:] not in self.revoked
        ):
            return tags_response(repo, ["1.0"])
        challenge = (
            f'Bearer realm="https://auth.test/token",service="registry.test",scope="{scope}"'
        )
        return httpx.Response(401, headers={"WWW-Authenticate": challenge}, json={"errors": []})

    def token(self, request: httpx.Request) -> httpx.Response:
        if self.users is not None:
            allowed = {basic(u, p) for u, p in self.users.items()}
            if request.headers.get("Authorization") not in allowed:
                return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="token"'})
        self.issued.append(request)
        scope = request.url.params["scope"]
        return token_response(f"t{len(self.issued)}|{scope}", self.expires_in)


# -- challenge parsing --------------------------------------------------------------------


def test_parse_bearer_challenge() -> None:
    header = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"'
    challenge = parse_challenges([header])
    assert challenge is not None
    assert challenge.scheme == "bearer"
    assert challenge.params == {
        "realm": "https://auth.docker.io/token",
        "service": "registry.docker.io",
        "scope": "repository:library/nginx:pull",
    }


def test_parse_prefers_bearer_among_several_challenges() -> None:
    challenge = parse_challenges(['Basic realm="r"', 'Bearer realm="https://a/t",service=s'])
    assert challenge is not None
    assert (challenge.scheme, challenge.params["service"]) == ("bearer", "s")
    assert parse_challenges(['Basic realm="x"']) == parse_challenges(["basic realm=x"])
    assert parse_challenges(["Negotiate"]) is None


# -- Bearer ---------------------------------------------------------------------------------


def test_bearer_challenge_is_answered_and_the_token_cached_per_scope() -> None:
    fake = BearerRegistry()
    registry, _recorder, _ = client(fake)
    assert registry.list_tags(APP) == ["1.0"]
    assert registry.list_tags(APP) == ["1.0"]
    assert registry.manifest(APP, "1.0") is not None
    assert len(fake.issued) == 1
    token_request = fake.issued[0]
    assert token_request.url.params["service"] == "registry.test"
    assert token_request.url.params["scope"] == "repository:team/app:pull"
    assert "Authorization" not in token_request.headers  # anonymous token
    # one 401 for the first request only; later requests carry the cached token
    assert registry.requests[("registry.test", 401)] == 1


def test_a_new_repository_gets_its_token_before_the_first_try() -> None:
    fake = BearerRegistry()
    registry, _, _ = client(fake)
    registry.list_tags(APP)
    registry.list_tags(WEB)
    assert [r.url.params["scope"] for r in fake.issued] == [
        "repository:team/app:pull",
        "repository:team/web:pull",
    ]
    assert registry.requests[("registry.test", 401)] == 1  # learnt once per host
    assert registry.requests[("auth.test", 200)] == 2


def test_expired_tokens_are_fetched_again() -> None:
    fake = BearerRegistry(expires_in=0)
    registry, _, _ = client(fake)
    registry.list_tags(APP)
    registry.list_tags(APP)
    assert len(fake.issued) == 2


def test_a_rejected_cached_token_is_replaced_once() -> None:
    fake = BearerRegistry()
    registry, _, _ = client(fake)
    registry.list_tags(APP)
    fake.revoked.add("t1|repository:team/app:pull")
    assert registry.list_tags(APP) == ["1.0"]
    assert len(fake.issued) == 2


def test_bearer_credentials_from_docker_config_go_to_the_token_service(tmp_path: Path) -> None:
    config = write_docker_config(tmp_path / "config.json", {"registry.test": ("alice", PASSWORD)})
    fake = BearerRegistry(users={"alice": PASSWORD})
    registry, _, _ = client(fake, docker_config=config)
    assert registry.list_tags(APP) == ["1.0"]
    assert fake.issued[0].headers["Authorization"] == basic("alice", PASSWORD)


def test_bearer_with_wrong_credentials_is_an_auth_error_without_secrets(tmp_path: Path) -> None:
    config = write_docker_config(tmp_path / "config.json", {"registry.test": ("alice", PASSWORD)})
    registry, _, _ = client(BearerRegistry(users={"alice": "other"}), docker_config=config)
    with pytest.raises(AuthError) as info:
        registry.list_tags(APP)
    assert (
        str(info.value)
        == "401 from token service auth.test (credentials for registry.test rejected)"
    )
    assert_no_secret(info.value)


def test_a_token_service_outage_is_retried_then_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.test":
            return httpx.Response(503)
        return BearerRegistry()(request)

    registry, _, sleeps = client(handler)
    with pytest.raises(
        RegistryUnavailable, match=r"^token service auth.test: HTTP 503 after 4 tries$"
    ):
        registry.list_tags(APP)
    assert len(sleeps) == 3


def test_garbage_from_the_token_service_is_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.test":
            return httpx.Response(200, text="<html>")
        return BearerRegistry()(request)

    registry, _, _ = client(handler, max_attempts=1)
    with pytest.raises(RegistryUnavailable, match=r"invalid response"):
        registry.list_tags(APP)


def test_identity_tokens_use_the_oauth_refresh_grant(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {"registry.test": {"identitytoken": "refresh-me"}}}))
    posted: list[dict[str, list[str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.test":
            from urllib.parse import parse_qs

            assert request.method == "POST"
            posted.append(parse_qs(request.content.decode()))
            return httpx.Response(200, json={"access_token": "t1|repository:team/app:pull"})
        return BearerRegistry()(request)

    registry, _, _ = client(handler, docker_config=str(path))
    assert registry.list_tags(APP) == ["1.0"]
    assert posted[0]["grant_type"] == ["refresh_token"]
    assert posted[0]["refresh_token"] == ["refresh-me"]
    assert posted[0]["scope"] == ["repository:team/app:pull"]


def test_credentials_are_not_sent_to_a_plain_http_realm(tmp_path: Path) -> None:
    config = write_docker_config(tmp_path / "config.json", {"registry.test": ("alice", PASSWORD)})

    def handler(request: httpx.Request) -> httpx.Response:
        challenge = 'Bearer realm="http://auth.test/token",service="registry.test"'
        return httpx.Response(401, headers={"WWW-Authenticate": challenge})

    registry, recorder, _ = client(handler, docker_config=config)
    with pytest.raises(AuthError, match=r"not HTTPS"):
        registry.list_tags(APP)
    assert all(r.url.host == "registry.test" for r in recorder.requests)


# -- Docker Hub ----------------------------------------------------------------------------


def test_docker_hub_names_go_to_registry_1_with_an_anonymous_token() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.docker.io":
            assert request.url.params["service"] == "registry.docker.io"
            assert request.url.params["scope"] == "repository:library/nginx:pull"
            return token_response("hub-token")
        assert request.url.host == "registry-1.docker.io"
        assert request.url.path == "/v2/library/nginx/tags/list"
        if request.headers.get("Authorization") != "Bearer hub-token":
            challenge = (
                'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                'scope="repository:library/nginx:pull"'
            )
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        return tags_response("library/nginx", ["1.25", "1.27"])

    registry, recorder, _ = client(handler)
    assert registry.list_tags(parse_reference("nginx:1.25")) == ["1.25", "1.27"]
    assert [str(r.url) for r in recorder.requests] == [
        "https://registry-1.docker.io/v2/library/nginx/tags/list",
        "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Fnginx%3Apull",
        "https://registry-1.docker.io/v2/library/nginx/tags/list",
    ]


def test_docker_hub_credentials_are_found_under_the_legacy_index_key(tmp_path: Path) -> None:
    config = write_docker_config(
        tmp_path / "config.json", {"https://index.docker.io/v1/": ("hubber", PASSWORD)}
    )
    store = CredentialStore(config)
    creds = store.lookup("docker.io")
    assert creds is not None
    assert (creds.username, creds.password) == ("hubber", PASSWORD)
    assert PASSWORD not in repr(creds)


# -- Basic ----------------------------------------------------------------------------------


def basic_registry(user: str, password: str) -> httpx.MockTransport | object:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("Authorization") == basic(user, password):
            return tags_response("team/app", ["1.0"])
        return httpx.Response(
            401,
            headers={"WWW-Authenticate": 'Basic realm="r"'},
            json={"errors": [{"code": "UNAUTHORIZED"}]},
        )

    return handler


def test_basic_auth_answers_the_challenge_then_goes_first(tmp_path: Path) -> None:
    config = write_docker_config(tmp_path / "config.json", {"registry.test": ("alice", PASSWORD)})
    registry, recorder, _ = client(basic_registry("alice", PASSWORD), docker_config=config)
    assert registry.list_tags(APP) == ["1.0"]
    assert registry.list_tags(APP) == ["1.0"]
    assert [r.headers.get("Authorization") is not None for r in recorder.requests] == [
        False,
        True,
        True,
    ]


def test_wrong_basic_credentials_are_an_auth_error_without_secrets(tmp_path: Path) -> None:
    config = write_docker_config(tmp_path / "config.json", {"registry.test": ("alice", PASSWORD)})
    registry, recorder, _ = client(basic_registry("alice", "right"), docker_config=config)
    with pytest.raises(AuthError) as info:
        registry.list_tags(APP)
    assert str(info.value) == "401 unauthorized (credentials for registry.test rejected)"
    assert_no_secret(info.value)
    assert len(recorder.requests) == 2  # anonymous, then once with credentials: no loop


def test_no_credentials_is_an_auth_error_that_says_so() -> None:
    registry, _, _ = client(basic_registry("alice", "right"))
    with pytest.raises(AuthError, match=r"^401 unauthorized \(no credentials for registry.test"):
        registry.list_tags(APP)


def test_403_is_an_auth_error() -> None:
    registry, _, _ = client(lambda request: errors(403, "DENIED"))
    with pytest.raises(AuthError, match=r"^403 denied"):
        registry.list_tags(APP)


def assert_no_secret(error: BaseException) -> None:
    text = f"{error} {error!r} {error.__cause__!r}"
    for secret in (
        PASSWORD,
        base64.b64encode(f"alice:{PASSWORD}".encode()).decode(),
        "Authorization",
    ):
        assert secret not in text


# -- where credentials come from ------------------------------------------------------------


def test_explicit_config_path_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"does not exist"):
        CredentialStore(tmp_path / "missing.json")


def test_invalid_config_json_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=r"not valid JSON"):
        CredentialStore(path)


def test_invalid_auth_entry_names_the_file_not_the_content(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {"r.test": {"auth": "!!" + PASSWORD}}}))
    with pytest.raises(ConfigError) as info:
        CredentialStore(path)
    assert str(path) in str(info.value)
    assert PASSWORD not in str(info.value)


def test_default_config_comes_from_docker_config_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_docker_config(tmp_path / "config.json", {"r.test": ("dc", PASSWORD)})
    monkeypatch.delenv("DOCKER_AUTH_CONFIG", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    creds = CredentialStore().lookup("r.test")
    assert creds is not None
    assert creds.username == "dc"


def test_docker_auth_config_env_holds_the_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_docker_config(tmp_path / "config.json", {"r.test": ("file", PASSWORD)})
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    auth = base64.b64encode(f"env:{PASSWORD}".encode()).decode()
    monkeypatch.setenv("DOCKER_AUTH_CONFIG", json.dumps({"auths": {"r.test": {"auth": auth}}}))
    creds = CredentialStore().lookup("r.test")
    assert creds is not None
    assert creds.username == "env"
    # an explicit path wins over the environment
    explicit = CredentialStore(tmp_path / "config.json").lookup("r.test")
    assert explicit is not None
    assert explicit.username == "file"


def test_no_config_anywhere_means_anonymous(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOCKER_AUTH_CONFIG", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "nothing-here"))
    assert CredentialStore().lookup("r.test") is None


def test_missing_credential_helper_falls_back_to_auths(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "config.json"
    write_docker_config(path, {"r.test": ("plain", PASSWORD)}, credsStore="imageupdater-absent")
    with caplog.at_level(logging.WARNING):
        creds = CredentialStore(path).lookup("r.test")
    assert creds is not None
    assert creds.username == "plain"
    assert "docker-credential-imageupdater-absent" in caplog.text
    assert CredentialStore(path).lookup("other.test") is None


def test_credential_helpers_are_run_through_the_docker_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    helper = tmp_path / "docker-credential-fake"
    answer = json.dumps({"ServerURL": "r.test", "Username": "helper", "Secret": PASSWORD})
    helper.write_text(f"#!/bin/sh\ncat >/dev/null\necho '{answer}'\n")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"credHelpers": {"r.test": "fake"}}))
    creds = CredentialStore(path).lookup("r.test")
    assert creds is not None
    assert (creds.username, creds.password) == ("helper", PASSWORD)
