"""gunicorn.conf.py, read as gunicorn reads it (the module's names that are gunicorn settings)."""

import runpy
from pathlib import Path

from gunicorn.config import Config

ROOT = Path(__file__).resolve().parents[2]


def gunicorn_config() -> Config:
    config = Config()
    for name, value in runpy.run_path(str(ROOT / "gunicorn.conf.py")).items():
        if name in config.settings:
            config.set(name, value)
    return config


def test_no_control_socket_that_two_consoles_on_one_host_would_share():
    """gunicorn 25.1+ opens a control socket by default, at one path per user ($XDG_RUNTIME_DIR/gunicorn.ctl or
    ~/.gunicorn/gunicorn.ctl): a second console on the host would take it over from the first."""
    assert "control_socket_disable" in Config().settings  # the installed gunicorn has the setting
    assert gunicorn_config().control_socket_disable is True
