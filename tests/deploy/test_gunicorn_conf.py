"""gunicorn.conf.py, read as gunicorn reads it (the module's names that are gunicorn settings)."""

import gc
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


def test_the_console_is_loaded_once_in_the_master_and_shared_by_the_forked_workers():
    assert gunicorn_config().preload_app is True


def test_what_the_master_loaded_is_left_out_of_the_collectors_passes():
    """Each full pass would touch every object the workers share, and give each worker its own copy of their pages."""
    when_ready = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["when_ready"]
    gc.unfreeze()
    try:
        when_ready(None)
        assert gc.get_freeze_count() > 10_000  # Django and the console, loaded in this test process
    finally:
        gc.unfreeze()


def test_two_malloc_arenas_unless_the_environment_says(monkeypatch):
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    calls = []

    class Libc:
        def __init__(self, name):
            pass

        def mallopt(self, option, value):
            calls.append((option, value))
            return 1

    monkeypatch.setattr(conf["ctypes"], "CDLL", Libc)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    conf["_fewer_malloc_arenas"]()
    assert calls == [(-8, 2)]  # M_ARENA_MAX
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")  # glibc read it at the start: it stays
    conf["_fewer_malloc_arenas"]()
    assert calls == [(-8, 2)]
