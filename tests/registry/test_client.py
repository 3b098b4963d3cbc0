"""RegistryClient against in-process fakes: pagination, retries, errors, schemes."""

from __future__ import annotations

import email.utils
import hashlib
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from imageupdater.errors import ConfigError, RegistryError, RegistryUnavailable
from imageupdater.model import ManifestInfo
from imageupdater.registry import parse_reference
from imageupdater.registry.mediatypes import MANIFEST_TYPES, OCI_MANIFEST
from imageupdater.registry.retry import RetryPolicy, parse_retry_after

from .fakes import client, errors, paginated, tags_response

APP = parse_reference("registry.test/team/app:1.0.0")
TAGS = [f"1.{i}.0" for i in range(5)]


# -- pagination ---------------------------------------------------------------------------


@pytest.mark.parametrize("absolute", [False, True])
def test_list_tags_follows_every_link_page(absolute: bool) -> None:
    registry, recorder, _ = client(paginated("team/app", TAGS, page_size=2, absolute=absolute))
    assert registry.list_tags(APP) == TAGS
    assert recorder.urls() == [
        "https://registry.test/v2/team/app/tags/list",
        "https://registry.test/v2/team/app/tags/list?n=2&last=1.1.0",
        "https://registry.test/v2/team/app/tags/list?n=2&last=1.3.0",
    ]


def test_a_link_to_another_host_is_fetched_from_the_registry_itself() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "last" in request.url.params:
            return tags_response("team/app", ["2"])
        link = '<https://elsewhere.test/v2/team/app/tags/list?last=1>; rel="next"'
        return tags_response("team/app", ["1"], {"Link": link})

    registry, recorder, _ = client(handler)
    assert registry.list_tags(APP) == ["1", "2"]
    assert {r.url.host for r in recorder.requests} == {"registry.test"}


def test_pagination_that_loops_is_an_outage_not_a_hang() -> None:
    link = {"Link": '</v2/team/app/tags/list?last=x>; rel="next"'}
    registry, _, _ = client(lambda request: tags_response("team/app", ["x"], link))
    with pytest.raises(RegistryUnavailable, match=r"pagination does not end"):
        registry.list_tags(APP)


def test_a_repository_without_tags_lists_none() -> None:
    registry, _, _ = client(lambda request: tags_response("team/app", None))
    assert registry.list_tags(APP) == []


# -- retries --------------------------------------------------------------------------------


def test_429_with_retry_after_is_waited_out_then_succeeds() -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "1"}),
            httpx.Response(429, headers={"Retry-After": "2"}),
        ]
    )
    registry, recorder, sleeps = client(
        lambda request: next(answers, None) or tags_response("team/app", TAGS)
    )
    assert registry.list_tags(APP) == TAGS
    assert sleeps == [1.0, 2.0]
    assert len(recorder.requests) == 3
    assert registry.requests[("registry.test", 429)] == 2
    assert registry.requests[("registry.test", 200)] == 1


def test_retry_after_as_http_date_is_capped_by_max_retry_after() -> None:
    later = email.utils.formatdate(time.time() + 3600, usegmt=True)
    answers = iter([httpx.Response(503, headers={"Retry-After": later})])
    registry, _, sleeps = client(
        lambda request: next(answers, None) or tags_response("team/app", TAGS), max_retry_after=5.0
    )
    assert registry.list_tags(APP) == TAGS
    assert sleeps == [5.0]


def test_persistent_503_is_unavailable_after_max_attempts() -> None:
    registry, recorder, sleeps = client(lambda request: httpx.Response(503), backoff=0.5)
    with pytest.raises(RegistryUnavailable) as info:
        registry.list_tags(APP)
    assert str(info.value) == "HTTP 503 after 4 tries"
    assert len(recorder.requests) == 4
    # exponential backoff with jitter: base 0.5, 1, 2 scaled into [50%, 100%]
    assert len(sleeps) == 3
    for wait, base in zip(sleeps, [0.5, 1.0, 2.0], strict=True):
        assert base / 2 <= wait <= base


def test_attempts_are_configurable() -> None:
    registry, recorder, _ = client(lambda request: httpx.Response(502), max_attempts=2)
    with pytest.raises(RegistryUnavailable, match=r"^HTTP 502 after 2 tries$"):
        registry.list_tags(APP)
    assert len(recorder.requests) == 2


def test_timeouts_are_retried_then_reported() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    registry, recorder, _ = client(handler)
    with pytest.raises(
        RegistryUnavailable, match=r"timeout talking to registry.test after 4 tries"
    ):
        registry.list_tags(APP)
    assert len(recorder.requests) == 4


def test_a_timeout_then_success_is_just_slower() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ConnectTimeout("timed out", request=request)
        return tags_response("team/app", TAGS)

    registry, _, sleeps = client(handler)
    assert registry.list_tags(APP) == TAGS
    assert len(sleeps) == 1


