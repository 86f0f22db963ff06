"""``spconnect doctor``: each check, its fix and the exit code."""

from __future__ import annotations

import re
import socket

import pytest

from spconnect.emulator import Emulator
from spconnect.errors import ExitCode
from tests.conftest import Cli, Seller, add_app, free_port


@pytest.mark.keyring
def test_healthy_machine_is_exit_0(cli: Cli, seller: Seller) -> None:
    result = cli.run("doctor", "--offline")
    assert result.returncode == 0, result.stdout
    assert "[ok  ] keyring: backend Secret Service (secure)" in result.stdout
    assert "[ok  ] secret service: reachable on D-Bus and unlocked" in result.stdout
    assert "[ok  ] config:" in result.stdout and "is valid" in result.stdout
    assert "[skip] clock: skipped (--offline)" in result.stdout
    assert "public redirect URI: relay mode" in result.stdout
    assert "nothing blocks spconnect here" in result.stdout


def test_insecure_backend_is_exit_7_with_the_ways_out(cli: Cli) -> None:
    result = cli.run(
        "doctor", "--offline", env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    )
    assert result.returncode == ExitCode.STORAGE_UNAVAILABLE
    assert "[FAIL] keyring: no secure keyring" in result.stdout
    assert "--insecure-storage" in result.stdout and 'storage = "env"' in result.stdout


def test_no_dbus_session_prints_the_server_recipe(cli: Cli) -> None:
    env = {"DBUS_SESSION_BUS_ADDRESS": ""}
    result = cli.run("doctor", "--offline", env=env)
    assert result.returncode == ExitCode.STORAGE_UNAVAILABLE
    assert "dbus-run-session" in result.stdout and "gnome-keyring-daemon --unlock" in result.stdout


def test_env_storage_does_not_need_a_keyring(cli: Cli) -> None:
    cli.config_dir.mkdir(parents=True)
    (cli.config_dir / "config.toml").write_text('storage = "env"\n')
    result = cli.run(
        "doctor", "--offline", env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    )
    assert result.returncode == 0, result.stdout
    assert "storage = 'env', so the keyring is not needed" in result.stdout


def test_ssh_session_prints_the_port_forward(cli: Cli, emulator: Emulator) -> None:
    app = emulator.state.register_app("demo")
    add_app(cli, app, "--callback-port", "50999", "--insecure-storage")
    result = cli.run("doctor", "--offline", env={"SSH_CONNECTION": "10.0.0.2 5000 10.0.0.1 22"})
    assert "[warn] session: this is an SSH session" in result.stdout
    assert "ssh -L 50999:127.0.0.1:50999 <this host>" in result.stdout
    assert "spconnect login --paste" in result.stdout


def test_invalid_config_is_exit_2_with_the_line(cli: Cli) -> None:
    cli.config_dir.mkdir(parents=True)
    (cli.config_dir / "config.toml").write_text('storage = "file"\nbogus = 1\n')
    result = cli.run("doctor", "--offline")
    assert result.returncode == ExitCode.USAGE
    assert "[FAIL] config:" in result.stdout and "line 2: bogus: unknown key" in result.stdout


def test_app_uri_and_port_checks(cli: Cli, emulator: Emulator) -> None:
    local = emulator.state.register_app("local", redirect_uris=["https://localhost:8443/cb"])
    public = emulator.state.register_app("pub")
    port = free_port()
    for name, app, extra in (
        ("local", local, ["--draft"]),
        ("pub", public, ["--published", "--callback-port", str(port)]),
    ):
        add_app(cli, app, *extra, "--insecure-storage", name=name)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = cli.run("doctor", "--offline")
    assert result.returncode == 0  # warnings only: nothing blocks
    assert (
        "[warn] app local: redirect URI host 'localhost': Amazon refuses localhost" in result.stdout
    )
    assert "draft: consent adds version=beta" in result.stdout
    assert (
        "[warn] app pub:" in result.stdout and "published app without a Login URI" in result.stdout
    )
    assert f"[warn] app pub port: callback port {port} is in use" in result.stdout


def test_clock_skew_against_the_lwa_date_header(cli: Cli, emulator: Emulator) -> None:
    assert "[ok  ] clock: within" in cli.run("doctor").stdout
    emulator.state.advance(120)  # Amazon's clock is now two minutes ahead of this one
    result = cli.run("doctor")
    assert result.returncode == 0
    # The Date header has one-second resolution.
    assert re.search(r"\[warn\] clock: this clock is 1(19|20|21) s behind Amazon's", result.stdout)
    assert "timedatectl" in result.stdout


def test_a_malformed_date_header_is_a_warning_not_a_crash(cli: Cli) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class BadDate(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self.send_response_only(200)
            self.send_header("Date", "Yesterday, around noon")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), BadDate)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/auth/o2/token"
        result = cli.run("doctor", env={"SPCONNECT_LWA_URL": url})
    finally:
        server.shutdown()
        server.server_close()
    assert "[warn] clock:" in result.stdout and "no usable Date header" in result.stdout
    assert "Traceback" not in result.output and result.returncode != ExitCode.UNEXPECTED


def test_unreachable_lwa_is_exit_6(cli: Cli) -> None:
    closed = f"http://127.0.0.1:{free_port()}/auth/o2/token"
    result = cli.run("doctor", env={"SPCONNECT_LWA_URL": closed})
    assert result.returncode == ExitCode.AMAZON_UNAVAILABLE
    assert "[FAIL] clock: Login with Amazon" in result.stdout and "unreachable" in result.stdout


def test_doctor_uses_no_app_secret_and_prints_none(cli: Cli, emulator: Emulator) -> None:
    app = emulator.state.register_app("demo")
    add_app(cli, app, "--insecure-storage")
    result = cli.run("doctor", "--offline")
    assert app.client_secret not in result.output


def test_port_check_follows_the_capture_mode(cli: Cli, emulator: Emulator) -> None:
    """Issue 9, item 6: a local https app listens on its redirect URI's port; doctor
    checked the unused callback port instead (53682 free while 8443 was busy)."""
    registered, callback = free_port(), free_port()
    local = emulator.state.register_app(
        "local", redirect_uris=[f"https://localhost:{registered}/callback"]
    )
    add_app(cli, local, "--callback-port", str(callback), "--insecure-storage", name="local")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", registered))
        taken.listen()
        result = cli.run("doctor", "--offline", env={"SSH_CONNECTION": "10.0.0.2 5000 10.0.0.1 22"})
    assert (
        f"[warn] app local port: port {registered} of the redirect URI (local https) is in use"
        in result.stdout
    ), result.stdout
    assert "login cannot listen elsewhere" in result.stdout
    assert f"callback port {callback}" not in result.stdout
    assert f"ssh -L {registered}:127.0.0.1:{registered} <this host>" in result.stdout
    free = cli.run("doctor", "--offline").stdout
    assert f"[ok  ] app local port: port {registered} of the redirect URI" in free
