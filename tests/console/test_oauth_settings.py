"""OAUTH_PROVIDERS comes from OAUTH_<SLUG>_<FIELD> variables (the environment and the .env file), and the settings
import no app code to build it."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRINT = (
    "import json, sys, console.settings as s\n"
    "print(json.dumps({'providers': s.OAUTH_PROVIDERS, 'app_modules': [m for m in sys.modules if m.startswith(("
    "'connectors', 'sandbox'))]}))"
)


def settings_seen_with(env_file: str = "", **env) -> dict:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ENV_FILE": env_file, "DEBUG": "true"}
    result = subprocess.run(
        [sys.executable, "-c", PRINT], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_providers_are_keyed_by_the_slug_in_the_variable_names():
    seen = settings_seen_with(
        OAUTH_GOOGLE_DRIVE_CLIENT_ID=" drive-client ",
        OAUTH_GOOGLE_DRIVE_CLIENT_SECRET="drive-secret",
        OAUTH_GOOGLE_DRIVE_SCOPES="scope.a, scope.b",
        OAUTH_SLACK_TOKEN_URL="https://slack.test/token",
        OAUTH_SLACK_USERINFO_URL="https://slack.test/userinfo",
        OAUTH_TIMEOUT="3",
        OAUTH_REDIRECT_BASE_URL="https://console.test",
    )
    assert seen["providers"] == {
        "google-drive": {
            "client_id": "drive-client",
            "client_secret": "drive-secret",
            "authorize_url": "",
            "token_url": "",
            "userinfo_url": "",
            "scopes": ["scope.a", "scope.b"],
        },
        "slack": {
            "client_id": "",
            "client_secret": "",
            "authorize_url": "",
            "token_url": "https://slack.test/token",
            "userinfo_url": "https://slack.test/userinfo",
            "scopes": None,
        },
    }
    assert seen["app_modules"] == []


def test_no_variables_no_providers():
    assert settings_seen_with()["providers"] == {}


def test_the_env_file_counts_and_the_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("OAUTH_GITHUB_CLIENT_ID=from-file\nOAUTH_GITHUB_CLIENT_SECRET=file-secret\n")
    seen = settings_seen_with(str(env_file), OAUTH_GITHUB_CLIENT_ID="from-environment")
    assert seen["providers"]["github"]["client_id"] == "from-environment"
    assert seen["providers"]["github"]["client_secret"] == "file-secret"
