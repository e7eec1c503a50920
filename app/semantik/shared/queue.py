"""The Celery application's shared half: broker settings and task names.

The webui enqueues by task name through this module and never imports the worker's code, so the
web tier loads no parsers or models; the worker builds on the same ``make_celery``.
"""

from __future__ import annotations

from functools import lru_cache

from celery import Celery

from semantik.shared.config import Settings, get_settings
from semantik.shared.models import OperationType

OPERATION_TASKS = {kind: f"semantik.operations.{kind.value}" for kind in OperationType}
DELETE_VECTORS_TASK = "semantik.collections.delete_vectors"


def make_celery(settings: Settings, include: tuple[str, ...] = (), results: bool = True) -> Celery:
    backend = settings.redis_url if results else None
    app = Celery("semantik", broker=settings.redis_url, backend=backend, include=list(include))
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        enable_utc=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"socket_timeout": 5, "socket_connect_timeout": 5},
        result_expires=86400,
    )
    tls = settings.redis_tls()
    if tls:  # rediss://: the broker and the result backend verify Redis like every other client
        app.conf.update(broker_use_ssl=tls, redis_backend_use_ssl=tls)
    return app


@lru_cache
def client() -> Celery:
    # Senders need no result backend; its reconnect loop would hold a request for ~20 s.
    return make_celery(get_settings(), results=False)


def enqueue(task_name: str, *args: object) -> str:
    """Send a task by name; returns its id. Raises on an unreachable broker."""
    task_id: str = client().send_task(task_name, args=list(args), retry=False).id  # celery is untyped
    return task_id
