"""`semantik.collections.delete_vectors`: drop vector collections nothing uses any more."""

from __future__ import annotations

from semantik.shared.errors import EntityNotFoundError, ServiceUnavailableError
from semantik.shared.queue import DELETE_VECTORS_TASK
from semantik.shared.vecpipe_client import VecpipeClient
from semantik.worker.celery_app import app, settings


# Retried for hours (backoff up to WORKER_RETRY_BACKOFF_MAX): vectors of a deleted collection must go.
@app.task(
    name=DELETE_VECTORS_TASK,
    acks_late=True,
    autoretry_for=(ServiceUnavailableError,),
    retry_backoff=True,
    retry_backoff_max=settings.worker_retry_backoff_max,
    max_retries=30,
)
def delete_vectors(names: list[str]) -> list[str]:
    vectors = VecpipeClient(settings)
    try:
        for name in names:
            try:
                vectors.delete_collection(name)
            except EntityNotFoundError:
                pass  # already gone
    finally:
        vectors.close()
    return names
