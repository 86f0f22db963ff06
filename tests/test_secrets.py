"""Secret storage: the real Secret Service, refusal of insecure backends, timeouts, file and
env modes, and the Windows size limit."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import time
from pathlib import Path

import keyring
import pytest

from spconnect.emulator import Emulator
from spconnect.errors import ExitCode, StorageUnavailable
from spconnect.store.secrets import WINDOWS_MAX_BLOB_BYTES, check_secret_size, describe_backend
from tests.conftest import (
    CONSOLE_SCRIPT,
    Cli,
    Seller,
    add_app,
    login_self_authorized,
    run_app_add,
)

REPO = str(Path(__file__).resolve().parent.parent)


def backend_env(name: str) -> dict[str, str]:
    return {"PYTHON_KEYRING_BACKEND": name, "PYTHONPATH": REPO}


def _grep(root: Path, needles: list[str]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path}: {n[:8]}..." for n in needles if n.encode() in data]
    return hits


@pytest.mark.keyring
def test_secrets_are_in_the_secret_service_and_nowhere_on_disk(cli: Cli, seller: Seller) -> None:
    cli.ok("token")
    assert keyring.get_password(cli.keyring_service, "app:demo") == seller.app.client_secret
    assert keyring.get_password(cli.keyring_service, "profile:default") == seller.refresh_token
    needles = [seller.app.client_secret, seller.refresh_token]
    roots = [cli.config_dir, cli.cache_dir]
    if os.environ.get("XDG_DATA_HOME"):  # where scripts/with-keyring keeps gnome-keyring
        roots.append(Path(os.environ["XDG_DATA_HOME"]))
    for root in roots:
        assert _grep(root, needles) == []


@pytest.mark.parametrize(
    "backend",
    [
        "keyring.backends.fail.Keyring",
        "keyring.backends.null.Keyring",
        "tests.keyring_backends.PlaintextKeyring",
    ],
)
def test_insecure_backends_are_refused_with_the_three_ways_out(
    cli: Cli, emulator: Emulator, backend: str
) -> None:
    result = run_app_add(
        cli, emulator.state.register_app(), secret="amzn1.oa2-cs.v1.abc", env=backend_env(backend)
    )
    assert result.returncode == ExitCode.STORAGE_UNAVAILABLE
    for way in ("Secret Service", "spconnect doctor", "--insecure-storage", 'storage = "env"'):
        assert way in result.stderr
    assert not (cli.config_dir / "config.toml").exists()


def test_hung_keyring_times_out_with_exit_7(cli: Cli, emulator: Emulator) -> None:
    cli.config_dir.mkdir(parents=True)
    (cli.config_dir / "config.toml").write_text("keyring_timeout = 1.0\n")
    started = time.monotonic()
    result = run_app_add(
        cli,
        emulator.state.register_app(),
        secret="amzn1.oa2-cs.v1.abc",
        env=backend_env("tests.keyring_backends.HangingKeyring"),
    )
    assert time.monotonic() - started < 15
    assert result.returncode == ExitCode.STORAGE_UNAVAILABLE
    assert "did not answer within 1 s" in result.stderr
    assert "spconnect doctor" in result.stderr


def test_locked_keyring_is_exit_7(cli: Cli, emulator: Emulator) -> None:
    result = run_app_add(
        cli,
        emulator.state.register_app(),
        secret="amzn1.oa2-cs.v1.abc",
        env=backend_env("tests.keyring_backends.LockedKeyring"),
    )
    assert result.returncode == ExitCode.STORAGE_UNAVAILABLE
    assert "the keyring is locked" in result.stderr and "KeyringLocked" in result.stderr
    assert "unlock it" in result.stderr


def test_backend_error_echoing_the_secret_is_redacted(cli: Cli, emulator: Emulator) -> None:
    secret = "opaque-client-secret-0123456789"
    result = run_app_add(
        cli,
        emulator.state.register_app(),
        "-v",
        secret=secret,
        env=backend_env("tests.keyring_backends.LeakyKeyring"),
    )
    assert result.returncode == ExitCode.STORAGE_UNAVAILABLE
    assert "could not store" in result.stderr
    assert secret not in result.output


def test_insecure_file_storage_is_explicit_0600_and_reported(cli: Cli, emulator: Emulator) -> None:
    app = emulator.state.register_app("demo")
    env = backend_env("keyring.backends.fail.Keyring")  # no keyring at all on this "machine"
    result = add_app(cli, app, "--insecure-storage", env=env)
    assert "plain 0600 file" in result.stderr
    secrets_file = cli.config_dir / "secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert 'storage = "file"' in (cli.config_dir / "config.toml").read_text()
    token = emulator.state.self_authorize(app.client_id)
    cli.ok("login", "--refresh-token-stdin", "--marketplace", "US", input=token, env=env)
    assert cli.ok("token", env=env).stdout.startswith("Atza|")
    shown = cli.ok("app", "show", "demo", env=env).stdout
    assert "secrets.json (0600, not encrypted) (insecure)" in shown
    assert "storage          file" in shown


def test_env_storage_reads_variables_and_never_writes(cli: Cli, emulator: Emulator) -> None:
    app = emulator.state.register_app("demo")
    token = emulator.state.self_authorize(app.client_id)
    cli.config_dir.mkdir(parents=True)
    (cli.config_dir / "config.toml").write_text(
        'storage = "env"\n\n[apps.demo]\n'
        f'client_id = "{app.client_id}"\napp_id = "{app.app_id}"\n'
        f'redirect_uri = "{app.redirect_uris[0]}"\n\n'
        '[profiles.default]\napp = "demo"\nregion = "eu"\nmarketplace = "A1PA6795UKMFR9"\n'
    )
    env = {
        **backend_env("keyring.backends.fail.Keyring"),
        "SPCONNECT_CLIENT_SECRET": app.client_secret,
        "SPCONNECT_REFRESH_TOKEN": token,
    }
    assert cli.ok("token", "--format", "json", env=env).stdout.count('"region": "eu"') == 1
    missing = cli.run("token", "--force-refresh", env={**env, "SPCONNECT_REFRESH_TOKEN": ""})
    assert missing.returncode == ExitCode.NOT_SET_UP
    write = cli.run("login", "--refresh-token-stdin", input=token, env=env)
    assert write.returncode == ExitCode.USAGE and "read-only" in write.stderr
    assert not (cli.config_dir / "secrets.json").exists()
    assert _grep(cli.config_dir, [token, app.client_secret]) == []


def test_windows_credential_manager_size_limit_is_explained() -> None:
    # Windows cannot run here: the check is a pure function of the backend's name.
    check_secret_size("Windows Credential Manager", "profile:x", "A" * 1280)
    with pytest.raises(StorageUnavailable) as info:
        check_secret_size("Windows Credential Manager", "profile:x", "A" * 1281)
    assert f"at most {WINDOWS_MAX_BLOB_BYTES} bytes" in info.value.message
    assert "SPCONNECT_REFRESH_TOKEN" in str(info.value.hint)
    check_secret_size("Secret Service", "profile:x", "A" * 4096)


def test_backend_descriptions() -> None:
    from keyring.backends import fail, null

    assert describe_backend(fail.Keyring()) == ("no keyring backend", False)
    assert describe_backend(null.Keyring()) == ("no keyring backend", False)


@pytest.mark.keyring
def test_login_into_a_second_profile_keeps_the_first(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    second = login_self_authorized(cli, emulator, profile="eu")
    assert keyring.get_password(cli.keyring_service, "profile:default") == seller.refresh_token
    assert keyring.get_password(cli.keyring_service, "profile:eu") == second.refresh_token


def _with_keyring_timeout(cli: Cli, seconds: float) -> None:
    path = cli.config_dir / "config.toml"
    text = re.sub(r"(?m)^keyring_timeout = .*$", f"keyring_timeout = {seconds}", path.read_text())
    assert f"keyring_timeout = {seconds}" in text
    path.write_text(text)


@pytest.mark.keyring
def test_a_slow_but_healthy_secret_service_is_given_more_time(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    """Issue 7: a busy machine must not look like a locked keyring."""
    _with_keyring_timeout(cli, 1.0)
    env = backend_env("tests.keyring_backends.SlowSecretService")  # answers after 1.6 s
    result = cli.run("token", "--force-refresh", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Atza|")


@pytest.mark.keyring
def test_a_stuck_call_to_an_unlocked_secret_service_says_busy_not_locked(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    _with_keyring_timeout(cli, 1.0)
    started = time.monotonic()
    result = cli.run(
        "token", "--force-refresh", env=backend_env("tests.keyring_backends.StuckSecretService")
    )
    elapsed = time.monotonic() - started
    assert result.returncode == ExitCode.STORAGE_UNAVAILABLE
    assert "unlocked and answering" in result.stderr and "keyring_timeout" in result.stderr
    assert "locked (" not in result.stderr
    assert 3.5 < elapsed < 15  # the grace (4 x 1 s), then a clear end


LOCKED_SESSION = """
import os, subprocess, sys
import keyring, secretstorage
spconnect = sys.argv[1]
secret, token = os.environ.pop("TEST_CLIENT_SECRET"), os.environ.pop("TEST_REFRESH_TOKEN")
def run(*args, stdin=""):
    done = subprocess.run([spconnect, *args], input=stdin, capture_output=True, text=True)
    if args[0] != "token":
        assert done.returncode == 0, done.stderr
    return done