def test_connection_errors_are_unavailable_without_httpx_leaking() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    registry, _, _ = client(handler, max_attempts=1)
    with pytest.raises(
        RegistryUnavailable,
        match=r"^connection to registry.test failed \(ConnectError\) after 1 try$",
    ):
        registry.list_tags(APP)


def test_backoff_and_retry_after_are_capped() -> None:
    policy = RetryPolicy(backoff=10.0, max_retry_after=30.0)
    assert 5.0 <= policy.delay(1, None) <= 10.0
    assert policy.delay(6, None) == 30.0  # 10 * 2**5 capped
    assert policy.delay(3, 40.0) == 30.0  # Retry-After capped by max_retry_after


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("", None), ("3", 3.0), ("0.5", 0.5), ("-4", 0.0), ("soon", None)],
)
def test_parse_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date() -> None:
    now = email.utils.parsedate_to_datetime("Wed, 21 Oct 2015 07:28:00 GMT")
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now) == 0.0


# -- garbage and permanent errors -----------------------------------------------------------


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>proxy login</html>"),
        httpx.Response(200, content=b"\xff\xfe{"),
        httpx.Response(200, json=["not", "an", "object"]),
        httpx.Response(200, json={"tags": "1.0"}),
        httpx.Response(200, json={"tags": [1, 2]}),
    ],
)
def test_garbage_answers_are_unavailable(response: httpx.Response) -> None:
    registry, _, _ = client(lambda request: response)
    with pytest.raises(RegistryUnavailable, match=r"registry\.test"):
        registry.list_tags(APP)


def test_unknown_repository_is_a_permanent_error() -> None:
    registry, recorder, _ = client(lambda request: errors(404, "NAME_UNKNOWN"))
    with pytest.raises(RegistryError) as info:
        registry.list_tags(APP)
    assert not isinstance(info.value, RegistryUnavailable)
    assert str(info.value) == "repository team/app not found on registry.test (NAME_UNKNOWN)"
    assert len(recorder.requests) == 1  # permanent: not retried


def test_other_client_errors_name_the_status_and_code_only() -> None:
    registry, _, _ = client(lambda request: errors(400, "NAME_INVALID"))
    with pytest.raises(
        RegistryError, match=r"^HTTP 400 from registry.test for team/app \(NAME_INVALID\)$"
    ):
        registry.list_tags(APP)


# -- manifests ------------------------------------------------------------------------------


def test_manifest_head_asks_for_all_four_media_types() -> None:
    digest = "sha256:" + "1" * 64

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "HEAD"
        assert request.url.path == "/v2/team/app/manifests/1.0.0"
        accepted = [t.strip() for t in request.headers["Accept"].split(",")]
        assert sorted(accepted) == sorted(MANIFEST_TYPES)
        headers = {"Docker-Content-Digest": digest, "Content-Type": OCI_MANIFEST}
        return httpx.Response(200, headers=headers)

    registry, _, _ = client(handler)
    assert registry.manifest(APP, "1.0.0") == ManifestInfo(digest, OCI_MANIFEST)


def test_manifest_of_a_missing_tag_is_none() -> None:
    registry, _, _ = client(lambda request: httpx.Response(404))
    assert registry.manifest(APP, "9.9.9") is None


def test_manifest_without_digest_header_hashes_the_body() -> None:
    body = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}'

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(200)
        return httpx.Response(200, content=body)

    registry, recorder, _ = client(handler)
    info = registry.manifest(APP, "1.0.0")
    assert info == ManifestInfo("sha256:" + hashlib.sha256(body).hexdigest(), OCI_MANIFEST)
    assert [r.method for r in recorder.requests] == ["HEAD", "GET"]


def test_manifest_with_a_garbage_digest_is_unavailable() -> None:
    headers = {"Docker-Content-Digest": "sha256:nothex", "Content-Type": OCI_MANIFEST}
    registry, _, _ = client(lambda request: httpx.Response(200, headers=headers))
    with pytest.raises(RegistryUnavailable):
        registry.manifest(APP, "1.0.0")


@pytest.mark.parametrize("reference", ["../../_catalog", "1.0?x=1", "", "a b"])
def test_manifest_rejects_references_that_are_not_tags_or_digests(reference: str) -> None:
    registry, recorder, _ = client(lambda request: httpx.Response(200))
    with pytest.raises(ConfigError):
        registry.manifest(APP, reference)
    assert recorder.requests == []


# -- schemes --------------------------------------------------------------------------------


def https_refused(request: httpx.Request) -> httpx.Response:
    if request.url.scheme == "https":
        raise httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER]", request=request)
    return tags_response("team/app", TAGS)


