"""How a worker stops: the Celery settings WORKER_STOP_GRACE turns into (the behaviour itself is
tests/worker/tasks/test_operation_faults.py's SIGTERM test)."""

from __future__ import annotations

from celery import Celery

from semantik.shared.config import Settings
from semantik.worker.celery_app import configure


def test_the_stop_grace_is_the_soft_shutdown_and_an_idle_worker_stops_at_once() -> None:
    assert Settings().worker_stop_grace == 20.0
    conf = configure(Celery(), Settings(worker_stop_grace=7)).conf
    assert conf.worker_soft_shutdown_timeout == 7.0
    assert conf.worker_enable_soft_shutdown_on_idle is False
    assert conf.task_acks_late and conf.task_reject_on_worker_lost  # what makes the handed-back task resume
