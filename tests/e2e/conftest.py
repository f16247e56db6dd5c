"""Browser tests: Playwright drives Debian's Chromium against the console (pytest-django's live_server),
which talks to the in-process sandbox over real HTTP.

Every test in this folder is marked `e2e` (deselect them with `-m "not e2e"`). Without a Chromium they are
skipped, except when CI is set: there a missing browser fails the run, so CI never skips them silently.
A failing test leaves a screenshot in test-artifacts/.
"""

import contextlib
import os
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from sandbox import DEMO_COLLECTION_ID, DEMO_SPACE_ID
from tests.conftest import PASSWORD, store_key

# Playwright's sync API keeps an event loop in the main thread, where pytest-django also touches the database.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE.parents[1] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 10_000


def find_chromium() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.e2e)
            # pytest-playwright's base_url fixture trips a pytest 9 deprecation warning: not ours to fix.
            item.add_marker(pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session", autouse=True)
def chromium_path():
    path = find_chromium()
    if path is None:
        reason = "Chromium not found (install Debian's 'chromium' package): browser tests need it."
        if in_ci():
            pytest.fail("CI is set and " + reason, pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args, chromium_path):
    return {**browser_type_launch_args, "executable_path": chromium_path, "args": CHROMIUM_ARGS}


@pytest.fixture(autouse=True)
def _screenshot_on_failure(request, page: Page):
    page.set_default_timeout(TIMEOUT_MS)
    yield
    # Let htmx requests in flight finish before the database is flushed under the live server; a closed page or a
    # stuck request must not turn into a teardown error.
    with contextlib.suppress(Exception):
        page.wait_for_function("() => !document.querySelector('.htmx-request')", timeout=5_000)
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        except Exception as exc:  # a screenshot must never hide the real failure
            print(f"(no screenshot: {exc})")


expect.set_options(timeout=TIMEOUT_MS)


class Console:
    """The running console: URLs of its pages and the sandbox behind it."""

    def __init__(self, live_server, sandbox):
        self.base = live_server.url
        self.sandbox = sandbox

    def url(self, path: str = "/") -> str:
        return self.base + path

    def collection_url(self, space_id=DEMO_SPACE_ID, collection_id=DEMO_COLLECTION_ID) -> str:
        return self.url(f"/spaces/{space_id}/collections/{collection_id}/connectors/")

    def create_url(self, space_id=DEMO_SPACE_ID, collection_id=DEMO_COLLECTION_ID) -> str:
        return self.url(f"/spaces/{space_id}/collections/{collection_id}/new-connector/")

    def connector_url(self, connector_id, suffix="", space_id=DEMO_SPACE_ID, collection_id=DEMO_COLLECTION_ID):
        return self.collection_url(space_id, collection_id) + f"{connector_id}/{suffix}"

    def connectors(self, provider_slug=None, collection_id=DEMO_COLLECTION_ID) -> list[dict]:
        """The sandbox's connectors in a collection (the truth, not what a page shows)."""
        with self.sandbox.state.lock:
            return [
                dict(c)
                for c in self.sandbox.state.connectors.values()
                if c["collection_id"] == collection_id and provider_slug in (None, c["provider_slug"])
            ]


@pytest.fixture
def console(live_server, sandbox_api):
    """The console served by live_server, pointed at a freshly reset sandbox.

    live_server runs in this process (a thread), so the settings override made by sandbox_api applies to it.
    """
    return Console(live_server, sandbox_api)


def sign_in(page: Page, console: Console, username: str, password: str = PASSWORD, next_path: str = "") -> None:
    """Sign in through the real login form."""
    page.goto(console.url("/accounts/login/" + (f"?next={next_path}" if next_path else "")))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name=re.compile(f"Sign out {re.escape(username)}"))).to_be_visible()


@pytest.fixture
def signed_in(page: Page, console: Console, user) -> Page:
    """alice, with the sandbox's admin key stored, signed in through the login form."""
    store_key(user, console.sandbox.admin_key)
    sign_in(page, console, user.username)
    return page
