"""The public Python API: get_access_token and SPAPIAuth share the CLI's cache and store."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest

import spconnect
from spconnect.access import forget
from spconnect.emulator import Emulator
from spconnect.errors import NotSetUp
from tests.conftest import Cli, Seller

pytestmark = pytest.mark.keyring


@pytest.fixture
def api_env(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Cli:
    for name in (
        "SPCONNECT_CONFIG_DIR",
        "SPCONNECT_CACHE_DIR",
        "SPCONNECT_KEYRING_SERVICE",
        "SPCONNECT_LWA_URL",
        "SPCONNECT_SPAPI_URL",
    ):
        monkeypatch.setenv(name, cli.env[name])
    forget()  # each test starts with nothing held in memory
    return cli


@pytest.fixture
def header_echo() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A local HTTP server that records the headers of each request it gets."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_get_access_token_matches_the_cli(api_env: Cli, seller: Seller) -> None:
    assert spconnect.get_access_token() == api_env.ok("token").stdout.strip()
    assert spconnect.get_access_token("default", min_ttl=60).startswith("Atza|")


def test_get_access_token_unknown_profile_raises_with_exit_code(
    api_env: Cli, seller: Seller
) -> None:
    with pytest.raises(NotSetUp) as info:
        spconnect.get_access_token("nope")
    assert info.value.exit_code == 3


def test_spapi_auth_sends_the_access_token_header(
    api_env: Cli, seller: Seller, header_echo: tuple[str, list[dict[str, str]]]
) -> None:
    url, seen = header_echo
    with httpx.Client(auth=spconnect.SPAPIAuth()) as client:
        assert client.get(url + "/sellers/v1/marketplaceParticipations").status_code == 200
    assert seen[0]["x-amz-access-token"] == api_env.ok("token").stdout.strip()
    assert seen[0]["user-agent"].startswith("spconnect/")


def test_access_token_matches_the_cli_json(api_env: Cli, seller: Seller) -> None:
    import json

    token = spconnect.access_token()
    assert isinstance(token, spconnect.AccessToken)
    printed = json.loads(api_env.ok("token", "--format", "json").stdout)
    assert token.access_token == printed["access_token"]
    assert (token.profile, token.region, token.endpoint) == (
        printed["profile"],
        printed["region"],
        printed["endpoint"],
    )
    assert token.selling_partner_id == printed["selling_partner_id"]
    assert token.access_token not in repr(token)


def test_repeated_calls_are_served_from_memory(
    api_env: Cli, seller: Seller, emulator: Emulator
) -> None:
    emulator.state.access_token_lifetime = 2000  # so that a longer min_ttl can be asked
    (api_env.cache_dir / "tokens" / "default.json").unlink()
    first = spconnect.access_token(min_ttl=60)
    assert first.refreshed
    (api_env.cache_dir / "tokens" / "default.json").unlink()
    before = emulator.count("refresh_token")
    again = spconnect.access_token(min_ttl=60)
    # The file is gone and Amazon was not asked: memory answered.
    assert again is first
    assert emulator.count("refresh_token") == before
    assert spconnect.get_access_token() == first.access_token
    # Asking for more life than the held token has left is a refresh, not a memory hit.
    emulator.state.access_token_lifetime = 3600
    longer = spconnect.access_token(min_ttl=2500)
    assert longer.refreshed and longer.access_token != first.access_token
    assert emulator.count("refresh_token") == before + 1


def test_threads_share_one_refresh(api_env: Cli, seller: Seller, emulator: Emulator) -> None:
    from concurrent.futures import ThreadPoolExecutor

    (api_env.cache_dir / "tokens" / "default.json").unlink()
    before = emulator.count("refresh_token")
    with ThreadPoolExecutor(max_workers=16) as pool:
        tokens = list(pool.map(lambda _: spconnect.get_access_token(), range(64)))
    assert len(set(tokens)) == 1 and tokens[0].startswith("Atza|")
    assert emulator.count("refresh_token") == before + 1


def test_an_invalid_profile_name_is_a_usage_error(api_env: Cli) -> None:
    from spconnect.errors import UsageError

    with pytest.raises(UsageError):
        spconnect.access_token("../default")


def test_memory_follows_the_profiles_own_environment_variable(
    cli: Cli, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """storage = "env": a new SPCONNECT_REFRESH_TOKEN_<PROFILE> in the same process is a
    different authorization, never served the token held for the old one."""
    app = emulator.state.register_app("ci")
    for name, value in {
        **{k: v for k, v in cli.env.items() if k.startswith("SPCONNECT_")},
        "SPCONNECT_CLIENT_ID": app.client_id,
        "SPCONNECT_CLIENT_SECRET": app.client_secret,
        "SPCONNECT_REGION": "na",
        "SPCONNECT_REFRESH_TOKEN_SHOP": emulator.state.self_authorize(app.client_id),
    }.items():
        monkeypatch.setenv(name, value)
    forget()
    first = spconnect.access_token("shop")
    monkeypatch.setenv("SPCONNECT_REFRESH_TOKEN_SHOP", emulator.state.self_authorize(app.client_id))
    second = spconnect.access_token("shop")
    assert second.access_token != first.access_token and second.refreshed


def test_importing_spconnect_as_a_library_leaves_httpx_whole() -> None:
    """The console entry point keeps httpx's command line (click, rich) out of its own
    imports; a program that imports spconnect keeps every import it had."""
    code = (
        "import sys; before = list(sys.meta_path)\n"
        "import spconnect, spconnect.access, spconnect.api, httpx\n"
        "assert sys.meta_path == before, sys.meta_path\n"
        "assert 'httpx._main' in sys.modules, 'httpx lost its command line'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
