"""A bounded load generator for the lab: users searching, listing collections, reading an operation
and signing in, through the lb while the stack changes under them (test_upgrade.py, test_host_loss.py,
test_rollback.py; bench/rollout.py reads their figures).

Each of THREADS users sends one request at a time, at most RATE a second, over a new HTTPS
connection each (no client-side retry: what fails, a user saw fail). It stops by itself after
`max_requests` requests or `max_seconds`, whichever comes first, or at stop(). Every request is
recorded; a failure is a transport error, any status but the expected one, or a search that answers
200 with a collection it could not search (partial_failure).
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from statistics import quantiles

THREADS = 4
RATE = 4.0  # requests a second per user
TIMEOUT = 90.0  # above nginx's read timeout (60 s), after which it tries the other web UI host
QUERIES = ["Why does ice slowly flow downhill?", "rolling upgrade notes", "glacier", "document 17"]


@dataclass(frozen=True)
class Request:
    kind: str
    started: float  # time.monotonic()
    seconds: float
    status: int  # 0: no HTTP answer
    error: str  # "" when it succeeded


class Traffic:
    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        collection: str,
        operation: str,
        max_requests: int = 40_000,
        max_seconds: float = 2_400.0,
    ):
        self.url = url.rstrip("/")
        self.credentials = {"username": username, "password": password}
        self.collection = collection
        self.operation = operation
        self.max_requests = max_requests
        self.deadline = time.monotonic() + max_seconds
        self.context = ssl.create_default_context()
        self.context.check_hostname = False  # the lab's certificate is self-signed
        self.context.verify_mode = ssl.CERT_NONE
        self.records: list[Request] = []
        self.marks: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._token = self._send("login", "POST", "/api/auth/login", self.credentials)[1]["access_token"]
        self._threads = [threading.Thread(target=self._user, args=(n,), daemon=True) for n in range(THREADS)]

    def start(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def mark(self, name: str) -> None:
        self.marks[name] = time.monotonic()

    def stop(self) -> list[Request]:
        self._stop.set()
        for thread in self._threads:
            thread.join(TIMEOUT + 5)
        return list(self.records)

    # --- one user ------------------------------------------------------------------------------

    def _user(self, number: int) -> None:
        # Searches most, then lists and operation reads; one user signs in now and then, which also
        # keeps the shared access token (15 minutes) fresh.
        cycle = ["search", "collections", "search", "operation", "search"]
        if number == 0:
            cycle.append("login")
        step = 0
        while not self._stop.is_set() and time.monotonic() < self.deadline:
            with self._lock:
                if len(self.records) >= self.max_requests:
                    return
            began = time.monotonic()
            self._one(cycle[step % len(cycle)], step)
            step += 1
            self._stop.wait(max(0.0, 1 / RATE - (time.monotonic() - began)))

    def _one(self, kind: str, step: int) -> None:
        if kind == "search":
            body = {"collection_uuids": [self.collection], "query": QUERIES[step % len(QUERIES)], "k": 5}
            self._send(kind, "POST", "/api/v2/search", body)
        elif kind == "collections":
            self._send(kind, "GET", "/api/v2/collections?per_page=50")
        elif kind == "operation":
            self._send(kind, "GET", f"/api/v2/operations/{self.operation}")
        else:
            answer = self._send(kind, "POST", "/api/auth/login", self.credentials)[1]
            if answer:
                self._token = answer["access_token"]

    def _send(self, kind: str, method: str, path: str, body: object = None) -> tuple[int, object]:
        request = urllib.request.Request(
            self.url + path, method=method, data=json.dumps(body).encode() if body is not None else None
        )
        request.add_header("Content-Type", "application/json")
        if kind != "login":
            request.add_header("Authorization", f"Bearer {self._token}")
        started = time.monotonic()
        status, answer, error = 0, None, ""
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=TIMEOUT) as response:
                status, text = response.status, response.read()
            answer = json.loads(text) if text else None
            if kind == "search" and answer.get("partial_failure"):
                error = f"search missed collections: {answer.get('failed_collections')}"
        except urllib.error.HTTPError as failed:
            status = failed.code
            error = f"HTTP {failed.code}: {failed.read()[:200].decode(errors='replace')}"
        except (OSError, ValueError) as failed:  # refused, reset, timed out, TLS, a body that is no JSON
            error = f"{failed.__class__.__name__}: {failed}"
        with self._lock:
            self.records.append(Request(kind, started, time.monotonic() - started, status, error))
        return status, answer


def summary(records: list[Request], start: float | None = None, end: float | None = None) -> dict:
    """Requests sent, failed, and latency percentiles (ms) of those that started in [start, end)."""
    chosen = [
        r for r in records if (start is None or r.started >= start) and (end is None or r.started < end)
    ]
    times = sorted(r.seconds * 1000 for r in chosen)
    cuts = quantiles(times, n=100, method="inclusive") if len(times) > 1 else times * 99 or [0.0] * 99
    failures = [r for r in chosen if r.error]
    return {
        "sent": len(chosen),
        "failed": len(failures),
        "p50_ms": round(cuts[49], 1),
        "p99_ms": round(cuts[98], 1),
        "max_ms": round(times[-1], 1) if times else 0.0,
        "errors": sorted({f"{r.kind}: {r.error}"[:200] for r in failures})[:10],
    }
