"""``spconnect token`` from the cache: no heavy imports, safe in parallel, never fooled by a
corrupt or stale cache entry."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from spconnect.emulator import Emulator
from spconnect.errors import ExitCode
from tests.conftest import CONSOLE_SCRIPT, Cli, Seller, login_self_authorized

pytestmark = pytest.mark.keyring

# The invite server's stack (the serve extra) too: nothing of it belongs on a token path.
SERVE_STACK = ("starlette", "uvicorn", "psycopg")  # anyio and h11 come with httpx
HEAVY = (
    "typer",
    "rich",
    "httpx",
    "keyring",
    "pydantic",
    "pydantic_settings",
    "click",
    *SERVE_STACK,
)


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
            # collections (typing, dataclasses...) costs about a tenth of the budget.
            assert "collections" not in top_level, "the fast path imported collections"


# click too: httpx imports it for its optional command line whenever it is installed (as
# uvicorn installs it), which spconnect/__init__.py prevents.
CLI_ONLY = ("typer", "rich", "questionary", "pydantic", "pydantic_settings", "click", *SERVE_STACK)


@pytest.mark.parametrize("args", [("token",), ("token", "--force-refresh", "--format", "json")])
def test_refresh_path_imports_no_cli_libraries(
    cli: Cli, seller: Seller, emulator: Emulator, args: tuple[str, ...]
) -> None:
    """A refresh loads config, keyring and httpx, and nothing of the CLI (issue 7)."""
    cache_file(cli).unlink()
    before = emulator.count("refresh_token")
    completed, modules = imported_modules(cli, *args)
    assert completed.returncode == 0, completed.stderr[-500:]
    assert emulator.count("refresh_token") == before + 1
    top_level = {m.split(".")[0] for m in modules}
    # The same measurement sees what a refresh does need: the check can fail.
    assert {"httpx", "keyring"} <= top_level
    assert not top_level & set(CLI_ONLY), f"{args} imported {top_level & set(CLI_ONLY)}"


def test_refresh_errors_render_as_the_cli_renders_them(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    emulator.state.revoke(seller.refresh_token)
    cache_file(cli).unlink()
    lean, modules = imported_modules(cli, "token")
    assert "typer" not in {m.split(".")[0] for m in modules}
    full = cli.run("token", "-v")  # -v: the Typer command, same function underneath
    assert lean.returncode == full.returncode == ExitCode.AUTHORIZATION_REJECTED

    def lines(stderr: str) -> list[str]:
        # Each answer has its own request id; everything else must read the same.
        return [
            re.sub(r"request id \w+", "request id ID", line)
            for line in stderr.splitlines()
            if not line.startswith(("import time:", "spconnect: "))  # -v adds trace lines
        ]

    assert lines(lean.stderr)[0].startswith("error: Amazon rejected the authorization of profile")
    assert (
        lines(lean.stderr)[-1] == "the seller must authorize again: `spconnect reauth -p default`"
    )
    assert lines(lean.stderr) == lines(full.stderr)


def test_flags_the_fast_path_does_not_know_go_to_the_cli(cli: Cli, seller: Seller) -> None:
    cli.ok("token")
    for args in (("token", "-v"), ("token", "--help"), ("token", "--format", "yaml")):
        completed, modules = imported_modules(cli, *args)
        assert completed.returncode == (2 if "yaml" in args else 0), completed.stderr[-500:]
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


def failing_keyring_env(cli: Cli, tmp_path: Path) -> dict[str, str]:
    """Select, through keyring's own config file, a backend that fails on every call."""
    config_home = tmp_path / "xdg-config"
    (config_home / "python_keyring").mkdir(parents=True)
    (config_home / "python_keyring" / "keyringrc.cfg").write_text(
        "[backend]\n"
        "default-keyring = keyring_backends.FailingKeyring\n"
        f"keyring-path = {Path(__file__).parent}\n"
    )
    return {"XDG_CONFIG_HOME": str(config_home)}


