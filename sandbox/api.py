"""The /v1 API of the sandbox: routing, FastAPI/pydantic-style validation and the endpoints.

Pure functions of (SandboxState, Request) -> Response; no HTTP here.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from urllib.parse import unquote

from .state import SandboxState
from .tree import TREES

PROVIDERS = ("google-drive", "slack", "github")
CONNECTOR_STATUSES = ("active", "paused", "error", "disconnected")
PATCH_STATUSES = ("active", "paused")
SYNC_STATUSES = ("running", "completed", "failed", "cancelled")
REPO_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$"
_REPO_RE = re.compile(REPO_PATTERN)
SCOPE_FIELDS = {"google-drive": "folder_ids", "slack": "channel_ids", "github": "repositories"}
_MISSING = object()


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    principal: dict | None = None  # {"principal": ..., "spaces": ...}


@dataclass
class Response:
    status: int
    payload: object = None
    headers: dict[str, str] = field(default_factory=dict)


def detail(status: int, text: str, **headers: str) -> Response:
    return Response(status, {"detail": text}, headers)


class HTTPError(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def fail(status: int, text: str) -> HTTPError:
    return HTTPError(detail(status, text))


# ---------------------------------------------------------------------- validation helpers
def _err(errors: list, type_: str, loc: list, msg: str, input_=_MISSING, ctx: dict | None = None) -> None:
    item: dict = {"type": type_, "loc": loc, "msg": msg}
    if input_ is not _MISSING:
        item["input"] = input_
    if ctx:
        item["ctx"] = ctx
    errors.append(item)


def _enum_text(values) -> str:
    quoted = [f"'{v}'" for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _check_enum(errors: list, loc: list, value, allowed) -> bool:
    if isinstance(value, str) and value in allowed:
        return True
    expected = _enum_text(allowed)
    _err(errors, "enum", loc, f"Input should be {expected}", value, {"expected": expected})
    return False


def _uuid_reason(value: str) -> str:
    text = value[9:] if value.lower().startswith("urn:uuid:") else value
    for i, ch in enumerate(text):
        if ch not in "0123456789abcdefABCDEF-":
            return (
                "invalid character: expected an optional prefix of `urn:uuid:` followed by "
                f"[0-9a-fA-F-], found `{ch}` at {i + 1}"
            )
    if "-" in text:
        groups = text.split("-")
        if len(groups) != 5:
            return f"invalid group count: expected 5, found {len(groups)}"
        return "invalid group length"
    return f"invalid length: expected length 32 for simple format, found {len(text)}"


def check_uuid(errors: list, loc: list, value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        reason = _uuid_reason(value)
        _err(errors, "uuid_parsing", loc, f"Input should be a valid UUID, {reason}", value, {"error": reason})
        return None


def query_int(errors: list, req: Request, name: str, default: int, ge: int | None = None, le: int | None = None):
    raw = req.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        _err(
            errors,
            "int_parsing",
            ["query", name],
            "Input should be a valid integer, unable to parse string as an integer",
            raw,
        )
        return default
    if ge is not None and value < ge:
        _err(
            errors,
            "greater_than_equal",
            ["query", name],
            f"Input should be greater than or equal to {ge}",
            raw,
            {"ge": ge},
        )
    elif le is not None and value > le:
        _err(
            errors,
            "less_than_equal",
            ["query", name],
            f"Input should be less than or equal to {le}",
            raw,
            {"le": le},
        )
    return value


def query_enum(errors: list, req: Request, name: str, allowed) -> str | None:
    raw = req.query.get(name)
    if raw is None or raw == "":
        return None
    _check_enum(errors, ["query", name], raw, allowed)
    return raw


def paging(errors: list, req: Request) -> tuple[int, int]:
    limit = query_int(errors, req, "limit", 50, ge=1, le=100)
    offset = query_int(errors, req, "offset", 0, ge=0)
    return limit, offset


def parse_body(errors: list, req: Request, required: bool = True):
    if not req.body.strip():
        if required:
            _err(errors, "missing", ["body"], "Field required", None)
        return None
    try:
        body = json.loads(req.body)
    except (ValueError, UnicodeDecodeError) as exc:
        _err(
            errors,
            "json_invalid",
            ["body"],
            "JSON decode error",
            {},
            {"error": getattr(exc, "msg", str(exc))},
        )
        return None
    if not isinstance(body, dict):
        _err(
            errors,
            "model_attributes_type",
            ["body"],
            "Input should be a valid dictionary or object to extract fields from",
            body,
        )
        return None
    return body


def _check_str(errors: list, loc: list, value, min_length: int = 0) -> bool:
    if not isinstance(value, str):
        _err(errors, "string_type", loc, "Input should be a valid string", value)
        return False
    if len(value.strip()) < min_length:
        _err(
            errors,
            "string_too_short",
            loc,
            f"String should have at least {min_length} character" + ("s" if min_length != 1 else ""),
            value,
            {"min_length": min_length},
        )
        return False
    return True


def check_credential(errors: list, value, loc: list) -> None:
    if not isinstance(value, dict):
        _err(
            errors,
            "model_attributes_type",
            loc,
            "Input should be a valid dictionary or object to extract fields from",
            value,
        )
        return
    if "access_token" not in value:
        _err(errors, "missing", [*loc, "access_token"], "Field required", value)
    else:
        _check_str(errors, [*loc, "access_token"], value["access_token"], 1)
    if value.get("refresh_token") is not None:
        _check_str(errors, [*loc, "refresh_token"], value["refresh_token"])
    expires = value.get("expires_at")
    if expires is not None and (isinstance(expires, bool) or not isinstance(expires, str | int | float)):
        _err(errors, "datetime_type", [*loc, "expires_at"], "Input should be a valid datetime", expires)


def check_scope(errors: list, provider: str | None, value, loc: list) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        _err(errors, "dict_type", loc, "Input should be a valid dictionary", value)
        return
    key = SCOPE_FIELDS.get(provider or "")
    if key is None or value.get(key) is None:
        return
    items = value[key]
    if not isinstance(items, list):
        _err(errors, "list_type", [*loc, key], "Input should be a valid list", items)
        return
    for i, item in enumerate(items):
        if not _check_str(errors, [*loc, key, i], item, 1):
            continue
        if key == "repositories" and not _REPO_RE.match(item):
            _err(
                errors,
                "string_pattern_mismatch",
                [*loc, key, i],
                f"String should match pattern '{REPO_PATTERN}'",
                item,
                {"pattern": REPO_PATTERN},
            )


def raise_if(errors: list) -> None:
    if errors:
        raise HTTPError(Response(422, {"detail": errors}))


def page(items: list, limit: int, offset: int) -> Response:
    return Response(
        200,
        {
            "data": items[offset : offset + limit],
            "meta": {"total": len(items), "limit": limit, "offset": offset},
        },
    )


# ---------------------------------------------------------------------- lookups (state lock held)
def _space(state: SandboxState, req: Request, space_id: str) -> dict:
    space = state.spaces.get(space_id)
    if space is None:
        raise fail(404, "Space not found")
    if not state.can_access(req.principal, space_id):
        raise fail(403, "Not enough permissions for this space")
    return space


def _collection(state: SandboxState, req: Request, space_id: str, collection_id: str) -> dict:
    _space(state, req, space_id)
    coll = state.collections.get(collection_id)
    if coll is None or coll["space_id"] != space_id:
        raise fail(404, "Collection not found")
    return coll


def _connector(state: SandboxState, req: Request, space_id: str, collection_id: str, connector_id: str) -> dict:
    _collection(state, req, space_id, collection_id)
    c = state.connectors.get(connector_id)  # by its id as stored: Aimable's ids are opaque (the sandbox's are UUIDs)
    if c is None:
        try:
            c = state.connectors.get(str(uuid.UUID(connector_id)))  # a UUID written otherwise
        except ValueError:
            c = None
    if c is None or c["collection_id"] != collection_id:
        raise fail(404, "Connector not found")
    state.settle(c["id"])
    return c


def _path_ids(errors: list, space_id: str, collection_id: str | None = None):
    sid = check_uuid(errors, ["path", "space_id"], space_id)
    cid = check_uuid(errors, ["path", "collection_id"], collection_id) if collection_id is not None else None
    return sid, cid


def _newest_first(items: list[dict]) -> list[dict]:
    return sorted(items, key=lambda x: (x["created_at"], x["seq"]), reverse=True)


# ---------------------------------------------------------------------- endpoints
def list_spaces(state: SandboxState, req: Request) -> Response:
    errors: list = []
    limit, offset = paging(errors, req)
    raise_if(errors)
    with state.lock:
        items = [dict(s) for sid, s in state.spaces.items() if state.can_access(req.principal, sid)]
    return page(items, limit, offset)


def get_space(state: SandboxState, req: Request, space_id: str) -> Response:
    errors: list = []
    sid, _ = _path_ids(errors, space_id)
    raise_if(errors)
    with state.lock:
        return Response(200, {"data": dict(_space(state, req, sid))})


def list_collections(state: SandboxState, req: Request, space_id: str) -> Response:
    errors: list = []
    sid, _ = _path_ids(errors, space_id)
    limit, offset = paging(errors, req)
    raise_if(errors)
    with state.lock:
        _space(state, req, sid)
        items = [dict(c) for c in state.collections.values() if c["space_id"] == sid]
    return page(items, limit, offset)


def get_collection(state: SandboxState, req: Request, space_id: str, collection_id: str) -> Response:
    errors: list = []
    sid, cid = _path_ids(errors, space_id, collection_id)
    raise_if(errors)
    with state.lock:
        return Response(200, {"data": dict(_collection(state, req, sid, cid))})


def list_connectors(state: SandboxState, req: Request, space_id: str, collection_id: str) -> Response:
    errors: list = []
    sid, cid = _path_ids(errors, space_id, collection_id)
    limit, offset = paging(errors, req)
    status = query_enum(errors, req, "status", CONNECTOR_STATUSES)
    provider = query_enum(errors, req, "provider_slug", PROVIDERS)
    raise_if(errors)
    with state.lock:
        _collection(state, req, sid, cid)
        found = [c for c in state.connectors.values() if c["collection_id"] == cid]
        for c in found:
            state.settle(c["id"])
        found = [
            c
            for c in found
            if (status is None or c["status"] == status) and (provider is None or c["provider_slug"] == provider)
        ]
        items = [state.connector_view(c) for c in _newest_first(found)]
    return page(items, limit, offset)


def create_connector(state: SandboxState, req: Request, space_id: str, collection_id: str) -> Response:
    errors: list = []
    sid, cid = _path_ids(errors, space_id, collection_id)
    idem = req.headers.get("idempotency-key")
    if idem is None:
        _err(errors, "missing", ["header", "idempotency-key"], "Field required", None)
    elif not idem.strip():
        _check_str(errors, ["header", "idempotency-key"], idem, 1)
    body = parse_body(errors, req)
    provider = None
    if body is not None:
        if "provider_slug" not in body:
            _err(errors, "missing", ["body", "provider_slug"], "Field required", body)
        elif _check_enum(errors, ["body", "provider_slug"], body["provider_slug"], PROVIDERS):
            provider = body["provider_slug"]
        if "credential" not in body:
            _err(errors, "missing", ["body", "credential"], "Field required", body)
        else:
            check_credential(errors, body["credential"], ["body", "credential"])
        check_scope(errors, provider, body.get("scope_config"), ["body", "scope_config"])
    raise_if(errors)

    with state.lock:
        _collection(state, req, sid, cid)
        principal_id = req.principal["principal"]
        fingerprint = hashlib.sha256(json.dumps({"collection": cid, "body": body}, sort_keys=True).encode()).hexdigest()
        key = (principal_id, idem)
        previous = state.idempotency.get(key)
        if previous is not None:
            if previous["fingerprint"] != fingerprint:
                # 422 as the IETF Idempotency-Key draft says; its 409 (same key still in flight) cannot happen
                # here, since the check and the create run under one lock.
                raise fail(422, f"Idempotency-Key '{idem}' was already used with a different request body")
            return Response(201, copy.deepcopy(previous["payload"]), {"Idempotent-Replayed": "true"})
        now = state.now()
        c = {
            "id": str(uuid.uuid4()),
            "collection_id": cid,
            "space_id": sid,
            "provider_slug": provider,
            "principal_id": principal_id,
            "scope_config": copy.deepcopy(body.get("scope_config")) or {},
            "status": "active",
            "created_at": now,
            "updated_at": now,
            "credential": copy.deepcopy(body["credential"]),
            "credential_valid": True,
            "seq": state.seq(),
        }
        state.connectors[c["id"]] = c
        payload = {"data": state.connector_view(c)}
        state.idempotency[key] = {"fingerprint": fingerprint, "payload": copy.deepcopy(payload)}
    return Response(201, payload)


def get_connector(state: SandboxState, req: Request, space_id: str, collection_id: str, connector_id: str):
    errors: list = []
    sid, cid = _path_ids(errors, space_id, collection_id)
    raise_if(errors)
    with state.lock:
        return Response(200, {"data": state.connector_view(_connector(state, req, sid, cid, connector_id))})


def patch_connector(state: SandboxState, req: Request, space_id: str, collection_id: str, connector_id: str):
    errors: list = []
    sid, cid = _path_ids(errors, space_id, collection_id)
    body = parse_body(errors, req)
    raise_if(errors)
    with state.lock:
        c = _connector(state, req, sid, cid, connector_id)
        if body.get("scope_config") is not None:
            check_scope(errors, c["provider_slug"], body["scope_config"], ["body", "scope_config"])
        if body.get("credential") is not None:
            check_credential(errors, body["credential"], ["body", "credential"])
        if body.get("status") is not None:
            _check_enum(errors, ["body", "status"], body["status"], PATCH_STATUSES)
        raise_if(errors)
        if body.get("scope_config") is not None:
            c["scope_config"] = copy.deepcopy(body["scope_config"])
        if body.get("credential") is not None:
            c["credential"] = copy.deepcopy(body["credential"])
            c["credential_valid"] = True
            if c["status"] in ("disconnected", "error"):
                c["status"] = "active"
        if body.get("status") is not None:
            c["status"] = body["status"]
        c["updated_at"] = max(state.now(), c["updated_at"] + 0.001)
        return Response(200, {"data": state.connector_view(c)})


def delete_connector(state: SandboxState, req: Request, space_id: str, collection_id: str, connector_id: str):
    errors: list = []
    sid, cid = _path_ids(errors, space_id, collection_id)
    raise_if(errors)
    with state.lock:
        c = _connector(state, req, sid, cid, connector_id)
        running = state.running_sync(c["id"])
        if running is not None:
            state.cancel_sync(running, req.principal["principal"], reason="connector_deleted")
        del state.connectors[c["id"]]
        for s in state.syncs_of(c["id"]):
            del state.syncs[s["id"]]
    return Response(204)


def browse(state: SandboxState, req: Request, space_id: str, collection_id: str, connector_id: str):
    errors: list = []
    sid, cid = _path_ids(errors, space_id, collection_id)
    limit, offset = paging(errors, req)
    raise_if(errors)
    parent_id = req.query.get("parent_id") or None
    with state.lock:
        c = _connector(state, req, sid, cid, connector_id)
        provider = c["provider_slug"]
        if not c["credential_valid"]:
            raise fail(409, "The credential has expired or was revoked; reconnect the connector")
    tree = TREES[provider]
    if not tree.has_parent(parent_id):
        raise fail(404, "Resource not found")
    items = [dict(i) for i in tree.list(parent_id)]
    return page(items, limit, offset)


def list_syncs(state: SandboxState, req: Request, space_id: str, collection_id: str, connector_id: str):
    errors: list = []
    sid, cid = _path_ids(errors, space_id, collection_id)
    limit, offset = paging(errors, req)
    status = query_enum(errors, req, "status", SYNC_STATUSES)
    raise_if(errors)
    with state.lock:
        c = _connector(state, req, sid, cid, connector_id)
        found = [s for s in state.syncs_of(c["id"]) if status is None or s["status"] == status]
        now = state.now()
        items = [state.sync_view(s, now) for s in _newest_first(found)]
    return page(items, limit, offset)


def trigger_sync(state: SandboxState, req: Request, space_id: str, collection_id: str, connector_id: str):
    errors: list = []
    sid, cid = _path_ids(errors, space_id, collection_id)
    raise_if(errors)
    with state.lock:
        c = _connector(state, req, sid, cid, connector_id)
        if c["status"] == "paused":
            raise fail(409, "Connector is paused")
        if state.running_sync(c["id"]) is not None:
            raise fail(409, "A sync is already running for this connector")
        s = state.start_sync(c)
        view = state.sync_view(s, s["created_at"])
        view["status"] = "running"
        view["completed_at"] = None
    return Response(202, {"data": view})


def get_sync(state: SandboxState, req: Request, space_id: str, collection_id: str, connector_id: str, sync_id: str):
    errors: list = []
    sid, cid = _path_ids(errors, space_id, collection_id)
    raise_if(errors)
    with state.lock:
        c = _connector(state, req, sid, cid, connector_id)
        try:
            sync_id = str(uuid.UUID(sync_id))
        except ValueError:
            raise fail(404, "Sync not found") from None
        s = state.syncs.get(sync_id)
        if s is None or s["connector_id"] != c["id"]:
            raise fail(404, "Sync not found")
        return Response(200, {"data": state.sync_view(s)})


def cancel_sync(state: SandboxState, req: Request, space_id: str, collection_id: str, connector_id: str):
    errors: list = []
    sid, cid = _path_ids(errors, space_id, collection_id)
    raise_if(errors)
    with state.lock:
        c = _connector(state, req, sid, cid, connector_id)
        s = state.running_sync(c["id"])
        if s is None:
            raise fail(409, "No sync is running for this connector")
        state.cancel_sync(s, req.principal["principal"])
        return Response(200, {"data": state.sync_view(s)})


# ---------------------------------------------------------------------- routing
_SEG = r"([^/]+)"
_CONN = rf"/v1/spaces/{_SEG}/collections/{_SEG}/connectors"
ROUTES: list[tuple[re.Pattern, dict]] = [
    (re.compile(r"/v1/spaces"), {"GET": list_spaces}),
    (re.compile(rf"/v1/spaces/{_SEG}"), {"GET": get_space}),
    (re.compile(rf"/v1/spaces/{_SEG}/collections"), {"GET": list_collections}),
    (re.compile(rf"/v1/spaces/{_SEG}/collections/{_SEG}"), {"GET": get_collection}),
    (re.compile(_CONN), {"GET": list_connectors, "POST": create_connector}),
    (
        re.compile(rf"{_CONN}/{_SEG}"),
        {"GET": get_connector, "PATCH": patch_connector, "DELETE": delete_connector},
    ),
    (re.compile(rf"{_CONN}/{_SEG}/browse"), {"GET": browse}),
    (re.compile(rf"{_CONN}/{_SEG}/sync"), {"GET": list_syncs, "POST": trigger_sync}),
    (re.compile(rf"{_CONN}/{_SEG}/sync/cancel"), {"POST": cancel_sync}),
    (re.compile(rf"{_CONN}/{_SEG}/sync/{_SEG}"), {"GET": get_sync}),
]


def resolve(method: str, path: str):
    """(handler, path params) for the request, or an error Response (404 or 405)."""
    path = path.rstrip("/") or "/"
    allowed: list[str] = []
    for pattern, methods in ROUTES:
        m = pattern.fullmatch(path)
        if not m:
            continue
        handler = methods.get("GET" if method == "HEAD" else method)
        if handler is not None:
            return handler, [unquote(g) for g in m.groups()]
        allowed.extend(methods)
    if allowed:
        return detail(405, "Method Not Allowed", Allow=", ".join(dict.fromkeys(allowed))), None
    return detail(404, "Not Found"), None


def authenticate(state: SandboxState, req: Request) -> tuple[dict | None, str | None, Response | None]:
    """(principal entry, auth style, error response)."""
    auth = req.headers.get("authorization")
    key, style = None, None
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            key, style = token.strip(), "bearer"
    if key is None and req.headers.get("x-api-key"):
        key, style = req.headers["x-api-key"].strip(), "x-api-key"
    if key is None:
        return None, None, detail(401, "Not authenticated", **{"WWW-Authenticate": "Bearer"})
    principal = state.principal_for(key)
    if principal is None:
        return None, style, detail(401, "Invalid API key", **{"WWW-Authenticate": "Bearer"})
    return principal, style, None


def handle(state: SandboxState, req: Request) -> tuple[Response, str | None]:
    """Answer one /v1 request; also returns the auth style for the request log."""
    handler, params = resolve(req.method, req.path)
    if isinstance(handler, Response):
        return handler, None
    principal, style, error = authenticate(state, req)
    if error is not None:
        return error, style
    req.principal = principal
    try:
        return handler(state, req, *params), style
    except HTTPError as exc:
        return exc.response, style
