"""Run on a client host (root): how each TLS server answers a plaintext client, a client trusting
another CA and one trusting the deployment's CA. Prints one JSON object: {"host:port": {...}}.

argv: the deployment's CA file, a wrong CA file, then targets as kind:host:port (kind: http, redis,
postgres). PostgreSQL needs psycopg2 (the application's venv python)."""

import json
import socket
import ssl
import sys


def plaintext(kind: str, host: str, port: int) -> str:
    """What a plaintext client gets: 'refused' unless the server speaks its protocol in clear."""
    if kind == "postgres":
        import psycopg2

        try:
            psycopg2.connect(
                host=host,
                port=port,
                user="semantik",
                dbname="semantik",
                password="x",
                sslmode="disable",
                connect_timeout=5,
            ).close()
        except psycopg2.OperationalError as error:
            return "refused: no encryption" if "no encryption" in str(error) else f"answered: {error}"
        return "answered"
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
        import psycopg2

        try:
            psycopg2.connect(
                host=host,
                port=port,
                user="semantik",
                dbname="semantik",
                password="x",
                sslmode="verify-full",
                sslrootcert=cafile,
                connect_timeout=5,
            ).close()
        except psycopg2.OperationalError as error:
            text = str(error)
            # A verified server then refuses the wrong password: TLS itself succeeded.
            if "password authentication failed" in text:
                return "verified"
            return "refused: certificate" if "certificate verify failed" in text else f"error: {text[:80]}"
        return "verified"
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
