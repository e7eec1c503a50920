"""The whole system as real processes on one machine: webui (gunicorn), vecpipe (real test model,
embedded store), worker, beat, PostgreSQL and Redis, driven only through the HTTP API; then what each
service's Prometheus metrics say of it."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import httpx

from factories import PASSWORD, register
from support.servers import free_port, scrape
from worker.conftest import start_process
from worker.tasks.test_operation_faults import wait_for

SAMPLES = Path(__file__).parents[1] / "data" / "sample_docs"
# A question each sample answers and no other does (none of them repeats the document's wording).
QUESTIONS = {
    "beekeeping.rst": "how do honeybees tell each other where the flowers are",
    "lighthouse.txt": "a man who looked after the lamp of a tower on a rock at sea",
    "tides.pdf": "why is the sea level difference biggest when the moon is full",
    "volcanoes.html": "an avalanche of burning gas and ash that buried a Roman town",
    "fibonacci.py": "recursive function with a cache for the golden ratio sequence",
    "sourdough.md": "how often should I feed the wild yeast for my bread",
}


def _api(base: str) -> httpx.Client:
    http = httpx.Client(base_url=base, timeout=30)
    register(None, "endtoend", admin=True)  # adds a directory source: an administrator's act
    token = http.post("/api/auth/login", json={"username": "endtoend", "password": PASSWORD}).json()
    http.headers["Authorization"] = f"Bearer {token['access_token']}"
    return http


def _finished(http: httpx.Client, uuid: str, timeout: float = 180) -> dict:
    operation = wait_for(
        lambda: (
            (op := http.get(f"/api/v2/operations/{uuid}").json())["status"] not in ("pending", "processing")
            and op
        ),
        timeout,
        f"operation {uuid}",
    )
    assert operation["status"] == "completed", operation
    return operation


def _top_hit(http: httpx.Client, collection_id: str, question: str) -> list[str]:
    answer = http.post(
        "/api/v2/search/single", json={"collection_id": collection_id, "query": question, "k": 5}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["partial_failure"] is False
    return [hit["file_name"] for hit in answer.json()["results"]]


def test_ingest_search_delete_sync(
    vecpipe_server,
    webui_server: str,
    worker_env,
    documents_root: Path,
    tmp_path: Path,
    processes,
    metrics_ports: dict[str, int],
    vecpipe_root: Path,
) -> None:
    started = time.time()
    folder = documents_root / "end-to-end"
    shutil.copytree(SAMPLES, folder)
    env = {**worker_env, "BEAT_SYNC_CHECK_SECONDS": "1", "LOG_FORMAT": "json"}
    ports = {**metrics_ports, "worker": free_port(), "beat": free_port()}
    for mode, ready in (("worker", " ready."), ("beat", "beat: Starting")):
        mode_env = {**env, "METRICS_PORT": str(ports[mode])}
        processes.append(start_process(mode, mode_env, tmp_path / f"{mode}.log", ready))
    http = _api(webui_server)

    created = http.post(
        "/api/v2/collections", json={"name": "samples", "chunk_size": 200, "chunk_overlap": 40}
    )
    assert created.status_code == 201, created.text
    collection = created.json()
    _finished(http, collection["initial_operation_id"])
    added = http.post(f"/api/v2/collections/{collection['id']}/sources", json={"source_path": str(folder)})
    assert added.status_code == 202, added.text
    appended = _finished(http, added.json()["id"])
    assert appended["documents_processed"] == len(list(SAMPLES.iterdir()))

    state = http.get(f"/api/v2/collections/{collection['id']}").json()
    assert (state["status"], state["document_count"], state["error_count"]) == ("ready", 8, 0)
    progress = (appended["chunks_embedded"], appended["chunks_expected"], appended["eta_seconds"])
    assert progress == (state["vector_count"], state["vector_count"], None)  # every chunk counted once
    for name, question in QUESTIONS.items():
        assert _top_hit(http, collection["id"], question)[0] == name, question

    (folder / "lighthouse.txt").unlink()
    switched = http.put(
        f"/api/v2/collections/{collection['id']}",
        json={"sync_mode": "continuous", "sync_interval_minutes": 15},
    )
    assert switched.status_code == 200, switched.text

    def sync_operation() -> dict | None:
        found = http.get(f"/api/v2/collections/{collection['id']}/operations?operation_type=sync").json()
        return found[0] if found else None

    sync = wait_for(sync_operation, 60, "beat to start a sync")
    _finished(http, sync["id"])

    state = http.get(f"/api/v2/collections/{collection['id']}").json()
    assert (state["document_count"], state["sync_last_run_status"]) == (7, "success")
    assert state["sync_next_run_at"] is not None
    assert "lighthouse.txt" not in _top_hit(http, collection["id"], QUESTIONS["lighthouse.txt"])
    assert _top_hit(http, collection["id"], QUESTIONS["beekeeping.rst"])[0] == "beekeeping.rst"
    _metrics_tell_the_same(ports, state, appended, searches=len(QUESTIONS) + 2, since=started)
    logs = {mode: tmp_path / f"{mode}.log" for mode in ("worker", "beat")} | {
        "vecpipe": vecpipe_root / "vecpipe.log"
    }
    lines = {mode: [json.loads(line) for line in log.read_text().splitlines()] for mode, log in logs.items()}
    # The operation's own lines carry its id; Celery's banner is not among them.
    assert any(line.get("correlation_id") == appended["id"] for line in lines["worker"]), lines["worker"][-5:]
    assert any(line["message"].endswith(" ready.") for line in lines["worker"])
    assert any(line["message"].startswith("beat: Starting") for line in lines["beat"])


def _metrics_tell_the_same(ports: dict[str, int], state: dict, appended: dict, searches: int, since: float):
    webui, vecpipe, worker, beat = (scrape(ports[name]) for name in ("webui", "vecpipe", "worker", "beat"))
    # Two gunicorn workers answered the searches: the master's figure is their sum.
    route = (("method", "POST"), ("route", "/api/v2/search/single"), ("status", "200"))
    assert webui[("semantik_webui_requests_total", route)] == searches
    assert webui[("semantik_webui_request_duration_seconds_count", route[:2])] == searches
    name = state["vector_store_name"]
    assert vecpipe[("semantik_vecpipe_collection_points", (("collection", name),))] == state["vector_count"]
    assert vecpipe[("semantik_vecpipe_texts_embedded_total", ())] >= appended["chunks_embedded"] + searches
    assert vecpipe[("semantik_vecpipe_search_duration_seconds_count", (("mode", "hybrid"),))] >= searches
    models = [labels for (sample, labels) in vecpipe if sample == "semantik_vecpipe_model_info"]
    assert [dict(labels)["dtype"] for labels in models] == ["float32"], models
    ended = {
        (dict(labels)["type"], dict(labels)["status"]): value
        for (sample, labels), value in worker.items()
        if sample == "semantik_worker_operations_total"
    }
    assert ended[("index", "completed")] == ended[("append", "completed")] == 1, ended
    assert ended[("sync", "completed")] >= 1, ended
    written = (("reason", ""), ("status", "completed"))
    assert worker[("semantik_worker_documents_total", written)] == len(list(SAMPLES.iterdir()))
    assert worker[("semantik_worker_chunks_total", ())] == appended["chunks_embedded"]
    assert ("semantik_worker_queue_length", (("queue", "celery"),)) in worker
    assert beat[("semantik_beat_last_run_timestamp_seconds", (("schedule", "sync-due-sources"),))] > since
