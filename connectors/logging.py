"""The request id of the current console request, attached to every log line."""

import contextvars
import logging

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
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
