"""`semantik flower` and `semantik beat` as real processes against the password-protected Redis."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import redis
from sqlalchemy import select

from semantik.shared.db import session_scope
from semantik.shared.models import Collection, CollectionStatus, Operation, OperationStatus, OperationType
from semantik.worker.locks import collection_lock
from worker import helpers
from worker.conftest import start_process, stop_process
from worker.tasks.test_operation_faults import wait_for

FLOWER_PASSWORD = "flower-test-password-0123456789"


def test_flower_needs_basic_auth_and_reads_the_password_protected_broker(
    app_env: dict[str, str], redis_server, tmp_path: Path
) -> None:
    from semantik.shared.config import get_settings
    from semantik.shared.queue import make_celery
    from support.servers import free_port, start_service, stop_service

    client = redis.Redis.from_url(redis_server.url)
    client.delete("celery")
    sender = make_celery(get_settings(), results=False)
    for number in range(3):  # no worker runs: they wait in the queue
        sender.send_task("semantik.tests.nobody_runs_this", args=[number])
    port = free_port()
    env = {
        **app_env,
        "FLOWER_BASIC_AUTH": f"admin:{FLOWER_PASSWORD}",
        "FLOWER_PORT": str(port),
        "FLOWER_HOST": "127.0.0.1",  # flower itself would stop at this variable; ours must not
    }
    argv = [str(Path(sys.executable).parent / "semantik"), "flower"]
    flower = start_service(argv, env, port, tmp_path / "flower.log", ready_path="/healthcheck")
    try:
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/api/queues/length").status_code == 401
        assert httpx.get(f"{url}/api/queues/length", auth=("admin", "wrong-password")).status_code == 401
        lengths = httpx.get(f"{url}/api/queues/length", auth=("admin", FLOWER_PASSWORD), timeout=10)
        assert lengths.status_code == 200, lengths.text
        assert {"name": "celery", "messages": 3} in lengths.json()["active_queues"]
        page = httpx.get(f"{url}/broker", auth=("admin", FLOWER_PASSWORD), timeout=10)
        assert page.status_code == 200 and "celery" in page.text
        assert redis_server.password not in page.text and FLOWER_PASSWORD not in page.text
    finally:
        stop_service(flower)
        client.delete("celery")
        client.close()


def test_beat_drives_the_reaper_and_the_result_cleanup_through_a_worker(
    worker_env: dict[str, str], redis_server, tmp_path: Path, processes
) -> None:
    collection_id = helpers.make_collection(helpers.make_user(), status=CollectionStatus.PROCESSING)
    stuck = helpers.make_operation(collection_id, OperationType.APPEND)
    long_ago = datetime.now(UTC) - timedelta(minutes=10)
    with session_scope() as session:
        operation = session.scalars(select(Operation).where(Operation.uuid == stuck)).one()
        operation.status, operation.started_at = OperationStatus.PROCESSING, long_ago
        operation.meta = {"heartbeat_at": long_ago.isoformat(), "attempts": 1}
    client = redis.Redis.from_url(redis_server.url)
    client.set(
        "celery-task-meta-ancient", json.dumps({"status": "SUCCESS", "date_done": long_ago.isoformat()})
    )
    env = {
        **worker_env,
        "BEAT_REAP_SECONDS": "1",
        "BEAT_RESULT_CLEANUP_SECONDS": "1",
        "OPERATION_STUCK_MINUTES": "5",
        "TASK_RESULT_RETENTION_HOURS": "0.05",  # three minutes
    }
    # A hung worker: it holds the collection, so the operation is not an orphan to queue again.
    with collection_lock(collection_id) as held:
        assert held
        processes.append(start_process("worker", env, tmp_path / "worker.log", " ready."))
        processes.append(start_process("beat", env, tmp_path / "beat.log", "beat: Starting"))
        reaped = wait_for(
            lambda: (op := helpers.operation(stuck)).status is OperationStatus.FAILED and op, 60, "the reaper"
        )
    assert reaped.error_message.startswith("no progress for 10 minutes (limit 5)")
    with session_scope() as session:
        assert session.get(Collection, collection_id).status is CollectionStatus.READY
    wait_for(lambda: not client.exists("celery-task-meta-ancient"), 60, "the result cleanup")
    assert list(Path(env["DATA_DIR"]).glob("celerybeat-schedule*"))
    stop_process(processes.pop())
    client.close()
