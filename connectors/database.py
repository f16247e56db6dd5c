"""The console's own database: when it is unreachable, a clear 503 page (JSON for /healthz), never a traceback;
raw_rows_in, the lists' reads of many rows by id; and raw_rows_where, the small keyed reads of every page.

A failing query inside a view reaches DatabaseUnavailableMiddleware.process_exception; one in a middleware (the
session or the signed-in user are read before the view runs) reaches handler500 (connectors.views.errors), which
asks `database_unavailable_response` too.
"""

import logging

from django.db import connection
from django.db.utils import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template import loader

logger = logging.getLogger("connectors.database")

DATABASE_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 30

_FALLBACK = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Database not reachable</title></head>'
    "<body><h1>The console's database is not reachable</h1><p>Try again in a minute.</p>"
    '<p><a href="">Try again</a></p></body></html>'
)


def is_database_error(exc: BaseException | None) -> bool:
    return isinstance(exc, DATABASE_ERRORS)


def database_unavailable_response(request, exc: BaseException | None = None) -> HttpResponse:
    """503 with a page saying so (no context processors: they would ask the database again)."""
    logger.error("database not reachable on %s: %s", request.path, type(exc).__name__ if exc else "-")
    if request.path.rstrip("/") == "/healthz":
        response = JsonResponse({"status": "error", "checks": {"database": "error"}}, status=503)
    else:
        try:
            body = loader.get_template("errors/database.html").render(
                {"request_id": getattr(request, "request_id", ""), "retry_url": request.get_full_path()}
            )
        except Exception:  # noqa: BLE001 - the error page itself must never fail
            body = _FALLBACK
        response = HttpResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    """Turns a database failure inside a view into the 503 page, in development too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_database_error(exception):
            return database_unavailable_response(request, exception)
        return None


IN_BATCH = 500  # values per IN list: far below any backend's limit on parameters


def raw_rows_in(model, *, select: str, column: str, values, where: str = "", params=()):
    """``model`` rows from ``select`` (a SELECT ... FROM ..., identifiers from the models' metadata, quoted) whose
    ``column`` is one of ``values`` (strings), ``where`` and its ``params`` too, as model instances.

    For the lists' per-row reads (health marks, names: 100 ids a page): Django's ``__in`` prepares each value
    through the field, about 0.4 ms for 100 ids, more than the query; a raw statement passes them as they are.
    """
    values = list(values)
    condition = f"{where} AND " if where else ""
    for start in range(0, len(values), IN_BATCH):
        batch = values[start : start + IN_BATCH]
        placeholders = ", ".join(["%s"] * len(batch))
        yield from model.objects.raw(
            f"{select} WHERE {condition}{column} IN ({placeholders})",  # noqa: S608 - identifiers, then parameters
            [*params, *batch],
        )


def raw_rows_where(model, **equal):
    """``model`` rows whose fields equal the values given (``user=<pk>``, ``space_id=<uuid>``), as model instances.

    For the small keyed reads every page makes (the breadcrumb's remembered names, the user's watches): compiling a
    queryset costs ~0.3 ms, three times the query on SQLite; a raw statement passes each value through its field
    (a UUID as the backend stores it) and skips the compiler.
    """
    quote = connection.ops.quote_name
    meta = model._meta
    conditions, params = [], []
    for name, value in equal.items():
        field = meta.get_field(name)
        conditions.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_value(value, connection, prepared=False))
    where = " AND ".join(conditions)
    return model.objects.raw(f"SELECT * FROM {quote(meta.db_table)} WHERE {where}", params)  # noqa: S608 - metadata


def raw_row_where(model, **equal):
    """The one ``model`` row whose unique key is ``equal`` (see raw_rows_where), or None."""
    return next(iter(raw_rows_where(model, **equal)), None)
