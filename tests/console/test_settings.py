"""Production refuses to start without its secrets; development starts with a loud warning; the test suite's own
settings do not depend on the shell that runs it."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _import_settings(**env):
    # Only what the test gives: nothing from the shell running the tests, nor the project's .env.
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ENV_FILE": ""}
    return subprocess.run(
        [sys.executable, "-c", "import console.settings"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_without_secrets_refuses_to_start():
    result = _import_settings(DEBUG="false")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr and "FIELD_ENCRYPTION_KEYS" in result.stderr


def test_production_without_encryption_keys_refuses_to_start():
    result = _import_settings(DEBUG="false", SECRET_KEY="x" * 50)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS" in result.stderr


def test_development_starts_with_a_loud_warning():
    result = _import_settings(DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert "INSECURE" in result.stderr


def test_production_with_secrets_starts():
    result = _import_settings(
        DEBUG="false", SECRET_KEY="x" * 50, FIELD_ENCRYPTION_KEYS="dGVzdC1maWVsZC1rZXktb25lLTAxMjM0NTY3ODlhYmM="
    )
    assert result.returncode == 0, result.stderr
    assert "INSECURE" not in result.stderr


def test_the_env_file_the_settings_read_is_never_committed():
    """console/settings.py reads <project>/.env, where a laptop keeps its secrets: git ignores it."""
    patterns = {line.strip() for line in (ROOT / ".gitignore").read_text().splitlines()}
    assert patterns & {"/.env", ".env"}


# ----- the test suite's own settings are hermetic -------------------------------------------------------------------

PROBE = """
import json
from django.conf import settings

def plain(value):
    if isinstance(value, dict):
        return {{str(k): plain(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value if value is None or isinstance(value, (bool, int, float)) else str(value)

def test_dump_the_settings():
    names = sorted(name for name in dir(settings) if name.isupper())
    with open({out!r}, "w") as out:
        json.dump({{name: plain(getattr(settings, name)) for name in names}}, out)
"""


def _variables_the_settings_read() -> set[str]:
    """Every variable console/settings.py reads by name, and OAuth clients' (OAUTH_<SLUG>_<FIELD>, any slug)."""
    source = (ROOT / "console" / "settings.py").read_text()
    names = set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]*)"', source))
    assert {"DEBUG", "LOG_FORMAT", "AIMABLE_MAX_RETRIES", "SYNC_CACHE_SECONDS"} <= names, names
    fields = ("CLIENT_ID", "CLIENT_SECRET", "AUTHORIZE_URL", "TOKEN_URL", "SCOPES")
    return names | {f"OAUTH_{slug}_{field}" for slug in ("GOOGLE_DRIVE", "SLACK", "DROPBOX") for field in fields}


def _suite_settings(tmp_path: Path, name: str, shell: dict[str, str]) -> dict:
    """The settings a pytest run of this project sees when started from a shell exporting `shell`."""
    probe = tmp_path / f"test_probe_{name}.py"
    out = tmp_path / f"{name}.json"
    probe.write_text(PROBE.format(out=str(out)))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-c",
            "pyproject.toml",
            "--rootdir",
            ".",
            str(probe),
        ],
        cwd=ROOT,
        env=shell,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    dumped = json.loads(out.read_text())
    dumped["CACHES"]["default"].pop("KEY_PREFIX", None)  # one per run, by design (console/test_settings.py)
    return dumped


def test_the_shell_environment_does_not_change_the_suites_settings(tmp_path):
    """Exported DEBUG, LOG_FORMAT, AIMABLE_*, OAUTH_*, ... and DJANGO_SETTINGS_MODULE leave the suite's settings
    as they are. DATABASE_URL and REDIS_URL are the exceptions, on purpose (CI picks PostgreSQL and Redis with them),
    so both runs get this run's values."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    base |= {name: os.environ[name] for name in ("DATABASE_URL", "REDIS_URL") if name in os.environ}
    realistic = {
        "DEBUG": "true",
        "LOG_FORMAT": "text",
        "LOG_LEVEL": "DEBUG",
        "SECRET_KEY": "a-secret-key-from-the-shell-" + "s" * 30,
        "ALLOWED_HOSTS": "shell.invalid",
        "AIMABLE_API_URL": "http://shell.invalid",
        "AIMABLE_MAX_RETRIES": "5",
    }
    hostile = {name: "1" for name in _variables_the_settings_read() - {"DATABASE_URL", "REDIS_URL"}}
    hostile |= realistic | {"DJANGO_SETTINGS_MODULE": "console.settings"}

    clean = _suite_settings(tmp_path, "clean", base)
    assert clean["DEBUG"] is False and clean["LOG_FORMAT"] == "json" and clean["AIMABLE_MAX_RETRIES"] == 0
    from_a_hostile_shell = _suite_settings(tmp_path, "hostile", base | hostile)
    assert {k: v for k, v in from_a_hostile_shell.items() if clean.get(k) != v} == {}
