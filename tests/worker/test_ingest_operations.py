"""Operations run through their service function against the real PostgreSQL and a fake vector API."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from semantik.shared.models import CollectionStatus, DocumentStatus, OperationStatus, OperationType
from semantik.worker import ids
from semantik.worker.operations import run_operation
from worker import helpers


def _append(folder: Path, chunk_size: int = 100) -> tuple[str, str, int]:
    user = helpers.make_user()
    collection_id = helpers.make_collection(user, status=CollectionStatus.PROCESSING, chunk_size=chunk_size)
    source_id = helpers.make_source(collection_id, folder)
    uuid = helpers.make_operation(collection_id, OperationType.APPEND, {"source_id": source_id})
    return collection_id, uuid, source_id


def _store(collection_id: str) -> str:
    return helpers.collection(collection_id).vector_store_name


def assert_store_matches_rows(vectors, collection_id: str) -> None:
    """Exactly the points the completed rows describe: none missing, none extra, none twice."""
    rows = [
        row for row in helpers.documents(collection_id).values() if row.status is DocumentStatus.COMPLETED
    ]
    expected = {
        ids.chunk_id(collection_id, row.id, index) for row in rows for index in range(row.chunk_count)
    }
    assert set(vectors.collections[_store(collection_id)]) == expected
    collection = helpers.collection(collection_id)
    assert collection.vector_count == len(expected) == helpers.completed_chunks(collection_id)
    assert collection.document_count == len(rows)
    assert collection.total_size_bytes == sum(row.file_size for row in rows)


def test_index_creates_the_vector_collection_then_the_collection_is_ready(settings, vectors) -> None:
    collection_id = helpers.make_collection(helpers.make_user(), status=CollectionStatus.PENDING)
    uuid = helpers.make_operation(collection_id, OperationType.INDEX)

    assert run_operation(uuid, settings, vectors) == "completed"

    assert _store(collection_id) in vectors.collections
    assert helpers.collection(collection_id).status is CollectionStatus.READY
    assert helpers.operation(uuid).status is OperationStatus.COMPLETED
    assert run_operation(uuid, settings, vectors) == "already completed"


def test_a_collection_with_a_sparse_index_gets_bm25_vectors_beside_the_dense_ones(
    settings, vectors, folder: Path
) -> None:
    from semantik.shared import sparse

    helpers.write_corpus(folder, 5, words=200)
    config = sparse.stored({"enabled": True})
    collection_id = helpers.make_collection(
        helpers.make_user(), status=CollectionStatus.PENDING, sparse_index_config=config
    )
    index = helpers.make_operation(collection_id, OperationType.INDEX)
    assert run_operation(index, settings, vectors) == "completed"
    assert _store(collection_id) in vectors.sparse
    source_id = helpers.make_source(collection_id, folder)
    uuid = helpers.make_operation(collection_id, OperationType.APPEND, {"source_id": source_id})

    assert run_operation(uuid, settings, vectors) == "completed"

    assert_store_matches_rows(vectors, collection_id)  # the same deterministic ids, one point per chunk
    for point in vectors.collections[_store(collection_id)].values():
        assert point["sparse_vector"] == sparse.encode_documents([point["payload"]["content"]])[0]


def test_append_indexes_every_file_with_progress_and_counters(settings, vectors, folder: Path) -> None:
    helpers.write_corpus(folder, 10, words=300)
    collection_id, uuid, source_id = _append(folder)
    vectors.create_collection(_store(collection_id))
    assert helpers.operation(uuid).worker_host is None

    assert run_operation(uuid, settings, vectors) == "completed"
    assert helpers.operation(uuid).worker_host == socket.gethostname()

    rows = helpers.documents(collection_id)
    assert len(rows) == 10 and {row.status for row in rows.values()} == {DocumentStatus.COMPLETED}
    assert all(row.chunk_count >= 2 for row in rows.values())  # 300 words at 100 tokens a chunk
    assert all(row.id == ids.document_id(collection_id, row.file_path) for row in rows.values())
    assert all(row.source_id == source_id and len(row.content_hash) == 64 for row in rows.values())
    assert_store_matches_rows(vectors, collection_id)
    operation = helpers.operation(uuid)
    assert (operation.documents_total, operation.documents_processed, operation.documents_failed) == (
        10,
        10,
        0,
    )
    assert helpers.collection(collection_id).status is CollectionStatus.READY


def test_a_crash_mid_operation_then_a_rerun_duplicates_nothing(settings, vectors, folder: Path) -> None:
    helpers.write_corpus(folder, 10, words=200)
    collection_id, uuid, _ = _append(folder)
    vectors.create_collection(_store(collection_id))

    def crash_on_third_upsert(calls_before: int) -> None:
        if calls_before == 2:
            raise RuntimeError("worker died")

    vectors.before_upsert = crash_on_third_upsert
    with pytest.raises(RuntimeError):
        run_operation(uuid, settings, vectors)
    interrupted = helpers.operation(uuid)
    assert interrupted.status is OperationStatus.PROCESSING
    assert 0 < interrupted.documents_processed < 10

    vectors.before_upsert = None
    embedded_before = vectors.embedded_texts
    assert run_operation(uuid, settings, vectors) == "completed"

    assert_store_matches_rows(vectors, collection_id)
    assert len(helpers.documents(collection_id)) == 10
    # The committed batches were not embedded again: the rerun did less than the whole job.
    assert vectors.embedded_texts - embedded_before < helpers.completed_chunks(collection_id)
    operation = helpers.operation(uuid)
    assert (operation.documents_processed, operation.meta["attempts"]) == (10, 2)


def test_sync_indexes_new_and_changed_files_and_removes_deleted_ones(settings, vectors, folder: Path) -> None:
    paths = helpers.write_corpus(folder, 6)
    collection_id, uuid, source_id = _append(folder)
    vectors.create_collection(_store(collection_id))
    run_operation(uuid, settings, vectors)
    before = helpers.documents(collection_id)

    paths[0].unlink()
    paths[1].write_text("A completely new text about lighthouses.\n" * 40)
    assert before[paths[3].name].chunk_count >= 2
    paths[3].write_text("Shorter now: one chunk.\n")  # its second chunk's point must go too
    (folder / "added.md").write_text("# Added\n\nA new markdown file.\n")
    sync_uuid = helpers.make_operation(collection_id, OperationType.SYNC, {})
    assert run_operation(sync_uuid, settings, vectors) == "completed"

    after = helpers.documents(collection_id)
    assert paths[0].name not in after and "added.md" in after
    assert after[paths[1].name].content_hash != before[paths[1].name].content_hash
    assert after[paths[3].name].chunk_count == 1
    assert after[paths[2].name].updated_at == before[paths[2].name].updated_at  # unchanged: untouched
    assert ids.document_id(collection_id, str(paths[0])) not in vectors.doc_ids(_store(collection_id))
    assert_store_matches_rows(vectors, collection_id)
    assert helpers.operation(sync_uuid).documents_total == 6
    assert helpers.collection(collection_id).sync_last_run_status == "success"


def test_cancel_stops_between_batches_leaving_rows_and_vectors_consistent(
    settings, vectors, folder: Path
) -> None:
    from semantik.shared.db import session_scope
    from semantik.shared.models import User
    from semantik.shared.services import operations

    helpers.write_corpus(folder, 12)
    collection_id, uuid, _ = _append(folder)
    vectors.create_collection(_store(collection_id))

    def cancel_during_second_batch(calls_before: int) -> None:
        if calls_before == 1:
            with session_scope() as session:
                owner = session.get(User, helpers.collection(collection_id).owner_id)
                operations.cancel(session, owner, uuid)

    vectors.before_upsert = cancel_during_second_batch
    assert run_operation(uuid, settings, vectors) == "cancelled"

    operation = helpers.operation(uuid)
    assert operation.status is OperationStatus.CANCELLED
    # The first batch is recorded, and the second too if it was stored before the cancel was seen;
    # the points of the one after are undone (the stream had sent it on while the first was recorded).
    assert operation.documents_processed in (4, 8)
    assert len(helpers.documents(collection_id)) == operation.documents_processed
    assert_store_matches_rows(vectors, collection_id)
    collection = helpers.collection(collection_id)
    assert collection.status is CollectionStatus.READY
    assert "cancelled" in collection.status_message


def test_remove_source_deletes_its_documents_points_and_the_source(settings, vectors, folder: Path) -> None:
    from semantik.shared.db import session_scope
    from semantik.shared.models import CollectionSource

    helpers.write_corpus(folder / "keep", 3, prefix="keep")
    helpers.write_corpus(folder / "drop", 4, prefix="drop")
    collection_id = helpers.make_collection(helpers.make_user())
    vectors.create_collection(_store(collection_id))
    for name in ("keep", "drop"):
        source_id = helpers.make_source(collection_id, folder / name)
        uuid = helpers.make_operation(collection_id, OperationType.APPEND, {"source_id": source_id})
        run_operation(uuid, settings, vectors)

    uuid = helpers.make_operation(
        collection_id,
        OperationType.REMOVE_SOURCE,
        {"source_id": source_id, "source_path": str(folder / "drop")},
    )
    assert run_operation(uuid, settings, vectors) == "completed"

    assert sorted(helpers.documents(collection_id)) == [f"keep-{n:04d}.txt" for n in range(3)]
    assert_store_matches_rows(vectors, collection_id)
    with session_scope() as session:
        assert session.get(CollectionSource, source_id) is None
    assert helpers.operation(uuid).documents_processed == 4


def test_progress_is_visible_through_the_api_while_it_runs(client, settings, vectors, documents_root) -> None:
    from factories import auth_headers, create_collection, finish_operations

    folder = documents_root / "progress"
    helpers.write_corpus(folder, 9)
    headers = auth_headers(client)
    created = create_collection(client, headers, "progress")
    finish_operations(created["id"])
    response = client.post(
        f"/api/v2/collections/{created['id']}/sources", json={"source_path": str(folder)}, headers=headers
    )
    assert response.status_code == 202, response.text
    uuid = response.json()["id"]
    # As the index operation makes it: the webui's collections have a sparse index by default.
    vectors.create_collection(created["vector_store_name"], sparse_index=True)
    seen = []
    vectors.before_upsert = lambda _: seen.append(
        client.get(f"/api/v2/operations/{uuid}", headers=headers).json()
    )

    run_operation(uuid, settings, vectors)

    assert {(s["status"], s["documents_total"]) for s in seen} == {("processing", 9)}
    # Batches of 4: a batch's points may go out before the batch ahead of it is recorded, never
    # before the one ahead of that, so the third upsert sees the first batch done at least.
    processed = [s["documents_processed"] for s in seen]
    assert len(processed) == 3 and processed == sorted(processed)
    assert processed[0] == 0 and processed[2] in (4, 8) and set(processed) <= {0, 4, 8}
    final = client.get(f"/api/v2/operations/{uuid}", headers=headers).json()
    assert (final["status"], final["documents_processed"]) == ("completed", 9)


def test_a_source_that_is_gone_fails_the_operation_with_the_reason(settings, vectors, folder: Path) -> None:
    import shutil

    from semantik.shared.errors import ValidationError
    from semantik.worker import endings
    from semantik.worker.tasks.operations import describe

    collection_id, uuid, _ = _append(folder)
    shutil.rmtree(folder)
    with pytest.raises(ValidationError) as refused:
        run_operation(uuid, settings, vectors)
    endings.clean_up(endings.fail(uuid, describe(refused.value)), vectors)  # as the task's on_failure

    operation = helpers.operation(uuid)
    assert operation.status is OperationStatus.FAILED
    assert operation.error_message == f"source path '{folder}' does not exist"
    collection = helpers.collection(collection_id)
    assert collection.status is CollectionStatus.READY
    assert (
        collection.status_message
        == f"The last append operation failed: source path '{folder}' does not exist"
    )


def test_an_operation_failed_mid_batch_leaves_no_points_without_rows(settings, vectors, folder: Path) -> None:
    from semantik.worker import endings

    paths = helpers.write_corpus(folder, 8, words=200)
    collection_id, uuid, _ = _append(folder)
    vectors.create_collection(_store(collection_id))
    run_operation(uuid, settings, vectors)
    paths[5].write_text("Rewritten: " + "fresh words " * 150)  # in the second batch, changed
    sync = helpers.make_operation(collection_id, OperationType.SYNC)

    def die_inside_the_second_batch(calls_before: int) -> None:
        if calls_before == 1:  # one window of 4 chunks of the sync is written
            raise RuntimeError("killed")

    vectors.before_upsert = die_inside_the_second_batch
    paths[4].write_text("Also rewritten: " + "other words " * 150)
    small_windows = settings.model_copy(update={"ingest_embed_batch": 4})
    vectors.calls.clear()
    with pytest.raises(RuntimeError):
        run_operation(sync, small_windows, vectors)
    with pytest.raises(AssertionError):  # half-written when it died: the store is ahead of the rows
        assert_store_matches_rows(vectors, collection_id)

    endings.clean_up(endings.fail(sync, "RuntimeError: killed"), vectors)

    assert_store_matches_rows(vectors, collection_id)
    rows = helpers.documents(collection_id)
    for path in paths[4:6]:
        assert (rows[path.name].status, rows[path.name].error_category) == (
            DocumentStatus.PENDING,
            "interrupted",
        )
    assert rows[paths[0].name].status is DocumentStatus.COMPLETED
    vectors.before_upsert = None
    again = helpers.make_operation(collection_id, OperationType.SYNC)
    assert run_operation(again, settings, vectors) == "completed"
    assert {row.status for row in helpers.documents(collection_id).values()} == {DocumentStatus.COMPLETED}
    assert_store_matches_rows(vectors, collection_id)


def test_progress_moves_with_each_embed_call_inside_a_batch(settings, vectors, folder: Path) -> None:
    helpers.write_corpus(folder, 6, words=400)  # one batch of 6 documents, several windows of chunks
    collection_id, uuid, _ = _append(folder, chunk_size=50)
    vectors.create_collection(_store(collection_id))
    seen: list[tuple[int, int, int | None]] = []

    def look(_: int) -> None:  # before each upsert: what the API would show now
        operation = helpers.operation(uuid)
        seen.append((operation.documents_processed, operation.chunks_embedded, operation.chunks_expected))

    vectors.before_upsert = look
    one_batch = settings.model_copy(update={"ingest_batch_documents": 10, "ingest_embed_batch": 16})
    assert run_operation(uuid, one_batch, vectors) == "completed"

    total = helpers.completed_chunks(collection_id)
    assert len(seen) == -(-total // 16) >= 3
    assert [processed for processed, _, _ in seen] == [0] * len(seen)  # no document finished meanwhile
    embedded = [chunks for _, chunks, _ in seen]
    # Yet the chunks moved, call by call: a window counts once embedded, before its upsert (the next
    # window may be counted too by then: the stream does not wait for the store).
    assert embedded == sorted(embedded) and len(set(embedded)) >= 3
    assert all(chunks >= min(16 * (window + 1), total) for window, chunks in enumerate(embedded))
    assert {expected for _, _, expected in seen} == {total}  # the whole batch was parsed first
    done = helpers.operation(uuid)
    assert (done.chunks_embedded, done.chunks_expected, done.eta_seconds) == (total, total, None)
