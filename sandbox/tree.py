"""Deterministic resource trees that the sandbox's browse endpoint serves, one per provider.

Every id is derived from the item's path with a hash, so it is the same on every run and every
machine: tests and the seed data can reference folder, channel and repository ids directly.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

_GDOC = "application/vnd.google-apps.document"
_GSHEET = "application/vnd.google-apps.spreadsheet"
_GSLIDES = "application/vnd.google-apps.presentation"
_FOLDER_MIME = "application/vnd.google-apps.folder"
_KINDS = {
    "doc": _GDOC,
    "sheet": _GSHEET,
    "slides": _GSLIDES,
    "pdf": "application/pdf",
    "png": "image/png",
    "md": "text/markdown",
    "zip": "application/zip",
}

# A folder is a dict (name -> child); a file is a string naming its kind.
_ARCHIVE_SIZE = 250


def _archive() -> dict:
    items: dict[str, str] = {}
    start = dt.date(2021, 1, 4)
    for i in range(_ARCHIVE_SIZE):
        day = (start + dt.timedelta(days=7 * i)).isoformat()
        if i % 10 == 9:
            items[f"Retrospective {day}"] = "sheet"
        elif i % 25 == 12:
            items[f"Quarterly review {day}.pdf"] = "pdf"
        else:
            items[f"Weekly status {day}"] = "doc"
    return items


DRIVE_LAYOUT: dict = {
    "Engineering": {
        "Architecture": {
            "Diagrams": {
                "Service map.png": "png",
                "Data flow.png": "png",
                "Deployment topology.png": "png",
            },
            "System overview": "doc",
            "ADR-001 Event sourcing for billing": "doc",
            "ADR-002 Postgres as the queue": "doc",
            "ADR-003 Moving search to OpenSearch": "doc",
        },
        "Runbooks": {
            "On-call handbook": "doc",
            "Incident response checklist": "doc",
            "Database failover": "doc",
            "Rotating secrets": "doc",
            "Scaling the ingestion workers": "doc",
        },
        "RFCs": {
            "2024": {
                "RFC-031 Multi-region reads": "doc",
                "RFC-034 Feature flags service": "doc",
                "RFC-040 Retiring the monolith cron": "doc",
            },
            "2025": {
                "RFC-052 Connector sync scheduler": "doc",
                "RFC-057 Per-tenant rate limits": "doc",
            },
            "RFC template": "doc",
        },
        "Engineering handbook": "doc",
        "Team roster": "sheet",
        "Q3 planning": "slides",
    },
    "Design": {
        "Brand": {
            "Logo primary.png": "png",
            "Logo mono.png": "png",
            "Brand guidelines.pdf": "pdf",
        },
        "Product specs": {
            "Connector setup flow": "doc",
            "Sync history page": "doc",
            "Empty states": "slides",
        },
        "User research": {
            "Interviews 2025": {
                "Interview 01 - Team admin": "doc",
                "Interview 02 - IT manager": "doc",
                "Interview 03 - Knowledge lead": "doc",
            },
            "Research synthesis": "slides",
        },
        "Design system tokens": "sheet",
    },
    "Marketing": {
        "Campaigns": {
            "Q1 launch": {"Launch plan": "doc", "Launch budget": "sheet", "Press kit.zip": "zip"},
            "Q2 webinar": {"Webinar script": "doc", "Registrations": "sheet"},
        },
        "Blog drafts": {
            "Why we built connectors": "doc",
            "Five ways to keep your wiki fresh": "doc",
            "Customer story - Initech": "doc",
        },
        "Marketing plan 2025": "sheet",
        "Competitive landscape.pdf": "pdf",
    },
    "Finance": {
        "Budgets": {"FY2024 budget": "sheet", "FY2025 budget": "sheet", "Headcount plan": "sheet"},
        "Invoices": {f"Invoice 2025-{n:03d}.pdf": "pdf" for n in range(1, 13)},
        "Expense policy.pdf": "pdf",
        "Vendor list": "sheet",
    },
    "Archive": _archive(),
    "Onboarding": {
        "Welcome to Acme": "doc",
        "Benefits overview.pdf": "pdf",
        "IT setup checklist": "doc",
        "First week schedule": "sheet",
        "README.md": "md",
    },
}

SLACK_CHANNELS = [
    # name, is_private, member_count, topic
    ("general", False, 412, "Company-wide announcements and work-based matters"),
    ("random", False, 398, "Non-work banter and water cooler conversation"),
    ("announcements", False, 415, "Official announcements only"),
    ("engineering", False, 126, "All things engineering"),
    ("eng-backend", False, 48, "APIs, databases and services"),
    ("eng-frontend", False, 37, "Web console and design system"),
    ("eng-infra", False, 22, "Kubernetes, Terraform, CI"),
    ("incidents", False, 131, "Active incidents; one thread per incident"),
    ("deploys", False, 88, "Deploy notifications"),
    ("design", False, 29, "Design reviews and inspiration"),
    ("design-critique", False, 17, "Weekly critique"),
    ("product", False, 64, "Product discussions"),
    ("marketing", False, 41, "Campaigns and content"),
    ("sales", False, 73, "Deals, pipeline, wins"),
    ("sales-emea", False, 19, "EMEA sales team"),
    ("customer-success", False, 35, "Customer health and escalations"),
    ("support", False, 52, "Support queue triage"),
    ("finance", True, 9, "Finance team"),
    ("hr-private", True, 6, "People team"),
    ("leadership", True, 11, "Leadership team"),
    ("security", True, 14, "Security reports and reviews"),
    ("oncall", False, 26, "On-call handoffs"),
    ("data-science", False, 23, "Analytics and experiments"),
    ("ml-research", False, 18, "Papers, models, evals"),
    ("releases", False, 97, "Release notes"),
    ("qa", False, 15, "Test plans and bug bashes"),
    ("mobile", False, 21, "iOS and Android"),
    ("docs", False, 33, "Documentation"),
    ("watercooler", False, 205, "Say hi"),
    ("kudos", False, 287, "Thank a colleague"),
]

GITHUB_ORGS = [
    (
        "acme-corp",
        "Acme Corp",
        [
            ("platform-api", True, "Python"),
            ("web-console", True, "TypeScript"),
            ("mobile-app", True, "Kotlin"),
            ("infra-terraform", True, "HCL"),
            ("design-system", False, "TypeScript"),
            ("docs", False, "MDX"),
            ("data-pipelines", True, "Python"),
            ("auth-service", True, "Go"),
            ("billing-service", True, "Go"),
            ("search-indexer", True, "Rust"),
            ("sdk-python", False, "Python"),
            ("sdk-js", False, "TypeScript"),
        ],
    ),
    (
        "acme-labs",
        "Acme Labs",
        [
            ("ml-experiments", True, "Python"),
            ("research-notes", True, "Jupyter Notebook"),
            ("prototype-agents", True, "Python"),
            ("benchmarks", False, "Python"),
            ("paper-drafts", True, "TeX"),
        ],
    ),
    (
        "acme-oss",
        "Acme Open Source",
        [
            ("fast-csv", False, "Rust"),
            ("tiny-queue", False, "Go"),
            ("config-loader", False, "Python"),
            ("awesome-acme", False, None),
        ],
    ),
]


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def drive_id(path: str) -> str:
    """The Drive-style id (33 chars, starting with "1") of the item at `path`, e.g. "Engineering/Runbooks"."""
    return "1" + base64.urlsafe_b64encode(_digest("drive:" + path)).decode()[:32]


def slack_channel_id(name: str) -> str:
    """A Slack-style channel id such as "C07K2M9QX" for the channel `name`."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
    digest = _digest("slack:" + name)
    return "C0" + "".join(alphabet[b % len(alphabet)] for b in digest[:7])


