"""Fetching Data API pages with httpx: retries, rate-limit waits, and a checked body on disk.

Each page is streamed to a file (never parsed before it is complete) and then checked: JSON,
``data`` a list of ``{"data": {"id": …}}``, ``links`` a list. 429 waits until
``X-RateLimit-Reset``; 500/502/503/504, dropped connections and malformed bodies are retried
with doubling backoff; 400/401/403/404/413 and non-JSON bodies fail at once with one line.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from rosterlab.api.target import ApiTarget
from rosterlab.errors import ApiError, disk_full

if TYPE_CHECKING:
    from rosterlab.store import Progress

RETRIED_STATUSES = (500, 502, 503, 504)
MAX_RATE_WAITS = 30  # consecutive 429s on one page before giving up
MAX_RATE_WAIT = 120.0  # never sleep longer than this on one X-RateLimit-Reset
MAX_BACKOFF = 30.0


@dataclass(frozen=True)
class Page:
    """A fetched page, on disk: its hash, size, records, id range and links."""

    uri: str
    path: Path
    sha256: str
    bytes: int
    records: int
    first_id: str | None
    last_id: str | None
    links: dict[str, str]


class RefusedError(ApiError):
    """The API answered with an error status that retrying does not cure."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class _Retry(Exception):
    """A transient failure: retry the page after a backoff. ``remedy``: what to do when the
    retries are spent."""

    def __init__(
        self, message: str, remedy: str = "Clever's API is not answering well; retry later"
    ) -> None:
        super().__init__(message)
        self.remedy = remedy


