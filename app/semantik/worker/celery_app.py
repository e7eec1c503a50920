"""The worker's Celery application: configuration in one place, the task modules, the beat schedule.

Delivery is at-least-once (acks_late, a child lost mid-task requeues its message) and every task is
idempotent, so the guarantees hold across crashes without exactly-once machinery.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Celery
from celery.signals import setup_logging, worker_process_init, worker_ready

from semantik.shared import logs
from semantik.shared.config import Settings, get_settings
from semantik.shared.queue import make_celery

log = logging.getLogger(__name__)
logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per vecpipe call drowns the log
TASK_MODULES = (
    "semantik.worker.tasks.operations",
    "semantik.worker.tasks.collections",
    "semantik.worker.tasks.maintenance",
)
BEAT_SCHEDULE_FILE = "celerybeat-schedule"


def beat_schedule(settings: Settings) -> dict[str, dict]:
    # Each run expires after its own interval: a backlog while no worker runs is dropped, not replayed.
    def every(seconds: float, task: str) -> dict:
        return {"task": task, "schedule": timedelta(seconds=seconds), "options": {"expires": seconds}}

    return {
        "reap-operations": every(settings.beat_reap_seconds, "semantik.maintenance.reap_operations"),
        "sync-due-sources": every(settings.beat_sync_check_seconds, "semantik.maintenance.sync_due_sources"),
        "delete-old-results": every(
            settings.beat_result_cleanup_seconds, "semantik.maintenance.delete_old_results"
        ),
    }


def configure(app: Celery, settings: Settings) -> Celery:
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_concurrency=settings.worker_concurrency,
        # Stopping (SIGTERM, remapped to Celery's cold shutdown by `semantik worker`): a running task
        # gets WORKER_STOP_GRACE seconds, then its child is ended and its message, never acknowledged
        # (acks_late), goes back to the queue when the worker closes its broker channel; an idle
        # worker exits at once.
        worker_soft_shutdown_timeout=settings.worker_stop_grace,
        worker_enable_soft_shutdown_on_idle=False,
        task_soft_time_limit=settings.worker_soft_time_limit,
        task_time_limit=settings.worker_time_limit,
        # Redis hands an unacknowledged message to another worker after this long; it must outlast
        # the longest task or a running operation would be delivered twice.
        broker_transport_options={
            **app.conf.broker_transport_options,
            "visibility_timeout": settings.worker_time_limit + 600,
        },
        # A broker restart must not abort running operations: they report through PostgreSQL.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        result_expires=int(settings.task_result_retention_hours * 3600),
        result_backend_always_retry=True,
        result_backend_max_retries=20,
        worker_send_task_events=True,
        task_send_sent_event=True,
        beat_schedule=beat_schedule(settings),
        beat_schedule_filename=str(settings.data_dir / BEAT_SCHEDULE_FILE),
    )
    return app


settings = get_settings()
app = configure(make_celery(settings, include=TASK_MODULES), settings)


@setup_logging.connect
def _logs(**_: object) -> None:
    """The services' format rather than Celery's (a receiver here is what stops Celery's own)."""
    logs.setup(settings.log_format, settings.log_level)


@worker_process_init.connect
def _own_database_connections(**_: object) -> None:
    """A forked child must not share the parent's pooled sockets: forget them without closing."""
    from semantik.shared import db

    if db.get_engine.cache_info().currsize:
        db.get_engine().dispose(close=False)


@worker_ready.connect
def _recover_orphans(**_: object) -> None:
    """A worker that starts after a crash picks up what the dead one left processing."""
    from semantik.shared import db
    from semantik.shared.vecpipe_client import VecpipeClient
    from semantik.worker.maintenance import recover_orphans

    vectors = VecpipeClient(settings)
    try:
        recovered = recover_orphans(
            settings, vectors, enqueue=lambda name, *args: app.send_task(name, args=args)
        )
        if recovered:
            log.warning("queued again %d orphaned operation(s): %s", len(recovered), ", ".join(recovered))
    except Exception:  # the periodic reaper tries again; a worker must start regardless
        log.exception("orphan recovery at startup failed")
    finally:
        vectors.close()
        db.get_engine().dispose()
