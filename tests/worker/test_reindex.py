"""Blue/green reindex: a new vector collection, switched to only on success."""

from __future__ import annotations

from pathlib import Path

import pytest

from semantik.shared.errors import ServiceUnavailableError
from semantik.shared.models import CollectionStatus, OperationStatus, OperationType
from semantik.worker.operations import run_operation
from semantik.worker.tasks.operations import describe
from worker import helpers
from worker.test_ingest_operations import assert_store_matches_rows


@pytest.fixture
def indexed(settings, vectors, folder: Path) -> str:
    helpers.write_corpus(folder, 8, words=240)
    collection_id = helpers.make_collection(helpers.make_user(), chunk_size=200, chunk_overlap=0)
    vectors.create_collection(helpers.collection(collection_id).vector_store_name)
    source_id = helpers.make_source(collection_id, folder)
    run_operation(
        helpers.make_operation(collection_id, OperationType.APPEND, {"source_id": source_id}),
        settings,
        vectors,
    )
    return collection_id


def test_reindex_builds_a_new_collection_and_switches_to_it(settings, vectors, indexed: str, folder) -> None:
    old = helpers.collection(indexed)
    (folder / "note-0000.txt").unlink()  # a rebuild reads the sources as they are now
    uuid = helpers.make_operation(indexed, OperationType.REINDEX, {"chunk_size": 100, "chunk_overlap": 10})

    assert run_operation(uuid, settings, vectors) == "completed"

    new = helpers.collection(indexed)
    assert new.vector_store_name != old.vector_store_name
    assert old.vector_store_name not in vectors.collections  # dropped after the switch
    assert (new.chunk_size, new.chunk_overlap, new.status) == (100, 10, CollectionStatus.READY)
    assert new.qdrant_collections == {"names": [new.vector_store_name]} and new.qdrant_staging is None
    assert new.vector_count > old.vector_count  # smaller chunks, more of them
    assert len(helpers.documents(indexed)) == 7
    assert_store_matches_rows(vectors, indexed)


def test_a_failed_reindex_leaves_the_live_collection_untouched(settings, vectors, indexed: str) -> None:
    old = helpers.collection(indexed)
    live_points = dict(vectors.collections[old.vector_store_name])
    uuid = helpers.make_operation(indexed, OperationType.REINDEX, {"chunk_size": 150})

    def vecpipe_goes_away(calls_before: int) -> None:
        raise ServiceUnavailableError("vecpipe unavailable: ConnectError")

    vectors.before_upsert = vecpipe_goes_away
    with pytest.raises(ServiceUnavailableError) as raised:
        run_operation(uuid, settings, vectors)
    staging = helpers.collection(indexed).qdrant_staging["name"]
    assert staging in vectors.collections  # kept for the retry, which resumes into it

    # Retries exhausted: the task's on_failure does this.
    from semantik.worker import endings

    endings.clean_up(endings.fail(uuid, describe(raised.value)), vectors)

    after = helpers.collection(indexed)
    assert helpers.operation(uuid).status is OperationStatus.FAILED
    assert helpers.operation(uuid).error_message == "vecpipe unavailable: ConnectError"
    assert (after.vector_store_name, after.chunk_size) == (old.vector_store_name, old.chunk_size)
    assert after.status is CollectionStatus.READY and after.qdrant_staging is None
    assert staging not in vectors.collections
    assert vectors.collections[old.vector_store_name] == live_points
    assert_store_matches_rows(vectors, indexed)


def test_invalid_overrides_fail_the_reindex_before_anything_is_built(settings, vectors, indexed: str) -> None:
    from semantik.shared.errors import ValidationError

    uuid = helpers.make_operation(indexed, OperationType.REINDEX, {"chunk_size": 300, "chunk_overlap": 300})
    with pytest.raises(ValidationError, match="chunk_overlap must be at most half of chunk_size"):
        run_operation(uuid, settings, vectors)
    assert len(vectors.collections) == 1


def test_a_cancelled_reindex_drops_its_build_and_keeps_the_live_collection(
    settings, vectors, indexed: str
) -> None:
    from semantik.shared.db import session_scope
    from semantik.shared.models import User
    from semantik.shared.services import operations

    old = helpers.collection(indexed)
    uuid = helpers.make_operation(indexed, OperationType.REINDEX, {"chunk_size": 120})

    def cancel(calls_before: int) -> None:
        if calls_before == 0:
            with session_scope() as session:
                operations.cancel(session, session.get(User, old.owner_id), uuid)

    vectors.before_upsert = cancel
    vectors.calls.clear()
    assert run_operation(uuid, settings, vectors) == "cancelled"

    after = helpers.collection(indexed)
    assert helpers.operation(uuid).status is OperationStatus.CANCELLED
    assert (after.vector_store_name, after.chunk_size, after.status) == (
        old.vector_store_name,
        old.chunk_size,
        CollectionStatus.READY,
    )
    assert after.qdrant_staging is None and list(vectors.collections) == [old.vector_store_name]
    assert_store_matches_rows(vectors, indexed)


def test_a_reindex_gives_an_existing_collection_a_sparse_index_and_takes_it_back(
    settings, vectors, indexed: str
) -> None:
    from semantik.shared import sparse

    assert helpers.collection(indexed).sparse_index_config is None
    config = {"enabled": True, "plugin_id": "bm25-local", "model_config_data": {"k1": 1.5}}
    uuid = helpers.make_operation(indexed, OperationType.REINDEX, {"sparse_index_config": config})

    assert run_operation(uuid, settings, vectors) == "completed"

    gained = helpers.collection(indexed)
    assert gained.sparse_index_config == {**config, "model_config_data": {"k1": 1.5, "b": 0.75}}
    assert gained.vector_store_name in vectors.sparse
    points = vectors.collections[gained.vector_store_name].values()
    assert all(point["sparse_vector"]["indices"] for point in points)  # FakeVectors checks each has one
    point = next(iter(points))
    assert point["sparse_vector"] == sparse.encode_documents([point["payload"]["content"]], 1.5, 0.75)[0]
    assert_store_matches_rows(vectors, indexed)

    uuid = helpers.make_operation(indexed, OperationType.REINDEX, {"sparse_index_config": None})
    assert run_operation(uuid, settings, vectors) == "completed"
    dropped = helpers.collection(indexed)
    assert dropped.sparse_index_config is None and dropped.vector_store_name not in vectors.sparse
    assert_store_matches_rows(vectors, indexed)


def test_an_invalid_sparse_override_fails_the_reindex_before_anything_is_built(
    settings, vectors, indexed: str
) -> None:
    from semantik.shared.errors import ValidationError

    bad = {"sparse_index_config": {"plugin_id": "splade-local"}}
    uuid = helpers.make_operation(indexed, OperationType.REINDEX, bad)
    with pytest.raises(ValidationError, match="invalid sparse_index_config: plugin_id"):
        run_operation(uuid, settings, vectors)
    assert len(vectors.collections) == 1
