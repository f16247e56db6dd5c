"""Helpers for tests that run the console as the Procfile does: subprocesses (the sandbox, gunicorn, manage.py) on
free ports, a browser-like HTTP client, and the machine's PostgreSQL and Redis (skipped when unreachable, failed
when CI is set).

Every wait is bounded; `Processes` terminates (then kills) what it started, whatever happens.
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = shutil.which("gunicorn", path=str(Path(PYTHON).parent)) or "gunicorn"
PROCFILE_WEB = "gunicorn console.wsgi --config gunicorn.conf.py"

SECRET_KEY = "subprocess-test-secret-key-" + "k" * 40
FIELD_KEY = "c3VicHJvY2Vzcy10ZXN0LWZpZWxkLWtleS0wMTIzNDU="  # 32 bytes, base64


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    return free_port()


# What a subprocess takes from the shell: where programs are, the user, the locale. Nothing the console reads.
SHELL_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR")


def production_env(**overrides) -> dict[str, str]:
    """The environment of a production process on this machine, behind a (simulated) PaaS router: these values
    only, whatever the shell running the tests exports (hermetic)."""
    env = {k: os.environ[k] for k in SHELL_VARIABLES if k in os.environ}
    env.update(
        {
            "ENV_FILE": "",  # not the project's .env either
            "DEBUG": "false",
            "SECRET_KEY": SECRET_KEY,
            "FIELD_ENCRYPTION_KEYS": FIELD_KEY,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            # The router terminates TLS and says so in X-Forwarded-Proto (the Browser below sends it).
            "TRUSTED_PROXY_COUNT": "1",
            "LOG_LEVEL": "INFO",
            "WEB_CONCURRENCY": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({k: str(v) for k, v in overrides.items() if v is not None})
    for k, v in overrides.items():
        if v is None:
            env.pop(k, None)
    return env


def manage(*args, env, timeout=60, check=True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


class Processes:
    """Subprocesses started by one test, stopped in `close()` (terminate, then kill)."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.procs: list[tuple[str, subprocess.Popen, Path]] = []

    def start(self, name: str, argv: list[str], env: dict | None = None, cwd: Path = ROOT) -> subprocess.Popen:
        log = self.tmp_path / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append((name, proc, log))
        return proc

    def sandbox(self, port: int | None = None) -> str:
        port = port or free_port()
        argv = [PYTHON, "-m", "sandbox", "--port", str(port), "--quiet", "--fail-rate", "0"]
        proc = self.start("sandbox", [*argv, "--sync-seconds", "30"], env=production_env())
        url = f"http://127.0.0.1:{port}"
        self.wait(url + "/health", proc, "sandbox")
        return url

    def gunicorn(self, name: str, env: dict) -> str:
        """The console as the Procfile's web process runs it, on env["PORT"]."""
        proc = self.start(name, PROCFILE_WEB.replace("gunicorn", GUNICORN, 1).split(), env=env)
        url = f"http://127.0.0.1:{env['PORT']}"
        self.wait(url + "/healthz", proc, name, ok_statuses=(200, 503))
        return url

    def stop(self, name: str) -> None:
        for proc_name, proc, _ in self.procs:
            if proc_name == name and proc.poll() is None:
                proc.terminate()
                proc.wait(10)

    def pid(self, name: str) -> int:
        for proc_name, proc, _ in self.procs:
            if proc_name == name:
                return proc.pid
        raise KeyError(name)

    def output(self, name: str) -> str:
        for proc_name, _, log in self.procs:
            if proc_name == name:
                return log.read_text(errors="replace")
        raise KeyError(name)

    def wait(self, url: str, proc: subprocess.Popen, name: str, timeout: float = 30, ok_statuses=(200,)) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{self.output(name)[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(url, timeout=2, headers={"X-Forwarded-Proto": "https"}).status_code in ok_statuses:
                    return
            time.sleep(0.1)
        raise AssertionError(f"{name} did not answer {url} within {timeout} s:\n{self.output(name)[-3000:]}")

    def close(self) -> None:
        for _, proc, _ in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # gunicorn: quick shutdown; the sandbox: KeyboardInterrupt
        for _, proc, _ in reversed(self.procs):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@pytest.fixture
def processes(tmp_path):
    procs = Processes(tmp_path)
    try:
        yield procs
    finally:
        procs.close()


_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_IDEMPOTENCY = re.compile(r'name="idempotency_token" value="([^"]+)"')


class Browser:
    """What a browser behind the PaaS router sends: cookies (kept here, whichever process set them),
    X-Forwarded-Proto: https (the router terminated TLS), and Origin/Referer on POSTs."""

    def __init__(self, base_url: str, *, behind_https_router: bool = True):
        self.base_url = base_url
        self.scheme = "https" if behind_https_router else "http"
        self.cookies: dict[str, str] = {}
        self.http = requests.Session()
        self.http.trust_env = False

    def request(self, method: str, path: str, *, base_url: str | None = None, headers=None, **kwargs):
        base = base_url or self.base_url
        origin = urlunsplit((self.scheme, urlsplit(base).netloc, "", "", ""))
        sent = {"X-Forwarded-Proto": "https"} if self.scheme == "https" else {}
        sent.update(headers or {})
        if method.upper() != "GET":
            sent.setdefault("Origin", origin)
            sent.setdefault("Referer", origin + path)
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        kwargs.setdefault("timeout", 20)
        kwargs.setdefault("allow_redirects", False)
        response = self.http.request(method, base + path, headers=sent, **kwargs)
        self.http.cookies.clear()  # cookies live in self.cookies only (Secure ones too: TLS is the router's)
        for header in response.raw.headers.getlist("Set-Cookie"):
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, data, **kwargs):
        return self.request("POST", path, data=data, **kwargs)

    def form_tokens(self, path: str, **kwargs) -> dict[str, str]:
        """The hidden tokens of the form at `path` (CSRF, and the create form's idempotency token)."""
        page = self.get(path, **kwargs)
        assert page.status_code == 200, (path, page.status_code)
        tokens = {"csrfmiddlewaretoken": html.unescape(_CSRF.search(page.text).group(1))}
        if match := _IDEMPOTENCY.search(page.text):
            tokens["idempotency_token"] = html.unescape(match.group(1))
        return tokens

    def sign_in(self, username: str, password: str, **kwargs) -> None:
        data = {**self.form_tokens("/accounts/login/", **kwargs), "username": username, "password": password}
        response = self.post("/accounts/login/", data, **kwargs)
        assert response.status_code == 302, (response.status_code, response.text[:2000])
        assert "sessionid" in self.cookies


# ----- the machine's PostgreSQL and Redis ------------------------------------------------------------------------


def _unavailable(what: str, exc: Exception):
    message = f"{what} is not reachable ({type(exc).__name__}: {exc})"
    if os.environ.get("CI"):
        pytest.fail(message + ": CI is set, so this fails instead of skipping")
    pytest.skip(message)


def postgres_server_url() -> str:
    """A URL of the machine's PostgreSQL server (its `postgres` database), from TEST_POSTGRES_URL, a postgres
    DATABASE_URL, or the default trust-auth server on 127.0.0.1:5432."""
    url = os.environ.get("TEST_POSTGRES_URL") or os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        url = "postgres://postgres@127.0.0.1:5432/postgres"
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


def redis_server_url(db: int) -> str:
    url = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL", "") or "redis://127.0.0.1:6379/0"
    return urlunsplit(urlsplit(url)._replace(path=f"/{db}"))


@contextlib.contextmanager
def fresh_postgres_database(prefix: str):
    """Creates a database `<prefix>_<random>` on the machine's PostgreSQL, yields its URL, drops it after."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - the dev extra has it
        _unavailable("psycopg", exc)
    server = postgres_server_url()
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        _unavailable(f"PostgreSQL ({urlsplit(server).netloc})", exc)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


def flushed_redis(db: int) -> str:
    """The URL of Redis database `db`, emptied; skipped (failed under CI) when Redis is not reachable."""
    try:
        import redis
    except ImportError as exc:  # pragma: no cover
        _unavailable("redis-py", exc)
    url = redis_server_url(db)
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
        client.flushdb()
        client.close()
    except redis.RedisError as exc:
        _unavailable(f"Redis ({urlsplit(url).netloc})", exc)
    return url


# ----- a console stack: database, static files, an admin with a stored key ----------------------------------------


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory) -> Path:
    """STATIC_ROOT after `collectstatic` with the production storage (hashed, compressed names), once per run."""
    root = tmp_path_factory.mktemp("staticfiles")
    env = production_env(STATIC_ROOT=root, DATABASE_URL=f"sqlite:///{root}/unused.sqlite3")
    manage("collectstatic", "--noinput", env=env, timeout=120)
    assert (root / "staticfiles.json").exists()
    return root


def prepare_database(env: dict, username: str = "admin", password: str = "a-long-test-password-42") -> None:
    """`migrate`, then the first admin as docs/deployment.md does: createsuperuser with DJANGO_SUPERUSER_* variables."""
    manage("migrate", "--noinput", env=env, timeout=120)
    manage(
        "createsuperuser",
        "--noinput",
        env={
            **env,
            "DJANGO_SUPERUSER_USERNAME": username,
            "DJANGO_SUPERUSER_PASSWORD": password,
            "DJANGO_SUPERUSER_EMAIL": f"{username}@example.com",
        },
    )


@contextlib.contextmanager
def production_stack(processes: Processes, static_root: Path, *, name: str, redis_db: int, username: str, **overrides):
    """The environment of the console in production on this machine's services: a fresh PostgreSQL database (dropped
    after), Redis database `redis_db` (flushed), the sandbox as the upstream, the database migrated and its first
    admin `username` created. Its DATABASE_URL, REDIS_URL and AIMABLE_API_URL name them; `overrides` add to it."""
    redis_url = flushed_redis(redis_db)
    with fresh_postgres_database(f"test_{name}") as database_url:
        env = production_env(
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            STATIC_ROOT=static_root,
            AIMABLE_API_URL=processes.sandbox(),
            **overrides,
        )
        prepare_database(env, username)
        yield env


def store_api_key(browser: Browser, key: str, **kwargs) -> None:
    """Through the API key page, as a user does (the console checks the key with the upstream first)."""
    tokens = browser.form_tokens("/settings/api-keys/", **kwargs)
    response = browser.post("/settings/api-keys/", {**tokens, "secret": key, "auth_scheme": "bearer"}, **kwargs)
    assert response.status_code == 302, (response.status_code, response.text[:3000])


def sandbox_control(sandbox_url: str, method: str, path: str, json=None):
    response = requests.request(method, f"{sandbox_url}/_sandbox/{path}", json=json, timeout=10)
    response.raise_for_status()
    return response.json()["data"] if response.content else None
