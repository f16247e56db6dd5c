"""In-memory state of the sandbox: data, simulated syncs, faults, rules and the request log.

All access goes through `SandboxState.lock` (an RLock). Syncs are not driven by a background
thread: a running sync is settled from the clock whenever it (or its connector) is read.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import itertools
import threading
import time
import uuid
from collections import deque

from . import seed

DEFAULT_FAULTS: dict = {
    "latency_ms": 0,
    "error_rate": 0.0,
    "error_status": 503,
    "timeout_rate": 0.0,
    "hang_seconds": 30.0,
    "non_json_rate": 0.0,
    "rate_limit_rate": 0.0,
    "retry_after": 1,
    "sync_seconds": 20.0,
    "fail_rate": 0.0,
}

RULE_DEFAULTS: dict = {
    "method": None,  # None: any method
    "path_contains": "",  # "" matches every /v1 path
    "times": 1,
    "status": 503,
    "body": "json",  # "json" | "html" | "empty"
    "detail": None,  # text of {"detail": ...} for body "json"; default: the status phrase
    "retry_after": None,
    "delay_ms": 0,
    "hang": False,
    "hang_seconds": None,  # None: the faults' hang_seconds
    "after_commit": False,
    "passthrough": False,  # only apply delay_ms, then answer normally
}

LOG_SIZE = 2000
LISTING_FRACTION = 0.15
CREDENTIAL_ERROR = "The credential has expired or was revoked; reconnect the connector"

_FAILURES = {
    "google-drive": [
        (
            "Google Drive API rate limit exceeded (userRateLimitExceeded) after 5 retries",
            "provider_rate_limited",
        ),
        ("Folder {item} is no longer shared with the connected account", "scope_not_found"),
    ],
    "slack": [
        (
            "Slack API returned 'ratelimited' for conversations.history after 5 retries",
            "provider_rate_limited",
        ),
        ("The bot is not a member of channel {item}", "scope_not_found"),
    ],
    "github": [
        ("GitHub API secondary rate limit hit; try again later", "provider_rate_limited"),
        ("Repository {item} was not found or access was revoked", "scope_not_found"),
    ],
}
_GENERIC_FAILURE = ("Upstream provider returned 502 Bad Gateway after 5 retries", "provider_unavailable")
_SCOPE_KEYS = {"google-drive": "folder_ids", "slack": "channel_ids", "github": "repositories"}


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


def unit_hash(text: str) -> float:
    """A deterministic number in [0, 1) from `text`."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") / 2**32


