"""A pool of OpenAI-compatible servers: spread requests, bound what is in flight, retry, drop the dead.

Why its own module: the openai backend only builds requests and reads answers; everything about talking
to several servers that may be slow, busy (429), failing (5xx) or gone lives here, with one policy:

- each server takes at most `max_in_flight` requests at a time; a request goes to the least busy live
  server (after a failure, preferably another one);
- timeouts, connection errors, 429 and 5xx are retried with exponential backoff, up to `attempts` tries
  per request; other HTTP errors (400: a bad request) fail that request at once with the server's reason;
- a server that fails `down_after` times in a row (not counting 429) leaves the rotation; after a back-off
  (`rejoin_after`, doubled after each failed trial up to `max_rejoin_after`) one real request tries it
  again, and a server that answers rejoins (said in the log);
- when no server is left, every waiting request fails with ServersDown.
The API key only ever goes into the Authorization header; error texts never include headers, and a URL is
only ever shown through `display_url` (no password, no secret query value).
"""
from __future__ import annotations

import random
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

from qassess.backends.base import BackendUnavailable
from qassess.errors import UserError

RETRY_STATUSES = {408, 429, 500, 502, 503, 504}


class ServersDown(BackendUnavailable):
    """No server is left in the rotation: the run cannot go on (what it finished is kept)."""


class RequestFailed(Exception):
    """One request failed for good (its row gets status generation_error with this reason). `refused`:
    the server answered it with a client error (4xx but 408/429): the request itself is wrong."""

    def __init__(self, reason: str, refused: bool = False):
        super().__init__(reason)
        self.refused = refused


# Query parameters that carry credentials (API keys, tokens, presigned-URL signatures): their values are
# never shown. Compared lower-case; a name that contains one of these counts too (x-amz-signature).
SECRET_PARAMS = ("key", "token", "secret", "password", "passwd", "signature", "sig", "auth", "credential")
HIDDEN = "***"


def display_url(url: str) -> str:
    """The URL as it may be shown or written anywhere (messages, logs, manifests, reports): a user:password
    part and the values of secret query parameters replaced by ***."""
    from urllib.parse import parse_qsl, quote

    try:
        parts = urlsplit(str(url))
        port = parts.port
    except ValueError:  # not a URL qassess could use: show nothing of what follows the scheme's host part
        return HIDDEN
    netloc = parts.netloc
    if "@" in netloc:
        host = parts.hostname or ""
        netloc = f"{HIDDEN}@{host}" + (f":{port}" if port else "")
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(any(word in k.lower() for word in SECRET_PARAMS) for k, _ in pairs):
            query = "&".join(f"{quote(k)}={HIDDEN if any(w in k.lower() for w in SECRET_PARAMS) else quote(v)}"
                             for k, v in pairs)
    if netloc == parts.netloc and query == parts.query:
        return str(url)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """Every URL inside `text` (an error message, a log line) as display_url shows it."""
    import re

    return re.sub(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+", lambda m: display_url(m.group(0)), str(text))


def normalize_base_url(url: str) -> str:
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"--base-url must be an http(s) URL such as http://node1:8000/v1, got {display_url(url)!r}")
    return url


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def http_error_text(response) -> str:
    """The server's own error message (OpenAI error JSON, or the body's start)."""
    try:
        data = response.json()
        err = data.get("error", data) if isinstance(data, dict) else data
        message = err.get("message") if isinstance(err, dict) else None
        detail = message or (data.get("detail") if isinstance(data, dict) else None) or data
    except ValueError:
        detail = response.text
    return f"HTTP {response.status_code}: {_short(str(detail)) or response.reason_phrase}"


@dataclass
class Server:
    url: str
    client: Any  # httpx.Client
    in_flight: int = 0
    failures_in_a_row: int = 0
    alive: bool = True
    last_error: str = ""
    done: int = 0
    retry_at: float | None = None  # when a server that left the rotation gets its next trial request
    retry_after: float = 0.0  # the back-off before that trial; doubles after each failed one
    on_trial: bool = False

    @property
    def name(self) -> str:
        return display_url(self.url)


@dataclass
class PoolPolicy:
    max_in_flight: int = 16
    attempts: int = 5
    backoff: float = 0.5  # seconds before the 2nd attempt; doubled each time (with jitter), capped
    max_backoff: float = 8.0
    down_after: int = 3
    rejoin_after: float = 5.0  # seconds before a server that left the rotation is tried again; doubled
    max_rejoin_after: float = 120.0  # after each failed trial, up to this
    timeout: float = 600.0
    connect_timeout: float = 10.0


