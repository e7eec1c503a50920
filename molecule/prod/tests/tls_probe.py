"""Run on a client host (root): how each TLS server answers a plaintext client, a client trusting
another CA and one trusting the deployment's CA. Prints one JSON object: {"host:port": {...}}.

argv: the deployment's CA file, a wrong CA file, then targets as kind:host:port (kind: http, redis,
postgres). PostgreSQL needs psycopg2 (the application's venv python)."""

import json
import socket
import ssl
import sys


def postgres_error(host: str, port: int, **tls: str) -> str:
    """PostgreSQL's refusal of a login with a wrong password over these libpq TLS settings ('' if
    it let us in); TLS negotiation is PostgreSQL's own, so the probe goes through libpq."""
    import psycopg2

    try:
        psycopg2.connect(
            host=host, port=port, user="semantik", dbname="semantik", password="x", connect_timeout=5, **tls
        ).close()
    except psycopg2.OperationalError as error:
        return str(error)
    return ""


def plaintext(kind: str, host: str, port: int) -> str:
    """What a plaintext client gets: 'refused' unless the server speaks its protocol in clear."""
    if kind == "postgres":
        error = postgres_error(host, port, sslmode="disable")
        return "refused: no encryption" if "no encryption" in error else f"answered: {error}"
    request = b"PING\r\n" if kind == "redis" else b"GET /health HTTP/1.0\r\n\r\n"
    try:
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(request)
            reply = sock.recv(64)
    except ConnectionRefusedError:
        return "nothing listens"
    except OSError as error:
        return f"refused: {type(error).__name__}"
    spoken = reply.startswith((b"+", b"-")) if kind == "redis" else reply.startswith(b"HTTP/")
    return f"answered: {reply[:20]!r}" if spoken else f"refused: {reply[:20]!r}"


def handshake(kind: str, host: str, port: int, cafile: str) -> str:
    if kind == "postgres":
        error = postgres_error(host, port, sslmode="verify-full", sslrootcert=cafile)
        # A verified server then refuses the wrong password (or lets us in): TLS itself succeeded.
        if not error or "password authentication failed" in error:
            return "verified"
        return "refused: certificate" if "certificate verify failed" in error else f"error: {error[:80]}"
    context = ssl.create_default_context(cafile=cafile)
    try:
        with socket.create_connection((host, port), timeout=5) as sock:
            with context.wrap_socket(sock, server_hostname=host):
                return "verified"
    except ssl.SSLCertVerificationError:
        return "refused: certificate"
    except OSError as error:
        return f"error: {error}"


ca, wrong = sys.argv[1:3]
found = {}
for target in sys.argv[3:]:
    kind, host, port = target.split(":")
    found[f"{host}:{port}"] = {
        "kind": kind,
        "plaintext": plaintext(kind, host, int(port)),
        "wrong_ca": handshake(kind, host, int(port), wrong),
        "our_ca": handshake(kind, host, int(port), ca),
    }
print(json.dumps(found))
