"""The client against a real Distribution 2.8 registry (Debian's docker-registry)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from imageupdater.devtools import LocalRegistry, Pusher, seed_storage, start_registry
from imageupdater.devtools.pki import make_tls_files
from imageupdater.devtools.tokenserver import TokenServer
from imageupdater.errors import AuthError, RegistryError
from imageupdater.registry import RegistryClient, parse_reference, scan_tags
from imageupdater.registry import mediatypes as mt
from imageupdater.registry.hosts import ssl_context

from .fakes import write_docker_config

pytestmark = pytest.mark.registry

PASSWORD = "s3cret-Pa55"


@pytest.fixture
def anonymous() -> Iterator[RegistryClient]:
    with RegistryClient() as client:  # no config: see no_user_docker_config
        yield client


def test_tags_and_digests_of_every_manifest_kind(
    registry: LocalRegistry, pusher: Pusher, anonymous: RegistryClient
) -> None:
    pushed = {
        "1.0.0": (pusher.push_image("kinds/app", "1.0.0"), mt.OCI_MANIFEST),
        "1.1.0": (pusher.push_image("kinds/app", "1.1.0", docker=True), mt.DOCKER_MANIFEST),
        "2.0.0": (pusher.push_index("kinds/app", "2.0.0"), mt.OCI_INDEX),
        "2.1.0": (pusher.push_index("kinds/app", "2.1.0", docker=True), mt.DOCKER_LIST),
    }
    image = parse_reference(f"{registry.host}/kinds/app:1.0.0")
    assert sorted(anonymous.list_tags(image)) == sorted(pushed)
    for tag, (digest, media_type) in pushed.items():
        info = anonymous.manifest(image, tag)
        assert info is not None
        assert (info.digest, info.media_type) == (digest, media_type)
    by_digest = anonymous.manifest(image, pushed["2.0.0"][0])
    assert by_digest is not None
    assert by_digest.media_type == mt.OCI_INDEX
    assert anonymous.requests[(registry.host, 200)] == 6


def test_missing_tag_is_none_and_unknown_repository_an_error(
    registry: LocalRegistry, pusher: Pusher, anonymous: RegistryClient
) -> None:
    pusher.push_image("missing/app", "1.0.0")
    image = parse_reference(f"{registry.host}/missing/app")
    assert anonymous.manifest(image, "9.9.9") is None
    unknown = parse_reference(f"{registry.host}/no/such-repo")
    with pytest.raises(RegistryError, match=r"not found.*NAME_UNKNOWN"):
        anonymous.list_tags(unknown)
    assert anonymous.manifest(unknown, "1.0") is None


def test_seeded_storage_is_served_like_pushed_content(
    registry: LocalRegistry, anonymous: RegistryClient
) -> None:
    tags = [f"0.{i}.{j}" for i in range(10) for j in range(50)]
    digests = seed_storage(
        registry.root, "seeded/app", tags, created=lambda tag: f"2024-01-01T00:{tag[2]}0:00Z"
    )
    image = parse_reference(f"{registry.host}/seeded/app")
    assert sorted(anonymous.list_tags(image)) == sorted(tags)
    info = anonymous.manifest(image, "0.3.7")
    assert info is not None
    assert info.digest == digests["0.3.7"]
    assert len(set(digests.values())) == 10  # one manifest per distinct `created`
    # the config blob really says when it was built
    manifest = httpx.get(
        f"{registry.url}/v2/seeded/app/manifests/0.3.7", headers={"Accept": mt.MANIFEST_ACCEPT}
    ).json()
    config = httpx.get(f"{registry.url}/v2/seeded/app/blobs/{manifest['config']['digest']}").json()
    assert config["created"] == "2024-01-01T00:30:00Z"


def test_scan_many_repositories(registry: LocalRegistry, anonymous: RegistryClient) -> None:
    for i in range(20):
        seed_storage(registry.root, f"scan/r{i}", [f"1.0.{j}" for j in range(10)])
    refs = [parse_reference(f"{registry.host}/scan/r{i}:1.0.0") for i in range(20)] * 3
    refs.append(parse_reference(f"{registry.host}/scan/absent"))
    result = scan_tags(anonymous, refs)
    assert len(result) == 21
    assert all(len(tags) == 10 for key, tags in result.items() if not key.endswith("absent"))
    assert isinstance(result[f"{registry.host}/scan/absent"], RegistryError)
    assert sum(anonymous.requests.values()) == 21


# -- auth -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    with start_registry(tmp_path_factory.mktemp("basic"), htpasswd=("alice", PASSWORD)) as running:
        with httpx.Client(base_url=running.url, auth=("alice", PASSWORD)) as client:
            Pusher(client).push_image("private/app", "1.0.0")
        yield running


def test_basic_auth_with_docker_config(basic_registry: LocalRegistry, tmp_path: Path) -> None:
    config = write_docker_config(
        tmp_path / "config.json", {basic_registry.host: ("alice", PASSWORD)}
    )
    image = parse_reference(f"{basic_registry.host}/private/app")
    with RegistryClient(docker_config=config) as client:
        assert client.list_tags(image) == ["1.0.0"]
        assert client.manifest(image, "1.0.0") is not None
        # the challenge is answered once; afterwards credentials go first
        assert client.requests[(basic_registry.host, 401)] == 1


def test_basic_auth_wrong_password(basic_registry: LocalRegistry, tmp_path: Path) -> None:
    config = write_docker_config(
        tmp_path / "config.json", {basic_registry.host: ("alice", "wrong-Pa55")}
    )
    with RegistryClient(docker_config=config) as client, pytest.raises(AuthError) as info:
        client.list_tags(parse_reference(f"{basic_registry.host}/private/app"))
    assert str(info.value) == f"401 unauthorized (credentials for {basic_registry.host} rejected)"
    assert "wrong-Pa55" not in repr(info.value)


def test_basic_auth_without_credentials(
    basic_registry: LocalRegistry, anonymous: RegistryClient
) -> None:
    with pytest.raises(AuthError, match=r"no credentials"):
        anonymous.list_tags(parse_reference(f"{basic_registry.host}/private/app"))


@pytest.fixture(scope="module")
def token_registry(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LocalRegistry, TokenServer]]:
    work = tmp_path_factory.mktemp("token")
    with (
        TokenServer(work, users={"bob": PASSWORD}) as tokens,
        start_registry(work, token_auth=tokens.auth) as running,
    ):
        for repo in ("tok/app", "tok/web"):
            token = tokens.issue(
                "bob", [{"type": "repository", "name": repo, "actions": ["pull", "push"]}]
            )
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=running.url, headers=headers) as client:
                Pusher(client).push_image(repo, "1.0.0")
        tokens.requests.clear()
        yield running, tokens


def test_bearer_token_auth(
    token_registry: tuple[LocalRegistry, TokenServer], tmp_path: Path
) -> None:
    running, tokens = token_registry
    tokens.requests.clear()
    config = write_docker_config(tmp_path / "config.json", {running.host: ("bob", PASSWORD)})
    app = parse_reference(f"{running.host}/tok/app")
    web = parse_reference(f"{running.host}/tok/web")
    with RegistryClient(docker_config=config) as client:
        assert client.list_tags(app) == ["1.0.0"]
        assert client.manifest(app, "1.0.0") is not None
        assert client.list_tags(web) == ["1.0.0"]
        assert [r["scopes"] for r in tokens.requests] == [
            ["repository:tok/app:pull"],
            ["repository:tok/web:pull"],
        ]
        assert {r["user"] for r in tokens.requests} == {"bob"}
        assert client.requests[(running.host, 401)] == 1


def test_bearer_token_auth_wrong_password(
    token_registry: tuple[LocalRegistry, TokenServer], tmp_path: Path
) -> None:
    running, _ = token_registry
    config = write_docker_config(tmp_path / "config.json", {running.host: ("bob", "nope-Pa55")})
    with RegistryClient(docker_config=config) as client, pytest.raises(AuthError) as info:
        client.list_tags(parse_reference(f"{running.host}/tok/app"))
    assert "nope-Pa55" not in repr(info.value)
    assert "credentials for" in str(info.value)


# -- TLS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    work = tmp_path_factory.mktemp("tls")
    tls = make_tls_files(work / "tls")
    with start_registry(work, tls=tls) as running:
        with httpx.Client(
            base_url=running.url, verify=ssl.create_default_context(cafile=tls.ca)
        ) as client:
            Pusher(client).push_image("tls/app", "1.0.0")
        yield running


def test_loopback_tls_registry_is_reached_over_https(
    tls_registry: LocalRegistry, anonymous: RegistryClient
) -> None:
    # plain HTTP to this port answers 400, so success means HTTPS was used
    assert anonymous.list_tags(parse_reference(f"{tls_registry.host}/tls/app")) == ["1.0.0"]


def test_ssl_cert_file_adds_a_ca(
    tls_registry: LocalRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = str(Path(tls_registry.config_path).parent / "tls" / "ca.crt")
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with pytest.raises(httpx.ConnectError), httpx.Client(verify=ssl_context()) as client:
        client.get(tls_registry.url + "/v2/")
    monkeypatch.setenv("SSL_CERT_FILE", ca)
    context = ssl_context()
    with httpx.Client(verify=context) as client:
        assert client.get(tls_registry.url + "/v2/").status_code == 200
    # added to, not replacing, the public roots
    assert len(context.get_ca_certs()) > 100
