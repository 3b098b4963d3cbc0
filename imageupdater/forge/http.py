"""HTTP for the forge adapters: auth header, retries, rate limits, pagination, no secrets.

* **Retries.** 5xx, 429, timeouts and connection errors are retried with exponential
  backoff; ``Retry-After`` wins, and a GitHub-style exhausted quota (``x-ratelimit-remaining:
  0`` on a 403/429) waits until ``x-ratelimit-reset``. Waits are capped so one forge cannot
  stall a cycle; what is still failing becomes :class:`ForgeUnavailable`, which PR delivery
  treats as "try again next run", never as "nothing to do".
* **Auth.** 401 and a 403 that is not a rate limit become :class:`AuthError`.
* **Pagination.** ``Link: <…>; rel="next"`` (GitHub, Gitea, GitLab) is followed, with
  GitLab's ``x-next-page`` as fallback (GitLab drops ``Link`` totals above 10,000 rows).
* **Secrets.** Messages quote only the method, path and the forge's ``message`` field, and
  the token is replaced in whatever is quoted; the request URL never carries it.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from imageupdater.errors import AuthError, ForgeError, ForgeUnavailable

_log = logging.getLogger(__name__)

JSON = Any


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


@dataclass(slots=True)
class RetryPolicy:
    attempts: int = 4
    backoff: float = 0.5
    max_wait: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = field(default=random.random)

    def wait(self, attempt: int, hinted: float | None) -> float:
        if hinted is not None:
            return max(0.0, min(hinted, self.max_wait))
        base = self.backoff * (2 ** (attempt - 1))
        return float(min(base * (0.5 + 0.5 * self.jitter()), self.max_wait))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return (when - datetime.now(UTC)).total_seconds()
    # GitHub: x-ratelimit-*; GitLab: RateLimit-* (both epoch seconds for the reset)
    for prefix in ("x-ratelimit-", "ratelimit-"):
        if response.headers.get(prefix + "remaining") == "0":
            reset = response.headers.get(prefix + "reset", "")
            if reset.isdigit():
                return int(reset) - time.time()
    return None


def _is_rate_limited(response: httpx.Response) -> bool:
    if response.status_code == 429:
        return True
    return response.status_code == 403 and (
        response.headers.get("x-ratelimit-remaining") == "0"
        or response.headers.get("ratelimit-remaining") == "0"
        or "retry-after" in response.headers
    )


def message_of(response: httpx.Response) -> str:
    """The forge's own explanation: ``message`` (GitHub, Gitea, GitLab) plus error details."""
    try:
        data = response.json()
    except ValueError:
        return response.reason_phrase
    if not isinstance(data, dict):
        return response.reason_phrase
    parts = [str(data.get("message") or data.get("error") or response.reason_phrase)]
    for error in data.get("errors") or []:
        if isinstance(error, dict) and error.get("message"):
            parts.append(str(error["message"]))
        elif isinstance(error, str):
            parts.append(error)
    return "; ".join(parts)


class ForgeHttp:
    """One connection pool to one forge API root, safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        *,
        auth_headers: Mapping[str, str],
        secret: str | None,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._secret = secret
        self._retry = retry or RetryPolicy()
        self._client = httpx.Client(
            base_url=self.base_url + "/",
            headers={
                "Accept": "application/json",
                "User-Agent": "imageupdater",
                **auth_headers,
            },
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ForgeHttp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def scrub(self, text: str) -> str:
        return scrub(text, [self._secret])

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: JSON = None,
        accept: Iterable[int] = (200, 201, 204),
    ) -> httpx.Response:
        """Send with retries; return a response whose status is in ``accept``, else raise.

        ``path`` is relative to the API root, or an absolute URL on it (``Link`` headers).
        """
        wanted = set(accept)
        what = f"{method} {self.scrub(httpx.URL(path).path or path)}"
        for attempt in range(1, self._retry.attempts + 1):
            hinted: float | None = None
            try:
                response = self._client.request(
                    method,
                    path.lstrip("/") if "://" not in path else path,
                    params=params,
                    json=json,
                )
            except httpx.TransportError as exc:
                problem = f"{what}: {type(exc).__name__}"
            else:
                status = response.status_code
                if status in wanted:
                    return response
                if _is_rate_limited(response) or status >= 500:
                    hinted = _retry_after(response)
                    problem = f"{what}: HTTP {status}"
                elif status in (401, 403):
                    raise AuthError(
                        f"forge refused {what}: HTTP {status} {self.scrub(message_of(response))}"
                    )
                else:
                    raise ForgeError(
                        f"forge answered {what}: HTTP {status} {self.scrub(message_of(response))}",
                    )
            if attempt == self._retry.attempts:
                raise ForgeUnavailable(f"{problem} after {attempt} tries")
            wait = self._retry.wait(attempt, hinted)
            _log.info("%s; retrying in %.1fs", problem, wait)
            self._retry.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def status(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Like :meth:`request`, but 404, 409 and 422 come back instead of raising."""
        return self.request(method, path, accept=(200, 201, 204, 404, 409, 422), **kwargs)

    def pages(self, path: str, params: Mapping[str, str | int], *, limit: int = 1000) -> list[JSON]:
        """Every item of a paginated list, following ``Link`` or ``x-next-page``."""
        items: list[JSON] = []
        url: str | None = path
        query: Mapping[str, str | int] | None = params
        for _ in range(limit):
            assert url is not None
            response = self.request("GET", url, params=query)
            data = response.json()
            if not isinstance(data, list):
                raise ForgeError(f"GET {self.scrub(path)}: expected a list")
            items.extend(data)
            following = response.links.get("next", {}).get("url")
            if following:
                if not following.startswith(self.base_url + "/"):
                    raise ForgeError(f"GET {self.scrub(path)}: next page is on another host")
                url, query = following, None
            elif (page := response.headers.get("x-next-page", "")).isdigit():
                url, query = path, {**params, "page": int(page)}
            else:
                return items
        raise ForgeError(f"GET {self.scrub(path)}: more than {limit} pages")
