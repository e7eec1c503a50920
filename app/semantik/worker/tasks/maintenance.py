"""The beat-driven tasks (schedule in worker/celery_app.py); logic in worker/maintenance.py."""

from __future__ import annotations

import redis

from semantik.shared.vecpipe_client import VecpipeClient
from semantik.worker import maintenance
from semantik.worker.celery_app import app, settings


@app.task(name="semantik.maintenance.reap_operations")
def reap_operations() -> dict[str, list[str]]:
    vectors = VecpipeClient(settings)
    try:
        reaped = maintenance.reap_stuck(settings, vectors)
        recovered = maintenance.recover_orphans(settings, vectors)
    finally:
        vectors.close()
    return {"reaped": reaped, "recovered": recovered}


@app.task(name="semantik.maintenance.sync_due_sources")
def sync_due_sources() -> list[str]:
    return maintenance.start_due_syncs()


@app.task(name="semantik.maintenance.delete_old_results")
def delete_old_results() -> int:
    assert settings.redis_url is not None  # this task came through the broker at REDIS_URL
    client = redis.Redis.from_url(settings.redis_url, **settings.redis_tls())
    try:
        return maintenance.delete_old_results(client, settings.task_result_retention_hours)
    finally:
        client.close()
