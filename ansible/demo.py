#!/usr/bin/env python3
"""Use a deployed Semantik over its public HTTP API, as a newcomer would: `make demo`'s last step
and the Molecule scenario's end-to-end check.

    demo.py --url https://HOST --model MODEL --docs /srv/.../sample_docs [--query Q --expect FILE]... \
        [--username admin] --password-stdin < password

Logs in (registration is closed: as the administrator the deployment created, or any user allowed
to add a directory source; the password from stdin, SEMANTIK_PASSWORD or a prompt, never from the
command line), creates a collection over a directory of documents on the server
(under DOCUMENT_ALLOWED_ROOTS) unless it exists, waits for the ingest operation, then searches.
Each --query is checked against its --expect file name: it must be the first result. Prints the
results, then the web page's URL and whom to sign in as (with --password-hint: where the password
is kept, never the password); exits 1 when an expectation fails. Stdlib only. The lab's
certificate is self-signed, so TLS verification is off unless --cafile is given.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any


class ApiError(Exception):
    pass


class Client:
    def __init__(self, url: str, cafile: str | None):
        self.url = url.rstrip("/")
        self.token: str | None = None
        self.refresh_token: str | None = None
        self.context = ssl.create_default_context(cafile=cafile)
        if cafile is None:
            self.context.check_hostname = False
            self.context.verify_mode = ssl.CERT_NONE

    def call(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200, 201, 202)) -> Any:
        status, text = self._send(method, path, body)
        if status == 401 and self.refresh_token and path != "/api/auth/refresh":
            # The access token lasts minutes (ACCESS_TOKEN_EXPIRE_MINUTES): a long wait outlives it.
            self.sign_in(self.call("POST", "/api/auth/refresh", {"refresh_token": self.refresh_token}))
            status, text = self._send(method, path, body)
        if status not in ok:
            raise ApiError(f"{method} {path}: {status} {text[:500]}")
        return json.loads(text) if text else None

    def sign_in(self, tokens: dict[str, str]) -> None:
        self.token, self.refresh_token = tokens["access_token"], tokens["refresh_token"]

    def _send(self, method: str, path: str, body: Any) -> tuple[int, str]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=60) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode()
        return status, text

    def wait_operation(self, operation_id: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            operation = self.call("GET", f"/api/v2/operations/{operation_id}")
            if operation["status"] in ("completed", "failed", "cancelled"):
                return operation
            if time.monotonic() > deadline:
                raise ApiError(f"operation {operation_id} still {operation['status']} after {timeout:.0f} s")
            time.sleep(1)


def login(client: Client, username: str, password: str) -> None:
    client.sign_in(client.call("POST", "/api/auth/login", {"username": username, "password": password}))


def collection(client: Client, args: argparse.Namespace) -> dict[str, Any]:
    """The demo collection, created and ingested when it is not there yet."""
    listed = client.call("GET", "/api/v2/collections?per_page=100")["collections"]
    found = next((c for c in listed if c["name"] == args.collection), None)
    if found and found["status"] == "ready" and found["document_count"] > 0:
        return found
    if found is None:
        found = client.call(
            "POST",
            "/api/v2/collections",
            {
                "name": args.collection,
                "embedding_model": args.model,
                "quantization": args.quantization,
                "chunk_size": 400,
                "chunk_overlap": 50,
            },
        )
        if found.get("initial_operation_id"):
            client.wait_operation(found["initial_operation_id"], args.timeout)
    operation = client.call(
        "POST",
        f"/api/v2/collections/{found['id']}/sources",
        {"source_type": "directory", "source_config": {"path": args.docs, "recursive": True}},
    )
    done = client.wait_operation(operation["id"], args.timeout)
    if done["status"] != "completed":
        raise ApiError(f"ingest operation {done['id']} ended {done['status']}: {done.get('error_message')}")
    return client.call("GET", f"/api/v2/collections/{found['id']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", required=True, help="https://host (through nginx)")
    parser.add_argument("--model", required=True, help="the collection's embedding model")
    parser.add_argument("--docs", required=True, help="a directory on the server, under a document root")
    parser.add_argument("--quantization", default="float32")
    parser.add_argument("--collection", default="demo")
    parser.add_argument("--username", default=os.environ.get("SEMANTIK_USERNAME", "admin"))
    parser.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin (else SEMANTIK_PASSWORD)"
    )
    parser.add_argument("--query", action="append", default=[])
    parser.add_argument("--expect", action="append", default=[], help="file name expected first, per --query")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--cafile")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--report", type=Path, help="also write the JSON object to this file")
    parser.add_argument("--password-hint", default="", help="where the user's password is kept (printed)")
    args = parser.parse_args(argv)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = os.environ.get("SEMANTIK_PASSWORD") or getpass.getpass(f"password of {args.username}: ")
    client = Client(args.url, args.cafile)
    report: dict[str, Any] = {"url": args.url, "searches": []}
    failed = False
    try:
        login(client, args.username, password)
        found = collection(client, args)
        report["collection"] = {
            k: found[k] for k in ("id", "name", "status", "document_count", "vector_count")
        }
        for i, query in enumerate(args.query):
            answer = client.call(
                "POST", "/api/v2/search/single", {"collection_id": found["id"], "query": query, "k": 3}
            )
            results = [
                {"file_name": r["file_name"], "score": round(r["score"], 3)} for r in answer["results"]
            ]
            expected = args.expect[i] if i < len(args.expect) else None
            passed = expected is None or (bool(results) and results[0]["file_name"] == expected)
            failed = failed or not passed
            report["searches"].append(
                {"query": query, "expect": expected, "passed": passed, "results": results}
            )
    except (ApiError, OSError) as error:
        print(f"demo: {error}", file=sys.stderr)
        return 1
    if args.report:
        args.report.write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report))
    else:
        c = report["collection"]
        counts = f"{c['document_count']} documents, {c['vector_count']} vectors"
        print(f"collection {c['name']}: {c['status']}, {counts}")
        for search in report["searches"]:
            mark = "ok" if search["passed"] else f"FAILED (expected {search['expect']} first)"
            top = ", ".join(f"{r['file_name']} ({r['score']})" for r in search["results"])
            print(f"search {search['query']!r}: {top}  [{mark}]")
        print(f"Semantik is at {args.url}/ (self-signed certificate in the lab)")
        if args.query:
            first = urllib.parse.urlencode({"q": args.query[0]})
            print(f"The first search, on the page: {args.url}/search?{first}")
        where = f"; the password: {args.password_hint}" if args.password_hint else ""
        print(f"Sign in there as {args.username}{where}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
