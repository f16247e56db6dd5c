"""`manage.py sandbox`: runs the sandbox from a checkout, and says why it cannot where the sandbox is not installed."""

import sys
import tomllib
from pathlib import Path

import pytest
import setuptools
from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import CommandError

import sandbox.cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def not_installed(monkeypatch):
    """As in a production install: no top-level `sandbox` package."""
    monkeypatch.setitem(sys.modules, "sandbox", None)
    monkeypatch.setitem(sys.modules, "sandbox.cli", None)


def test_the_command_runs_the_sandbox_with_its_options(monkeypatch):
    runs = []
    monkeypatch.setattr(sandbox.cli, "run", lambda options, out: runs.append(options))
    call_command("sandbox", port=0, latency_ms=20, quiet=True)
    assert len(runs) == 1
    assert (runs[0]["port"], runs[0]["latency_ms"], runs[0]["quiet"], runs[0]["fail_rate"]) == (0, 20, True, 0.15)


def test_without_the_sandbox_the_command_says_it_is_a_development_tool(not_installed):
    with pytest.raises(CommandError, match="development tool that ships only with the source checkout"):
        call_command("sandbox")


def test_without_the_sandbox_its_options_do_not_hide_the_reason(not_installed, capsys):
    command = load_command_class(get_commands()["sandbox"], "sandbox")
    with pytest.raises(SystemExit) as exit_:
        command.run_from_argv(["manage.py", "sandbox", "--port", "8765", "--quiet"])
    assert exit_.value.code == 1
    assert "development tool that ships only with the source checkout" in capsys.readouterr().err


def test_the_sandbox_is_not_in_the_package():
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = setuptools.find_packages(where=str(ROOT), include=include)
    assert "connectors" in packages and "console" in packages
    assert not [p for p in packages if p.split(".")[0] == "sandbox"]
