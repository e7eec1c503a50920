"""VecpipeClient against a small HTTP/1.1 server: kept-alive connections, and vecpipe's answers mapped
to the errors the routes turn into status codes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from semantik.shared import vecpipe_client
from semantik.shared.config import Settings
from semantik.shared.errors import EntityNotFoundError, ServiceUnavailableError, ValidationError
from semantik.shared.vecpipe_client import VecpipeClient
from support.servers import free_port

KEY = "internal-key-for-the-client-tests"


class _Vecpipe(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections = 0
        self.requests: list[tuple[str, str, dict[str, str], object]] = []

    def process_request(self, request, client_address) -> None:  # one call per accepted connection
        self.connections += 1
        super().process_request(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as uvicorn answers

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.server.requests.append((self.command, self.path, dict(self.headers), body))
        status, answer = {
            "/prefix/search": (200, {"results": [], "via": "prefix"}),
            "/search": (200, {"results": [{"doc_id": "d1", "score": 0.5}], "echo": body}),
            "/collections/gone": (404, {"detail": "no such collection"}),
            "/embed": (422, {"detail": "texts must not be empty"}),
            "/upsert": (500, {"detail": "store is read-only"}),
        }.get(self.path, (200, None))
        if self.path == "/slow":
            time.sleep(1.0)
        if self.path == "/hang-up":
            self.close_connection = True
            return
        # /bye: closed after the answer without saying so, as a server whose keep-alive time ran out
        self.close_connection = self.path == "/bye"
        content = b"" if answer is None else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_DELETE = _answer


@pytest.fixture
def server() -> Iterator[_Vecpipe]:
    server = _Vecpipe()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _client(url: str, timeout: float = 5.0) -> VecpipeClient:
    return VecpipeClient(Settings(vecpipe_url=url, internal_api_key=KEY, vecpipe_timeout=timeout))


def _url(server: _Vecpipe) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_requests_reuse_one_connection_and_carry_the_key(server: _Vecpipe) -> None:
    client = _client(_url(server))
    try:
        for _ in range(5):
            answer = client.search("col_a", "backups", 3, include_content=True, filters=None)
        assert answer["results"] == [{"doc_id": "d1", "score": 0.5}]
        assert answer["echo"] == {
            "collection": "col_a",
            "query": "backups",
            "k": 3,
            "include_content": True,
            "filters": None,
        }
        assert client.health() is None  # an empty body
    finally:
        client.close()
    assert server.connections == 1
    assert {headers["X-Internal-Api-Key"] for _, _, headers, _ in server.requests} == {KEY}
    assert server.requests[0][2]["Content-Type"] == "application/json"


def test_threads_share_a_client(server: _Vecpipe) -> None:
    client = _client(_url(server))
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda i: client.search("c", f"q{i}", 1)["echo"]["query"], range(64)))
    finally:
        client.close()
    assert answers == [f"q{i}" for i in range(64)]
    assert 1 <= server.connections <= 8


def test_a_connection_the_server_closed_is_not_reused(server: _Vecpipe) -> None:
    client = _client(_url(server))
    try:
        client._call("GET", "/bye")
        time.sleep(0.1)  # the server's FIN arrives
        assert client.search("c", "second", 1)["echo"]["query"] == "second"
    finally:
        client.close()
    assert server.connections == 2


def test_an_idle_connection_past_the_keepalive_time_is_replaced(
    server: _Vecpipe, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _client(_url(server))
    try:
        client.search("c", "first", 1)
        monkeypatch.setattr(vecpipe_client, "KEEPALIVE_SECONDS", 0.0)
        client.search("c", "second", 1)
    finally:
        client.close()
    assert server.connections == 2


def test_a_path_in_the_url_prefixes_every_request(server: _Vecpipe) -> None:
    client = _client(_url(server) + "/prefix/")
    try:
        assert client.search("c", "q", 1)["via"] == "prefix"
    finally:
        client.close()


def test_answers_map_to_errors(server: _Vecpipe) -> None:
    client = _client(_url(server))
    try:
        with pytest.raises(EntityNotFoundError, match="gone"):
            client.collection_info("gone")
        with pytest.raises(ValidationError, match="vecpipe refused the request: texts must not be empty"):
            client.embed([])
        with pytest.raises(ServiceUnavailableError, match="vecpipe answered 500: store is read-only"):
            client.upsert("c", [])
        assert client.search("c", "still fine", 1)["echo"]["query"] == "still fine"
    finally:
        client.close()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:{dead}", "ConnectError: [Errno 111] Connection refused"),
        ("ftp://127.0.0.1", "UnsupportedProtocol: 'ftp://127.0.0.1' is not an http:// or https:// URL"),
        ("http://[::1", "UnsupportedProtocol: 'http://[::1': Invalid IPv6 URL"),
    ],
)
def test_an_unreachable_vecpipe_is_unavailable(url: str, reason: str) -> None:
    client = _client(url.format(dead=free_port()))
    with pytest.raises(ServiceUnavailableError) as raised:
        client.health()
    assert str(raised.value) == f"vecpipe unavailable: {reason}"
    client.close()


def test_a_server_that_hangs_up_is_a_protocol_error(server: _Vecpipe) -> None:
    client = _client(_url(server))
    with pytest.raises(ServiceUnavailableError) as raised:
        client._call("GET", "/hang-up")
    assert str(raised.value) == (
        "vecpipe unavailable: RemoteProtocolError: Server disconnected without sending a response."
    )
    client.close()
    # A GET the server hung up on is sent once more, on a new connection, and not a third time.
    assert server.connections == 2
    assert [path for _, path, _, _ in server.requests] == ["/hang-up", "/hang-up"]


def _closed_while_idle(server: _Vecpipe, client: VecpipeClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Leave `client` one idle connection the server has closed, which the client believes reusable:
    the race of a request with a restarting vecpipe closing its idle keep-alive connections."""
    client._call("GET", "/bye")
    time.sleep(0.1)  # the server's FIN arrives; the poll would see it, so it is bypassed
    monkeypatch.setattr(vecpipe_client, "_still_open", lambda connection: True)
    assert len(client._pool._idle) == 1