class SandboxState:
    def __init__(
        self, *, seed_data: bool = True, faults: dict | None = None, oauth_clients: dict[str, list[str]] | None = None
    ) -> None:
        self.lock = threading.RLock()
        self.seed_data = seed_data
        self.default_faults = {**DEFAULT_FAULTS, **(faults or {})}
        # client id -> its registered redirect URIs; those given at start survive reset(), like the seed.
        self.default_oauth_clients = {client_id: tuple(uris) for client_id, uris in (oauth_clients or {}).items()}
        self._seq = itertools.count()
        self.log: deque = deque(maxlen=LOG_SIZE)
        self.reset()

    # ------------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        """Back to the seed: data, keys, faults, rules, clock offset and request log."""
        with self.lock:
            self.clock_offset = 0.0
            self.spaces: dict[str, dict] = {}
            self.collections: dict[str, dict] = {}
            self.connectors: dict[str, dict] = {}
            self.syncs: dict[str, dict] = {}
            self.keys: dict[str, dict] = {}
            self.idempotency: dict[tuple[str, str], dict] = {}
            self.faults = dict(self.default_faults)
            self.rules: list[dict] = []
            self.oauth: dict = {"codes": {}, "refresh": {}}  # the sandbox as an OAuth provider (oauth.py)
            self.oauth_tokens: dict[str, dict] = {}  # access tokens it issued
            self.oauth_clients: dict[str, set[str]] = {k: set(v) for k, v in self.default_oauth_clients.items()}
            self.log.clear()
            seed.load(self, self.now(), with_connectors=self.seed_data)

    def now(self) -> float:
        return time.time() + self.clock_offset

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock forward (running syncs progress accordingly)."""
        with self.lock:
            self.clock_offset += float(seconds)

    def seq(self) -> int:
        return next(self._seq)

    # ------------------------------------------------------------------ seed helpers
    def add_seed_connector(
        self,
        cid,
        collection_id,
        provider,
        status,
        *,
        scope,
        credential,
        created,
        updated,
        credential_valid=True,
    ) -> None:
        self.connectors[cid] = {
            "id": cid,
            "collection_id": collection_id,
            "space_id": self.collections[collection_id]["space_id"],
            "provider_slug": provider,
            "principal_id": seed.DEMO_ADMIN_PRINCIPAL,
            "scope_config": scope,
            "status": status,
            "created_at": created,
            "updated_at": updated,
            "credential": credential,
            "credential_valid": credential_valid,
            "seq": self.seq(),
        }

    def add_seed_sync(self, sid, cid, status, records, created, duration, metadata) -> None:
        self.syncs[sid] = {
            "id": sid,
            "connector_id": cid,
            "status": status,
            "records_fetched": records,
            "metadata": metadata,
            "created_at": created,
            "completed_at": created + duration,
            "seq": self.seq(),
        }

    # ------------------------------------------------------------------ spaces and collections (control API)
    def add_space(self, name: str, space_id: str | None = None, description: str = "") -> dict:
        """A new space (until the next reset), e.g. for a benchmark that needs many collections."""
        space_id = str(uuid.UUID(space_id)) if space_id else str(uuid.uuid4())
        if not name:
            raise ValueError("name is required")
        with self.lock:
            if space_id in self.spaces:
                raise ValueError(f"space {space_id} exists already")
            self.spaces[space_id] = {"space_id": space_id, "name": str(name), "description": str(description)}
            return dict(self.spaces[space_id])

    def add_collection(self, space_id: str, name: str, collection_id: str | None = None, description: str = "") -> dict:
        """A new collection in an existing space (until the next reset)."""
        space_id = str(uuid.UUID(str(space_id)))
        collection_id = str(uuid.UUID(collection_id)) if collection_id else str(uuid.uuid4())
        if not name:
            raise ValueError("name is required")
        with self.lock:
            if space_id not in self.spaces:
                raise ValueError(f"no space {space_id}")
            if collection_id in self.collections:
                raise ValueError(f"collection {collection_id} exists already")
            self.collections[collection_id] = {
                "collection_id": collection_id,
                "space_id": space_id,
                "name": str(name),
                "description": str(description),
            }
            return dict(self.collections[collection_id])

    # ------------------------------------------------------------------ keys
    def add_key(self, key: str, principal: str, spaces="*") -> None:
        with self.lock:
            self.keys[key] = {"principal": principal, "spaces": spaces if spaces == "*" else list(spaces)}

    def principal_for(self, key: str) -> dict | None:
        with self.lock:
            entry = self.keys.get(key)
            return dict(entry) if entry else None

    @staticmethod
    def can_access(principal: dict, space_id: str) -> bool:
        return principal["spaces"] == "*" or space_id in principal["spaces"]

    # ------------------------------------------------------------------ views
    @staticmethod
    def connector_view(c: dict) -> dict:
        return {
            "id": c["id"],
            "collection_id": c["collection_id"],
            "provider_slug": c["provider_slug"],
            "principal_id": c["principal_id"],
            "scope_config": copy.deepcopy(c["scope_config"]) if c["scope_config"] else {},
            "status": c["status"],
            "created_at": iso(c["created_at"]),
            "updated_at": iso(c["updated_at"]),
        }

    def sync_view(self, s: dict, now: float | None = None) -> dict:
        records, metadata = s["records_fetched"], s["metadata"]
        if s["status"] == "running":
            elapsed = (self.now() if now is None else now) - s["created_at"]
            records = self._records_at(s, elapsed)
            metadata = {"phase": self._phase(s, elapsed)}
        return {
            "id": s["id"],
            "collection_connector_id": s["connector_id"],
            "status": s["status"],
            "records_fetched": records,
            "metadata": copy.deepcopy(metadata),
            "created_at": iso(s["created_at"]),
            "completed_at": iso(s["completed_at"]),
        }

    # ------------------------------------------------------------------ syncs
    @staticmethod
    def _records_at(s: dict, elapsed: float) -> int:
        duration = s["duration"]
        if duration <= 0:
            return s["total"]
        start = LISTING_FRACTION * duration
        if elapsed <= start:
            return 0
        return min(s["total"], int(s["total"] * (elapsed - start) / (duration - start)))

    @staticmethod
    def _phase(s: dict, elapsed: float) -> str:
        return "listing" if elapsed < LISTING_FRACTION * s["duration"] else "fetching"

    def syncs_of(self, cid: str) -> list[dict]:
        return [s for s in self.syncs.values() if s["connector_id"] == cid]

    def running_sync(self, cid: str) -> dict | None:
        for s in self.syncs.values():
            if s["connector_id"] == cid and s["status"] == "running":
                return s
        return None

    def settle(self, cid: str, now: float | None = None) -> None:
        """Finish the connector's running sync if its time is up, applying its effects."""
        s = self.running_sync(cid)
        if s is None:
            return
        now = self.now() if now is None else now
        if now - s["created_at"] < s["end_after"]:
            return
        end = s["created_at"] + s["end_after"]
        s["completed_at"] = end
        s["records_fetched"] = self._records_at(s, s["end_after"]) if s["outcome"] == "failed" else s["total"]
        s["status"] = s["outcome"]
        c = self.connectors.get(cid)
        if s["outcome"] == "completed":
            s["metadata"] = {"duration_seconds": round(s["end_after"], 3)}
            if c and c["status"] == "error":
                c["status"], c["updated_at"] = "active", end
        else:
            message, code = s["error"]
            s["metadata"] = {"error": message, "error_code": code}
            if c and code == "credential_expired":
                if c["status"] != "disconnected":
                    c["status"], c["updated_at"] = "disconnected", end
            elif c and c["status"] == "active":
                c["status"], c["updated_at"] = "error", end

    def start_sync(self, c: dict) -> dict:
        now = self.now()
        sid = str(uuid.uuid4())
        duration = max(0.0, float(self.faults["sync_seconds"]))
        total = 40 + int(unit_hash(sid + ":total") * 361)
        s = {
            "id": sid,
            "connector_id": c["id"],
            "status": "running",
            "records_fetched": 0,
            "metadata": {},
            "created_at": now,
            "completed_at": None,
            "duration": duration,
            "total": total,
            "outcome": "completed",
            "end_after": duration,
            "error": None,
            "seq": self.seq(),
        }
        if not c["credential_valid"]:
            s.update(outcome="failed", end_after=min(1.0, duration), error=(CREDENTIAL_ERROR, "credential_expired"))
        elif unit_hash(sid + ":fail") < float(self.faults["fail_rate"]):
            s.update(outcome="failed", end_after=duration * (0.35 + 0.5 * unit_hash(sid + ":when")))
            s["error"] = self._failure(c, sid)
        self.syncs[sid] = s
        return s

    @staticmethod
    def _failure(c: dict, sid: str) -> tuple[str, str]:
        options = list(_FAILURES.get(c["provider_slug"], [])) + [_GENERIC_FAILURE]
        message, code = options[int(unit_hash(sid + ":err") * len(options))]
        if "{item}" in message:
            items = (c["scope_config"] or {}).get(_SCOPE_KEYS.get(c["provider_slug"], ""), []) or []
            if not items:
                return _GENERIC_FAILURE
            message = message.format(item=items[int(unit_hash(sid + ":item") * len(items))])
        return message, code

    def cancel_sync(self, s: dict, principal_id: str, reason: str | None = None) -> None:
        now = self.now()
        elapsed = now - s["created_at"]
        s["records_fetched"] = self._records_at(s, elapsed)
        s["metadata"] = {"cancelled_by": principal_id, "phase": self._phase(s, elapsed)}
        if reason:
            s["metadata"]["reason"] = reason
        s["status"] = "cancelled"
        s["completed_at"] = now

    # ------------------------------------------------------------------ faults, rules, log
    def set_faults(self, **kw) -> dict:
        unknown = set(kw) - set(DEFAULT_FAULTS)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        with self.lock:
            for k, v in kw.items():
                self.faults[k] = type(DEFAULT_FAULTS[k])(v) if v is not None else DEFAULT_FAULTS[k]
            return dict(self.faults)

    def get_faults(self) -> dict:
        with self.lock:
            return dict(self.faults)

    def add_rule(self, **kw) -> dict:
        unknown = set(kw) - set(RULE_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown rule field(s): {', '.join(sorted(unknown))}")
        rule = {**RULE_DEFAULTS, **kw}
        if rule["body"] not in ("json", "html", "empty"):
            raise ValueError("body must be 'json', 'html' or 'empty'")
        rule["times"] = int(rule["times"])
        rule["status"] = int(rule["status"])
        if rule["method"]:
            rule["method"] = str(rule["method"]).upper()
        with self.lock:
            self.rules.append(rule)
            return dict(rule)

    def clear_rules(self) -> None:
        with self.lock:
            self.rules.clear()

    def take_rule(self, method: str, path: str) -> dict | None:
        """The first rule matching this request, with one use consumed; None if none matches."""
        with self.lock:
            for rule in self.rules:
                if rule["times"] <= 0:
                    continue
                if rule["method"] and rule["method"] != method:
                    continue
                if rule["path_contains"] and rule["path_contains"] not in path:
                    continue
                rule["times"] -= 1
                taken = dict(rule)
                self.rules = [r for r in self.rules if r["times"] > 0]
                return taken
            return None

    def log_request(self, entry: dict) -> dict:
        with self.lock:
            self.log.append(entry)
        return entry

    def update_log(self, entry: dict, **kw) -> None:
        with self.lock:
            entry.update(kw)

    def requests(self) -> list[dict]:
        with self.lock:
            return [dict(e) for e in self.log]

    def clear_requests(self) -> None:
        with self.lock:
            self.log.clear()

    def credential(self, cid: str) -> dict | None:
        with self.lock:
            c = self.connectors.get(cid)
            return copy.deepcopy(c["credential"]) if c else None
