"""Prometheus metrics: each service serves its own on METRICS_HOST:METRICS_PORT (none when 0).

Services that fork (gunicorn's workers, Celery's pool) count in every process: prometheus_client's
multiprocess mode adds them up from files in a directory that PROMETHEUS_MULTIPROC_DIR names before
prometheus_client is first imported, hence ``multiprocess()`` first thing in such a service, and the
parent, which serves them, forgets each child that exits (``process_exited``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from semantik.shared.config import Settings

if TYPE_CHECKING:
    from prometheus_client.registry import Collector

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess(service: str) -> Path:
    """A new, empty directory for this service's processes to count in (a restart starts from zero, as
    a counter's reset should look), removed when the process that made it exits."""
    if "prometheus_client" in sys.modules and MULTIPROCESS_ENV not in os.environ:
        raise RuntimeError("prometheus_client was imported before its multiprocess directory was set")
    parent = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    folder = Path(tempfile.mkdtemp(prefix=f"semantik-{service}-metrics-", dir=parent))
    os.environ[MULTIPROCESS_ENV] = str(folder)
    owner = os.getpid()

    def remove() -> None:
        if os.getpid() == owner:  # not a forked child that exits
            shutil.rmtree(folder, ignore_errors=True)

    atexit.register(remove)
    return folder


def process_exited(pid: int) -> None:
    if MULTIPROCESS_ENV in os.environ:
        from prometheus_client import multiprocess as mp

        mp.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def serve(settings: Settings, *collectors: Collector) -> None:
    """Serve this process's metrics (every process's, in multiprocess mode) from a thread, with the
    collectors that read their figures at scrape time."""
    if not settings.metrics_port:
        return
    from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
    from prometheus_client import multiprocess as mp

    registry = REGISTRY
    if MULTIPROCESS_ENV in os.environ:
        registry = CollectorRegistry()
        mp.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    for collector in collectors:
        registry.register(collector)
    start_http_server(settings.metrics_port, settings.metrics_host, registry)
