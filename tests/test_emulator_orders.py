"""The emulator's Orders and Tokens APIs behave as amazon.md section 9 says Amazon does:
NextToken pages, usage plans with 429 and x-amzn-RateLimit-Limit, and personal data only
through a restricted data token issued for that operation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from spconnect.amazon.lwa import LwaClient
from spconnect.emulator import Emulator
from spconnect.emulator.state import Account

US = "ATVPDKIKX0DER"
RDT_PATH = "/tokens/2021-03-01/restrictedDataToken"


@dataclass
class Shop:
    emulator: Emulator
    account: Account
    client: httpx.Client
    access_token: str

    def orders(self, token: str | None = None, **params: str) -> httpx.Response:
        query = {"MarketplaceIds": US, **params}
        if "NextToken" not in params and "LastUpdatedAfter" not in params:
            query.setdefault("CreatedAfter", "2025-01-01T00:00:00Z")
        headers = {"x-amz-access-token": token or self.access_token}
        return self.client.get("/orders/v0/orders", params=query, headers=headers)

    def rdt(self, path: str, elements: list[str], token: str | None = None) -> httpx.Response:
        body = {"restrictedResources": [{"method": "GET", "path": path, "dataElements": elements}]}
        headers = {"x-amz-access-token": token or self.access_token}
        return self.client.post(RDT_PATH, json=body, headers=headers)


@pytest.fixture
def shop(emulator: Emulator) -> Iterator[Shop]:
    app = emulator.state.register_app("orders")
    account = emulator.state.add_account("Orders Shop")
    refresh_token = emulator.state.self_authorize(app.client_id, account.selling_partner_id)
    grant = LwaClient(emulator.token_url).refresh(
        client_id=app.client_id, client_secret=app.client_secret, refresh_token=refresh_token
    )
    emulator.state.add_orders(account.selling_partner_id, 7)
    with httpx.Client(base_url=emulator.url, timeout=10) as client:
        yield Shop(emulator, account, client, grant.access_token)


def test_get_orders_pages_with_next_token_cover_every_order_once(shop: Shop) -> None:
    seen, pages = [], 0
    response = shop.orders(MaxResultsPerPage="3")
    while True:
        pages += 1
        assert response.status_code == 200, response.text
        assert response.headers["x-amzn-RateLimit-Limit"] == "0.0167"
        payload = response.json()["payload"]
        seen += [order["AmazonOrderId"] for order in payload["Orders"]]
        if "NextToken" not in payload:
            break
        response = shop.orders(NextToken=payload["NextToken"])
    assert pages == 3
    expected = [
        o["AmazonOrderId"] for o in shop.emulator.state.orders[shop.account.selling_partner_id]
    ]
    assert seen == expected


def test_get_orders_refuses_what_amazon_refuses(shop: Shop) -> None:
    missing_marketplace = shop.client.get(
        "/orders/v0/orders",
        params={"CreatedAfter": "2025-01-01"},
        headers={"x-amz-access-token": shop.access_token},
    )
    both_dates = shop.orders(LastUpdatedAfter="2025-01-01", CreatedAfter="2025-01-01")
    bad_token = shop.orders(NextToken="forged")
    for response in (missing_marketplace, both_dates, bad_token):
        assert response.status_code == 400
        assert response.json()["errors"][0]["code"] == "InvalidInput"
        assert response.headers["x-amzn-RequestId"]
    assert shop.orders(token="Atza|unknown").status_code == 403


def test_usage_plan_throttles_beyond_the_burst_and_refills_at_the_rate(shop: Shop) -> None:
    # One per second: slow enough that a busy machine cannot refill the bucket between
    # the calls below by accident.
    shop.emulator.state.set_rate_limit("getOrders", rate=1, burst=2)
    answers = [shop.orders().status_code for _ in range(3)]
    assert answers == [200, 200, 429]
    throttled = shop.orders()
    assert throttled.json()["errors"][0]["code"] == "QuotaExceeded"
    assert throttled.headers["x-amzn-RateLimit-Limit"] == "1"
    time.sleep(1.1)  # one request's worth
    assert shop.orders().status_code == 200
    assert shop.emulator.count("getOrders:throttled") == 2


def test_personal_data_only_through_a_restricted_data_token(shop: Shop) -> None:
    plain = shop.orders().json()["payload"]["Orders"][0]
    assert "BuyerInfo" not in plain and "AddressLine1" not in plain["ShippingAddress"]

    issued = shop.rdt("/orders/v0/orders", ["buyerInfo", "shippingAddress"])
    assert issued.status_code == 200, issued.text
    rdt = issued.json()["restrictedDataToken"]
    assert rdt.startswith("Atz.sprdt|") and issued.json()["expiresIn"] == 3600
    order = shop.orders(token=rdt).json()["payload"]["Orders"][0]
    assert order["BuyerInfo"]["BuyerEmail"].endswith("@marketplace.amazon.com")
    assert order["ShippingAddress"]["AddressLine1"]

    # Good only for the operation it names; a generic path covers any order id.
    one = shop.client.get(
        f"/orders/v0/orders/{order['AmazonOrderId']}", headers={"x-amz-access-token": rdt}
    )
    assert one.status_code == 403
    generic = shop.rdt("/orders/v0/orders/{orderId}", ["shippingAddress"]).json()
    one = shop.client.get(
        f"/orders/v0/orders/{order['AmazonOrderId']}",
        headers={"x-amz-access-token": generic["restrictedDataToken"]},
    )
    assert one.status_code == 200
    assert one.json()["payload"]["ShippingAddress"]["AddressLine1"]
    assert "BuyerInfo" not in one.json()["payload"]


def test_restricted_data_tokens_only_for_restricted_operations_and_known_elements(
    shop: Shop,
) -> None:
    for path, elements in (
        ("/sellers/v1/marketplaceParticipations", []),
        ("/orders/v0/orders", ["creditCard"]),
    ):
        response = shop.rdt(path, elements)
        assert response.status_code == 400
        assert response.json()["errors"][0]["code"] == "InvalidInput"
    assert shop.rdt("/orders/v0/orders", [], token="Atza|forged").status_code == 403


def test_order_address_and_buyer_info_answer_only_to_a_restricted_data_token(
    shop: Shop,
) -> None:
    order = shop.emulator.state.orders[shop.account.selling_partner_id][2]
    order_id = str(order["AmazonOrderId"])
    for part, expected in (
        (
            "address",
            {"AmazonOrderId": order_id, "ShippingAddress": {"AddressLine1": "3 Main Street"}},
        ),
        ("buyerInfo", {"AmazonOrderId": order_id, "BuyerEmail": "buyer2@marketplace.amazon.com"}),
    ):
        path = f"/orders/v0/orders/{order_id}/{part}"
        plain = shop.client.get(path, headers={"x-amz-access-token": shop.access_token})
        assert plain.status_code == 403
        assert plain.json()["errors"][0]["code"] == "Unauthorized"
        issued = shop.rdt(path, [])  # these operations take no data elements
        assert issued.status_code == 200, issued.text
        token = issued.json()["restrictedDataToken"]
        answer = shop.client.get(path, headers={"x-amz-access-token": token})
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-amzn-RateLimit-Limit"] == "0.5"
        payload = answer.json()["payload"]
        for key, value in expected.items():
            if isinstance(value, dict):
                assert payload[key].items() >= value.items()
            else:
                assert payload[key] == value
    missing = shop.client.get(f"/orders/v0/orders/{order_id}/nothing")
    assert missing.status_code == 404


def test_created_before_closes_the_range(shop: Shop) -> None:
    # Seven orders a minute apart from 2026-01-01T00:00:00Z.
    answer = shop.orders(
        CreatedAfter="2026-01-01T00:02:00Z", CreatedBefore="2026-01-01T00:05:00Z"
    ).json()["payload"]
    assert [o["PurchaseDate"][11:16] for o in answer["Orders"]] == ["00:02", "00:03", "00:04"]
    assert shop.orders(CreatedBefore="yesterday").status_code == 400


def test_a_revoked_authorization_revokes_its_access_and_restricted_data_tokens(
    shop: Shop,
) -> None:
    rdt = shop.rdt("/orders/v0/orders", ["buyerInfo"]).json()["restrictedDataToken"]
    state = shop.emulator.state
    state.revoke(
        client_id=next(iter(state.apps)), selling_partner_id=shop.account.selling_partner_id
    )
    for token in (shop.access_token, rdt):
        refused = shop.orders(token=token)
        assert refused.status_code == 403
        assert "revoked" in refused.json()["errors"][0]["details"]


def test_injected_faults_answer_in_the_sp_apis_format(shop: Shop) -> None:
    shop.emulator.state.set_rate_limit("getOrders", rate=4, burst=20)
    shop.emulator.inject("rate_limit", endpoint="orders")
    throttled = shop.orders()
    assert throttled.status_code == 429
    assert throttled.json()["errors"][0]["code"] == "QuotaExceeded"
    assert throttled.headers["x-amzn-RateLimit-Limit"] == "4"
    shop.emulator.inject("status", status=500, endpoint="tokens", echo_request=True)
    failed = shop.rdt("/orders/v0/orders", [])
    assert failed.status_code == 500
    error = failed.json()["errors"][0]
    assert error["code"] == "InternalFailure"
    assert "access_token=Atza%7C" in error["message"]  # echoed, URL-encoded, as gateways do
    shop.emulator.inject("status", status=400, endpoint="token", error="invalid_request")
    lwa = shop.client.post("/auth/o2/token", data={"grant_type": "refresh_token"})
    assert lwa.json()["error"] == "invalid_request"  # LWA keeps its own format
    assert shop.orders().status_code == 200