@dataclass
class ServerPool:
    """Thread-safe: `post` may be called from many threads at once."""

    urls: list[str]
    api_key: str | None = None
    policy: PoolPolicy = field(default_factory=PoolPolicy)
    log: Callable[[str], None] = lambda msg: print(msg, file=sys.stderr, flush=True)

    def __post_init__(self) -> None:
        import httpx

        if not self.urls:
            raise UserError("the openai backend needs at least one --base-url (e.g. http://localhost:8000/v1)")
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        timeout = httpx.Timeout(self.policy.timeout, connect=self.policy.connect_timeout)
        limits = httpx.Limits(max_connections=self.policy.max_in_flight + 2,
                              max_keepalive_connections=self.policy.max_in_flight + 2)
        self.servers = [Server(u, httpx.Client(base_url=u, headers=headers, timeout=timeout, limits=limits))
                        for u in dict.fromkeys(normalize_base_url(u) for u in self.urls)]
        self._cond = threading.Condition()

    # -- rotation ------------------------------------------------------------------------------
    def alive(self) -> list[Server]:
        return [s for s in self.servers if s.alive]

    def down_message(self) -> str:
        reasons = "; ".join(f"{s.name}: {s.last_error or 'left the rotation'}" for s in self.servers)
        return f"every server is down ({reasons})"

    def _acquire(self, avoid: Server | None) -> Server:
        with self._cond:
            while True:
                trial = self._due_for_trial()
                if trial is not None:
                    return trial
                live = self.alive()
                if not live:
                    raise ServersDown(self.down_message())
                free = [s for s in live if s.in_flight < self.policy.max_in_flight]
                preferred = [s for s in free if s is not avoid] or free
                if preferred:
                    server = min(preferred, key=lambda s: (s.in_flight, s.done))
                    server.in_flight += 1
                    return server
                self._cond.wait(timeout=1.0)

    def _due_for_trial(self) -> Server | None:
        """A server out of the rotation whose back-off is over: it gets one real request (called locked)."""
        now = time.monotonic()
        for s in self.servers:
            if not s.alive and not s.on_trial and s.retry_at is not None and now >= s.retry_at:
                s.on_trial = True
                s.in_flight += 1
                return s
        return None

    def _end_trial(self, server: Server, error: str | None, counts_against: bool) -> None:
        """Back in the rotation when the server answered (even a 4xx: it is up); else a longer back-off."""
        server.on_trial = False
        if error is None or not counts_against:
            server.alive, server.failures_in_a_row, server.retry_at = True, 0, None
            server.retry_after = self.policy.rejoin_after
            server.done += error is None
            self.log(f"server {server.name} rejoined the rotation; {len(self.alive())} server(s) in it")
            return
        server.last_error = error
        server.retry_after = min(self.policy.max_rejoin_after, server.retry_after * 2)
        server.retry_at = time.monotonic() + server.retry_after

    def _release(self, server: Server, error: str | None, counts_against: bool) -> None:
        with self._cond:
            server.in_flight -= 1
            if server.on_trial:
                self._end_trial(server, error, counts_against)
            elif error is None:
                server.failures_in_a_row = 0
                server.done += 1
            elif counts_against:
                server.failures_in_a_row += 1
                server.last_error = error
                if server.alive and server.failures_in_a_row >= self.policy.down_after:
                    server.alive = False
                    server.retry_after = server.retry_after or self.policy.rejoin_after
                    server.retry_at = time.monotonic() + server.retry_after
                    left = len(self.alive())
                    self.log(f"server {server.name} left the rotation after {server.failures_in_a_row} failures "
                             f"in a row ({error}); {left} server(s) left; trying it again in "
                             f"{server.retry_after:g} s")
            self._cond.notify_all()

    # -- requests ------------------------------------------------------------------------------
    def request(self, method: str, path: str, server: Server, **kwargs):
        """One attempt on one server: (response, None) or (None, (reason, retryable, counts_against))."""
        import httpx

        try:
            response = server.client.request(method, path, **kwargs)
        except httpx.TimeoutException as err:
            return None, (f"timed out ({type(err).__name__})", True, True)
        except httpx.TransportError as err:
            return None, (f"cannot connect ({_short(redact_text(err)) or type(err).__name__})", True, True)
        if response.status_code < 400:
            return response, None
        status = response.status_code
        # 429 means busy, a 4xx means this request is wrong: neither says the server is failing.
        return None, (http_error_text(response), status in RETRY_STATUSES or status >= 500,
                      status >= 500 or status == 408)

    def post(self, path: str, payload: dict) -> dict:
        """The JSON answer of the first server that serves `payload`, retried as the policy says."""
        avoid: Server | None = None
        reason = "no attempt"
        for attempt in range(self.policy.attempts):
            if attempt:
                delay = min(self.policy.max_backoff, self.policy.backoff * 2 ** (attempt - 1))
                time.sleep(delay * (0.5 + random.random() / 2))
            server = self._acquire(avoid)
            response, failure = self.request("POST", path, server, json=payload)
            if failure is None:
                try:
                    data = response.json()
                except ValueError:
                    failure = (f"answer is not JSON: {_short(response.text)}", True, True)
                else:
                    self._release(server, None, False)
                    return data
            text, retryable, counts_against = failure
            reason = f"{server.name}: {text}"
            self._release(server, text, counts_against)
            if not retryable:
                raise RequestFailed(reason, refused=True)
            avoid = server
        raise RequestFailed(f"{reason} (after {self.policy.attempts} attempts)")

    def get_each(self, path: str) -> dict[str, tuple[Any, str | None]]:
        """GET `path` on every live server once (start-up checks): {url: (json or None, error or None)}."""
        out: dict[str, tuple[Any, str | None]] = {}
        for server in self.alive():
            response, failure = self.request("GET", path, server)
            if failure is not None:
                out[server.url] = (None, failure[0])
                continue
            try:
                out[server.url] = (response.json(), None)
            except ValueError:
                out[server.url] = (None, f"answer is not JSON: {_short(response.text)}")
        return out

    def drop(self, server_url: str, reason: str) -> None:
        with self._cond:
            for s in self.servers:
                if s.url == server_url and s.alive:
                    s.alive, s.last_error = False, reason
            self._cond.notify_all()

    def close(self) -> None:
        for s in self.servers:
            s.client.close()
