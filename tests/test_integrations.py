"""python-amazon-sp-api, Amazon's amzn-sp-api and requests, each calling the emulated
Orders API with spconnect's tokens: the libraries' own code over real HTTP, never asking
Login with Amazon themselves."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from spconnect.access import forget
from spconnect.emulator import Emulator
from tests.conftest import Cli, Seller

pytestmark = pytest.mark.keyring

US = "ATVPDKIKX0DER"


@pytest.fixture
def shop(
    cli: Cli, seller: Seller, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    """This process pointed at the CLI's config, cache, keyring and emulator, with the
    seller's orders; the token cached once, so any later LWA request is a library's."""
    for name in ("SPCONNECT_CONFIG_DIR", "SPCONNECT_CACHE_DIR", "SPCONNECT_KEYRING_SERVICE"):
        monkeypatch.setenv(name, cli.env[name])
    for name, value in emulator.environment().items():
        monkeypatch.setenv(name, value)
    forget()
    emulator.state.set_rate_limit("getOrders", rate=100, burst=20)
    orders = emulator.state.add_orders(seller.account.selling_partner_id, 3)
    cli.ok("token")
    return [str(order["AmazonOrderId"]) for order in orders]


def test_python_amazon_sp_api_orders_with_spconnect_tokens(
    cli: Cli, shop: list[str], emulator: Emulator
) -> None:
    from sp_api.api import Notifications, Orders

    from spconnect.integrations.sp_api import NOT_A_SECRET, client_args

    before = emulator.count("token_requests")
    orders = Orders(**client_args("default"))  # issue 10's one call
    assert orders.endpoint == emulator.url and orders.marketplace_id == US
    answer = orders.get_orders(CreatedAfter="2025-01-01T00:00:00Z")
    assert [o["AmazonOrderId"] for o in answer.payload["Orders"]] == shop
    assert "BuyerInfo" not in answer.payload["Orders"][0]
    # The library's own RDT flow: POST to the Tokens API with our token, then the RDT.
    private = orders.get_orders(
        CreatedAfter="2025-01-01T00:00:00Z", RestrictedResources=["buyerInfo"]
    )
    assert private.payload["Orders"][0]["BuyerInfo"]["BuyerEmail"].startswith("buyer0@")
    assert len(emulator.state.restricted_tokens) == 1
    assert emulator.count("token_requests") == before  # the cached token served every call

    # Grantless operations take the app's grantless token from spconnect too.
    notifications = Notifications(**client_args("default"))
    grantless = notifications.grantless_auth.access_token
    assert grantless == cli.ok("token", "--grantless", "notifications").stdout.strip()
    # What the library holds of the credentials: a marker, no secret.
    held = orders.credentials
    assert (held.lwa_app_id, held.lwa_client_secret, held.refresh_token) == (
        NOT_A_SECRET,
        NOT_A_SECRET,
        None,
    )


def test_amzn_sp_api_orders_with_spconnect_tokens(shop: list[str], emulator: Emulator) -> None:
    from spapi import OrdersV0Api

    from spconnect.integrations.amzn_sp_api import api_client, restricted_api_client

    before = emulator.count("token_requests")
    answer = OrdersV0Api(api_client("default")).get_orders(
        marketplace_ids=[US], created_after="2025-01-01T00:00:00Z"
    )
    assert [o.amazon_order_id for o in answer.payload.orders] == shop
    assert answer.payload.orders[0].buyer_info is None
    private = OrdersV0Api(
        restricted_api_client("default", "GET", "/orders/v0/orders", ["buyerInfo"])
    ).get_orders(marketplace_ids=[US], created_after="2025-01-01T00:00:00Z")
    assert private.payload.orders[0].buyer_info.buyer_email.startswith("buyer0@")
    assert emulator.count("token_requests") == before


def test_amzn_sp_api_meets_a_revoked_authorization_at_once_as_exit_4(
    cli: Cli, seller: Seller, shop: list[str], emulator: Emulator
) -> None:
    """Issue 10: the SDK's own token client retries a revoked refresh token for 14 s and
    reports a server error; through spconnect it is AuthorizationRejected at once, with one
    LWA request, whether the token was cached (Amazon then refuses it) or not."""
    import time

    from spapi import OrdersV0Api

    from spconnect.errors import AuthorizationRejected
    from spconnect.integrations.amzn_sp_api import api_client

    orders = OrdersV0Api(api_client("default"))  # a fresh cached token
    emulator.state.revoke(seller.refresh_token)  # the seller removes the app
    before = emulator.count("token_requests")
    started = time.monotonic()
    with pytest.raises(AuthorizationRejected) as info:
        orders.get_orders(marketplace_ids=[US], created_after="2025-01-01T00:00:00Z")
    assert time.monotonic() - started < 3
    assert info.value.exit_code == 4
    assert "spconnect reauth -p default" in str(info.value)
    assert emulator.count("token_requests") == before + 1
    # Nothing cached any more (the refresh failed): api_client itself refuses, at once.
    forget()
    (cli.cache_dir / "tokens" / "default.json").unlink(missing_ok=True)
    with pytest.raises(AuthorizationRejected):
        api_client("default")
    assert emulator.count("token_requests") == before + 2


def test_amzn_sp_api_renews_a_token_amazon_finds_expired(
    shop: list[str], emulator: Emulator
) -> None:
    from spapi import OrdersV0Api

    from spconnect.integrations.amzn_sp_api import api_client

    orders = OrdersV0Api(api_client("default"))
    emulator.state.advance(3700)  # Amazon's clock: the cached token has expired
    before = emulator.count("token_requests")
    answer = orders.get_orders(marketplace_ids=[US], created_after="2025-01-01T00:00:00Z")
    assert [o.amazon_order_id for o in answer.payload.orders] == shop
    assert emulator.count("token_requests") == before + 1


def test_amzn_sp_api_restricted_client_keeps_its_rdt_fresh(
    shop: list[str], emulator: Emulator
) -> None:
    """The restricted client renews its RDT before expiresIn runs out (on its own clock)
    and once when Amazon refuses it as expired (Amazon's clock ran ahead): a client kept
    for a long export keeps reading personal data."""
    from spapi import OrdersV0Api

    from spconnect.integrations.amzn_sp_api import RestrictedTokenSource, restricted_api_client

    def buyer_emails(api: OrdersV0Api) -> list[str]:
        answer = api.get_orders(marketplace_ids=[US], created_after="2025-01-01T00:00:00Z")
        return [o.buyer_info.buyer_email for o in answer.payload.orders]

    private = OrdersV0Api(
        restricted_api_client("default", "GET", "/orders/v0/orders", ["buyerInfo"])
    )
    first = buyer_emails(private)
    assert len(emulator.state.restricted_tokens) == 1 and first
    emulator.state.advance(3700)  # at Amazon the RDT (and the access token) expired
    assert buyer_emails(private) == first
    assert len(emulator.state.restricted_tokens) == 2  # refused once, replaced once

    # Its own clock (which also times each request) moved on instead.
    ahead = [0.0]
    source = RestrictedTokenSource(
        "default",
        emulator.url,
        "GET",
        "/orders/v0/orders",
        ["buyerInfo"],
        clock=lambda: time.monotonic() + ahead[0],
    )
    held = source.get_lwa_access_token()
    ahead[0] = 3600 - 70.0  # expiresIn 3600, renewed 60 s early
    assert source.get_lwa_access_token() == held
    ahead[0] = 3600 - 59.0
    renewed = source.get_lwa_access_token()
    assert renewed != held and renewed in emulator.state.restricted_tokens


def test_requests_auth_sends_the_profiles_token(
    cli: Cli, shop: list[str], emulator: Emulator
) -> None:
    import requests

    from spconnect.integrations.requests_auth import SPAPIAuth

    response = requests.get(
        emulator.url + "/orders/v0/orders",
        params={"MarketplaceIds": US, "CreatedAfter": "2025-01-01"},
        auth=SPAPIAuth("default"),
        timeout=10,
    )
    assert response.status_code == 200
    assert [o["AmazonOrderId"] for o in response.json()["payload"]["Orders"]] == shop
    assert response.request.headers["x-amz-access-token"] == cli.ok("token").stdout.strip()
    assert response.request.headers["user-agent"].startswith("spconnect/")


def test_the_integrations_load_only_when_used() -> None:
    probe = (
        "import json, sys, spconnect, spconnect.integrations; spconnect.access_token;"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    loaded = set(
        json.loads(
            subprocess.run(
                [sys.executable, "-c", probe], capture_output=True, text=True, check=True
            ).stdout
        )
    )
    assert "spconnect" in loaded
    assert not loaded & {"sp_api", "spapi", "requests", "httpx"}
