"""Logging set up once at each entry point: plain text locally, JSON lines in deploy."""

from __future__ import annotations

import json
import logging
import logging.config
import re
from typing import Any

CONTEXT = ("room", "client", "job", "request_id")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT:
            value = getattr(record, key, None)
            if value is not None:
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out)


# A link's token in a logged URL (uvicorn logs every websocket's path with its query).
_TOKEN_IN_URL = re.compile(r"([?&](?:token|edit_token|view_token)=)[^&\s\"']+")


class RedactTokens(logging.Filter):
    """Replaces link tokens in any logged URL with ``[redacted]``."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message:
            record.msg = _TOKEN_IN_URL.sub(r"\1[redacted]", message)
            record.args = ()
        return True


def configure(level: str = "INFO", fmt: str = "text") -> None:
    logging.config.dictConfig({
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "text": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"},
            "json": {"()": JsonFormatter},
        },
        "filters": {"redact": {"()": RedactTokens}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": fmt,
                        "filters": ["redact"]},
        },
        "root": {"level": level, "handlers": ["console"]},
        "loggers": {
            "uvicorn.access": {"level": "WARNING"},
            "uvicorn.error": {"level": level},
        },
    })
