"""Shared fixtures: the emulator, a CLI runner (real subprocesses of the installed console
script), and the real Secret Service.

Tests that need the keyring or a browser skip on a laptop that lacks them; under CI=true
such a skip is a failure (the project's rules), so CI can never go green without them.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from spconnect.emulator import Emulator
from spconnect.emulator.state import Account, EmulatedApp

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CONSOLE_SCRIPT = str(Path(sys.executable).with_name("spconnect"))


def skip_or_fail(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (required under CI=true)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def secret_service() -> None:
    """A real, unlocked Secret Service (gnome-keyring) on the session bus."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        skip_or_fail("no D-Bus session: run the tests through ./scripts/test")
    import keyring

    from spconnect.store.secrets import describe_backend

    backend = keyring.get_keyring()
    label, secure = describe_backend(backend)
    if label != "Secret Service" or not secure:
        skip_or_fail(f"the keyring backend is {label}, not a Secret Service")
    probe = f"spconnect-probe-{uuid.uuid4().hex}"
    try:
        keyring.set_password(probe, "probe", "value")
        assert keyring.get_password(probe, "probe") == "value"
        keyring.delete_password(probe, "probe")
    except Exception as exc:
        skip_or_fail(f"the Secret Service is not usable: {exc}")


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@dataclass
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class Cli:
    """Runs ``spconnect`` as a subprocess in an isolated config, cache and keyring."""

    env: dict[str, str]
    config_dir: Path
    cache_dir: Path
    keyring_service: str
    history: list[Result] = field(default_factory=list)

    def run(
        self,
        *args: str,
        input: str | None = None,
        timeout: float = 60,
        env: dict[str, str] | None = None,
    ) -> Result:
        completed = subprocess.run(
            [CONSOLE_SCRIPT, *args],
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            timeout=timeout,
        )
        result = Result(tuple(args), completed.returncode, completed.stdout, completed.stderr)
        self.history.append(result)
        return result

    def ok(self, *args: str, input: str | None = None, **kw: object) -> Result:
        result = self.run(*args, input=input, **kw)  # type: ignore[arg-type]
        assert result.returncode == 0, f"spconnect {' '.join(args)} failed:\n{result.output}"
        return result

    def files(self) -> list[Path]:
        return [p for d in (self.config_dir, self.cache_dir) for p in d.rglob("*") if p.is_file()]


def clean_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPCONNECT_", "PYTHON"))}
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "200"
    return env


@pytest.fixture
def cli(tmp_path: Path, emulator: Emulator) -> Iterator[Cli]:
    service = f"spconnect-test-{uuid.uuid4().hex[:12]}"
    env = clean_environment()
    env.update(
        SPCONNECT_CONFIG_DIR=str(tmp_path / "config"),
        SPCONNECT_CACHE_DIR=str(tmp_path / "cache"),
        SPCONNECT_KEYRING_SERVICE=service,
        **emulator.environment(),
    )
    runner = Cli(env, tmp_path / "config", tmp_path / "cache", service)
    yield runner
    _forget_keyring_service(service)