run("app", "add", "demo", *sys.argv[2:], "--client-secret-stdin", stdin=secret)
run("login", "--refresh-token-stdin", "--marketplace", "US", stdin=token)
connection = secretstorage.dbus_init()
secretstorage.get_default_collection(connection).lock()
done = run("token", "--force-refresh")
print(done.returncode)
sys.stderr.write(done.stderr)
"""


@pytest.mark.keyring
def test_a_locked_secret_service_is_exit_7_and_says_locked(
    cli: Cli, emulator: Emulator, tmp_path: Path, secret_service: None
) -> None:
    """A real gnome-keyring in a private D-Bus session, unlocked, used, then locked."""
    import shutil
    import sys

    app = emulator.state.register_app("demo")
    token = emulator.state.self_authorize(app.client_id)
    script = tmp_path / "locked_session.py"
    script.write_text(LOCKED_SESSION)
    wrapper = Path(REPO) / "scripts" / "with-keyring"
    env = {k: v for k, v in cli.env.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    started = time.monotonic()
    done = subprocess.run(
        [
            shutil.which("dbus-run-session") or "dbus-run-session",
            "--",
            str(wrapper),
            sys.executable,
            str(script),
            CONSOLE_SCRIPT,
            "--client-id",
            app.client_id,
            "--app-id",
            app.app_id,
            "--redirect-uri",
            app.redirect_uris[0],
        ],
        capture_output=True,
        text=True,
        env={**env, "TEST_CLIENT_SECRET": app.client_secret, "TEST_REFRESH_TOKEN": token},
        timeout=120,
    )
    assert done.stdout.strip().splitlines()[-1] == str(ExitCode.STORAGE_UNAVAILABLE), done.stderr
    assert "the keyring is locked" in done.stderr
    assert "gnome-keyring-daemon --unlock" in done.stderr
    assert time.monotonic() - started < 60
