"""The demo data: fixed ids, API keys, spaces, collections, connectors and their past syncs."""

from __future__ import annotations

import hashlib
import uuid

from .tree import (
    DESIGN_FOLDER_ID,
    ENGINEERING_FOLDER_ID,
    FINANCE_FOLDER_ID,
    ONBOARDING_FOLDER_ID,
    slack_channel_id,
)

DEMO_ADMIN_KEY = "aim_demo_admin_4f7c2a9e1b6d"
DEMO_LIMITED_KEY = "aim_demo_limited_8d3e6b0a5c2f"
DEMO_ADMIN_PRINCIPAL = "user-demo-admin"
DEMO_LIMITED_PRINCIPAL = "user-demo-limited"

DEMO_SPACE_ID = "7a5f3b1d-8e2c-4f1a-b9c0-1d2e3f4a5b6c"  # "Acme Corp"
DEMO_COLLECTION_ID = "9c8d7e6f-5a4b-3c2d-1e0f-2a3b4c5d6e7f"  # "Engineering Wiki"
SALES_COLLECTION_ID = "3b6e9f2a-4c7d-4e1b-8a5f-0d2c6e9b1a47"  # "Sales Playbooks"
EMPTY_COLLECTION_ID = "5d1f8a3c-2b9e-4c6d-a7f0-8e4b2d6c9a13"  # "Empty Collection"
OTHER_SPACE_ID = "e4c2a8f6-1d3b-4a5e-9c7f-2b8d0e6a4f91"  # "Globex Research"
OTHER_COLLECTION_ID = "b2d4f6a8-3c5e-4f7a-9b1d-6e8c0a2f4d57"  # "Lab Notes"

# Connectors in "Engineering Wiki"
DRIVE_CONNECTOR_ID = "c1a2b3c4-d5e6-4f70-8a91-b2c3d4e5f601"  # google-drive, active
SLACK_CONNECTOR_ID = "c1a2b3c4-d5e6-4f70-8a91-b2c3d4e5f602"  # slack, active
GITHUB_CONNECTOR_ID = "c1a2b3c4-d5e6-4f70-8a91-b2c3d4e5f603"  # github, paused
DISCONNECTED_CONNECTOR_ID = "c1a2b3c4-d5e6-4f70-8a91-b2c3d4e5f604"  # google-drive, disconnected
# Elsewhere
SALES_SLACK_CONNECTOR_ID = "c1a2b3c4-d5e6-4f70-8a91-b2c3d4e5f605"  # slack in "Sales Playbooks"
OTHER_CONNECTOR_ID = "c1a2b3c4-d5e6-4f70-8a91-b2c3d4e5f606"  # github in "Lab Notes" (Globex)

DRIVE_SCOPE_FOLDER_IDS = [ENGINEERING_FOLDER_ID, DESIGN_FOLDER_ID, ONBOARDING_FOLDER_ID]
SLACK_SCOPE_CHANNEL_IDS = [slack_channel_id("engineering"), slack_channel_id("incidents")]
GITHUB_SCOPE_REPOSITORIES = ["acme-corp/platform-api", "acme-corp/docs"]

HOUR = 3600
DAY = 24 * HOUR


def seed_uuid(name: str) -> str:
    """A stable uuid4-shaped id derived from `name` (used for the seeded syncs)."""
    return str(uuid.UUID(bytes=hashlib.sha256(name.encode()).digest()[:16], version=4))


def demo_keys() -> dict[str, dict]:
    return {
        DEMO_ADMIN_KEY: {"principal": DEMO_ADMIN_PRINCIPAL, "spaces": "*"},
        DEMO_LIMITED_KEY: {"principal": DEMO_LIMITED_PRINCIPAL, "spaces": [DEMO_SPACE_ID]},
    }


SPACES = [
    {
        "space_id": DEMO_SPACE_ID,
        "name": "Acme Corp",
        "description": "Company-wide knowledge for Acme Corp: engineering, sales and operations.",
    },
    {
        "space_id": OTHER_SPACE_ID,
        "name": "Globex Research",
        "description": "Research space shared with the Globex lab team.",
    },
]

COLLECTIONS = [
    {
        "collection_id": DEMO_COLLECTION_ID,
        "space_id": DEMO_SPACE_ID,
        "name": "Engineering Wiki",
        "description": "Architecture notes, runbooks, RFCs and engineering chatter.",
    },
    {
        "collection_id": SALES_COLLECTION_ID,
        "space_id": DEMO_SPACE_ID,
        "name": "Sales Playbooks",
        "description": "Pitch decks, objection handling and deal reviews.",
    },
    {
        "collection_id": EMPTY_COLLECTION_ID,
        "space_id": DEMO_SPACE_ID,
        "name": "Empty Collection",
        "description": "A collection with no connectors yet.",
    },
    {
        "collection_id": OTHER_COLLECTION_ID,
        "space_id": OTHER_SPACE_ID,
        "name": "Lab Notes",
        "description": "Experiment logs and lab notebooks.",
    },
]