def _forget_keyring_service(service: str) -> None:
    """Delete whatever a test left under its own keyring service name."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return
    try:
        import secretstorage

        connection = secretstorage.dbus_init()
        collection = secretstorage.get_default_collection(connection)
        for item in collection.search_items({"service": service}):
            item.delete()
    except Exception:
        pass


@dataclass
class Seller:
    """An emulated app and seller account, configured and logged in through the CLI."""

    app: EmulatedApp
    account: Account
    refresh_token: str


def run_app_add(
    cli: Cli,
    app: EmulatedApp,
    *extra: str,
    name: str = "demo",
    secret: str | None = None,
    env: dict[str, str] | None = None,
) -> Result:
    """`spconnect app add` for an emulated app, its secret on stdin; not checked."""
    return cli.run(
        "app",
        "add",
        name,
        "--client-id",
        app.client_id,
        "--app-id",
        app.app_id,
        "--redirect-uri",
        app.redirect_uris[0],
        "--client-secret-stdin",
        *extra,
        input=(app.client_secret if secret is None else secret) + "\n",
        env=env,
    )


def add_app(
    cli: Cli, app: EmulatedApp, *extra: str, name: str = "demo", env: dict[str, str] | None = None
) -> Result:
    """`spconnect app add` that must succeed."""
    result = run_app_add(cli, app, *extra, name=name, env=env)
    assert result.returncode == 0, f"app add failed:\n{result.output}"
    return result


def login_self_authorized(
    cli: Cli, emulator: Emulator, *extra: str, profile: str = "default", app_name: str = "demo"
) -> Seller:
    app = next(a for a in emulator.state.apps.values() if a.name == app_name)
    account = emulator.state.add_account(f"Seller {profile}")
    token = emulator.state.self_authorize(app.client_id, account.selling_partner_id)
    cli.ok(
        "login",
        "--refresh-token-stdin",
        "--marketplace",
        "US",
        "-p",
        profile,
        *extra,
        input=token + "\n",
    )
    return Seller(app, account, token)


@pytest.fixture
def seller(cli: Cli, emulator: Emulator, secret_service: None) -> Seller:
    """App 'demo' and profile 'default' in the real Secret Service, logged in."""
    app = emulator.state.register_app("demo")
    add_app(cli, app)
    return login_self_authorized(cli, emulator)


@contextlib.contextmanager
def _interruptible_children() -> Iterator[None]:
    """Children started here get Ctrl-C (SIGINT) at its default, as from a terminal.

    A suite started in the background of a non-interactive shell (``cmd &`` in a script)
    runs with SIGINT ignored, and a child inherits an ignored signal through exec (only
    handled ones are reset): its Python then never raises KeyboardInterrupt, and a test
    of Ctrl-C would wait for nothing. Handled in the parent for the moment of the fork
    (no preexec_fn: other threads run here)."""
    import signal

    ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


class LoginProcess:
    """A running ``spconnect login``/``reauth``: its stderr is read as it arrives, stdin
    takes pastes, and the finished run lands in the Cli's history (for the leak checks)."""

    def __init__(self, cli: Cli, *args: str, env: dict[str, str] | None = None) -> None:
        import queue
        import threading

        self.cli = cli
        self.args = args
        with _interruptible_children():
            self.process = subprocess.Popen(
                [CONSOLE_SCRIPT, *args],
                env={**cli.env, **(env or {})},
                text=True,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        self.stderr_lines: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert self.process.stderr is not None
            for line in self.process.stderr:
                self.stderr_lines.append(line)
                self._lines.put(line)
            self._lines.put(None)

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()

    def wait_for(self, predicate: object, timeout: float = 30) -> str:
        import queue
        import time

        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                stderr = "".join(self.stderr_lines)
                raise AssertionError(f"timed out; stderr so far:\n{stderr}") from None
            if line is None:
                raise AssertionError(f"process ended; stderr:\n{''.join(self.stderr_lines)}")
            if predicate(line):  # type: ignore[operator]
                return line.strip()

    def consent_url(self) -> str:
        return self.wait_for(
            lambda line: "/apps/authorize/consent?" in line and line.startswith("http")
        )

    def paste(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def close_stdin(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()

    def finish(self, timeout: float = 60) -> Result:
        self.process.wait(timeout)
        self._pump.join(10)
        assert self.process.stdout is not None
        result = Result(
            tuple(self.args),
            self.process.returncode,
            self.process.stdout.read(),
            "".join(self.stderr_lines),
        )
        self.cli.history.append(result)
        return result


def amazon_redirect(emulator: Emulator, consent_url: str, account: Account) -> str:
    """Play Amazon: the seller approves as ``account``; returns where Amazon sends the
    browser (the redirect URI with state, selling_partner_id and spapi_oauth_code)."""
    import httpx

    emulator.state.auto_approve = account.selling_partner_id
    response = httpx.get(consent_url, timeout=10)
    assert response.status_code == 302, response.text
    return str(response.headers["location"])


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The throw-away PostgreSQL cluster scripts/with-postgres starts (its URL)."""
    url = os.environ.get("SPCONNECT_TEST_POSTGRES_URL", "")
    if not url:
        skip_or_fail("no PostgreSQL: run the tests through ./scripts/test (scripts/with-postgres)")
    try:
        import psycopg

        psycopg.connect(url, connect_timeout=5).close()
    except Exception as exc:
        skip_or_fail(f"the PostgreSQL at SPCONNECT_TEST_POSTGRES_URL is not usable: {exc}")
    return url


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty schema of the test cluster, as a URL whose search_path is it: each
    test sees its own tables, as a new database would show them."""
    import psycopg

    schema = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in postgres_server else "?"
    yield f"{postgres_server}{separator}options=-csearch_path%3D{schema}"
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def app_kind() -> str:
    """The kind of the invite server's app in tests/invite_helpers.py's remote_setup;
    ``@pytest.mark.parametrize("app_kind", ["vendor"])`` makes it a Vendor Central app."""
    return "seller"


@pytest.fixture
def deploy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Invite-server deployments against the emulator (tests/serve_harness.py)."""
    from tests.serve_harness import deployments

    with deployments(tmp_path, monkeypatch) as make:
        yield make
