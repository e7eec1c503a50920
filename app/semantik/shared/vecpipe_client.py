"""HTTP client for vecpipe, the only owner of the vector store (webui and worker use this)."""

from __future__ import annotations

import http.client
import json
import select
import ssl
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pydantic_core

from semantik.shared.config import Settings
from semantik.shared.errors import EntityNotFoundError, ServiceUnavailableError, ValidationError

KEEPALIVE_SECONDS = 4.0  # an idle connection older than this is not reused (uvicorn closes at 5 s)
MAX_IDLE = 20  # idle keep-alive connections kept per client
# Requests that may be sent twice: reads, and the POSTs that compute or read without storing.
IDEMPOTENT_POSTS = frozenset({"/search", "/embed", "/points/chunks"})


class VecpipeClient:
    """One per process (webui) or per task (worker); safe to share between threads.

    Requests go over persistent HTTP/1.1 connections with the standard library's http.client, straight
    to VECPIPE_URL (no HTTP proxy). Every search crosses this client, and a maintained pool costs more
    CPU per POST /search (bench/search.py, same run, 2-core machine): this client 249 us, urllib3's
    HTTPConnectionPool 372 us (1.5x), httpx.Client with trust_env off 640 us (2.6x).
    """

    def __init__(self, settings: Settings, timeout: float | None = None):
        self._pool = _Connections(
            settings.vecpipe_url, timeout or settings.vecpipe_timeout, settings.tls_ca_file
        )
        self._headers = {"X-Internal-Api-Key": settings.internal_api_key or "", "User-Agent": "semantik"}

    def close(self) -> None:
        self._pool.close()

    def _call(self, method: str, path: str, *, json: Any = None) -> Any:
        headers = self._headers
        body = None
        if json is not None:
            body = _encode(json)
            headers = {**headers, "Content-Type": "application/json"}
        try:
            retry = method == "GET" or (method == "POST" and path in IDEMPOTENT_POSTS)
            status, content = self._pool.request(method, path, body, headers, retry=retry)
        except TransportError as error:
            raise ServiceUnavailableError(
                f"vecpipe unavailable: {error.__class__.__name__}: {error}"
            ) from None
        if status == 404:
            body_fields = json or {}
            name = body_fields.get("collection_name", body_fields.get("collection", path))
            raise EntityNotFoundError("Vector collection", name)
        if status in (400, 413, 422):
            raise ValidationError(f"vecpipe refused the request: {_detail(content)}")
        if status >= 300:
            raise ServiceUnavailableError(f"vecpipe answered {status}: {_detail(content)}")
        return _decode(content) if content else None

    # _call's answer is vecpipe's JSON, typed by the routes' response models: each method names its shape.
    def health(self) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("GET", "/health")
        return answer

    def search(self, collection: str, query: str, k: int, **options: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self._call(
            "POST", "/search", json={"collection": collection, "query": query, "k": k, **options}
        )
        return answer

    def create_collection(self, name: str, *, sparse_index: bool = False) -> dict[str, Any]:
        body = {"name": name, "sparse_index": True} if sparse_index else {"name": name}
        answer: dict[str, Any] = self._call("POST", "/collections", json=body)
        return answer

    def delete_collection(self, name: str) -> None:
        self._call("DELETE", f"/collections/{name}")

    def collection_info(self, name: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("GET", f"/collections/{name}")
        return answer

    def embed(self, texts: list[str], *, mode: str = "document", batch_size: int = 32) -> list[list[float]]:
        answer = self._call("POST", "/embed", json={"texts": texts, "mode": mode, "batch_size": batch_size})
        embeddings: list[list[float]] = answer["embeddings"]
        return embeddings

    def upsert(self, collection: str, points: list[dict[str, Any]], *, wait: bool = True) -> int:
        answer = self._call(
            "POST", "/upsert", json={"collection_name": collection, "points": points, "wait": wait}
        )
        return int(answer.get("points_upserted", len(points)))

    def chunks(self, collection: str, doc_id: str, indexes: list[int]) -> list[dict[str, Any]]:
        """Payloads of these chunks of one document, in order (the ones that exist)."""
        answer = self._call(
            "POST",
            "/points/chunks",
            json={"collection_name": collection, "doc_id": doc_id, "chunk_indexes": indexes},
        )
        chunks: list[dict[str, Any]] = answer["chunks"]
        return chunks

    def delete_points(self, collection: str, doc_ids: list[str]) -> None:
        self._call("POST", "/points/delete", json={"collection_name": collection, "doc_ids": doc_ids})


# Failures to reach vecpipe, named as httpx names them: the names end up in error messages
# ("vecpipe unavailable: ConnectError: [Errno 111] Connection refused") that operators already know.
class TransportError(Exception):
    pass


class UnsupportedProtocol(TransportError):
    pass


class ConnectError(TransportError):
    pass


class ConnectTimeout(TransportError):
    pass


class WriteError(TransportError):
    pass


class WriteTimeout(TransportError):
    pass


class ReadError(TransportError):
    pass


class ReadTimeout(TransportError):
    pass


class RemoteProtocolError(TransportError):
    pass


class _Unanswered(Exception):
    """The connection failed before any answer arrived: `transport` is what the caller sees, unless the
    request may be and is sent again."""

    def __init__(self, transport: TransportError):
        super().__init__(str(transport))
        self.transport = transport


class _Connections:
    """Keep-alive connections to one origin: a request takes an idle one or opens one, and gives it back
    once the whole response was read. `timeout` bounds connecting and every read and write; an https://
    origin's certificate and host name are verified against `ca_file` (TLS_CA_FILE) when given."""

    def __init__(self, url: str, timeout: float, ca_file: Path | None = None):
        # A URL that cannot work fails each request (a 503 naming it), as it did with httpx, rather
        # than the start of the process.
        self._invalid: str | None = None
        try:
            parts = urlsplit(url)
            # "" for no host, like None before: _invalid names it and no connection is opened.
            self._host, self._port = parts.hostname or "", parts.port
        except ValueError as error:
            parts, self._host, self._port = urlsplit(""), "", None
            self._invalid = f"{url!r}: {error}"
        if not self._invalid and (parts.scheme not in ("http", "https") or not self._host):
            self._invalid = f"{url!r} is not an http:// or https:// URL"
        self._https = parts.scheme == "https"
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        # Built once. Without TLS_CA_FILE the same trust httpx applies (SSL_CERT_FILE/SSL_CERT_DIR, else
        # certifi); with it, that CA alone: vecpipe's certificate comes from the deployment's private CA.
        self._tls: ssl.SSLContext | None = None
        if self._https:
            self._tls = ssl.create_default_context(cafile=ca_file) if ca_file else httpx.create_ssl_context()
        self._idle: list[tuple[float, http.client.HTTPConnection]] = []
        self._lock = threading.Lock()
        self._closed = False

    def request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str], *, retry: bool = False
    ) -> tuple[int, bytes]:
        """(status, body); a failure to connect, send or read raises a TransportError.

        With `retry` (the request is idempotent), a request whose connection is closed before any answer
        arrived is sent once more on a new connection: a vecpipe that stops closes its idle keep-alive
        connections and those it accepted but had not read from yet, and a request racing that must not
        fail (under socket activation the new connection waits for the next vecpipe). A timeout, or a
        failure after the answer began, is not retried; nothing is sent a third time."""
        connection, _ = self._take()
        try:
            return self._send(connection, method, path, body, headers)
        except _Unanswered as error:
            if not retry:
                raise error.transport from error.__cause__
        connection, _ = self._take(fresh=True)
        try:
            return self._send(connection, method, path, body, headers)
        except _Unanswered as error:
            raise error.transport from error.__cause__

    def _send(
        self,
        connection: http.client.HTTPConnection,
        method: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
    ) -> tuple[int, bytes]:
        answered = False
        try:
            try:
                connection.request(method, self._prefix + path, body=body, headers=headers)
            except TimeoutError as error:
                raise WriteTimeout(str(error)) from error
            except ConnectionError as error:  # the peer closed or reset it (EPIPE, ECONNRESET)
                raise _Unanswered(WriteError(str(error))) from error
            except OSError as error:
                raise WriteError(str(error)) from error
            try:
                response = connection.getresponse()
                answered = True
                content = response.read()
            except TimeoutError as error:
                raise ReadTimeout(str(error)) from error
            except http.client.RemoteDisconnected as error:  # closed before a status line
                raise _Unanswered(
                    RemoteProtocolError("Server disconnected without sending a response.")
                ) from error
            except http.client.HTTPException as error:
                raise RemoteProtocolError(f"{error.__class__.__name__}: {error}") from error
            except ConnectionError as error:
                transport = ReadError(str(error))
                if answered:
                    raise transport from error
                raise _Unanswered(transport) from error
            except OSError as error:
                raise ReadError(str(error)) from error
        except BaseException:
            connection.close()
            raise
        if response.will_close:
            connection.close()
        else:
            self._give(connection)
        return response.status, content

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for _, connection in idle:
            connection.close()

    def _take(self, *, fresh: bool = False) -> tuple[http.client.HTTPConnection, bool]:
        """(connection, reused): an idle connection that is still open, else (or if `fresh`) a new one,
        connected."""
        if self._invalid:
            raise UnsupportedProtocol(self._invalid)
        now = time.monotonic()
        while not fresh:
            with self._lock:
                if not self._idle:
                    break
                since, connection = self._idle.pop()
            if now - since < KEEPALIVE_SECONDS and _still_open(connection):
                return connection, True
            connection.close()
        if self._https:
            connection = http.client.HTTPSConnection(
                self._host, self._port, timeout=self._timeout, context=self._tls
            )
        else:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        try:
            connection.connect()
        except TimeoutError as error:
            raise ConnectTimeout(str(error)) from error
        except ssl.SSLError as error:  # an untrusted certificate, a wrong host name, a plaintext server
            raise ConnectError(f"TLS handshake with vecpipe failed: {error}") from error
        except OSError as error:  # refused, unreachable, name not resolved
            raise ConnectError(str(error)) from error
        return connection, False

    def _give(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < MAX_IDLE:
                self._idle.append((time.monotonic(), connection))
                return
        connection.close()


def _still_open(connection: http.client.HTTPConnection) -> bool:
    """An idle connection that has something to read was closed by the server (or is out of step)."""
    sock = connection.sock
    if sock is None:
        return False
    poller = select.poll()
    try:
        poller.register(sock, select.POLLIN)
        return not poller.poll(0)
    except (OSError, ValueError):
        return False


# pydantic-core's JSON, not the standard library's: an ingest window carries 256 x 384 floats each
# way, and encoding the upsert cost the worker 0.30 ms a chunk against 0.04 (decoding 0.07 against
# 0.02), a tenth of what the worker spends beside the model's work on a fast CPU.
def _encode(value: Any) -> bytes:
    # Compact UTF-8; a NaN or an infinity goes as null, which vecpipe refuses (422) where a number is due.
    return pydantic_core.to_json(value, inf_nan_mode="null")


def _decode(content: bytes) -> Any:
    return pydantic_core.from_json(content)


def _detail(content: bytes) -> str:
    text = content.decode("utf-8", errors="replace")
    try:
        answer = json.loads(content)
    except ValueError:
        return text[:200]
    return str(answer.get("detail", text)) if isinstance(answer, dict) else text
