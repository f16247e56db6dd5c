"""The deployment guide's "Try the production setup on your machine first" (docs/deployment.md, linked from the
README), run as written, as a new user would: in a copy of the project (a fresh clone has no .venv, .env or
staticfiles), a fresh virtualenv, the machine's PostgreSQL and Redis, then gunicorn with the Procfile's command;
/healthz, the login page, a sign-in, the static files' cache headers, the admin, a stored API key and a connector
list.

Only what cannot be literal on a test machine is substituted: the virtualenv's path, the database (a fresh one),
Redis database 13 (flushed), and the port. Bounded: the whole block must finish within two minutes.
"""

import os
import re
import shutil
import subprocess
import time
import uuid

import pytest

from sandbox import DEMO_ADMIN_KEY, DEMO_COLLECTION_ID, DEMO_SPACE_ID
from tests.processes import (  # noqa: F401 - fixture
    ROOT,
    Browser,
    flushed_redis,
    free_port,
    fresh_postgres_database,
    processes,
    store_api_key,
)

pytestmark = pytest.mark.slow

COPY_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".env",
    "staticfiles",
    "*.sqlite3",
    ".tools",
    "node_modules",
    "test-artifacts",
    "__pycache__",
    "build",
    "*.egg-info",
    ".pytest_cache",
    ".ruff_cache",
    "docs",
)


DEPLOYMENT_GUIDE = ROOT / "docs" / "deployment.md"


def walkthrough_block() -> tuple[list[str], str]:
    """The shell lines of the deployment guide's walk-through, and its last line (the web process)."""
    guide = DEPLOYMENT_GUIDE.read_text()
    heading = re.search(r"^#+ Try the production setup on your machine first$", guide, re.MULTILINE)
    assert heading, f"{DEPLOYMENT_GUIDE} has no 'Try the production setup on your machine first' section"
    block = re.search(r"```sh\n(.*?)```", guide[heading.end() :], re.DOTALL).group(1)
    lines = block.rstrip("\n").split("\n")
    return lines[:-1], lines[-1]


def procfile_web() -> str:
    line = next(x for x in (ROOT / "Procfile").read_text().splitlines() if x.startswith("web:"))
    return line.split(":", 1)[1].strip()


def test_the_documented_deployment_walkthrough_works(processes, tmp_path):  # noqa: F811
    assert "(docs/deployment.md)" in (ROOT / "README.md").read_text(), "the README must link to the deployment guide"
    steps, web = walkthrough_block()
    assert web.split("#")[0].strip() == procfile_web(), "the guide's last step must be the Procfile's web command"

    redis_url = flushed_redis(13)
    with fresh_postgres_database("test_readme") as database_url:
        project = tmp_path / "console"
        shutil.copytree(ROOT, project, ignore=COPY_IGNORE)
        venv = tmp_path / "venv"
        port = free_port()
        script = "\n".join(steps)
        script = script.replace("/tmp/console-venv", str(venv))
        script = re.sub(r"^createdb .*$", "# (the test created the database)", script, flags=re.MULTILINE)
        script = re.sub(r"^export DATABASE_URL=\S+", f"export DATABASE_URL={database_url}", script, flags=re.M)
        script = re.sub(r"^export REDIS_URL=\S+", f"export REDIS_URL={redis_url}", script, flags=re.M)
        script = re.sub(r"PORT=8000\b", f"PORT={port}", script)
        assert str(venv) in script and database_url in script and redis_url in script and f"PORT={port}" in script
        env_file = tmp_path / "env"
        script = "set -euo pipefail\n" + script + f"\nenv -0 > {env_file}\n"

        sandbox = processes.sandbox()
        # A newcomer's shell: no project variables, but the sandbox as the Aimable API.
        shell_env = {
            k: v
            for k, v in os.environ.items()
            if k
            in (
                "PATH",
                "HOME",
                "LANG",
                "LC_ALL",
                "TMPDIR",
                "PIP_INDEX_URL",
                "PIP_EXTRA_INDEX_URL",
                "PIP_FIND_LINKS",
                "PIP_TRUSTED_HOST",
                "PIP_CONFIG_FILE",
                "PIP_CACHE_DIR",
                "PIP_NO_INDEX",
                "http_proxy",
                "https_proxy",
                "no_proxy",
                "HTTP_PROXY",
                "HTTPS_PROXY",
                "NO_PROXY",
            )
        }
        shell_env["AIMABLE_API_URL"] = sandbox
        started = time.monotonic()
        try:
            done = subprocess.run(
                ["bash", "-c", script], cwd=project, env=shell_env, capture_output=True, text=True, timeout=110
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"the walk-through's steps took more than 110 s:\n{(exc.stdout or b'')[-3000:]!r}")
        assert done.returncode == 0, f"a walk-through step failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
        assert "Superuser created successfully." in done.stdout
        assert time.monotonic() - started < 120

        web_env = dict(item.split("=", 1) for item in env_file.read_text().split("\0") if "=" in item)
        argv = [str(venv / "bin" / "gunicorn"), *procfile_web().split()[1:]]
        proc = processes.start("web", argv, env=web_env, cwd=project)
        base = f"http://127.0.0.1:{port}"
        processes.wait(base + "/healthz", proc, "web")

        browser = Browser(base, behind_https_router=False)
        health = browser.get("/healthz")
        assert health.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok", "upstream": "ok"}}

        login = browser.get("/accounts/login/")
        assert login.status_code == 200 and "Sign in" in login.text
        css = re.search(r'href="(/static/console/console\.[0-9a-f]{12}\.css)"', login.text).group(1)
        static = browser.get(css, headers={"Accept-Encoding": "gzip"})
        assert static.status_code == 200
        assert static.headers["Cache-Control"] == "max-age=315360000, public, immutable"

        browser.sign_in("admin", "choose-a-long-password")
        assert browser.get("/admin/").status_code == 200
        store_api_key(browser, DEMO_ADMIN_KEY)
        listed = browser.get(f"/spaces/{DEMO_SPACE_ID}/collections/{DEMO_COLLECTION_ID}/connectors/")
        assert listed.status_code == 200 and "Engineering Wiki" in listed.text
        assert uuid.UUID(listed.headers["X-Request-ID"])