def load(state, now: float, *, with_connectors: bool = True) -> None:
    """Fill an empty SandboxState with the demo data; times are relative to `now`."""
    for space in SPACES:
        state.spaces[space["space_id"]] = dict(space)
    for coll in COLLECTIONS:
        state.collections[coll["collection_id"]] = dict(coll)
    state.keys.update(demo_keys())
    if not with_connectors:
        return

    def t(seconds_ago: float) -> float:
        return float(int(now - seconds_ago))

    add_c = state.add_seed_connector
    add_s = state.add_seed_sync

    add_c(
        DRIVE_CONNECTOR_ID,
        DEMO_COLLECTION_ID,
        "google-drive",
        "active",
        scope={"folder_ids": list(DRIVE_SCOPE_FOLDER_IDS)},
        credential={
            "access_token": "ya29.sandbox-drive",
            "refresh_token": "1//04sandbox-drive-refresh",
        },
        created=t(30 * DAY),
        updated=t(3 * HOUR),
    )
    add_s(
        seed_uuid("drive-1"),
        DRIVE_CONNECTOR_ID,
        "completed",
        1184,
        t(3 * DAY),
        410,
        {"duration_seconds": 410},
    )
    add_s(
        seed_uuid("drive-2"),
        DRIVE_CONNECTOR_ID,
        "failed",
        57,
        t(2 * DAY),
        95,
        {
            "error": "Google Drive API rate limit exceeded (userRateLimitExceeded) after 5 retries",
            "error_code": "provider_rate_limited",
        },
    )
    add_s(
        seed_uuid("drive-3"),
        DRIVE_CONNECTOR_ID,
        "completed",
        1201,
        t(1 * DAY),
        388,
        {"duration_seconds": 388},
    )
    add_s(
        seed_uuid("drive-4"),
        DRIVE_CONNECTOR_ID,
        "completed",
        1207,
        t(3 * HOUR),
        402,
        {"duration_seconds": 402},
    )

    add_c(
        SLACK_CONNECTOR_ID,
        DEMO_COLLECTION_ID,
        "slack",
        "active",
        scope={"channel_ids": list(SLACK_SCOPE_CHANNEL_IDS)},
        credential={"access_token": "xoxb-sandbox-slack-token"},
        created=t(20 * DAY),
        updated=t(5 * HOUR),
    )
    add_s(
        seed_uuid("slack-1"),
        SLACK_CONNECTOR_ID,
        "completed",
        3420,
        t(5 * HOUR),
        233,
        {"duration_seconds": 233},
    )

    add_c(
        GITHUB_CONNECTOR_ID,
        DEMO_COLLECTION_ID,
        "github",
        "paused",
        scope={"repositories": list(GITHUB_SCOPE_REPOSITORIES)},
        credential={"access_token": "sandbox-fake-github-token-engineering"},
        created=t(14 * DAY),
        updated=t(2 * DAY),
    )
    add_s(
        seed_uuid("github-1"),
        GITHUB_CONNECTOR_ID,
        "completed",
        642,
        t(6 * DAY),
        171,
        {"duration_seconds": 171},
    )

    add_c(
        DISCONNECTED_CONNECTOR_ID,
        DEMO_COLLECTION_ID,
        "google-drive",
        "disconnected",
        scope={"folder_ids": [FINANCE_FOLDER_ID]},
        credential={"access_token": "ya29.sandbox-expired", "refresh_token": "1//04sandbox-revoked"},
        credential_valid=False,
        created=t(45 * DAY),
        updated=t(2 * DAY),
    )
    add_s(
        seed_uuid("disc-1"),
        DISCONNECTED_CONNECTOR_ID,
        "completed",
        96,
        t(10 * DAY),
        64,
        {"duration_seconds": 64},
    )
    add_s(
        seed_uuid("disc-2"),
        DISCONNECTED_CONNECTOR_ID,
        "failed",
        0,
        t(2 * DAY),
        1,
        {
            "error": "The credential has expired or was revoked; reconnect the connector",
            "error_code": "credential_expired",
        },
    )

    add_c(
        SALES_SLACK_CONNECTOR_ID,
        SALES_COLLECTION_ID,
        "slack",
        "active",
        scope={"channel_ids": [slack_channel_id("sales"), slack_channel_id("sales-emea")]},
        credential={"access_token": "xoxb-sandbox-sales-token"},
        created=t(9 * DAY),
        updated=t(9 * DAY),
    )
    add_s(
        seed_uuid("sales-1"),
        SALES_SLACK_CONNECTOR_ID,
        "completed",
        812,
        t(1 * DAY),
        120,
        {"duration_seconds": 120},
    )

    add_c(
        OTHER_CONNECTOR_ID,
        OTHER_COLLECTION_ID,
        "github",
        "active",
        scope={"repositories": ["acme-labs/ml-experiments"]},
        credential={"access_token": "sandbox-fake-github-token-globex"},
        created=t(12 * DAY),
        updated=t(12 * DAY),
    )
    add_s(seed_uuid("other-1"), OTHER_CONNECTOR_ID, "completed", 233, t(2 * DAY), 75, {"duration_seconds": 75})
