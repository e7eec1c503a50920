"""Beat's jobs, each called as its task calls it, against the real PostgreSQL and Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy import select

from semantik.shared.db import session_scope
from semantik.shared.models import (
    Collection,
    CollectionStatus,
    Operation,
    OperationStatus,
    OperationType,
)
from semantik.worker import maintenance
from semantik.worker.locks import collection_lock
from worker import helpers

NOW = datetime.now(UTC)


def _processing(collection_id: str, kind: OperationType, idle: timedelta, **meta) -> str:
    uuid = helpers.make_operation(collection_id, kind)
    with session_scope() as session:
        operation = session.scalars(select(Operation).where(Operation.uuid == uuid)).one()
        operation.status = OperationStatus.PROCESSING
        operation.started_at = NOW - idle
        operation.meta = {"heartbeat_at": (NOW - idle).isoformat(), **meta}
        session.get(Collection, collection_id).status = CollectionStatus.PROCESSING
    return uuid


def test_reaper_fails_operations_stuck_past_the_limit_and_cleans_up(settings, vectors) -> None:
    user = helpers.make_user()
    stuck_collection = helpers.make_collection(user)
    stuck = _processing(stuck_collection, OperationType.REINDEX, timedelta(minutes=75))
    with session_scope() as session:
        session.get(Collection, stuck_collection).qdrant_staging = {
            "name": "half-built",
            "operation_id": stuck,
        }
    vectors.create_collection("half-built")
    busy = _processing(helpers.make_collection(user), OperationType.APPEND, timedelta(minutes=5))

    limit = settings.model_copy(update={"operation_stuck_minutes": 60})
    reaped = maintenance.reap_stuck(limit, vectors, at=NOW)

    assert reaped == [stuck]
    failed = helpers.operation(stuck)
    assert failed.status is OperationStatus.FAILED
    assert failed.error_message.startswith("no progress for 75 minutes (limit 60)")
    collection = helpers.collection(stuck_collection)
    assert collection.status is CollectionStatus.READY and collection.qdrant_staging is None
    assert "failed: no progress" in collection.status_message
    assert "half-built" not in vectors.collections
    assert helpers.operation(busy).status is OperationStatus.PROCESSING


def test_orphans_are_queued_again_unless_a_live_worker_holds_them(settings, vectors) -> None:
    user = helpers.make_user()
    orphan = _processing(
        helpers.make_collection(user), OperationType.APPEND, timedelta(minutes=2), attempts=1
    )
    held_collection = helpers.make_collection(user)
    held = _processing(held_collection, OperationType.APPEND, timedelta(minutes=2), attempts=1)
    young = _processing(helpers.make_collection(user), OperationType.SYNC, timedelta(seconds=5), attempts=1)
    retrying = _processing(
        helpers.make_collection(user),
        OperationType.SYNC,
        timedelta(minutes=2),
        attempts=1,
        retry_pending=True,
    )
    exhausted = _processing(
        helpers.make_collection(user), OperationType.APPEND, timedelta(minutes=2), attempts=8
    )
    queued = []

    with collection_lock(held_collection) as got:
        assert got
        recovered = maintenance.recover_orphans(settings, vectors, lambda *call: queued.append(call), at=NOW)

    assert recovered == [orphan]
    assert queued == [("semantik.operations.append", orphan)]
    assert {uuid: helpers.operation(uuid).status for uuid in (held, young, retrying)} == dict.fromkeys(
        (held, young, retrying), OperationStatus.PROCESSING
    )
    gave_up = helpers.operation(exhausted)
    assert gave_up.status is OperationStatus.FAILED
    assert gave_up.error_message.startswith("gave up after 8 attempts")


def _continuous(user: int, folder, **fields) -> str:
    collection_id = helpers.make_collection(user)
    helpers.make_source(collection_id, folder)
    with session_scope() as session:
        collection = session.get(Collection, collection_id)
        collection.sync_mode, collection.sync_interval_minutes = "continuous", 30
        for name, value in fields.items():
            setattr(collection, name, value)
    return collection_id


def test_due_continuous_collections_get_a_sync_operation(settings, folder, redis_server) -> None:
    user = helpers.make_user()
    due = _continuous(user, folder, sync_next_run_at=NOW - timedelta(minutes=1))
    first = _continuous(user, folder)  # just switched on: no run scheduled yet
    later = _continuous(user, folder, sync_next_run_at=NOW + timedelta(minutes=10))
    paused = _continuous(user, folder, sync_paused_at=NOW)
    busy = _continuous(user, folder, sync_next_run_at=NOW - timedelta(minutes=1))
    helpers.make_operation(busy, OperationType.APPEND)
    one_time = helpers.make_collection(user)
    helpers.make_source(one_time, folder)
    client = redis.Redis.from_url(redis_server.url)
    queued_before = client.llen("celery")

    started = maintenance.start_due_syncs(NOW)

    with session_scope() as session:
        syncs = {
            op.collection_id: op
            for op in session.scalars(select(Operation).where(Operation.type == OperationType.SYNC))
        }
    assert set(syncs) == {due, first}
    assert sorted(started) == sorted(op.uuid for op in syncs.values())
    assert client.llen("celery") == queued_before + 2
    for collection_id in (due, first):
        collection = helpers.collection(collection_id)
        assert collection.status is CollectionStatus.PROCESSING
        assert collection.sync_next_run_at == NOW + timedelta(minutes=30)
        assert collection.sync_last_run_status == "running"
    for collection_id in (later, paused, busy, one_time):
        assert helpers.collection(collection_id).status is CollectionStatus.READY
    assert maintenance.start_due_syncs(NOW) == []  # nothing twice


@pytest.fixture
def results(app_env, redis_server):
    from semantik.shared.config import get_settings
    from semantik.shared.queue import make_celery

    app = make_celery(get_settings())
    client = redis.Redis.from_url(redis_server.url)
    for key in client.scan_iter("celery-task-meta-*"):
        client.delete(key)
    yield app.backend, client
    client.close()


def test_old_task_results_are_deleted_and_recent_ones_kept(results) -> None:
    backend, client = results
    backend.store_result("recent", {"ok": True}, "SUCCESS")
    backend.expires = None  # as an older configuration stored them: never expiring
    backend.store_result("kept-forever", 42, "SUCCESS")
    client.set("celery-task-meta-undated", b'{"status": "STARTED"}')
    client.set("celery-task-meta-undated-expiring", b'{"status": "STARTED"}', ex=3600)
    client.set("unrelated", b"1")
    assert client.ttl("celery-task-meta-kept-forever") == -1

    assert maintenance.delete_old_results(client, retention_hours=24) == 1
    assert not client.exists("celery-task-meta-undated")
    assert client.exists("celery-task-meta-recent", "celery-task-meta-kept-forever") == 2

    later = datetime.now(UTC) + timedelta(hours=25)
    assert maintenance.delete_old_results(client, retention_hours=24, at=later) == 2
    assert client.exists("celery-task-meta-undated-expiring", "unrelated") == 2
