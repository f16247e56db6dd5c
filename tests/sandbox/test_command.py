"""`manage.py sandbox`: runs the sandbox from a checkout, and says why it cannot where the sandbox is not installed;
its command line (`python -m sandbox` too) listens on loopback only unless `--allow-remote`, and registers OAuth
clients."""

import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
import setuptools
from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import CommandError

import sandbox
import sandbox.cli
import sandbox.server

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


# ----- loopback only, unless asked: the sandbox has no sign-in and hands out the credentials it stores ----------


@pytest.fixture
def never_served(monkeypatch):
    """A sandbox that got as far as serving fails the test at once (instead of serving until killed)."""

    def serve_forever(self):
        self.httpd.server_close()
        raise AssertionError(f"the sandbox started on {self.httpd.server_address}")

    monkeypatch.setattr(sandbox.SandboxServer, "serve_forever", serve_forever)


@pytest.mark.parametrize("host", ["0.0.0.0", "", "::", "192.0.2.10"])
def test_the_sandbox_refuses_to_listen_beyond_loopback(host):
    with pytest.raises(sandbox.server.RemoteBindRefused, match="--allow-remote"):
        sandbox.SandboxServer(host, 0, quiet=True)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True), ("::1", True), ("[::1]", True)]
    + [("0.0.0.0", False), ("", False), ("::", False), ("10.1.2.3", False), ("sandbox.example", False)],
)
def test_loopback_hosts(host, loopback):
    assert sandbox.server.is_loopback(host) is loopback  # a host name other than localhost is not looked up


def test_the_command_line_says_why_and_starts_nothing(never_served, capsys):
    with pytest.raises(SystemExit, match="Refusing to listen on 0.0.0.0"):
        sandbox.cli.main(["--host", "0.0.0.0", "--port", "0"])
    assert capsys.readouterr().out == ""  # no banner: nothing listens


@pytest.fixture
def built(monkeypatch) -> list[dict]:
    """The sandbox the command line builds, recorded by a stand-in that serves nothing."""
    servers = []

    class Server:
        def __init__(self, host, port, **options):
            servers.append({"host": host, **options})
            self.httpd = SimpleNamespace(server_address=(host, port))
            self.url = f"http://{host}:{port}"

        def serve_forever(self):
            pass

    monkeypatch.setattr(sandbox.cli, "SandboxServer", Server)
    return servers


def test_allow_remote_is_passed_on_and_the_banner_warns(built, capsys):
    sandbox.cli.main(["--host", "192.0.2.10", "--allow-remote"])
    assert built[0]["host"] == "192.0.2.10" and built[0]["allow_remote"] is True
    assert "WARNING" in capsys.readouterr().out


def test_oauth_clients_from_the_command_line(built):
    slack, github = "http://127.0.0.1:8000/oauth/slack/callback/", "http://127.0.0.1:8000/oauth/github/callback/"
    sandbox.cli.main(["--oauth-client", f"console={slack}", "--oauth-client", f"console={github}"])
    assert built[0]["oauth_clients"] == {"console": [slack, github]}
    assert built[0]["allow_remote"] is False