class Tree:
    """Items by id plus the ordered child ids of each parent (None is the root)."""

    def __init__(self) -> None:
        self.items: dict[str, dict] = {}
        self.children: dict[str | None, list[str]] = {None: []}

    def add(self, item: dict) -> None:
        self.items[item["id"]] = item
        self.children.setdefault(item["parent_id"], []).append(item["id"])
        if item["has_children"]:
            self.children.setdefault(item["id"], [])

    def has_parent(self, parent_id: str | None) -> bool:
        return parent_id is None or parent_id in self.items

    def list(self, parent_id: str | None) -> list[dict]:
        return [self.items[i] for i in self.children.get(parent_id, [])]


def _modified(path: str) -> str:
    base = dt.datetime(2025, 6, 30, 9, 0, tzinfo=dt.UTC)
    seconds = int.from_bytes(_digest("mtime:" + path)[:4], "big") % (400 * 86400)
    return (base - dt.timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def _build_drive() -> Tree:
    tree = Tree()

    def walk(folder: dict, parent_path: str | None) -> None:
        folders = [(k, v) for k, v in folder.items() if isinstance(v, dict)]
        files = [(k, v) for k, v in folder.items() if not isinstance(v, dict)]
        parent_id = drive_id(parent_path) if parent_path else None
        for name, child in folders:
            path = f"{parent_path}/{name}" if parent_path else name
            tree.add(
                {
                    "id": drive_id(path),
                    "name": name,
                    "type": "folder",
                    "has_children": bool(child),
                    "parent_id": parent_id,
                    "mime_type": _FOLDER_MIME,
                    "path": "/" + path,
                    "modified_at": _modified(path),
                }
            )
            walk(child, path)
        for name, kind in files:
            path = f"{parent_path}/{name}" if parent_path else name
            size = 2048 + int.from_bytes(_digest("size:" + path)[:4], "big") % 4_000_000
            tree.add(
                {
                    "id": drive_id(path),
                    "name": name,
                    "type": "file",
                    "has_children": False,
                    "parent_id": parent_id,
                    "mime_type": _KINDS[kind],
                    "size": size,
                    "path": "/" + path,
                    "modified_at": _modified(path),
                }
            )

    walk(DRIVE_LAYOUT, None)
    return tree


def _build_slack() -> Tree:
    tree = Tree()
    for name, private, members, topic in SLACK_CHANNELS:
        tree.add(
            {
                "id": slack_channel_id(name),
                "name": name,
                "type": "channel",
                "has_children": False,
                "parent_id": None,
                "is_private": private,
                "member_count": members,
                "topic": topic,
            }
        )
    return tree


def _build_github() -> Tree:
    tree = Tree()
    for login, display, repos in GITHUB_ORGS:
        tree.add(
            {
                "id": login,
                "name": display,
                "login": login,
                "type": "organization",
                "has_children": True,
                "parent_id": None,
                "repository_count": len(repos),
            }
        )
        for name, private, language in repos:
            tree.add(
                {
                    "id": f"{login}/{name}",
                    "name": name,
                    "full_name": f"{login}/{name}",
                    "type": "repository",
                    "has_children": False,
                    "parent_id": login,
                    "is_private": private,
                    "default_branch": "main",
                    "language": language,
                }
            )
    return tree


TREES: dict[str, Tree] = {
    "google-drive": _build_drive(),
    "slack": _build_slack(),
    "github": _build_github(),
}

# Handy ids for the seed and for tests.
ENGINEERING_FOLDER_ID = drive_id("Engineering")
DESIGN_FOLDER_ID = drive_id("Design")
ONBOARDING_FOLDER_ID = drive_id("Onboarding")
FINANCE_FOLDER_ID = drive_id("Finance")
RUNBOOKS_FOLDER_ID = drive_id("Engineering/Runbooks")
ARCHIVE_FOLDER_ID = drive_id("Archive")
ARCHIVE_SIZE = _ARCHIVE_SIZE
