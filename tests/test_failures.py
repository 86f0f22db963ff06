"""Consistency after failures (issue 8, section 6): a failed step leaves the previous state
intact, a stale failure record does not outlive its fix, and broken files and directories
end in their documented exit codes (2 or 7), never in a traceback (exit 1)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import keyring
import pytest

from spconnect import accounts
from spconnect.amazon.lwa import LwaClient
from spconnect.amazon.marketplaces import resolve_marketplace
from spconnect.emulator import Emulator
from spconnect.errors import ExitCode, LoginIncomplete
from spconnect.workspace import Workspace
from tests.conftest import CONSOLE_SCRIPT, Cli, Seller, run_app_add

pytestmark = pytest.mark.keyring


@pytest.fixture
def in_process(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Point this process at the CLI's config, cache and keyring service."""
    for name, value in cli.env.items():
        if name.startswith("SPCONNECT_"):
            monkeypatch.setenv(name, value)
    return cli


def _new_grant(emulator: Emulator, seller: Seller) -> tuple[str, object]:
    token = emulator.state.self_authorize(seller.app.client_id)
    grant = LwaClient(emulator.token_url).refresh(
        client_id=seller.app.client_id,
        client_secret=seller.app.client_secret,
        refresh_token=token,
    )
    return token, grant


def _store(seller: Seller, token: str, grant: object, selling_partner_id: str | None) -> None:
    accounts.store_authorization(
        Workspace(),
        profile="default",
        app_name="demo",
        marketplace=resolve_marketplace("US"),
        refresh_token=token,
        client_secret=seller.app.client_secret,
        grant=grant,  # type: ignore[arg-type]
        selling_partner_id=selling_partner_id,
    )


def test_a_malformed_answer_stores_nothing(
    in_process: Cli, seller: Seller, emulator: Emulator
) -> None:
    config_before = (in_process.config_dir / "config.toml").read_text()
    token, grant = _new_grant(emulator, seller)
    with pytest.raises(LoginIncomplete, match="nothing was stored"):
        _store(seller, token, grant, "<b>x</b>")
    assert keyring.get_password(in_process.keyring_service, "profile:default") == (
        seller.refresh_token
    )
    assert (in_process.config_dir / "config.toml").read_text() == config_before
    assert in_process.ok("token").stdout.startswith("Atza|")


def test_a_config_that_cannot_be_saved_rolls_the_keyring_back(
    in_process: Cli, seller: Seller, emulator: Emulator
) -> None:
    lock = in_process.config_dir / ".config.lock"
    lock.unlink(missing_ok=True)
    lock.mkdir()  # the config lock cannot be taken: saving fails after the keyring write
    token, grant = _new_grant(emulator, seller)
    with pytest.raises(OSError):
        _store(seller, token, grant, "A3FHEXAMPLEYWS")
    assert keyring.get_password(in_process.keyring_service, "profile:default") == (
        seller.refresh_token
    )
    lock.rmdir()
    assert in_process.ok("token").stdout.startswith("Atza|")


def test_status_check_after_the_secret_is_fixed_is_clean(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    new_secret = emulator.state.rotate_secret(seller.app.client_id)
    emulator.state.expire_old_secrets(seller.app.client_id)
    rejected = cli.run("token", "--force-refresh")
    assert rejected.returncode == ExitCode.CLIENT_REJECTED
    assert cli.run("status").returncode == ExitCode.CLIENT_REJECTED  # remembered
    cli.ok("app", "set-secret", "demo", "--client-secret-stdin", input=new_secret)
    assert cli.run("status", "--check").returncode == 0
    assert cli.run("status").returncode == 0


def test_a_failure_record_makes_status_check_ask_amazon_again(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    cli.ok("token")
    state = cli.cache_dir / "state" / "default.json"
    record = json.loads(state.read_text())
    record.update(ok=False, exit_code=ExitCode.CLIENT_REJECTED, message="rejected earlier")
    state.write_text(json.dumps(record))
    before = emulator.count("refresh_token")
    assert cli.run("status", "--check").returncode == 0
    assert emulator.count("refresh_token") == before + 1


def test_a_config_that_is_a_directory_is_exit_2(cli: Cli) -> None:
    (cli.config_dir / "config.toml").mkdir(parents=True)
    for args in (("status",), ("token",), ("app", "list")):
        result = cli.run(*args)
        assert result.returncode == ExitCode.USAGE, result.output
        assert "cannot read" in result.stderr and "Traceback" not in result.output


def test_deeply_nested_toml_is_exit_2(cli: Cli) -> None:
    cli.config_dir.mkdir(parents=True)
    (cli.config_dir / "config.toml").write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    for args in (("status",), ("token",)):
        result = cli.run(*args)
        assert result.returncode == ExitCode.USAGE, result.output
        assert "nested too deeply" in result.stderr


def test_a_cache_entry_that_is_a_directory_is_exit_7(cli: Cli, seller: Seller) -> None:
    cache_file = cli.cache_dir / "tokens" / "default.json"
    cache_file.unlink()
    cache_file.mkdir()
    result = cli.run("token")
    assert result.returncode == ExitCode.STORAGE_UNAVAILABLE, result.output
    assert "cannot write the token cache" in result.stderr


def test_an_absurd_expiry_is_not_believed(cli: Cli, seller: Seller, emulator: Emulator) -> None:
    cache_file = cli.cache_dir / "tokens" / "default.json"
    cli.ok("token")
    entry = json.loads(cache_file.read_text())
    entry.update(expires_at=1e300, refresh_at=1e300, access_token="Atza|forever")
    cache_file.write_text(json.dumps(entry))
    for args in (("token",), ("token", "--format", "json"), ("token", "-v")):
        result = cli.ok(*args)
        assert "Atza|forever" not in result.stdout


def test_a_secrets_file_that_is_a_directory_is_exit_7(cli: Cli, emulator: Emulator) -> None:
    app = emulator.state.register_app("demo")
    cli.config_dir.mkdir(parents=True)
    (cli.config_dir / "secrets.json").mkdir()
    result = run_app_add(cli, app, "--insecure-storage")
    assert result.returncode == ExitCode.STORAGE_UNAVAILABLE, result.output
    assert "secrets file" in result.stderr


def without_file_permission_overrides() -> list[str]:
    """A command prefix under which even root is bound by file modes (no DAC override)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root without setpriv cannot be made to respect file modes")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}", "--"]


@pytest.mark.parametrize(("directory", "code"), [("config", 2), ("cache", 7)])
def test_unreadable_config_or_cache_directory_is_its_documented_code(
    cli: Cli, seller: Seller, directory: str, code: int
) -> None:
    cli.ok("token")
    (cli.cache_dir / "tokens" / "default.json").unlink()  # the token command must look further
    unreadable = cli.config_dir if directory == "config" else cli.cache_dir
    os.chmod(unreadable, 0)
    try:
        done = subprocess.run(
            [*without_file_permission_overrides(), CONSOLE_SCRIPT, "token"],
            capture_output=True,
            text=True,
            env=cli.env,
            timeout=60,
        )
    finally:
        os.chmod(unreadable, 0o700)
    assert done.returncode == code, done.stdout + done.stderr
    assert str(unreadable) in done.stderr and "Traceback" not in done.stderr