def test_a_fresh_cache_is_served_without_any_keyring_call(
    cli: Cli, seller: Seller, emulator: Emulator, tmp_path: Path
) -> None:
    expected = cli.ok("token").stdout
    env = failing_keyring_env(cli, tmp_path)
    # The fast path, the Typer command (-v) and the Python API in a new process: none of
    # them opens the keyring while the cached entry is fresh.
    assert cli.ok("token", env=env).stdout == expected
    assert cli.ok("token", "-v", env=env).stdout == expected
    program = "import spconnect; print(spconnect.access_token().access_token)"
    api = subprocess.run(
        [str(Path(CONSOLE_SCRIPT).with_name("python")), "-c", program],
        capture_output=True,
        text=True,
        env={**cli.env, **env},
        timeout=60,
    )
    assert api.returncode == 0, api.stderr
    assert api.stdout == expected
    # The twin that shows the backend really fails: a refresh must read the secrets.
    forced = cli.run("token", "--force-refresh", env=env)
    assert forced.returncode == ExitCode.STORAGE_UNAVAILABLE
    assert "FailingKeyring refuses every call" in forced.stderr


def test_a_copied_cache_file_is_not_served_for_another_profile(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    default_token = cli.ok("token").stdout
    # A profile that does not exist: its "cache" is default's file under another name.
    (cli.cache_dir / "tokens" / "nosuch.json").write_bytes(cache_file(cli).read_bytes())
    result = cli.run("token", "-p", "nosuch")
    assert result.returncode == ExitCode.NOT_SET_UP
    assert default_token.strip() not in result.output
    # A real second profile whose cache file was overwritten with default's.
    login_self_authorized(cli, emulator, profile="prod")
    cache_file(cli, "prod").write_bytes(cache_file(cli).read_bytes())
    prod_token = cli.ok("token", "-p", "prod").stdout
    assert prod_token.startswith("Atza|") and prod_token != default_token
    assert json.loads(cache_file(cli, "prod").read_text())["profile"] == "prod"


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
    # Without the variables the entry cannot be checked: not served; says what is missing.
    completed = cli.run("token")
    assert completed.returncode == ExitCode.NOT_SET_UP
    assert first.strip() not in completed.output
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
        args = ("logout",) if command == "logout" else ("app", "remove", "demo", "--yes")
        cli.ok(*args)
        assert not cache_file(cli).exists()
        assert cli.run("token").returncode == ExitCode.NOT_SET_UP


def expire(cli: Cli, profile: str = "default") -> None:
    entry = json.loads(cache_file(cli, profile).read_text())
    entry["refresh_at"] = entry["expires_at"] = time.time() - 10
    cache_file(cli, profile).write_text(json.dumps(entry))


def herd(cli: Cli, size: int) -> list[subprocess.CompletedProcess[str]]:
    def call(_: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CONSOLE_SCRIPT, "token"], capture_output=True, text=True, env=cli.env, timeout=120
        )

    with ThreadPoolExecutor(max_workers=size) as pool:
        return list(pool.map(call, range(size)))


