"""The worker's and beat's metrics: operations by type and final status, documents by outcome and
reason, chunks stored (their rate is chunks per second), the queue's length, and when beat last sent
each schedule's task. Workers count in every process of the pool (multiprocess mode, see
shared/metrics.py); the queue is read at scrape time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from celery import Celery
from celery.signals import before_task_publish
from prometheus_client import Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from semantik.shared.models import ACTIVE_OPERATION_STATUSES, OperationStatus

OPERATIONS = Counter(
    "semantik_worker_operations_total", "Operations that ended, by type and final status", ["type", "status"]
)
DOCUMENTS = Counter(
    "semantik_worker_documents_total",
    "Documents written by operations, by status and, for a failed one, its reason's category",
    ["status", "reason"],
)
CHUNKS = Counter("semantik_worker_chunks_total", "Chunks embedded and stored")
# Beat is one process: a plain gauge.
BEAT_LAST_RUN = Gauge(
    "semantik_beat_last_run_timestamp_seconds", "When beat last sent each schedule's task", ["schedule"]
)


ENDED = {status.value for status in OperationStatus} - {status.value for status in ACTIVE_OPERATION_STATUSES}


def operation_ended(kind: str, status: str) -> None:
    """Count an operation this process ended (not a duplicate delivery, nor one handed back)."""
    if status in ENDED:
        OPERATIONS.labels(kind, status).inc()


def count_documents(outcomes: Iterable) -> None:
    """Count the documents an operation rewrote (pipeline.Outcome; unchanged ones are not work)."""
    for outcome in outcomes:
        if not outcome.unchanged:
            DOCUMENTS.labels(outcome.status.value, outcome.error_category or "").inc()
            CHUNKS.inc(outcome.chunk_count)


class QueueLength(Collector):
    """semantik_worker_queue_length: the messages waiting in the broker for a worker."""

    def __init__(self, app: Celery):
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "semantik_worker_queue_length", "Tasks waiting in the broker's queue", labels=["queue"]
        )
        name = self.app.conf.task_default_queue
        with self.app.connection_for_read() as connection:
            family.add_metric([name], connection.default_channel.client.llen(name))
        yield family


def watch_beat(app: Celery) -> None:
    """Set a schedule's last-run time whenever beat (this process) sends its task."""
    schedules = {entry["task"]: name for name, entry in app.conf.beat_schedule.items()}

    @before_task_publish.connect(weak=False)
    def _sent(sender: str | None = None, **_: object) -> None:
        if sender in schedules:
            BEAT_LAST_RUN.labels(schedules[sender]).set_to_current_time()
