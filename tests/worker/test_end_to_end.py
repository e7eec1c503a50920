"""The whole system as real processes on one machine: webui (gunicorn), vecpipe (real test model,
embedded store), worker, beat, PostgreSQL and Redis, driven only through the HTTP API."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx

from factories import PASSWORD, register
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
    vecpipe_server, webui_server: str, worker_env, documents_root: Path, tmp_path: Path, processes
) -> None:
    folder = documents_root / "end-to-end"
    shutil.copytree(SAMPLES, folder)
    env = {**worker_env, "BEAT_SYNC_CHECK_SECONDS": "1"}
    processes.append(start_process("worker", env, tmp_path / "worker.log", " ready."))
    processes.append(start_process("beat", env, tmp_path / "beat.log", "beat: Starting"))
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
