"""A local stand-in for Clever's Data API v3.0/v3.1: a real HTTP server on 127.0.0.1.

It serves one stored snapshot through the bundle → API mapping (:mod:`rosterlab.api.served`),
page by page from DuckDB:
bearer-token auth (401 otherwise), paging by ascending id with ``limit`` (default 100, above
10000 → 413), ``starting_after``/``ending_before`` and ``links``, a per-window rate limit (429 +
``X-RateLimit-Reset``), and fault knobs that fire on chosen request numbers: ``503``, ``429``,
``html`` (a 200 with an HTML body, as a wrong token type gets), ``malformed`` (truncated JSON),
``drop`` (the connection closed mid-body), ``slow``, and ``create`` (a new student is created
just before the request is answered, as between two pages of a pull). It needs no HTTP client
library.
"""

from __future__ import annotations

import base64
import hmac
import json
import math
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from rosterlab.api.served import EVENT_WINDOW, RESOURCES, USER_ROLES, ServedDistrict
from rosterlab.errors import ConfigError

DEFAULT_LIMIT = 100  # (unconfirmed) Clever's default page size
MAX_LIMIT = 10000
FAULT_KINDS = ("503", "429", "html", "malformed", "drop", "slow", "create")
LIST_RESOURCES = ("districts", "schools", "sections", "terms", "courses", "users")


@dataclass(frozen=True)
class Fault:
    """``kind`` on data requests ``first`` to ``last`` (1-based, inclusive; None: forever)."""

    kind: str
    first: int
    last: int | None

    @classmethod
    def parse(cls, text: str) -> Fault:
        """``KIND@N``, ``KIND@N-M`` or ``KIND@N+`` (request N and every later one)."""
        kind, _, when = text.partition("@")
        try:
            if when.endswith("+"):
                return cls._checked(kind, int(when[:-1]), None, text)
            first, _, last = when.partition("-")
            return cls._checked(kind, int(first), int(last) if last else int(first), text)
        except ValueError as exc:
            raise ConfigError(
                f"fault {text!r} must look like KIND@N, KIND@N-M or KIND@N+ "
                f"(KIND: {', '.join(FAULT_KINDS)})"
            ) from exc

    @classmethod
    def _checked(cls, kind: str, first: int, last: int | None, text: str) -> Fault:
        if kind not in FAULT_KINDS or first < 1 or (last is not None and last < first):
            raise ValueError(text)
        return cls(kind, first, last)

    def fires(self, request: int) -> bool:
        return self.first <= request and (self.last is None or request <= self.last)


@dataclass
class StandInSettings:
    token: str
    rate_limit: int = 1200
    rate_window: float = 60.0
    faults: tuple[Fault, ...] = ()
    slow_seconds: float = 0.5
    max_limit: int = MAX_LIMIT
    client: tuple[str, str] | None = None  # (client_id, client_secret) for /oauth/tokens


@dataclass
class _Counters:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: int = 0
    window_start: float = 0.0
    in_window: int = 0


class StandIn:
    """Everything one server serves: the district (both versions), its settings and counters."""

    def __init__(self, served: ServedDistrict, settings: StandInSettings) -> None:
        self.served = served
        self.settings = settings
        self.counters = _Counters()

    def count_request(self) -> tuple[int, float | None]:
        """This data request's number, and the reset time when it is over the rate limit."""
        with self.counters.lock:
            c = self.counters
            c.requests += 1
            now = time.time()
            window = self.settings.rate_window
            start = math.floor(now / window) * window
            if start != c.window_start:
                c.window_start, c.in_window = start, 0
            c.in_window += 1
            over = c.in_window > self.settings.rate_limit
            return c.requests, (start + window if over else None)

    def server(self, host: str, port: int) -> ThreadingHTTPServer:
        standin = self

        class Handler(_Handler):
            owner = standin

        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        return server


