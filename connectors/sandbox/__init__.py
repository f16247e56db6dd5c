"""A simulator of the Aimable Collection Connectors API (standard library only, no Django).

from connectors.sandbox import SandboxServer
server = SandboxServer(port=0, quiet=True).start()   # server.url, server.admin_key, ...
"""

from .seed import (
    DEMO_ADMIN_KEY,
    DEMO_ADMIN_PRINCIPAL,
    DEMO_COLLECTION_ID,
    DEMO_LIMITED_KEY,
    DEMO_LIMITED_PRINCIPAL,
    DEMO_SPACE_ID,
    DISCONNECTED_CONNECTOR_ID,
    DRIVE_CONNECTOR_ID,
    DRIVE_SCOPE_FOLDER_IDS,
    EMPTY_COLLECTION_ID,
    GITHUB_CONNECTOR_ID,
    GITHUB_SCOPE_REPOSITORIES,
    OTHER_COLLECTION_ID,
    OTHER_CONNECTOR_ID,
    OTHER_SPACE_ID,
    SALES_COLLECTION_ID,
    SALES_SLACK_CONNECTOR_ID,
    SLACK_CONNECTOR_ID,
    SLACK_SCOPE_CHANNEL_IDS,
)
from .server import SandboxServer
from .state import CREDENTIAL_ERROR, DEFAULT_FAULTS, SandboxState
from .tree import (
    ARCHIVE_FOLDER_ID,
    ARCHIVE_SIZE,
    DESIGN_FOLDER_ID,
    ENGINEERING_FOLDER_ID,
    FINANCE_FOLDER_ID,
    ONBOARDING_FOLDER_ID,
    RUNBOOKS_FOLDER_ID,
    drive_id,
    slack_channel_id,
)

__all__ = [
    "ARCHIVE_FOLDER_ID",
    "ARCHIVE_SIZE",
    "CREDENTIAL_ERROR",
    "DEFAULT_FAULTS",
    "DEMO_ADMIN_KEY",
    "DEMO_ADMIN_PRINCIPAL",
    "DEMO_COLLECTION_ID",
    "DEMO_LIMITED_KEY",
    "DEMO_LIMITED_PRINCIPAL",
    "DEMO_SPACE_ID",
    "DESIGN_FOLDER_ID",
    "DISCONNECTED_CONNECTOR_ID",
    "DRIVE_CONNECTOR_ID",
    "DRIVE_SCOPE_FOLDER_IDS",
    "EMPTY_COLLECTION_ID",
    "ENGINEERING_FOLDER_ID",
    "FINANCE_FOLDER_ID",
    "GITHUB_CONNECTOR_ID",
    "GITHUB_SCOPE_REPOSITORIES",
    "ONBOARDING_FOLDER_ID",
    "OTHER_COLLECTION_ID",
    "OTHER_CONNECTOR_ID",
    "OTHER_SPACE_ID",
    "RUNBOOKS_FOLDER_ID",
    "SALES_COLLECTION_ID",
    "SALES_SLACK_CONNECTOR_ID",
    "SLACK_CONNECTOR_ID",
    "SLACK_SCOPE_CHANNEL_IDS",
    "SandboxServer",
    "SandboxState",
    "drive_id",
    "slack_channel_id",
]
