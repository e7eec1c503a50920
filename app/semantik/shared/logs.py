"""How the services log: one JSON object per line (LOG_FORMAT=json, the hosts' setting) with the time,
the level, the logger, the message and, where there is one, the correlation id (a web request's
X-Correlation-ID, a worker's operation); or plain lines for a person at a terminal (text).

Nothing here adds a secret: the messages are the code's own, and SQL parameters never reach a log
(shared/db.py, hide_parameters)."""

from __future__ import annotations

import json
import logging
import logging.config
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

# Set by webui's CorrelationId middleware for a request, by the worker for an operation.
CORRELATION_ID: ContextVar[str | None] = ContextVar("correlation_id", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        correlation = CORRELATION_ID.get()
        if correlation:
            entry["correlation_id"] = correlation
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextLines(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        correlation = CORRELATION_ID.get()
        return f"{line} [{correlation}]" if correlation else line


def config(log_format: str, level: str = "INFO") -> dict[str, Any]:
    """A dictConfig: every logger to stderr (the journal) in the one format. gunicorn's loggers name
    the handler themselves: its uvicorn workers copy their handlers, not the root's."""
    formatter = JsonLines if log_format == "json" else TextLines
    handler = {"class": "logging.StreamHandler", "formatter": "lines", "stream": "ext://sys.stderr"}
    own = {"handlers": ["stderr"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"lines": {"()": f"{__name__}.{formatter.__name__}"}},
        "handlers": {"stderr": handler},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {**own, "level": level},
            "gunicorn.access": {**own, "level": "INFO"},
        },
    }


def setup(log_format: str, level: str = "INFO") -> None:
    logging.config.dictConfig(config(log_format, level))
    logging.captureWarnings(True)  # Python's warnings as log lines too, not loose text on stderr
