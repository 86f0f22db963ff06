"""``spconnect token`` from the cache: no heavy imports, safe in parallel, never fooled by a
corrupt or stale cache entry."""

from __future__ import annotations

import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from spconnect.emulator import Emulator
from spconnect.errors import ExitCode
from tests.conftest import CONSOLE_SCRIPT, Cli, Seller

pytestmark = pytest.mark.keyring

HEAVY = ("typer", "rich", "httpx", "keyring", "pydantic", "pydantic_settings", "click")


def imported_modules(cli: Cli, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run the real console script with -X importtime; return what it imported."""
    completed = subprocess.run(
        [CONSOLE_SCRIPT, *args],
        capture_output=True,
        text=True,
        env={**cli.env, "PYTHONPROFILEIMPORTTIME": "1"},
        timeout=60,
    )
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in completed.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return completed, modules


def cache_file(cli: Cli, profile: str = "default") -> Path:
    return cli.cache_dir / "tokens" / f"{profile}.json"


def test_cached_token_imports_none_of_the_heavy_libraries(cli: Cli, seller: Seller) -> None:
    expected = cli.ok("token").stdout
    for args in (
        ("token",),
        ("token", "-p", "default", "--format", "json"),
        ("token", "--format=env", "--min-ttl", "60"),
    ):
        completed, modules = imported_modules(cli, *args)
        assert completed.returncode == 0
        assert expected.strip() in completed.stdout
        top_level = {m.split(".")[0] for m in modules}
        assert not top_level & set(HEAVY), f"{args} imported {top_level & set(HEAVY)}"
        if "json" not in args:  # only the json format pays for the json module (and re)
            assert "re" not in top_level  # re alone costs a third of Python's start-up


def test_the_import_check_can_fail(cli: Cli, seller: Seller) -> None:
    """The same measurement sees the heavy imports when the cache cannot answer."""
    cache_file(cli).unlink()
    completed, modules = imported_modules(cli, "token")
    assert completed.returncode == 0
    assert {"typer", "httpx", "keyring"} <= {m.split(".")[0] for m in modules}


def test_flags_the_fast_path_does_not_know_go_to_the_cli(cli: Cli, seller: Seller) -> None:
    cli.ok("token")
    for args in (("token", "-v"), ("token", "--force-refresh"), ("token", "--help")):
        completed, modules = imported_modules(cli, *args)
        assert completed.returncode == 0, completed.stderr[-500:]
        assert "typer" in {m.split(".")[0] for m in modules}


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b'{"version": 1, "access_token": "Atza|tr', b"\x00\xff garbage", b"[]", b"null"],
)
def test_corrupt_or_truncated_cache_is_a_miss(
    cli: Cli, seller: Seller, emulator: Emulator, content: bytes
) -> None:
    cache_file(cli).write_bytes(content)
    before = emulator.count("refresh_token")
    result = cli.ok("token")
    assert result.stdout.startswith("Atza|") and result.stderr == ""
    assert emulator.count("refresh_token") == before + 1
    assert json.loads(cache_file(cli).read_text())["access_token"] == result.stdout.strip()


def test_expired_cache_is_refreshed(cli: Cli, seller: Seller, emulator: Emulator) -> None:
    old = cli.ok("token").stdout
    entry = json.loads(cache_file(cli).read_text())
    entry["refresh_at"] = time.time() - 1
    cache_file(cli).write_text(json.dumps(entry))
    assert cli.ok("token").stdout != old


def test_cache_of_an_older_refresh_token_is_not_served_by_the_slow_path(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    cli.ok("token")
    entry = json.loads(cache_file(cli).read_text())
    entry["key"] = "0" * 64  # as if written for another refresh token
    entry["access_token"] = "Atza|stale-from-another-token"
    cache_file(cli).write_text(json.dumps(entry))
    result = cli.ok("token", "-v")  # -v: the slow path, which knows the refresh token
    assert "stale-from-another-token" not in result.stdout


def test_env_storage_fast_path_checks_the_refresh_token(cli: Cli, emulator: Emulator) -> None:
    app = emulator.state.register_app("demo")
    token = emulator.state.self_authorize(app.client_id)
    cli.config_dir.mkdir(parents=True)
    (cli.config_dir / "config.toml").write_text(
        'storage = "env"\n\n[apps.demo]\n'
        f'client_id = "{app.client_id}"\napp_id = "{app.app_id}"\n'
        f'redirect_uri = "{app.redirect_uris[0]}"\n\n'
        '[profiles.default]\napp = "demo"\nregion = "na"\nmarketplace = "ATVPDKIKX0DER"\n'
    )
    env = {"SPCONNECT_CLIENT_SECRET": app.client_secret, "SPCONNECT_REFRESH_TOKEN": token}
    first = cli.ok("token", env=env).stdout
    # Without the variables the entry cannot be checked: the CLI runs and says what is missing.
    completed, modules = imported_modules(cli, "token")
    assert "typer" in {m.split(".")[0] for m in modules}
    assert completed.returncode == ExitCode.NOT_SET_UP
    assert cli.ok("token", env=env).stdout == first  # the fast path served the cached entry
    assert emulator.count("refresh_token") == 1
    # A different refresh token in the environment: the cached entry is not its own.
    other = emulator.state.self_authorize(app.client_id)
    second = cli.ok("token", env={**env, "SPCONNECT_REFRESH_TOKEN": other}).stdout
    assert second != first
    assert emulator.count("refresh_token") == 2
    assert cli.ok("token", env={**env, "SPCONNECT_REFRESH_TOKEN": other}).stdout == second


@pytest.mark.parametrize("command", ["login", "logout", "set-secret", "app-remove"])
def test_commands_that_change_credentials_invalidate_the_cache(
    cli: Cli, seller: Seller, emulator: Emulator, command: str
) -> None:
    cached = cli.ok("token").stdout
    assert cache_file(cli).exists()
    if command == "login":
        token = emulator.state.self_authorize(seller.app.client_id)
        cli.ok("login", "--refresh-token-stdin", input=token)
        assert json.loads(cache_file(cli).read_text())["access_token"] != cached.strip()
        assert cli.ok("token").stdout != cached
    elif command == "set-secret":
        secret = emulator.state.rotate_secret(seller.app.client_id)
        cli.ok("app", "set-secret", "demo", "--client-secret-stdin", input=secret)
        assert cli.ok("token").stdout != cached
    else:
        args = ("logout",) if command == "logout" else ("app", "remove", "demo")
        cli.ok(*args)
        assert not cache_file(cli).exists()
        assert cli.run("token").returncode == ExitCode.NOT_SET_UP


def test_fifty_parallel_calls_on_an_expired_cache_make_one_refresh(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    cli.ok("token")
    entry = json.loads(cache_file(cli).read_text())
    entry["refresh_at"] = entry["expires_at"] = time.time() - 10
    cache_file(cli).write_text(json.dumps(entry))
    before = emulator.count("refresh_token")

    def call(_: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CONSOLE_SCRIPT, "token"], capture_output=True, text=True, env=cli.env, timeout=120
        )

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(call, range(50)))
    assert [r.returncode for r in results] == [0] * 50, [r.stderr for r in results if r.returncode]
    tokens = {r.stdout for r in results}
    assert len(tokens) == 1 and next(iter(tokens)).startswith("Atza|")
    assert emulator.count("refresh_token") - before == 1


def test_cache_files_are_private(cli: Cli, seller: Seller) -> None:
    cli.ok("token")
    for path in [cli.cache_dir, cli.cache_dir / "tokens", *cli.cache_dir.rglob("*")]:
        mode = os.stat(path).st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path} is {oct(mode)}"


def test_token_cache_in_the_keyring_keeps_no_file(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    import keyring

    path = cli.config_dir / "config.toml"
    text = path.read_text()
    assert 'token_cache = "file"' in text
    path.write_text(text.replace('token_cache = "file"', 'token_cache = "keyring"'))
    cache_file(cli).unlink()
    first = cli.ok("token").stdout
    assert cli.ok("token").stdout == first  # served from the keyring entry
    assert not cache_file(cli).exists()
    stored = keyring.get_password(cli.keyring_service, "cache:default")
    assert stored is not None and json.loads(stored)["access_token"] == first.strip()
    before = emulator.count("refresh_token")
    cli.ok("logout")
    assert keyring.get_password(cli.keyring_service, "cache:default") is None
    assert emulator.count("refresh_token") == before