@pytest.mark.parametrize(
    ("call", "path"),
    [
        (lambda client: client.health(), "/health"),
        (lambda client: client.collection_info("c"), "/collections/c"),
        (lambda client: client.search("c", "again", 1)["echo"]["query"], "/search"),
    ],
)
def test_an_idempotent_request_on_a_connection_closed_while_idle_is_sent_again(
    server: _Vecpipe, monkeypatch: pytest.MonkeyPatch, call, path: str
) -> None:
    client = _client(_url(server))
    try:
        _closed_while_idle(server, client, monkeypatch)
        answer = call(client)
        assert answer == ("again" if path == "/search" else None)
    finally:
        client.close()
    assert server.connections == 2
    assert [p for _, p, _, _ in server.requests] == ["/bye", path]


def test_an_embed_on_a_connection_reset_while_idle_is_sent_again(
    server: _Vecpipe, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _client(_url(server))
    try:
        _closed_while_idle(server, client, monkeypatch)
        # Writing into a closed connection draws a reset; the request then fails on write or read.
        (_, connection), *_ = client._pool._idle
        connection.sock.send(b"x")
        time.sleep(0.1)
        with pytest.raises(ValidationError):  # the server's 422 for an empty list: it was answered
            client.embed([])
    finally:
        client.close()
    assert server.connections == 2
    assert [p for _, p, _, _ in server.requests] == ["/bye", "/embed"]


@pytest.mark.parametrize(
    "call",
    [
        lambda client: client.upsert("c", []),
        lambda client: client.delete_points("c", ["d1"]),
        lambda client: client.create_collection("c"),
        lambda client: client.delete_collection("c"),
    ],
)
def test_a_request_that_changes_the_store_is_never_sent_twice(
    server: _Vecpipe, monkeypatch: pytest.MonkeyPatch, call
) -> None:
    client = _client(_url(server))
    try:
        _closed_while_idle(server, client, monkeypatch)
        with pytest.raises(
            ServiceUnavailableError, match="^vecpipe unavailable: (RemoteProtocol|Write|Read)"
        ):
            call(client)
    finally:
        client.close()
    assert server.connections == 1
    assert [p for _, p, _, _ in server.requests] == ["/bye"]


def test_a_retried_request_that_fails_again_is_not_retried_twice(
    server: _Vecpipe, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _client(_url(server))
    try:
        _closed_while_idle(server, client, monkeypatch)
        with pytest.raises(ServiceUnavailableError, match="RemoteProtocolError"):
            client._call("GET", "/hang-up")
    finally:
        client.close()
    assert server.connections == 2
    assert [p for _, p, _, _ in server.requests] == ["/bye", "/hang-up"]


def test_a_slow_answer_times_out(server: _Vecpipe) -> None:
    client = _client(_url(server), timeout=0.2)
    started = time.monotonic()
    with pytest.raises(ServiceUnavailableError, match="^vecpipe unavailable: ReadTimeout: timed out$"):
        client._call("GET", "/slow")
    assert time.monotonic() - started < 0.9
    client.close()


def test_close_drops_idle_connections(server: _Vecpipe) -> None:
    client = _client(_url(server))
    client.search("c", "q", 1)
    (_, connection), *_ = client._pool._idle
    client.close()
    assert connection.sock is None
    assert client._pool._idle == []