class ApiClient:
    """One token's session with one API root; counts requests and rate-limit waits."""

    def __init__(
        self,
        target: ApiTarget,
        token: str,
        progress: Progress | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.target = target
        self.progress = progress or (lambda _message: None)
        self.sleep = sleep
        self.requests = 0
        self.rate_limit_waits = 0
        self._origin = urlsplit(target.base_url)
        self._http = httpx.Client(
            base_url=target.base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=target.timeout,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def checked_uri(self, uri: str) -> str:
        """A link's URI as a path on our origin; a link elsewhere would leak the token."""
        parts = urlsplit(uri)
        elsewhere = (parts.scheme, parts.netloc) != (self._origin.scheme, self._origin.netloc)
        if (parts.scheme or parts.netloc) and elsewhere:
            raise ApiError(
                f"{self.target.base_url} linked to another host ({parts.netloc}): refusing "
                "to send the token there; report this to Clever support"
            )
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if not path.startswith(f"/v{self.target.version}/"):
            raise ApiError(
                f"{self.target.base_url} linked to {path!r}, outside /v{self.target.version}: "
                "check the target's version"
            )
        return path

    def fetch(self, uri: str, dest: Path) -> Page:
        """GET ``uri`` into ``dest`` (replaced atomically), retrying what is transient."""
        uri = self.checked_uri(uri)
        failures = 0
        rate_waits = 0
        while True:
            try:
                return self._attempt(uri, dest)
            except _RateLimited as limited:
                rate_waits += 1
                self.rate_limit_waits += 1
                if rate_waits > MAX_RATE_WAITS:
                    raise ApiError(
                        f"rate limited {rate_waits - 1} times in a row on {uri}: another client "
                        "may be using this token's quota; retry later"
                    ) from limited
                wait = limited.wait
                self.progress(f"rate limited (429): waiting {wait:.1f}s for X-RateLimit-Reset")
                self.sleep(wait)
            except _Retry as transient:
                failures += 1
                if failures > self.target.retries:
                    raise ApiError(
                        f"{transient} on {uri}, {failures} times: {transient.remedy} (the pull "
                        "resumes where it stopped)"
                    ) from transient
                wait = min(MAX_BACKOFF, self.target.backoff * 2 ** (failures - 1))
                self.progress(f"{transient} on {uri}: retry {failures} in {wait:.1f}s")
                self.sleep(wait)

    def _attempt(self, uri: str, dest: Path) -> Page:
        self.requests += 1
        partial = dest.with_name(dest.name + ".part")
        try:
            with self._http.stream("GET", uri) as response:
                self._check_status(response, uri)
                digest = hashlib.sha256()
                size = 0
                with partial.open("wb") as out:
                    for chunk in response.iter_bytes(1 << 20):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
        except httpx.TimeoutException as exc:
            partial.unlink(missing_ok=True)
            raise _Retry("timed out") from exc
        except httpx.ConnectError as exc:
            raise _Retry(
                f"cannot connect to {self.target.base_url}",
                # refused or unresolvable every time: more often a wrong address than an outage
                f"nothing answers there: check base_url of [api.{self.target.name}] (a stand-in "
                "must be running) or retry later",
            ) from exc
        except httpx.TransportError as exc:
            partial.unlink(missing_ok=True)
            raise _Retry(f"connection lost ({type(exc).__name__})") from exc
        except httpx.RequestError as exc:  # an undecodable body, a redirect loop
            partial.unlink(missing_ok=True)
            raise _Retry(f"unreadable answer ({type(exc).__name__})") from exc
        except OSError as exc:
            partial.unlink(missing_ok=True)
            full = disk_full(exc, str(partial), "the pages fetched so far are kept for a resume")
            raise full or ApiError(
                f"cannot write {partial} ({exc.strerror}): check the folder beside the store"
            ) from exc
        try:
            page = _parse(uri, partial, digest.hexdigest(), size)
        except ValueError as bad:
            partial.unlink(missing_ok=True)
            raise _Retry(f"malformed JSON ({bad})") from bad
        partial.replace(dest)
        return Page(**{**page.__dict__, "path": dest})

    def _check_status(self, response: httpx.Response, uri: str) -> None:
        status = response.status_code
        if status == 429:
            raise _RateLimited(_reset_wait(response, self.target.backoff))
        if status in RETRIED_STATUSES:
            raise _Retry(f"HTTP {status}")
        if status != 200:
            response.read()
            raise RefusedError(_refusal(self.target, status, uri, _message(response)), status)
        kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise ApiError(
                f"{self.target.base_url}{uri} answered {kind or 'no content type'}, not JSON: "
                "the token may be of the wrong kind (use a district-app token) or a proxy "
                "intercepted the request"
            )


class _RateLimited(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(f"wait {wait}")
        self.wait = wait


def _reset_wait(response: httpx.Response, fallback: float) -> float:
    """Seconds until ``X-RateLimit-Reset`` (unix time), bounded; absent: the backoff."""
    try:
        reset = float(response.headers["X-RateLimit-Reset"])
    except (KeyError, ValueError):
        return max(fallback, 0.0)
    return min(MAX_RATE_WAIT, max(0.0, reset - time.time()) + 0.05)


def _message(response: httpx.Response) -> str | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    message = payload.get("message") if isinstance(payload, dict) else None
    return message if isinstance(message, str) else None


def _refusal(target: ApiTarget, status: int, uri: str, message: str | None) -> str:
    said = f" ({message})" if message else ""
    where = f"token_env {target.token_env}" if target.token_env else "the keyring"
    remedies = {
        400: "report this rosterlab bug with the command",
        401: f"check the district-app token in {where}",
        403: f"the token may not see this district; check the token in {where}",
        404: (
            # starting_after an event Clever no longer serves: the pull's fallback is the remedy
            "the event cursor is no longer served (older than Clever's 30 days of events, or "
            "not this district's): a full pull records a new one"
            if "/events" in uri and "starting_after=" in uri
            else "events are opt-in per district: ask the district to turn them on"
            if "/events" in uri
            else "check the target's base_url and version"
        ),
        413: "the page size was refused; report this rosterlab bug",
    }
    remedy = remedies.get(status, "retry later or report it to Clever support")
    return f"{target.base_url}{uri} refused with HTTP {status}{said}: {remedy}"


def _parse(uri: str, path: Path, sha256: str, size: int) -> Page:
    """Check a page's shape; ValueError when it is not a Data API list page."""
    try:
        with path.open("rb") as stream:
            payload = json.load(stream)
    except UnicodeDecodeError as exc:
        raise ValueError("not UTF-8") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise ValueError('no "data" list')
    links = payload.get("links", [])
    if not isinstance(links, list):
        raise ValueError('"links" is not a list')
    ids = []
    for item in payload["data"]:
        inner = item.get("data") if isinstance(item, dict) else None
        if not isinstance(inner, dict) or not isinstance(inner.get("id"), str):
            raise ValueError('an item without "data.id"')
        ids.append(inner["id"])
    rels = {
        link["rel"]: link["uri"]
        for link in links
        if isinstance(link, dict)
        and isinstance(link.get("rel"), str)
        and isinstance(link.get("uri"), str)
    }
    return Page(
        uri,
        path,
        sha256,
        size,
        len(ids),
        ids[0] if ids else None,
        ids[-1] if ids else None,
        rels,
    )
