"""The request id of the current console request, attached to every log line."""

import contextvars
import json
import logging
from datetime import UTC, datetime

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        request_id = request_id_var.get()
        if request_id == "-":
            # django.request logs 4xx/5xx after the middleware returned, with the request attached.
            request_id = getattr(getattr(record, "request", None), "request_id", "-")
        record.request_id = request_id
        return True


class OAuthQueryRedactingFilter(logging.Filter):
    """Drops the query string of /oauth/ request lines (runserver logs the whole request line, and an OAuth
    callback's query holds the authorization code and state)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple) and isinstance(record.args[0], str):
            line = record.args[0]
            if "/oauth/" in line and "?" in line:
                method_and_path, _, rest = line.partition("?")
                protocol = rest.rsplit(" ", 1)[1] if " " in rest else ""
                record.args = (f"{method_and_path}?[redacted] {protocol}".rstrip(), *record.args[1:])
        return True


# Attributes every LogRecord has: anything else on a record came from `extra=` and goes into the JSON line.
_RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys() | {"message", "asctime", "request_id"}
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line (LOG_FORMAT=json): what a PaaS log drain can search by field.

    {"ts": "...", "level": "INFO", "logger": "connectors.requests", "request_id": "...", "message": "...", ...}
    plus any `extra=` fields of the record (e.g. method, path, status, duration_ms) and "exc" with a traceback.
    """

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", request_id_var.get()),
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key in _RECORD_ATTRIBUTES or key.startswith("_"):
                continue
            if isinstance(value, str | int | float | bool | type(None)):
                line[key] = value
            elif hasattr(value, "method") and hasattr(value, "path"):
                line[key] = f"{value.method} {value.path}"  # an HttpRequest: never its query string
            # anything else is left out: its str() could hold what a log must not
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)
