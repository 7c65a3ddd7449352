"""Logging of the gateway: ``LOG_FORMAT=text`` (default, one readable line) or ``json`` (one JSON object per
line: time, level, logger, message, service, and the record's extra fields), for a log collector.

The project's log lines never carry message texts (conversations appear as a hash, see
gateway/handoff/router.py ``conversation_ref``); the JSON format adds nothing to them.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# What every LogRecord has; anything else on a record came from ``extra={…}`` and is written as a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
                    .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(log_format: str = "text", level: str = "INFO", service: str = "gateway") -> bool:
    """Sets up the root logger; returns True for JSON (then call ``adopt_library_loggers`` once the app exists)."""
    as_json = (log_format or "text").strip().lower() == "json"
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(service) if as_json else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return as_json


def adopt_library_loggers() -> None:
    """Libraries that install handlers of their own (Sanic's dictConfig, engine.io's stream handler) write
    through the root logger instead, so every line has the same (JSON) format."""
    for logger in list(logging.root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and logger.handlers:
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            logger.propagate = True
