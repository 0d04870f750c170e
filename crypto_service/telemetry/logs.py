"""Log set-up for `crypto serve`: text (the default) or one JSON object per line.

In JSON (`CRYPTO_LOG_FORMAT=json`, python-json-logger) every record has `time` (ISO 8601, UTC),
`level`, `logger`, `process` and `message`, plus what the record carries as `extra` (the access
log's `method`, `code`, `duration_ms`, `peer`, `user`, `trace_id`) and `exc_info` with a
traceback. Python warnings go through logging too, so they are JSON lines as well.
"""

from __future__ import annotations

import logging
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"
JSON_FIELDS = "%(levelname)s %(name)s %(process)d %(message)s"

# grpclib logs one INFO line per call a client cancels or lets expire; the access log already
# records each with its status, and at 10,000 subscribers they drown everything else.
PER_CALL_GRPCLIB_LINES = ("Request was cancelled: %s", "Deadline exceeded")


class PerCallLinesToDebug(logging.Filter):
    """Demotes grpclib's per-call lines to DEBUG (dropped unless its logger allows DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or record.msg not in PER_CALL_GRPCLIB_LINES:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def formatter(log_format: Literal["text", "json"]) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter(JSON_FIELDS, timestamp="time",
                             rename_fields={"levelname": "level", "name": "logger"})
    return logging.Formatter(TEXT_FORMAT)


_demoted = PerCallLinesToDebug()


def demote_per_call_lines() -> None:
    server_log = logging.getLogger("grpclib.server")
    if _demoted not in server_log.filters:
        server_log.addFilter(_demoted)


def configure_logging(level: str, log_format: Literal["text", "json"]) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(log_format))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    logging.captureWarnings(True)
    logging.getLogger("tortoise").setLevel(logging.WARNING)
    demote_per_call_lines()
