"""`semantik.operations.<type>`: run one operation by its uuid (see worker/operations.py)."""

from __future__ import annotations

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from sqlalchemy.exc import InterfaceError, OperationalError

from semantik.shared import logs
from semantik.shared.errors import SemantikError, ServiceUnavailableError
from semantik.shared.models import OperationStatus, OperationType
from semantik.shared.queue import OPERATION_TASKS
from semantik.shared.vecpipe_client import VecpipeClient
from semantik.worker import endings, lifecycle, metrics
from semantik.worker.celery_app import app, settings
from semantik.worker.operations import run_operation

# Worth another try later: vecpipe or the database unreachable, or the collection busy.
TRANSIENT = (ServiceUnavailableError, OperationalError, InterfaceError)


def describe(error: BaseException) -> str:
    if isinstance(error, SoftTimeLimitExceeded):
        return f"exceeded the time limit of {settings.worker_soft_time_limit} s (WORKER_SOFT_TIME_LIMIT)"
    if isinstance(error, TimeLimitExceeded):  # the child was killed; Celery calls on_failure for it
        return f"killed at the hard time limit of {settings.worker_time_limit} s (WORKER_TIME_LIMIT)"
    if isinstance(error, SemantikError):
        return str(error)
    return f"{error.__class__.__name__}: {error}"


class OperationTask(Task):
    acks_late = True
    autoretry_for = TRANSIENT
    retry_backoff = True
    retry_backoff_max = settings.worker_retry_backoff_max
    retry_jitter = True
    max_retries = settings.worker_max_retries

    def on_retry(self, exc, task_id, args, kwargs, einfo) -> None:
        lifecycle.note_retry(args[0], exc)

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        vectors = VecpipeClient(settings)
        try:
            endings.clean_up(endings.fail(args[0], describe(exc)), vectors)
        finally:
            vectors.close()
        metrics.operation_ended(self.name.rsplit(".", 1)[-1], OperationStatus.FAILED)


def _run(operation_uuid: str) -> str:
    # Embedding a large batch on a CPU host takes minutes, far beyond the webui's search timeout.
    vectors = VecpipeClient(settings, timeout=settings.ingest_vecpipe_timeout)
    token = logs.CORRELATION_ID.set(operation_uuid)  # the operation's log lines carry its id
    try:
        return run_operation(operation_uuid, settings, vectors)
    finally:
        logs.CORRELATION_ID.reset(token)
        vectors.close()


def _task(kind: OperationType) -> Task:
    """The task of one operation type: each type has a name of its own (the queue's routing and the
    operators' view in flower), and all run the same way."""

    def run(operation_uuid: str) -> str:
        status = _run(operation_uuid)
        metrics.operation_ended(kind.value, status)
        return status

    run.__name__ = run.__qualname__ = kind.value
    return app.task(name=OPERATION_TASKS[kind], base=OperationTask)(run)


TASKS = {kind: _task(kind) for kind in OperationType}
