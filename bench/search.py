"""Search latency through the webui against vecpipe's own in-process time, in one run.

    .venv/bin/python bench/search.py          # about 2 minutes on 2 cores

Starts real PostgreSQL, Redis, vecpipe (test model, embedded store) and the webui (gunicorn), fills a
collection with 2,000 chunks, then sends each query to POST /api/v2/search/single. vecpipe reports the
time it spent embedding the query and searching (in its process); the webui's overhead is the client's
round trip minus that, per query. Target: overhead p50 within 10 ms.

Then the HTTP client every search crosses, webui to vecpipe: the CPU this process spends per POST /search
with semantik's VecpipeClient (keep-alive over http.client), a maintained pool (urllib3's
HTTPConnectionPool) and a tuned httpx.Client, the clients alternating query by query; the ratio to
VecpipeClient is what decides whether the hand-written pool stays. Asserts nothing.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parents[1] / "tests")]
from ingest import KEY, start_stack  # noqa: E402

from support.servers import free_port, start_service, stop_service  # noqa: E402

CHUNKS, QUERIES = 2000, 200
WORDS = "backup restore index vector search quantize worker broker schema token chunk replica".split()


def texts(count: int, seed: int) -> list[str]:
    return [
        " ".join(WORDS[(i * 7 + j * seed) % len(WORDS)] for j in range(12)) + f" note {i}"
        for i in range(count)
    ]


def fill(vecpipe: httpx.Client, store_name: str) -> None:
    vecpipe.post("/collections", json={"name": store_name}).raise_for_status()
    for start in range(0, CHUNKS, 250):
        batch = texts(CHUNKS, 5)[start : start + 250]
        vectors = vecpipe.post("/embed", json={"texts": batch}).json()["embeddings"]
        points = [
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{start + i}")),
                "vector": vector,
                "payload": {
                    "doc_id": f"d{start + i}",
                    "chunk_id": f"c{start + i}",
                    "path": f"/docs/{i}.txt",
                    "content": text,
                    "chunk_index": 0,
                    "total_chunks": 1,
                },
            }
            for i, (text, vector) in enumerate(zip(batch, vectors, strict=True))
        ]
        answer = vecpipe.post("/upsert", json={"collection_name": store_name, "points": points})
        assert answer.status_code == 200, answer.text


def make_ready(collection_id: str) -> None:
    from sqlalchemy import update

    from semantik.shared.db import session_scope
    from semantik.shared.models import Collection, CollectionStatus, Operation, OperationStatus

    with session_scope() as session:  # stands in for the worker's finished index operation
        session.execute(update(Operation).values(status=OperationStatus.COMPLETED))
        session.execute(
            update(Collection).where(Collection.id == collection_id).values(status=CollectionStatus.READY)
        )


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="semantik-bench-search-"))
    env, services = start_stack(work)
    try:
        from semantik.shared.migrations import upgrade

        upgrade("head")
        port = free_port()
        webui = start_service(
            [str(Path(sys.executable).parent / "semantik"), "webui"],
            {**env, "WEBUI_PORT": str(port), "WEBUI_WORKERS": "1"},
            port,
            work / "webui.log",
            ready_path="/api/health/healthz",
        )
    except BaseException:  # a failed start must not leave PostgreSQL, Redis and vecpipe running
        stop_all(services)
        raise
    try:
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        from semantik.shared.db import session_scope
        from semantik.shared.services import users

        with session_scope() as session:  # registration is closed: the bench user is made as an admin would
            users.create(session, username="bench", email="b@example.org", password=KEY)
        token = api.post("/api/auth/login", json={"username": "bench", "password": KEY}).json()[
            "access_token"
        ]
        api.headers["Authorization"] = f"Bearer {token}"
        collection = api.post("/api/v2/collections", json={"name": "bench"}).json()
        vecpipe = httpx.Client(base_url=env["VECPIPE_URL"], timeout=300, headers={"X-Internal-Api-Key": KEY})
        fill(vecpipe, collection["vector_store_name"])
        make_ready(collection["id"])
        overheads, totals, inside = [], [], []
        for query in texts(QUERIES, 3):
            started = time.perf_counter()
            api.post(
                "/api/v2/search/single", json={"collection_id": collection["id"], "query": query, "k": 10}
            )
            total = (time.perf_counter() - started) * 1000
            answer = vecpipe.post(
                "/search",
                json={
                    "collection": collection["vector_store_name"],
                    "query": query,
                    "k": 10,
                    "include_content": True,
                },
            ).json()
            own = answer["embedding_time_ms"] + answer["search_time_ms"]
            totals.append(total)
            inside.append(own)
            overheads.append(total - own)
        for label, values in (
            ("webui round trip", totals),
            ("vecpipe embed + search", inside),
            ("webui overhead (target p50 <= 10 ms)", overheads),
        ):
            p95 = statistics.quantiles(values, n=20)[18]
            print(f"{label:38s} p50 {statistics.median(values):6.1f} ms  p95 {p95:6.1f} ms")
        client_cost(env["VECPIPE_URL"], collection["vector_store_name"])
    finally:
        stop_service(webui)
        stop_all(services)


def client_cost(url: str, store_name: str, rounds: int = 5) -> None:
    """Client CPU per POST /search (process time, so vecpipe's own work is not in it), per client."""
    import urllib3

    from semantik.shared.config import Settings
    from semantik.shared.vecpipe_client import VecpipeClient

    headers = {"X-Internal-Api-Key": KEY, "Content-Type": "application/json"}
    ours = VecpipeClient(Settings(vecpipe_url=url, internal_api_key=KEY))
    pool = urllib3.HTTPConnectionPool(httpx.URL(url).host, httpx.URL(url).port, maxsize=20, retries=False)
    tuned = httpx.Client(base_url=url, headers=headers, trust_env=False, timeout=60)

    def body(query: str) -> dict:
        return {"collection": store_name, "query": query, "k": 10, "include_content": True}

    clients = {
        "VecpipeClient (http.client)": lambda query: ours.search(store_name, query, 10, include_content=True),
        "urllib3 HTTPConnectionPool": lambda query: json.loads(
            pool.request("POST", "/search", body=json.dumps(body(query)), headers=headers).data
        ),
        "httpx.Client (trust_env off)": lambda query: tuned.post("/search", json=body(query)).json(),
    }
    spent: dict[str, list[float]] = {name: [] for name in clients}
    queries = texts(QUERIES, 11)
    for _ in range(rounds):
        used = dict.fromkeys(clients, 0.0)
        for query in queries:
            for name, search in clients.items():
                started = time.process_time()
                assert len(search(query)["results"]) == 10
                used[name] += time.process_time() - started
        for name in clients:
            spent[name].append(used[name] / len(queries) * 1e6)
    print(f"\nclient CPU per POST /search (us, median of {rounds} rounds of {QUERIES}; x VecpipeClient's)")
    baseline = statistics.median(spent["VecpipeClient (http.client)"])
    for name, values in spent.items():
        cost = statistics.median(values)
        print(f"  {name:30s} {cost:5.0f} us  x{cost / baseline:5.2f}   (rounds: {listed(values)})")
    ours.close()
    pool.close()
    tuned.close()


def listed(values: list[float]) -> str:
    return ", ".join(f"{value:.0f}" for value in values)


def stop_all(services: list) -> None:
    for service in reversed(services):
        service.stop() if hasattr(service, "stop") else stop_service(service)


if __name__ == "__main__":
    main()
