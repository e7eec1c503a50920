"""`semantik webui`: gunicorn managing uvicorn workers, configured from the settings only."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from semantik.shared import logs, metrics
from semantik.shared.config import Settings


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict[str, Any]):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from semantik.webui.main import create_app

        return create_app()


def serve(settings: Settings) -> None:
    tls = {}
    if settings.webui_tls_cert and settings.webui_tls_key:  # problems() refuses half a pair
        tls = {"certfile": str(settings.webui_tls_cert), "keyfile": str(settings.webui_tls_key)}
    hooks = {}
    if settings.metrics_port:
        metrics.multiprocess("webui")  # before a worker imports prometheus_client
        # The master serves every worker's counts and forgets a worker that exits.
        hooks = {
            "when_ready": lambda _server: metrics.serve(settings),
            "child_exit": lambda _server, worker: metrics.process_exited(worker.pid),
        }
    _Gunicorn(
        {
            **tls,
            **hooks,
            "bind": f"{settings.webui_host}:{settings.webui_port}",
            "workers": settings.webui_workers,
            "worker_class": "uvicorn_worker.UvicornWorker",
            "accesslog": "-",
            "logconfig_dict": logs.config(settings.log_format, settings.log_level),
            "graceful_timeout": 30,
            "timeout": 120,
            # Only these proxies may name the client (login limits count per client address).
            "forwarded_allow_ips": settings.webui_forwarded_allow_ips,
        }
    ).run()