def test_fifty_parallel_calls_on_an_expired_cache_make_one_refresh(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    """Against the real Secret Service, several times over (issue 7: it failed 2 runs in 3
    when every process opened the keyring before taking the lock)."""
    cli.ok("token")
    for run in range(4):
        expire(cli)
        before = emulator.count("refresh_token")
        results = herd(cli, 50)
        failed = [r.stderr for r in results if r.returncode]
        assert not failed, f"run {run}: {len(failed)} failed, e.g. {failed[0]}"
        tokens = {r.stdout for r in results}
        assert len(tokens) == 1 and next(iter(tokens)).startswith("Atza|"), f"run {run}"
        assert emulator.count("refresh_token") - before == 1, f"run {run}"


def test_killing_the_lock_holder_mid_refresh_loses_nothing(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    import signal

    from spconnect.emulator.state import Fault

    cli.ok("token")
    expire(cli)
    stale = cache_file(cli).read_bytes()
    emulator.state.inject(Fault("slow", delay=20))
    before = emulator.count("token_requests")  # counted on arrival, before the delay
    holder = subprocess.Popen(
        [CONSOLE_SCRIPT, "token"], env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 30
    while emulator.count("token_requests") == before:  # it holds the lock, waiting on Amazon
        assert time.monotonic() < deadline and holder.poll() is None, "the refresh never began"
        time.sleep(0.02)
    waiters = [
        subprocess.Popen(
            [CONSOLE_SCRIPT, "token"], env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(3)
    ]
    time.sleep(0.3)
    assert all(w.poll() is None for w in waiters), "waiters did not wait for the lock"
    holder.send_signal(signal.SIGKILL)
    holder.wait(10)
    outputs = [w.communicate(timeout=60) for w in waiters]
    assert [w.returncode for w in waiters] == [0, 0, 0], [e for _, e in outputs]
    assert len({out for out, _ in outputs}) == 1
    # The stale entry was replaced whole, by one refresh after the kill.
    assert emulator.count("token_requests") - before == 2
    entry = json.loads(cache_file(cli).read_text())
    assert entry["access_token"].encode() + b"\n" == outputs[0][0]
    assert cache_file(cli).read_bytes() != stale
    leftovers = [p.name for p in (cli.cache_dir / "tokens").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


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


def planted(cli: Cli, where: Path) -> str:
    """Copy the profile's entry to ``where`` with a planted token; return that token."""
    entry = json.loads(cache_file(cli).read_text())
    entry["access_token"] = "Atza|planted-by-another-user"
    where.write_text(json.dumps(entry))
    return str(entry["access_token"])


def test_a_group_or_world_writable_cache_file_is_not_believed(cli: Cli, seller: Seller) -> None:
    cli.ok("token")
    token = planted(cli, cache_file(cli))
    os.chmod(cache_file(cli), 0o666)
    result = cli.ok("token")
    assert token not in result.stdout and result.stdout.startswith("Atza|")
    assert os.stat(cache_file(cli)).st_mode & 0o777 == 0o600  # replaced by a private one


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
def test_a_cache_file_of_another_user_is_not_believed(cli: Cli, seller: Seller) -> None:
    cli.ok("token")
    token = planted(cli, cache_file(cli))
    os.chown(cache_file(cli), 65534, 65534)  # nobody
    result = cli.ok("token")
    assert token not in result.stdout and result.stdout.startswith("Atza|")


def test_a_symlinked_cache_file_is_not_followed(cli: Cli, seller: Seller, tmp_path: Path) -> None:
    cli.ok("token")
    elsewhere = tmp_path / "elsewhere.json"
    token = planted(cli, elsewhere)
    os.chmod(elsewhere, 0o600)
    cache_file(cli).unlink()
    cache_file(cli).symlink_to(elsewhere)
    result = cli.ok("token")
    assert token not in result.stdout and result.stdout.startswith("Atza|")


def test_a_symlinked_tokens_directory_is_refused_and_its_target_left_alone(
    cli: Cli, seller: Seller, tmp_path: Path
) -> None:
    cli.ok("token")
    target = tmp_path / "shared-tokens"
    target.mkdir()
    token = planted(cli, target / "default.json")
    os.chmod(target / "default.json", 0o600)
    os.chmod(target, 0o755)
    tokens_dir = cli.cache_dir / "tokens"
    for path in tokens_dir.iterdir():
        path.unlink()
    tokens_dir.rmdir()
    tokens_dir.symlink_to(target)
    result = cli.run("token")
    assert result.returncode == ExitCode.STORAGE_UNAVAILABLE
    assert token not in result.output
    assert "symbolic link" in result.stderr and str(tokens_dir) in result.stderr
    assert os.stat(target).st_mode & 0o777 == 0o755  # never chmod-ed through the link


def test_removing_an_app_removes_its_grantless_tokens(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    cli.ok("token", "--grantless", "notifications")
    grantless = cli.cache_dir / "grantless" / "demo.notifications.json"
    assert grantless.exists()
    cli.ok("app", "remove", "demo", "--yes")
    assert not grantless.exists()


@pytest.mark.parametrize("forged", ["Atza|a\r\nx-evil: 1", "Atza|\x1b]0;owned\x07", "", "A" * 3000])
def test_a_cached_token_of_the_wrong_shape_is_never_printed(
    cli: Cli, seller: Seller, forged: str
) -> None:
    cli.ok("token")
    entry = json.loads(cache_file(cli).read_text())
    entry["access_token"] = forged
    cache_file(cli).write_text(json.dumps(entry))
    for fmt in ("raw", "header"):
        result = cli.ok("token", "--format", fmt)
        assert result.stdout.startswith(("Atza|", "x-amz-access-token: Atza|"))
        assert forged not in result.stdout or not forged
        assert "\r" not in result.stdout and "\x1b" not in result.stdout