class _Handler(BaseHTTPRequestHandler):
    owner: StandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the stand-in never prints."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        if parts == ["oauth", "tokens"]:
            status, body = self._tokens(parse_qs(url.query))
            self._send(status, body, "application/json; charset=utf-8")
            return
        if not parts or parts[0] not in ("v3.0", "v3.1"):
            self._json(404, {"message": "not found: the API lives under /v3.0 and /v3.1"})
            return
        version = parts[0][1:]
        if self.headers.get("Authorization") != f"Bearer {self.owner.settings.token}":
            self._json(401, {"message": "invalid or missing bearer token"})
            return
        number, reset = self.owner.count_request()
        rate_headers = {
            "X-RateLimit-Limit": str(self.owner.settings.rate_limit),
        }
        if reset is not None:
            self._json(
                429,
                {"message": "rate limit exceeded"},
                {**rate_headers, "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": _epoch(reset)},
            )
            return
        fault = next((f.kind for f in self.owner.settings.faults if f.fires(number)), None)
        if fault == "slow":
            time.sleep(self.owner.settings.slow_seconds)
        elif fault == "create":
            self.owner.served.create_student(number)
        elif fault == "503":
            self._json(503, {"message": "service unavailable"})
            return
        elif fault == "429":
            self._json(
                429,
                {"message": "rate limit exceeded"},
                {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": _epoch(time.time() + 1)},
            )
            return
        elif fault == "html":
            self._send(200, b"<!DOCTYPE html><html><body>Sign in</body></html>", "text/html")
            return
        query = parse_qs(url.query)
        if parts[1:2] == ["events"]:
            status, body = self._events(version, parts[1:], query)
        else:
            status, body = self._route(version, parts[1:], query)
        if fault == "malformed":
            body = body[: max(1, len(body) // 2)]
        if fault == "drop":
            self._drop(status, body)
            return
        self._send(status, body, "application/json; charset=utf-8", rate_headers)

    def _tokens(self, query: dict[str, list[str]]) -> tuple[int, bytes]:
        """``GET /oauth/tokens?owner_type=district[&district=ID]`` with HTTP Basic
        ``client_id:client_secret``: the district-app tokens of the app (shape unconfirmed)."""
        settings, served = self.owner.settings, self.owner.served
        if settings.client is None:
            return 404, _dumps({"message": "no app client configured (--client-env)"})
        expected = "Basic " + base64.b64encode(":".join(settings.client).encode()).decode()
        if not hmac.compare_digest(self.headers.get("Authorization", ""), expected):
            return 401, _dumps({"message": "invalid client_id or client_secret"})
        if query.get("owner_type", [None])[0] != "district":
            return 400, _dumps({"message": "owner_type=district is required"})
        wanted = query.get("district", [served.district_id])[0]
        tokens = []
        if wanted == served.district_id:
            tokens.append(
                {
                    "id": served.district_id,
                    "created": served.snapshot.taken_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    "owner": {"type": "district", "id": served.district_id},
                    "access_token": settings.token,
                    "scopes": ["read:district_admins", "read:school_admins", "read:sections",
                               "read:students", "read:teachers", "read:user_id"],
                }
            )  # fmt: skip
        return 200, _dumps({"data": tokens})

    def _events(
        self, version: str, parts: list[str], query: dict[str, list[str]]
    ) -> tuple[int, bytes]:
        """``/events``: ascending ids within the 30-day window; an expired cursor is a 404."""
        served = self.owner.served
        if not served.events_enabled:
            return 404, _dumps({"message": "events are not enabled for this district"})
        if len(parts) == 2:
            return self._one(served.one(version, "events", None, parts[1]))
        after = query.get("starting_after", [None])[0]
        if after is not None and served.one(version, "events", None, after) is None:
            return 404, _dumps(
                {
                    "message": f"event {after} not found: older than the {EVENT_WINDOW.days}-day "
                    "window, or never an event of this district"
                }
            )
        record_types = query.get("record_type", [])
        unknown = sorted(set(record_types) - set(RESOURCES))
        if unknown:
            allowed = ", ".join(RESOURCES)
            return 400, _dumps(
                {"message": f"unknown record_type {', '.join(unknown)}: one of {allowed}"}
            )
        return self._page(version, "events", None, query)

    def _route(
        self, version: str, parts: list[str], query: dict[str, list[str]]
    ) -> tuple[int, bytes]:
        if not parts or parts[0] not in LIST_RESOURCES or len(parts) > 2:
            return 404, _dumps({"message": "not found"})
        resource = parts[0]
        role = query.get("role", [None])[0] if resource == "users" else None
        if role is not None and role not in USER_ROLES:
            return 400, _dumps({"message": f"unknown role {role}"})
        if len(parts) == 2:
            return self._one(self.owner.served.one(version, resource, role, parts[1]))
        return self._page(version, resource, role, query)

    @staticmethod
    def _one(body: str | None) -> tuple[int, bytes]:
        if body is None:
            return 404, _dumps({"message": "not found"})
        return 200, ('{"data":' + body + "}").encode()

    def _page(
        self,
        version: str,
        resource: str,
        role: str | None,
        query: dict[str, list[str]],
    ) -> tuple[int, bytes]:
        """One page of a list, by ascending id, with its ``links``."""
        try:
            limit = int(query.get("limit", [str(DEFAULT_LIMIT)])[0])
        except ValueError:
            return 400, _dumps({"message": "limit must be a whole number"})
        most = self.owner.settings.max_limit
        if limit > most:
            return 413, _dumps({"message": f"limit must be at most {most}"})
        if limit < 1:
            return 400, _dumps({"message": "limit must be at least 1"})
        after = query.get("starting_after", [None])[0]
        before = query.get("ending_before", [None])[0]
        school = query.get("school", [None])[0] if resource == "events" else None
        record_types = query.get("record_type", []) if resource == "events" else []
        page = self.owner.served.page(
            version,
            resource,
            role,
            limit,
            after,
            before,
            school=school,
            record_types=record_types,
        )
        base = f"/v{version}/{resource}"
        common: dict[str, Any] = {"role": role} if role else {}
        if school is not None:
            common["school"] = school
        if record_types:
            common["record_type"] = record_types
        links = [{"rel": "self", "uri": self.path}]
        if page.more_after and page.items:
            query_text = urlencode(
                {**common, "limit": limit, "starting_after": page.items[-1][0]}, doseq=True
            )
            links.append({"rel": "next", "uri": f"{base}?{query_text}"})
        if page.more_before and page.items:
            query_text = urlencode(
                {**common, "limit": limit, "ending_before": page.items[0][0]}, doseq=True
            )
            links.append({"rel": "prev", "uri": f"{base}?{query_text}"})
        items = ",".join('{"data":' + body + "}" for _, body in page.items)
        return 200, ('{"data":[' + items + '],"links":' + json.dumps(links) + "}").encode()

    def _json(self, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
        self._send(status, _dumps(payload), "application/json; charset=utf-8", headers)

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _drop(self, status: int, body: bytes) -> None:
        """Announce the whole body, send half of it, and close the connection."""
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True


def _dumps(payload: object) -> bytes:
    return json.dumps(payload).encode()


def _epoch(moment: float) -> str:
    return str(math.ceil(moment))