@pytest.mark.parametrize("host", ["127.0.0.1:5000", "127.8.0.1:80", "localhost:5000", "[::1]:5000"])
def test_loopback_falls_back_to_plain_http_and_remembers_it(host: str) -> None:
    registry, recorder, sleeps = client(https_refused)
    image = parse_reference(f"{host}/team/app")
    assert registry.list_tags(image) == TAGS
    assert registry.list_tags(image) == TAGS
    assert [r.url.scheme for r in recorder.requests] == ["https", "http", "http"]
    assert sleeps == []  # a fallback is not a retry


@pytest.mark.parametrize(
    ("insecure", "host"),
    [
        (["registry.local:5000"], "registry.local:5000"),
        (["registry.local"], "registry.local:5000"),
        (["registry.local"], "registry.local"),
        (["REGISTRY.local"], "registry.local:8443"),
        (["http://registry.local:5000/"], "registry.local:5000"),
    ],
)
def test_insecure_hosts_fall_back_to_plain_http(insecure: list[str], host: str) -> None:
    registry, recorder, _ = client(https_refused, insecure_hosts=insecure)
    assert registry.list_tags(parse_reference(f"{host}/team/app")) == TAGS
    assert [r.url.scheme for r in recorder.requests] == ["https", "http"]


@pytest.mark.parametrize(
    ("insecure", "host"),
    [
        ([], "registry.local:5000"),
        (["registry.local:5001"], "registry.local:5000"),
        ([], "ghcr.io"),
    ],
)
def test_other_hosts_never_fall_back_to_plain_http(insecure: list[str], host: str) -> None:
    registry, recorder, _ = client(https_refused, insecure_hosts=insecure)
    with pytest.raises(RegistryUnavailable, match=r"after 4 tries"):
        registry.list_tags(parse_reference(f"{host}/team/app"))
    assert {r.url.scheme for r in recorder.requests} == {"https"}


def test_concurrent_first_requests_probe_https_once() -> None:
    """16 scan threads starting together: one TLS attempt, not one per thread."""

    def slow_tls_failure(request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "https":
            time.sleep(0.05)  # every thread would be inside its own handshake by now
        return https_refused(request)

    registry, recorder, _ = client(slow_tls_failure)
    images = [parse_reference(f"127.0.0.1:5000/team/app{i}") for i in range(16)]
    with ThreadPoolExecutor(16) as pool:
        assert list(pool.map(registry.list_tags, images)) == [TAGS] * 16
    schemes = [r.url.scheme for r in recorder.requests]
    assert schemes.count("https") == 1
    assert schemes.count("http") == 16


def test_a_host_that_fails_both_schemes_is_probed_again() -> None:
    """A failed probe decides nothing: the next request tries HTTPS first again."""

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    registry, recorder, _ = client(down)
    image = parse_reference("127.0.0.1:5000/team/app")
    for _ in range(2):
        with pytest.raises(RegistryUnavailable):
            registry.list_tags(image)
    assert [r.url.scheme for r in recorder.requests][:2] == ["https", "http"]
    assert recorder.requests[-2].url.scheme == "https"


def test_https_that_works_on_loopback_is_kept() -> None:
    registry, recorder, _ = client(lambda request: tags_response("team/app", TAGS))
    image = parse_reference("127.0.0.1:5000/team/app")
    registry.list_tags(image)
    registry.list_tags(image)
    assert [r.url.scheme for r in recorder.requests] == ["https", "https"]


def test_requests_are_counted_by_host_and_status() -> None:
    registry, _, _ = client(paginated("team/app", TAGS, page_size=2))
    registry.list_tags(APP)
    registry.manifest(APP, "nope")
    assert registry.requests == {("registry.test", 200): 3, ("registry.test", 404): 1}


def test_client_is_a_context_manager() -> None:
    registry, _, _ = client(lambda request: tags_response("team/app", TAGS))
    with registry as entered:
        assert entered is registry


def test_rate_limit_spaces_requests_to_one_registry() -> None:
    registry, recorder, sleeps = client(
        lambda request: tags_response("team/app", TAGS), rate_limits={"registry.test": 10}
    )
    other = parse_reference("other.test/team/app")
    for _ in range(4):
        registry.list_tags(APP)
        registry.list_tags(other)
    assert len(recorder.requests) == 8
    # the mock answers instantly, so each request waits for its 0.1 s slot: 0.1, 0.2, 0.3
    assert len(sleeps) == 3
    assert sum(sleeps) == pytest.approx(0.6, abs=0.05)


def test_request_counts_is_a_copy() -> None:
    registry, _, _ = client(lambda request: tags_response("team/app", TAGS))
    registry.list_tags(APP)
    counts = registry.request_counts()
    registry.list_tags(APP)
    assert counts == {("registry.test", 200): 1}
    assert registry.requests[("registry.test", 200)] == 2
