"""Faults during an operation, with a real worker process, Redis, PostgreSQL and vecpipe (real model).

The figures at the end are computed independently (chunking each file the collection's way), so a
duplicate point, a lost document or a miscounted chunk fails the test.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx

from factories import api_key_headers, auth_headers
from semantik.shared.config import get_settings
from semantik.worker.chunking import split_text
from worker import helpers
from worker.conftest import start_process, stop_process

CHUNK_SIZE, CHUNK_OVERLAP, FILES = 100, 20, 40


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def ready_collection(client, headers: dict[str, str], name: str) -> dict:
    body = {"name": name, "chunk_size": CHUNK_SIZE, "chunk_overlap": CHUNK_OVERLAP}
    created = client.post("/api/v2/collections", json=body, headers=headers)
    assert created.status_code == 201, created.text

    def ready() -> dict | None:
        found = client.get(f"/api/v2/collections/{created.json()['id']}", headers=headers).json()
        return found if found["status"] == "ready" else None

    return wait_for(ready, 60, "the index operation")


def add_source(client, headers: dict[str, str], collection_id: str, folder: Path) -> str:
    answer = client.post(
        f"/api/v2/collections/{collection_id}/sources", json={"source_path": str(folder)}, headers=headers
    )
    assert answer.status_code == 202, answer.text
    return answer.json()["id"]


def operation(client, headers: dict[str, str], uuid: str) -> dict:
    return client.get(f"/api/v2/operations/{uuid}", headers=headers).json()


def expected_chunks(folder: Path) -> int:
    return sum(len(split_text(path.read_text(), CHUNK_SIZE, CHUNK_OVERLAP)) for path in folder.iterdir())


def points_in(vector_store_name: str) -> int:
    info = httpx.get(
        f"{get_settings().vecpipe_url}/collections/{vector_store_name}",
        headers={"X-Internal-Api-Key": get_settings().internal_api_key},
    )
    assert info.status_code == 200, info.text
    return info.json()["points_count"]


def assert_exact_counts(client, headers, collection: dict, folder: Path) -> None:
    chunks = expected_chunks(folder)
    assert chunks > FILES  # several chunks per file: a partial document would show
    found = client.get(f"/api/v2/collections/{collection['id']}", headers=headers).json()
    assert (found["status"], found["document_count"], found["vector_count"]) == ("ready", FILES, chunks)
    assert helpers.completed_chunks(collection["id"]) == chunks
    rows = helpers.documents(collection["id"])
    assert len(rows) == FILES and {row.status.value for row in rows.values()} == {"completed"}
    assert points_in(found["vector_store_name"]) == chunks  # a duplicate or leftover would add to it


def test_sigkill_mid_operation_then_a_new_worker_finishes_it_exactly(
    client, worker_env, documents_root: Path, tmp_path: Path, processes
) -> None:
    folder = documents_root / "sigkill"
    helpers.write_corpus(folder, FILES, words=150)
    headers = auth_headers(client)
    first = start_process("worker", worker_env, tmp_path / "worker-1.log", " ready.")
    processes.append(first)
    collection = ready_collection(client, headers, "sigkill")
    uuid = add_source(client, headers, collection["id"], folder)

    progress = wait_for(
        lambda: (op := operation(client, headers, uuid))["documents_processed"] >= 8 and op, 120, "progress"
    )
    stop_process(first, signal.SIGKILL)  # the whole worker: main process and pool children
    assert progress["status"] == "processing" and progress["documents_total"] == FILES
    interrupted = operation(client, headers, uuid)
    assert interrupted["status"] == "processing" and interrupted["documents_processed"] < FILES

    processes.append(start_process("worker", worker_env, tmp_path / "worker-2.log", " ready."))
    done = wait_for(
        lambda: (op := operation(client, headers, uuid))["status"] != "processing" and op, 180, "end"
    )

    assert (done["status"], done["documents_processed"], done["documents_failed"]) == ("completed", FILES, 0)
    assert helpers.operation(uuid).meta["attempts"] == 2
    assert "orphaned operation" in (tmp_path / "worker-2.log").read_text()
    assert_exact_counts(client, headers, collection, folder)


def test_redis_restart_mid_operation_and_the_worker_carries_on(
    client, worker_env, documents_root: Path, tmp_path: Path, processes, redis_server
) -> None:
    folder = documents_root / "redis-restart"
    # Long enough (about 430 chunks) that the operation is still working when Redis has been down 2 s.
    helpers.write_corpus(folder, FILES, words=300)
    headers = api_key_headers(client)  # read while Redis is down
    processes.append(start_process("worker", worker_env, tmp_path / "worker.log", " ready."))
    collection = ready_collection(client, headers, "redis-restart")
    uuid = add_source(client, headers, collection["id"], folder)

    wait_for(lambda: operation(client, headers, uuid)["documents_processed"] >= 4, 120, "progress")
    redis_server.stop()
    time.sleep(2)
    during = operation(client, headers, uuid)
    redis_server.start()  # empty: no persistence in the tests' Redis
    assert during["status"] == "processing" and during["documents_processed"] < FILES

    done = wait_for(
        lambda: (op := operation(client, headers, uuid))["status"] != "processing" and op, 180, "end"
    )
    assert (done["status"], done["documents_processed"]) == ("completed", FILES)
    assert_exact_counts(client, headers, collection, folder)

    # The worker reconnected to the restarted broker: a new operation goes through it.
    reindex = client.post(f"/api/v2/collections/{collection['id']}/reindex", headers=headers)
    assert reindex.status_code == 202, reindex.text
    after = wait_for(
        lambda: (op := operation(client, headers, reindex.json()["id"]))["status"] == "completed" and op,
        120,
        "reindex",
    )
    assert after["documents_processed"] == FILES
    assert_exact_counts(client, headers, collection, folder)


def test_an_unreachable_vecpipe_is_retried_with_backoff_then_the_operation_fails(
    client, worker_base_env, tmp_path: Path, processes
) -> None:
    from support.servers import free_port

    env = {
        **worker_base_env,
        "VECPIPE_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "WORKER_MAX_RETRIES": "2",
        "WORKER_RETRY_BACKOFF_MAX": "2",
    }
    log = tmp_path / "worker.log"
    processes.append(start_process("worker", env, log, " ready."))
    headers = auth_headers(client)
    created = client.post("/api/v2/collections", json={"name": "no-vecpipe"}, headers=headers).json()

    uuid = created["initial_operation_id"]
    done = wait_for(
        lambda: (
            (op := operation(client, headers, uuid))["status"] != "pending"
            and op["status"] != "processing"
            and op
        ),
        90,
        "the retries to run out",
    )

    assert done["status"] == "failed"
    assert done["error_message"].startswith("vecpipe unavailable: ConnectError")
    assert log.read_text().count("Retry in") == 2
    found = client.get(f"/api/v2/collections/{created['id']}", headers=headers).json()
    assert (
        found["status"] == "error"
        and "index operation failed: vecpipe unavailable" in found["status_message"]
    )


def test_the_soft_time_limit_fails_a_long_operation_and_leaves_it_consistent(
    client, worker_env, documents_root: Path, tmp_path: Path, processes
) -> None:
    # Far more work than fits in 4 s even on an idle machine, so the limit, not the corpus, ends it.
    folder, files = documents_root / "time-limit", 400
    helpers.write_corpus(folder, files, words=300)
    env = {**worker_env, "WORKER_SOFT_TIME_LIMIT": "4", "WORKER_TIME_LIMIT": "30"}
    processes.append(start_process("worker", env, tmp_path / "worker.log", " ready."))
    headers = auth_headers(client)
    collection = ready_collection(client, headers, "time-limit")
    uuid = add_source(client, headers, collection["id"], folder)

    done = wait_for(
        lambda: (op := operation(client, headers, uuid))["status"] not in ("pending", "processing") and op,
        120,
        "the time limit",
    )

    assert done["status"] == "failed"
    assert done["error_message"] == "exceeded the time limit of 4 s (WORKER_SOFT_TIME_LIMIT)"
    assert done["documents_processed"] < files
    found = client.get(f"/api/v2/collections/{collection['id']}", headers=headers).json()
    assert found["status"] == "ready"
    assert found["document_count"] == done["documents_processed"] == len(helpers.documents(collection["id"]))
    assert found["vector_count"] == helpers.completed_chunks(collection["id"])
    # The batch cut short was undone: no point in the store without a row that counts it.
    assert points_in(found["vector_store_name"]) == found["vector_count"]


def test_sigterm_hands_a_running_operation_back_after_the_grace_and_a_new_worker_finishes_it(
    client, worker_env, documents_root: Path, tmp_path: Path, processes
) -> None:
    # Far more work than the grace allows, so the operation is still running when the grace ends.
    folder, files, grace = documents_root / "sigterm", 60, 3
    helpers.write_corpus(folder, files, words=300)
    chunks = sum(len(split_text(path.read_text(), CHUNK_SIZE, CHUNK_OVERLAP)) for path in folder.iterdir())
    # No orphan recovery within the test: only the message the stopping worker handed back resumes it.
    env = {**worker_env, "WORKER_STOP_GRACE": str(grace), "OPERATION_ORPHAN_GRACE_SECONDS": "3600"}
    headers = auth_headers(client)
    first = start_process("worker", env, tmp_path / "worker-1.log", " ready.")
    processes.append(first)
    collection = ready_collection(client, headers, "sigterm")
    uuid = add_source(client, headers, collection["id"], folder)
    wait_for(lambda: operation(client, headers, uuid)["documents_processed"] >= 8, 120, "progress")

    stopping = time.monotonic()
    first.send_signal(signal.SIGTERM)  # to the main process, as systemd's KillMode=mixed sends it
    first.wait(grace + 15)
    stopped_after = time.monotonic() - stopping
    log = (tmp_path / "worker-1.log").read_text()
    assert grace <= stopped_after < grace + 10, log[-3000:]
    assert f"Initiating Soft Shutdown, terminating in {float(grace)} seconds" in log
    interrupted = operation(client, headers, uuid)
    assert interrupted["status"] == "processing" and interrupted["documents_processed"] < files

    processes.append(start_process("worker", env, tmp_path / "worker-2.log", " ready."))
    done = wait_for(
        lambda: (op := operation(client, headers, uuid))["status"] != "processing" and op, 240, "end"
    )

    assert (done["status"], done["documents_processed"], done["documents_failed"]) == ("completed", files, 0)
    assert "orphaned operation" not in (tmp_path / "worker-2.log").read_text()
    found = client.get(f"/api/v2/collections/{collection['id']}", headers=headers).json()
    assert (found["status"], found["document_count"], found["vector_count"]) == ("ready", files, chunks)
    assert helpers.completed_chunks(collection["id"]) == chunks
    rows = helpers.documents(collection["id"])
    assert len(rows) == files and {row.status.value for row in rows.values()} == {"completed"}
    assert points_in(found["vector_store_name"]) == chunks  # a duplicate or leftover would add to it
