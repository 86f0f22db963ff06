"""The Sellers API client against the emulator over real HTTP: what each kind of answer
means for the user (amazon.md section 9; issue 8, section 5)."""

from __future__ import annotations

import pytest

from spconnect.amazon import spapi
from spconnect.emulator import Emulator
from spconnect.emulator.state import Account, EmulatedApp
from spconnect.errors import AmazonUnavailable, AuthorizationRejected, ExitCode


@pytest.fixture
def app(emulator: Emulator) -> EmulatedApp:
    return emulator.state.register_app("demo")


def access_token(emulator: Emulator, app: EmulatedApp, account: Account) -> str:
    from spconnect.amazon.lwa import LwaClient

    refresh = emulator.state.self_authorize(app.client_id, account.selling_partner_id)
    return (
        LwaClient(emulator.token_url)
        .refresh(client_id=app.client_id, client_secret=app.client_secret, refresh_token=refresh)
        .access_token
    )


def call(emulator: Emulator, token: str) -> list[spapi.Participation]:
    return spapi.marketplace_participations(emulator.url, token, profile="shop", timeout=5)


def test_participations_of_an_account(emulator: Emulator, app: EmulatedApp) -> None:
    account = emulator.state.add_account("Shop", marketplace_ids=["ATVPDKIKX0DER"])
    found = call(emulator, access_token(emulator, app, account))
    assert [(p.marketplace_id, p.country_code, p.store_name) for p in found] == [
        ("ATVPDKIKX0DER", "US", "Shop")
    ]


def test_names_from_the_answer_lose_their_control_characters(
    emulator: Emulator, app: EmulatedApp
) -> None:
    account = emulator.state.add_account("My\x1b]0;pwned\x07 \x1b[31mShop\u202e\r\n2")
    [found] = call(emulator, access_token(emulator, app, account))
    assert found.store_name == "My Shop 2"


def test_a_refused_token_is_exit_4_naming_reauth(emulator: Emulator, app: EmulatedApp) -> None:
    with pytest.raises(AuthorizationRejected) as info:
        call(emulator, "Atza|IwEBInot-a-known-token")
    assert "Unauthorized" in info.value.message and "request id" in info.value.message
    assert "spconnect reauth -p shop" in str(info.value.hint)


@pytest.mark.parametrize("status", [400, 403])
def test_an_html_page_from_a_proxy_is_a_network_problem(
    emulator: Emulator, app: EmulatedApp, status: int
) -> None:
    """A proxy's HTML 403 was reported as a refused token (exit 4), a 400 as a bug."""
    account = emulator.state.add_account("Shop")
    token = access_token(emulator, app, account)
    page = "<html><head><title>Blocked by the firewall</title></head><body>x</body></html>"
    emulator.inject("html", status=status, body=page, endpoint="sellers")
    with pytest.raises(AmazonUnavailable) as info:
        call(emulator, token)
    assert info.value.exit_code == ExitCode.AMAZON_UNAVAILABLE
    assert f"HTTP {status}" in info.value.message
    assert "Blocked by the firewall" in info.value.message


def test_an_error_that_echoes_the_token_with_control_characters_is_made_safe(
    emulator: Emulator, app: EmulatedApp
) -> None:
    account = emulator.state.add_account("Shop")
    token = access_token(emulator, app, account)
    emulator.inject(
        "status",
        status=403,
        error="Unauthorized",
        description="\x1b[2JAccess\x1b]0;x\x07 denied\u202e",
        echo_request=True,
        endpoint="sellers",
    )
    with pytest.raises(AuthorizationRejected) as info:
        call(emulator, token)
    message = info.value.message
    assert "Unauthorized: Access denied (request: access_token=[REDACTED])" in message
    body = token.split("|", 1)[1]
    assert body[:16] not in message
    for char in ("\x1b", "\x07", "\u202e"):
        assert char not in message
