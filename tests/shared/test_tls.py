"""Encrypted between tiers, against real servers on loopback: PostgreSQL (hostssl only), Redis (TLS port,
no plaintext port), vecpipe and the webui over HTTPS, all from a throwaway private CA. Each is refused in
plaintext and to a client that trusts another CA, and the app's own clients work with TLS_CA_FILE."""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg2
import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from semantik.shared.config import Settings
from semantik.shared.errors import ServiceUnavailableError
from support.caches import reset_caches
from support.servers import (
    Postgres,
    Redis,
    ensure_installed,
    free_port,
    scratch_dir,
    start_service,
    stop_service,
)

pytestmark = pytest.mark.integration
SEMANTIK = str(Path(sys.executable).parent / "semantik")
INTERNAL_KEY = "tls-test-internal-key-0123456789abcdef"
JWT_KEY = "tls-test-jwt-key-0123456789abcdef0123456789"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(subject, key, issuer, issuer_key, *, ca: bool, sans=None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def pki() -> dict[str, Path]:
    """ca.pem signs server.pem (127.0.0.1 and localhost); wrong-ca.pem is a CA nobody used."""
    root = scratch_dir("pki")
    ca_key, wrong_key, server_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _issue(_name("semantik test CA"), ca_key, _name("semantik test CA"), ca_key, ca=True)
    wrong = _issue(_name("wrong CA"), wrong_key, _name("wrong CA"), wrong_key, ca=True)
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    server = _issue(_name("localhost"), server_key, ca.subject, ca_key, ca=False, sans=sans)
    files = {"ca": root / "ca.pem", "wrong": root / "wrong-ca.pem", "cert": root / "server.pem"}
    files["key"] = root / "server.key"
    files["ca"].write_bytes(_pem(ca))
    files["wrong"].write_bytes(_pem(wrong))
    files["cert"].write_bytes(_pem(server) + _pem(ca))
    files["key"].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    files["key"].chmod(0o600)
    return files


@pytest.fixture(scope="module")
def tls_postgres(pki: dict[str, Path]) -> Iterator[Postgres]:
    ensure_installed()
    postgres = Postgres(scratch_dir("pg-tls"), tls=(pki["cert"], pki["key"])).start()
    yield postgres
    postgres.stop()


@pytest.fixture(scope="module")
def tls_redis(pki: dict[str, Path]) -> Iterator[Redis]:
    ensure_installed()
    server = Redis(scratch_dir("redis-tls"), tls=(pki["cert"], pki["key"], pki["ca"])).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tls_vecpipe(pki: dict[str, Path]) -> Iterator[int]:
    root, port = scratch_dir("vecpipe-tls"), free_port()
    env = {
        "ENVIRONMENT": "test",
        "INTERNAL_API_KEY": INTERNAL_KEY,
        "USE_MOCK_EMBEDDINGS": "true",
        "VECPIPE_PORT": str(port),
        "DATA_DIR": str(root),
        "QDRANT_PATH": str(root / "qdrant"),
        "VECPIPE_TLS_CERT": str(pki["cert"]),
        "VECPIPE_TLS_KEY": str(pki["key"]),
    }
    process = start_service([SEMANTIK, "vecpipe"], env, port, root / "vecpipe.log", ca_file=pki["ca"])
    yield port
    stop_service(process)


def _pg_verified(postgres: Postgres, ca: Path) -> str:
    return postgres.url(query=f"sslmode=verify-full&sslrootcert={ca}")


def test_postgres_refuses_plaintext_and_an_unknown_ca(tls_postgres: Postgres, pki: dict[str, Path]) -> None:
    with pytest.raises(psycopg2.OperationalError, match="no encryption"):
        psycopg2.connect(tls_postgres.url(query="sslmode=disable"))
    with pytest.raises(psycopg2.OperationalError, match="certificate verify failed"):
        psycopg2.connect(_pg_verified(tls_postgres, pki["wrong"]))


def test_the_app_engine_keeps_sslmode_and_verifies_postgres(
    tls_postgres: Postgres, pki: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import text

    from semantik.shared.db import get_engine

    monkeypatch.setenv("DATABASE_URL", _pg_verified(tls_postgres, pki["ca"]))
    reset_caches()
    try:
        with get_engine().connect() as connection:
            assert connection.execute(
                text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            ).scalar()
    finally:
        monkeypatch.undo()
        reset_caches()


def _redis_settings(server: Redis, ca: Path) -> Settings:
    return Settings(redis_url=server.url, tls_ca_file=ca)


def test_redis_has_no_plaintext_and_refuses_an_unknown_ca(tls_redis: Redis, pki: dict[str, Path]) -> None:
    plain = redis.Redis(host="127.0.0.1", port=tls_redis.port, password=tls_redis.password, socket_timeout=5)
    with pytest.raises(redis.ConnectionError):
        plain.ping()
    from semantik.shared.services.auth_state import AuthState

    state = AuthState.from_settings(_redis_settings(tls_redis, pki["wrong"]))
    with pytest.raises(ServiceUnavailableError, match="Redis"):
        state.revoke("family-wrong-ca")
    state.close()


def test_auth_state_and_the_result_backend_work_over_rediss(tls_redis: Redis, pki: dict[str, Path]) -> None:
    from semantik.shared.queue import make_celery
    from semantik.shared.services.auth_state import AuthState

    settings = _redis_settings(tls_redis, pki["ca"])
    state = AuthState.from_settings(settings)
    try:
        state.revoke("family-tls")
        assert state.is_revoked("family-tls")
    finally:
        state.close()
    backend = make_celery(settings).backend
    backend.set("tls-probe", "1")
    assert backend.get("tls-probe") == b"1"


def test_enqueue_goes_over_rediss_and_fails_with_an_unknown_ca(
    tls_redis: Redis, pki: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from semantik.shared.queue import enqueue

    monkeypatch.setenv("REDIS_URL", tls_redis.url)
    try:
        monkeypatch.setenv("TLS_CA_FILE", str(pki["ca"]))
        reset_caches()
        enqueue("semantik.tests.tls_probe", "a")
        settings = _redis_settings(tls_redis, pki["ca"])
        check = redis.Redis.from_url(settings.redis_url, **settings.redis_tls())
        assert check.llen("celery") == 1
        check.close()
        monkeypatch.setenv("TLS_CA_FILE", str(pki["wrong"]))
        reset_caches()
        with pytest.raises(Exception, match="certificate verify failed"):
            enqueue("semantik.tests.tls_probe", "b")
    finally:
        monkeypatch.undo()
        reset_caches()


def _vecpipe_client(url: str, ca: Path | None):
    from semantik.shared.vecpipe_client import VecpipeClient

    return VecpipeClient(Settings(vecpipe_url=url, internal_api_key=INTERNAL_KEY, tls_ca_file=ca), timeout=10)


def test_vecpipe_over_https_with_the_private_ca(tls_vecpipe: int, pki: dict[str, Path]) -> None:
    client = _vecpipe_client(f"https://localhost:{tls_vecpipe}", pki["ca"])
    try:
        [vector] = client.embed(["encrypted between tiers"])
        assert len(vector) > 0
        client.create_collection("tls_probe")
        payload = {"doc_id": "d", "chunk_id": "c"}
        point = {"id": "00000000-0000-0000-0000-000000000001", "vector": vector, "payload": payload}
        assert client.upsert("tls_probe", [point]) == 1
        assert client.search("tls_probe", "encrypted between tiers", 1)["results"]
        client.health()  # a second request reuses the kept-alive TLS connection
    finally:
        client.close()


def test_vecpipe_refuses_plaintext_and_an_unknown_ca(tls_vecpipe: int, pki: dict[str, Path]) -> None:
    plain = _vecpipe_client(f"http://127.0.0.1:{tls_vecpipe}", None)
    with pytest.raises(ServiceUnavailableError, match="vecpipe unavailable"):
        plain.health()
    wrong = _vecpipe_client(f"https://127.0.0.1:{tls_vecpipe}", pki["wrong"])
    with pytest.raises(
        ServiceUnavailableError, match="TLS handshake with vecpipe failed.*certificate verify"
    ):
        wrong.health()


def test_webui_over_https_reaches_every_tier_over_tls(
    tls_postgres: Postgres, tls_redis: Redis, tls_vecpipe: int, pki: dict[str, Path]
) -> None:
    root, port = scratch_dir("webui-tls"), free_port()
    env = {
        "ENVIRONMENT": "test",
        "JWT_SECRET_KEY": JWT_KEY,
        "INTERNAL_API_KEY": INTERNAL_KEY,
        "DATABASE_URL": _pg_verified(tls_postgres, pki["ca"]),
        "REDIS_URL": tls_redis.url,
        "VECPIPE_URL": f"https://localhost:{tls_vecpipe}",
        "TLS_CA_FILE": str(pki["ca"]),
        "WEBUI_PORT": str(port),
        "WEBUI_WORKERS": "1",
        "WEBUI_TLS_CERT": str(pki["cert"]),
        "WEBUI_TLS_KEY": str(pki["key"]),
    }
    # The schema, over the verified TLS connection: readiness asks for its revision.
    migrated = subprocess.run(
        [SEMANTIK, "migrate"], env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )
    assert migrated.returncode == 0, migrated.stderr
    process = start_service(
        [SEMANTIK, "webui"],
        env,
        port,
        root / "webui.log",
        ready_path="/api/health/healthz",
        ca_file=pki["ca"],
    )
    try:
        verify = ssl.create_default_context(cafile=pki["ca"])
        ready = httpx.get(f"https://127.0.0.1:{port}/api/health/readyz", verify=verify, timeout=10)
        assert ready.status_code == 200, ready.text
        services = ready.json()["services"]
        assert {name: services[name]["status"] for name in ("database", "redis", "vecpipe")} == {
            "database": "healthy",
            "redis": "healthy",
            "vecpipe": "healthy",
        }
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/api/health/healthz", timeout=5)
        wrong = ssl.create_default_context(cafile=pki["wrong"])
        with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
            httpx.get(f"https://127.0.0.1:{port}/api/health/healthz", verify=wrong, timeout=5)
    finally:
        stop_service(process)


def test_a_plain_tcp_client_gets_no_http_answer_from_tls_vecpipe(tls_vecpipe: int) -> None:
    # What "plaintext refused" means on the wire: no HTTP status line comes back.
    with socket.create_connection(("127.0.0.1", tls_vecpipe), timeout=5) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert not sock.recv(100).startswith(b"HTTP/")
