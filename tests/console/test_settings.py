"""Production refuses to start without its secrets; development starts with a loud warning."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _import_settings(**env):
    base = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DEBUG"}}
    base.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import console.settings"],
        cwd=ROOT,
        env=base,
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
